#!/usr/bin/env bash
# The interactive benchmark: one long request without Content-Length (a
# gRPC bidirectional call, a chat), a 100-byte message after a pause, and
# the time until its echo comes back, through
#   gw      mod_h2gw          (H2GWPass /gw/ -> the echo upstream)
#   mp      mod_proxy_http2   (ProxyPass /mp/ -> the same upstream)
#   direct  straight to the upstream (HTTP/2 only: it speaks h2c)
# over HTTP/2 (prior knowledge) and HTTP/1.1 (chunked), after pauses of
# 0, 50, 300 and 1000 ms. The upstream is Node's own http2 module
# (bench/echo-upstream.js), the client bench/interactive.js. One Apache
# (MPM event, one child, 64 threads) carries both proxies, side by side.
#
# Usage (from the repository root, after `make`):
#   bench/interactive.sh [--rounds N] [--pauses "0 50 300 1000"] [--keep]
# Prints a Markdown table: median (p90) milliseconds, and mod_h2gw's and
# mod_proxy_http2's added latency over direct (for HTTP/1.1 rows: over the
# HTTP/2 direct figure, the upstream speaking h2c only).
set -euo pipefail
cd "$(dirname "$0")/.."
TOP=$(pwd)
ROUNDS=20
PAUSES="0 50 300 1000"
KEEP=0
while [ $# -gt 0 ]; do
    case "$1" in
    --rounds) ROUNDS=${2:?}; shift ;;
    --pauses) PAUSES=${2:?}; shift ;;
    --keep) KEEP=1 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "interactive.sh: unknown option $1" >&2; exit 2 ;;
    esac
    shift
done
for t in node apxs curl; do
    command -v "$t" >/dev/null || { echo "interactive.sh: $t missing (apt-get install nodejs apache2-dev curl)" >&2; exit 1; }
done
[ -e .libs/mod_h2gw.so ] || { echo "interactive.sh: build first (make)" >&2; exit 1; }
. bench/two-proxies.sh
scratch interactive
node bench/echo-upstream.js "$W/up.port" > "$W/up.log" 2>&1 &
PIDS+=($!)
for i in $(seq 100); do [ -s "$W/up.port" ] && break; sleep 0.05; done
UP_PORT=$(cat "$W/up.port")
start_two_proxies "$UP_PORT"

run() {  # proto url pause -> "median p90"
    node bench/interactive.js "$1" "$2" "$3" "$ROUNDS" \
        | perl -MJSON::PP -ne 'my $j = decode_json($_);
            print defined $j->{median_ms} ? sprintf("%.2f %.2f", $j->{median_ms}, $j->{p90_ms}) : "err err"'
}
# The upstream speaks h2c only: an HTTP/1.1 row is compared with the
# HTTP/2 direct figure of the same pause (shown in brackets).
declare -A DIRECT
echo "| frontend | pause ms | direct | mod_h2gw | mod_proxy_http2 | mod_h2gw added | mod_proxy_http2 added |"
echo "|---|--:|--:|--:|--:|--:|--:|"
for proto in h2 h1; do
    for pause in $PAUSES; do
        if [ "$proto" = h2 ]; then
            read -r dm dp <<< "$(run h2 "http://127.0.0.1:$UP_PORT/echo" "$pause")"
            DIRECT[$pause]=$dm
        else
            dm=${DIRECT[$pause]:-n/a}; dp="h2"
        fi
        read -r gm gp <<< "$(run "$proto" "http://127.0.0.1:$AP_PORT/gw/echo" "$pause")"
        read -r mm mp <<< "$(run "$proto" "http://127.0.0.1:$AP_PORT/mp/echo" "$pause")"
        add() { if [ "$dm" = n/a ] || [ "$1" = err ]; then echo "n/a"; else perl -e "printf '%.2f', $1 - $dm"; fi; }
        fmt() { if [ -n "$2" ]; then echo "$1 ($2)"; else echo "$1"; fi; }
        echo "| $proto | $pause | $(fmt "$dm" "$dp") | $(fmt "$gm" "$gp") | $(fmt "$mm" "$mp") | $(add "$gm") | $(add "$mm") |"
    done
done
echo
echo "median (p90) ms over $ROUNDS messages per cell; upstream: Node $(node --version) http2"
