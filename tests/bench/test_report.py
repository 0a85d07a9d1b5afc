#!/usr/bin/env python3
"""bench/report: bench.py's report, from the program rows to summary.md and
the charts, on made-up timings for every capture and every row the full
benchmark runs (plugin, tshark, scaling, out-of-order), without running any
of them. A full run takes half an hour; a field missing from one row (the
plugin rows on the real capture had no "digest") used to surface only at
its end, as a traceback instead of a table.

The timings are chosen so the figures are known: safereasm-pcap 1.0 s,
--threads 2 0.5 s (speed-up 2.00x), two at once 1.25 s (2 x 1.0 / 1.25 =
1.60x), the read floor 0.6 s (1.67x the floor), libnids and gopacket 3.0 s
(3.00x), the plugin 1.1 s against 1.0 s for tshark without it (1.10x)."""
import argparse
import os
import re
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "bench"))
import bench  # noqa: E402

failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what)


def args(**over):
    a = argparse.Namespace(quick=False, bulk_mb=0, many_conns=0, scale_mb=0, ooo_segs=0, real_mb=20,
                           real_n=5, synth_mib=60, no_tshark=False, no_plugin=False, tshark_all=False,
                           tool="tool", floor="floor", nids="nids", gop="gop", plugin="safereasm.so",
                           floor_sha=True, build="build")
    for k, v in over.items():
        setattr(a, k, v)
    return a


def wall_of(label):
    """The made-up time of a row (the docstring's figures); everything
    else, tshark without the plugin included, takes 1.0 s."""
    if label == "safereasm-pcap --threads 2":
        return 0.5
    if label == bench.PAIR:
        return 1.25
    if label.startswith("read floor"):
        return 0.6
    if label.startswith(("libnids", "gopacket")):
        return 3.0
    if label.startswith("plugin:"):
        return 1.1
    return 1.0


def summary_for(a, repeats=3):
    specs = bench.capture_specs(a)
    s = dict(host="test", cpus=2, quick=a.quick, repeats=repeats, started="now", load_start=(0, 0, 0),
             tool_version="test", captures={}, argv=[], load_median=1.0, load_max=1.0)
    for name, spec in specs.items():
        P = bench.programs(name, spec, a)
        labels = [p["label"] for p in P]
        check(len(labels) == len(set(labels)), "%s: a label twice: %s" % (name, labels))
        for p in P:
            check(set(p) == set(P[0]), "%s: row %r has fields %s, the first row %s"
                  % (name, p["label"], sorted(p), sorted(P[0])))
        n = spec.get("nconns") or spec["conns"]
        # peak RSS grows with the connections (the scale rows' bytes per connection)
        per = {p["label"]: [dict(wall=wall_of(p["label"]) * (1 + 0.01 * r), cpu=wall_of(p["label"]),
                                 user=wall_of(p["label"]), sys=0.0, rss_mib=10.0 + n / 10000.0, load=1.0)
                            for r in range(repeats)] for p in P}
        meta = dict(frames=1000000, bytes=100 * 1000 * 1000)
        rows = bench.summarise(per, meta, bench.digest_labels(P))
        check(list(rows) == labels, "%s: summary rows %s, programs %s" % (name, list(rows), labels))
        s["captures"][name] = dict(desc=spec["desc"], file=spec["file"], kind=spec["kind"],
                                   nconns=spec.get("nconns"), repeats=repeats, agreement=[], rows=rows, **meta)
    return s


def target(md, text):
    """(capture, median, met) of each targets row starting with text."""
    for line in md.splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if len(cells) == 5 and cells[0].startswith(text):
            yield cells[1], cells[2], cells[4]


def main():
    # Everything: the full benchmark's rows.
    s = summary_for(args())
    md = bench.table(s)
    check("## Targets (issue 13)" in md, "no targets table")
    for name in s["captures"]:
        check(("## %s:" % name) in md, "no table for %s" % name)
    t3 = list(target(md, "3. `--threads 2` ≥ 1.7× one thread"))
    check(t3 == [("many", "2.00×", "yes")], "target 3 row: %s" % t3)
    bound = list(target(md, "3. what 2 CPUs give"))
    check(bound == [("many", "1.60×", "(the bound)")], "bound row: %s" % bound)
    floor = dict((c, (m, ok)) for c, m, ok in target(md, "1. within 2× of the read floor"))
    check(floor.get("many") == ("1.67×", "yes") and floor.get("bulk") == ("1.67×", "yes"),
          "floor rows: %s" % floor)
    peers = list(target(md, "1. faster than"))
    check(len(peers) == 12 and all(m == "3.00×" and ok == "yes" for _, m, ok in peers),
          "target 1 peer rows: %s" % peers)
    plug = list(target(md, "4. plugin within"))
    # wall and RSS against two baselines, on the real and the synthetic capture
    check(sorted(c for c, _, _ in plug) == ["plugin-synth"] * 4 + ["real"] * 4, "target 4 rows: %s" % plug)
    check(all(m in ("1.10×", "1.00×") and ok == "yes" for _, m, ok in plug), "target 4 values: %s" % plug)
    for t in ("2. CPU per segment flat", "2. bytes per open connection", "2. 1M open connections",
              "2. 1M tiny out-of-order segments"):
        check(list(target(md, t)), "no row %r" % t)
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        print("matplotlib not installed: charts not drawn")
    else:
        with tempfile.TemporaryDirectory() as d:
            bench.charts(s, d)
            pngs = sorted(f for f in os.listdir(d) if f.endswith(".png"))
            check(pngs == ["bench-memory.png", "bench-scaling.png", "bench-time.png"], "charts: %s" % pngs)
            for f in pngs:
                with open(os.path.join(d, f), "rb") as fh:
                    check(fh.read(8) == b"\x89PNG\r\n\x1a\n", "%s is not a PNG" % f)

    # Without tshark and the plugin (the runs this project makes most): no target 4 rows, no tshark rows.
    s = summary_for(args(no_tshark=True, no_plugin=True))
    md = bench.table(s)
    check(not list(target(md, "4. plugin within")), "target 4 rows without the plugin")
    check(not re.search(r"^\| tshark", md, re.M), "tshark rows with --no-tshark")
    check(list(target(md, "3. `--threads 2`")), "no target 3 row without the plugin")

    if failures:
        print("%d failures" % len(failures))
        return 1
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
