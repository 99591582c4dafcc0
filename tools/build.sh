#!/usr/bin/env bash
# Configures (once) and builds mod_h2gw and the test upstream in the tree.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x configure ] || [ configure.ac -nt configure ] || [ Makefile.am -nt Makefile.in ]; then
    autoreconf -fi >/dev/null
fi
if [ ! -f Makefile ] || [ configure -nt Makefile ]; then
    ./configure --with-apxs="$(command -v apxs || command -v apxs2)" ${CONFIGURE_ARGS:-} >/dev/null
fi
make -j"$(nproc)" >/dev/null
echo "built .libs/mod_h2gw.so"
