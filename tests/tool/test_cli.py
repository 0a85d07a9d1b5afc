#!/usr/bin/env python3
"""test_cli.py - safereasm-pcap as its users drive it (issue 10, items 1-7),
on captures built here, so every expectation is known by construction:

  write     --write into a directory of an earlier run is refused (exit 2,
            files untouched); --force replaces (the file holds one run's
            bytes, equal to streams.tsv's SHA-256), removing the earlier
            run's files but no other file; a directory that cannot be
            created fails before the capture is read (exit 1, no stdout).
  select    -f EXPR, -r FILE EXPR..., FILE -f EXPR (BPF for the file's link
            type) select one connection, ids stay the creating frames;
            --stream ID and --stream ADDR:PORT,ADDR:PORT (either order);
            a filter that does not compile exits 2 with nothing on stdout.
  content   --content: chunk headers, '[N bytes missing]' markers; the
            bytes read back from it equal the --write --fill-gaps file.
  fillgaps  --fill-gaps: file = delivered + skipped bytes, zeros at the gaps'
            offsets; the default file holds the delivered bytes only.
  json      --json on every crafted capture and one real one: every line is
            a JSON object whose fields equal the text line and streams.tsv
            (key, counts, sha256, close, gaps, conn_id), times ordered.
  digest    without --sha256 (the default) a line is the --sha256 line
            without its last field, JSON has no "sha256", streams.tsv's
            sha256 column is empty, and nothing else changes (counters,
            files); --sha256's field is hashlib's SHA-256 of the bytes
            --write wrote, the empty stream's for a direction without data;
            --policy all prints the digests without being asked.
  errors    a missing file, a directory and a non-capture: exit 1, the error
            on stderr, nothing on stdout; a corrupt gzip file says "corrupt
            gzip data"; exit codes in --help and the man page.
  order     a connection that completes first is printed first (output as
            connections complete), --threads 2 prints the same sorted lines.
  man       every option --help lists is in tools/safereasm-pcap.1, and the
            tools/ install script puts it at share/man/man1.
  fdlimit   --write with 300 connections open at once, each written in
            three rounds, under a descriptor limit of 40 (the tool keeps a
            bounded set of files open): every file holds its bytes, equal
            to streams.tsv's SHA-256; --threads 2 writes the same files.
  walk      --threads N on plain pcap files (the workers walk the mapping:
            indexed, or each decoding every frame) gives what libpcap and
            the reader thread give, over 3 files; and over files of fewer
            records than one chunk, of one chunk exactly, of chunks ended
            by their size and of no record
  mapped    a plain pcap file (read from a mapping) gives what libpcap
            gives for the same bytes gzip-compressed (libpcap reads those):
            stdout, exit status and messages, --threads 1 and 3, for a
            little-endian, a big-endian and a nanosecond file, one cut in
            the middle of a record and one with a record longer than the
            snapshot length.
"""

import gzip
import hashlib
import json
import os
import re
import resource
import shutil
import subprocess
import struct
import sys
import tempfile

import tooltest as T

SYN, ACK, PSH, FIN = 0x02, 0x10, 0x08, 0x01
MAN = os.path.join(T.SRC, "tools", "safereasm-pcap.1")


from tooltest import ipv4, pcap, tcp  # noqa: E402,F401


C, S = [10, 0, 0, 1], [10, 0, 0, 2]


def conn(cport, sport, chunks, fin=True):
    """SYN, SYN-ACK, client data (chunks: (offset, bytes)), FIN both ways."""
    fr = [ipv4(C, S, tcp(cport, sport, 100, 0, SYN)),
          ipv4(S, C, tcp(sport, cport, 500, 101, SYN | ACK))]
    end = 0
    for off, data in chunks:
        fr.append(ipv4(C, S, tcp(cport, sport, 101 + off, 501, ACK | PSH, data)))
        end = max(end, off + len(data))
    if fin:
        fr.append(ipv4(C, S, tcp(cport, sport, 101 + end, 501, FIN | ACK)))
        fr.append(ipv4(S, C, tcp(sport, cport, 501, 101 + end + 1, FIN | ACK)))
    return fr


