#!/bin/sh
# One command on a fresh Debian 12: install the dependencies, build, install
# the library, tool and Wireshark plugin, and run the demo on a bundled
# capture.
#   as a user: into ~/.local, the plugin into the personal plugin folder
#              ~/.local/lib/wireshark/plugins/<major.minor>/epan
#   as root:   into /usr/local, the plugin into Wireshark's global plugin
#              folder (root's Wireshark ignores personal plugin folders)
set -eu
cd "$(dirname "$0")"
scripts/install-packages.sh scripts/debian-packages.txt
# The plugin folder is named after the Wireshark major.minor it is built for.
wsabi=$(pkg-config --modversion wireshark | cut -d. -f1,2)
if [ "$(id -u)" -eq 0 ]; then
    prefix=/usr/local
    plugindir=$(pkg-config --variable=plugindir wireshark)/epan
else
    prefix=$HOME/.local
    plugindir=$HOME/.local/lib/wireshark/plugins/$wsabi/epan
fi
# Its own build folder: test.sh builds into build/ and the others, and a
# cache that installs the plugin into the global folder must not be theirs
# (their install tests would write there).
cmake -S . -B build-setup -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_INSTALL_PREFIX="$prefix" \
      -DSR_PLUGIN_INSTALL_DIR="$plugindir"
cmake --build build-setup -j"$(nproc)"
cmake --install build-setup
[ "$(id -u)" -ne 0 ] || ldconfig
echo
echo "setup.sh: installed libsafereasm, safereasm.h and safereasm-pcap under $prefix"
if [ "$(id -u)" -eq 0 ]; then
    echo "setup.sh: running as root, so the Wireshark plugin went into Wireshark's GLOBAL"
    echo "          plugin folder $plugindir (for every user;"
    echo "          root's Wireshark ignores personal plugin folders)."
else
    echo "setup.sh: the Wireshark plugin went into your personal plugin folder $plugindir"
fi
echo
scripts/demo.sh
