#!/usr/bin/env bash
# The main workloads of bench/run.sh against an upstream nobody in this
# project wrote: nghttpd (nghttp2's own server) serving files, h2c, one
# worker. Through mod_h2gw (/gw/), mod_proxy_http2 (/mp/) and straight to
# nghttpd (direct), one Apache (MPM event, one child, 64 threads,
# H2MaxWorkers 8) carrying both proxies; h2load as the client. nghttpd
# answers a POST with the file at its path after reading the body, so the
# upload workload sends 1 MiB to a 1 KiB file.
#
# Usage (from the repository root, after `make`):
#   bench/nghttpd.sh [--duration SEC] [--rounds N]
# Prints a Markdown table of medians: req/s (MB/s) and Apache CPU-s per
# 10k requests or per GB, with mod_h2gw's ratio to mod_proxy_http2.
set -euo pipefail
cd "$(dirname "$0")/.."
DUR=4
ROUNDS=3
while [ $# -gt 0 ]; do
    case "$1" in
    --duration) DUR=${2:?}; shift ;;
    --rounds) ROUNDS=${2:?}; shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "nghttpd.sh: unknown option $1" >&2; exit 2 ;;
    esac
    shift
done
for t in nghttpd h2load apxs curl; do
    command -v "$t" >/dev/null || { echo "nghttpd.sh: $t missing (apt-get install nghttp2-server nghttp2-client apache2-dev curl)" >&2; exit 1; }
done
[ -e .libs/mod_h2gw.so ] || { echo "nghttpd.sh: build first (make)" >&2; exit 1; }
MODS=$(apxs -q LIBEXECDIR)
HTTPD="$(apxs -q SBINDIR)/$(apxs -q TARGET)"
HZ=$(getconf CLK_TCK)
W=$(mktemp -d /tmp/h2gw-nghttpd.XXXXXX)
chmod 755 "$W"
PIDS=()
cleanup() {
    local p
    for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
    rm -rf "$W"
}
trap cleanup EXIT
free_port() {
    perl -MIO::Socket::INET -e 'print IO::Socket::INET->new(LocalAddr => "127.0.0.1",
        LocalPort => 0, Listen => 1)->sockport, "\n"'
}
mkdir -p "$W/docs" "$W/run"
head -c 1024 /dev/urandom > "$W/docs/1k"
head -c $((100 * 1024)) /dev/urandom > "$W/docs/100k"
head -c $((20 * 1024 * 1024)) /dev/urandom > "$W/docs/20m"
head -c $((1024 * 1024)) /dev/urandom > "$W/up1m.bin"
chmod -R a+rX "$W/docs"
UP_PORT=$(free_port)
nghttpd --no-tls -a 127.0.0.1 -n 1 -d "$W/docs" "$UP_PORT" > "$W/nghttpd.log" 2>&1 &
UP_PID=$!
PIDS+=($UP_PID)
AP_PORT=$(free_port)
user_line=""
[ "$(id -u)" -eq 0 ] && user_line=$'User nobody\nGroup nogroup'
cp .libs/mod_h2gw.so "$W/mod_h2gw.so"
cat > "$W/httpd.conf" <<CONF
ServerRoot "$W"
DefaultRuntimeDir "$W/run"
ServerName localhost
Listen 127.0.0.1:$AP_PORT
PidFile "$W/run/httpd.pid"
ErrorLog "$W/error_log"
LogLevel warn
$user_line
LoadModule mpm_event_module "$MODS/mod_mpm_event.so"
LoadModule authz_core_module "$MODS/mod_authz_core.so"
LoadModule http2_module "$MODS/mod_http2.so"
LoadModule proxy_module "$MODS/mod_proxy.so"
LoadModule proxy_http2_module "$MODS/mod_proxy_http2.so"
LoadModule h2gw_module "$W/mod_h2gw.so"
StartServers 1
ServerLimit 1
ThreadLimit 64
ThreadsPerChild 64
MaxRequestWorkers 64
KeepAlive On
MaxKeepAliveRequests 0
Protocols h2c http/1.1
H2Direct on
H2MinWorkers 8
H2MaxWorkers 8
DocumentRoot "$W/run"
<Directory />
    Require all granted
</Directory>
H2GWPass /gw/ h2c://127.0.0.1:$UP_PORT/
ProxyPass /mp/ h2c://127.0.0.1:$UP_PORT/ enablereuse=on
CONF
setsid "$HTTPD" -f "$W/httpd.conf" -DFOREGROUND < /dev/null > "$W/stdout" 2>&1 &
AP_PID=$!
PIDS+=($AP_PID)
for i in $(seq 100); do
    curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$AP_PORT/gw/1k" && break
    sleep 0.1
