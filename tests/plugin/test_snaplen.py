#!/usr/bin/env python3
"""test_snaplen.py - frames cut short inside the TCP header, inside its
options and inside the payload, and headers TCP gives up on.

The plugin reads the TCP/IP headers from the captured bytes and makes a
segment exactly where Wireshark's TCP dissector adds the header fields
(plugin/extract.c). One connection, written with a per-frame captured
length (the pcap record's incl_len) so each cut is exact; the TCP header
is 32 bytes (12 bytes of options). Per frame, in one pass and in two:

  frame  captured TCP bytes        expected
  4      10 (fixed header cut)     no segment: TCP stops before seq/flags
  5      16 (up to the window)     segment, 100 claimed, 0 captured
  6      24 (inside the options)   segment, 100 claimed, 0 captured
  7      32 + 40 of the payload    segment, 100 claimed, 40 captured
  8      all                       segment, 100 claimed, 100 captured
  9      all, header length 16     no segment: TCP stops before its flags
  10     all, IPv4 loose source    segment of a second connection: its
         route option, one hop     destination is the route's last address
         still to go               (Wireshark 4.0's ip.dst and pinfo->dst)
  11     RST + 20 bytes, 32 + 5    segment, 20 claimed, 5 captured from
                                   after the header (payload source 2)
  12     14 (up to the flags)      a segment (100 claimed, 0 captured)
                                   exactly when tshark itself gives the
                                   frame a tcp.len: 4.6 does, 4.0 and 4.4
                                   read 16 bytes first and do not
"""

import os
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import srtest  # noqa: E402
from srtest import check  # noqa: E402

sys.path.insert(0, srtest.CAPTURES)
import packets  # noqa: E402

C, S = packets.ip4("10.1.0.1"), packets.ip4("10.1.0.2")
CP, SP = 40000, 80
OPTS = b"\x01\x01\x08\x0a" + struct.pack("!II", 1, 2)  # NOP NOP timestamps


def tcp(src, dst, sport, dport, seq, ack, flags, payload=b"", opts=OPTS, hlen=None):
    words = hlen // 4 if hlen is not None else (20 + len(opts)) // 4
    hdr = struct.pack("!HHIIBBHHH", sport, dport, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF,
                      words << 4, flags, 65535, 0, 0) + opts
    pseudo = src + dst + struct.pack("!BBH", 0, 6, len(hdr) + len(payload))
    c = packets.csum(pseudo + hdr + payload)
    return hdr[:16] + struct.pack("!H", c) + hdr[18:] + payload


def ipv4(src, dst, payload, options=b""):
    ihl = 5 + len(options) // 4
    hdr = struct.pack("!BBHHHBBH4s4s", 0x40 | ihl, 0, ihl * 4 + len(payload), 1, 0x4000,
                      64, 6, 0, src, dst) + options
    return hdr[:10] + struct.pack("!H", packets.csum(hdr)) + hdr[12:] + payload


def eth(ip):
    return b"\x02\x00\x00\x00\x00\x02" + b"\x02\x00\x00\x00\x00\x01" + b"\x08\x00" + ip


def write_pcap(path, frames):
    """frames: (bytes, captured length or None for all)."""
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for i, (data, cap) in enumerate(frames):
            n = len(data) if cap is None else cap
            f.write(struct.pack("<IIII", 1000 + i, 0, n, len(data)))
            f.write(data[:n])
    os.chmod(path, 0o644)


