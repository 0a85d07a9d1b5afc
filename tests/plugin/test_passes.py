#!/usr/bin/env python3
"""test_passes.py - one pass, two passes and random access show the same.

For every capture (crafted and third-party): the plugin's part of the PDML
of a one-pass run equals that of a -2 run, frame by frame, once the
"End-of-capture flush" subtrees (safereasm.end_flush, two-pass only) are
removed; the two-pass run has at most the end flush in addition, and at
least one capture has one. If sharkd is installed, the frames it dissects
in a shuffled order (as the GUI does when you click around) show the same
items with the same labels as the one-pass run (the end flush aside), also
when another file was opened first in the same session.
"""

import json
import os
import random
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import srtest  # noqa: E402
from srtest import check  # noqa: E402



def prefs_for(rel):
    if rel.startswith("crafted/"):
        with open(os.path.join(srtest.CAPTURES, "crafted", "expected.json")) as f:
            return json.load(f).get(os.path.basename(rel), {}).get("prefs", {})
    return {}


def plugin_xml(cap, two_pass, prefs):
    """{frame: the safereasm items without end_flush, in order}, {frame: had end_flush}."""
    args = ["-n", "-r", cap, "-T", "pdml", "-J", "safereasm"] + srtest.pref_args(prefs)
    if two_pass:
        args.append("-2")
    root = ET.fromstring(srtest.tshark(args).stdout)
    out, ends, released = {}, {}, {}
    for pkt in root.findall("packet"):
        num = None
        for proto in pkt.findall("proto"):
            if proto.get("name") == "geninfo":
                num = int([f for f in proto.findall("field") if f.get("name") == "num"][0]
                          .get("show"))
        for proto in pkt.findall("proto"):
            if proto.get("name") != "safereasm":
                continue
            for f in list(proto.findall("field")):
                if f.get("name") == "safereasm.end_flush":
                    proto.remove(f)
                    ends[num] = True
            # safereasm.released_in is known only once the releasing frame
            # was seen: two-pass only (README), like the end flush.
            for seg in list(proto.iter("field")):
                for f in list(seg.findall("field")):
                    if f.get("name") == "safereasm.released_in":
                        seg.remove(f)
                        released[num] = True
            out[num] = [(proto.get("showname"),)] + [
                (f.get("name"), f.get("showname"), f.get("show"), f.get("value"))
                for f in proto.iter("field")]
    return out, ends, released


def pdml_labels(cap, prefs):
    """{frame: [(field, label)]} of the plugin's tree, one pass, in order."""
    args = ["-n", "-r", cap, "-T", "pdml", "-J", "safereasm"] + srtest.pref_args(prefs)
    root = ET.fromstring(srtest.tshark(args).stdout)
    out = {}
    for pkt in root.findall("packet"):
        num = None
        for proto in pkt.findall("proto"):
            if proto.get("name") == "geninfo":
                num = int([f for f in proto.findall("field") if f.get("name") == "num"][0]
                          .get("show"))
        for proto in pkt.findall("proto"):
            if proto.get("name") == "safereasm":
                out[num] = [("safereasm", proto.get("showname"))] + [
                    (f.get("name"), f.get("showname")) for f in proto.iter("field")
                    if not f.get("name", "").startswith("_ws.expert")]
    return out


def sharkd_labels(cap, prefs, frames, before=None):
    """{frame: [(field, label)]} of the plugin's tree as sharkd (the GUI's
    engine) shows it, frames asked for in the given order in one session,
    the end-of-capture flush subtree left out. None without sharkd.
    before: (capture, frames) to load and dissect first in the same session
    (the second load must start from an empty core)."""
    if shutil.which("sharkd") is None:
        return None
    reqs = []
    if before:
        reqs.append({"jsonrpc": "2.0", "id": 3, "method": "load",
                     "params": {"file": before[0]}})
        for n in before[1]:
            reqs.append({"jsonrpc": "2.0", "id": 4, "method": "frame",
                         "params": {"frame": n, "proto": True}})
    for k, v in sorted(prefs.items()):
        reqs.append({"jsonrpc": "2.0", "id": 2, "method": "setconf",
                     "params": {"name": "safereasm." + k, "value": str(v)}})
    reqs.append({"jsonrpc": "2.0", "id": 1, "method": "load", "params": {"file": cap}})
    for i, n in enumerate(frames):
        reqs.append({"jsonrpc": "2.0", "id": 100 + i, "method": "frame",
                     "params": {"frame": n, "proto": True}})
    env = dict(os.environ, SR_PLUGIN=srtest.PLUGIN, SR_PROGRAM="sharkd",
               SR_TSHARK_HOME=srtest.tshark_home())
    p = subprocess.run([srtest.HELPER, "-"], input="\n".join(json.dumps(r) for r in reqs)
                       + "\n", stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       universal_newlines=True, env=env, timeout=600)
    out = {}
    for line in p.stdout.splitlines():
        try:
            msg = json.loads(line)
        except ValueError:
            continue
        if not isinstance(msg, dict) or msg.get("id", 0) < 100 or "result" not in msg:
            continue
        labels = []

        def walk(nodes, inside):
            for node in nodes or []:
                f = node.get("f", "").split(" ")[0]
                if f in ("safereasm.end_flush", "safereasm.released_in"):
                    continue
                mine = inside or f == "safereasm"
                if mine and not f.startswith("_ws.expert"):
                    labels.append((f, node.get("l", "")))
                walk(node.get("n"), mine)
        walk(msg["result"].get("tree"), False)
        if labels:
            out[frames[msg["id"] - 100]] = labels
    return out


