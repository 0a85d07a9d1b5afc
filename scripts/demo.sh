#!/bin/sh
# The main job on a bundled capture: tshark with the plugin printing the
# reassembled data, a display filter on a reassembly statistic, and the
# statistics tree. Usage: scripts/demo.sh [capture]
#
# tshark ignores personal plugin folders when run as root, so as root this
# runs tshark as an unprivileged user (tests/lib/tshark-as-user.sh), with
# the built plugin or, when setup.sh installed it there, the one in the
# global folder; otherwise it uses the installed plugin.
set -eu
cd "$(dirname "$0")/.."
cap=${1:-captures/fidelity/zeek/tcp/reassembly.pcap}
# The build's plugin folder is named after the Wireshark major.minor.
wsabi=$(pkg-config --modversion wireshark 2>/dev/null | cut -d. -f1,2)
plugin=$PWD/build-setup/plugins/${wsabi:-4.0}/epan/safereasm.so # setup.sh's build
[ -e "$plugin" ] || plugin=$PWD/build/plugins/${wsabi:-4.0}/epan/safereasm.so

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cp "$cap" "$tmp/capture.pcap"
chmod -R a+rX "$tmp"

# After setup.sh as root the plugin is in the global folder: load that one
# (a personal copy too would make tshark warn about two copies).
global=$(pkg-config --variable=plugindir wireshark 2>/dev/null)/epan/safereasm.so
[ ! -e "$global" ] || plugin=none

ts() {
    if [ "$(id -u)" -eq 0 ]; then
        SR_PLUGIN=$plugin SR_PLUGIN_ABI=${wsabi:-4.0} tests/lib/tshark-as-user.sh "$@"
    else
        tshark "$@"
    fi
}

echo "== $cap: reassembled stream data, per frame (tshark -2: two passes)"
ts -2 -r "$tmp/capture.pcap" -Y 'safereasm.chunk.len > 0 || safereasm.chunk.skipped > 0' \
   -T fields -E header=y -e frame.number -e safereasm.chunk.conn_id -e safereasm.chunk.dir \
   -e safereasm.chunk.offset -e safereasm.chunk.skipped -e safereasm.chunk.len | head -25
echo
echo "== frames where a retransmission carried different bytes (-Y 'safereasm.status.conflict == 1')"
ts -2 -r "$tmp/capture.pcap" -Y 'safereasm.status.conflict == 1' \
   -T fields -E header=y -e frame.number -e safereasm.conn_id -e safereasm.dir \
   -e safereasm.global.overlap_conflicts
echo
echo "== statistics tree (-z safereasm,tree)"
ts -2 -r "$tmp/capture.pcap" -q -z safereasm,tree