def run(*args, stdin=None, env=None, digest=True):
    """The tool with --sha256 (its output has every field) unless not digest."""
    p = subprocess.run([T.TOOL, "--no-progress"] + (["--sha256"] if digest else []) + list(args),
                       stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, input=stdin,
                       env=dict(os.environ, **env) if env else None)
    return p.returncode, p.stdout, p.stderr.decode("utf-8", "replace")


def tsv_rows(d):
    with open(os.path.join(d, "streams.tsv")) as f:
        return [l.rstrip("\n").split("\t") for l in f if not l.startswith("#")]


def test_write(c, tmp):
    cap = os.path.join(tmp, "hello.pcap")
    pcap(cap, conn(1000, 80, [(0, b"HELLO"), (5, b"WORLD")]))
    d = os.path.join(tmp, "w")
    rc1, out1, err1 = run("--write", d, cap)
    rows = tsv_rows(d)
    c.need(rc1 == 0 and len(rows) == 1, "first --write run: exit %d, rows %s" % (rc1, rows))
    rc2, out2, err2 = run("--write", d, cap)
    data = open(os.path.join(d, rows[0][0]), "rb").read() if rows else b""
    c.need(rc2 == T.EXIT_USAGE and "not empty" in err2 and "--force" in err2 and not out2 and data == b"HELLOWORLD",
           "second run into the same directory: exit %d (expected 2), stderr %r, file %r" % (rc2, err2, data))
    other = os.path.join(d, "notes.txt")
    open(other, "w").write("mine")
    stale = os.path.join(d, "000099-10.9.9.9.1-10.9.9.8.2")
    open(stale, "w").write("old run")
    rc3, out3, err3 = run("--write", d, "--force", cap)
    rows = tsv_rows(d)
    data = open(os.path.join(d, rows[0][0]), "rb").read() if rows else b""
    c.need(rc3 == 0 and data == b"HELLOWORLD" and rows[0][8] == hashlib.sha256(data).hexdigest(),
           "--force: exit %d, file %r, streams.tsv sha %s" % (rc3, data, rows[0][8] if rows else None))
    c.need(os.path.exists(other) and not os.path.exists(stale),
           "--force: kept notes.txt %s, removed the earlier run's file %s" %
           (os.path.exists(other), not os.path.exists(stale)))
    # A directory that cannot be made: refused before the capture is read.
    blocker = os.path.join(tmp, "plainfile")
    open(blocker, "w").write("x")
    rc4, out4, err4 = run("--write", os.path.join(blocker, "sub"), cap)
    c.need(rc4 == T.EXIT_IO and not out4 and "cannot create" in err4,
           "--write under a plain file: exit %d, stdout %r, stderr %r" % (rc4, out4[:100], err4))
    print("write: refused / --force / unwritable checked")


def three_conns(tmp):
    cap = os.path.join(tmp, "three.pcap")
    frames = conn(1000, 80, [(0, b"port80")]) + conn(1001, 443, [(0, b"port443")]) + \
        conn(1002, 8080, [(0, b"port8080")])
    pcap(cap, frames)
    return cap  # connections created by frames 1, 6 and 11


def keys(out):
    return sorted(l.split()[0] for l in out.decode().splitlines() if l and not l.startswith("#"))


def test_select(c, tmp):
    cap = three_conns(tmp)
    want = ["10.0.0.1:1001>10.0.0.2:443"]
    for args in (["-f", "tcp port 443", cap], ["-r", cap, "tcp", "port", "443"], [cap, "--filter", "port 443"]):
        rc, out, err = run(*args)
        c.need(rc == 0 and keys(out) == want and b"# filtered 10" in out,
               "%s: exit %d, keys %s, expected %s (and '# filtered 10')" % (args, rc, keys(out), want))
    d = os.path.join(tmp, "sel")
    rc, out, err = run("-f", "tcp port 443", "--write", d, cap)
    ids = [r[1] for r in tsv_rows(d)]
    c.need(rc == 0 and ids == ["6"], "filtered ids: %s, expected the creating frame 6" % ids)
    for sel in ("6", "10.0.0.1:1001,10.0.0.2:443", "10.0.0.2:443>10.0.0.1:1001"):
        rc, out, err = run("--stream", sel, cap)
        c.need(rc == 0 and keys(out) == want, "--stream %s: exit %d, keys %s" % (sel, rc, keys(out)))
    rc, out, err = run("-f", "tcp port", cap)
    c.need(rc == T.EXIT_USAGE and not out and "filter" in err, "bad filter: exit %d, stdout %r, %r" % (rc, out[:80], err))
    rc, out, err = run("--stream", "nonsense", cap)
    c.need(rc == T.EXIT_USAGE and "--stream" in err, "bad --stream: exit %d %r" % (rc, err))
    print("select: -f, -r EXPR, --filter, --stream id and 4-tuple")


