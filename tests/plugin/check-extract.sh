#!/bin/sh
# check-extract.sh - run a plugin built with -DSRP_CHECK_EXTRACT (it reads
# every TCP/IP header both from the bytes and, as before, from Wireshark's
# fields, and compares them per segment; plugin/extract-check.c) over every
# capture under captures/, a 5,000-frame slice of the synthetic benchmark
# capture if present, and snaplen-cut copies of a few captures (cut inside
# the IP header, inside the TCP header, inside its options, inside the
# payload), so the short-header paths are taken.
#
#   cmake -S . -B build-check -DCMAKE_C_FLAGS=-DSRP_CHECK_EXTRACT
#   cmake --build build-check --target safereasm_plugin
#   tests/plugin/check-extract.sh build-check/plugins/4.0/epan/safereasm.so
#
# Prints one line per capture ("N segments compared, M differ") and every
# difference; exits 1 if any segment differs or a capture compared none
# where it should have. Needs editcap.
set -eu

so=$(realpath "${1:?usage: check-extract.sh CHECK_PLUGIN.so}")
here=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d /tmp/sr-check-extract.XXXXXX)
trap 'rm -rf "$work"' EXIT
chmod 755 "$work"
mkdir "$work/out" && chmod 777 "$work/out"

. "$here/tests/plugin/inputs.sh"
sr_inputs "$here" "$work" "captures/crafted/edge.pcap captures/crafted/gap.pcap captures/hostile/ugly.pcap captures/fidelity/tcpdump/gso-ipv6-vxlan-ipv4.pcap captures/fidelity/zeek/pppoe-over-qinq.pcap captures/fidelity/suricata-verify/tcp-empty-sack/tcp-opt.pcap captures/fidelity/ndpi/6in4tunnel.pcap captures/fidelity/wireshark/tcp-badsegments.pcap" \
    "30 38 44 48 50 52 54 58 60 66 70 80 100"

bad=0
total=0
while read -r cap; do
    rm -f "$work/out/sum"
    out=$(SRP_CHECK_OUT=$work/out/sum SR_PLUGIN=$so "$here/tests/lib/tshark-as-user.sh" \
          -n -r "$cap" -q -z safereasm,tree 2>&1 >/dev/null || true)
    sum=$(cat "$work/out/sum" 2>/dev/null || true)
    printf '%s: %s\n' "${cap#"$here"/}" "${sum:-no check output}"
    printf '%s\n' "$out" | grep 'differs' || true
    case $sum in
        *", 0 differ") ;;
        *) bad=1 ;;
    esac
    total=$((total + 1))
done <"$work/list"
echo "check-extract: $total captures, $([ $bad = 0 ] && echo 'no differences' || echo 'DIFFERENCES')"
exit $bad
