#!/usr/bin/env python3
"""check_tool.py - safereasm-pcap itself: every link type and
encapsulation it claims, fragments/ICMP/snaplen handling, option
validation with the core's message, and no crash on damaged files.
Captures are crafted here (pcap writer below), so each expectation is
known by construction."""

import hashlib
import os
import random
import struct
import subprocess
import sys
import tempfile

import fidelity as F

FAILS = []


def need(cond, msg):
    if not cond:
        FAILS.append(msg)
        print("FAIL:", msg)


def pcap(path, linktype, frames, snaplen=65535):
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, snaplen, linktype))
        for i, fr in enumerate(frames):
            wire = fr[1] if isinstance(fr, tuple) else len(fr)
            data = fr[0] if isinstance(fr, tuple) else fr
            f.write(struct.pack("<IIII", 1000 + i, 0, len(data), wire))
            f.write(data)


def tcp(sport, dport, seq, flags, payload=b""):
    return struct.pack(">HHIIBBHHH", sport, dport, seq, 0, 5 << 4, flags, 65535, 0, 0) + payload


def ipv4(src, dst, proto, body, frag=0, total=None):
    tot = 20 + len(body) if total is None else total
    return struct.pack(">BBHHHBBH4s4s", 0x45, 0, tot, 7, frag, 64, proto, 0, bytes(src), bytes(dst)) + body


def ipv6(src, dst, nh, body, ext=b""):
    return struct.pack(">IHBB16s16s", 6 << 28, len(ext) + len(body), nh, 64, bytes(src), bytes(dst)) + ext + body


A4, B4 = [10, 0, 0, 1], [10, 0, 0, 2]
A6, B6 = [0x20, 1, 0xd, 0xb8] + [0] * 11 + [1], [0x20, 1, 0xd, 0xb8] + [0] * 11 + [2]
ETH = b"\x02" * 6 + b"\x04" * 6
PAYLOAD = b"hello, reassembly"
SHA = hashlib.sha256(PAYLOAD).hexdigest()


def conn4(wrap, extra=None):
    """SYN, then PAYLOAD in two segments (second first), IPv4."""
    segs = [tcp(1000, 80, 100, 0x02), tcp(1000, 80, 106, 0x10, PAYLOAD[5:]), tcp(1000, 80, 101, 0x10, PAYLOAD[:5])]
    return [wrap(ipv4(A4, B4, 6, s)) for s in segs] + (extra or [])


