#!/usr/bin/env python3
"""test_faults.py - safereasm-pcap with the Nth core allocation failing
(SAFEREASM_FAULT_NTH, tools/sr-fault.h), N swept over the run.

For each capture: one counting run (SAFEREASM_FAULT_NTH=0) gives the number
of core allocations A; then runs with N = 1..A (every N up to 400, a seeded
sample beyond; SR_FAULT_FULL=1: every N), "1+" (every allocation fails)
and "A/2+"; on the real captures also 8 sampled N and "1+" with --threads 2
(the count is process-wide). Each run must:
  - exit 0, or exit 1 with "out of memory" on stderr (the core's pool could
    not be set up: the documented "cannot run" status), never anything else;
  - print the injector's line, and when an allocation failed while
    reassembling (exit 0), report it: "# assembler no_memory <n>" with n >= 1;
  - print no sanitizer report (the test runs in the ASan+UBSan build too,
    where a leak or a bad access fails the run).
Label: tool. Python 3 standard library only.
"""

import os
import random
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.path.abspath(os.path.join(HERE, "..", ".."))
TOOL = os.environ.get("SR_PCAP_TOOL", os.path.join(SOURCE, "build", "tools", "safereasm-pcap"))
CAPTURES = ["real/harsh-s1-server.pcapng", "real/mild-s1-client.pcapng",
            "crafted/limit-total.pcap", "crafted/evict.pcap", "crafted/conflict.pcap"]
DENSE = 400
SAMPLE = 25
FULL = os.environ.get("SR_FAULT_FULL") == "1"
SANITIZER = re.compile(r"AddressSanitizer|LeakSanitizer|runtime error:|UndefinedBehavior")

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from checks import check, failures  # noqa: E402
from faultline import INJ  # noqa: E402



def run(cap, nth, *extra):
    env = dict(os.environ, SAFEREASM_FAULT_NTH=nth)
    p = subprocess.run([TOOL, "--no-progress", "--sha256"] + list(extra) + [cap], env=env,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=300)
    return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")


def no_memory(out):
    m = re.search(r"^# assembler no_memory (\d+)$", out, re.M)
    return int(m.group(1)) if m else None


def one(cap, nth, name, *extra):
    rc, out, err = run(cap, nth, *extra)
    where = "%s N=%s %s" % (name, nth, " ".join(extra))
    check(not SANITIZER.search(err), "%s: sanitizer report:\n%s" % (where, err[-3000:]))
    m = INJ.search(err)
    if not check(m is not None, "%s: no injector line (rc %d):\n%s" % (where, rc, err[-1000:])):
        return None
    failed = int(m.group(3))
    if rc == 1:
        check("out of memory" in err, "%s: exit 1 without 'out of memory':\n%s" % (where, err[-1000:]))
    elif check(rc == 0, "%s: exit %d:\n%s" % (where, rc, err[-1000:])) and failed:
        n = no_memory(out)
        check(n is not None and n >= 1,
              "%s: %d allocation(s) failed but no_memory is %s" % (where, failed, n))
    return rc, failed


def main():
    if not os.access(TOOL, os.X_OK):
        print("test_faults: %s not built" % TOOL)
        return 77
    rng = random.Random(11)
    runs = survived = setup_fail = 0
    for rel in CAPTURES:
        cap = os.path.join(SOURCE, "captures", rel)
        rc, out, err = run(cap, "0")
        m = INJ.search(err)
        if not check(rc == 0 and m, "%s: counting run failed (rc %d):\n%s" % (rel, rc, err[-1000:])):
            continue
        total = int(m.group(2))
        ns = list(range(1, total + 1))
        if not FULL and total > DENSE:
            ns = list(range(1, DENSE + 1)) + sorted(rng.sample(range(DENSE + 1, total + 1),
                                                                min(SAMPLE, total - DENSE)))
        for n in [str(n) for n in ns] + ["1+", "%d+" % max(1, total // 2)]:
            r = one(cap, n, rel)
            runs += 1
            if r is not None:
                survived += r[0] == 0
                setup_fail += r[0] == 1
        if rel.startswith("real/"):
            # Two worker threads share the process-wide count.
            for n in sorted(rng.sample(range(1, total + 1), min(8, total))) + ["1+"]:
                r = one(cap, str(n), rel, "--threads", "2")
                runs += 1
                if r is not None:
                    survived += r[0] == 0
                    setup_fail += r[0] == 1
        print("%s: %d allocations, %d runs so far" % (rel, total, runs), flush=True)
    print("test_faults: %d runs: %d ran to the end (failure reported), %d stopped at setup "
          "(exit 1, out of memory)" % (runs, survived, setup_fail))
    if failures:
        print("test_faults: %d failure(s)" % len(failures))
        return 1
    print("test_faults: ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
