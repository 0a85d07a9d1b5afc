#!/usr/bin/env python3
"""make-crafted.py - write the crafted captures the plugin tests use.

Each capture hits one case of the core's contract (issue 2, "Behaviour"):
the per-connection page limit, the total page limit, eviction at the
connection limit, overlap with conflicting data, gaps released by the idle
flush and the end-of-capture flush, plus edge cases of the plugin's own
(RST carrying data, TCP quoted in ICMP, one 4-tuple on two VLANs and in an
IP-in-IP tunnel, a snaplen-cut segment, IPv6, sequence wraparound, a
segment out of window). Issue 7 ("Correctness") adds three: two SYN-ACKs
with different ISNs (synack-isn.pcap), a connection picked up without its
SYN whose first segments were reordered (midstream-reorder.pcap), and late
SYNs of completed connections next to a real port reuse (late-syn.pcap).

Next to the captures it writes expected.json: for each capture the
preferences to run it with, and for each display filter the frames it must
select, plus the stream each connection direction must deliver and,
where it matters, the bytes and segments it drops ("dropped"), the
connection ids of a 4-tuple ("conn_ids"), words an expert info must say
("expert_text") and the tcp.stream whose Follow output a connection must
equal ("follow"). Frame
numbers come from the writer below, so they follow the capture, not a run
of the plugin.

Python 3 standard library only; deterministic (no clock, no randomness):
running it again gives byte-identical files.

    captures/crafted/make-crafted.py [output-folder]   (default: its own folder)
"""

import json
import os
import struct
import sys

LINKTYPE_ETHERNET = 1
T0 = 1_700_000_000  # capture start, seconds (2023-11-14)

FIN, SYN, RST, PSH, ACK = 0x01, 0x02, 0x04, 0x08, 0x10

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from packets import csum, ip4, ip6, ipv4_packet, ipv6_packet, tcp_segment  # noqa: E402


def ethernet(payload, ethertype, vlans=(), to_server=True):
    a, b = b"\x02\x00\x00\x00\x00\x01", b"\x02\x00\x00\x00\x00\x02"
    dst, src = (b, a) if to_server else (a, b)
    out = dst + src
    for v in vlans:
        out += struct.pack("!HH", 0x8100, v)
    return out + struct.pack("!H", ethertype) + payload


class Pcap:
    """A pcap file being written; add() returns the frame number."""

    def __init__(self, name):
        self.name = name
        self.records = []
        self.t = 0.0  # seconds after T0

    def add(self, frame, dt=0.001, caplen=None):
        self.t += dt
        usec = int(round(self.t * 1e6))
        data = frame if caplen is None else frame[:caplen]
        self.records.append((T0 + usec // 1_000_000, usec % 1_000_000, data, len(frame)))
        return len(self.records)

    def write(self, folder):
        with open(os.path.join(folder, self.name), "wb") as f:
            f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535,
                                LINKTYPE_ETHERNET))
            for sec, usec, data, orig in self.records:
                f.write(struct.pack("<IIII", sec, usec, len(data), orig))
                f.write(data)