def parse_content(b):
    """{(conn, key): bytes with zeros for the holes}."""
    out, i = {}, 0
    hdr = re.compile(rb"=== conn (\d+) (\S+) offset (\d+) len (\d+) ===\n")
    while i < len(b):
        m = hdr.match(b, i)
        if not m:
            raise ValueError("no chunk header at %d: %r" % (i, b[i:i + 60]))
        i = m.end()
        k = (int(m.group(1)), m.group(2).decode())
        off, n = int(m.group(3)), int(m.group(4))
        gap = re.compile(rb"\[(\d+) bytes missing\]\n").match(b, i)
        buf = out.setdefault(k, bytearray())
        if gap:
            i = gap.end()
        if len(buf) < off:
            buf.extend(b"\0" * (off - len(buf)))
        buf.extend(b[i:i + n])
        i += n
        if n:
            if b[i:i + 1] != b"\n":
                raise ValueError("chunk not followed by a newline at %d" % i)
            i += 1
    return out


def test_content_fill(c, tmp):
    cap = os.path.join(tmp, "gap.pcap")
    # HELLO, a 5-byte hole, WORLD; the hole is never filled.
    pcap(cap, conn(1000, 80, [(0, b"HELLO"), (10, b"WORLD")]))
    rc, out, err = run("--content", cap)
    c.need(rc == 0 and b"[5 bytes missing]\n" in out and b"#" not in out,
           "--content: exit %d, %r" % (rc, out))
    try:
        got = parse_content(out)
    except ValueError as e:
        got = {}
        c.need(False, "--content not parseable: %s" % e)
    d = os.path.join(tmp, "fill")
    rc, _, err = run("--write", d, "--fill-gaps", cap)
    rows = tsv_rows(d)
    filled = open(os.path.join(d, rows[0][0]), "rb").read()
    c.need(rc == 0 and filled == b"HELLO" + b"\0" * 5 + b"WORLD" and rows[0][11] == "5+5",
           "--fill-gaps: %r, gaps %s" % (filled, rows[0][11]))
    c.need(got.get((1, "10.0.0.1:1000>10.0.0.2:80")) == bytearray(filled),
           "--content bytes %r differ from the --fill-gaps file %r" % (got, filled))
    d2 = os.path.join(tmp, "nofill")
    run("--write", d2, cap)
    plain = open(os.path.join(d2, tsv_rows(d2)[0][0]), "rb").read()
    c.need(plain == b"HELLOWORLD", "default --write: %r" % plain)
    # A hole at the very end: HEAD, then the FIN 4 bytes further on.
    cap2 = os.path.join(tmp, "tail.pcap")
    fr = conn(1000, 80, [(0, b"HEAD")], fin=False)
    fr.append(ipv4(C, S, tcp(1000, 80, 101 + 8, 501, FIN | ACK)))
    pcap(cap2, fr)
    d3 = os.path.join(tmp, "tail")
    rc, out, err = run("--write", d3, "--fill-gaps", cap2)
    rows = tsv_rows(d3)
    data = open(os.path.join(d3, rows[0][0]), "rb").read()
    c.need(data == b"HEAD\0\0\0\0" and rows[0][5] == "4", "--fill-gaps, hole at the end: %r, row %s" % (data, rows[0]))
    print("content/fill-gaps: markers, zeros at the gap offsets, hole at the end")


