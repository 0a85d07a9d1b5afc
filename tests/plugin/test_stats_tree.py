#!/usr/bin/env python3
"""test_stats_tree.py - tshark -z safereasm,tree agrees with the fields.

Over a whole capture the tree's counts equal the global snapshot fields
(safereasm.global.*) of the last frame in a one-pass run, and the snapshot
after the end-of-capture flush in a -2 run. With a filter, each count equals
the sum of safereasm.change.* over the frames the filter selects, and each
level (pages_in_use, active_connections, the peaks) its value at the last
selected frame. Every
counter of the core header appears exactly once, under the group the issue
asks for.
"""

import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import srtest  # noqa: E402
from srtest import check  # noqa: E402

# counter -> the counter it is listed under (None: top level), and the
# order of the top-level rows (README, "Statistics tree").
PARENT = {
    "packets_processed": None, "out_of_order_segments": "packets_processed",
    "retransmissions": "packets_processed", "overlaps": "packets_processed",
    "overlap_conflicts": "packets_processed", "out_of_window": "packets_processed",
    "before_start": "packets_processed", "isn_changes": "packets_processed",
    "after_close": "packets_processed",
    "bytes_processed": None, "bytes_delivered": "bytes_processed",
    "bytes_dropped": "bytes_processed", "bytes_skipped": None,
    "total_created": None, "active_connections": "total_created",
    "peak_connections": "total_created", "closed": "total_created",
    "evictions": "total_created", "timeouts": "total_created",
    "nil_streams": "total_created", "connections_flushed": None,
    "pages_peak": None, "pages_in_use": "pages_peak",
    "limit_hits_connection": "pages_peak", "limit_hits_total": "pages_peak",
    "errors": None, "no_memory": "errors", "callback_errors": "errors",
}
TOP_ORDER = ["packets_processed", "bytes_processed", "bytes_skipped", "total_created",
             "connections_flushed", "pages_peak", "errors"]

CASES = [
    ("crafted/limit-per-connection.pcap", {"page_size": 100,
                                           "max_buffered_pages_per_connection": 3}),
    ("crafted/limit-total.pcap", {"page_size": 100, "max_buffered_pages_per_connection": 3,
                                  "max_buffered_pages_total": 4}),
    ("crafted/evict.pcap", {"max_connections": 2, "closed_linger": 0}),
    ("crafted/gap.pcap", {}),
    ("crafted/conflict.pcap", {}),
    ("crafted/midstream-reorder.pcap", {}),
    ("crafted/synack-isn.pcap", {}),
    ("crafted/late-syn.pcap", {}),
    ("fidelity/zeek/tcp/reassembly.pcap", {}),
    ("fidelity/wireshark/tcp-badsegments.pcap", {}),
    ("fidelity/suricata-verify/tcp-rst-unacked-stream-12/"
     "TLPW1-tcp-110.37.219.134-10.12.14.101-tcp-990-49254.pcap", {}),
    ("fidelity/wireshark/tls-fragmented-handshakes.pcap.gz", {}),
]

FILTERS = ["safereasm.status.out_of_order", "safereasm.chunk.skipped > 0",
           "safereasm.conn_id == 1", "frame.number <= 10"]


def parse_tree(text):
    """{counter: (count, parent counter or None)} from the tree output, and
    the top-level counters in order."""
    out, top = {}, []
    stack = []   # (indent, counter)
    for line in text.splitlines():
        m = re.match(r"^( *)(.*?)\s{2,}(-?\d+)\s", line)
        if not m or line.startswith(("Topic", "=", "-")):
            continue
        indent, label, count = len(m.group(1)), m.group(2), int(m.group(3))
        c = re.search(r" \((\w+)\)$", label)
        name = c.group(1) if c else label
        while stack and stack[-1][0] >= indent:
            stack.pop()
        parent = stack[-1][1] if stack else None
        if indent == 0:
            top.append(name)
        stack.append((indent, name))
        if name in out:
            out[name + "#dup"] = (count, parent)
        out[name] = (count, parent)
    return out, top


