#!/usr/bin/env python3
"""test_crafted.py - the crafted captures select the right frames.

For each capture in captures/crafted/expected.json (written by
captures/crafted/make-crafted.py next to the captures, with frame numbers
taken from the writer): every display filter selects exactly the listed
frames, in one pass and with -2 (plus the filters that differ between the
two, which is only the end-of-capture flush); for every counter that moves,
-Y safereasm.change.<counter> selects exactly the frames where its global
snapshot differs from the previous frame's; each connection direction
delivers exactly the expected bytes with the expected gap total; stream
offsets are contiguous; and the limits hold at every frame.
Where expected.json says so: each connection direction ends with the
expected dropped bytes and segments (on its last segment, in its closed
record, and summed over its segments); the connection ids on each listed
4-tuple are exactly the expected ones; an expert info's text says the
expected thing; and the delivered bytes equal tshark's own
`-z follow,tcp,raw` of the mapped tcp.stream.
"""

import json
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import srtest  # noqa: E402
from srtest import check  # noqa: E402


def selected(cap, flt, prefs, two_pass):
    args = ["-n", "-r", cap, "-Y", flt, "-T", "fields", "-e", "frame.number"]
    args += srtest.pref_args(prefs)
    if two_pass:
        args.append("-2")
    out = srtest.tshark(args).stdout
    return sorted(int(x) for x in out.split())


def check_filters(name, cap, exp):
    prefs = exp.get("prefs", {})
    for mode, two_pass in (("one-pass", False), ("two-pass", True)):
        filters = dict(exp.get("filters", {}))
        filters.update(exp.get("filters_two_pass" if two_pass else "filters_one_pass", {}))
        for flt, frames in sorted(filters.items()):
            got = selected(cap, flt, prefs, two_pass)
            check(got == sorted(frames), "%s %s: -Y '%s' selects %s, expected %s"
                  % (name, mode, flt, got, sorted(frames)))


def check_streams(name, frames, exp):
    got = srtest.streams(frames)
    want = {}
    for conn, dirs in exp.get("streams", {}).items():
        for d, s in dirs.items():
            want[(int(conn), 0 if d == "c2s" else 1)] = s
    for key, s in sorted(want.items()):
        g = got.get(key, {"data": b"", "skipped": 0, "bad_offsets": []})
        check(g["data"].hex() == s["data"],
              "%s conn %d dir %d: delivered %r, expected %r"
              % (name, key[0], key[1], g["data"][:80], bytes.fromhex(s["data"])[:80]))
        check(g["skipped"] == s["skipped"], "%s conn %d dir %d: skipped %d, expected %d"
              % (name, key[0], key[1], g["skipped"], s["skipped"]))
        check(not g["bad_offsets"], "%s conn %d dir %d: offsets not contiguous: %s"
              % (name, key[0], key[1], g["bad_offsets"][:5]))
    for key in sorted(set(got) - set(want)):
        if got[key]["data"] or got[key]["skipped"]:
            check(False, "%s: unexpected data for conn %d dir %d: %r"
                  % (name, key[0], key[1], got[key]["data"][:40]))


def check_limits(name, frames, exp):
    def seg_max(field):
        return max([int(s.get(field, 0)) for f in frames.values() for s in f.segs] or [0])

    def glob_max(counter):
        vals = [f.glob.get(counter, 0) for f in frames.values() if f.glob]
        vals += [f.end_glob.get(counter, 0) for f in frames.values() if f.end_glob]
        return max(vals or [0])

    if "max_conn_pages" in exp:
        check(seg_max("conn.pages") == exp["max_conn_pages"],
              "%s: largest per-connection page count %d, expected exactly %d"
              % (name, seg_max("conn.pages"), exp["max_conn_pages"]))
    if "max_pages_in_use" in exp:
        check(glob_max("pages_in_use") == exp["max_pages_in_use"],
              "%s: largest pages_in_use %d, expected exactly %d"
              % (name, glob_max("pages_in_use"), exp["max_pages_in_use"]))
    if "max_active" in exp:
        check(glob_max("active_connections") == exp["max_active"],
              "%s: largest active_connections %d, expected exactly %d"
              % (name, glob_max("active_connections"), exp["max_active"]))


