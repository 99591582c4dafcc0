#!/usr/bin/env bash
# Builds the committed tree with ASan + UBSan (no recovery) in a scratch
# clone and runs every test tier against it, the sanitizer runtimes
# preloaded into Apache (tools/asan-httpd). Fails when a test fails or any
# sanitizer report was written.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/deps.sh
work=$(mktemp -d)
chmod 755 "$work"    # Apache's children (user nobody) read the test docroot
trap 'rm -rf "$work"' EXIT
git clone -q . "$work/src"
cd "$work/src"
autoreconf -fi >/dev/null 2>&1
./configure --with-apxs="$(command -v apxs)" --enable-sanitizers >/dev/null
make -j"$(nproc)" >/dev/null
logs="$work/sanlog"
mkdir -m 1777 "$logs"    # children run as nobody
# use_sigaltstack=0: avoids a false stack-buffer-underflow when httpd
# threads exit; handle_abort: httpd's own SIGABRT handler would hide stacks.
# LeakSanitizer runs when each Apache process exits; httpd, APR and
# mod_perl leave memory behind at exit by design, so a leak only counts
# when its allocation stack passes through this module (full stacks:
# Debian's libapr has no frame pointers) and is not one of the module's
# configuration-lifetime objects (the TLS contexts built when the
# configuration is checked, and OpenSSL's certificate caches inside them),
# which a child keeps until it exits, as mod_ssl does. exitcode=0: a leak
# report must not turn Apache's exit status into a failed start.
export ASAN_OPTIONS="detect_leaks=1:use_sigaltstack=0:handle_abort=1:allow_user_segv_handler=0:log_path=$logs/asan:log_exe_name=1:malloc_context_size=40"
export LSAN_OPTIONS="exitcode=0:fast_unwind_on_malloc=0"
export UBSAN_OPTIONS="print_stacktrace=1:log_path=$logs/ubsan:log_exe_name=1"
# Tests whose figures ASan itself distorts (RSS: its quarantine keeps
# freed memory) skip those assertions; the plain run makes them.
export H2GW_SANITIZED=1
make check TEST_ARGS="-httpd $PWD/tools/asan-httpd"
config_life='h2gw_config_check|h2gw_tls_ctx_create|X509_verify_cert'
fail=0
ours=0
others=0
for f in "$logs"/*; do
    [ -e "$f" ] || continue
    if grep -q "ERROR: LeakSanitizer" "$f" && ! grep -q "ERROR: AddressSanitizer" "$f"; then
        # One record per paragraph ("Direct leak of ..." + its stack).
        n=$(awk 'BEGIN { RS = "" } /leak of/ && /h2gw/ && !/'"$config_life"'/ { n++ } END { print n + 0 }' "$f")
        m=$(awk 'BEGIN { RS = "" } /leak of/ && (!/h2gw/ || /'"$config_life"'/) { n++ } END { print n + 0 }' "$f")
        others=$((others + m))
        if [ "$n" -gt 0 ]; then
            ours=$((ours + n))
            echo "leaks of mod_h2gw allocations in $f:"
            awk 'BEGIN { RS = ""; ORS = "\n\n" } /leak of/ && /h2gw/ && !/'"$config_life"'/' "$f"
        fi
    else
        echo "sanitizer report $f:"
        cat "$f"
        fail=1
    fi
done
echo "leak check: $ours leak records in mod_h2gw per-request or per-connection allocations; $others others not counted (httpd, APR, mod_perl at exit; the module's configuration-lifetime TLS contexts)"
if [ "$fail" -ne 0 ] || [ "$ours" -ne 0 ]; then
    exit 1
fi
echo "sanitizers: no report (ASan + UBSan + LeakSanitizer over every test)"