class Conn:
    """One TCP connection; offsets are stream offsets of each direction
    (0 = first byte after the SYN)."""

    def __init__(self, pcap, cport, sport=80, cli="10.0.0.1", srv="10.0.0.2",
                 cisn=1000, sisn=5000, vlans=(), v6=False, outer=None):
        self.p, self.cport, self.sport = pcap, cport, sport
        self.v6 = v6
        self.cli = ip6(cli) if v6 else ip4(cli)
        self.srv = ip6(srv) if v6 else ip4(srv)
        self.cisn, self.sisn = cisn, sisn
        self.vlans = vlans
        self.outer = outer  # (outer client ip, outer server ip): IPv4 in IPv4
        self.ident = 1

    def _frame(self, to_server, flags, seq, ack, payload):
        src, dst = (self.cli, self.srv) if to_server else (self.srv, self.cli)
        sp, dp = (self.cport, self.sport) if to_server else (self.sport, self.cport)
        seg = tcp_segment(src, dst, sp, dp, seq, ack, flags, payload, self.v6)
        self.ident += 1
        if self.v6:
            return ethernet(ipv6_packet(src, dst, 6, seg), 0x86DD, self.vlans, to_server)
        pkt = ipv4_packet(src, dst, 6, seg, self.ident)
        if self.outer:
            osrc, odst = (ip4(self.outer[0]), ip4(self.outer[1]))
            if not to_server:
                osrc, odst = odst, osrc
            pkt = ipv4_packet(osrc, odst, 4, pkt, self.ident)
        return ethernet(pkt, 0x0800, self.vlans, to_server)

    def handshake(self, dt=0.001):
        a = self.p.add(self._frame(True, SYN, self.cisn, 0, b""), dt)
        b = self.p.add(self._frame(False, SYN | ACK, self.sisn, self.cisn + 1, b""))
        c = self.p.add(self._frame(True, ACK, self.cisn + 1, self.sisn + 1, b""))
        return a, b, c

    def syn(self, dt=0.001):
        return self.p.add(self._frame(True, SYN, self.cisn, 0, b""), dt)

    def synack(self, dt=0.001):
        return self.p.add(self._frame(False, SYN | ACK, self.sisn, self.cisn + 1, b""), dt)

    def c2s(self, off, data, flags=PSH | ACK, dt=0.001, caplen=None, ack_off=0):
        f = self._frame(True, flags, self.cisn + 1 + off, self.sisn + 1 + ack_off, data)
        return self.p.add(f, dt, caplen)

    def s2c(self, off, data, flags=PSH | ACK, dt=0.001, ack_off=0):
        f = self._frame(False, flags, self.sisn + 1 + off, self.cisn + 1 + ack_off, data)
        return self.p.add(f, dt)

    def close(self, c_off, s_off, dt=0.001):
        """FIN from both sides and the last ACK."""
        a = self.p.add(self._frame(True, FIN | ACK, self.cisn + 1 + c_off,
                                   self.sisn + 1 + s_off, b""), dt)
        b = self.p.add(self._frame(False, FIN | ACK, self.sisn + 1 + s_off,
                                   self.cisn + 2 + c_off, b""))
        c = self.p.add(self._frame(True, ACK, self.cisn + 2 + c_off,
                                   self.sisn + 2 + s_off, b""))
        return a, b, c

    def icmp_quote(self, off, data):
        """ICMP port unreachable from the server quoting a client segment
        (IP header, TCP header and payload): not a segment of the stream."""
        seg = tcp_segment(self.cli, self.srv, self.cport, self.sport,
                          self.cisn + 1 + off, self.sisn + 1, PSH | ACK, data, False)
        quoted = ipv4_packet(self.cli, self.srv, 6, seg, 999)
        body = struct.pack("!BBHI", 3, 3, 0, 0) + quoted
        body = body[:2] + struct.pack("!H", csum(body)) + body[4:]
        return self.p.add(ethernet(ipv4_packet(self.srv, self.cli, 1, body), 0x0800,
                                   self.vlans, False))


def pattern(n, seed):
    """n printable bytes, different for each seed."""
    return bytes(0x41 + (seed * 7 + i) % 26 for i in range(n))


def stream(data_hex_parts, skipped):
    return {"data": "".join(p.hex() for p in data_hex_parts), "skipped": skipped}


# ------------------------------------------------------------------ captures

