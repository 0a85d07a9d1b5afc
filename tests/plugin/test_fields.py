#!/usr/bin/env python3
"""test_fields.py - every field is registered, with its type, and documented.

The expected list is this file's FIXED table plus, for every counter in the
core header's SR_POOL_STATS_MAP and SR_ASSEMBLER_STATS_MAP (parsed from
core/include/safereasm.h, not from the plugin), safereasm.global.<name>
(FT_UINT64) and safereasm.change.<name> (FT_INT64). tshark -G fields must
list exactly these under the safereasm protocol, each once, and
docs/plugin.md must name each of them.
"""

import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import srtest  # noqa: E402
from srtest import check  # noqa: E402

FIXED = {
    "safereasm.segment": "FT_NONE",
    "safereasm.conn_id": "FT_UINT64",
    "safereasm.retained_bytes": "FT_UINT64",
    "safereasm.dir": "FT_UINT8",
    "safereasm.zone": "FT_UINT32",
    "safereasm.captured_len": "FT_UINT32",
    "safereasm.claimed_len": "FT_UINT32",
    "safereasm.dropped_len": "FT_UINT32",
    "safereasm.payload_source": "FT_UINT8",
    "safereasm.status": "FT_UINT16",
    "safereasm.error": "FT_UINT8",
    "safereasm.conn.pages": "FT_UINT32",
    "safereasm.conn.delivered_c2s": "FT_UINT64",
    "safereasm.conn.delivered_s2c": "FT_UINT64",
    "safereasm.conn.skipped_c2s": "FT_UINT64",
    "safereasm.conn.skipped_s2c": "FT_UINT64",
    "safereasm.conn.dropped_c2s": "FT_UINT64",
    "safereasm.conn.dropped_s2c": "FT_UINT64",
    "safereasm.conn.dropped_segments_c2s": "FT_UINT64",
    "safereasm.conn.dropped_segments_s2c": "FT_UINT64",
    "safereasm.conn.close_reason": "FT_UINT8",
    "safereasm.segments_ignored": "FT_UINT8",
    "safereasm.limit.connection": "FT_BOOLEAN",
    "safereasm.limit.total": "FT_BOOLEAN",
    "safereasm.limit.table": "FT_BOOLEAN",
    "safereasm.delivered": "FT_UINT64",
    "safereasm.skipped": "FT_UINT64",
    "safereasm.tcp_stream": "FT_UINT32",
    "safereasm.released_in": "FT_FRAMENUM",
    "safereasm.chunk.frames": "FT_NONE",
    "safereasm.chunk.frame": "FT_FRAMENUM",
    "safereasm.chunk.frame_count": "FT_UINT32",
    "safereasm.chunk": "FT_NONE",
    "safereasm.chunk.conn_id": "FT_UINT64",
    "safereasm.chunk.dir": "FT_UINT8",
    "safereasm.chunk.offset": "FT_UINT64",
    "safereasm.chunk.len": "FT_UINT64",
    "safereasm.chunk.skipped": "FT_UINT64",
    "safereasm.chunk.flags": "FT_UINT8",
    "safereasm.chunk.data": "FT_BYTES",
    "safereasm.chunk.data_dropped": "FT_BOOLEAN",
    "safereasm.closed": "FT_NONE",
    "safereasm.closed.conn_id": "FT_UINT64",
    "safereasm.closed.reason": "FT_UINT8",
    "safereasm.closed.delivered_c2s": "FT_UINT64",
    "safereasm.closed.delivered_s2c": "FT_UINT64",
    "safereasm.closed.skipped_c2s": "FT_UINT64",
    "safereasm.closed.skipped_s2c": "FT_UINT64",
    "safereasm.closed.dropped_c2s": "FT_UINT64",
    "safereasm.closed.dropped_s2c": "FT_UINT64",
    "safereasm.closed.dropped_segments_c2s": "FT_UINT64",
    "safereasm.closed.dropped_segments_s2c": "FT_UINT64",
    "safereasm.end_flush": "FT_NONE",
    "safereasm.global": "FT_NONE",
    "safereasm.change": "FT_NONE",
    "safereasm.divergence": "FT_NONE",
    "safereasm.divergence.released_in": "FT_FRAMENUM",
    "safereasm.divergent_release": "FT_NONE",
    "safereasm.divergence.conn_id": "FT_UINT64",
    "safereasm.divergence.dir": "FT_UINT8",
    "safereasm.divergence.offset": "FT_UINT64",
    "safereasm.divergence.len": "FT_UINT64",
    "safereasm.divergence.groups": "FT_UINT8",
    "safereasm.divergence.group": "FT_NONE",
    "safereasm.divergence.policies": "FT_STRING",
    "safereasm.divergence.bytes": "FT_BYTES",
    "safereasm.divergence.segment": "FT_FRAMENUM",
}
STATUS_BITS = ["in_order", "out_of_order", "retransmission", "overlap", "conflict",
               "limit_connection", "limit_total", "evicted_other", "after_close",
               "out_of_window", "new_connection", "closed", "dropped", "before_start",
               "isn_changed"]