done
ticks() {  # utime+stime of a process and its children (threads included)
    local t=0 p
    for p in "$1" $(pgrep -P "$1" 2>/dev/null); do
        t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null || echo 0)))
    done
    echo "$t"
}
# workload: name, h2load args (frontend/clients/streams), path, upload
WORKLOADS=(
    "1k-h2|-c 8 -m 16|/1k|-"
    "1k-h1|--h1 -c 32|/1k|-"
    "100k|-c 8 -m 1|/100k|-"
    "20m|-c 4 -m 1|/20m|-"
    "up1m|-c 8 -m 1|/1k|$W/up1m.bin"
)
run_one() {  # workload-spec column -> "rps mbps cpu_s"
    local spec=$1 col=$2 name args path up url base t0 t1 out
    IFS='|' read -r name args path up <<< "$spec"
    case "$col" in
    gw) base="http://127.0.0.1:$AP_PORT/gw" ;;
    mp) base="http://127.0.0.1:$AP_PORT/mp" ;;
    direct) base="http://127.0.0.1:$UP_PORT"
            args=${args/--h1 -c 32/-c 32 -m 1} ;;
    esac
    url="$base$path"
    # shellcheck disable=SC2086
    set -- $args
    [ "$up" != - ] && set -- "$@" -d "$up"
    t0=$(ticks "$AP_PID")
    out=$(h2load "$@" -D "$DUR" --warm-up-time 1s "$url" 2>&1)
    t1=$(ticks "$AP_PID")
    local rps succ bytes mbps
    rps=$(awk '/^finished in/ {for (i = 1; i <= NF; i++) if ($i == "req/s,") print $(i-1)}' <<< "$out")
    succ=$(sed -n 's/^requests: .* \([0-9]*\) succeeded.*/\1/p' <<< "$out")
    bytes=$(sed -n 's/^traffic: [^(]*(\([0-9]*\)) total.*/\1/p' <<< "$out")
    [ "$up" != - ] && bytes=$(( ${succ:-0} * 1048576 ))
    mbps=$(awk -v b="${bytes:-0}" -v d="$DUR" 'BEGIN {printf "%.1f", b / d / 1e6}')
    echo "${rps:-0} $mbps $(awk -v t=$((t1 - t0)) -v hz="$HZ" 'BEGIN {printf "%.3f", t / hz}') ${succ:-0}"
}
median() { sort -g | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }
echo "| workload | column | req/s | MB/s | Apache CPU-s per 10k req (per GB) | h2gw ÷ proxy_http2 (rate) |"
echo "|---|---|--:|--:|--:|--:|"
for spec in "${WORKLOADS[@]}"; do
    name=${spec%%|*}
    declare -A RPS=() MB=() CPU=()
    for col in gw mp direct; do
        rs=(); ms=(); cs=()
        for r in $(seq "$ROUNDS"); do
            read -r rps mbps cpu succ <<< "$(run_one "$spec" "$col")"
            rs+=("$rps"); ms+=("$mbps")
            if [ "$col" != direct ] && [ "${succ:-0}" -gt 0 ]; then
                case "$name" in
                1k-*) cs+=("$(awk -v c="$cpu" -v n="$succ" 'BEGIN {printf "%.3f", c / n * 10000}')") ;;
                *) cs+=("$(awk -v c="$cpu" -v m="$mbps" -v d="$DUR" 'BEGIN {printf "%.3f", (m > 0 ? c / (m * d / 1000) : 0)}')") ;;
                esac
            fi
        done
        RPS[$col]=$(printf '%s\n' "${rs[@]}" | median)
        MB[$col]=$(printf '%s\n' "${ms[@]}" | median)
        CPU[$col]=$( [ ${#cs[@]} -gt 0 ] && printf '%s\n' "${cs[@]}" | median || echo n/a)
    done
    ratio=$(awk -v a="${RPS[gw]}" -v b="${RPS[mp]}" 'BEGIN {printf "%.2f", (b > 0 ? a / b : 0)}')
    for col in gw mp direct; do
        echo "| $name | $col | ${RPS[$col]} | ${MB[$col]} | ${CPU[$col]} | $([ $col = gw ] && echo "${ratio}×") |"
    done
done
echo
echo "medians of $ROUNDS runs of ${DUR}s; upstream: $(nghttpd --version 2>&1 | head -1), one worker"
