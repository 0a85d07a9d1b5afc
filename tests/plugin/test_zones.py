#!/usr/bin/env python3
"""test_zones.py - the same 4-tuple in different zones is different connections.

zeek/vlan-collisions.pcap carries one HTTP connection three times: untagged,
on VLAN 42 and on QinQ 10/20. The plugin must make three connections, in
three zones (the untagged one zone 0), each delivering the same bytes;
were the VLANs ignored, the copies would merge into one connection of
retransmissions. In tunnels (6in4, IPv4-in-IPv4, Teredo) the zone is the
outer addresses: never 0, and the same in both directions.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import srtest  # noqa: E402
from srtest import check  # noqa: E402


def conns(frames):
    out = {}
    for fr in frames.values():
        for s in fr.segs:
            c = int(s.get("conn_id", 0))
            if c:
                out.setdefault(c, set()).add(int(s.get("zone"), 0))
    return out


def main():
    rel = "fidelity/zeek/vlan-collisions.pcap"
    cap = srtest.stage(os.path.join(srtest.CAPTURES, rel), rel.replace("/", "__"))
    frames = srtest.plugin_frames(cap, True)
    c = conns(frames)
    check(len(c) == 3, "%s: %d connections, expected 3 (untagged, VLAN 42, QinQ 10/20)"
          % (rel, len(c)))
    zones = [next(iter(z)) for z in c.values() if len(z) == 1]
    check(len(zones) == len(c), "%s: a connection spans zones: %s" % (rel, c))
    check(len(set(zones)) == len(zones), "%s: zones %s not distinct" % (rel, zones))
    check(0 in zones, "%s: the untagged copy is not in zone 0: %s" % (rel, zones))
    st = srtest.streams(frames)
    for d in (0, 1):
        data = [st.get((k, d), {"data": b""})["data"] for k in sorted(c)]
        check(len(set(data)) == 1 and len(data[0]) > 0,
              "%s dir %d: the copies deliver %s bytes, not the same bytes"
              % (rel, d, [len(x) for x in data]))
    stats = [f.end_glob for f in frames.values() if f.end_glob][0]
    check(stats.get("overlap_conflicts") == 0, "%s: %s conflicts" % (rel,
          stats.get("overlap_conflicts")))

    for rel, extra in (("fidelity/ndpi/6in4tunnel.pcap", []),
                       ("fidelity/suricata-verify/bug-4571-04/ipv6_over_ipv4.pcap", []),
                       ("fidelity/zeek/tunnels/Teredo.pcap",
                        ["-d", "udp.port==32900,teredo"])):
        cap = srtest.stage(os.path.join(srtest.CAPTURES, rel), rel.replace("/", "__"))
        frames = srtest.plugin_frames(cap, False, extra=extra)
        tunnelled = 0
        for num, fr in sorted(frames.items()):
            for s in fr.segs:
                if int(s.get("zone"), 0) != 0:
                    tunnelled += 1
        c = conns(frames)
        check(tunnelled > 0, "%s: no segment in a non-zero zone" % rel)
        for k, z in c.items():
            check(len(z) == 1, "%s: connection %d seen in zones %s (the two directions "
                  "of a tunnel must hash alike)" % (rel, k, sorted(z)))
    srtest.finish("plugin/zones")


if __name__ == "__main__":
    try:
        main()
    except srtest.TestFailure as e:
        print("FAIL: %s" % e)
        sys.exit(1)