def main():
    caps = srtest.all_captures()
    check(len(caps) >= 35, "only %d captures" % len(caps))
    with_end = with_released = 0
    for rel in caps:
        cap = srtest.stage(os.path.join(srtest.CAPTURES, rel), rel.replace("/", "__"))
        prefs = prefs_for(rel)
        one, one_ends, one_rel = plugin_xml(cap, False, prefs)
        two, two_ends, two_rel = plugin_xml(cap, True, prefs)
        check(not one_rel, "%s: one-pass output has safereasm.released_in at %s"
              % (rel, sorted(one_rel)[:5]))
        with_released += bool(two_rel)
        check(not one_ends, "%s: one-pass output has an end-of-capture flush at %s"
              % (rel, sorted(one_ends)[:5]))
        with_end += bool(two_ends)
        check(sorted(one) == sorted(two), "%s: frames with the plugin differ: one-pass "
              "only %s, two-pass only %s" % (rel, sorted(set(one) - set(two))[:5],
                                             sorted(set(two) - set(one))[:5]))
        diff = [n for n in sorted(set(one) & set(two)) if one[n] != two[n]]
        check(not diff, "%s: one-pass and two-pass differ at frames %s" % (rel, diff[:10]))
    check(with_end >= 5, "only %d captures had an end-of-capture flush" % with_end)
    check(with_released >= 5, "only %d captures had safereasm.released_in" % with_released)

    # Random access (sharkd, the GUI's engine): frames asked for in a
    # shuffled order show what the sequential one-pass run showed.
    for rel in ("crafted/gap.pcap", "crafted/conflict.pcap", "crafted/limit-total.pcap",
                "crafted/edge.pcap", "fidelity/wireshark/tcp-badsegments.pcap"):
        cap = srtest.stage(os.path.join(srtest.CAPTURES, rel), rel.replace("/", "__"))
        prefs = prefs_for(rel)
        seq = pdml_labels(cap, prefs)
        frames = sorted(seq)
        random.Random(4).shuffle(frames)
        got = sharkd_labels(cap, prefs, frames)
        if got is None:
            print("sharkd not installed: random-access check skipped")
            break
        check(sorted(got) == sorted(seq), "%s: sharkd shows the plugin at %d frames, "
              "tshark at %d" % (rel, len(got), len(seq)))
        for n in frames:
            if n in got:
                bad = [(a, b) for a, b in zip(got[n], seq[n]) if a != b][:3]
                check(got[n] == seq[n], "%s frame %d: sharkd (random order) and tshark "
                      "differ: %s (lengths %d, %d)" % (rel, n, bad, len(got[n]), len(seq[n])))
    # Opening another file starts from an empty core (connection ids from 1,
    # no state of the first file): load limit-total.pcap with its small
    # limits, then gap.pcap with the defaults, in one sharkd session.
    first = srtest.stage(os.path.join(srtest.CAPTURES, "crafted/limit-total.pcap"),
                         "crafted__limit-total.pcap")
    cap = srtest.stage(os.path.join(srtest.CAPTURES, "crafted/gap.pcap"), "crafted__gap.pcap")
    seq = pdml_labels(cap, {})
    frames = sorted(seq)
    got = sharkd_labels(cap, {}, frames, before=(first, [11, 3, 12]))
    if got is not None:
        for n in frames:
            check(got.get(n) == seq[n], "gap.pcap frame %d after another file in the same "
                  "sharkd session differs from a fresh tshark run" % n)
    srtest.finish("plugin/passes")


if __name__ == "__main__":
    try:
        main()
    except srtest.TestFailure as e:
        print("FAIL: %s" % e)
        sys.exit(1)
