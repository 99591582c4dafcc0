#!/usr/bin/env bash
# Throughput of one large transfer each way, through mod_h2gw (HTTP/1.1
# and HTTP/2 frontends) and straight to the same upstream (t/h2up), on
# this machine. Uses the demo setup (tools/demo.sh) on ports 18080/18081.
# Usage: bench/transfer.sh [SIZE_MB]   (default 1024)
set -euo pipefail
cd "$(dirname "$0")/.."
MB=${1:-1024}
BYTES=$((MB * 1024 * 1024))
export DEMO_PORT=18080 DEMO_UPSTREAM_PORT=18081
tools/demo.sh >/dev/null
trap 'tools/demo.sh stop >/dev/null' EXIT
GW="http://127.0.0.1:$DEMO_PORT/demo"
UP="http://127.0.0.1:$DEMO_UPSTREAM_PORT"

# MB/s of the body alone: the upstream computes the body's digest before
# it answers, so time to first byte is left out.
down() {
    curl -s "$@" -o /dev/null -w '%{size_download} %{time_starttransfer} %{time_total}\n' \
        | awk '{ printf "%.0f", $1 / ($3 - $2) / 1048576 }'
}
up() {
    head -c "$BYTES" /dev/zero | curl -s "$@" -T - -o /dev/null \
        -w '%{size_upload} %{time_total}\n' | awk '{ printf "%.0f", $1 / $2 / 1048576 }'
}

printf '%-34s %10s\n' "transfer of $MB MiB" "MB/s"
printf '%-34s %10s\n' "download direct (h2c)" "$(down --http2-prior-knowledge "$UP/data?size=$BYTES")"
printf '%-34s %10s\n' "download via mod_h2gw, HTTP/1.1" "$(down --http1.1 "$GW/data?size=$BYTES")"
printf '%-34s %10s\n' "download via mod_h2gw, HTTP/2" "$(down --http2-prior-knowledge "$GW/data?size=$BYTES")"
printf '%-34s %10s\n' "upload direct (h2c)" "$(up --http2-prior-knowledge "$UP/upload")"
printf '%-34s %10s\n' "upload via mod_h2gw, HTTP/1.1" "$(up --http1.1 "$GW/upload")"
printf '%-34s %10s\n' "upload via mod_h2gw, HTTP/2" "$(up --http2-prior-knowledge "$GW/upload")"