def run(path, *args):
    p = subprocess.run([F.TOOL, "--no-progress", "--sha256"] + list(args) + [path], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


def lines_of(out):
    return [l for l in out.splitlines() if l and not l.startswith("#")]


def stat(out, name):
    for l in out.splitlines():
        if l.startswith("# " + name + " "):
            return int(l.split()[-1])
    return None


def expect_stream(tmp, name, linktype, frames, key, delivered=len(PAYLOAD), skipped=0, sha=SHA):
    path = os.path.join(tmp, name + ".pcap")
    pcap(path, linktype, frames)
    rc, out, err = run(path)
    want = "%s %d %d 0 0 %s" % (key, delivered, skipped, sha)
    need(rc == 0 and lines_of(out) == [want], "%s: rc %d, lines %s, expected [%s] (stderr %s)" %
         (name, rc, lines_of(out), want, err.strip()))
    return out


def main():
    if not F.TOOL:
        print("FAIL: SR_PCAP_TOOL not set")
        return 1
    tmp = tempfile.mkdtemp(prefix="sr-tool-")
    k4 = "10.0.0.1:1000>10.0.0.2:80"
    # ---- link types
    expect_stream(tmp, "raw", 101, conn4(lambda ip: ip), k4)
    expect_stream(tmp, "ether", 1, conn4(lambda ip: ETH + b"\x08\x00" + ip), k4)
    expect_stream(tmp, "null-le", 0, conn4(lambda ip: struct.pack("<I", 2) + ip), k4)
    expect_stream(tmp, "loop-be", 108, conn4(lambda ip: struct.pack(">I", 2) + ip), k4)
    sll = struct.pack(">HHH8sH", 0, 1, 6, b"\x02" * 8, 0x0800)
    expect_stream(tmp, "sll", 113, conn4(lambda ip: sll + ip), k4)
    sll2 = struct.pack(">HHIHBB8s", 0x0800, 0, 1, 1, 0, 6, b"\x02" * 8)
    expect_stream(tmp, "sll2", 276, conn4(lambda ip: sll2 + ip), k4)
    qinq = ETH + struct.pack(">HHHH", 0x88A8, 10, 0x8100, 20) + b"\x08\x00"
    expect_stream(tmp, "qinq", 1, conn4(lambda ip: qinq + ip), k4 + "@%d" % ((10 << 12) | 20))
    # Same 4-tuple untagged and on VLAN 7: two connections, not one.
    vlan = ETH + struct.pack(">HH", 0x8100, 7) + b"\x08\x00"
    path = os.path.join(tmp, "vlan-two.pcap")
    pcap(path, 1, conn4(lambda ip: ETH + b"\x08\x00" + ip) + conn4(lambda ip: vlan + ip))
    rc, out, err = run(path)
    need(lines_of(out) == ["%s %d 0 0 0 %s" % (k4, len(PAYLOAD), SHA), "%s@7 %d 0 0 0 %s" % (k4, len(PAYLOAD), SHA)],
         "vlan-two: %s" % lines_of(out))
    # ---- IPv6 with extension headers (hop-by-hop, destination options, atomic fragment)
    ext = bytes([60, 0, 1, 4, 0, 0, 0, 0]) + bytes([44, 0, 1, 4, 0, 0, 0, 0]) + bytes([6, 0, 0, 0, 0, 0, 0, 9])
    segs = [tcp(1000, 80, 100, 0x02), tcp(1000, 80, 101, 0x10, PAYLOAD)]
    k6 = "[2001:db8::1]:1000>[2001:db8::2]:80"
    expect_stream(tmp, "ipv6-ext", 101, [ipv6(A6, B6, 0, s, ext) for s in segs], k6)
    # ---- IPv4 fragments are counted, not reassembled; ICMP quoting TCP is ignored
    frag = ipv4(A4, B4, 6, tcp(1000, 80, 101, 0x10, PAYLOAD)[:16], frag=0x2000)
    icmp = ipv4(B4, A4, 1, b"\x03\x03\x00\x00\x00\x00\x00\x00" + ipv4(A4, B4, 6, tcp(1000, 80, 101, 0x10, b"x" * 8)))
    out = expect_stream(tmp, "frag-icmp", 101, conn4(lambda ip: ip, [frag, icmp]), k4)
    need(stat(out, "decode ipv4_fragments") == 1, "fragment not counted: %s" % stat(out, "decode ipv4_fragments"))
    need(stat(out, "decode icmp") == 1, "ICMP not counted")
    need(stat(out, "pool total_created") == 1, "TCP inside ICMP created a connection")
    # ---- IP-in-IP (6in4) and GRE
    expect_stream(tmp, "6in4", 101, [ipv4([1, 1, 1, 1], [2, 2, 2, 2], 41, ipv6(A6, B6, 6, s)) for s in segs], k6)
    gre = struct.pack(">HH", 0, 0x0800)
    expect_stream(tmp, "gre", 101, conn4(lambda ip: ipv4([1, 1, 1, 1], [2, 2, 2, 2], 47, gre + ip)), k4)
    # ---- snaplen cut: 10 bytes captured of a 17-byte payload -> 7 skipped
    cut = ipv4(A4, B4, 6, tcp(1000, 80, 101, 0x10, PAYLOAD))
    cut_frames = [ipv4(A4, B4, 6, tcp(1000, 80, 100, 0x02)), (cut[:40 + 10], len(cut))]
    out = expect_stream(tmp, "snaplen", 101, cut_frames, k4, delivered=10, skipped=7,
                        sha=hashlib.sha256(PAYLOAD[:10]).hexdigest())
    need(stat(out, "decode snaplen_cut") == 1, "snaplen cut not counted")
    # ---- malformed: TCP data offset 3, IPv4 header length 4, truncated Ethernet
    bad = ipv4(A4, B4, 6, tcp(1000, 80, 1, 0x10))
    bad = bad[:32] + bytes([3 << 4]) + bad[33:]
    path = os.path.join(tmp, "malformed.pcap")
    pcap(path, 1, [ETH + b"\x08\x00" + bad, ETH + b"\x08\x00" + b"\x44" + bad[1:], ETH[:10]])
    rc, out, err = run(path)
    need(rc == 0 and stat(out, "decode malformed") == 2 and stat(out, "decode truncated") == 1,
         "malformed: rc %d malformed %s truncated %s" % (rc, stat(out, "decode malformed"), stat(out, "decode truncated")))
    need("TCP data offset below 5" in err, "no clear message for a bad TCP data offset: %r" % err)
    # ---- options: invalid values rejected with the core's message, exit 2
    for args, word in ((["--page-size", "0"], "page_size"), (["--flush-interval", "500", "--connection-timeout", "100"], "flush"),
                       (["--max-pages-per-connection", "60000"], "per_connection")):
        rc, out, err = run(os.path.join(tmp, "raw.pcap"), *args)
        need(rc == 2 and word in err, "%s: rc %d, stderr %r (expected 2 and the core's message naming %s)" %
             (args, rc, err.strip(), word))
    for args in (["--threads", "0"], ["--threads", "65"], ["--page-size", "-1"], ["--max-window", "5000000000"],
                 ["--connection-timeout", "nan"]):
        rc, out, err = run(os.path.join(tmp, "raw.pcap"), *args)
        need(rc == 2, "%s accepted (rc %d)" % (args, rc))
    rc, out, err = run(os.path.join(tmp, "no-such-file.pcap"))
    need(rc == 1 and "no-such-file" in err, "missing file: rc %d %r" % (rc, err))
    # ---- damaged files: truncated mid-record and random byte flips: no crash
    src = os.path.join(F.SRC, "captures", "fidelity", "zeek", "tcp", "reassembly.pcap")
    blob = open(src, "rb").read()
    path = os.path.join(tmp, "cut.pcap")
    open(path, "wb").write(blob[:len(blob) // 2 + 7])
    rc, out, err = run(path)
    need(rc == 1 and "rest of the file ignored" in err and lines_of(out),
         "truncated file: rc %d, %d lines, stderr %r" % (rc, len(lines_of(out)), err[-200:]))
    rng = random.Random(7)
    for i in range(40):
        b = bytearray(blob)
        for _ in range(200):
            pos = rng.randrange(24, len(b))
            b[pos] = rng.randrange(256)
        path = os.path.join(tmp, "fuzz%d.pcap" % i)
        open(path, "wb").write(b)
        for extra in ([], ["--threads", "3"]):
            rc, out, err = run(path, *extra)
            need(rc in (0, 1), "fuzz %d %s: exit %d (signal?) %s" % (i, extra, rc, err[-300:]))
    # ---- threads: same lines with 1 and 4 workers on 500 connections
    echo = os.path.join(F.SRC, "captures", "fidelity", "zeek", "echo-connections.pcap.gz")
    rc1, o1, _ = run(echo, "--no-stats")
    rc4, o4, _ = run(echo, "--no-stats", "--threads", "4")
    need(rc1 == 0 and rc4 == 0 and o1 == o4 and len(lines_of(o1)) >= 1000,
         "threads: rc %d/%d, %d vs %d lines, equal %s" % (rc1, rc4, len(lines_of(o1)), len(lines_of(o4)), o1 == o4))
    print("tool checks: %d failures" % len(FAILS))
    return 1 if FAILS else 0


if __name__ == "__main__":
    sys.exit(main())
