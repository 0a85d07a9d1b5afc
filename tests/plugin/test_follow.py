#!/usr/bin/env python3
"""test_follow.py - delivered bytes equal tshark's own Follow TCP Stream.

For every third-party capture in captures/fidelity and every TCP stream
with payload, the plugin's chunks (two-pass, so nothing stays buffered) are
concatenated per connection direction and compared with
`tshark -z follow,tcp,yaml,N`, direction by direction, where that oracle is
trustworthy (captures/fidelity/MANIFEST.md, "Oracle"):

  A. every byte follow delivers, the plugin delivers at the same stream
     offset with the same value (skipped for directions with a conflicting
     overlap: follow lets a later in-order copy replace queued data,
     Oracle 3; the core keeps the first copy);
  B. inside follow's extent, the plugin skips exactly the bytes follow marks
     "[N bytes missing in capture file]";
  C. the plugin delivers nothing beyond follow's extent unless a gap of its
     own comes first (follow silently drops everything after a hole nobody
     ACKed, Oracle 2);
  and a direction with snaplen-cut segments is not compared at all (follow
  splices captured bytes together without marking the cut, Oracle 6).

Connections map to tcp.stream through the frames their segments came in;
follow's peers map to directions through the sender of those frames. The
VLAN copies in vlan-collisions.pcap are one tcp.stream but three
connections (the zone): each is compared with the same stream.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import srtest  # noqa: E402
from srtest import check  # noqa: E402

# Extra tshark arguments a capture needs (for the plugin and for follow alike).
EXTRA = {
    "zeek/tunnels/Teredo.pcap": ["-d", "udp.port==32900,teredo"],
    # The capture jumps up to 1.9 GB at a time (its authors cut the
    # transfer to leave huge gaps); with the largest window the core takes
    # every jump, across the 32-bit wrap, to offsets beyond 4 GiB that
    # follow (and Zeek's file_chunk offsets) agree with.
    "zeek/ftp/bigtransfer.pcap": ["-o", "safereasm.max_window:2147483647"],
}

# Follow since 4.2 (tshark 4.4, 4.6) shows no bytes at all for one direction
# of these streams, where 4.0's follow had the stream without them: the
# stream starts at a bit-flipped server segment with SYN, RST, FIN and URG
# all set, and follow then takes nothing the client sends. Not compared.
FOLLOW_NONE_SINCE_4_2 = {("ndpi/reasm_crash_anon.pcapng", 1)}
ABI = tuple(int(x) for x in srtest.ABI.split("."))


def captures():
    root = os.path.join(srtest.CAPTURES, "fidelity")
    out = []
    for d, _, files in os.walk(root):
        for f in files:
            if f.endswith((".pcap", ".pcapng", ".pcap.gz", ".pcapng.gz")):
                out.append(os.path.relpath(os.path.join(d, f), root))
    return sorted(out)


def senders(cap, extra):
    """{frame: (tcp.stream, (src addr, src port))} of the frame's TCP; the
    address is that of the innermost IP header (the one TCP rides on)."""
    text = srtest.tshark(["-n", "-r", cap, "-T", "fields", "-E", "occurrence=l",
                          "-e", "frame.number", "-e", "tcp.stream", "-e", "tcp.srcport",
                          "-e", "ip.src", "-e", "ipv6.src", "-e", "tcp.len",
                          "-e", "frame.protocols"] + extra).stdout
    out, with_data = {}, set()
    for line in text.splitlines():
        c = line.split("\t")
        if len(c) < 7 or not c[1]:
            continue
        layers = c[6].split(":")
        inner_v6 = "ipv6" in layers and (
            "ip" not in layers or
            len(layers) - layers[::-1].index("ipv6") > len(layers) - layers[::-1].index("ip"))
        src = c[4] if inner_v6 else c[3]
        out[int(c[0])] = (int(c[1]), (src, int(c[2])))
        if c[5] and int(c[5]) > 0:
            with_data.add(int(c[1]))
    return out, with_data


def covered(runs):
    """Sorted, merged [start, end) intervals of (offset, bytes) runs."""
    iv = sorted((o, o + len(b)) for o, b in runs if b)
    merged = []
    for a, b in iv:
        if merged and a <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], b)
        else:
            merged.append([a, b])
    return merged


def clip(intervals, lo, hi):
    out = []
    for a, b in intervals:
        a, b = max(a, lo), min(b, hi)
        if a < b:
            out.append((a, b))
    return out


def missing(runs_iv, lo, hi):
    """Intervals of [lo, hi) not covered."""
    out, cur = [], lo
    for a, b in runs_iv:
        if b <= cur:
            continue
        if a >= hi:
            break
        if a > cur:
            out.append((cur, min(a, hi)))
        cur = max(cur, b)
    if cur < hi:
        out.append((cur, hi))
    return out


def subtract(a, b):
    """Interval set a minus interval set b (both sorted, disjoint)."""
    out = []
    for x, y in a:
        cur = x
        for p, q in b:
            if q <= cur or p >= y:
                continue
            if p > cur:
                out.append((cur, p))
            cur = max(cur, q)
        if cur < y:
            out.append((cur, y))
    return out


def bytes_equal(ours, theirs):
    """Every byte of theirs is in ours at the same offset. Returns the first
    differing offset or None."""
    ours = sorted(ours)
    for off, data in theirs:
        pos = off
        end = off + len(data)
        for o, b in ours:
            if o + len(b) <= pos or o >= end:
                continue
            a = max(pos, o)
            z = min(end, o + len(b))
            if a > pos:
                return pos  # a hole in ours
            if b[a - o:z - o] != data[a - off:z - off]:
                for i in range(a, z):
                    if b[i - o] != data[i - off]:
                        return i
            pos = z
            if pos >= end:
                break
        if pos < end:
            return pos
    return None


def classify(frames, fmap):
    """What the plugin's segments say about each connection direction."""
    info = {}
    for num, fr in frames.items():
        if num not in fmap or not fr.segs:
            continue
        stream, sender = fmap[num]
        seg = fr.segs[0]
        conn, d = int(seg.get("conn_id", 0)), int(seg.get("dir", 0))
        if seg.get("status.after_close") == "1" and int(seg.get("captured_len", 0)) > 0:
            # Data for a connection the core had already completed (RST,
            # or FIN both ways): the core drops it, follow does not.
            info.setdefault(("late", stream), set()).add(sender)
        if conn == 0:
            continue
        c = info.setdefault(conn, {"streams": set(), "zone": seg.get("zone"),
                                   "senders": {0: set(), 1: set()}, "flags": {0: set(), 1: set()}})
        c["streams"].add(stream)
        c["senders"][d].add(sender)
        if seg.get("status.conflict") == "1":
            c["flags"][d].add("conflict")
        if seg.get("status.out_of_window") == "1":
            c["flags"][d].add("out_of_window")
        if int(seg.get("captured_len", 0)) < int(seg.get("claimed_len", 0)):
            c["flags"][d].add("snaplen")
    return info


