#!/bin/sh
# build-deb.sh [BUILD_DIR] - build the Debian packages (libsafereasm0,
# libsafereasm-dev, safereasm-pcap, safereasm-wireshark-plugin) with CPack
# into BUILD_DIR (default: build-deb/) and print their paths.
# Configured for prefix /usr, so the library goes to /usr/lib/<multiarch>
# and the plugin into Wireshark's global plugin folder.
set -eu
src=$(cd "$(dirname "$0")/.." && pwd)
b=${1:-$src/build-deb}
log=$(mktemp)
trap 'rm -f "$log"' EXIT
cmake -S "$src" -B "$b" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_INSTALL_PREFIX=/usr \
      -DSR_BUILD_TESTS=OFF -DSR_BUILD_BENCH=OFF -DSR_BUILD_TOOLS=ON -DSR_BUILD_PLUGIN=ON \
      -DSR_SANITIZE= > "$log" 2>&1 || { cat "$log"; exit 1; }
cmake --build "$b" -j"$(nproc 2>/dev/null || echo 2)" > "$log" 2>&1 || { cat "$log"; exit 1; }
rm -f "$b"/*.deb
(cd "$b" && cpack -G DEB > "$log" 2>&1) || { cat "$log"; exit 1; }
ls "$b"/*.deb
