#!/usr/bin/env python3
"""check_real.py - oracle "the bytes that were sent": on every capture of
captures/real (made by scripts/make-real-captures.sh), each payload listed
in transfers.tsv must come out of safereasm-pcap byte for byte (SHA-256 of
the payload the application sent; HTTP responses after their header),
with nothing skipped or dropped -- the captures hold every segment, since TCP
retransmitted whatever the impairment bridge dropped -- and no conflict,
since a real Linux sender never retransmits different bytes.
Also runs with --threads 2: the same lines must come out.
"""

import hashlib
import os
import sys

import fidelity as F

REAL = os.path.join(F.SRC, "captures", "real")


def main():
    tsv = os.path.join(REAL, "transfers.tsv")
    if not os.path.exists(tsv):
        print("FAIL: %s missing (run scripts/make-real-captures.sh)" % tsv)
        return 1
    rows = []
    with open(tsv) as f:
        for line in f:
            if line.startswith("#") or not line.strip():
                continue
            cap, kind, fam, ip, port, direction, size, sha = line.rstrip("\n").split("\t")
            rows.append((cap, kind, F.expand_v6(ip), int(port), direction, int(size), sha))
    failures, checked = [], 0
    for cap in sorted(set(r[0] for r in rows)):
        path = os.path.join(REAL, cap)
        dirs, stats, err = F.run_tool(path)
        for d in dirs:
            if d.skipped or d.conflicts or d.dropped:
                failures.append("%s %s: skipped %d conflicts %s dropped %s, expected 0, 0 and 0" %
                                (cap, d.key, d.skipped, d.conflicts, d.dropped))
        for _, kind, ip, port, direction, size, sha in [r for r in rows if r[0] == cap]:
            if direction == "to_client":
                found = [d for d in dirs if (F.expand_v6(d.src[0]), d.src[1]) == (ip, port)]
            else:
                found = [d for d in dirs if (F.expand_v6(d.dst[0]), d.dst[1]) == (ip, port)]
            name = "%s %s [%s]:%d %s" % (cap, kind, ip, port, direction)
            if len(found) != 1:
                failures.append("%s: %d matching directions, expected 1" % (name, len(found)))
                continue
            data = found[0].data
            if kind == "http":
                head, sep, body = data.partition(b"\r\n\r\n")
                if not sep or not head.startswith(b"HTTP/1."):
                    failures.append("%s: no HTTP response header in %d bytes" % (name, len(data)))
                    continue
                data = body
            checked += 1
            got = hashlib.sha256(data).hexdigest()
            if len(data) != size or got != sha:
                failures.append("%s: %d bytes sha256 %s, the sender sent %d bytes sha256 %s" %
                                (name, len(data), got[:16], size, sha[:16]))
        # Threads: the same streams, whatever worker handles them.
        dirs2, stats2, _ = F.run_tool(path, "--threads", "2", write=False)
        a = sorted((d.key, d.delivered, d.skipped, d.conflicts, d.dropped, d.sha256) for d in dirs)
        b = sorted((d.key, d.delivered, d.skipped, d.conflicts, d.dropped, d.sha256) for d in dirs2)
        if a != b:
            failures.append("%s: --threads 2 gives other lines than --threads 1" % cap)
    for f in failures:
        print("FAIL:", f)
    print("real captures: %d payloads checked against the bytes sent, %d failures" % (checked, len(failures)))
    if checked == 0:
        print("FAIL: nothing checked")
        return 1
    return 1 if failures else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except F.Fail as e:
        print("FAIL:", e)
        sys.exit(1)
