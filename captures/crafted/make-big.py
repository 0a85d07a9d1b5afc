#!/usr/bin/env python3
"""make-big.py - a large synthetic capture for measuring the plugin's cost.

    captures/crafted/make-big.py OUT.pcap [MiB]     (default 110 MiB of payload)

200 connections of 1460-byte segments (Ethernet/IPv4, 1514-byte frames),
interleaved at random; 5% of the 8-segment bursts swap two segments
(reordering), 1% of the segments are duplicated, 0.2% are lost and sent
again after the burst (so every hole is filled). Uses the pcap writer of
make-crafted.py; deterministic (seeded). Not used by the tests: it is for
the cost figures in docs/plugin.md.
"""

import importlib.util
import os
import random
import sys

here = os.path.dirname(os.path.abspath(__file__))
spec = importlib.util.spec_from_file_location("make_crafted", os.path.join(here, "make-crafted.py"))
mc = importlib.util.module_from_spec(spec)
spec.loader.exec_module(mc)


def main():
    out = sys.argv[1]
    mib = int(sys.argv[2]) if len(sys.argv) > 2 else 110
    rnd = random.Random(7)
    p = mc.Pcap(os.path.basename(out))
    conns = []
    for i in range(200):
        c = mc.Conn(p, 30000 + i, cli="10.1.%d.%d" % (i // 250, i % 250 + 1), srv="10.2.0.1",
                    cisn=rnd.randrange(2**32), sisn=rnd.randrange(2**32))
        c.handshake(dt=0.0001)
        c.off = 0
        conns.append(c)
    payload = bytes(rnd.randrange(256) for _ in range(1460))
    total = 0
    while total < mib * 1024 * 1024:
        c = conns[rnd.randrange(len(conns))]
        segs = [c.off + k * 1460 for k in range(8)]
        if rnd.random() < 0.05:
            segs[2], segs[5] = segs[5], segs[2]
        lost = []
        for off in segs:
            if rnd.random() < 0.002:
                lost.append(off)
                continue
            c.c2s(off, payload, dt=0.00002)
            if rnd.random() < 0.01:
                c.c2s(off, payload, dt=0.00002)
            total += 1514
        for off in lost:
            c.c2s(off, payload, dt=0.0002)
            total += 1514
        c.off += 8 * 1460
        c.s2c(0, b"", flags=mc.ACK, dt=0.00002, ack_off=c.off)
    for c in conns:
        c.close(c.off, 0)
    p.write(os.path.dirname(os.path.abspath(out)) or ".")


if __name__ == "__main__":
    main()
