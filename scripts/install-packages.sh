#!/bin/sh
# install-packages.sh LIST... - install the Debian packages named in the
# given lists (scripts/debian-packages.txt: what users need to build and
# run; scripts/test-packages.txt: what only the tests need - the gopacket
# oracle, the packaging test's tools, wireshark-qt under Xvfb) when any is
# missing; with sudo unless root. Quiet when all are there.
set -eu
cd "$(dirname "$0")/.."
missing=
for list in "$@"; do
    for p in $(grep -v '^#' "$list"); do
        dpkg-query -W -f '${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
            missing="$missing $p"
    done
done
[ -n "$missing" ] || exit 0
SUDO=
[ "$(id -u)" -eq 0 ] || SUDO=sudo
echo "install-packages.sh: installing$missing" >&2
$SUDO apt-get update
# shellcheck disable=SC2086
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $missing