def compare(name, cap, extra, totals):
    frames = srtest.plugin_frames(cap, True, extra=extra)
    ours = srtest.streams(frames)
    fmap, with_data = senders(cap, extra)
    info = classify(frames, fmap)
    for key, s in ours.items():
        check(not s["bad_offsets"], "%s conn %d dir %d: chunk offsets not contiguous: %s"
              % (name, key[0], key[1], s["bad_offsets"][:3]))

    # stream -> its connections. Two connections of one zone on one stream
    # means the core completed the first (timeout, RST) and started again
    # where follow goes on: not comparable. Different zones (VLAN copies)
    # are each compared with the whole stream.
    by_stream = {}
    for conn, c in info.items():
        if isinstance(conn, tuple):
            continue
        if len(c["streams"]) != 1:
            totals["split"] += 1
            continue
        by_stream.setdefault(next(iter(c["streams"])), []).append(conn)
    for sid, conns in list(by_stream.items()):
        zones = [info[c]["zone"] for c in conns]
        if len(set(zones)) != len(zones):
            totals["split"] += len(conns)
            del by_stream[sid]
    wanted = sorted(s for s in with_data if s in by_stream)
    follow = srtest.follow_streams(cap, wanted, extra)
    stream_eps = {}
    for stream, sender in fmap.values():
        stream_eps.setdefault(stream, set()).add(sender)

    for sid in wanted:
        fs = follow.get(sid)
        if not check(fs is not None, "%s: no follow output for stream %d" % (name, sid)):
            continue
        if not check(stream_eps.get(sid, set()) <= set(fs["peers"]),
                     "%s: follow block taken for stream %d has peers %s, the stream's "
                     "senders are %s" % (name, sid, fs["peers"], stream_eps.get(sid))):
            continue
        for conn in by_stream[sid]:
            for d in (0, 1):
                compare_direction(name, sid, conn, d, fs, info, ours, totals)


