#!/bin/sh
# screenshot-gui.sh - screenshots of the safereasm plugin in the real
# Wireshark GUI (Debian's wireshark-qt 4.0) under Xvfb, for README.md.
#
# Usage: scripts/screenshot-gui.sh [capture [frame [output-folder]]]
#   defaults: captures/crafted/gap.pcap, frame 6, docs/
# Writes <output>/plugin-gui-buffered.png (a buffered segment, frame
# SR_BUFFERED_FRAME (default 5), with its "Released in" link),
# <output>/plugin-gui.png (the release frame: its run with the source
# segments and the "Reassembled stream" bytes tab) and
# <output>/plugin-stats.png (Statistics -> Safe TCP Reassembly).
#
# Needs: wireshark-qt xvfb xdotool imagemagick (Debian packages), a built
# plugin (SR_PLUGIN, default build-plugin/plugins/4.0/epan/safereasm.so).
# As root, Wireshark ignores personal plugin folders, so it runs through
# tests/lib/tshark-as-user.sh as an unprivileged user with a private HOME.
# The clicks below assume that HOME's fixed window layout (written here).
set -eu

here=$(cd "$(dirname "$0")/.." && pwd)
capture=${1:-$here/captures/crafted/gap.pcap}
frame=${2:-6}
buffered=${SR_BUFFERED_FRAME:-5}
out=${3:-$here/docs}
plugin=${SR_PLUGIN:-$here/build-plugin/plugins/4.0/epan/safereasm.so}
display=${SR_DISPLAY:-:97}

for tool in Xvfb wireshark xdotool import; do
    command -v "$tool" >/dev/null || { echo "screenshot-gui.sh: $tool not found" >&2; exit 2; }
done
[ -r "$plugin" ] || { echo "screenshot-gui.sh: no plugin at $plugin (build first)" >&2; exit 2; }

work=$(mktemp -d "${TMPDIR:-/tmp}/sr-shot.XXXXXX")
xvfb_pid=
ws_pgid=
cleanup() {
    [ -z "$ws_pgid" ] || kill -- "-$ws_pgid" 2>/dev/null || true
    [ -z "$xvfb_pid" ] || kill "$xvfb_pid" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

cp "$capture" "$work/"
cap="$work/$(basename "$capture")"
home="$work/home"
mkdir -p "$home/.config/wireshark" "$work/run"
# A fixed layout: full-screen main window, a short packet list.
cat > "$home/.config/wireshark/recent_common" <<'END'
gui.geometry_main_x: 0
gui.geometry_main_y: 0
gui.geometry_main_width: 1600
gui.geometry_main_height: 1000
gui.geometry_main_maximized: FALSE
END
cat > "$home/.config/wireshark/recent" <<'END'
gui.geometry_main_upper_pane: 180
gui.geometry_main_lower_pane: 1000
END
chmod -R a+rwX "$work"

Xvfb "$display" -screen 0 1600x1000x24 -ac -nolisten tcp >"$work/xvfb.log" 2>&1 &
xvfb_pid=$!
sleep 2
export DISPLAY="$display"

# One Wireshark per screenshot, each opened at its frame (-g).
start_ws() {
    SR_PLUGIN=$plugin SR_PROGRAM=wireshark SR_TSHARK_HOME=$home XDG_RUNTIME_DIR=$work/run \
        setsid "$here/tests/lib/tshark-as-user.sh" -r "$cap" -g "$1" \
        >>"$work/wireshark.log" 2>&1 &
    ws_pgid=$!
    timeout 60 xdotool search --sync --onlyvisible --name "^$(basename "$cap")\$" >/dev/null
    sleep 3
}
stop_ws() {
    kill -- "-$ws_pgid" 2>/dev/null || true
    wait "$ws_pgid" 2>/dev/null || true
    ws_pgid=
    sleep 1
}
mkdir -p "$out"

# 1. The buffered segment (frame 5 of gap.pcap): the plugin's tree is the
# last top-level item, the 5th row of the details pane for a plain
# Ethernet/IPv4/TCP frame. Open it and its segment, and select the
# "Released in" link (10th child of the segment).
start_ws "$buffered"
xdotool mousemove 100 351 click 1
sleep 0.5
xdotool key Right Down Right
for i in 1 2 3 4 5 6 7 8 9 10; do xdotool key Down; done
sleep 1
import -window root "$out/plugin-gui-buffered.png"
stop_ws

# 2. The release frame: open the plugin's tree, its first released run
# (4th child: segment, bytes delivered, bytes skipped, run), the run's
# source segments (8th child of the run), and select the run's bytes
# (7th), which shows the "Reassembled stream" bytes tab.
start_ws "$frame"
xdotool mousemove 100 351 click 1
sleep 0.5
xdotool key Right
for i in 1 2 3 4; do xdotool key Down; done
xdotool key Right
for i in 1 2 3 4 5 6 7 8; do xdotool key Down; done
xdotool key Right Up
sleep 1
import -window root "$out/plugin-gui.png"

# 3. Statistics -> Safe TCP Reassembly (the last entry of the menu).
xdotool mousemove 325 10 click 1
sleep 1
xdotool key Up Return
dialog=$(timeout 30 xdotool search --sync --onlyvisible --name "Safe TCP Reassembly" | head -1)
xdotool windowsize "$dialog" 1100 820 windowmove "$dialog" 250 90
sleep 2
import -window "$dialog" "$out/plugin-stats.png"
stop_ws
echo "wrote $out/plugin-gui-buffered.png, $out/plugin-gui.png and $out/plugin-stats.png"
