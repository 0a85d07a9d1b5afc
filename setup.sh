#!/bin/sh
# One command on a fresh Debian 12: install the dependencies, build, install
# the library, tool and Wireshark plugin for the current user (~/.local), and
# run the demo on a bundled capture.
set -eu
cd "$(dirname "$0")"
SUDO=
[ "$(id -u)" -eq 0 ] || SUDO=sudo
$SUDO apt-get update
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
    $(cat scripts/debian-packages.txt)
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_INSTALL_PREFIX="$HOME/.local"
cmake --build build -j"$(nproc)"
cmake --install build
scripts/demo.sh
