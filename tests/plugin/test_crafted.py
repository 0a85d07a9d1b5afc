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
"""

import json
import os
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
