#!/usr/bin/env bash
# Builds the libFuzzer targets (headers, session, grpcweb, map) with clang
# in a scratch clone and runs each for SECONDS (default 60), starting from
# the committed corpus. A finding fails the run and leaves its input in the
# printed crash file.
# Usage: tools/fuzz.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-60}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
git clone -q . "$work/src"
cd "$work/src"
autoreconf -fi >/dev/null 2>&1
./configure --with-apxs="$(command -v apxs)" CC=clang --enable-fuzzers >/dev/null
make -j"$(nproc)" fuzz/fuzz_headers fuzz/fuzz_session fuzz/fuzz_grpcweb \
    fuzz/fuzz_map >/dev/null
for target in headers session grpcweb map; do
    mkdir "$work/corpus-$target"
    cp fuzz/corpus/$target/* "$work/corpus-$target/"
    ./fuzz/fuzz_$target -max_total_time="$secs" -print_final_stats=1 \
        -artifact_prefix="${FUZZ_ARTIFACTS:-/tmp/}h2gw-fuzz-$target-" \
        "$work/corpus-$target" 2>&1 \
        | grep -E "DONE|stat::(number_of_executed_units|average_exec_per_sec)|ERROR|SUMMARY"
    echo "fuzz_$target: ${secs}s without a finding"
done