def limit_per_connection():
    """page_size 100, 3 pages per connection: a hole at offset 0, three
    buffered pages, the fourth out-of-order page breaks the limit."""
    p = Pcap("limit-per-connection.pcap")
    c = Conn(p, 40001)
    c.handshake()
    seg = [pattern(100, k) for k in range(5)]
    buffered = [c.c2s(100 * k, seg[k]) for k in (1, 2, 3)]
    hit = c.c2s(400, seg[4])
    c.close(500, 0)
    return p, {
        "prefs": {"page_size": 100, "max_buffered_pages_per_connection": 3},
        "filters": {
            "safereasm.status.out_of_order": buffered,
            "safereasm.status.limit_connection": [hit],
            "safereasm.limit.connection": [hit],
            "safereasm.limit.connection": [hit],
            "safereasm.change.limit_hits_connection": [hit],
            "safereasm.limit.total": [],
            "safereasm.chunk.skipped > 0": [hit],
            "safereasm.change.bytes_skipped": [hit],
            "safereasm.expert.limit_connection": [hit],
        },
        "max_conn_pages": 3,
        "streams": {"1": {"c2s": stream(seg[1:], 100), "s2c": stream([], 0)}},
        "about": "hole at offset 0..100 never filled; pages 100-400 buffered in frames "
                 "%s; frame %d would need a 4th page: the connection is flushed (gap 100 "
                 "skipped, 300 buffered bytes delivered)" % (buffered, hit),
    }


def limit_total():
    """3 pages per connection, 4 in all: A buffers 2, B buffers 2, A's
    third page is within its own limit but breaks the total."""
    p = Pcap("limit-total.pcap")
    a = Conn(p, 40001)
    b = Conn(p, 40002)
    a.handshake()
    b.handshake()
    sa = [pattern(100, k) for k in range(4)]
    sb = [pattern(100, 10 + k) for k in range(3)]
    a_buf = [a.c2s(100, sa[1]), a.c2s(200, sa[2])]
    b_buf = [b.c2s(100, sb[1]), b.c2s(200, sb[2])]
    hit = a.c2s(300, sa[3])
    a_close = a.close(400, 0)
    return p, {
        "prefs": {"page_size": 100, "max_buffered_pages_per_connection": 3,
                  "max_buffered_pages_total": 4},
        "filters": {
            "safereasm.status.out_of_order": a_buf + b_buf,
            "safereasm.status.limit_total": [hit],
            "safereasm.limit.total": [hit],
            "safereasm.limit.total": [hit],
            "safereasm.change.limit_hits_total": [hit],
            "safereasm.limit.connection": [],
            "safereasm.expert.limit_total": [hit],
        },
        "filters_one_pass": {
            # B's two pages stay buffered: nothing releases them in one pass.
            "safereasm.chunk.conn_id == 2": [],
            "safereasm.end_flush": [],
        },
        "filters_two_pass": {
            # The end-of-capture flush releases B at its last frame; the
            # snapshot after the flush goes to the last frame.
            "safereasm.chunk.conn_id == 2": [b_buf[-1]],
            "safereasm.end_flush": [b_buf[-1], a_close[-1]],
        },
        "max_conn_pages": 2,
        "max_pages_in_use": 4,
        "streams": {"1": {"c2s": stream(sa[1:], 100), "s2c": stream([], 0)},
                    "2": {"c2s": stream(sb[1:], 100), "s2c": stream([], 0)}},
        "about": "A (conn 1) and B (conn 2) each leave offset 0..100 empty; frame %d "
                 "would be the 5th page in use" % hit,
    }


