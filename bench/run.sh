#!/usr/bin/env bash
# Side-by-side benchmark (issue 6): the same workloads through
#   gw      mod_h2gw                 (Apache, H2GWPass /gw/ -> t/h2up)
#   mp      mod_proxy_http2          (same Apache build/MPM/threads, ProxyPass /mp/ -> t/h2up)
#   ceil    ceiling: the same Apache answering from memory (bench/mod_bench_ceiling.c)
#   direct  h2load straight to t/h2up (the machine's limit; Apache figures n/a)
#   nx      with --nghttpx: nghttpx (nghttp2's event-driven proxy, one worker
#           thread per core) in front of the same upstream, a reference proxy
#           that is not Apache; its "Apache" figures are its own processes'
# (or, with --upstream nghttpd, the same columns in front of nghttpd
# serving files: an upstream nobody in this project wrote)
# interleaved within each round, repeated, medians reported; a table with
# ratios to mod_proxy_http2 and to the ceiling, and the issue's targets.
#
# Usage (from the repository root, after `make`):
#   bench/run.sh [--quick] [--out FILE] [--rounds N] [--duration SEC]
#                [--workers "8 32"] [--no-sweep] [--keep] [--only "W ..."]
#                [--upstream h2up|nghttpd] [--upstream-window BYTES]
#                [--ab-module SO] [--nghttpx]
#   --quick       1 round, 2 s runs, no H2MaxWorkers sweep: < 2 minutes
#   --out FILE    where the Markdown table goes (default bench/results/<timestamp>.md)
#   --rounds N    rounds (default 3; quick 1)
#   --duration S  main duration of each h2load run (default 4; quick 2)
#   --workers L   H2MinWorkers=H2MaxWorkers values to sweep (default "8 32")
#   --no-sweep    use the first --workers value for every Apache column
#   --keep        keep the scratch directory (configs, logs, h2load output)
#   --only L      run only these workloads (1k-h2 1k-h1 100k 20m up1m up1m-h2 slow mem),
#                 for working on one of them; the table lists just those
#   --upstream U  h2up (default): t/h2up --fixed-bodies, with its counters
#                 (upstream requests/connections columns); nghttpd: nghttp2's
#                 own server (one worker, h2c) serving files of the sizes the
#                 workloads ask for (/data?size=N becomes /data/N?size=N, an
#                 upload goes to /upload/1024, which nghttpd answers after
#                 reading the body); no upstream counters then
#   --upstream-window BYTES  the receive windows the upstream announces,
#                 stream and connection alike (default: the upstream's
#                 own, 64 KiB - 1 for both): h2up --window/--conn-window,
#                 nghttpd -w/-W (a power of two: 2^N - 1 bytes). What an
#                 upload can have in flight per stream and per connection
#                 is this, for every column and direct alike
#   --nghttpx     one more column, nghttpx (Debian nghttp2-proxy) as the
#                 proxy: --frontend 127.0.0.1,PORT;no-tls (HTTP/1.1 and h2c
#                 prior knowledge), --backend to the upstream with proto=h2,
#                 --workers = the number of CPUs, every other option its
#                 default (64 KiB - 1 windows to the client, as mod_http2's)
#   --ab-module SO  another build of mod_h2gw.so as one more column, "B"
#                 (its own Apache, like mod_h2gw's; GWB_PARAMS for its
#                 H2GWPass parameters, GWB_ENV for NAME=VALUE words in its
#                 environment), interleaved with the others; the report
#                 adds B against mod_h2gw round by round (the two run one
#                 after the other in each round: a paired comparison, which
#                 the machine's drift spoils less than two bench runs do)
#
# Apache setup (one instance per Apache column, all alike except the
# column's own module and location): MPM event, ServerLimit 1 (one child
# process, so "per child" figures are the instance's), ThreadsPerChild 64,
# KeepAlive with unlimited requests, Protocols h2c http/1.1 + H2Direct on,
# no access log, LogLevel warn, its own ServerRoot in a scratch directory
# and free loopback ports, started in a session of its own (setsid) as a
# daemon would be. Everything the script starts is stopped on exit,
# Ctrl-C included.
set -euo pipefail
cd "$(dirname "$0")/.."
TOP=$(pwd)

# ------------------------------------------------------------------ options
QUICK=0
OUT=""
ROUNDS=""
DUR=""
WORKERS="8 32"
SWEEP=1
KEEP=0
ONLY=""
UPSTREAM=h2up
UP_WINDOW=""
AB_SO=""
NGHTTPX=0
SERVER_LIMIT=1
THREADS=64

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }
while [ $# -gt 0 ]; do
    case "$1" in
    --quick) QUICK=1 ;;
    --out) OUT=${2:?--out needs a file}; shift ;;
    --out=*) OUT=${1#--out=} ;;
    --rounds) ROUNDS=${2:?}; shift ;;
    --duration) DUR=${2:?}; shift ;;
    --workers) WORKERS=${2:?}; shift ;;
    --no-sweep) SWEEP=0 ;;
    --keep) KEEP=1 ;;
    --only) ONLY=${2:?--only needs workload names}; shift ;;
    --upstream) UPSTREAM=${2:?--upstream needs h2up or nghttpd}; shift ;;
    --upstream-window) UP_WINDOW=${2:?--upstream-window needs bytes}; shift ;;
    --ab-module) AB_SO=${2:?--ab-module needs a mod_h2gw.so}; shift ;;
    --nghttpx) NGHTTPX=1 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "run.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
    shift
done
if [ "$QUICK" = 1 ]; then
    ROUNDS=${ROUNDS:-1}; DUR=${DUR:-2}; SWEEP=0; WARM_MS=300; SETTLE=0.7
else
    ROUNDS=${ROUNDS:-3}; DUR=${DUR:-4}; WARM_MS=500; SETTLE=1
