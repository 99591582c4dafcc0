#!/usr/bin/env bash
# Installs the Debian packages that building and testing mod_h2gw need.
# Skips apt-get entirely when they are all present already.
set -euo pipefail

PKGS=(build-essential autoconf automake libtool pkg-config
      apache2 apache2-dev libapr1-dev libaprutil1-dev
      libnghttp2-dev libssl-dev
      libapache2-mod-perl2 libio-socket-ssl-perl
      curl nghttp2-client nghttp2-server openssl
      python3-grpcio nodejs prometheus chromium)
# npm installs the gRPC-Web test client (t/grpcweb/); a Node.js that
# bundles its own npm needs no Debian npm (which would replace it).
command -v npm >/dev/null || PKGS+=(npm)

missing=()
for p in "${PKGS[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" \
        || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
    exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    SUDO="sudo"
fi
echo "installing: ${missing[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