def shown(name, snap_or_sum):
    """What the tree shows for a counter: errors without the late segments
    (after_close has its own row)."""
    if name == "errors":
        return snap_or_sum["errors"] - snap_or_sum["after_close"]
    return snap_or_sum.get(name)


def frames_selected(cap, flt, prefs):
    out = srtest.tshark(["-n", "-r", cap, "-Y", flt, "-T", "fields", "-e", "frame.number"]
                        + srtest.pref_args(prefs)).stdout
    return {int(x) for x in out.split()}


def main():
    names = srtest.counter_names()
    checked = 0
    for rel, prefs in CASES:
        cap = srtest.stage(os.path.join(srtest.CAPTURES, rel), rel.replace("/", "__"))
        p = srtest.pref_args(prefs)
        one = srtest.plugin_frames(cap, False, prefs)
        two = srtest.plugin_frames(cap, True, prefs)
        last = one[max(n for n, f in one.items() if f.glob)].glob
        ends = [f.end_glob for f in two.values() if f.end_glob]
        after = ends[0] if ends else two[max(n for n, f in two.items() if f.glob)].glob

        tree1, top1 = parse_tree(srtest.tshark(["-n", "-r", cap, "-q", "-z",
                                                "safereasm,tree"] + p).stdout)
        tree2, _ = parse_tree(srtest.tshark(["-n", "-r", cap, "-q", "-2", "-z",
                                             "safereasm,tree"] + p).stdout)
        check([t for t in top1 if t in TOP_ORDER] == TOP_ORDER,
              "%s: top-level rows %s, expected the order %s" % (rel, top1, TOP_ORDER))
        for mode, tree, snap in (("one-pass", tree1, last), ("two-pass", tree2, after)):
            dups = [k for k in tree if k.endswith("#dup")]
            check(not dups, "%s %s: counters listed twice: %s" % (rel, mode, dups))
            for name in names:
                if not check(name in tree, "%s %s: %s not in the tree" % (rel, mode, name)):
                    continue
                check(tree[name][0] == shown(name, snap),
                      "%s %s: tree %s = %d, last snapshot field %s"
                      % (rel, mode, name, tree[name][0], shown(name, snap)))
                checked += 1
            for name, parent in PARENT.items():
                if name in tree:
                    check(tree[name][1] == parent, "%s: %s is under %r, expected %r"
                          % (rel, name, tree[name][1], parent))
            for name, (count, parent) in tree.items():
                if name.startswith("closed_"):
                    check(parent == "closed", "%s: %s is under %r" % (rel, name, parent))
        # Buffered pages left at the end: reported in one pass, zero after
        # the end flush.
        check(tree2["pages_in_use"][0] == 0, "%s: pages_in_use after -2 is %d"
              % (rel, tree2["pages_in_use"][0]))

        for flt in FILTERS:
            sel = frames_selected(cap, flt, prefs)
            want = {n: 0 for n in names}
            for num in sel:
                for k, v in one[num].change.items():
                    want[k] += v
            # Levels (gauges and peaks) show their value after the last
            # selected frame instead of a sum.
            with_rec = [n for n in sel if one[n].glob]
            for name in names:
                if name in ("pages_in_use", "active_connections") or "peak" in name:
                    want[name] = one[max(with_rec)].glob[name] if with_rec else 0
            tree, _ = parse_tree(srtest.tshark(["-n", "-r", cap, "-q", "-z",
                                                "safereasm,tree," + flt] + p).stdout)
            for name in names:
                check(tree.get(name, (None,))[0] == shown(name, want),
                      "%s, filter %r: tree %s = %s, sum of safereasm.change.%s over %d "
                      "frames = %d" % (rel, flt, name, tree.get(name, (None,))[0], name,
                                       len(sel), shown(name, want)))
    check(checked >= len(CASES) * len(names) * 2,
          "only %d counter comparisons" % checked)
    srtest.finish("plugin/stats-tree")


if __name__ == "__main__":
    try:
        main()
    except srtest.TestFailure as e:
        print("FAIL: %s" % e)
        sys.exit(1)