def test_json(c, tmp):
    caps = sorted(os.path.join(T.CAPTURES, "crafted", f) for f in os.listdir(os.path.join(T.CAPTURES, "crafted"))
                  if f.endswith(".pcap")) + [os.path.join(T.CAPTURES, "real", "mild-s1-client.pcapng")]
    n = 0
    for cap in caps:
        rc, out, err = run("--json", cap)
        rct, text, _ = run("--no-stats", cap)
        d = os.path.join(tmp, "json-" + os.path.basename(cap))
        run("--no-stats", "--write", d, cap)
        rows = tsv_rows(d)
        try:
            objs = [json.loads(l) for l in out.decode().splitlines()]
        except ValueError as e:
            c.need(False, "%s --json: not JSON: %s" % (T.rel(cap), e))
            continue
        lines = [l.split() for l in text.decode().splitlines() if l]
        c.need(rc == rct and len(objs) == len(lines) == len(rows),
               "%s: %d objects, %d lines, %d rows" % (T.rel(cap), len(objs), len(lines), len(rows)))
        for o, l, r in zip(objs, lines, rows):
            n += 1
            want = [l[0], int(l[1]), int(l[2]), int(l[3]), int(l[4]), l[5]]
            got = [o["key"], o["delivered"], o["skipped"], o["conflicts"], o["dropped"], o["sha256"]]
            gaps = "-" if not o["gaps"] else ",".join("%d+%d" % tuple(g) for g in o["gaps"])
            ok = (got == want and o["conn_id"] == int(r[1]) and o["dir"] == ("c2s", "s2c")[int(r[2])]
                  and o["close"] == r[10] and gaps == r[11] and o["zone"] == int(r[9])
                  and o["type"] == "direction" and o["policy"] == "first"
                  and (o["first_time"] is None or o["first_time"] <= o["last_time"])
                  and o["key"].startswith(("[%s]:%d>" if o["ip_version"] == 6 else "%s:%d>") %
                                          (o["src"]["addr"], o["src"]["port"])))
            if not c.need(ok, "%s: JSON %s vs line %s / row %s" % (T.rel(cap), o, l, r)):
                break
    print("json: %d objects on %d captures match the lines and streams.tsv" % (n, len(caps)))


def test_digest(c, tmp):
    cap = os.path.join(tmp, "digest.pcap")
    pcap(cap, conn(1000, 80, [(0, b"HELLO"), (5, b"WORLD")]) + conn(1001, 80, [(0, b"x" * 3000)]))
    lines = {}
    for dg in (False, True):
        d = os.path.join(tmp, "digest-%d" % dg)
        rc, out, err = run("--empty", "--write", d, cap, digest=dg)
        rcj, js, _ = run("--json", cap, digest=dg)
        c.need(rc == 0 and rcj == 0, "digest=%s: exit %d / %d: %s" % (dg, rc, rcj, err))
        text = out.decode().splitlines()
        lines[dg] = ([l.split() for l in text if l and not l.startswith("#")],
                     [l for l in text if l.startswith("#")], tsv_rows(d),
                     [json.loads(l) for l in js.decode().splitlines()], d)
    (l0, st0, r0, j0, d0), (l1, st1, r1, j1, d1) = lines[False], lines[True]
    c.need(len(l0) == len(l1) == 4 and all(len(a) == 5 and len(b) == 6 and a == b[:5] for a, b in zip(l0, l1)),
           "lines without --sha256 %s, with %s" % (l0, l1))
    c.need(st0 == st1 and len(st0) > 5, "the counters differ with --sha256: %s vs %s" % (st0, st1))
    c.need(all("sha256" not in o for o in j0) and all(len(o.get("sha256", "")) == 64 for o in j1)
           and [dict(o, sha256=None) for o in j1] == [dict(o, sha256=None) for o in j0],
           "JSON without --sha256 %s, with %s" % (j0, j1))
    for a, b in zip(r0, r1):
        data = open(os.path.join(d1, b[0]), "rb").read()
        c.need(a[8] == "" and b[8] == hashlib.sha256(data).hexdigest() and a[:8] == b[:8] and a[9:] == b[9:]
               and data == open(os.path.join(d0, a[0]), "rb").read(),
               "streams.tsv row without --sha256 %s, with %s; file %r" % (a, b, data[:20]))
    rc, out, _ = run("--policy", "all", "--no-stats", cap, digest=False)
    fields = [l.split() for l in out.decode().splitlines() if l]
    c.need(rc == 0 and len(fields) == 2 and [f[:6] for f in fields] == [g for g in l1 if g[1] != "0"] and
           all(f[6] == "agree" for f in fields),
           "--policy all without --sha256: %s (want the digest and agree)" % fields)
    print("digest: default lines are --sha256's without the digest; JSON, streams.tsv and --policy all checked")


