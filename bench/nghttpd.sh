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
# 10k requests or per GB, with mod_h2gw's ratio to mod_proxy_http2. The
# CPU is sampled over the whole h2load run, its 1 s warm-up included, and
# divided by the main period's requests or bytes: the absolute figures
# overstate both proxies alike (bench/run.sh samples the main period
# only); compare them side by side, not with run.sh's.
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
. bench/two-proxies.sh
HZ=$(getconf CLK_TCK)
scratch nghttpd
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
start_two_proxies "$UP_PORT" "KeepAlive On
MaxKeepAliveRequests 0
H2MinWorkers 8
H2MaxWorkers 8"
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