def check_dropped(name, mode, frames, exp):
    """Per connection direction: [bytes, segments] dropped. The core's totals
    on the connection's last segment and in its closed records, the sum of
    safereasm.dropped_len and the number of status.dropped segments."""
    for conn, dirs in sorted(exp.get("dropped", {}).items()):
        conn = int(conn)
        segs = [(num, s) for num in sorted(frames) for s in frames[num].segs
                if int(s.get("conn_id", 0)) == conn]
        closes = [c for f in frames.values() for c in f.closes if c.get("conn_id") == conn]
        if not check(segs, "%s %s: no segment of connection %d" % (name, mode, conn)):
            continue
        last = segs[-1][1]
        for d, (nbytes, nsegs) in sorted(dirs.items()):
            dn = 0 if d == "c2s" else 1
            mine = [s for _, s in segs if int(s.get("dir", -1)) == dn]
            for field, want in (("dropped_" + d, nbytes), ("dropped_segments_" + d, nsegs)):
                got = int(last.get("conn." + field, -1))
                check(got == want, "%s %s conn %d: last segment (frame %d) shows conn.%s = "
                      "%d, expected %d" % (name, mode, conn, segs[-1][0], field, got, want))
                for c in closes:
                    check(c.get(field) == want, "%s %s conn %d: closed.%s = %s, expected %d"
                          % (name, mode, conn, field, c.get(field), want))
            total = sum(int(s.get("dropped_len", 0)) for s in mine)
            marked = sum(1 for s in mine if s.get("status.dropped") == "1")
            check(total == nbytes, "%s %s conn %d %s: dropped_len sums to %d, expected %d"
                  % (name, mode, conn, d, total, nbytes))
            check(marked == nsegs, "%s %s conn %d %s: %d segments marked dropped, expected "
                  "%d" % (name, mode, conn, d, marked, nsegs))
        check(closes or mode == "one-pass", "%s %s: connection %d has no closed record"
              % (name, mode, conn))


def check_conn_ids(name, cap, exp):
    """The connection ids the plugin gives the segments a filter selects
    (a 4-tuple): exactly the expected ones."""
    for flt, ids in sorted(exp.get("conn_ids", {}).items()):
        out = srtest.tshark(["-n", "-r", cap, "-Y", flt, "-T", "fields",
                             "-e", "safereasm.conn_id"] + srtest.pref_args(exp.get("prefs"))
                            + ["-2"]).stdout
        got = sorted({int(x) for line in out.split() for x in line.split(",") if x})
        check(got == sorted(ids), "%s: '%s' has connection ids %s, expected %s"
              % (name, flt, got, sorted(ids)))


def check_experts(name, cap, exp):
    """An expert info at a frame whose text contains the expected words."""
    for frame, words in exp.get("expert_text", []):
        out = srtest.tshark(["-n", "-r", cap, "-Y", "frame.number == %d" % frame,
                             "-T", "fields", "-E", "aggregator=|", "-e", "_ws.expert.message"]
                            + srtest.pref_args(exp.get("prefs"))).stdout
        msgs = out.strip().split("|")
        check(any(words in m for m in msgs), "%s frame %d: no expert info says %r (got %s)"
              % (name, frame, words, msgs))


def follow_raw(cap, stream, prefs):
    """{(host, port): bytes} from tshark -z follow,tcp,raw,N (tshark's own
    reassembly): node 0's data is not indented, node 1's is after a tab."""
    text = srtest.tshark(["-n", "-r", cap, "-q", "-z", "follow,tcp,raw,%d" % stream]
                         + srtest.pref_args(prefs)).stdout
    nodes, data = {}, {0: b"", 1: b""}
    for line in text.splitlines():
        m = re.match(r"Node ([01]): (.*):(\d+)$", line)
        if m:
            nodes[int(m.group(1))] = (m.group(2), int(m.group(3)))
        elif re.match(r"^\t?[0-9a-f]+$", line):
            data[1 if line.startswith("\t") else 0] += bytes.fromhex(line.strip())
    return {nodes[k]: v for k, v in data.items() if k in nodes}