def test_errors(c, tmp):
    for bad in (os.path.join(tmp, "missing.pcap"), tmp, os.path.join(T.SRC, "README.md")):
        rc, out, err = run(bad)
        c.need(rc == T.EXIT_IO and not out and err.strip(),
               "unreadable %s: exit %d, stdout %r, stderr %r" % (bad, rc, out[:80], err))
    src = os.path.join(T.CAPTURES, "fidelity", "zeek", "echo-connections.pcap.gz")
    raw = bytearray(open(src, "rb").read())
    for i in range(len(raw) // 2, len(raw) // 2 + 64):
        raw[i] ^= 0x5A
    bad = os.path.join(tmp, "corrupt.pcap.gz")
    open(bad, "wb").write(raw)
    rc, out, err = run(bad)
    c.need(rc == T.EXIT_IO and "corrupt gzip data" in err and "ioctl" not in err,
           "corrupt gzip: exit %d, stderr %r" % (rc, err))
    cut = os.path.join(tmp, "cut.pcap.gz")
    open(cut, "wb").write(bytes(raw[:0]) + open(src, "rb").read()[:len(raw) // 2])
    rc, out, err = run(cut)
    c.need(rc == T.EXIT_IO and "gzip" in err and "ioctl" not in err,
           "truncated gzip: exit %d, stderr %r" % (rc, err))
    h = subprocess.run([T.TOOL, "--help"], stdout=subprocess.PIPE).stdout.decode()
    man = open(MAN).read()
    c.need("Exit status: 0" in h and "3 --verify" in h and ".SH EXIT STATUS" in man,
           "exit codes missing in --help or the man page")
    print("errors: unreadable inputs, corrupt and truncated gzip")


def test_order(c, tmp):
    cap = os.path.join(tmp, "order.pcap")
    a = conn(1000, 80, [(0, b"first-created")], fin=False)
    b = conn(1001, 80, [(0, b"second")])  # completes by FIN while the first stays open
    pcap(cap, a + b)
    rc, out, err = run("--no-stats", cap)
    ks = [l.split()[0] for l in out.decode().splitlines() if l]
    c.need(rc == 0 and ks == ["10.0.0.1:1001>10.0.0.2:80", "10.0.0.1:1000>10.0.0.2:80"],
           "completion order: %s" % ks)
    rc2, out2, _ = run("--no-stats", "--threads", "2", cap)
    c.need(sorted(out2.decode().splitlines()) == sorted(out.decode().splitlines()),
           "--threads 2: %r vs %r" % (out2, out))
    print("order: by completion")


def test_man(c):
    h = subprocess.run([T.TOOL, "--help"], stdout=subprocess.PIPE).stdout.decode()
    opts = sorted(set(re.findall(r"(?<![\w-])(--[a-z][a-z-]+|-[a-zA-Z])\b", h)))
    man = open(MAN).read().replace("\\-", "-")
    missing = [o for o in opts if o not in man]
    c.need(len(opts) > 30 and not missing, "options of --help not in the man page: %s (of %d)" % (missing, len(opts)))
    print("man: %d options of --help all in safereasm-pcap.1" % len(opts))
    # cmake --install puts it under share/man/man1 (the tools/ part of the
    # install script only: nothing else of the build is installed here).
    script, cmake = os.environ.get("SR_TOOL_INSTALL_SCRIPT"), os.environ.get("SR_CMAKE")
    if not (script and cmake and os.path.exists(script)):
        c.need(False, "SR_TOOL_INSTALL_SCRIPT/SR_CMAKE not set: cannot check the man page install")
        return
    tmp = tempfile.mkdtemp(prefix="sr-cli-inst-")
    try:
        p = subprocess.run([cmake, "-DCMAKE_INSTALL_PREFIX=" + tmp, "-P", script],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        inst = os.path.join(tmp, "share", "man", "man1", "safereasm-pcap.1")
        c.need(p.returncode == 0 and os.path.exists(inst) and open(inst).read() == open(MAN).read(),
               "cmake --install: man page not at share/man/man1 (%s)" % p.stdout.decode()[-300:])
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print("man: installed as share/man/man1/safereasm-pcap.1")


def test_fdlimit(c, tmp):
    n = 300
    fr, want = [], {}
    for i in range(n):
        cp = 2000 + i
        fr += [ipv4(C, S, tcp(cp, 80, 100, 0, SYN)), ipv4(S, C, tcp(80, cp, 500, 101, SYN | ACK))]
    for r in range(3):
        for i in range(n):
            data = ("conn%d-round%d;" % (i, r)).encode()
            off = want.get(i, b"")
            fr.append(ipv4(C, S, tcp(2000 + i, 80, 101 + len(off), 501, ACK | PSH, data)))
            want[i] = off + data
    for i in range(n):
        end = 101 + len(want[i])
        fr.append(ipv4(C, S, tcp(2000 + i, 80, end, 501, FIN | ACK)))
        fr.append(ipv4(S, C, tcp(80, 2000 + i, 501, end + 1, FIN | ACK)))
    cap = os.path.join(tmp, "fdlimit.pcap")
    with open(cap, "wb") as f:  # one millisecond apart: no connection times out
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 101))
        for i, x in enumerate(fr):
            f.write(struct.pack("<IIII", 1000 + i // 1000, (i % 1000) * 1000, len(x), len(x)) + x)

    def limited():
        resource.setrlimit(resource.RLIMIT_NOFILE, (40, 40))

    files = {}
    for threads in ("1", "2"):
        d = os.path.join(tmp, "fdlimit-w" + threads)
        p = subprocess.run([T.TOOL, "--no-progress", "--sha256", "--threads", threads, "--write", d, cap],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, preexec_fn=limited)
        rows = [r for r in tsv_rows(d) if r[2] == "0"]
        c.need(p.returncode == 0 and len(rows) == n,
               "--write under 40 descriptors, --threads %s: exit %d, %d rows, stderr %r"
               % (threads, p.returncode, len(rows), p.stderr[:300]))
        bad = []
        for r in rows:
            i = int(r[3].split(">")[0].rsplit(":", 1)[1]) - 2000
            got = open(os.path.join(d, r[0]), "rb").read()
            if got != want.get(i) or hashlib.sha256(got).hexdigest() != r[8]:
                bad.append(r[0])
        c.need(not bad, "--threads %s: %d files differ, e.g. %s" % (threads, len(bad), bad[:3]))
        files[threads] = sorted((f, open(os.path.join(d, f), "rb").read())
                                for f in os.listdir(d) if f != "streams.tsv")
    c.need(files["1"] == files["2"], "--write: --threads 2 wrote other files than --threads 1")
    print("fdlimit: %d connections written under 40 descriptors" % n)


def test_mapped(c, tmp):
    fr = []
    for i in range(40):
        fr += conn(3000 + i, 80, [(0, b"a" * (i + 1)), (i + 1, b"b" * 7)])
    fr.sort(key=len)  # interleave the connections (by frame length)

    def write(path, frames, endian="<", nano=False, snap=65535, cut=0, long_at=None):
        magic = 0xA1B23C4D if nano else 0xA1B2C3D4
        out = bytearray(struct.pack(endian + "IHHiIII", magic, 2, 4, 0, 0, snap, 101))
        for i, f in enumerate(frames):
            frac = 123456789 if nano else 123456
            caplen = len(f)
            if long_at == i:
                f = f + b"\0" * (snap + 10 - len(f))
                caplen = len(f)
            out += struct.pack(endian + "IIII", 1000 + i, frac, caplen, max(caplen, len(f)))
            out += f
        if cut:
            out = out[:-cut]
        open(path, "wb").write(bytes(out))
        gz = path + ".gz"
        with gzip.open(gz, "wb") as g:
            g.write(bytes(out))
        return path, gz

    cases = {
        "le": write(os.path.join(tmp, "m-le.pcap"), fr),
        "be": write(os.path.join(tmp, "m-be.pcap"), fr, endian=">"),
        "nano": write(os.path.join(tmp, "m-nano.pcap"), fr, nano=True),
        "cut": write(os.path.join(tmp, "m-cut.pcap"), fr, cut=5),
        "long": write(os.path.join(tmp, "m-long.pcap"), fr, snap=200, long_at=len(fr) // 2),
    }
    for name, (plain, gz) in cases.items():
        for threads in ("1", "3"):
            for extra in ((), ("--json",)):
                r1 = run("--threads", threads, *extra, plain)
                r2 = run("--threads", threads, *extra, gz)
                same = (r1[0] == r2[0] and r1[1] == r2[1] and
                        r1[2].replace(plain, "F") == r2[2].replace(gz, "F"))
                c.need(same and r1[1], "mapped %s --threads %s %s: exit %d/%d, stdout %d/%d bytes, "
                       "stderr %r / %r" % (name, threads, " ".join(extra), r1[0], r2[0], len(r1[1]),
                                           len(r2[1]), r1[2][:200], r2[2][:200]))
    print("mapped: %d captures read from a mapping as libpcap reads them" % len(cases))


def test_walk(c, tmp):
    """--threads N on plain pcap files: the workers walk the mapping
    (no reader thread). Over several sync points (4096 frames), with
    frames the decoder refuses (messages, suppressed after 10, counters), a
    time going backwards, a BPF filter, a record libpcap must read in the
    middle of a file (the rest of the file goes to libpcap), and files read
    in turn (plain, gzip, plain): exactly the stdout, stderr and exit status
    of the same bytes gzip-compressed, which libpcap reads and one reader
    thread hands out in batches. Walking is forced (SR_PCAP_WALK=always,
    the indexed walk: by default only while every worker has a CPU), and the
    plain files walked by every worker decoding every frame (each) or read
    by one reader (never) give the same again."""
    groups = []
    for g in range(45):
        cs = [conn(20000 + g * 50 + i, 80, [(0, b"x" * (i % 40 + 1)), (i % 40 + 1, b"y" * 3)])
              for i in range(50)]
        # Round robin within the group: 50 connections open at once.
        groups.append([f for k in range(max(map(len, cs))) for cf in cs if k < len(cf) for f in [cf[k]]])
    frames = [f for grp in groups for f in grp]
    udp = struct.pack(">BBHHHBBH4s4s", 0x45, 0, 28, 1, 0, 64, 17, 0, bytes(C), bytes(S)) + b"\0" * 8
    for k in range(0, len(frames), 397):
        frames.insert(k, b"\x45\x00" if k % 2 else udp)  # IPv4 header cut / not TCP

    def write(path, frs, long_at=None, snap=65535):
        out = bytearray(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, snap, 101))
        for i, f in enumerate(frs):
            if long_at == i:
                f = f + b"\0" * (snap + 10 - len(f))
            ts = 1000 + i // 10 - (5 if i % 1000 == 999 else 0)
            out += struct.pack("<IIII", ts, 0, len(f), len(f)) + f
        open(path, "wb").write(bytes(out))
        with gzip.open(path + ".gz", "wb") as g:
            g.write(bytes(out))
        return path, path + ".gz"

    third = len(frames) // 3
    a = write(os.path.join(tmp, "w-a.pcap"), frames[:third])
    b = write(os.path.join(tmp, "w-b.pcap"), frames[third:2 * third])
    # A record longer than the snapshot length in the middle of the last file.
    cc = write(os.path.join(tmp, "w-c.pcap"), frames[2 * third:], snap=2000, long_at=third // 2)
    c.need(len(frames) > 8193, "walk: %d frames" % len(frames))
    for threads in ("1", "2", "3"):
        for extra in ((), ("--json",), ("--filter", "not tcp port 20077")):
            walk = {"SR_PCAP_WALK": "always"}
            r1 = run("--threads", threads, *extra, a[0], b[1], cc[0], env=walk)
            r2 = run("--threads", threads, *extra, a[1], b[1], cc[1], env=walk)
            r3 = run("--threads", threads, *extra, a[0], b[1], cc[0], env={"SR_PCAP_WALK": "never"})
            r4 = run("--threads", threads, *extra, a[0], b[1], cc[0], env={"SR_PCAP_WALK": "each"})
            e1 = r1[2].replace(a[0], "A").replace(cc[0], "C")
            e2 = r2[2].replace(a[1], "A").replace(cc[1], "C")
            same = (r1[0] == r2[0] == r3[0] == r4[0] and r1[1] == r2[1] == r3[1] == r4[1] and
                    e1 == e2 and r1[2] == r3[2] == r4[2])
            # The filter leaves out the cut frames: no messages then.
            said = "suppressed" in e1 or extra[:1] == ("--filter",)
            c.need(same and r1[1].count(b"\n") > 2000 and said,
                   "walk --threads %s %s: exit %d/%d, stdout %d/%d bytes, stderr %r / %r"
                   % (threads, " ".join(extra), r1[0], r2[0], len(r1[1]), len(r2[1]),
                      e1[:300], e2[:300]))
    print("walk: %d frames in 3 files, mapped and walked as libpcap reads them" % len(frames))

    # The indexed walk cuts a file into chunks of 8192 records or 4 MiB:
    # files of fewer records than one chunk, of exactly one chunk, of one
    # chunk and one record, of chunks ended by their size (20 kB segments),
    # and of none; with refused frames and a filter, read alone and after
    # one another; --threads 1 to 3, every way of reading plain files
    # (always: indexed, each: every worker decodes every frame, never: one
    # reader) against libpcap reading the same bytes gzip-compressed.
    big = [f for i in range(12)
           for f in conn(30000 + i, 80, [(k * 20000, bytes([65 + (i + k) % 26]) * 20000)
                                         for k in range(20)])]
    sizes = {"few": frames[:300], "one": frames[:8192], "one1": frames[:8193], "big": big,
             "none": []}
    files = {k: write(os.path.join(tmp, "k-%s.pcap" % k), v) for k, v in sizes.items()}
    sets = [["few"], ["one"], ["one1"], ["big"], ["none"], ["few", "big", "one", "none", "one1"]]
    for names in sets:
        one = {}
        plain = [files[k][0] for k in names]
        gz = [files[k][1] for k in names]
        for threads in ("1", "2", "3"):
            for extra in ((), ("--filter", "not tcp port 20077")):
                ref = run("--threads", threads, *extra, *gz)
                ref_err = ref[2]
                for k in names:
                    ref_err = ref_err.replace(files[k][1], files[k][0])
                for mode in ("always", "each", "never"):
                    r = run("--threads", threads, *extra, *plain, env={"SR_PCAP_WALK": mode})
                    c.need(r[0] == ref[0] == 0 and r[1] == ref[1] and r[2] == ref_err,
                           "walk chunks %s --threads %s %s %s: exit %d/%d, stdout %d/%d bytes, "
                           "stderr %r / %r" % ("+".join(names), threads, mode, " ".join(extra),
                                               r[0], ref[0], len(r[1]), len(ref[1]), r[2][:300],
                                               ref_err[:300]))
                lines = sorted(l for l in ref[1].split(b"\n") if l and not l.startswith(b"#"))
                if threads == "1":
                    one[extra] = lines
                c.need(lines == one[extra], "walk chunks %s --threads %s %s: lines differ from --threads 1"
                       % ("+".join(names), threads, " ".join(extra)))
                c.need(names == ["none"] or len(lines) > 10,
                       "walk chunks %s: %d lines" % ("+".join(names), len(lines)))
    print("walk chunks: %d sets of files, 1-3 threads, indexed / each / reader = libpcap"
          % len(sets))


def main():
    T.need_tool()
    c = T.Checks()
    tmp = tempfile.mkdtemp(prefix="sr-cli-")
    try:
        test_write(c, tmp)
        test_select(c, tmp)
        test_content_fill(c, tmp)
        test_json(c, tmp)
        test_digest(c, tmp)
        test_errors(c, tmp)
        test_order(c, tmp)
        test_man(c)
        test_fdlimit(c, tmp)
        test_mapped(c, tmp)
        test_walk(c, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return c.done("cli")


if __name__ == "__main__":
    sys.exit(main())
