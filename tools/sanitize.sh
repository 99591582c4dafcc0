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
export ASAN_OPTIONS="detect_leaks=0:use_sigaltstack=0:handle_abort=1:allow_user_segv_handler=0:log_path=$logs/asan:log_exe_name=1"
export UBSAN_OPTIONS="print_stacktrace=1:log_path=$logs/ubsan:log_exe_name=1"
make check TEST_ARGS="-httpd $PWD/tools/asan-httpd"
if [ -n "$(ls -A "$logs")" ]; then
    echo "sanitizer reports:"
    cat "$logs"/*
    exit 1
fi
echo "sanitizers: no report (ASan + UBSan over every test)"