fi
WARM_S=$(awk -v m="$WARM_MS" 'BEGIN {printf "%.3f", m / 1000}')
set -- $WORKERS
[ "$SWEEP" = 1 ] && [ $# -lt 2 ] && SWEEP=0
FIXED_WORKERS=$1

# ------------------------------------------------------------------ tools
missing=""
need() {  # command, Debian package
    command -v "$1" >/dev/null 2>&1 || missing="$missing\n  $1: apt-get install $2"
}
need apxs apache2-dev
need h2load nghttp2-client
case "$UPSTREAM" in
h2up) ;;
nghttpd) need nghttpd nghttp2-server; need truncate coreutils ;;
*) echo "run.sh: --upstream $UPSTREAM: h2up or nghttpd" >&2; exit 2 ;;
esac
# The upstream's receive windows (--upstream-window): its own options.
UP_WINDOW_ARGS=()
if [ -n "$UP_WINDOW" ]; then
    case "$UP_WINDOW" in
    *[!0-9]*) echo "run.sh: --upstream-window $UP_WINDOW: a number of bytes" >&2; exit 2 ;;
    esac
    if [ "$UP_WINDOW" -lt 65536 ] || [ "$UP_WINDOW" -gt 1073741824 ]; then
        echo "run.sh: --upstream-window $UP_WINDOW: 65536 to 1073741824 bytes" >&2; exit 2
    fi
    if [ "$UPSTREAM" = h2up ]; then
        UP_WINDOW_ARGS=(--window "$UP_WINDOW" --conn-window "$UP_WINDOW")
    else
        bits=16
        while [ $((1 << bits)) -lt "$UP_WINDOW" ]; do bits=$((bits + 1)); done
        if [ $((1 << bits)) != "$UP_WINDOW" ]; then
            echo "run.sh: --upstream-window $UP_WINDOW: nghttpd takes a power of two" >&2; exit 2
        fi
        UP_WINDOW_ARGS=(-w "$bits" -W "$bits")
    fi
fi
[ "$NGHTTPX" = 1 ] && need nghttpx nghttp2-proxy
need curl curl
need perl perl-base
need awk mawk
need gcc build-essential
need getconf libc-bin
need pgrep procps
need setsid util-linux
need sort coreutils
if [ -n "$missing" ]; then
    printf "run.sh: missing tools:$missing\n" >&2
    exit 1
fi
MODS=$(apxs -q LIBEXECDIR)
HTTPD="$(apxs -q SBINDIR)/$(apxs -q TARGET)"
[ -x "$HTTPD" ] || { echo "run.sh: $HTTPD not found: apt-get install apache2" >&2; exit 1; }
for m in mpm_event http2 proxy proxy_http2 authz_core; do
    [ -f "$MODS/mod_$m.so" ] || { echo "run.sh: $MODS/mod_$m.so missing: apt-get install apache2" >&2; exit 1; }
done
for f in .libs/mod_h2gw.so t/h2up/h2up; do
    [ -e "$TOP/$f" ] || { echo "run.sh: $f is not built: run make in $TOP" >&2; exit 1; }
done
HZ=$(getconf CLK_TCK)

# ------------------------------------------------------------------ scratch, cleanup
W=$(mktemp -d /tmp/h2gw-bench.XXXXXX)
chmod 755 "$W"
mkdir -p "$W/runs"
declare -A STARTED   # pid -> what, for every process we started and still run
SLOW_PID=""
UP_PID=""
H2LOAD_PID=""
track() { STARTED[$1]=$2; }

stop_pid() {  # TERM, wait up to 10 s, then KILL; only a child of this script
    local p=$1 i
    [ -n "$p" ] || return 0
    if [ "$(sed 's/^.*) //' "/proc/$p/stat" 2>/dev/null | awk '{print $2}')" != "$$" ]; then
        unset "STARTED[$p]"; return 0   # gone (or reaped and the pid reused)
    fi
    kill -TERM "$p" 2>/dev/null || return 0
    for i in $(seq 100); do
        kill -0 "$p" 2>/dev/null || break
        # reap it if it is our child (a zombie still answers kill -0)
        if [ "$(awk '{print $3}' "/proc/$p/stat" 2>/dev/null)" = Z ]; then break; fi
        sleep 0.1
    done
    kill -KILL "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
    unset "STARTED[$p]"   # reaped: the pid may be reused, never signal it again
}
cleanup() {
    local rc=$? p
    trap - EXIT INT TERM
    set +e
    # h2load and the slow reader first, then Apache, the upstream last.
    for p in $H2LOAD_PID $SLOW_PID; do stop_pid "$p"; done
    for p in "${!STARTED[@]}"; do
        [ "${STARTED[$p]}" = upstream ] || stop_pid "$p"
    done
    for p in "${!STARTED[@]}"; do stop_pid "$p"; done
    if [ "$KEEP" = 1 ]; then
        echo "scratch directory kept: $W" >&2
    else
        rm -rf "$W"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'echo "run.sh: interrupted" >&2; exit 130' INT TERM

log() { printf '[%s] %s\n' "$(date +%T)" "$*" >&2; }
free_port() {  # as H2GW::Upstream::free_port: bind port 0, read it, release
    perl -MIO::Socket::INET -e '
        my $s = IO::Socket::INET->new(LocalAddr => "127.0.0.1", LocalPort => 0,
            Proto => "tcp", Listen => 1) or die "bind: $!\n";
        print $s->sockport, "\n";'
}

T_START=$(date +%s)
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
STAMP=$(date +%Y%m%d-%H%M%S)
[ -n "$OUT" ] || OUT="$TOP/bench/results/$STAMP.md"
mkdir -p "$(dirname "$OUT")"

# The module under test is copied, so a rebuild during the run cannot
# change the mapped file under the running Apache.
cp "$TOP/.libs/mod_h2gw.so" "$W/mod_h2gw.so"
if [ -n "$AB_SO" ]; then
    [ -f "$AB_SO" ] || { echo "run.sh: --ab-module $AB_SO: no such file" >&2; exit 1; }
    cp "$AB_SO" "$W/mod_h2gw_b.so"
fi
if nm -D "$W/mod_h2gw.so" 2>/dev/null | grep -q __asan_; then
    log "warning: .libs/mod_h2gw.so is a sanitizer build; figures will be meaningless"
fi

# ------------------------------------------------------------------ ceiling module
log "building bench/mod_bench_ceiling.c with apxs"
mkdir -p "$W/ceiling"
cp "$TOP/bench/mod_bench_ceiling.c" "$W/ceiling/"
if ! (cd "$W/ceiling" && apxs -c mod_bench_ceiling.c) > "$W/ceiling/build.log" 2>&1; then
    cat "$W/ceiling/build.log" >&2
    echo "run.sh: apxs -c mod_bench_ceiling.c failed" >&2
    exit 1
fi
CEIL_SO="$W/ceiling/.libs/mod_bench_ceiling.so"

# ------------------------------------------------------------------ upstream
# upath PATH: the path a workload asks for, as the upstream serves it.
if [ "$UPSTREAM" = h2up ]; then
    "$TOP/t/h2up/h2up" --port 0 --port-file "$W/h2up.port" --quiet --die-with-parent --fixed-bodies \
        ${UP_WINDOW_ARGS[@]+"${UP_WINDOW_ARGS[@]}"} \
        < /dev/null > "$W/h2up.log" 2>&1 &
    UP_PID=$!
    track "$UP_PID" upstream
    for i in $(seq 100); do [ -s "$W/h2up.port" ] && break; sleep 0.05; done
    [ -s "$W/h2up.port" ] || { cat "$W/h2up.log" >&2; echo "run.sh: h2up did not start" >&2; exit 1; }
    UP_PORT=$(cat "$W/h2up.port")
    UP="http://127.0.0.1:$UP_PORT"
    upc() { curl -s --max-time 10 --http2-prior-knowledge "$UP$1"; }
    upc /_stats > /dev/null || { echo "run.sh: h2up does not answer" >&2; exit 1; }
    upath() { echo "$1"; }
else
    # Files of every size a workload asks for (sparse: read as zeros),
    # /data/N for N bytes; /upload/1024 answers an upload.
    mkdir -p "$W/docs/data" "$W/docs/upload"
    for n in 1024 102400 20971520 $((64 * 1024 * 1024)) $((256 * 1024 * 1024)); do
        truncate -s "$n" "$W/docs/data/$n"
    done
    truncate -s 1024 "$W/docs/upload/1024"
    chmod -R a+rX "$W/docs"
    UP_PORT=$(free_port)
    nghttpd --no-tls -a 127.0.0.1 -n 1 -d "$W/docs" ${UP_WINDOW_ARGS[@]+"${UP_WINDOW_ARGS[@]}"} \
        "$UP_PORT" < /dev/null > "$W/nghttpd.log" 2>&1 &
    UP_PID=$!
    track "$UP_PID" upstream
    UP="http://127.0.0.1:$UP_PORT"
    for i in $(seq 100); do
        curl -s -o /dev/null --max-time 2 --http2-prior-knowledge "$UP/data/1024" && break
        sleep 0.05
    done
    curl -s -o /dev/null --max-time 2 --http2-prior-knowledge "$UP/data/1024" \
        || { cat "$W/nghttpd.log" >&2; echo "run.sh: nghttpd does not answer" >&2; exit 1; }
    upc() { :; }   # no counters
    upath() {
        case "$1" in
        /data\?size=*) echo "/data/${1#/data\?size=}?size=${1#/data\?size=}" ;;
        /upload) echo "/upload/1024" ;;
        *) echo "$1" ;;
        esac
    }
