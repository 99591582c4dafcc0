#!/usr/bin/env bash
# The whole test suite from a fresh Debian machine: installs what is
# needed, builds, and runs every tier (C unit tests, then the
# Apache::Test suite against real Apache and real HTTP/2 upstreams).
set -euo pipefail
cd "$(dirname "$0")/.."
tools/deps.sh
tools/build.sh
make check