def check_follow(name, cap, frames, exp):
    """Each listed connection delivers, per direction, exactly the bytes
    tshark's Follow TCP Stream shows for the tcp.streams its frames are in
    (one in 4.0; Wireshark 4.2 and later start a new tcp.stream at a
    SYN-ACK with another ISN, so synack-isn.pcap's server data is in the
    second one there: each endpoint's bytes are those streams' in order)."""
    if not exp.get("follow"):
        return
    got = srtest.streams(frames)
    out = srtest.tshark(["-n", "-r", cap, "-T", "fields", "-e", "frame.number", "-e", "ip.src",
                         "-e", "tcp.srcport", "-e", "tcp.stream"]
                        + srtest.pref_args(exp.get("prefs"))).stdout
    sender, tcp_stream = {}, {}
    for line in out.splitlines():
        parts = line.split("\t")
        if len(parts) == 4 and parts[2]:
            sender[int(parts[0])] = (parts[1], int(parts[2]))
            tcp_stream[int(parts[0])] = int(parts[3])
    for conn in sorted(int(c) for c in exp["follow"]):
        ids = sorted({tcp_stream[num] for num in frames for s in frames[num].segs
                      if int(s.get("conn_id", 0)) == conn and num in tcp_stream})
        check(exp["follow"][str(conn)] in ids, "%s: conn %d is not in tcp.stream %s (%s)"
              % (name, conn, exp["follow"][str(conn)], ids))
        fol = {}
        for stream in ids:
            part = follow_raw(cap, stream, exp.get("prefs"))
            check(len(part) == 2, "%s: follow of tcp.stream %d shows nodes %s"
                  % (name, stream, sorted(part)))
            for ep, data in part.items():
                fol[ep] = fol.get(ep, b"") + data
        for dn in (0, 1):
            ends = {sender.get(num) for num in frames for s in frames[num].segs
                    if int(s.get("conn_id", 0)) == conn and int(s.get("dir", -1)) == dn}
            ends.discard(None)
            if not check(len(ends) == 1, "%s conn %d dir %d: sent from %s, expected one "
                         "endpoint" % (name, conn, dn, sorted(ends))):
                continue
            want = fol.get(ends.pop(), b"")
            mine = got.get((conn, dn), {"data": b""})["data"]
            check(len(want) > 0, "%s: follow shows no data for conn %d dir %d"
                  % (name, conn, dn))
            check(mine == want, "%s conn %d dir %d: plugin delivered %d bytes, follow,tcp,raw "
                  "shows %d (first difference at %s)"
                  % (name, conn, dn, len(mine), len(want),
                     next((i for i, (a, b) in enumerate(zip(mine, want)) if a != b),
                          min(len(mine), len(want)))))


def check_changes(name, cap, frames, prefs):
    """safereasm.change.<counter> is the difference to the previous frame's
    snapshot (recomputed here from safereasm.global.*), and the display
    filter on it selects exactly the frames where the counter moved."""
    prev = {}
    moved = {}
    for num in sorted(frames):
        fr = frames[num]
        if not fr.glob:
            continue
        for k, v in fr.glob.items():
            d = v - prev.get(k, 0)
            check(fr.change.get(k, 0) == d, "%s frame %d: safereasm.change.%s = %s, the "
                  "snapshots differ by %d" % (name, num, k, fr.change.get(k), d))
            if d:
                moved.setdefault(k, []).append(num)
        prev = fr.glob
    for counter, nums in sorted(moved.items()):
        got = selected(cap, "safereasm.change." + counter, prefs, False)
        check(got == nums, "%s: -Y safereasm.change.%s selects %s, the counter moved at %s"
              % (name, counter, got, nums))
    return len(moved)


def main():
    folder = os.path.join(srtest.CAPTURES, "crafted")
    with open(os.path.join(folder, "expected.json")) as f:
        expected = json.load(f)
    check(len(expected) >= 5, "expected.json lists %d captures" % len(expected))
    for name, exp in sorted(expected.items()):
        cap = srtest.stage(os.path.join(folder, name))
        prefs = exp.get("prefs", {})
        one = srtest.plugin_frames(cap, False, prefs)
        two = srtest.plugin_frames(cap, True, prefs)
        check_filters(name, cap, exp)
        check_streams(name, two, exp)
        check_dropped(name, "one-pass", one, exp)
        check_dropped(name, "two-pass", two, exp)
        check_conn_ids(name, cap, exp)
        check_experts(name, cap, exp)
        check_follow(name, cap, two, exp)
        check_limits(name, one, exp)
        check(check_changes(name, cap, one, prefs) >= 3,
              "%s: fewer than 3 counters moved" % name)
        check_limits(name, two, exp)
        if "one_pass_pages_at_end" in exp:
            last = max(n for n, f in one.items() if f.glob)
            check(one[last].glob["pages_in_use"] == exp["one_pass_pages_at_end"],
                  "%s one-pass: pages_in_use at the last frame %d, expected %d"
                  % (name, one[last].glob["pages_in_use"], exp["one_pass_pages_at_end"]))
        ends = [f.end_glob for f in two.values() if f.end_glob]
        check(len(ends) == 1, "%s two-pass: %d end-of-capture snapshots, expected 1"
              % (name, len(ends)))
        if ends:
            check(ends[0].get("pages_in_use") == 0,
                  "%s two-pass: pages_in_use after the end flush is %s, expected 0"
                  % (name, ends[0].get("pages_in_use")))
    srtest.finish("plugin/crafted")


if __name__ == "__main__":
    try:
        main()
    except srtest.TestFailure as e:
        print("FAIL: %s" % e)
        sys.exit(1)
