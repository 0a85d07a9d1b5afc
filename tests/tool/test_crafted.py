#!/usr/bin/env python3
"""test_crafted.py - exact results of safereasm-pcap on the crafted captures
made for the core's dropped-bytes and ISN rules (written by
captures/crafted/make-crafted.py; each is skipped with a message while it
does not exist yet):

  midstream-reorder.pcap  three 1000-byte segments, no SYN, sent in the
                          order +1000, +0, +2000: the direction starts at
                          the first one seen, so c2s delivers 2000, skips 0
                          and drops the 1000 bytes before its start.
  synack-isn.pcap         TCP Fast Open: a SYN with 517 bytes, a SYN-ACK
                          with ISN A, another with ISN B, the client ACKs
                          B+1, the server sends 6068 bytes from B+1 and
                          FIN: s2c delivers 6068, drops 0.
  late-syn.pcap           a connection seen without its SYN completes by
                          FIN; then its SYN (first data seq - 1) and the
                          data again: one connection, "hello" delivered once
                          (also with the SYN between data and FIN; a SYN
                          with a new ISN is port reuse: "world" on a second
                          connection).

Each also passes --verify. Runs with 1 and 2 threads (same lines)."""

import hashlib
import json
import os
import sys

import tooltest as T


def check(c, name, fn):
    path = os.path.join(T.CAPTURES, "crafted", name)
    if not os.path.exists(path):
        print("SKIP: %s not there yet (written by captures/crafted/make-crafted.py)" % name)
        return False
    first = None
    for threads in ("1", "2"):
        rc, out, err = T.run(path, "--verify", "--threads", threads)
        c.need(rc == T.EXIT_OK, "%s --threads %s: exit %d: %s" % (name, threads, rc, err.strip()[-400:]))
        lines = [T.Line(l) for l in T.lines_of(out)]
        if first is None:
            first = T.lines_of(out)
            fn(c, name, lines)
        else:
            c.need(T.lines_of(out) == first, "%s: --threads 2 lines differ from --threads 1" % name)
    return True


def midstream(c, name, lines):
    got = [(l.delivered, l.skipped, l.dropped) for l in lines]
    c.need(got == [(2000, 0, 1000)],
           "%s: %s, expected one direction (c2s) delivered 2000 skipped 0 dropped 1000" % (name, lines))
    # The dropped segments too, per direction, in the JSON output.
    rc, out, err = T.run(os.path.join(T.CAPTURES, "crafted", name), "--json")
    objs = [json.loads(x) for x in out.splitlines() if x.startswith("{")]
    got = [(o["dropped"], o["dropped_segments"]) for o in objs if o["delivered"] or o["dropped"]]
    c.need(rc == T.EXIT_OK and got == [(1000, 1)],
           "%s --json: dropped/dropped_segments %s, expected [(1000, 1)]" % (name, got))


def synack(c, name, lines):
    c.need(len(lines) == 2, "%s: %d lines, expected 2 (the SYN's data, the server's): %s" %
           (name, len(lines), lines))
    # s2c: the direction with 6068 claimed bytes, i.e. not the 517-byte one.
    srv = [l for l in lines if l.delivered != 517]
    cli = [l for l in lines if l.delivered == 517]
    c.need(len(cli) == 1 and cli[0].skipped == 0 and cli[0].dropped == 0,
           "%s: the client's 517 SYN bytes: %s" % (name, cli))
    c.need(len(srv) == 1 and (srv[0].delivered, srv[0].skipped, srv[0].dropped) == (6068, 0, 0),
           "%s: s2c %s, expected delivered 6068 skipped 0 dropped 0" % (name, srv))


def late_syn(c, name, lines):
    """Port 40201: SYN after the FIN-completed connection; 40202: SYN
    between its data and FINs; 40203: a SYN with a new ISN after completion,
    which is port reuse (a second connection, carrying "world")."""
    sha = {w: hashlib.sha256(w).hexdigest() for w in (b"hello", b"world")}
    want = {40201: [b"hello"], 40202: [b"hello"], 40203: [b"hello", b"world"]}
    for port, words in sorted(want.items()):
        got = sorted((l.delivered, l.skipped, l.dropped, l.sha256) for l in lines
                     if l.key.split(">")[0].endswith(":%d" % port))
        exp = sorted((5, 0, 0, sha[w]) for w in words)
        c.need(got == exp, "%s: port %d: %s, expected %s" % (
            name, port, [l for l in lines if ":%d>" % port in l.key],
            " and ".join('"%s" once' % w.decode() for w in words)))
    c.need(len(lines) == 4, "%s: %d lines, expected 4 (no server data): %s" % (name, len(lines), lines))


def main():
    T.need_tool()
    c = T.Checks()
    ran = 0
    ran += check(c, "midstream-reorder.pcap", midstream)
    ran += check(c, "synack-isn.pcap", synack)
    ran += check(c, "late-syn.pcap", late_syn)
    rc = c.done("crafted dropped/ISN captures (%d of 3 present)" % ran)
    if ran == 0:
        print("all three captures missing: skipped")
        return 77
    return rc


if __name__ == "__main__":
    sys.exit(main())
