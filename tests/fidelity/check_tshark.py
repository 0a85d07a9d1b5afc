#!/usr/bin/env python3
"""check_tshark.py - compare every TCP direction that safereasm-pcap
delivers with Wireshark's own reassembly, `tshark -z follow,tcp,yaml,N`.

Usage: check_tshark.py CASE          (a name from cases.py)
       check_tshark.py --file PCAP   (no case rules: report only)

For each tshark stream and each peer: its bytes and its "[N bytes missing]"
markers (turned into N-byte holes) must equal our delivered bytes and our
skipped ranges, at the same stream offsets. Where tshark is known to be
wrong (MANIFEST "Oracle" section), the case says which rule applies and
why; nothing else is excused. Exit 0 when all agree, 1 otherwise.
"""

import argparse
import sys

import cases
import fidelity as F


def match_streams(tstreams, dirs):
    """Pair each (tshark stream, peer) with our directions: same endpoints;
    when a 4-tuple is reused, the n-th tshark stream with the n-th of our
    connections (per zone: tshark ignores VLAN ids, MANIFEST Oracle 8)."""
    by_tuple = {}
    for d in dirs:
        k = (F.expand_v6(d.src[0]), d.src[1], F.expand_v6(d.dst[0]), d.dst[1])
        by_tuple.setdefault(k, {}).setdefault(d.zone, []).append(d)
    for zones in by_tuple.values():
        for lst in zones.values():
            lst.sort(key=lambda d: d.conn_id)
    seen = {}
    pairs = []
    for sid in sorted(tstreams):
        ts = tstreams[sid]
        if len(ts.peers) != 2:
            continue
        for p in (0, 1):
            src, dst = ts.peers[p], ts.peers[1 - p]
            k = (F.expand_v6(src[0]), src[1], F.expand_v6(dst[0]), dst[1])
            n = seen.get(k, 0)
            seen[k] = n + 1
            ours = []
            for zone, lst in sorted(by_tuple.get(k, {}).items()):
                if n < len(lst):
                    ours.append(lst[n])
            pairs.append((ts, p, k, ours))
    matched = set(id(d) for _, _, _, ours in pairs for d in ours)
    unmatched = [d for d in dirs if id(d) not in matched]
    return pairs, unmatched


def holes_we_fill(mine, theirs):
    """Where tshark reports a hole and we have bytes, and everything else is
    equal over tshark's length: the list of (offset, bytes) we filled, else
    None. tshark 4.0 skips a segment that fills a hole after the receiver
    ACKed past it ("spurious retransmission"), although it is captured."""
    n = F.length(theirs)
    a = F.truncate(mine, n)
    if F.length(a) != n:
        return None

    def spans(c):
        out, pos = [], 0
        for k, v in c:
            size = len(v) if k == "d" else v
            out.append((pos, pos + size, k, v))
            pos += size
        return out
    filled = []
    sa, sb = spans(a), spans(theirs)
    cuts = sorted(set([x for s in sa for x in s[:2]] + [x for s in sb for x in s[:2]]))

    def at(sp, lo, hi):
        for s0, s1, k, v in sp:
            if s0 <= lo and hi <= s1:
                return k, (v[lo - s0:hi - s0] if k == "d" else None)
        raise AssertionError
    for lo, hi in zip(cuts, cuts[1:]):
        ka, va = at(sa, lo, hi)
        kb, vb = at(sb, lo, hi)
        if ka == "d" and kb == "d" and va != vb:
            return None
        if ka == "g" and kb == "d":
            return None
        if ka == "d" and kb == "g":
            if filled and filled[-1][0] + len(filled[-1][1]) == lo:
                filled[-1] = (filled[-1][0], filled[-1][1] + va)
            else:
                filled.append((lo, va))
    return filled


def captured_at(pcap, extra, stream, src_port, offset, data):
    """True if the capture holds a segment of tcp.stream `stream` from
    src_port whose payload, placed at its relative sequence number (offset
    + 1 after the SYN), covers `data` byte for byte."""
    rc, out, err = F.run([F.TSHARK, "-n", "-r", pcap] + list(extra) +
                         ["-Y", "tcp.stream == %d && tcp.srcport == %d && tcp.len > 0" % (stream, src_port),
                          "-T", "fields", "-e", "tcp.seq", "-e", "tcp.payload"])
    have = bytearray(len(data))
    got = [False] * len(data)
    for line in out.splitlines():
        f = line.split("\t")
        if len(f) < 2 or not f[1]:
            continue
        seq = int(f[0]) - 1
        pl = bytes.fromhex(f[1].replace(":", ""))
        for i in range(max(seq, offset), min(seq + len(pl), offset + len(data))):
            if not got[i - offset]:
                have[i - offset] = pl[i - seq]
                got[i - offset] = True
    return all(got) and bytes(have) == data


