#!/usr/bin/env python3
"""test_faults.py - tshark with the plugin while the Nth core allocation
fails (SAFEREASM_FAULT_NTH, tools/sr-fault.h), on real captures.

For each capture: a counting run (SAFEREASM_FAULT_NTH=0) gives the number of
core allocations A and the frame count F; then N is swept over 1..A
(sampled, seeded: the first 8, then 10 more; SR_FAULT_FULL=1: every N),
plus "1+" (every allocation fails). Each run must:
  - exit 0 and print all F frames (tshark keeps running);
  - show the failure when the injector says one happened: a frame with
    safereasm.change.no_memory > 0 (the counter), or the expert info
    "could not be set up ... out of memory" / "Core error SR_ERR_NO_MEMORY";
  - print nothing that looks like a crash or a GLib critical.
One run with -2 and -z safereasm,tree checks the statistics tree counts the
failure too. Label: plugin.
"""

import os
import random
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import srtest  # noqa: E402
from faultline import INJ  # noqa: E402  (srtest puts tests/lib on the path)

CAPTURES = ["real/harsh-s1-server.pcapng", "real/mild-s1-client.pcapng"]
FIRST = 8
SAMPLE = 10
FULL = os.environ.get("SR_FAULT_FULL") == "1"
BAD = re.compile(r"Segmentation|Aborted|CRITICAL|\*\* ERROR|core dumped|AddressSanitizer")
FIELDS = ["-T", "fields", "-e", "frame.number", "-e", "safereasm.change.no_memory",
          "-e", "_ws.expert.message"]


def run(cap, nth, args):
    os.environ["SAFEREASM_FAULT_NTH"] = nth
    try:
        return srtest.tshark(["-n", "-r", cap] + args, check_rc=False)
    finally:
        del os.environ["SAFEREASM_FAULT_NTH"]


def one(cap, nth, frames, name):
    p = run(cap, nth, FIELDS)
    where = "%s N=%s" % (name, nth)
    srtest.check(p.returncode == 0, "%s: tshark exit %d:\n%s" % (where, p.returncode,
                                                               p.stderr[-1500:]))
    srtest.check(not BAD.search(p.stderr), "%s: stderr:\n%s" % (where, p.stderr[-1500:]))
    lines = [l.split("\t") for l in p.stdout.splitlines() if l.strip()]
    got = [int(l[0]) for l in lines if l[0].isdigit()]
    srtest.check(got == list(range(1, frames + 1)),
                 "%s: %d frames printed, %d expected" % (where, len(got), frames))
    m = INJ.search(p.stderr)
    if not srtest.check(m is not None, "%s: no injector line:\n%s" % (where, p.stderr[-800:])):
        return 0
    failed = int(m.group(3))
    if failed:
        counted = any(len(l) > 1 and l[1] and int(l[1].split(",")[0]) > 0 for l in lines)
        expert = any(len(l) > 2 and ("out of memory" in l[2].lower()) for l in lines)
        # Every frame whose counter moved says so in an expert info too.
        silent = [l[0] for l in lines if len(l) > 1 and l[1] and int(l[1].split(",")[0]) > 0
                  and not (len(l) > 2 and "Out of memory" in l[2])]
        srtest.check(not silent, "%s: change.no_memory without the expert info at frames %s"
                     % (where, silent[:10]))
        srtest.check(counted or expert,
                     "%s: %d allocation(s) failed, nothing shown (no change.no_memory, no "
                     "expert info)" % (where, failed))
    return failed


def main():
    total_runs = with_failure = 0
    rng = random.Random(4)
    for rel in CAPTURES:
        cap = srtest.stage(os.path.join(srtest.CAPTURES, rel))
        p = run(cap, "0", FIELDS)
        m = INJ.search(p.stderr)
        if not srtest.check(p.returncode == 0 and m, "%s: counting run failed:\n%s"
                            % (rel, p.stderr[-1500:])):
            continue
        allocs = int(m.group(2))
        frames = len([l for l in p.stdout.splitlines() if l.strip()])
        ns = list(range(1, allocs + 1))
        if not FULL and allocs > FIRST + SAMPLE:
            ns = ns[:FIRST] + sorted(rng.sample(ns[FIRST:], SAMPLE))
        for n in [str(n) for n in ns] + ["1+"]:
            total_runs += 1
            with_failure += one(cap, n, frames, rel) > 0
        print("%s: %d allocations, %d frames, %d runs so far" % (rel, allocs, frames, total_runs),
              flush=True)

    # The statistics tree counts it too (two passes, after a failure while
    # reassembling: the 20th allocation of the first capture is a page or
    # connection, well after setup).
    cap = srtest.stage(os.path.join(srtest.CAPTURES, CAPTURES[0]))
    p = run(cap, "20", ["-2", "-q", "-z", "safereasm,tree"])
    tree = srtest.stats_tree(p.stdout)
    m = INJ.search(p.stderr)
    srtest.check(p.returncode == 0 and m and int(m.group(3)) == 1,
                 "-z safereasm,tree with N=20: rc %d\n%s" % (p.returncode, p.stderr[-800:]))
    srtest.check(tree.get("no_memory", 0) >= 1,
                 "-z safereasm,tree with N=20: no_memory %s" % tree.get("no_memory"))
    print("test_faults: %d tshark runs, %d with an injected failure" % (total_runs, with_failure))
    srtest.finish("test_faults")


if __name__ == "__main__":
    main()