def evict():
    """max_connections 2, closed_linger 0: the third and fourth SYNs each
    evict the least recently used connection; conn 3 is touched in frame 5,
    so the fifth SYN evicts conn 4, not conn 3."""
    p = Pcap("evict.pcap")
    conns = [Conn(p, 40001 + i) for i in range(4)]
    f1 = conns[0].syn()
    f2 = conns[1].syn()
    f3 = conns[2].syn()
    f4 = conns[3].syn()
    f5 = conns[2].synack()
    again = Conn(p, 40001, cisn=90000)
    f6 = again.syn()
    return p, {
        "prefs": {"max_connections": 2, "closed_linger": 0},
        "filters": {
            "safereasm.status.evicted_other": [f3, f4, f6],
            "safereasm.limit.table": [f3, f4, f6],
            "safereasm.limit.table": [f3, f4, f6],
            "safereasm.closed.reason == \"EVICTED\"": [f3, f4, f6],
            "safereasm.change.evictions": [f3, f4, f6],
            "safereasm.closed.reason == 3": [f3, f4, f6],
            "safereasm.closed.conn_id == 1": [f3],
            "safereasm.closed.conn_id == 2": [f4],
            "safereasm.closed.conn_id == 4": [f6],
            "safereasm.status.new_connection": [f1, f2, f3, f4, f6],
            "safereasm.expert.evicted": [f3, f4, f6],
            "safereasm.expert.limit_table": [f3, f4, f6],
        },
        "filters_one_pass": {
            "safereasm.closed.conn_id == 3": [],
        },
        "filters_two_pass": {
            # The end-of-capture flush completes the survivors (conns 3
            # and 5) at their last frames.
            "safereasm.closed.conn_id == 3": [f5],
            "safereasm.closed.conn_id == 5": [f6],
            "safereasm.closed.reason == 4": [f5, f6],
        },
        "max_active": 2,
        "streams": {},
        "about": "SYNs of conns 1-4 in frames 1-4, SYN-ACK of conn 3 in frame 5, a new "
                 "SYN (conn 5) in frame 6",
    }


def conflict():
    """Overlaps with different bytes: over bytes already delivered (the
    core remembers conflict_history bytes of them, default 4096) and among
    buffered data, exact and partial, with the client's sequence numbers
    wrapping past 2^32 in the middle of "GOOD". The first copy wins.
    With conflict_history 0 the first one is a plain retransmission."""
    p = Pcap("conflict.pcap")
    c = Conn(p, 40001, cisn=0xFFFFFFFC)
    c.handshake()
    ok1 = c.c2s(0, b"GOOD")
    old = c.c2s(0, b"EVIL")           # differs from the delivered GOOD
    ooo = c.c2s(8, b"DATA")           # buffered (hole 4..8)
    ooo2 = c.c2s(12, b"TAIL")         # buffered
    bad1 = c.c2s(8, b"XATA")          # same range as the buffered DATA, differs
    bad2 = c.c2s(10, b"TAQQ")         # "TA" equal, "QQ" differs from "TA" of TAIL
    fill = c.c2s(4, b"MORE")          # fills the hole: MORE + DATA + TAIL
    same = c.c2s(0, b"GOOD")          # plain retransmission
    c.s2c(0, b"OK")
    fin = c.close(16, 2)
    return p, {
        "prefs": {},
        "filters": {
            "safereasm.status.conflict": [old, bad1, bad2],
            "safereasm.change.overlap_conflicts": [old, bad1, bad2],
            "safereasm.expert.conflict": [old, bad1, bad2],
            "safereasm.status.retransmission && !safereasm.status.conflict":
                [same],
            "safereasm.status.out_of_order": [ooo, ooo2],
            "safereasm.chunk.flags.conflict": [fill],
            "safereasm.conn.close_reason == 0": [fin[1]],
        },
        "conflicts_without_history": [bad1, bad2],
        "streams": {"1": {"c2s": stream([b"GOODMOREDATATAIL"], 0),
                          "s2c": stream([b"OK"], 0)}},
        "about": "client ISN 2^32-4: GOOD in frame %d spans the wrap; the first copies "
                 "win over frames %d (delivered), %d and %d (buffered)"
                 % (ok1, old, bad1, bad2),
    }


