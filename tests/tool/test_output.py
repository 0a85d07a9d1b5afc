#!/usr/bin/env python3
"""test_output.py - safereasm-pcap's output details, on captures built here
(so every expectation is known by construction):

  - a direction that only dropped bytes (a server segment far beyond
    --max-window) is printed, "0 0 0 N", and streams.tsv has the same
    numbers in its dropped column;
  - connection ids are frame numbers: two connections created by frames
    1 and 4 are "000001-..." and "000004-..." in --write, and with two
    input files the second file's frames count on;
  - --help lists the exit codes; a bad option exits 2."""

import os
import subprocess
import shutil
import struct
import sys
import tempfile

import tooltest as T

SYN, ACK, PSH, FIN = 0x02, 0x10, 0x08, 0x01


from tooltest import ipv4, pcap, tcp  # noqa: E402,F401


C, S = [10, 0, 0, 1], [10, 0, 0, 2]


def conn(cport, payload):
    """SYN, SYN-ACK, client data: 3 frames."""
    return [ipv4(C, S, tcp(cport, 80, 100, 0, SYN)),
            ipv4(S, C, tcp(80, cport, 500, 101, SYN | ACK)),
            ipv4(C, S, tcp(cport, 80, 101, 501, ACK | PSH, payload))]


def main():
    T.need_tool()
    c = T.Checks()
    tmp = tempfile.mkdtemp(prefix="sr-output-")
    try:
        # -- a direction with only dropped bytes
        frames = conn(1000, b"hello") + [ipv4(S, C, tcp(80, 1000, 501 + 5000, 106, ACK | PSH, b"x" * 7))]
        path = os.path.join(tmp, "dropped.pcap")
        pcap(path, frames)
        out_dir = os.path.join(tmp, "w")
        rc, out, err = T.run(path, "--max-window", "1000", "--write", out_dir)
        lines = T.lines_of(out)
        want = ["10.0.0.1:1000>10.0.0.2:80 5 0 0 0 ", "10.0.0.2:80>10.0.0.1:1000 0 0 0 7 "]
        c.need(rc == 0 and len(lines) == 2 and all(l.startswith(w) for l, w in zip(lines, want)),
               "only-dropped direction: exit %d, lines %s, expected lines starting %s" % (rc, lines, want))
        st = T.stats_of(out)
        c.need(st.get("assembler.out_of_window") == 1 and st.get("assembler.bytes_dropped") == 7,
               "only-dropped: out_of_window %s bytes_dropped %s, expected 1 and 7" %
               (st.get("assembler.out_of_window"), st.get("assembler.bytes_dropped")))
        rows = [l.rstrip("\n").split("\t") for l in open(os.path.join(out_dir, "streams.tsv")) if not l.startswith("#")]
        head = open(os.path.join(out_dir, "streams.tsv")).readline().rstrip("\n").split("\t")
        c.need(head[7] == "dropped" and len(head) == 14, "streams.tsv header: %s" % head)
        c.need([r[7] for r in rows] == ["0", "7"] and [r[4] for r in rows] == ["5", "0"],
               "streams.tsv delivered/dropped columns: %s" % [(r[4], r[7]) for r in rows])
        # -- connection ids are the creating frames, across input files
        path2 = os.path.join(tmp, "two.pcap")
        pcap(path2, conn(2000, b"one") + conn(2001, b"two"))
        rc, out, err = T.run(path2, "--write", os.path.join(tmp, "w2"))
        names = sorted(f for f in os.listdir(os.path.join(tmp, "w2")) if f != "streams.tsv")
        c.need(rc == 0 and [n[:7] for n in names] == ["000001-", "000004-"],
               "ids from frames 1 and 4: %s" % names)
        p = subprocess.run([T.TOOL, "--no-progress", "--sha256", "--write", os.path.join(tmp, "w3"), path, path2],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        ids = sorted(set(int(r.split("\t")[1]) for r in open(os.path.join(tmp, "w3", "streams.tsv"))
                         if not r.startswith("#")))
        # dropped.pcap has 4 frames: two.pcap's connections start at frames 5 and 8
        c.need(p.returncode == 0 and ids == [1, 5, 8], "ids across two files: %s, expected [1, 5, 8]" % ids)
        # -- exit codes
        p = subprocess.run([T.TOOL, "--help"], stdout=subprocess.PIPE)
        h = p.stdout.decode()
        c.need(p.returncode == 0 and "Exit status" in h and "3 --verify" in h, "--help lacks the exit codes")
        rc, out, err = T.run(path, "--threads", "0")
        c.need(rc == T.EXIT_USAGE, "--threads 0: exit %d, expected 2" % rc)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return c.done("output details")


if __name__ == "__main__":
    sys.exit(main())