fi

# ------------------------------------------------------------------ Apache instances
declare -A AP_PID AP_PORT AP_DIR AP_WORKERS

write_conf() {  # col workers dir port
    local col=$1 wk=$2 d=$3 port=$4 user_line="" colconf
    if [ "$(id -u)" -eq 0 ]; then user_line=$'User nobody\nGroup nogroup'; fi
    case "$col" in
    gw) colconf="LoadModule h2gw_module \"$W/mod_h2gw.so\"
# mod_h2gw with its defaults (max-conns=8, max-streams=100, window 256K).
H2GWPass /gw/ h2c://127.0.0.1:$UP_PORT/ ${GW_PARAMS:-}
<Location /h2gw-status>
    SetHandler h2gw-status
    Require all granted
</Location>" ;;
    gwb) colconf="LoadModule h2gw_module \"$W/mod_h2gw_b.so\"
# --ab-module: another build of mod_h2gw (column B).
H2GWPass /gw/ h2c://127.0.0.1:$UP_PORT/ ${GWB_PARAMS:-}" ;;
    mp) colconf="LoadModule proxy_module \"$MODS/mod_proxy.so\"
LoadModule proxy_http2_module \"$MODS/mod_proxy_http2.so\"
# mod_proxy_http2 has no directives of its own; connections are mod_proxy's
# worker pool. httpd 2.4 documents enablereuse (the inverse of disablereuse)
# as On by default for workers defined by ProxyPass, and mod_proxy_http2's
# page says requests to the same backend go over one reused TCP connection
# when possible; reuse is written out explicitly so no default can turn it
# off (RewriteRule [P] and the default worker would not reuse). The pool
# size (max=) stays at its default, ThreadsPerChild, so every worker thread
# can hold a backend connection; no ping=, ttl= or timeouts that would add
# work per request. ProxyPreserveHost Off and X-Forwarded-* headers, like
# mod_h2gw's defaults.
ProxyPass /mp/ h2c://127.0.0.1:$UP_PORT/ enablereuse=on" ;;
    ceil) colconf="LoadModule bench_ceiling_module \"$CEIL_SO\"
<Location /ceil/>
    SetHandler bench-ceiling
</Location>" ;;
    esac
    cat > "$d/httpd.conf" <<CONF
# bench/run.sh, column $col, H2MinWorkers=H2MaxWorkers=$wk
ServerRoot "$d"
DefaultRuntimeDir "$d/run"
ServerName localhost
Listen 127.0.0.1:$port
PidFile "$d/run/httpd.pid"
ErrorLog "$d/error_log"
LogLevel warn
$user_line
LoadModule mpm_event_module "$MODS/mod_mpm_event.so"
LoadModule authz_core_module "$MODS/mod_authz_core.so"
LoadModule http2_module "$MODS/mod_http2.so"
StartServers 1
ServerLimit $SERVER_LIMIT
ThreadLimit $THREADS
ThreadsPerChild $THREADS
MaxRequestWorkers $((SERVER_LIMIT * THREADS))
MinSpareThreads 1
MaxSpareThreads $((SERVER_LIMIT * THREADS))
MaxConnectionsPerChild 0
KeepAlive On
MaxKeepAliveRequests 0
KeepAliveTimeout 30
Timeout 60
Protocols h2c http/1.1
H2Direct on
H2MinWorkers $wk
H2MaxWorkers $wk
DocumentRoot "$d/htdocs"
<Directory />
    Require all granted
