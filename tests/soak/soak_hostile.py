#!/usr/bin/env python3
"""soak_hostile.py - the hostile captures (captures/hostile/make-hostile.py)
through safereasm-pcap or through tshark with the plugin, under tight caps.

    soak_hostile.py tool|plugin [ci|long]

tool: every capture with --verify under three sets of caps (tight pages
with 1 and 2 worker threads, tight connections, the defaults). Each run
must exit 0 within the hang limit with no sanitizer report (the suite runs
this in the ASan+UBSan build) and no --verify violation, and the core's
peak counters read back from the output (# assembler pages_peak, # pool
peak_connections) must not pass the caps; the floods must reach them.

plugin: every capture in one pass and in two passes (-2) with tight page
caps, and in one pass with a tight connection cap: no crash, no hang, no
word of the plugin on stderr, the statistics tree printed, its peaks
within the caps; the two-pass totals (delivered, skipped, dropped,
conflicts, limit hits, evictions) equal safereasm-pcap's under the same
caps when the build has the tool. Wireshark's own TCP sequence analysis is switched off
(-o tcp.analyze_sequence_numbers:FALSE): with it on, one run over the
50,000 retransmissions takes 9 s instead of 1 s (50 s on a loaded
machine, near the hang limit), and it is not what is being soaked; the
plugin reads the raw sequence numbers either way.

Hang limit per run: 60 s at ci scale, 1800 s at long scale.
"""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import soaklib as S  # noqa: E402

# name -> (options, caps the peaks must stay within)
TOOL_RUNS = [
    ("pages", ["--max-pages-total", "64", "--max-pages-per-connection", "16",
               "--max-connections", "4096"],
     {"assembler.pages_peak": 64, "pool.peak_connections": 4096}),
    ("pages-2threads", ["--threads", "2", "--max-pages-total", "64",
                        "--max-pages-per-connection", "16", "--max-connections", "4096"],
     {"assembler.pages_peak": 64, "pool.peak_connections": 4096}),
    ("conns", ["--max-pages-total", "256", "--max-pages-per-connection", "32",
               "--max-connections", "64"],
     {"assembler.pages_peak": 256, "pool.peak_connections": 64}),
    ("defaults", [], {"assembler.pages_peak": 50000, "pool.peak_connections": 10000}),
]
# The caps each flood must reach (else the test would not test them).
MUST_REACH = {
    ("syn-flood", "conns"): "pool.peak_connections",
    ("syn-flood", "pages"): "pool.peak_connections",
    ("ooo-flood", "pages"): "assembler.pages_peak",
    ("ugly", "conns"): "pool.peak_connections",
}

NO_ANALYSIS = ["-o", "tcp.analyze_sequence_numbers:FALSE"]
PAGE_PREFS = ["-o", "safereasm.max_buffered_pages_total:64",
              "-o", "safereasm.max_buffered_pages_per_connection:16",
              "-o", "safereasm.max_connections:4096"]
CONN_PREFS = ["-o", "safereasm.max_buffered_pages_total:256",
              "-o", "safereasm.max_buffered_pages_per_connection:32",
              "-o", "safereasm.max_connections:64"]
PLUGIN_RUNS = [
    ("1pass-pages", NO_ANALYSIS + PAGE_PREFS, {"pages_peak": 64, "peak_connections": 4096}),
    ("2pass-pages", ["-2"] + NO_ANALYSIS + PAGE_PREFS,
     {"pages_peak": 64, "peak_connections": 4096}),
    ("1pass-conns", NO_ANALYSIS + CONN_PREFS, {"pages_peak": 256, "peak_connections": 64}),
]


# The plugin's two-pass totals must equal the tool's under the same caps.
AGREE = ("bytes_delivered", "bytes_skipped", "bytes_dropped", "overlap_conflicts",
         "limit_hits_total", "limit_hits_connection", "evictions")
TOOL_PAGE_CAPS = ["--max-pages-total", "64", "--max-pages-per-connection", "16",
                  "--max-connections", "4096"]


def agree(path, tree, what):
    rc, out, err = S.run_tool(path, TOOL_PAGE_CAPS, 600)
    st = S.stats_of(out)
    for k in AGREE:
        tool = st.get("assembler." + k)
        if tool is None or tool >= 2**31 - 1:   # the tree's counts stop at INT_MAX
            continue
        S.check(tree.get(k) == tool, "%s: plugin %s %s, safereasm-pcap %s" % (
            what, k, tree.get(k), tool))


def main():
    mode = sys.argv[1] if len(sys.argv) > 1 else "tool"
    scale = sys.argv[2] if len(sys.argv) > 2 else "ci"
    timeout = 60 if scale != "long" else 1800
    caps = S.hostile(scale)
    runs = 0
    for name, path in caps:
        if mode == "plugin":
            path = S.srtest().stage(path, "hostile-%s-%s.pcap" % (scale, name))
        for tag, args, limits in (TOOL_RUNS if mode == "tool" else PLUGIN_RUNS):
            what = "hostile/%s/%s %s %s" % (scale, name, mode, tag)
            t0 = time.monotonic()
            if mode == "tool":
                st = S.check_tool(path, args, timeout, limits, what)
                key = MUST_REACH.get((name, tag))
            else:
                st = S.check_tshark(path, args, timeout, limits, what)
                key = MUST_REACH.get((name, tag.split("-", 1)[1]))
                key = key and key.split(".", 1)[1]
            if mode == "plugin" and tag == "2pass-pages" and S.TOOL and st:
                agree(path, st, what)
            if key and st:
                S.check(st.get(key, 0) == limits[key],
                        "%s: %s %s never reached its cap %d" % (what, key, st.get(key),
                                                                limits[key]))
            peaks = ", ".join("%s %s" % (k.split(".")[-1], st.get(k)) for k in sorted(limits))
            print("%s: %.1f s, %s" % (what, time.monotonic() - t0, peaks), flush=True)
            runs += 1
    return S.finish("soak/hostile/%s/%s" % (scale, mode),
                    "%d captures, %d runs" % (len(caps), runs))


if __name__ == "__main__":
    sys.exit(main())
