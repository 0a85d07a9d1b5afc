#!/bin/sh
# plugin-mem.sh - peak RSS and wall time of tshark with and without the
# safereasm plugin, one run each, on the captures given.
#
# Usage: bench/plugin-mem.sh PLUGIN.so CAPTURE... [-- extra tshark args for the plugin run]
# Prints one line per (capture, mode): mode, max RSS (KiB), wall (s), exit status.
# Modes: none (no plugin, -q -z conv,tcp: tshark's own TCP analysis),
# plugin+conv (the same command with the plugin loaded: it runs whatever the
# tap) and plugin (-q -z safereasm,tree). Captures must be readable by uid 65534
# (tests/lib/tshark-as-user.sh drops to it when run as root).
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
plugin=$1; shift
caps=""
while [ $# -gt 0 ] && [ "$1" != -- ]; do caps="$caps $1"; shift; done
[ "${1:-}" = -- ] && shift
run() { # label plugin args...
    label=$1; so=$2; shift 2
    t=$(mktemp)
    rc=0
    SR_PLUGIN=$so /usr/bin/time -v -o "$t" sh "$here/tests/lib/tshark-as-user.sh" "$@" >/dev/null 2>&1 || rc=$?
    rss=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$t")
    wall=$(sed -n 's/.*Elapsed (wall clock) time (h:mm:ss or m:ss): //p' "$t")
    printf '%-28s %-11s rss_kib=%-9s wall=%-9s rc=%s\n' "$(basename "$cap")" "$label" "$rss" "$wall" "$rc"
    rm -f "$t"
}
for cap in $caps; do
    cap=$(cd "$(dirname "$cap")" && pwd)/$(basename "$cap")
    run none none -n -r "$cap" -q -z conv,tcp
    run plugin+conv "$plugin" -n -r "$cap" -q -z conv,tcp "$@"
    run plugin "$plugin" -n -r "$cap" -q -z safereasm,tree "$@"
done