</Directory>
$colconf
${EXTRA_CONF:-}
CONF
}

start_apache() {  # col workers [key: another instance of col's kind]
    local col=$1 wk=$2 key=${3:-$1} d port pid
    d="$W/ap-$key-$wk"
    port=$(free_port)
    mkdir -p "$d/run" "$d/htdocs"
    chmod 755 "$d" "$d/htdocs"
    write_conf "$col" "$wk" "$d" "$port"
    # In a session of its own, as `apachectl start` leaves a daemon: with
    # the kernel's autogroup scheduling (kernel.sched_autogroup_enabled)
    # Apache then shares the CPU with h2load and the upstream as one group
    # against another, not thread by thread among them. The same for every
    # Apache column; setsid keeps the pid (we are not a group leader).
    local envw=()
    if [ "$col" = gwb ] && [ -n "${GWB_ENV:-}" ]; then
        read -r -a envw <<< "$GWB_ENV"
    fi
    env ${envw[@]+"${envw[@]}"} \
        setsid "$HTTPD" -f "$d/httpd.conf" -DFOREGROUND < /dev/null > "$d/stdout" 2>&1 &
    pid=$!
    track "$pid" "apache $key"
    await_start "$key" "$pid" "$port" "$d" "$wk" "http://127.0.0.1:$port/" \
        "Apache for column $col did not start (config $d/httpd.conf)"
}
# await_start KEY PID PORT DIR WORKERS URL WHAT: once URL answers, the
# column KEY is recorded as up; if PID dies or 10 s pass, its output and
# error log are shown and the run ends with WHAT.
await_start() {
    local key=$1 pid=$2 port=$3 d=$4 wk=$5 url=$6 what=$7 i
    for i in $(seq 100); do
        if ! kill -0 "$pid" 2>/dev/null; then break; fi
        if curl -s -o /dev/null --max-time 2 "$url"; then
            AP_PID[$key]=$pid; AP_PORT[$key]=$port; AP_DIR[$key]=$d; AP_WORKERS[$key]=$wk
            return 0
        fi
        sleep 0.1
    done
    cat "$d/stdout" "$d/error_log" >&2 2>/dev/null || true
    echo "run.sh: $what" >&2
    exit 1
}
# nghttpx (--nghttpx): the reference proxy, started once like the Apache
# columns and measured the same way (its master process, the worker process
# it forks and that one's threads take the place of Apache's parent and child).
start_nghttpx() {
    local port pid d="$W/nghttpx"
    port=$(free_port)
    mkdir -p "$d"
    setsid nghttpx --frontend="127.0.0.1,$port;no-tls" \
        --backend="127.0.0.1,$UP_PORT;;proto=h2" --workers="$(nproc)" \
        --errorlog-file="$d/error_log" < /dev/null > "$d/stdout" 2>&1 &
    pid=$!
    track "$pid" nghttpx
    await_start nx "$pid" "$port" "$d" "$(nproc)" \
        "http://127.0.0.1:$port$(upath /data?size=1024)" "nghttpx did not start"
}
stop_apache() {  # col
    local col=$1
    stop_pid "${AP_PID[$col]}"
    cp "${AP_DIR[$col]}/error_log" "$W/error_log.$col.${AP_WORKERS[$col]}" 2>/dev/null || true
    unset "AP_PID[$col]"
}