def gap():
    """Gaps released by time: the idle flush (flush_interval 10 s) at a
    frame of another connection, the idle timeout (120 s), and a hole still
    open when the capture ends (two-pass end-of-capture flush)."""
    p = Pcap("gap.pcap")
    a = Conn(p, 40001)
    b = Conn(p, 40002)
    c = Conn(p, 40003)
    a.handshake()
    a.c2s(0, b"HELLO")
    a.c2s(10, b"WORLD")               # hole 5..10, never filled
    b_syn = b.syn(dt=20.0)            # 20 s later: A's pages waited > 10 s
    b.synack()
    c_syn = c.syn(dt=180.0)           # A and B idle > 120 s: timed out
    c.synack()
    c.c2s(0, b"AAAA", flags=ACK)
    last = c.c2s(8, b"CCCC")          # hole 4..8 open at the end
    return p, {
        "prefs": {},
        "filters": {
            "safereasm.chunk.data contains \"WORLD\"": [b_syn],
            "safereasm.closed.reason == 2": [c_syn],
            "safereasm.change.timeouts": [c_syn],
            "safereasm.expert.timeout": [c_syn],
        },
        "filters_one_pass": {
            "safereasm.chunk.skipped > 0": [b_syn],
            "safereasm.expert.skipped": [b_syn],
            "safereasm.end_flush": [],
            "safereasm.change.connections_flushed": [b_syn, c_syn],
        },
        "filters_two_pass": {
            "safereasm.chunk.skipped > 0": [b_syn, last],
            "safereasm.expert.skipped": [b_syn, last],
            "safereasm.end_flush": [last],
            "safereasm.end_flush && safereasm.chunk.conn_id == 3": [last],
            # The snapshot after the end flush (at the last frame) counts
            # the connection it completed.
            "safereasm.change.connections_flushed": [b_syn, c_syn, last],
        },
        "streams": {"1": {"c2s": stream([b"HELLOWORLD"], 5), "s2c": stream([], 0)},
                    "2": {"c2s": stream([], 0), "s2c": stream([], 0)},
                    "3": {"c2s": stream([b"AAAACCCC"], 4), "s2c": stream([], 0)}},
        "one_pass_pages_at_end": 1,
        "about": "A's WORLD is released at B's SYN (frame %d) after a 5-byte gap; A and B "
                 "time out at C's SYN (frame %d); C's CCCC is only released by the "
                 "end-of-capture flush, at C's last frame %d" % (b_syn, c_syn, last),
    }


def edge():
    """Plugin edge cases: RST with data, TCP quoted in ICMP, one 4-tuple in
    three zones, a snaplen-cut segment, IPv6."""
    p = Pcap("edge.pcap")
    # 1: RST carrying data (tshark gives no tcp.payload for it).
    r = Conn(p, 41000)
    r.handshake()
    r.c2s(0, b"GET /")
    rst = r.s2c(0, b"Access Denied", flags=RST | ACK, ack_off=5)
    # 2: ICMP error quoting a client segment, then the real segment.
    q = Conn(p, 41001)
    q.handshake()
    icmp = q.icmp_quote(0, b"QUOTED!!")
    q.c2s(0, b"REAL")
    q.close(4, 0)
    # 3: the same 4-tuple on VLAN 100, VLAN 200 and inside an IPv4 tunnel,
    # each with different bytes at the same sequence numbers.
    v1 = Conn(p, 42000, vlans=(100,))
    v2 = Conn(p, 42000, vlans=(200,))
    v3 = Conn(p, 42000, outer=("192.0.2.1", "192.0.2.2"))
    for c in (v1, v2, v3):
        c.handshake()
    v1.c2s(0, b"V100")
    v2.c2s(0, b"V200")
    v3.c2s(0, b"TUNL")
    for c in (v1, v2, v3):
        c.close(4, 0)
    # 4: a segment claiming 100 bytes of which the capture kept 20.
    t = Conn(p, 43000)
    t.handshake()
    body = pattern(100, 3)
    cut = t.c2s(0, body, caplen=14 + 20 + 20 + 20)
    t.c2s(100, b"NEXT")
    t.close(104, 0)
    # 5: IPv6.
    s = Conn(p, 44000, cli="2001:db8::1", srv="2001:db8::2", v6=True)
    s.handshake()
    s.c2s(0, b"six")
    s.s2c(0, b"SIX")
    s.close(3, 3)
    # 6: a segment 1.5 GB beyond the highest byte seen (max_window is
    # 1 GiB): its 4 bytes are dropped as out of window, with an expert info.
    w = Conn(p, 45000)
    w.handshake()
    w.c2s(0, b"ok")
    far = w.c2s(1_500_000_000, b"FAR!")
    w_fin = w.close(2, 0)
    return p, {
        "prefs": {},
        "filters": {
            "safereasm.payload_source == 2": [rst],
            "safereasm && icmp": [],
            "frame.number == %d && safereasm" % icmp: [],
            "safereasm.conn.close_reason == 1": [rst],
            "safereasm.status.conflict": [],
            "safereasm.captured_len == 20 && safereasm.claimed_len == 100": [cut],
            "safereasm.status.out_of_window": [far],
            "safereasm.expert.dropped": [far],
            "safereasm.status.dropped": [far],
            "safereasm.dropped_len == 4": [far],
            "safereasm.change.bytes_dropped": [far],
            "safereasm.closed.dropped_c2s == 4 && safereasm.closed.dropped_segments_c2s == 1":
                [w_fin[1]],
        },
        "streams": {
            "1": {"c2s": stream([b"GET /"], 0), "s2c": stream([b"Access Denied"], 0)},
            "2": {"c2s": stream([b"REAL"], 0), "s2c": stream([], 0)},
            "3": {"c2s": stream([b"V100"], 0), "s2c": stream([], 0)},
            "4": {"c2s": stream([b"V200"], 0), "s2c": stream([], 0)},
            "5": {"c2s": stream([b"TUNL"], 0), "s2c": stream([], 0)},
            "6": {"c2s": stream([body[:20], b"NEXT"], 80), "s2c": stream([], 0)},
            "7": {"c2s": stream([b"six"], 0), "s2c": stream([b"SIX"], 0)},
            "8": {"c2s": stream([b"ok"], 0), "s2c": stream([], 0)},
        },
        "dropped": {"8": {"c2s": [4, 1], "s2c": [0, 0]}},
        "expert_text": [[far, "4 bytes of connection 8 client→server dropped"], [far, "out of window"]],
        "about": "RST with 13 bytes in frame %d; ICMP quote in frame %d; VLAN 100/200 and "
                 "tunnel twins are conns 3-5; frame %d keeps 20 of 100 payload bytes; "
                 "frame %d is out of window" % (rst, icmp, cut, far),
    }