CHUNK_FLAGS = ["start", "end", "conflict", "buffered", "flushed"]
EXPERT = ["conflict", "limit_connection", "limit_total", "limit_table", "skipped", "error",
          "evicted", "timeout", "dropped", "isn_changed", "divergence", "retained_limit", "no_memory"]


def expected():
    exp = dict(FIXED)
    for b in STATUS_BITS:
        exp["safereasm.status." + b] = "FT_BOOLEAN"
    for b in CHUNK_FLAGS:
        exp["safereasm.chunk.flags." + b] = "FT_BOOLEAN"
    for e in EXPERT:
        exp["safereasm.expert." + e] = "FT_NONE"
    for name in srtest.counter_names():
        exp["safereasm.global." + name] = "FT_UINT64"
        exp["safereasm.change." + name] = "FT_INT64"
    return exp


def main():
    exp = expected()
    check(len(srtest.counter_names()) >= 30,
          "only %d counters parsed from the header" % len(srtest.counter_names()))
    out = srtest.tshark(["-G", "fields"]).stdout
    got = {}
    dups = []
    for line in out.splitlines():
        cols = line.split("\t")
        if len(cols) >= 5 and cols[0] == "F" and cols[4] == "safereasm":
            if cols[2] in got:
                dups.append(cols[2])
            got[cols[2]] = cols[3]
    check(not dups, "registered more than once: %s" % dups)
    for name, ftype in sorted(exp.items()):
        if check(name in got, "field %s is not registered" % name):
            check(got[name] == ftype, "field %s is %s, expected %s" % (name, got[name], ftype))
    # Distinct labels (columns read unambiguously) and a blurb on every
    # field (expert pseudo-fields aside: Wireshark fills those).
    labels, blurbs = {}, {}
    for line in out.splitlines():
        cols = line.split("\t")
        if len(cols) >= 8 and cols[0] == "F" and cols[4] == "safereasm" and \
                not cols[2].startswith("safereasm.expert."):
            labels.setdefault(cols[1], []).append(cols[2])
            blurbs[cols[2]] = cols[7]
    check(not {k: v for k, v in labels.items() if len(v) > 1},
          "fields sharing a label: %s" % {k: v for k, v in labels.items() if len(v) > 1})
    check(not [n for n, b in blurbs.items() if not b.strip()],
          "fields without a blurb: %s" % [n for n, b in blurbs.items() if not b.strip()])
    for name in sorted(set(got) - set(exp)):
        check(False, "field %s is registered but not expected (add it here and to "
                     "docs/plugin.md)" % name)

    # Every field appears in the documentation (generated ones by pattern).
    doc_path = os.path.join(srtest.SOURCE_DIR, "docs", "plugin.md")
    doc = open(doc_path).read() if os.path.exists(doc_path) else ""
    check(doc != "", "docs/plugin.md is missing")
    for name in sorted(exp):
        if name.startswith(("safereasm.global.", "safereasm.change.")):
            continue
        check("`%s`" % name in doc or "`%s`" % name.rsplit(".", 1)[-1] in doc,
              "docs/plugin.md does not name field %s" % name)
    for pattern in ("safereasm.global.<counter>", "safereasm.change.<counter>"):
        check(pattern in doc, "docs/plugin.md does not explain %s" % pattern)
    for name in srtest.counter_names():
        check("`%s`" % name in doc, "docs/plugin.md does not list counter %s" % name)
    # Expert infos in Wireshark's groups: a gap is a Warning in Reassemble
    # (as TCP's lost segment), a timeout a Note in Reassemble.
    gap = srtest.stage(os.path.join(srtest.CAPTURES, "crafted", "gap.pcap"))
    text = srtest.tshark(["-n", "-r", gap, "-2", "-q", "-z", "expert,safereasm"]).stdout
    sev = None
    seen = {}
    for line in text.splitlines():
        m = re.match(r"^(Errors|Warns|Notes|Chats) \(", line)
        if m:
            sev = m.group(1)
        m = re.match(r"^\s+\d+\s+(\S+)\s+SafeReasm\s+(.*)$", line)
        if m:
            what = "gap" if "bytes missing, skipped" in m.group(2) else \
                   "timeout" if "idle timeout" in m.group(2) else m.group(2)
            seen.setdefault(what, set()).add((sev, m.group(1)))
    check(seen.get("gap") == {("Warns", "Reassemble")},
          "gap.pcap: gap expert infos are %s, expected Warning / Reassemble" % seen.get("gap"))
    check(seen.get("timeout") == {("Notes", "Reassemble")},
          "gap.pcap: timeout expert infos are %s, expected Note / Reassemble"
          % seen.get("timeout"))
    srtest.finish("plugin/fields")


if __name__ == "__main__":
    try:
        main()
    except srtest.TestFailure as e:
        print("FAIL: %s" % e)
        sys.exit(1)