def check(pcap, case, verbose=True):
    ids, _frames = F.tshark_stream_ids(pcap, case.tshark_args)
    tstreams = F.tshark_follow(pcap, ids, case.tshark_args)
    dirs, stats, err = F.run_tool(pcap, *case.tool_args)
    pairs, unmatched = match_streams(tstreams, dirs)
    failures, compared, identical, excused = [], 0, 0, []
    for ts, p, k, ours in pairs:
        theirs = ts.canon(p)
        name = "stream %d %s:%d>%s:%d" % (ts.index, k[0], k[1], k[2], k[3])
        rule = case.rule_for(ts.index, p)
        if not ours:
            if F.length(theirs) == 0:
                continue
            if rule:
                excused.append("%s: no direction of ours (%s)" % (name, rule))
                continue
            failures.append("%s: tshark has %s, safereasm-pcap has nothing" % (name, F.describe(theirs)))
            continue
        for d in ours:
            mine = d.canon()
            compared += 1
            label = name + ("@%d" % d.zone if d.zone else "")
            diff = F.first_difference(mine, theirs)
            if diff is None:
                identical += 1
                continue
            if case.tail_ok and F.length(mine) > F.length(theirs) and \
                    F.truncate(mine, F.length(theirs)) == theirs:
                identical += 1
                excused.append("%s: identical over tshark's %d bytes; our %d more bytes after it are "
                               "not compared (%s)" % (label, F.length(theirs),
                                                      F.length(mine) - F.length(theirs), case.tail_ok))
                continue
            filled = holes_we_fill(mine, theirs)
            if filled and all(captured_at(pcap, case.tshark_args, ts.index, k[1], off, b) for off, b in filled) \
                    and (F.length(mine) == F.length(theirs) or case.tail_ok):
                identical += 1
                excused.append("%s: equal, except %d hole(s) tshark reports where the capture holds the bytes "
                               "(a late segment tshark calls a spurious retransmission; verified against the "
                               "captured payload at %s)" % (label, len(filled),
                                                            ",".join("%d+%d" % (o, len(b)) for o, b in filled)))
                continue
            if rule:
                excused.append("%s: differs (%s) -- %s" % (label, diff, rule))
                continue
            if case.prefix_ok and 0 < F.length(mine) < F.length(theirs) and \
                    F.truncate(theirs, F.length(mine)) == mine:
                excused.append("%s: our %d bytes are a prefix of tshark's %d (%s)" %
                               (label, F.length(mine), F.length(theirs), case.prefix_ok))
                continue
            failures.append("%s: %s\n      ours:   %s\n      tshark: %s" %
                            (label, diff, F.describe(mine), F.describe(theirs)))
    for d in unmatched:
        if d.delivered == 0:
            continue
        if case.extra_ok:
            excused.append("%s: %d bytes tshark does not follow (%s)" % (d.key, d.delivered, case.extra_ok))
        else:
            failures.append("%s: %d bytes delivered, but tshark follows no such stream" % (d.key, d.delivered))
    if verbose:
        for e in excused:
            F.say("  excused:", e)
        for f in failures:
            F.say("  FAIL:", f)
        if err.strip():
            F.say("  safereasm-pcap stderr:", err.strip().replace("\n", "\n    "))
    return compared, identical, failures, excused, dirs, stats


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("case", nargs="?")
    ap.add_argument("--file")
    a = ap.parse_args()
    if a.file:
        case = cases.Case("adhoc", a.file)
        pcap = a.file
    else:
        case = cases.get(a.case)
        pcap = case.path()
    compared, identical, failures, excused, dirs, stats = check(pcap, case)
    problems = list(failures)
    problems += case.check_extra(dirs, stats)
    for p in problems[len(failures):]:
        F.say("  FAIL:", p)
    F.say("%s: %d directions compared, %d identical, %d excused, %d failures" %
          (case.name, compared, identical, len(excused), len(problems)))
    if compared < case.min_compared:
        F.say("FAIL: expected at least %d compared directions" % case.min_compared)
        return 1
    return 1 if problems else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except F.Fail as e:
        print("FAIL:", e)
        sys.exit(1)