def synack_isn():
    """TLS over TCP Fast Open, answered by two SYN-ACKs with different
    ISNs (a SYN proxy or load balancer racing the server): the client's
    SYN carries a 517-byte ClientHello; SYN-ACK A (ISN 3212050950) and
    SYN-ACK B (ISN 97572840) both acknowledge it; the client ACKs B + 1,
    and the server's 6068 bytes follow at B + 1. The server's stream is
    counted from B: nothing of it may be dropped as out of window."""
    p = Pcap("synack-isn.pcap")
    cisn, isn_a, isn_b = 2882400018, 3212050950, 97572840
    hello = b"\x16\x03\x01\x02\x00" + pattern(512, 21)
    a = Conn(p, 51234, sport=443, cisn=cisn, sisn=isn_a)
    b = Conn(p, 51234, sport=443, cisn=cisn, sisn=isn_b)
    syn = p.add(a._frame(True, SYN, cisn, 0, hello))
    ack_hello = len(hello)
    sa = a.s2c(-1, b"", flags=SYN | ACK, ack_off=ack_hello)
    sb = b.s2c(-1, b"", flags=SYN | ACK, ack_off=ack_hello)
    switch = b.c2s(ack_hello, b"", flags=ACK)
    sizes = [1440, 1440, 1440, 1440, 308]
    server = b"\x16\x03\x03\x05\xa0" + pattern(sum(sizes) - 5, 22)
    data, off = [], 0
    for n in sizes:
        data.append(b.s2c(off, server[off:off + n], ack_off=ack_hello))
        off += n
    b.c2s(ack_hello, b"", flags=ACK, ack_off=off)
    fin = b.close(ack_hello, off)
    return p, {
        "prefs": {},
        "filters": {
            "safereasm.status.new_connection": [syn],
            "safereasm.conn_id == 1": list(range(1, fin[-1] + 1)),
            "safereasm.status.isn_changed": [switch],
            "safereasm.change.isn_changes": [switch],
            "safereasm.expert.isn_changed": [switch],
            # The ServerHello is the first byte of the server's stream.
            "safereasm.chunk.dir == 1 && safereasm.chunk.offset == 0": [data[0]],
            "safereasm.chunk.dir == 1 && safereasm.chunk.len > 0": data,
            # The server's FIN: an end marker after its 6068 bytes.
            "safereasm.chunk.dir == 1 && safereasm.chunk.flags.end": [fin[1]],
            "safereasm.status.in_order": [syn] + data,
            "safereasm.status.out_of_window": [],
            "safereasm.status.dropped": [],
            "safereasm.expert.dropped": [],
            "safereasm.chunk.skipped > 0": [],
            "safereasm.conn.close_reason == \"FIN\"": [fin[1]],
            "safereasm.closed.delivered_s2c == %d" % len(server): [fin[1]],
        },
        "streams": {"1": {"c2s": stream([hello], 0), "s2c": stream([server], 0)}},
        "dropped": {"1": {"c2s": [0, 0], "s2c": [0, 0]}},
        "follow": {"1": 0},
        "expert_text": [[switch, "initial sequence number changed"]],
        "about": "client SYN with a 517-byte ClientHello in frame %d; SYN-ACKs with ISN "
                 "%d (frame %d) and %d (frame %d); the client ACKs the second in frame "
                 "%d; the server's %d bytes start at its ISN + 1 in frame %d"
                 % (syn, isn_a, sa, isn_b, sb, switch, len(server), data[0]),
    }


