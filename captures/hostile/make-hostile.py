#!/usr/bin/env python3
"""make-hostile.py - write the hostile captures of the soak tests.

    captures/hostile/make-hostile.py [--scale small|ci|long] [OUTDIR]

Each capture is one kind of abuse a reassembler meets on a hostile or broken
network; all are Ethernet/IPv4/TCP with valid IP and TCP checksums:

  syn-flood        SYNs from random addresses and ports with random ISNs (a
                   few retried, a few reusing a port with a new ISN) and one
                   real connection carrying data through the flood
  ooo-flood        many connections, each missing its first data segment; the
                   rest arrives interleaved across connections; half get the
                   missing segment at the very end, half never do
  overlap-flood    every segment sent again, shifted and with other content:
                   partial, exact and covering overlaps, conflicts everywhere,
                   some of them while data is buffered out of order
  retrans-storm    identical retransmissions (50,000 at ci scale): half of a
                   delivered segment, half of a segment buffered behind a hole
  seq-wrap         ISNs just below 2^32 (data crossing the wrap, segments
                   ending exactly on it, reordered around it), segments ~2^31
                   and 2^32-100 away from the stream
  time-jumps       the capture clock jumping forwards and backwards by days
                   while data waits behind holes
  ugly             zero-length FIN storms at random sequence numbers, RSTs
                   with random sequence numbers, SYN-ACKs with random ISNs,
                   SYN+FIN+RST together, data on SYN-ACKs

--scale small (the committed files next to this script, a few tens of KB
each), ci (the soak tests generate these into the build tree: the SYN
flood has 100,000 SYNs, the retransmission storm 50,000 copies) or long
(label soak-long: 1,000,000 SYNs, 500 out-of-order connections of 560 KB).

Python 3 standard library only. Deterministic: a fixed seed per capture and
no clock, so running it again gives byte-identical files.
"""

import os
import random
import struct
import sys

T0 = 1_700_000_000  # capture start (2023-11-14), seconds
DAY = 86400
FIN, SYN, RST, PSH, ACK = 0x01, 0x02, 0x04, 0x08, 0x10

SCALES = {
    #            syn     ooo conns/segs/size  ovl conns/segs  retrans  wrap  jumps  ugly
    "small": dict(syn=600, ooo=(20, 6, 200), ovl=(4, 20), retrans=400, wrap=1, jumps=1, ugly=1),
    "ci": dict(syn=100_000, ooo=(300, 30, 1000), ovl=(50, 200), retrans=50_000, wrap=8,
               jumps=8, ugly=10),
    "long": dict(syn=1_000_000, ooo=(500, 400, 1400), ovl=(400, 1000), retrans=500_000,
                 wrap=50, jumps=50, ugly=100),
}


sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from packets import ip4, ipv4_packet, tcp_segment  # noqa: E402


