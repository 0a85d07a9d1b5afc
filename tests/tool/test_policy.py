#!/usr/bin/env python3
"""test_policy.py - safereasm-pcap --policy (issue 9, tool side), on the
captures captures/crafted/make-policy.py writes:

  vectors   policy-main.pcap and policy-wrap.pcap (the "main" vector of
            tests/data/overlap-policies/vectors.json as packets; the second
            with sequence numbers wrapping past 2^32): under --policy NAME,
            for every name and alias the vectors list, the client's bytes
            (--write) are that policy's final view of the vector.
  all       --policy all on them: exactly the client direction diverges; the
            groups are the policies whose final views are equal, each with
            the SHA-256 of that view, and the first differing offset is the
            first index where the views differ (text and --json alike); the
            server direction agrees.
  http      policy-http.pcap: GET /index.html under first, bsd, linux and
            GET /evil.php under old_linux, solaris, last (--content shows
            both), and --policy all reports those two groups at offset 5.
  captures  --policy all over every capture under captures/: exit 0, the
            "# policies diverging" counter equals the diverging lines, no
            direction of captures/real/ diverges (those transfers carry no
            conflicting retransmission); prints the number per capture.
  options   an unknown policy name exits 2 naming --policy and the value;
            --policy all with --write or --content is refused (exit 2);
            --policy all --threads 2 prints the lines of --threads 1.
"""

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile

import tooltest as T

VECTORS = os.path.join(T.SRC, "tests", "data", "overlap-policies", "vectors.json")
CRAFTED = os.path.join(T.CAPTURES, "crafted")
BENIGN, EVIL = b"GET /index.html HTTP/1.1\r\n", b"GET /evil.php HTTP/1.1\r\n"
ORDER = ["first", "bsd", "linux", "old_linux", "solaris", "last"]  # the tool's group order


def final_views():
    with open(VECTORS) as f:
        doc = json.load(f)
    views = {v["policy"]: v["steps"][-1]["view"] for v in doc["vectors"] if v["name"] == "main"}
    return views, doc["policies"]


def client_bytes(cap, *args):
    """(exit, the c2s file's bytes) of a --write run."""
    tmp = tempfile.mkdtemp(prefix="sr-policy-")
    try:
        rc, out, err = T.run(cap, "--write", os.path.join(tmp, "w"), *args)
        rows = [l.rstrip("\n").split("\t") for l in open(os.path.join(tmp, "w", "streams.tsv"))
                if not l.startswith("#")]
        c2s = [r for r in rows if r[2] == "0"]
        if len(c2s) != 1:
            return rc, None
        with open(os.path.join(tmp, "w", c2s[0][0]), "rb") as f:
            return rc, f.read()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def expected_groups(views):
    """[(policies, sha256)] in the tool's order, and the first differing index."""
    groups = []
    for p in ORDER:
        for g in groups:
            if views[g[0][0]] == views[p]:
                g[0].append(p)
                break
        else:
            groups.append(([p], hashlib.sha256(views[p].encode()).hexdigest()))
    vs = [views[p] for p in ORDER]
    first = min(i for i in range(max(map(len, vs))) if len(set(v[i:i + 1] for v in vs)) > 1)
    return groups, first


def parse_all_line(line):
    """key, status ('agree' / offset / None for '?'), [(policies, sha)]."""
    f = line.split()
    status = f[6]
    groups = []
    for g in f[7:]:
        names, sha = g.split(":")
        groups.append((names.split(","), sha))
    if status == "agree":
        return f[0], "agree", groups
    off = status.split("@")[1]
    return f[0], None if off == "?" else int(off), groups


def test_vectors(c):
    views, aliases = final_views()
    for name in ("policy-main.pcap", "policy-wrap.pcap"):
        cap = os.path.join(CRAFTED, name)
        n = 0
        for pol, names in sorted(aliases.items()):
            for alias in names + [names[0].upper()]:
                rc, got = client_bytes(cap, "--policy", alias)
                n += 1
                c.need(rc == 0 and got == views[pol].encode(),
                       "%s --policy %s: exit %d, client bytes %r, expected %s's final view %r" %
                       (name, alias, rc, got, pol, views[pol]))
        print("vectors: %s: %d policy names give their final views" % (name, n))


def test_all(c):
    views, _ = final_views()
    groups, first = expected_groups(views)
    for name in ("policy-main.pcap", "policy-wrap.pcap"):
        cap = os.path.join(CRAFTED, name)
        rc, out, err = T.run(cap, "--policy", "all")
        lines = T.lines_of(out)
        c.need(rc == 0 and len(lines) == 1, "%s --policy all: exit %d, lines %s" % (name, rc, lines))
        if lines:
            key, off, got = parse_all_line(lines[0])
            c.need(off == first and got == groups,
                   "%s --policy all: %s at %s, expected %s at %d" % (name, got, off, groups, first))
        st = T.stats_of(out)
        c.need(st.get("policies.diverging") == 1 and st.get("policies.directions") == 2,
               "%s: policies counters %s" % (name, {k: v for k, v in st.items() if k.startswith("policies")}))
        rc, out, err = T.run(cap, "--policy", "all", "--json", "--empty")
        objs = [json.loads(l) for l in out.splitlines()]
        c2s = [o for o in objs if o["dir"] == "c2s"]
        s2c = [o for o in objs if o["dir"] == "s2c"]
        c.need(len(c2s) == 1 and len(s2c) == 1, "%s --json: %d objects" % (name, len(objs)))
        if c2s and s2c:
            pj = c2s[0]["policies"]
            got = [(g["policies"], g["sha256"]) for g in pj["groups"]]
            c.need(not pj["agree"] and pj["first_offset"] == first and got == groups and
                   not pj["bound_exceeded"], "%s --json policies: %s" % (name, pj))
            c.need(s2c[0]["policies"]["agree"] and s2c[0]["policies"]["first_offset"] is None,
                   "%s --json server direction: %s" % (name, s2c[0]["policies"]))
        print("all: %s: %d groups, first offset %d" % (name, len(groups), first))


