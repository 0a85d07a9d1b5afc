#!/usr/bin/env python3
"""make-threads.py - write threads-xy.pcap, the capture of the --threads
issue: with worker threads, a worker that is ahead in capture time must not
flush or time out a connection whose segments still wait for another
worker.

Two IPv4 connections, raw-IP link type, times from 2023-11-14 (1700000000):

  X  10.0.1.1:40000 > 10.0.1.2:9, from t = 0: handshake, 507 in-order
     10-byte segments 1 ms apart, then segment 508 is held back: 509 and
     510 come first (buffered behind a 10-byte hole), 508 follows 0.1 s
     later and fills the hole, then FIN both ways. 5100 bytes, no gap.
  Y  10.0.2.1:40002 > 10.0.2.2:9, from t = 0.8 s: handshake, 20,000
     one-byte segments 20 ms apart (400 s), then FIN both ways.

Read in one thread every byte is delivered in order. The hole of X is
filled after 0.1 s, far below the 10 s flush interval. X's handshake and
first 509 data segments are exactly 512 frames, so a tool that batches
segments per worker 512 at a time holds X's hole-filling segment in a
batch that is handed over only at the end of the input, while Y's worker
races 400 s ahead. The ports are chosen so that X and Y land on different
workers with 2, 3 and 4 threads under safereasm-pcap's flow hash
(tools/decode.c, sp_flow_hash; mirrored below only to check that choice).
The server port is 9 (discard), not 80: Wireshark's HTTP dissector would
desegment Y's one-byte segments while waiting for a header end, which
makes every tshark run over the file take 20 s instead of 3 (the plugin
tests dissect every crafted capture).

Python 3 standard library only; deterministic: running it again gives the
same bytes.

    captures/crafted/make-threads.py [output-file]  (default: threads-xy.pcap next to it)
"""

import os
import struct
import sys

LINKTYPE_RAW = 101
T0 = 1_700_000_000
FIN, SYN, PSH, ACK = 0x01, 0x02, 0x08, 0x10

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from packets import ip4 as addr, ipv4_packet, tcp_segment  # noqa: E402


def frame(src, dst, sport, dport, seq, ack, flags, payload=b""):
    return ipv4_packet(src, dst, 6, tcp_segment(src, dst, sport, dport, seq, ack, flags, payload),
                       ident=0, frag=0x4000)


class Conn:
    def __init__(self, frames, cli, srv, cport, sport, isn_c, isn_s):
        self.frames = frames
        self.c, self.s = addr(cli), addr(srv)
        self.cport, self.sport = cport, sport
        self.isn_c, self.isn_s = isn_c, isn_s

    def cli(self, t_us, off, flags, payload=b""):
        self.frames.append((t_us, frame(self.c, self.s, self.cport, self.sport,
                                        self.isn_c + 1 + off, self.isn_s + 1, flags, payload)))

    def srv(self, t_us, off, flags, ack_off):
        self.frames.append((t_us, frame(self.s, self.c, self.sport, self.cport,
                                        self.isn_s + 1 + off, self.isn_c + 1 + ack_off, flags)))

    def handshake(self, t_us):
        self.frames.append((t_us, frame(self.c, self.s, self.cport, self.sport, self.isn_c, 0, SYN)))
        self.frames.append((t_us + 100, frame(self.s, self.c, self.sport, self.cport, self.isn_s,
                                              self.isn_c + 1, SYN | ACK)))
        self.cli(t_us + 200, 0, ACK)

    def close(self, t_us, c_len):
        self.cli(t_us, c_len, FIN | ACK)
        self.srv(t_us + 100, 0, FIN | ACK, c_len + 1)
        self.cli(t_us + 200, c_len + 1, ACK)


# -- the tool's flow hash (tools/decode.c), used only to check the ports
def ep_hash(a, port):
    h = 2166136261
    for b in a + bytes(12):
        h = ((h ^ b) * 16777619) & 0xFFFFFFFF
    h = ((h ^ (port & 0xFF)) * 16777619) & 0xFFFFFFFF
    return ((h ^ (port >> 8)) * 16777619) & 0xFFFFFFFF


def flow_hash(a, ap, b, bp):
    x, y = ep_hash(addr(a), ap), ep_hash(addr(b), bp)
    h = ((x + y) & 0xFFFFFFFF) ^ (((x ^ y) * 0x9E3779B1) & 0xFFFFFFFF)
    h ^= h >> 16
    h = (h * 0x7FEB352D) & 0xFFFFFFFF
    h ^= h >> 15
    return h


X_FLOW = ("10.0.1.1", 40000, "10.0.1.2", 9)
Y_FLOW = ("10.0.2.1", 40002, "10.0.2.2", 9)


def build():
    frames = []
    x = Conn(frames, X_FLOW[0], X_FLOW[2], X_FLOW[1], X_FLOW[3], 1000, 5000)
    y = Conn(frames, Y_FLOW[0], Y_FLOW[2], Y_FLOW[1], Y_FLOW[3], 7000, 9000)
    data = [bytes("X%08d\n" % i, "ascii") for i in range(510)]  # 510 x 10 bytes
    x.handshake(0)
    t = 1000
    for i in range(507):
        x.cli(t, 10 * i, ACK | PSH, data[i])
        t += 1000
    x.cli(t, 10 * 508, ACK | PSH, data[508])          # behind the hole
    x.cli(t + 1000, 10 * 509, ACK | PSH, data[509])
    x.cli(t + 101000, 10 * 507, ACK | PSH, data[507])  # fills it, 0.1 s later
    x.close(t + 102000, 5100)
    y.handshake(800_000)
    t = 801_000
    for i in range(20000):
        y.cli(t, i, ACK | PSH, bytes([0x41 + i % 26]))
        t += 20_000
    y.close(t, 20000)
    frames.sort(key=lambda f: f[0])  # stable: equal times keep their order
    return frames


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "threads-xy.pcap")
    for n in (2, 3, 4):
        if flow_hash(*X_FLOW) % n == flow_hash(*Y_FLOW) % n:
            sys.exit("make-threads.py: X and Y share a worker with %d threads; pick other ports" % n)
    frames = build()
    with open(out, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, LINKTYPE_RAW))
        for t_us, data in frames:
            sec, usec = divmod(T0 * 1_000_000 + t_us, 1_000_000)
            f.write(struct.pack("<IIII", sec, usec, len(data), len(data)))
            f.write(data)
    print("%s: %d frames" % (out, len(frames)))


if __name__ == "__main__":
    main()
