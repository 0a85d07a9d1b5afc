#!/bin/sh
# diff-outputs.sh - compare two builds of the plugin on the same inputs:
# what tshark prints with each (-V, -2 -V, -T fields -E occurrence=a with
# every safereasm.* field, -z safereasm,tree, -z expert) on every capture
# under captures/, a 5,000-frame slice of the synthetic benchmark capture
# if present, and snaplen-cut copies of a few captures (editcap -s 44, 50,
# 54, 60, 80: inside the TCP header, inside its options, in the payload).
# For a change that must not change what the plugin says.
#
#   tests/plugin/diff-outputs.sh OLD/safereasm.so NEW/safereasm.so
#
# Prints a line per input and every differing output's diff head; exits 1
# if any output differs. Needs editcap.
set -eu

old=$(realpath "${1:?usage: diff-outputs.sh OLD.so NEW.so}")
new=$(realpath "${2:?usage: diff-outputs.sh OLD.so NEW.so}")
here=$(cd "$(dirname "$0")/../.." && pwd)
run="$here/tests/lib/tshark-as-user.sh"
work=$(mktemp -d /tmp/sr-diff-outputs.XXXXXX)
trap 'rm -rf "$work"' EXIT

. "$here/tests/plugin/inputs.sh"
sr_inputs "$here" "$work" "captures/crafted/edge.pcap captures/hostile/ugly.pcap captures/fidelity/suricata-verify/tcp-empty-sack/tcp-opt.pcap captures/fidelity/wireshark/tcp-badsegments.pcap" \
    "44 50 54 60 80"

fields=$(SR_PLUGIN=$new "$run" -G fields 2>/dev/null | awk -F'\t' '$1 == "F" && $3 ~ /^safereasm\./ { printf " -e %s", $3 }')
[ -n "$fields" ] || { echo "diff-outputs.sh: no safereasm fields" >&2; exit 2; }

bad=0
total=0
while read -r cap; do
    k=0
    same=0
    for args in "-V" "-2 -V" "-T fields -E occurrence=a $fields" "-2 -T fields -E occurrence=a $fields" \
                "-q -z safereasm,tree" "-2 -q -z safereasm,tree" "-q -z expert"; do
        k=$((k + 1))
        # shellcheck disable=SC2086
        SR_PLUGIN=$old "$run" -n -r "$cap" $args >"$work/a" 2>&1 || true
        # shellcheck disable=SC2086
        SR_PLUGIN=$new "$run" -n -r "$cap" $args >"$work/b" 2>&1 || true
        if cmp -s "$work/a" "$work/b"; then
            same=$((same + 1))
        else
            bad=1
            echo "DIFF ${cap#"$here"/} [${args%% -e*}]"
            diff "$work/a" "$work/b" | head -n 20 || true
        fi
    done
    echo "${cap#"$here"/}: $same/$k outputs identical"
    total=$((total + 1))
done <"$work/list"
echo "diff-outputs: $total inputs, $([ $bad = 0 ] && echo 'all outputs identical' || echo 'DIFFERENCES')"
exit $bad
