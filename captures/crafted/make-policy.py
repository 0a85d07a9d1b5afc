#!/usr/bin/env python3
"""make-policy.py - write the overlap-policy captures (issue 9): which bytes a
receiver got depends on its TCP stack when retransmitted segments overlap
buffered data with other bytes.

Ethernet/IPv4/TCP, correct IP and TCP checksums, times from 2023-11-14
(1700000000), 1 ms apart. Server port 9 (discard) for the vector captures,
so Wireshark's HTTP dissector does not desegment them.

  policy-main.pcap  10.9.0.1:41000 > 10.9.0.2:9, client ISN 1000000: handshake,
                    then the 18 segments of the "main" vector of
                    tests/data/overlap-policies/vectors.json in the vector's
                    order (seq = ISN + rseq; the first stream byte is rseq 1,
                    which arrives last and fills the hole), the server's ACK,
                    then FIN both ways. Each policy's final view of the vector
                    is the client's stream under that policy.
  policy-wrap.pcap  the same, 10.9.0.1:41001, client ISN 2^32 - 11 (rseq 11 is
                    sequence number 0: the stream wraps past 2^32 inside the
                    overlaps), server ISN 2^32 - 3.
  policy-http.pcap  10.9.0.3:41002 > 10.9.0.4:80, an HTTP request sent as an
                    evasion: the bytes after "GET /" arrive twice, first as
                    "index.html HTTP/1.1 ...", then retransmitted over exactly
                    the same sequence range as "evil.php HTTP/1.1 ..." (same
                    length: two more spaces before the Host value), while "GET /" is still
                    missing; then "GET /" fills the hole. A receiver that
                    keeps the first copy (first, bsd, linux) reads
                    GET /index.html, one that takes a same-range copy
                    (old_linux, solaris, last) reads GET /evil.php. The server
                    answers 200 with "ok"; FIN both ways.

The vector is read from tests/data/overlap-policies/vectors.json (the
project's copy). Python 3 standard library only; deterministic: running it
again gives the same bytes.

    captures/crafted/make-policy.py [output-dir]  (default: next to this file)
"""

import json
import os
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
VECTORS = os.path.join(HERE, "..", "..", "tests", "data", "overlap-policies", "vectors.json")
LINKTYPE_ETHERNET = 1
T0 = 1_700_000_000
FIN, SYN, PSH, ACK = 0x01, 0x02, 0x08, 0x10

sys.path.insert(0, os.path.join(HERE, ".."))
from packets import ip4 as addr, ipv4_packet, tcp_segment  # noqa: E402

# The evasion's two copies of the request after "GET /" (same length).
HTTP_PREFIX = b"GET /"
HTTP_BENIGN = b"index.html HTTP/1.1\r\nHost: www.example.com\r\n\r\n"
HTTP_EVIL = b"evil.php HTTP/1.1\r\nHost:   www.example.com\r\n\r\n"
assert len(HTTP_BENIGN) == len(HTTP_EVIL), (len(HTTP_BENIGN), len(HTTP_EVIL))


def packet(src, dst, sport, dport, seq, ack, flags, payload=b""):
    """Ethernet + IPv4 + TCP with both checksums."""
    ip = ipv4_packet(src, dst, 6, tcp_segment(src, dst, sport, dport, seq, ack, flags, payload),
                     ident=0, frag=0x4000)
    # Locally administered MACs derived from the last address byte.
    eth = bytes([2, 0, 0, 0, 0, dst[3]]) + bytes([2, 0, 0, 0, 0, src[3]]) + b"\x08\x00"
    return eth + ip


class Conn:
    """One connection; offsets are relative to each side's ISN + 1."""

    def __init__(self, cli, srv, cport, sport, isn_c, isn_s):
        self.frames = []
        self.c, self.s = addr(cli), addr(srv)
        self.cport, self.sport = cport, sport
        self.isn_c, self.isn_s = isn_c, isn_s

    def _add(self, data):
        self.frames.append(data)

    def cli(self, rseq, flags, payload=b"", ack_off=0):
        self._add(packet(self.c, self.s, self.cport, self.sport, self.isn_c + rseq,
                         self.isn_s + 1 + ack_off, flags, payload))

    def srv(self, rseq, flags, payload=b"", ack_rseq=1):
        self._add(packet(self.s, self.c, self.sport, self.cport, self.isn_s + rseq,
                         self.isn_c + ack_rseq, flags, payload))

    def handshake(self):
        self.frames.append(packet(self.c, self.s, self.cport, self.sport, self.isn_c, 0, SYN))
        self.frames.append(packet(self.s, self.c, self.sport, self.cport, self.isn_s,
                                  self.isn_c + 1, SYN | ACK))
        self.cli(1, ACK)


def write_pcap(path, frames):
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, LINKTYPE_ETHERNET))
        for i, fr in enumerate(frames):
            us = (i + 1) * 1000
            f.write(struct.pack("<IIII", T0 + us // 1_000_000, us % 1_000_000, len(fr), len(fr)))
            f.write(fr)


def main_vector():
    with open(VECTORS) as f:
        doc = json.load(f)
    steps = None
    for v in doc["vectors"]:
        if v["name"] == "main":
            if steps is not None and [(s["rseq"], s["data"]) for s in v["steps"]] != steps:
                raise SystemExit("the main vectors do not share their segments")
            steps = [(s["rseq"], s["data"]) for s in v["steps"]]
    if not steps or len(steps) != 18:
        raise SystemExit("vectors.json: no 18-step main vector")
    return steps


def vector_capture(steps, cport, isn_c, isn_s):
    c = Conn("10.9.0.1", "10.9.0.2", cport, 9, isn_c, isn_s)
    c.handshake()
    for rseq, data in steps:
        c.cli(rseq, ACK | PSH, data.encode("ascii"))
    end = max(rseq + len(data) for rseq, data in steps)  # next rseq after the stream
    c.srv(1, ACK, ack_rseq=end)
    c.cli(end, FIN | ACK)
    c.srv(1, FIN | ACK, ack_rseq=end + 1)
    c.cli(end + 1, ACK, ack_off=1)
    return c.frames


def http_capture():
    c = Conn("10.9.0.3", "10.9.0.4", 41002, 80, 3_000_000, 7_000_000)
    c.handshake()
    n = len(HTTP_PREFIX)
    c.cli(1 + n, ACK | PSH, HTTP_BENIGN)    # buffered: "GET /" still missing
    c.cli(1 + n, ACK | PSH, HTTP_EVIL)      # same range, other bytes
    c.cli(1, ACK | PSH, HTTP_PREFIX)        # fills the hole
    end = 1 + n + len(HTTP_BENIGN)
    resp = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
    c.srv(1, ACK | PSH, resp, ack_rseq=end)
    c.cli(end, FIN | ACK, ack_off=len(resp))
    c.srv(1 + len(resp), FIN | ACK, ack_rseq=end + 1)
    c.cli(end + 1, ACK, ack_off=len(resp) + 1)
    return c.frames


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else HERE
    steps = main_vector()
    write_pcap(os.path.join(out, "policy-main.pcap"), vector_capture(steps, 41000, 1_000_000, 5_000_000))
    write_pcap(os.path.join(out, "policy-wrap.pcap"),
               vector_capture(steps, 41001, 2**32 - 11, 2**32 - 3))
    write_pcap(os.path.join(out, "policy-http.pcap"), http_capture())


if __name__ == "__main__":
    main()
