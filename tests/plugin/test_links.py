#!/usr/bin/env python3
"""test_links.py - frame links and one item per released run (issue 8).

- gap.pcap, two passes: frame 5's buffered segment links to frame 6, where
  its bytes were released (safereasm.released_in), and frame 6's run names
  frame 5 as its source with 5 bytes ("1 Reassembled TCP Segment (5 bytes):
  #5(5)"); one pass shows no safereasm.released_in.
- captures/real/harsh-s1-client.pcapng frame 193: one run of 9608 bytes
  from seven frames (the 1900-byte pages of the core never show), the
  sources' bytes adding up to the run.
- On every crafted capture and the two real ones: no two runs of one
  direction at one frame are contiguous (a gap or a change of the conflict
  flag is the only split); every run with data names its sources and their
  bytes add up to its length; every safereasm.released_in points at a later
  frame whose run names that segment's frame; safereasm.tcp_stream equals
  tcp.stream.
"""

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import srtest  # noqa: E402
from srtest import check  # noqa: E402


def prefs_for(rel):
    if rel.startswith("crafted/"):
        with open(os.path.join(srtest.CAPTURES, "crafted", "expected.json")) as f:
            return json.load(f).get(os.path.basename(rel), {}).get("prefs", {})
    return {}


def released_in(frames):
    out = {}
    for num, fr in frames.items():
        for v in fr.fields.get("safereasm.released_in", []):
            out[num] = int(v)
    return out


def main():
    gap = srtest.stage(os.path.join(srtest.CAPTURES, "crafted", "gap.pcap"))
    two = srtest.plugin_frames(gap, True)
    one = srtest.plugin_frames(gap, False)
    check(released_in(two).get(5) == 6, "gap.pcap: frame 5 released_in %s, expected 6"
          % released_in(two).get(5))
    check(not released_in(one), "gap.pcap one pass: released_in at %s" % released_in(one))
    runs6 = [c for c in two[6].chunks if c["len"]]
    check([c["srcs"] for c in runs6] == [[(5, 5)]], "gap.pcap frame 6: sources %s, expected "
          "[[(5, 5)]]" % [c["srcs"] for c in runs6])
    label = [x for x in srtest.tshark(["-n", "-r", gap, "-2", "-Y", "frame.number == 6", "-O",
                                       "safereasm", "-V"]).stdout.splitlines()
             if "Reassembled TCP Segment" in x]
    check(label and label[0].strip() == "[1 Reassembled TCP Segment (5 bytes): #5(5)]",
          "gap.pcap frame 6: label %s" % label)

    harsh = srtest.stage(os.path.join(srtest.CAPTURES, "real", "harsh-s1-client.pcapng"))
    hf = srtest.plugin_frames(harsh, True, extra=["-Y", "frame.number == 193"])
    runs = [c for c in hf[193].chunks if c["len"]] if 193 in hf else []
    check(len(runs) == 1 and runs[0]["len"] == 9608,
          "harsh-s1-client frame 193: runs %s, expected one of 9608 bytes"
          % [(c["offset"], c["len"]) for c in runs])
    if runs:
        check(len(runs[0]["srcs"]) == 7 and sum(b for _, b in runs[0]["srcs"]) == 9608,
              "harsh-s1-client frame 193: sources %s" % runs[0]["srcs"])

    caps = [r for r in srtest.all_captures() if r.startswith("crafted/")]
    caps += ["real/harsh-s1-client.pcapng", "real/mild-s1-server.pcapng"]
    for rel in caps:
        cap = srtest.stage(os.path.join(srtest.CAPTURES, rel), rel.replace("/", "__"))
        frames = srtest.plugin_frames(cap, True, prefs_for(rel))
        for num, fr in sorted(frames.items()):
            last = {}
            for c in fr.chunks:
                key = (c["end"], c["conn_id"], c["dir"])
                p = last.get(key)
                if p is not None and c["len"]:
                    check(c["skipped"] or p["offset"] + p["len"] != c["offset"] or
                          (p["flags"] ^ c["flags"]) & 0x04,
                          "%s frame %d: run at %d continues the run at %d (one item per run)"
                          % (rel, num, c["offset"], p["offset"]))
                if c["len"]:
                    last[key] = c
                    check(c["srcs"] and all(b for _, b in c["srcs"]) and
                          sum(b for _, b in c["srcs"]) == c["len"],
                          "%s frame %d: run of %d bytes at %d has sources %s"
                          % (rel, num, c["len"], c["offset"], c["srcs"]))
        for seg_frame, rel_frame in sorted(released_in(frames).items()):
            srcs = [f for c in frames.get(rel_frame, srtest.Frame(0)).chunks
                    for f, _ in c["srcs"]]
            check(rel_frame >= seg_frame and seg_frame in srcs,
                  "%s: frame %d released_in %d, whose runs name %s"
                  % (rel, seg_frame, rel_frame, srcs))
        text = srtest.tshark(["-n", "-r", cap, "-T", "fields", "-E", "occurrence=f",
                              "-e", "frame.number", "-e", "tcp.stream",
                              "-e", "safereasm.tcp_stream"] + srtest.pref_args(prefs_for(rel))
                             ).stdout
        bad = [line for line in text.splitlines()
               if len(line.split("\t")) == 3 and line.split("\t")[2] and
               line.split("\t")[1] != line.split("\t")[2]]
        check(not bad, "%s: safereasm.tcp_stream differs from tcp.stream: %s" % (rel, bad[:3]))
    srtest.finish("plugin/links")


if __name__ == "__main__":
    try:
        main()
    except srtest.TestFailure as e:
        print("FAIL: %s" % e)
        sys.exit(1)
