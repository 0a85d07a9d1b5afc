#!/usr/bin/env python3
"""test_onepass.py - in one-pass tshark the plugin keeps no copy of released
bytes beyond the frame being dissected; with -2 it keeps them all, and
both show the same.

One-pass tshark dissects every frame once and keeps no earlier frame, so the
plugin frees what a frame's record copied (bytes released from the core's
pages) when the next frame is processed. It tells the programs apart through
Wireshark's own packet provider (driver.c, classify_frames) and says so in
its debug trace (--log-debug safereasm), one line per first-pass frame:
"first pass: frame N, ..., frames kept yes|no|unknown, copies held H".

On an out-of-order flood made here (40 connections each missing its first
1000-byte segment, 20 segments each; half get the hole filled at the end,
so 20 x 19,000 bytes are released from pages and copied):

- one pass: frames are "not kept" from frame 5 on; at every later frame the
  copies held are at most what that frame itself released from pages (its
  chunks' bytes), and zero at a frame that shows no chunk bytes, while
  safereasm.retained_bytes (the bound's count, unchanged) grows to the
  total; some frame did hold copies;
- two passes: frames are "kept"; the copies held never go down and end at
  the last retained_bytes; the second pass still shows every chunk's bytes
  (chunk data equal to the one-pass run's, frame by frame);
- the same, through the trace, for a display-filtered one-pass run (the
  previous displayed frame is not the previous frame).
"""

import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import srtest  # noqa: E402
from srtest import check  # noqa: E402
from test_retained import make_capture, chunk_key  # noqa: E402

TRACE = re.compile(r"first pass: frame (\d+), tree \w+, \d+ segment\(s\) fed, "
                   r"frames kept (\w+), copies held (\d+)")


def trace(cap, two_pass, extra=()):
    """{frame: (kept, held)} from the plugin's debug trace, and the PDML frames."""
    args = ["--log-debug", "safereasm", "-n", "-r", cap, "-T", "pdml", "-J", "safereasm"]
    if two_pass:
        args.append("-2")
    args += list(extra)
    p = srtest.tshark(args)
    out = {}
    for line in p.stderr.splitlines():
        m = TRACE.search(line)
        if m:
            out[int(m.group(1))] = (m.group(2), int(m.group(3)))
    # Nothing but the plugin's own trace on stderr (the probe's lookups of
    # frames one-pass tshark does not keep must not warn).
    others = [ln for ln in p.stderr.splitlines()
              if ln.strip() and "[safereasm DEBUG]" not in ln]
    check(not others, "unexpected stderr: %s" % others[:3])
    return out, srtest.parse_pdml(p.stdout)


def shown_bytes(fr):
    return sum(len(c["data"]) for c in fr.chunks if c["data"] and not c["end"])


def retained(fr):
    v = fr.fields.get("safereasm.retained_bytes", [])
    return int(v[-1]) if v else None


def main():
    d = srtest.scratch()
    cap = os.path.join(d, "ooo-medium.pcap")
    make_capture(cap)
    os.chmod(cap, 0o644)

    one, one_frames = trace(cap, False)
    check(len(one) > 100, "one pass: only %d frames traced" % len(one))
    peak, last_ret = 0, 0
    for num in sorted(one):
        kept, held = one[num]
        if num < 5:
            check(kept == "unknown", "one pass frame %d: frames kept %s before frame 5"
                  % (num, kept))
            continue
        check(kept == "no", "one pass frame %d: frames kept %s, expected no" % (num, kept))
        own = shown_bytes(one_frames[num])
        check(held <= own, "one pass frame %d: %d bytes of copies held, the frame shows "
              "only %d" % (num, held, own))
        peak = max(peak, held)
        r = retained(one_frames[num])
        if r is not None:
            last_ret = r
    check(peak > 0, "one pass: no frame held copies (the capture releases none?)")
    check(last_ret > 10 * peak, "one pass: retained_bytes %d, peak held %d: copies were kept"
          % (last_ret, peak))
    print("one pass: at most %d bytes of copies held at a time; retained_bytes ends at %d"
          % (peak, last_ret))

    two, two_frames = trace(cap, True)
    prev = 0
    for num in sorted(two):
        kept, held = two[num]
        if num >= 5:
            check(kept == "yes", "two passes frame %d: frames kept %s" % (num, kept))
        check(held >= prev, "two passes frame %d: copies held went down %d -> %d"
              % (num, prev, held))
        prev = held
    check(prev == last_ret, "two passes: %d bytes of copies held at the last frame, "
          "retained_bytes %d" % (prev, last_ret))
    # The second pass draws every chunk's bytes from the kept copies, as
    # the one pass drew them while they lasted.
    shown = 0
    for num in sorted(one_frames):
        a = [chunk_key(num, x) + (x["data"],) for x in one_frames[num].chunks]
        b = [chunk_key(num, x) + (x["data"],) for x in two_frames[num].chunks if not x["end"]]
        check(a == b, "frame %d: one pass and two passes show other chunks" % num)
        shown += shown_bytes(two_frames[num])
    check(shown >= last_ret, "two passes: %d chunk bytes shown, %d retained" % (shown, last_ret))
    print("two passes: copies held end at %d; %d chunk bytes shown in the second pass"
          % (prev, shown))

    # A display filter: the previous displayed frame stays frame 3 until
    # the releases, so the probe at frame 5 finds frame 3 ("kept", for now)
    # and the one at frame 8 knows better.
    filt, filt_frames = trace(cap, False, ["-Y", "frame.number <= 3 or safereasm.chunk"])
    check(filt[5][0] == "yes" and filt[8][0] == "no",
          "filtered one pass: frames kept %s at frame 5, %s at frame 8, expected yes, no"
          % (filt[5][0], filt[8][0]))
    check(all(k == "no" for n, (k, _) in filt.items() if n >= 8),
          "filtered one pass: not 'no' throughout from frame 8")
    for num in sorted(filt):
        kept, held = filt[num]
        if kept == "no" and num in filt_frames:
            check(held <= shown_bytes(filt_frames[num]), "filtered one pass frame %d: %d held"
                  % (num, held))
    srtest.finish("onepass")


if __name__ == "__main__":
    main()