def compare_direction(name, sid, conn, d, fs, info, ours, totals):
    key = (conn, d)
    where = "%s stream %d conn %d dir %d" % (name, sid, conn, d)
    peers = [i for i, p in enumerate(fs["peers"]) if p in info[conn]["senders"][d]]
    if len(peers) != 1:
        return  # this direction sent nothing
    o = ours.get(key, {"runs": [], "run_frames": [], "gaps": [], "end": 0})
    runs, gaps, fend = srtest.follow_direction(fs, peers[0])
    flags = info[conn]["flags"][d]
    late = fs["peers"][peers[0]] in info.get(("late", sid), set())
    if not runs and not gaps:
        if o["runs"] and ABI >= (4, 2) and (name, sid) in FOLLOW_NONE_SINCE_4_2:
            print("not compared: %s (follow of 4.2+ shows none of it)" % where)
            return
        check(not o["runs"] or "snaplen" in flags,
              "%s: the plugin delivered %d bytes, follow none"
              % (where, sum(len(b) for _, b in o["runs"])))
        return
    if "snaplen" in flags:
        totals["snaplen"] += 1       # Oracle 6: follow does not mark the cut
        return
    if "out_of_window" in flags:
        totals["out_of_window"] += 1  # dropped by max_window by design
        return
    oiv = covered(o["runs"])
    # A. every byte follow delivers, at the same offset
    if "conflict" in flags:
        totals["conflict"] += 1      # Oracle 3: a later in-order copy may win there
    else:
        bad = bytes_equal(o["runs"], runs)
        check(bad is None or (late and bad >= o["end"]),
              "%s: byte at offset %s differs from or is missing in follow's stream"
              % (where, bad))
    # B. inside follow's extent, the plugin skips what follow marks missing,
    # except holes a segment filled after follow had given them up (its gap
    # chunk names the packet; the plugin's bytes came at a later frame).
    hi = min(fend, o["end"]) if late else fend
    our_missing = missing(oiv, 0, hi)
    follow_missing = clip([(a, a + n) for a, n, _ in gaps], 0, hi)
    # every byte the plugin skips, follow lacks too
    check(not subtract(our_missing, follow_missing),
          "%s: the plugin skips %s where follow has bytes (follow marks %s)"
          % (where, subtract(our_missing, follow_missing)[:5], follow_missing[:5]))
    # every byte follow lacks, the plugin skips too, unless it came later
    for a, n, pkt in gaps:
        have = subtract(clip([(a, a + n)], 0, hi), our_missing)
        if not have:
            continue
        filled_at = [f for (off, b), f in zip(o["runs"], o["run_frames"])
                     if off < a + n and off + len(b) > a]
        if check(filled_at and min(filled_at) > pkt,
                 "%s: follow marks %d bytes missing at %d (packet %d), the plugin has "
                 "bytes %s there from frame(s) %s" % (where, n, a, pkt, have[:3],
                                                      filled_at[:3])):
            totals["late_fill"] += 1
    # C. nothing beyond follow's end unless a gap comes first
    if o["end"] > fend:
        tail_gaps = missing(oiv, fend, o["end"])
        check(tail_gaps and tail_gaps[0][0] == fend,
              "%s: the plugin delivers up to %d, follow up to %d, with no gap in between"
              % (where, o["end"], fend))
        totals["longer"] += 1
    elif o["end"] < fend:
        if check(late, "%s: the plugin ends at %d, follow at %d" % (where, o["end"], fend)):
            totals["late"] += 1
    totals["compared"] += 1
    totals["bytes"] += sum(len(b) for _, b in runs)
    totals["gaps"] += len(gaps)


def main():
    totals = dict(compared=0, bytes=0, gaps=0, conflict=0, snaplen=0, longer=0,
                  split=0, out_of_window=0, late=0, late_fill=0)
    caps = captures()
    check(len(caps) >= 30, "only %d third-party captures" % len(caps))
    for rel in caps:
        cap = srtest.stage(os.path.join(srtest.CAPTURES, "fidelity", rel),
                           rel.replace("/", "__"))
        compare(rel, cap, EXTRA.get(rel, []), totals)
    print("compared %(compared)d directions, %(bytes)d bytes, %(gaps)d follow gaps "
          "(%(late_fill)d filled by a later segment); bytes not compared (conflict) "
          "%(conflict)d; not compared: snaplen %(snaplen)d, out of window "
          "%(out_of_window)d, split connections %(split)d; longer than follow after a "
          "gap %(longer)d; shorter after the core completed the connection %(late)d"
          % totals)
    # The comparison must not pass by comparing nothing.
    check(totals["compared"] >= 150, "only %d directions compared" % totals["compared"])
    check(totals["gaps"] >= 20, "only %d follow gaps compared" % totals["gaps"])
    check(totals["bytes"] >= 1500000, "only %d bytes compared" % totals["bytes"])
    srtest.finish("plugin/follow")


if __name__ == "__main__":
    try:
        main()
    except srtest.TestFailure as e:
        print("FAIL: %s" % e)
        sys.exit(1)