def midstream_reorder():
    """A connection picked up without its SYN, whose first segments were
    reordered: seq + 1000, seq + 0, seq + 2000 (1000 bytes each). The
    direction starts at the first segment seen, so the second one lies
    entirely before its start: its 1000 bytes are dropped (counted, with
    an expert info), never silently lost, and never delivered late."""
    p = Pcap("midstream-reorder.pcap")
    c = Conn(p, 40100, cisn=1_000_000 - 1, sisn=7000)
    seg = [pattern(1000, 30 + k) for k in range(3)]
    first = c.c2s(1000, seg[1], flags=ACK)
    before = c.c2s(0, seg[0], flags=ACK)
    last = c.c2s(2000, seg[2])
    fin = c.close(3000, 0)
    return p, {
        "prefs": {},
        "filters": {
            "safereasm.status.new_connection": [first],
            "safereasm.status.dropped": [before],
            "safereasm.status.before_start": [before],
            "safereasm.status.in_order": [first, last],
            "safereasm.expert.dropped": [before],
            "safereasm.dropped_len == 1000": [before],
            "safereasm.change.before_start": [before],
            "safereasm.change.bytes_dropped": [before],
            "safereasm.conn.dropped_c2s == 1000": [before, last] + list(fin),
            "safereasm.conn.dropped_segments_c2s == 1": [before, last] + list(fin),
            "safereasm.closed.dropped_c2s == 1000": [fin[1]],
            "safereasm.closed.dropped_segments_c2s == 1": [fin[1]],
            "safereasm.chunk.skipped > 0": [],
            "safereasm.conn.close_reason == \"FIN\"": [fin[1]],
        },
        "streams": {"1": {"c2s": stream(seg[1:], 0), "s2c": stream([], 0)}},
        "dropped": {"1": {"c2s": [1000, 1], "s2c": [0, 0]}},
        "expert_text": [[before, "1000 bytes of connection 1 client→server dropped"],
                        [before, "before the start of this direction"]],
        "about": "no SYN; seq+1000 in frame %d starts the direction, seq+0 in frame %d "
                 "lies before it (1000 bytes dropped), seq+2000 in frame %d continues it"
                 % (first, before, last),
    }