def test_http(c):
    cap = os.path.join(CRAFTED, "policy-http.pcap")
    for pol, want in (("first", BENIGN), ("bsd", BENIGN), ("linux", BENIGN),
                      ("old_linux", EVIL), ("solaris", EVIL), ("last", EVIL)):
        rc, got = client_bytes(cap, "--policy", pol)
        c.need(rc == 0 and got is not None and got.startswith(want),
               "policy-http --policy %s: %r, expected it to start %r" % (pol, got, want))
        p = subprocess.run([T.TOOL, "--no-progress", "--content", "--policy", pol, cap],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        body = p.stdout
        c.need(p.returncode == 0 and want[5:16] in body and (BENIGN if want is EVIL else EVIL)[5:14] not in body,
               "policy-http --content --policy %s: %r" % (pol, body[:300]))
    rc, out, err = T.run(cap, "--policy", "all")
    lines = T.lines_of(out)
    parsed = [parse_all_line(l) for l in lines]
    c2s = [p for p in parsed if p[0].startswith("10.9.0.3:")]
    s2c = [p for p in parsed if p[0].startswith("10.9.0.4:")]
    c.need(len(c2s) == 1 and c2s[0][1] == 5 and
           [g[0] for g in c2s[0][2]] == [["first", "bsd", "linux"], ["old_linux", "solaris", "last"]],
           "policy-http --policy all: %s" % lines)
    c.need(len(s2c) == 1 and s2c[0][1] == "agree", "policy-http server direction: %s" % s2c)
    print("http: GET /index.html under first, bsd, linux; GET /evil.php under old_linux, solaris, last")


def test_captures(c):
    total = diverging = 0
    per = []
    for cap in T.all_captures():
        rc, out, err = T.run(cap, "--policy", "all")
        lines = T.lines_of(out)
        div = [l for l in lines if l.split()[6] != "agree"]
        st = T.stats_of(out)
        c.need(rc in (0, 1) and st.get("policies.diverging") == len(div),
               "%s --policy all: exit %d, %d diverging lines, counter %s" %
               (T.rel(cap), rc, len(div), st.get("policies.diverging")))
        total += st.get("policies.directions", 0)
        diverging += len(div)
        if div:
            per.append((T.rel(cap), len(div)))
        if T.rel(cap).startswith("real/"):
            c.need(not div, "%s: %d directions diverge: %s" % (T.rel(cap), len(div), div[:2]))
    print("captures: %d of %d directions diverge, in %d captures:" % (diverging, total, len(per)))
    for rel, n in per:
        print("    %s: %d" % (rel, n))


def test_options(c):
    cap = os.path.join(CRAFTED, "policy-http.pcap")
    rc, out, err = T.run(cap, "--policy", "nosuch")
    c.need(rc == T.EXIT_USAGE and "--policy" in err and "nosuch" in err and not out,
           "--policy nosuch: exit %d, stderr %r, stdout %r" % (rc, err, out))
    for extra in (["--write", "/tmp/sr-policy-never"], ["--content"]):
        rc, out, err = T.run(cap, "--policy", "all", *extra)
        c.need(rc == T.EXIT_USAGE and "--policy all" in err and not os.path.exists("/tmp/sr-policy-never"),
               "--policy all %s: exit %d, %r" % (extra[0], rc, err))
    for name in ("policy-main.pcap", "policy-http.pcap"):
        p = os.path.join(CRAFTED, name)
        one = T.run(p, "--policy", "all", "--no-stats")
        two = T.run(p, "--policy", "all", "--no-stats", "--threads", "2")
        c.need(one[0] == two[0] == 0 and sorted(T.lines_of(one[1])) == sorted(T.lines_of(two[1])),
               "%s --policy all: --threads 2 differs from 1: %s vs %s" % (name, one[1], two[1]))
    print("options: refused combinations and names; --threads 2 alike")


def main():
    T.need_tool()
    for n in ("policy-main.pcap", "policy-wrap.pcap", "policy-http.pcap"):
        if not os.path.exists(os.path.join(CRAFTED, n)):
            print("FAIL: %s missing (captures/crafted/make-policy.py writes it)" % n)
            return 1
    c = T.Checks()
    what = sys.argv[1] if len(sys.argv) > 1 else "all"
    if what in ("all", "vectors"):
        test_vectors(c)
        test_all(c)
        test_http(c)
        test_options(c)
    if what in ("all", "captures"):
        test_captures(c)
    return c.done("policy " + what)


if __name__ == "__main__":
    sys.exit(main())