def build(path):
    ci, si = 1000, 5000
    d = bytes(range(100))
    pre = 14 + 20  # Ethernet and IPv4 before TCP
    ACK, PSH, SYN, RST = 0x10, 0x08, 0x02, 0x04
    c2s = lambda seq, flags, payload=b"", **kw: eth(ipv4(C, S, tcp(  # noqa: E731
        C, S, CP, SP, seq, si + 1, flags, payload, **kw)))
    frames = [
        (eth(ipv4(C, S, tcp(C, S, CP, SP, ci, 0, SYN))), None),                  # 1
        (eth(ipv4(S, C, tcp(S, C, SP, CP, si, ci + 1, SYN | ACK))), None),       # 2
        (c2s(ci + 1, ACK), None),                                                # 3
        (c2s(ci + 1, ACK | PSH, d), pre + 10),                                   # 4
        (c2s(ci + 101, ACK | PSH, d), pre + 16),                                 # 5
        (c2s(ci + 201, ACK | PSH, d), pre + 24),                                 # 6
        (c2s(ci + 301, ACK | PSH, d), pre + 32 + 40),                            # 7
        (c2s(ci + 401, ACK | PSH, d), None),                                     # 8
        (c2s(ci + 501, ACK | PSH, d, opts=b"", hlen=16), None),                  # 9
        # loose source route (0x83), length 7, pointer 4: one hop still to go
        (eth(ipv4(C, S, tcp(C, S, CP, SP, ci + 601, si + 1, ACK | PSH, d),
                  options=b"\x83\x07\x04" + packets.ip4("10.9.9.9") + b"\x00")), None),  # 10
        (c2s(ci + 701, RST | ACK, d[:20]), pre + 32 + 5),                        # 11
        (c2s(ci + 801, ACK | PSH, d), pre + 14),                                 # 12
    ]
    write_pcap(path, frames)


FIELDS = ["frame.number", "safereasm.segments_ignored", "safereasm.claimed_len",
          "safereasm.captured_len", "safereasm.payload_source", "safereasm.conn_id"]

# frame -> (ignored, claimed, captured, payload source); None: no record
EXPECT = {
    4: ("1", "", "", ""),
    5: ("", "100", "0", "0"),
    6: ("", "100", "0", "0"),
    7: ("", "100", "40", "1"),
    8: ("", "100", "100", "1"),
    9: ("1", "", "", ""),
    10: ("", "100", "100", "1"),
    11: ("", "20", "5", "2"),
}


def rows(cap, two_pass):
    args = ["-n", "-r", cap, "-T", "fields", "-E", "occurrence=a"]
    if two_pass:
        args.append("-2")
    for f in FIELDS:
        args += ["-e", f]
    p = srtest.tshark(args)
    out = {}
    for line in p.stdout.splitlines():
        cols = line.split("\t")
        if len(cols) == len(FIELDS) and cols[0].isdigit():
            out[int(cols[0])] = cols[1:]
    return out


def tcp_len_present(cap, frame):
    """Does tshark (the plugin disabled) give this frame a tcp.len?"""
    p = srtest.tshark(["-n", "-r", cap, "--disable-protocol", "safereasm", "-T", "fields",
                       "-e", "frame.number", "-e", "tcp.len"])
    for line in p.stdout.splitlines():
        cols = line.split("\t")
        if len(cols) == 2 and cols[0] == str(frame):
            return cols[1] != ""
    raise srtest.TestFailure("frame %d not in tshark's output" % frame)


def main():
    cap = os.path.join(srtest.scratch(), "snaplen.pcap")
    build(cap)
    EXPECT[12] = ("", "100", "0", "0") if tcp_len_present(cap, 12) else ("1", "", "", "")
    for two_pass in (False, True):
        got = rows(cap, two_pass)
        what = "two passes" if two_pass else "one pass"
        check(len(got) == 12, "%s: %d frames read, expected 12" % (what, len(got)))
        for fr, (ign, claimed, captured, source) in EXPECT.items():
            g = got.get(fr, ["?"] * 5)
            check((g[0], g[1], g[2], g[3]) == (ign, claimed, captured, source),
                  "%s: frame %d: ignored/claimed/captured/source %r, expected %r"
                  % (what, fr, g[:4], (ign, claimed, captured, source)))
        # The made segments are one connection (ports and addresses read
        # right from the cut headers).
        conns = {got[fr][4] for fr in (1, 2, 3, 5, 6, 7, 8, 11) if fr in got}
        check(conns == {"1"}, "%s: connection ids %r, expected all 1" % (what, conns))
        check(got.get(10, [""] * 5)[4] == "2",
              "%s: frame 10 (source routed) in connection %r, expected 2"
              % (what, got.get(10, [""] * 5)[4]))
    srtest.finish("plugin/snaplen")


if __name__ == "__main__":
    try:
        main()
    except srtest.TestFailure as e:
        print("FAIL: %s" % e)
        sys.exit(1)