# ------------------------------------------------------------------ measuring
children() { pgrep -P "$1" 2>/dev/null || true; }
ticks_self() {  # utime+stime of one process (+cutime+cstime with "all")
    local rest
    rest=$(sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null) || { echo 0; return; }
    # after "comm) ": state=1 ... utime=12 stime=13 cutime=14 cstime=15
    if [ "${2:-}" = all ]; then
        awk '{print $12 + $13 + $14 + $15}' <<< "$rest"
    else
        awk '{print $12 + $13}' <<< "$rest"
    fi
}
# CPU ticks of an Apache instance: the parent with its reaped children,
# plus the live children (all their threads).
ticks_tree() {
    local p=$1 t c
    t=$(ticks_self "$p" all)
    for c in $(children "$p"); do t=$((t + $(ticks_self "$c"))); done
    echo "$t"
}
cticks_self() {  # cutime+cstime of this shell: the children it reaped (h2load)
    sed 's/^.*) //' "/proc/$$/stat" | awk '{print $14 + $15}'
}
busy_ticks() {  # machine-wide busy time (user nice system irq softirq steal)
    awk '$1 == "cpu" {print $2 + $3 + $4 + $7 + $8 + $9; exit}' /proc/stat
}
idle_ticks() {  # machine-wide idle time (idle iowait)
    awk '$1 == "cpu" {print $5 + $6; exit}' /proc/stat
}
ctx_switches() {  # voluntary + involuntary, all threads of the children
    local c f=()
    for c in $(children "$1"); do f+=(/proc/"$c"/task/*/status); done
    [ ${#f[@]} -gt 0 ] || { echo 0; return; }
    awk '/ctxt_switches/ {s += $2} END {print s + 0}' "${f[@]}" 2>/dev/null || echo 0
}
reset_hwm() { local c; for c in $(children "$1"); do echo 5 > "/proc/$c/clear_refs" 2>/dev/null || true; done; }
peak_rss_kb() {  # the largest VmHWM among the children
    local c m=0 v
    for c in $(children "$1"); do
        v=$(awk '/^VmHWM/ {print $2}' "/proc/$c/status" 2>/dev/null || echo 0)
        [ "${v:-0}" -gt "$m" ] && m=$v
    done
    echo "$m"
}
stat_of() { awk -F= -v k="$2" '$1 == k {print $2}' <<< "$1"; }

col_base() {  # col -> URL prefix
    case "$1" in
    gw) echo "http://127.0.0.1:${AP_PORT[gw]}/gw" ;;
    gwb) echo "http://127.0.0.1:${AP_PORT[gwb]}/gw" ;;
    mp) echo "http://127.0.0.1:${AP_PORT[mp]}/mp" ;;
    ceil) echo "http://127.0.0.1:${AP_PORT[ceil]}/ceil" ;;
    nx) echo "http://127.0.0.1:${AP_PORT[nx]}" ;;
    direct) echo "$UP" ;;
    esac
}

RUNS="$W/runs.tsv"
printf 'workload\tcolumn\tround\tok\trps\tmbps\tmean_us\tp99_us\tap_cpu_s\tup_cpu_s\tup_reqs\tup_conns\tup_new\trss_kb\tdone\tbytes\tctx\tother_cpu_s\tnote\tload_cpu_s\tidle_s\tbusy_s\n' > "$RUNS"

# One h2load run, recorded as a line of runs.tsv.
#   measure WORKLOAD COL ROUND FRONTEND(h1|h2) CLIENTS STREAMS PATH UPLOAD_FILE|- [NOTE]
measure() {
    local wl=$1 col=$2 round=$3 fe=$4 nc=$5 ns=$6 path=$7 upfile=$8 extra_note=${9:-}
    local tag="$wl.$col.$round" base url apid="" args=() rc=0
    local t0=0 t1=0 u0 u1 out lat stats ok=1 note="$extra_note"
    base=$(col_base "$col")
    url="$base$(upath "$path")"
    [ "$col" = direct ] || apid=${AP_PID[$col]}
    if [ "$fe" = h1 ]; then
        if [ "$col" = direct ]; then
            # h2up speaks only h2c: as many connections, one stream each.
            args=(-c "$nc" -m 1)
            note="${note:+$note; }direct: h2c -m 1"
        else
            args=(--h1 -c "$nc")
        fi
    else
        args=(-c "$nc" -m "$ns")
    fi
    [ "$upfile" != - ] && args+=(-d "$upfile")
    upc /_reset > /dev/null
    if [ -n "$apid" ]; then reset_hwm "$apid"; fi
    local c0 c1 b0 b1 h0 i0 i1 x0=0 x1=0
    c0=$(cticks_self)
    h2load "${args[@]}" -D "$DUR" --warm-up-time "${WARM_MS}ms" \
        --log-file "$W/runs/$tag.log" "$url" > "$W/runs/$tag.out" 2>&1 &
    H2LOAD_PID=$!
    track "$H2LOAD_PID" h2load
    # CPU is sampled over the main period only (h2load's figures too).
    sleep "$WARM_S"
    b0=$(busy_ticks)
    i0=$(idle_ticks)
    h0=$(ticks_self "$H2LOAD_PID")
    u0=$(ticks_self "$UP_PID")
    if [ -n "$apid" ]; then t0=$(ticks_tree "$apid"); x0=$(ctx_switches "$apid"); fi
    wait "$H2LOAD_PID" || rc=$?
    unset "STARTED[$H2LOAD_PID]"
    H2LOAD_PID=""
    b1=$(busy_ticks)
    i1=$(idle_ticks)
    u1=$(ticks_self "$UP_PID")
    if [ -n "$apid" ]; then t1=$(ticks_tree "$apid"); x1=$(ctx_switches "$apid"); fi
    c1=$(cticks_self)
    stats=$(upc /_stats)
    out="$W/runs/$tag.out"
    local rps done_ succ failed errored timeout n2 n3 n4 n5 bytes mbps
    rps=$(awk '/^finished in/ {for (i = 1; i <= NF; i++) if ($i == "req/s,") print $(i-1)}' "$out")
    read -r done_ succ failed errored timeout < <(sed -n 's/^requests: .* \([0-9]*\) done, \([0-9]*\) succeeded, \([0-9]*\) failed, \([0-9]*\) errored, \([0-9]*\) timeout.*/\1 \2 \3 \4 \5/p' "$out")
    read -r n2 n3 n4 n5 < <(sed -n 's/^status codes: \([0-9]*\) 2xx, \([0-9]*\) 3xx, \([0-9]*\) 4xx, \([0-9]*\) 5xx.*/\1 \2 \3 \4/p' "$out")
    bytes=$(sed -n 's/^traffic: [^(]*(\([0-9]*\)) total.*/\1/p' "$out")
    : "${rps:=0}" "${done_:=0}" "${succ:=0}" "${failed:=0}" "${errored:=0}" "${timeout:=0}"
    : "${n2:=0}" "${n3:=0}" "${n4:=0}" "${n5:=0}" "${bytes:=0}"
    if [ "$upfile" != - ]; then
        bytes=$((succ * $(stat -c %s "$upfile")))   # request bodies sent
    fi
    mbps=$(awk -v b="$bytes" -v d="$DUR" 'BEGIN {printf "%.1f", b / d / 1e6}')
    # Latency from the per-request log: mean and p99 (nearest rank). A
    # request that began in the warm-up and ended in the main period is
    # logged with status 0 (h2load counts it as a success): left out.
    lat="0 0 0 0"
    if [ -s "$W/runs/$tag.log" ]; then
        awk -F'\t' '$2 != 0 {print $3}' "$W/runs/$tag.log" | sort -n > "$W/runs/$tag.lat"
        lat=$(awk -F'\t' '$2 != 0 { n++; s += $3; if ($2 < 200 || $2 > 299) bad++ }
                 END { printf "%d %.0f %d", n, n ? s / n : 0, bad }' "$W/runs/$tag.log")
        local n k p99
        n=${lat%% *}
        k=$(( (n * 99 + 99) / 100 ))
        p99=$(sed -n "${k}p" "$W/runs/$tag.lat")
        lat="$lat ${p99:-0}"
        rm -f "$W/runs/$tag.lat"
    fi
    local nlog mean bad p99v
    read -r nlog mean bad p99v <<< "$lat"
    if [ "$rc" != 0 ]; then ok=0; note="${note:+$note; }h2load exit $rc"; fi
    if [ $((failed + errored + timeout)) -gt 0 ]; then
        ok=0; note="${note:+$note; }h2load: $failed failed, $errored errored, $timeout timeout"
    fi
    if [ $((n3 + n4 + n5)) -gt 0 ] || [ "${bad:-0}" -gt 0 ]; then
        ok=0; note="${note:+$note; }non-2xx: ${n3} 3xx, ${n4} 4xx, ${n5} 5xx, ${bad:-0} in the log"
    fi
    if [ "$succ" = 0 ]; then ok=0; note="${note:+$note; }no request succeeded"; fi
    local apcpu="" rss="" upcpu upreqs upconns upnew other ctx="" loadcpu idle busy
    # CPU of everything else on the machine during the main period: busy
    # time minus this column's Apache, the upstream and h2load.
    other=$(awk -v t=$(( (b1 - b0) - (t1 - t0) - (u1 - u0) - ((c1 - c0) - h0) )) -v hz="$HZ" \
        'BEGIN {printf "%.2f", (t < 0 ? 0 : t) / hz}')
    # h2load's own CPU and the machine's idle time over the main period:
    # with them the report tells what a throughput ratio costs in CPU.
    loadcpu=$(awk -v t=$(( (c1 - c0) - h0 )) -v hz="$HZ" 'BEGIN {printf "%.3f", (t < 0 ? 0 : t) / hz}')
    idle=$(awk -v t=$((i1 - i0)) -v hz="$HZ" 'BEGIN {printf "%.3f", t / hz}')
    busy=$(awk -v t=$((b1 - b0)) -v hz="$HZ" 'BEGIN {printf "%.3f", t / hz}')
    if awk -v o="$other" -v d="$DUR" 'BEGIN {exit !(o / d > 0.15)}'; then
        note="${note:+$note; }other processes used ${other} CPU-s during the run"
    fi
    if [ -n "$apid" ] && [ "$succ" -gt 0 ]; then
        ctx=$(awk -v x=$((x1 - x0)) -v n="$succ" 'BEGIN {printf "%.2f", x / n}')
    fi
    if [ -n "$apid" ]; then
        apcpu=$(awk -v t=$((t1 - t0)) -v hz="$HZ" 'BEGIN {printf "%.3f", t / hz}')
        rss=$(peak_rss_kb "$apid")
        if [ "$(children "$apid" | wc -l)" != "$SERVER_LIMIT" ]; then
            note="${note:+$note; }children: $(children "$apid" | wc -l)"
        fi
    fi
    upcpu=$(awk -v t=$((u1 - u0)) -v hz="$HZ" 'BEGIN {printf "%.3f", t / hz}')
    [ "$col" = ceil ] && upcpu=""
    upreqs=$(stat_of "$stats" requests)
    upconns=$(stat_of "$stats" conns)
    # accepted counts every TCP connection since /_reset, the one that
    # asked for /_stats included (it is accepted before it is answered).
    upnew=$(stat_of "$stats" accepted)
    upnew=${upnew:+$((upnew - 1))}   # blank without counters (nghttpd)
    [ "$(stat_of "$stats" rst_recv)" -gt 0 ] 2>/dev/null && note="${note:+$note; }upstream saw $(stat_of "$stats" rst_recv) RST_STREAM"
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' \
        "$wl" "$col" "$round" "$ok" "$rps" "$mbps" "$mean" "$p99v" "$apcpu" "$upcpu" \
        "$upreqs" "$upconns" "$upnew" "$rss" "$succ" "$bytes" "$ctx" "$other" "$note" \
        "$loadcpu" "$idle" "$busy" >> "$RUNS"
    log "$(printf '%-8s %-6s r%s %s %10s req/s %8s MB/s  mean %6sus p99 %7sus%s' \
        "$wl" "$col" "$round" "$([ $ok = 1 ] && echo ok || echo FAIL)" "$rps" "$mbps" "$mean" "$p99v" "${note:+  [$note]}")"
    rm -f "$W/runs/$tag.log"   # can be large
}

# ------------------------------------------------------------------ workloads
# name | frontend | clients | streams/conn | path | upload file | description
UPFILE="$W/upload-1MiB.bin"
head -c 1048576 /dev/urandom > "$UPFILE"
SLOW_SIZE=$((64 * 1024 * 1024))
SLOW_RATE=102400   # bytes/s
WORKLOADS=(
    "1k-h2|h2|4|32|/data?size=1024|-|1 KiB GET, HTTP/2 frontend (h2load -c 4 -m 32)"
    "1k-h1|h1|32|1|/data?size=1024|-|1 KiB GET, HTTP/1.1 frontend (h2load --h1 -c 32)"
    "100k|h1|8|1|/data?size=102400|-|100 KiB GET, HTTP/1.1 frontend (h2load --h1 -c 8)"
    "20m|h1|4|1|/data?size=20971520|-|20 MiB GET, HTTP/1.1 frontend (h2load --h1 -c 4)"
    "up1m|h1|8|1|/upload|$UPFILE|1 MiB POST, HTTP/1.1 frontend (h2load --h1 -c 8 -d 1MiB)"
    "up1m-h2|h2|4|2|/upload|$UPFILE|1 MiB POST, HTTP/2 frontend (h2load -c 4 -m 2 -d 1MiB)"
)
SLOW_FAST="h2|2|8|/data?size=1024"   # the fast requests of the slow-reader test
SWEEP_SPEC=${WORKLOADS[0]}   # 1k-h2, whatever --only keeps
SLOW=1
MEM=1
if [ -n "$ONLY" ]; then
    kept=()
    for spec in "${WORKLOADS[@]}"; do
        case " $ONLY " in *" ${spec%%|*} "*) kept+=("$spec") ;; esac
    done
    case " $ONLY " in *" slow "*) ;; *) SLOW=0 ;; esac
    case " $ONLY " in *" mem "*) ;; *) MEM=0 ;; esac
    [ ${#kept[@]} -gt 0 ] || [ "$SLOW" = 1 ] || [ "$MEM" = 1 ] \
        || { echo "run.sh: --only $ONLY names no workload" >&2; exit 2; }
    WORKLOADS=("${kept[@]}")
fi

slow_reader_test() {  # col round
    local col=$1 round=$2 base curlproto size0 size1 alive note
    IFS='|' read -r sfe snc sns spath <<< "$SLOW_FAST"
    measure slow-off "$col" "$round" "$sfe" "$snc" "$sns" "$spath" -
    base=$(col_base "$col")
    if [ "$col" = direct ]; then curlproto=--http2-prior-knowledge; else curlproto=--http1.1; fi
    rm -f "$W/slow.progress"
    perl "$TOP/bench/slowread.pl" "$SLOW_RATE" "$W/slow.progress" -s $curlproto \
        "$base$(upath "/data?size=$SLOW_SIZE")" < /dev/null 2> "$W/slow.err" &
    SLOW_PID=$!
    track "$SLOW_PID" slowread
    sleep "$SETTLE"
    size0=$(cat "$W/slow.progress" 2>/dev/null || echo 0)
    note=""
    # measure resets the upstream counters after the slow request began:
    # its connection counts in up_conns only if fast requests use it too.
    measure slow-on "$col" "$round" "$sfe" "$snc" "$sns" "$spath" - "slow reader at $SLOW_RATE/s"
    size1=$(cat "$W/slow.progress" 2>/dev/null || echo 0)
    alive=1
    case "$size1" in eof*) alive=0 ;; esac
    stop_pid "$SLOW_PID"
    SLOW_PID=""
    if [ "$alive" = 0 ] || ! [ "$size0" -ge 0 ] 2>/dev/null || ! [ "$size1" -ge 0 ] 2>/dev/null; then
        note="slow reader ended early ($size0 -> $size1 bytes; $(tr '\n' ' ' < "$W/slow.err"))"
    elif [ "$size1" -le "$size0" ]; then
        note="slow reader made no progress during the fast run ($size0 -> $size1 bytes)"
    fi
    printf 'slow-check\t%s\t%s\t%s\t%s\t%s\n' "$col" "$round" "$size0" "$size1" "$note" >> "$W/slowcheck.tsv"
    [ -n "$note" ] && log "$col: $note"
    return 0
}

# Memory: MEM_N clients each ask for a body far larger than any buffer and
# never read. Their own instances (one thread per client; mod_h2gw with
# enough connections for MEM_N streams at the upstream's 100 per
# connection); RSS of the child before and once all streams stalled (no
# growth for a second), for mod_h2gw and for the ceiling, which pays
# Apache's own cost of as many connections.
MEM_N=1000
MEM_SIZE=$((256 * 1024 * 1024))
rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
memory_test() {
    local col key child before after prev stable i port mpid streams saved_threads=$THREADS saved_params=${GW_PARAMS:-}
    THREADS=$((MEM_N + 64))
    GW_PARAMS="$saved_params max-conns=$(( MEM_N / 100 + 4 ))"
    # Small, fixed socket send buffers: the kernel takes little of each
    # response, so what is held back is held in the process.
    EXTRA_CONF="SendBufferSize 16384"
    for col in gw ceil; do
        key="mem-$col"
        start_apache "$col" "$FIXED_WORKERS" "$key"
        port=${AP_PORT[$key]}
        # One request first: the engine and a connection are up, as in use.
        curl -s -o /dev/null --max-time 10 "http://127.0.0.1:$port/$col$(upath /data?size=1024)" || true
        sleep 0.5
        child=$(children "${AP_PID[$key]}" | head -1)
        before=$(rss_kb "$child")
        perl "$TOP/bench/slowmany.pl" "$MEM_N" "$port" "/$col$(upath "/data?size=$MEM_SIZE")" 120 \
            > "$W/mem-$col.out" 2> "$W/mem-$col.err" &
        mpid=$!
        track "$mpid" "slow clients"
        for i in $(seq 300); do grep -q ready "$W/mem-$col.out" 2>/dev/null && break; sleep 0.1; done
        # Stalled: RSS moved less than 1 MiB over 1.5 s (at most 30 s).
        prev=0
        stable=0
        for i in $(seq 60); do
            sleep 0.5
            after=$(rss_kb "$child")
            if [ "$after" -gt 0 ] && [ $((after - prev)) -lt 1024 ] && [ $((prev - after)) -lt 1024 ]; then
                stable=$((stable + 1))
                [ "$stable" -ge 3 ] && break
            else
                stable=0
                prev=$after
            fi
        done
        streams=""
        if [ "$col" = gw ]; then
            streams=$(curl -s --max-time 5 "http://127.0.0.1:$port/h2gw-status?json" \
                | perl -MJSON::PP -e 'my $j = eval { decode_json(join "", <STDIN>) } or exit;
                      my $n = 0; for my $u (@{ $j->{upstreams} }) { $n += $_->{streams_active} for @{ $u->{servers} } }
                      print $n' 2>/dev/null || true)
        fi
        printf 'mem\t%s\t%s\t%s\t%s\t%s\t%s\n' "$col" "$MEM_N" "$before" "$after" "${streams:-}" \
            "$(grep -o 'ready [0-9]*' "$W/mem-$col.out" 2>/dev/null | awk '{print $2}')" >> "$W/mem.tsv"
        log "memory $col: child RSS $before -> $after kB with $MEM_N stalled clients${streams:+ ($streams upstream streams active)}"
        stop_pid "$mpid"
        stop_apache "$key"
    done
    THREADS=$saved_threads
    GW_PARAMS=$saved_params
    EXTRA_CONF=""
}

# ------------------------------------------------------------------ run
APACHE_COLS=(gw mp ceil)
ALL_COLS=(gw mp ceil direct)
if [ -n "$AB_SO" ]; then
    APACHE_COLS=(gw gwb mp ceil)
    ALL_COLS=(gw gwb mp ceil direct)
fi
[ "$NGHTTPX" = 1 ] && ALL_COLS=("${ALL_COLS[@]/direct/nx}" direct)
: > "$W/sweep.tsv"
: > "$W/slowcheck.tsv"

if [ "$SWEEP" = 1 ]; then
    log "H2MinWorkers/H2MaxWorkers sweep ($WORKERS) on 1 KiB over HTTP/2, one run each"
    IFS='|' read -r _ sfe snc sns spath _ _ <<< "$SWEEP_SPEC"
    for col in "${APACHE_COLS[@]}"; do
        for wk in $WORKERS; do
            start_apache "$col" "$wk"
            measure "sweep-$wk" "$col" 0 "$sfe" "$snc" "$sns" "$spath" -
            printf '%s\t%s\t%s\n' "$col" "$wk" "$(awk -F'\t' -v w="sweep-$wk" -v c="$col" '$1 == w && $2 == c {print ($4 ? $5 : 0)}' "$RUNS" | tail -1)" >> "$W/sweep.tsv"
            stop_apache "$col"
        done
    done
fi
for col in "${APACHE_COLS[@]}"; do
    wk=$FIXED_WORKERS
    if [ "$SWEEP" = 1 ]; then
        wk=$(awk -F'\t' -v c="$col" '$1 == c && $3 > best {best = $3; w = $2} END {print w}' "$W/sweep.tsv")
        wk=${wk:-$FIXED_WORKERS}
    fi
    start_apache "$col" "$wk"
    log "column $col: Apache pid ${AP_PID[$col]} port ${AP_PORT[$col]}, H2MaxWorkers $wk"
done
if [ "$NGHTTPX" = 1 ]; then
    start_nghttpx
    log "column nx: nghttpx pid ${AP_PID[nx]} port ${AP_PORT[nx]}, ${AP_WORKERS[nx]} workers"
fi

for round in $(seq "$ROUNDS"); do
    log "round $round of $ROUNDS"
    ncols=${#ALL_COLS[@]}
    for spec in ${WORKLOADS[@]+"${WORKLOADS[@]}"}; do
        IFS='|' read -r wl fe nc ns path upfile _ <<< "$spec"
        # Interleaved: every workload runs in every column in turn, the
        # order rotating from round to round.
        for ((k = 0; k < ncols; k++)); do
            col=${ALL_COLS[$(( (k + round - 1) % ncols ))]}
            measure "$wl" "$col" "$round" "$fe" "$nc" "$ns" "$path" "$upfile"
        done
    done
    for ((k = 0; k < ncols && SLOW; k++)); do
        col=${ALL_COLS[$(( (k + round - 1) % ncols ))]}
        slow_reader_test "$col" "$round"
    done
done

curl -s --max-time 5 "http://127.0.0.1:${AP_PORT[gw]}/h2gw-status?json" > "$W/h2gw-status.json" || true
for col in "${APACHE_COLS[@]}"; do stop_apache "$col"; done
if [ "$NGHTTPX" = 1 ]; then stop_pid "${AP_PID[nx]}"; unset "AP_PID[nx]"; fi
: > "$W/mem.tsv"
if [ "$MEM" = 1 ]; then
    log "memory: $MEM_N clients that never read"
    memory_test
fi
T_END=$(date +%s)

# ------------------------------------------------------------------ report
{
    printf 'date\t%s\n' "$(date -u '+%Y-%m-%d %H:%M UTC')"
    printf 'mode\t%s\n' "$([ "$QUICK" = 1 ] && echo quick || echo full)"
    printf 'rounds\t%s\n' "$ROUNDS"
    printf 'duration\t%s\n' "$DUR"
    printf 'warmup_ms\t%s\n' "$WARM_MS"
    printf 'elapsed_s\t%s\n' "$((T_END - T_START))"
    printf 'load_start\t%s\n' "$LOAD_START"
    printf 'host\t%s cores, %s, kernel %s\n' "$(nproc)" "$(awk -F: '/model name/ {print $2; exit}' /proc/cpuinfo | sed 's/^ *//')" "$(uname -r)"
    printf 'httpd\t%s\n' "$("$HTTPD" -v | sed -n 's/^Server version: //p')"
    printf 'h2load\t%s\n' "$(h2load --version 2>&1 | head -1)"
    printf 'module\t%s\n' "$(git -C "$TOP" describe --always --dirty 2>/dev/null || echo unknown), .libs/mod_h2gw.so of $(date -r "$TOP/.libs/mod_h2gw.so" '+%F %T')"
    printf 'ncpu\t%s\n' "$(nproc)"
    printf 'mem_window\t%s\n' 262144   # mod_h2gw's default H2GWStreamWindow
    printf 'server_limit\t%s\n' "$SERVER_LIMIT"
    printf 'upstream\t%s\n' "$UPSTREAM"
    printf 'upstream_window\t%s\n' "$UP_WINDOW"
    if [ -n "$AB_SO" ]; then
        printf 'ab_module\t%s of %s\n' "$AB_SO" "$(date -r "$AB_SO" '+%F %T')"
        printf 'ab_params\t%s\n' "${GWB_PARAMS:-}"
        printf 'ab_env\t%s\n' "${GWB_ENV:-}"
    fi
    if [ "$NGHTTPX" = 1 ]; then
        printf 'nghttpx\t%s, --workers=%s\n' "$(nghttpx --version 2>&1 | head -1)" "${AP_WORKERS[nx]}"
    fi
    printf 'threads\t%s\n' "$THREADS"
    printf 'sweep\t%s\n' "$SWEEP"
    printf 'workers_list\t%s\n' "$WORKERS"
    for col in "${APACHE_COLS[@]}"; do printf 'workers_%s\t%s\n' "$col" "${AP_WORKERS[$col]}"; done
    printf 'slow\t%s bytes at %s/s (bench/slowread.pl reading curl'"'"'s output), fast: %s\n' "$SLOW_SIZE" "$SLOW_RATE" "$SLOW_FAST"
    for spec in ${WORKLOADS[@]+"${WORKLOADS[@]}"}; do
        IFS='|' read -r wl _ _ _ _ _ desc <<< "$spec"
        printf 'wl\t%s\t%s\n' "$wl" "$desc"
    done
    for col in "${APACHE_COLS[@]}"; do
        f="$W/error_log.$col.${AP_WORKERS[$col]}"
        printf 'errlog\t%s\t%s\n' "$col" "$(grep -c . "$f" 2>/dev/null || true)"
        { grep -v 'AH00489\|AH00094\|AH00492\|AH00491\|AH00169' "$f" 2>/dev/null || true; } \
            | sed 's/^\[[^]]*\] //; s/\[pid [^]]*\] //; s/\[client [^]]*\] //; s/:tid [0-9]*\]/]/' \
            | sort | uniq -c | sort -rn | head -5 | sed "s/^/errline\t$col\t/" || true
    done
} > "$W/meta.tsv"

perl "$TOP/bench/report.pl" "$W/meta.tsv" "$RUNS" "$W/sweep.tsv" "$W/slowcheck.tsv" \
    "$W/h2gw-status.json" "$W/mem.tsv" > "$OUT"
cat "$OUT"
echo
echo "written to $OUT"
