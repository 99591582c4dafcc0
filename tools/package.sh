#!/usr/bin/env bash
# Builds the Debian package from a clone of HEAD (dpkg-buildpackage -us -uc
# -b), installs it into this machine's Apache, enables the module and
# checks that `apache2ctl configtest` says Syntax OK; then disables the
# module and purges the package, on failure too. Never starts, stops or
# reloads the apache2 service. Refuses to run where mod_h2gw is installed
# already (by make install or the package): that install is not ours to
# replace or remove. Prints one "package: ok" or "package: FAIL" line.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$SECONDS

PKG=libapache2-mod-h2gw
MODULE=/usr/lib/apache2/modules/mod_h2gw.so
AVAIL=/etc/apache2/mods-available
# What debian/control builds with, plus what the check itself runs.
DEPS=(build-essential dpkg-dev debhelper apache2-dev autoconf automake
      libtool pkg-config libnghttp2-dev libssl-dev libapr1-dev
      libaprutil1-dev apache2 git)

fail() {
    echo "package: FAIL ($*)"
    exit 1
}

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    SUDO="sudo"
fi
export DEBIAN_FRONTEND=noninteractive

# Two runs at once would install and purge under each other.
exec 9>/tmp/mod_h2gw-package.lock
flock -w 600 9 || fail "another tools/package.sh holds /tmp/mod_h2gw-package.lock"

missing=()
for p in "${DEPS[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" \
        || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "installing: ${missing[*]}"
    $SUDO apt-get update -qq
    $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if dpkg-query -W -f='${Status}' "$PKG" 2>/dev/null | grep -q "ok installed\|config-files"; then
    fail "$PKG is installed already; remove it first (dpkg -P $PKG)"
fi
for f in "$MODULE" "$AVAIL/h2gw.load" "$AVAIL/h2gw.conf"; do
    [ ! -e "$f" ] || fail "$f exists already (make install?); remove it first"
done
# A system config broken before we start is not the package's fault.
$SUDO apache2ctl configtest >/dev/null 2>&1 \
    || fail "apache2ctl configtest fails before installing anything"

work=$(mktemp -d)
installed=""
enabled=""
cleanup() {
    if [ -n "$enabled" ]; then
        $SUDO a2dismod -q h2gw >/dev/null || echo "package: a2dismod h2gw failed"
    fi
    if [ -n "$installed" ]; then
        $SUDO dpkg -P "$PKG" >"$work/purge.log" 2>&1 \
            || { cat "$work/purge.log"; echo "package: dpkg -P $PKG failed"; }
    fi
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

git clone -q . "$work/src"
(cd "$work/src" && dpkg-checkbuilddeps) >"$work/build.log" 2>&1 \
    || { cat "$work/build.log"; fail "build dependencies missing"; }
(cd "$work/src" && dpkg-buildpackage -us -uc -b -J2) >"$work/build.log" 2>&1 \
    || { tail -40 "$work/build.log"; fail "dpkg-buildpackage failed, log above"; }
deb=$(ls "$work"/${PKG}_*.deb)
echo "built $(basename "$deb")"

files=$(dpkg-deb -c "$deb" | awk '{print $NF}')
for f in "$MODULE" "$AVAIL/h2gw.load" "$AVAIL/h2gw.conf"; do
    grep -qx "\.$f" <<<"$files" || fail "$f missing from $(basename "$deb")"
done

installed=yes
$SUDO dpkg -i "$deb" >"$work/install.log" 2>&1 \
    || { cat "$work/install.log"; fail "dpkg -i failed"; }
[ ! -e /etc/apache2/mods-enabled/h2gw.load ] \
    || { enabled=yes; fail "the package enabled the module itself"; }
enabled=yes
$SUDO a2enmod -q h2gw >/dev/null || fail "a2enmod h2gw failed"
out=$($SUDO apache2ctl configtest 2>&1) || { echo "$out"; fail "configtest failed with h2gw enabled"; }
grep -q "Syntax OK" <<<"$out" || { echo "$out"; fail "configtest did not say Syntax OK"; }
echo "a2enmod h2gw && apache2ctl configtest: Syntax OK"

cleanup
enabled=""
installed=""
[ ! -e "$MODULE" ] && [ ! -e "$AVAIL/h2gw.load" ] \
    || fail "files left behind after dpkg -P $PKG"
echo "package: ok ($PKG built, installed, enabled, configtest passed, purged; $((SECONDS - start)) s)"