def late_syn():
    """Late SYNs. Connection 1 (port 40201), picked up without its SYN:
    "hello" at seq 101, FINs both ways complete it; then its SYN (seq 100,
    so seq + 1 is the start of the client's stream) and "hello" again
    arrive late: both are after close, no second connection, "hello" once.
    Connection 2 (port 40202): the same, but the SYN arrives between the
    data and the FINs. Port 40203: a SYN with another sequence number after
    completion is port reuse, a new connection (4)."""
    p = Pcap("late-syn.pcap")

    def hello_fins(c):
        d = c.c2s(0, b"hello", flags=ACK, ack_off=-1)
        f = c.c2s(5, b"", flags=FIN | ACK, ack_off=-1)
        g = c.s2c(-1, b"", flags=FIN | ACK, ack_off=6)
        return d, f, g

    c1 = Conn(p, 40201, cisn=100, sisn=500)
    one = list(hello_fins(c1))
    late = [c1.syn(), c1.c2s(0, b"hello", flags=ACK)]

    c2 = Conn(p, 40202, cisn=100, sisn=500)
    two = [c2.c2s(0, b"hello", flags=ACK, ack_off=-1)]
    syn2 = c2.syn()
    two += [syn2, c2.c2s(5, b"", flags=FIN | ACK, ack_off=-1),
            c2.s2c(-1, b"", flags=FIN | ACK, ack_off=6)]

    c3 = Conn(p, 40203, cisn=100, sisn=500)
    three = list(hello_fins(c3))
    c4 = Conn(p, 40203, cisn=9000, sisn=7000)
    four = list(c4.handshake())
    four.append(c4.c2s(0, b"world"))
    four += list(c4.close(5, 0))
    return p, {
        "prefs": {},
        "filters": {
            "safereasm.conn_id == 1": one + late,
            "safereasm.conn_id == 2": two,
            "safereasm.conn_id == 3": three,
            "safereasm.conn_id == 4": four,
            "safereasm.conn_id == 5": [],
            "safereasm.status.new_connection": [one[0], two[0], three[0], four[0]],
            # The last ACK of connection 4 comes after its FINs completed it.
            "safereasm.status.after_close": late + [four[-1]],
            "safereasm.change.after_close": late + [four[-1]],
            "safereasm.error == 4": late + [four[-1]],  # SR_ERR_CONNECTION_CLOSED
            "safereasm.expert.error": [],
            "safereasm.chunk.data contains \"hello\"": [one[0], two[0], three[0]],
            "safereasm.chunk.data contains \"world\"": [four[3]],
            "safereasm.closed.reason == \"FIN\"": [one[2], two[3], three[2], four[-2]],
            "safereasm.status.dropped": [],
        },
        "streams": {"1": {"c2s": stream([b"hello"], 0), "s2c": stream([], 0)},
                    "2": {"c2s": stream([b"hello"], 0), "s2c": stream([], 0)},
                    "3": {"c2s": stream([b"hello"], 0), "s2c": stream([], 0)},
                    "4": {"c2s": stream([b"world"], 0), "s2c": stream([], 0)}},
        "dropped": {str(k): {"c2s": [0, 0], "s2c": [0, 0]} for k in (1, 2, 3, 4)},
        # One connection per 4-tuple, except for the port reuse.
        "conn_ids": {"tcp.port == 40201": [1], "tcp.port == 40202": [2],
                     "tcp.port == 40203": [3, 4]},
        "about": "port 40201: completed in frame %d, late SYN and hello in frames %s; "
                 "port 40202: SYN in frame %d between the data and the FINs; port "
                 "40203: completed in frame %d, reused by a new SYN in frame %d"
                 % (one[2], late, syn2, three[2], four[0]),
    }


def main():
    folder = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__))
    os.makedirs(folder, exist_ok=True)
    expected = {}
    for make in (limit_per_connection, limit_total, evict, conflict, gap, edge,
                 synack_isn, midstream_reorder, late_syn):
        pcap, exp = make()
        pcap.write(folder)
        expected[pcap.name] = exp
    with open(os.path.join(folder, "expected.json"), "w") as f:
        json.dump(expected, f, indent=1, sort_keys=True)
        f.write("\n")


if __name__ == "__main__":
    main()