class Writer:
    """A classic pcap file (microseconds, Ethernet) written as it goes.
    The clock is kept in integer microseconds after T0 and may move back."""

    def __init__(self, path):
        self.f = open(path, "wb")
        self.f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        self.us = 0
        self.frames = 0
        self.ident = 0

    def tick(self, dt_us=10):
        self.us += dt_us

    def tcp(self, src, dst, sport, dport, seq, ack, flags, payload=b"", dt_us=10):
        self.us += dt_us
        self.ident = (self.ident + 1) & 0xFFFF
        s, d = ip4(src), ip4(dst)
        iph = ipv4_packet(s, d, 6, tcp_segment(s, d, sport, dport, seq, ack, flags, payload),
                          ident=self.ident, frag=0x4000)
        frame = b"\x02\x00\x00\x00\x00\x02\x02\x00\x00\x00\x00\x01\x08\x00" + iph
        t = T0 * 1_000_000 + self.us
        self.f.write(struct.pack("<IIII", t // 1_000_000, t % 1_000_000, len(frame), len(frame)))
        self.f.write(frame)
        self.frames += 1

    def close(self):
        self.f.close()


class Conn:
    """A client/server pair; c()/s() take stream offsets (0 = the first byte
    after the SYN) of the client and server direction."""

    def __init__(self, w, cli, cport, srv, sport, cisn, sisn):
        self.w, self.cli, self.cport, self.srv, self.sport = w, cli, cport, srv, sport
        self.cisn, self.sisn = cisn, sisn

    def c(self, off, data=b"", flags=PSH | ACK, ack_off=0, dt_us=10):
        self.w.tcp(self.cli, self.srv, self.cport, self.sport, self.cisn + 1 + off,
                   self.sisn + 1 + ack_off, flags, data, dt_us)

    def s(self, off, data=b"", flags=PSH | ACK, ack_off=0, dt_us=10):
        self.w.tcp(self.srv, self.cli, self.sport, self.cport, self.sisn + 1 + off,
                   self.cisn + 1 + ack_off, flags, data, dt_us)

    def handshake(self):
        self.w.tcp(self.cli, self.srv, self.cport, self.sport, self.cisn, 0, SYN)
        self.w.tcp(self.srv, self.cli, self.sport, self.cport, self.sisn, self.cisn + 1,
                   SYN | ACK)
        self.c(0, flags=ACK)

    def fins(self, coff, soff):
        self.c(coff, flags=FIN | ACK, ack_off=soff)
        self.s(soff, flags=FIN | ACK, ack_off=coff + 1)
        self.c(coff + 1, flags=ACK, ack_off=soff + 1)


def _content(rnd, n):
    return bytes(rnd.getrandbits(8) for _ in range(n)) if n < 64 else \
        rnd.getrandbits(8 * n).to_bytes(n, "little")


def _ip(rnd, net):
    return "%d.%d.%d.%d" % (net, rnd.randrange(256), rnd.randrange(256), rnd.randrange(1, 255))


def syn_flood(w, sc):
    rnd = random.Random(101)
    real = Conn(w, "172.16.0.1", 50000, "172.16.0.2", 80, 123456, 654321)
    real.handshake()
    roff = 0
    servers = [("192.168.0.%d" % i, p) for i in (1, 2, 3, 4) for p in (22, 80, 443)]
    recent = []
    for i in range(sc["syn"]):
        r = rnd.random()
        if recent and r < 0.05:        # a retried SYN: same tuple, same ISN
            src, sp, (dst, dp), isn = recent[rnd.randrange(len(recent))]
        elif recent and r < 0.07:      # port reuse: same tuple, another ISN
            src, sp, (dst, dp), _ = recent[rnd.randrange(len(recent))]
            isn = rnd.getrandbits(32)
        else:
            src, sp, dst_dp, isn = _ip(rnd, 10), rnd.randrange(1024, 65536), \
                servers[rnd.randrange(len(servers))], rnd.getrandbits(32)
            dst, dp = dst_dp
            recent.append((src, sp, dst_dp, isn))
            if len(recent) > 64:
                recent.pop(0)
        w.tcp(src, dst, sp, dp, isn, 0, SYN, dt_us=5)
        if i % 500 == 0:               # the real connection keeps talking
            real.c(roff, b"GET /%08d HTTP/1.1\r\n" % i)
            roff += 22
    real.fins(roff, 0)


def ooo_flood(w, sc):
    nconn, nseg, size = sc["ooo"]
    rnd = random.Random(202)
    conns = []
    for i in range(nconn):
        c = Conn(w, "10.1.%d.%d" % (i // 250, i % 250 + 1), 40000 + i % 20000, "10.2.0.1", 80,
                 rnd.getrandbits(32), rnd.getrandbits(32))
        c.handshake()
        conns.append(c)
    body = _content(rnd, size)
    for k in range(1, nseg):           # segment 0 of every connection is missing
        for c in conns:
            c.c(k * size, body, dt_us=2)
    for i, c in enumerate(conns):
        if i % 2 == 0:                 # half get the hole filled at the end
            c.c(0, body)
        c.fins(nseg * size, 0)


def overlap_flood(w, sc):
    nconn, nseg = sc["ovl"]
    rnd = random.Random(303)
    size = 100
    conns = [Conn(w, "10.3.%d.%d" % (i // 250, i % 250 + 1), 30000 + i, "10.4.0.1", 8080,
                  rnd.getrandbits(32), rnd.getrandbits(32)) for i in range(nconn)]
    for c in conns:
        c.handshake()
    for k in range(nseg):
        for c in conns:
            off = k * size
            kind = rnd.randrange(6)
            if kind == 0:              # exact copy with other content
                c.c(off, _content(rnd, size))
                c.c(off, _content(rnd, size))
            elif kind == 1:            # shifted back into delivered data, other content
                c.c(off, _content(rnd, size))
                c.c(max(0, off - size // 2), _content(rnd, size + size // 2))
            elif kind == 2:            # out of order: the later half first, then a cover
                c.c(off + size // 2, _content(rnd, size // 2))
                c.c(off + 10, _content(rnd, size // 4))
                c.c(off, _content(rnd, size))
            elif kind == 3:            # one big segment covering the last three
                c.c(off, _content(rnd, size))
                c.c(max(0, off - 2 * size), _content(rnd, 3 * size))
            elif kind == 4:            # many one-byte segments over the same range
                c.c(off, _content(rnd, size))
                for j in range(0, size, 7):
                    c.c(off + j, _content(rnd, 1))
            else:                      # ahead-of-hole overlaps, then the hole
                c.c(off + 60, _content(rnd, 40))
                c.c(off + 40, _content(rnd, 40))
                c.c(off + 50, _content(rnd, 30))
                c.c(off, _content(rnd, 60))
    for c in conns:
        c.fins(nseg * size, 0)


def retrans_storm(w, sc):
    n = sc["retrans"]
    rnd = random.Random(404)
    seg = _content(rnd, 20)
    a = Conn(w, "10.5.0.1", 41000, "10.5.0.2", 80, 4000000000, 77)
    b = Conn(w, "10.5.0.3", 41001, "10.5.0.2", 80, 99, 3000000000)
    a.handshake()
    b.handshake()
    a.c(0, seg)                        # delivered, then copied n/2 times
    b.c(20, seg)                       # buffered behind a 20-byte hole, copied n/2 times
    for i in range(n // 2):
        a.c(0, seg, dt_us=3)
        b.c(20, seg, dt_us=3)
    b.c(0, seg)                        # the hole is filled: 40 bytes
    a.fins(20, 0)
    b.fins(40, 0)


def seq_wrap(w, sc):
    rnd = random.Random(505)
    for rep in range(sc["wrap"]):
        for j, d in enumerate((1, 2, 11, 100, 1000, 1460, 65535)):
            isn = (2**32 - d) & 0xFFFFFFFF
            c = Conn(w, "10.6.%d.%d" % (rep, j + 1), 42000 + j, "10.6.255.1", 443, isn,
                     rnd.getrandbits(32))
            c.handshake()
            # Segments laid out so one ends exactly where the sequence
            # number wraps, then sent in a shuffled order.
            # A large d leaves the bytes before base a hole (never sent).
            wrap_off = d - 1               # offset of sequence number 0
            base = max(0, wrap_off - 1400)
            cuts = sorted({base, wrap_off, wrap_off + 1, wrap_off + 700, wrap_off + 1400} |
                          {rnd.randrange(base, wrap_off + 1400) for _ in range(6)})
            segs = [(a, b) for a, b in zip(cuts, cuts[1:]) if b > a]
            data = bytes(base) + _content(rnd, cuts[-1] - base)
            order = list(range(len(segs)))
            rnd.shuffle(order)
            for i in order:
                a, b = segs[i]
                c.c(a, data[a:b])
            end = cuts[-1]
            c.c(end + 2**31 - 1, b"far")   # ~2^31 ahead: ambiguous half-space
            c.c(end + 2**31, b"far")
            c.c(end + 2**31 + 1, b"far")
            c.c(end - 100 + 2**32, b"behind-by-100")  # i.e. 100 bytes back
            c.s(0, b"reply")
            c.fins(end, 5)
    # An ISN of 0xFFFFFFFF: the first data byte has sequence number 0.
    c = Conn(w, "10.6.200.1", 42999, "10.6.255.1", 443, 0xFFFFFFFF, 0xFFFFFFFE)
    c.handshake()
    c.c(0, b"first byte at seq 0")
    c.s(0, b"first byte at seq 0xFFFFFFFF")
    c.fins(19, 28)


def time_jumps(w, sc):
    rnd = random.Random(606)
    jumps = [3 * DAY, -5 * DAY, 10 * DAY, -8 * DAY, 1, -1, 30 * DAY, -30 * DAY, -DAY // 2,
             2 * DAY]
    for rep in range(sc["jumps"]):
        conns = [Conn(w, "10.7.%d.%d" % (rep, i + 1), 43000 + i, "10.7.255.1", 25,
                      rnd.getrandbits(32), rnd.getrandbits(32)) for i in range(6)]
        for c in conns:
            c.handshake()
        off = [0] * len(conns)
        for j, jump in enumerate(jumps):
            for i, c in enumerate(conns):
                # Every connection leaves a hole before the jump and fills
                # the one it left before the previous jump.
                c.c(off[i] + 50, _content(rnd, 50))
                if j:
                    c.c(off[i] - 50, _content(rnd, 50))
                off[i] += 100
            w.tick(jump * 1_000_000)
        for i, c in enumerate(conns):
            c.c(off[i] - 50, _content(rnd, 50))
            c.fins(off[i], 0)
        w.tick(rnd.choice((-1, 1)) * rnd.randrange(DAY * 1_000_000))


def ugly(w, sc):
    rnd = random.Random(707)
    for rep in range(sc["ugly"]):
        net = "10.8.%d." % rep
        # FIN storm on a live connection, both directions, random sequence numbers.
        c = Conn(w, net + "1", 44000, net + "254", 80, rnd.getrandbits(32), rnd.getrandbits(32))
        c.handshake()
        c.c(0, b"before the storm")
        for _ in range(200):
            if rnd.random() < 0.5:
                c.c(rnd.getrandbits(32) - c.cisn - 1, flags=FIN | ACK)
            else:
                c.s(rnd.getrandbits(32) - c.sisn - 1, flags=FIN)
        c.c(16, b"after the storm")
        # FINs on tuples nobody opened.
        for _ in range(100):
            w.tcp(_ip(rnd, 11), _ip(rnd, 12), rnd.randrange(1, 65536), rnd.randrange(1, 65536),
                  rnd.getrandbits(32), rnd.getrandbits(32), FIN | rnd.choice((0, ACK)))
        # RSTs with random sequence numbers, some with data, on a live connection
        # and on random tuples.
        c2 = Conn(w, net + "2", 44001, net + "254", 80, rnd.getrandbits(32), rnd.getrandbits(32))
        c2.handshake()
        c2.c(5, b"buffered behind a hole")
        for _ in range(100):
            data = _content(rnd, rnd.randrange(0, 30)) if rnd.random() < 0.3 else b""
            (c2.c if rnd.random() < 0.5 else c2.s)(rnd.getrandbits(32), data, flags=RST)
        for _ in range(100):
            w.tcp(_ip(rnd, 13), _ip(rnd, 14), rnd.randrange(1, 65536), 80, rnd.getrandbits(32),
                  0, RST | rnd.choice((0, ACK)))
        c2.c(0, b"hole!")
        # SYN-ACKs with random ISNs: after a SYN, and with no SYN at all; data
        # from the server at one of them; data on a SYN-ACK.
        c3 = Conn(w, net + "3", 44002, net + "254", 443, rnd.getrandbits(32), 0)
        w.tcp(c3.cli, c3.srv, c3.cport, c3.sport, c3.cisn, 0, SYN)
        isns = [rnd.getrandbits(32) for _ in range(50)]
        for isn in isns:
            w.tcp(c3.srv, c3.cli, c3.sport, c3.cport, isn, c3.cisn + 1, SYN | ACK,
                  b"synack-data" if rnd.random() < 0.1 else b"")
        c3.sisn = isns[rnd.randrange(len(isns))]
        c3.c(0, flags=ACK)
        c3.s(0, b"server speaks at one of the ISNs")
        c3.c(0, b"client answers")
        for _ in range(50):
            w.tcp(_ip(rnd, 15), _ip(rnd, 16), 443, rnd.randrange(1024, 65536),
                  rnd.getrandbits(32), rnd.getrandbits(32), SYN | ACK)
        # Every flag at once, and SYN+FIN with data.
        c4 = Conn(w, net + "4", 44003, net + "254", 80, rnd.getrandbits(32), rnd.getrandbits(32))
        w.tcp(c4.cli, c4.srv, c4.cport, c4.sport, c4.cisn, 0, SYN | FIN | RST | PSH | ACK | 0x20,
              b"christmas")
        w.tcp(c4.cli, c4.srv, c4.cport, c4.sport, c4.cisn, 0, SYN | FIN, b"syn-fin data")
        c4.handshake()
        c4.c(0, b"x" * 10, flags=PSH | ACK | FIN)
        c4.c(10, b"after fin")
        c.fins(31, 0)


CAPTURES = [("syn-flood", syn_flood), ("ooo-flood", ooo_flood),
            ("overlap-flood", overlap_flood), ("retrans-storm", retrans_storm),
            ("seq-wrap", seq_wrap), ("time-jumps", time_jumps), ("ugly", ugly)]


def generate(outdir, scale="small"):
    """Write every capture into outdir; returns [(name, path, frames)]."""
    sc = SCALES[scale]
    os.makedirs(outdir, exist_ok=True)
    out = []
    for name, fn in CAPTURES:
        path = os.path.join(outdir, name + ".pcap")
        tmp = path + ".tmp"
        w = Writer(tmp)
        fn(w, sc)
        w.close()
        os.replace(tmp, path)
        out.append((name, path, w.frames))
    return out


def main():
    args = sys.argv[1:]
    scale = "small"
    if args[:1] == ["--scale"]:
        scale = args[1]
        args = args[2:]
    if scale not in SCALES or len(args) > 1:
        sys.exit(__doc__)
    outdir = args[0] if args else os.path.dirname(os.path.abspath(__file__))
    for name, path, frames in generate(outdir, scale):
        print("%-14s %8d frames %10d bytes  %s" % (name, frames, os.path.getsize(path), path))


if __name__ == "__main__":
    main()
