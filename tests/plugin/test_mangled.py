#!/usr/bin/env python3
"""test_mangled.py - corrupted and truncated captures end without a crash.

Every capture (crafted and third-party) is mangled with editcap: random
byte errors (-E 0.02, three fixed seeds, so a failure can be replayed) and
a 60-byte snaplen (-s 60). tshark with the plugin then reads each one in
one pass (statistics tree), in two passes (statistics tree and expert
infos) and, for the smaller ones, with the full tree (-V), which draws
every record. Each run must exit normally (no signal; 0, or 2 when the
mangled file itself is unreadable past some point), print the plugin's
statistics tree, and print nothing about the plugin on stderr (no
dissector bug of ours, no GLib critical).
"""

import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import srtest  # noqa: E402
from srtest import check  # noqa: E402

SEEDS = [1, 2]
# Wireshark's own dissectors report bugs on some mangled files (TLS does on
# tls-fragmented-handshakes cut to 60 bytes); only ours count here.
BAD = ("Dissector bug, protocol SafeReasm", "safereasm", "SafeReasm", "CRITICAL **",
       "ERROR **", "Segmentation", "Aborted", "AddressSanitizer", "core dumped")


def editcap(args, src, dst):
    exe = os.environ.get("EDITCAP") or "editcap"
    p = subprocess.run([exe] + args + [src, dst], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, universal_newlines=True)
    if p.returncode != 0:
        raise srtest.TestFailure("editcap %s %s: %s" % (" ".join(args), src, p.stderr))
    os.chmod(dst, 0o644)


def run(cap, args, what):
    p = srtest.tshark(["-n", "-r", cap] + args, check_rc=False, timeout=1200)
    ok = p.returncode in (0, 2)
    check(ok, "%s: tshark %s exited %d%s\n%s" % (what, " ".join(args), p.returncode,
          " (signal %d)" % -p.returncode if p.returncode < 0 else "", p.stderr[-1500:]))
    for bad in BAD:
        check(bad not in p.stderr,
              "%s: tshark %s printed %r:\n%s" % (what, " ".join(args), bad,
                                                  p.stderr[-1500:]))
    return p


def main():
    caps = [os.path.join(srtest.CAPTURES, rel) for rel in srtest.all_captures()]
    check(len(caps) >= 40, "only %d captures" % len(caps))
    runs = 0
    for path in sorted(caps):
        rel = os.path.relpath(path, srtest.CAPTURES)
        base = rel.replace("/", "__")
        variants = [("-s60", ["-s", "60"])] + [("-E0.02-seed%d" % s,
                                                ["-E", "0.02", "--seed", str(s)])
                                               for s in SEEDS]
        for tag, args in variants:
            dst = os.path.join(srtest.scratch(), base + tag + ".pcapng")
            editcap(["-F", "pcapng"] + args, path, dst)
            what = "%s %s" % (rel, tag)
            p = run(dst, ["-q", "-z", "safereasm,tree"], what)
            if p.returncode == 0:
                check("Safe TCP Reassembly:" in p.stdout,
                      "%s: no statistics tree in the output" % what)
            run(dst, ["-2", "-q", "-z", "safereasm,tree", "-z", "expert"], what)
            if os.path.getsize(path) < 200000:
                p = run(dst, ["-2", "-V", "-O", "safereasm"], what)
            runs += 1
            os.unlink(dst)
    check(runs >= 120, "only %d mangled captures read" % runs)
    srtest.finish("plugin/mangled")


if __name__ == "__main__":
    try:
        main()
    except srtest.TestFailure as e:
        print("FAIL: %s" % e)
        sys.exit(1)
