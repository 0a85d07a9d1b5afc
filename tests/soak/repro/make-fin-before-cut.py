#!/usr/bin/env python3
"""make-fin-before-cut.py - reproducer of a --verify violation the long
mutation soak found (14 of 3,450 variants, all cut by editcap -s).

    tests/soak/repro/make-fin-before-cut.py [OUTDIR]   (default: its folder)
    safereasm-pcap --verify OUTDIR/fin-before-cut-cut.pcap    # exit 3

One connection: 10 bytes in order, a 12-byte segment beyond a 90-byte
hole, then a FIN at offset 10 that ends the direction before it.
fin-before-cut-full.pcap: the 12 bytes are counted as dropped (beyond FIN).
fin-before-cut-cut.pcap: the same, with that segment cut to its headers
(12 bytes claimed, 0 captured): the 12 claimed bytes are counted neither as
skipped nor as dropped, so --verify reports 22 distinct bytes seen against
delivered 10 + skipped 0 + dropped 0. (An out-of-window segment cut the
same way is counted as dropped.) Fixed: the core now counts such claimed
bytes beyond a FIN as dropped (tests/core/test-correctness.c,
cut_beyond_fin); both captures pass --verify.
"""

import importlib.util
import os
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
spec = importlib.util.spec_from_file_location(
    "make_hostile", os.path.join(HERE, "..", "..", "..", "captures", "hostile", "make-hostile.py"))
mh = importlib.util.module_from_spec(spec)
spec.loader.exec_module(mh)


def cut(path, frame, caplen=54):
    """Cut one record (1-based) of a pcap to caplen bytes, keeping its length."""
    with open(path, "rb") as f:
        d = f.read()
    out, off, n = bytearray(d[:24]), 24, 0
    while off < len(d):
        sec, usec, incl, orig = struct.unpack("<IIII", d[off:off + 16])
        data = d[off + 16:off + 16 + incl]
        off += 16 + incl
        n += 1
        if n == frame:
            data = data[:caplen]
        out += struct.pack("<IIII", sec, usec, len(data), orig) + data
    with open(path, "wb") as f:
        f.write(out)


def main():
    outdir = sys.argv[1] if len(sys.argv) > 1 else HERE
    for name in ("full", "cut"):
        path = os.path.join(outdir, "fin-before-cut-%s.pcap" % name)
        w = mh.Writer(path)
        c = mh.Conn(w, "10.9.0.1", 40000, "10.9.0.2", 80, 1000, 5000)
        c.handshake()                                  # frames 1-3
        c.c(0, b"0123456789")                          # 4: delivered
        c.c(100, b"abcdefghijkl")                      # 5: beyond a 90-byte hole
        c.c(10, b"", flags=mh.FIN | mh.ACK)            # 6: FIN at offset 10
        c.s(0, b"", flags=mh.FIN | mh.ACK, ack_off=11)
        c.c(11, b"", flags=mh.ACK, ack_off=1)
        w.close()
        if name == "cut":
            cut(path, 5)
        print(path)


if __name__ == "__main__":
    main()
