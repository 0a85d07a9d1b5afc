"""packets.py - the packet building every capture generator here shares:
the Internet checksum, addresses, a TCP segment with its pseudo-header
checksum, IPv4 and IPv6 packets. Python 3 standard library only.

    sys.path.insert(0, <captures folder>); import packets
"""

import struct


def csum(data):
    """The Internet checksum (RFC 1071) of data."""
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


def ip4(a):
    """'10.0.0.1' -> 4 bytes."""
    return bytes(int(x) for x in a.split("."))


def ip6(a):
    """'2001:db8::1' -> 16 bytes (only the prefix::suffix forms)."""
    head, _, tail = a.partition("::")
    h = [int(x, 16) for x in head.split(":") if x]
    t = [int(x, 16) for x in tail.split(":") if x]
    words = h + [0] * (8 - len(h) - len(t)) + t
    return struct.pack("!8H", *words)


def tcp_segment(src, dst, sport, dport, seq, ack, flags, payload=b"", v6=False):
    """A 20-byte TCP header (window 65535) and payload, checksummed over the
    IPv4 or IPv6 pseudo-header of src/dst (bytes)."""
    hdr = struct.pack("!HHIIBBHHH", sport, dport, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF,
                      5 << 4, flags, 65535, 0, 0)
    if v6:
        pseudo = src + dst + struct.pack("!IxxxB", len(hdr) + len(payload), 6)
    else:
        pseudo = src + dst + struct.pack("!BBH", 0, 6, len(hdr) + len(payload))
    c = csum(pseudo + hdr + payload)
    return hdr[:16] + struct.pack("!H", c) + hdr[18:] + payload


def ipv4_packet(src, dst, proto, payload, ident=1, frag=0):
    """IPv4 header (TTL 64, checksummed) and payload; frag 0x4000 = DF."""
    hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), ident & 0xFFFF, frag,
                      64, proto, 0, src, dst)
    return hdr[:10] + struct.pack("!H", csum(hdr)) + hdr[12:] + payload


def ipv6_packet(src, dst, nh, payload):
    return struct.pack("!IHBB16s16s", 6 << 28, len(payload), nh, 64, src, dst) + payload
