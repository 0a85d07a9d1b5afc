#!/usr/bin/env python3
"""check_gopacket.py - safereasm-pcap against gopacket's reassembly (the Go
driver in bench/peers/gopacket, same line format without the dropped column).

Asserted: on captures/real (every connection starts with a SYN, no VLAN
tags, no sequence wrap, no conflicting retransmissions -- the cases where
the two designs must agree) both print the same directions with the same
delivered/skipped counts and SHA-256. gopacket never compares overlapping
bytes, so its conflicts column is "-" and is not compared.

Reported, not asserted: the third-party captures, where the designs are
known to differ (the README's fidelity section lists why): gopacket keys flows without
the VLAN id (vlan-collisions: one stream instead of three), waits for a SYN
and only releases a midstream connection's data at the final flush,
lets a later queued copy win over an earlier one, and decodes other
encapsulations than we do. Exit 77 (skipped) when the driver is not built.
"""

import glob
import os
import sys

import cases
import fidelity as F


def norm(dirs):
    out = {}
    for d in dirs:
        k = d.key.split("@")[0]
        out.setdefault(k, set()).add((d.delivered, d.skipped, d.sha256))
    return out


def compare(path):
    ours, _ = F.parse_output(F.run([F.TOOL, "--no-progress", "--sha256", "--no-stats", path])[1])
    theirs, _ = F.run_gopacket(path, "--no-stats")
    a, b = norm(ours), norm(theirs)
    # Known difference: gopacket forgets a connection once both sides are
    # closed; a late retransmission or duplicate then opens a new gopacket
    # stream on the same key (extra small entries). Ours lingers instead.
    # So one of gopacket's entries must equal ours.
    same = sum(1 for k in a if len(a[k]) == 1 and a[k] <= b.get(k, set()))
    diffs = []
    for k in sorted(set(a) | set(b)):
        if not (len(a.get(k, ())) == 1 and a[k] <= b.get(k, set())):
            diffs.append("%s: safereasm %s, gopacket %s" % (
                k, sorted(a.get(k, [])), sorted(b.get(k, []))))
    return len(a), same, diffs


def main():
    if not F.GOPACKET or not os.path.exists(F.GOPACKET):
        print("gopacket driver not built: skipped")
        return 77
    failures = []
    real = sorted(glob.glob(os.path.join(F.SRC, "captures", "real", "*.pcapng")))
    for path in real:
        n, same, diffs = compare(path)
        print("real %s: %d keys, %d identical" % (os.path.basename(path), n, same))
        for d in diffs:
            failures.append("%s: %s" % (os.path.basename(path), d))
        if n == 0:
            failures.append("%s: no stream" % path)
    for c in cases.CASES:
        n, same, diffs = compare(c.path())
        print("third-party %s: %d keys, %d identical, %d differ (reported only)" % (c.name, n, same, len(diffs)))
        for d in diffs[:3]:
            print("    " + d[:300])
    for f in failures:
        print("FAIL:", f[:400])
    print("gopacket: %d failures on the real captures" % len(failures))
    if not real:
        print("FAIL: no real capture")
        return 1
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
