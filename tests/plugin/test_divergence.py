#!/usr/bin/env python3
"""test_divergence.py - overlap_policy and detect_divergence (issue 9).

On the overlap-policy captures of captures/crafted/make-policy.py:

1. For every policy, the plugin's per-direction stream (-2, every byte,
   overlap_policy NAME) has the SHA-256 and length that
   `safereasm-pcap --policy NAME --json` reports for that direction.
2. With detect_divergence, safereasm.divergent_release is present at
   exactly the frames where six separate single-policy runs (no
   detect_divergence) released different bytes for the same direction and
   offsets, with the same policy groups; and only where the issue expects
   it on policy-http.pcap (the hole-filling frame 6).
3. safereasm.divergence marks exactly the segments that matter: in two
   passes, the frames whose TCP payload (read from tshark's own tcp.seq /
   tcp.payload, not from the plugin) covers a stream offset where the
   single-policy runs released different bytes -- on policy-http.pcap the
   original request bytes (frame 4) and the overlapping retransmission
   (frame 5), not the hole-filling frame 6 -- each linked to its release
   frame (safereasm.divergence.released_in) and listed there as
   safereasm.divergence.segment. One pass shows it only where a frame
   releases its own contested bytes.
4. One pass equals two passes for every release divergence field, and the
   statistics tree counts the divergent releases and directions.
5. Without detect_divergence (the default) no divergence field appears.
"""

import hashlib
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import srtest  # noqa: E402
from srtest import check  # noqa: E402

CAPS = ["policy-main.pcap", "policy-wrap.pcap", "policy-http.pcap"]
TOOL = os.path.join(srtest.BUILD_DIR, "tools", "safereasm-pcap")
DIV = {"detect_divergence": "TRUE"}


def policies():
    return [name for _, name in srtest.header_map("SR_OVERLAP_POLICY_MAP")]


def tool_directions(cap, pol):
    """{(conn, dir): (delivered, sha256)} from safereasm-pcap --json."""
    p = subprocess.run([TOOL, "--json", "--sha256", "--policy", pol, cap], stdout=subprocess.PIPE,
                       universal_newlines=True, check=True)
    out = {}
    for line in p.stdout.splitlines():
        o = json.loads(line)
        if o.get("type") == "direction":
            out[(o["src"]["port"], o["dst"]["port"])] = (o["delivered"], o["sha256"])
    return out


def ports(cap):
    """{conn_id: (client port, server port)} from the plugin's first segment."""
    out = {}
    text = srtest.tshark(["-n", "-r", cap, "-T", "fields", "-e", "safereasm.conn_id",
                          "-e", "safereasm.dir", "-e", "tcp.srcport",
                          "-e", "tcp.dstport"]).stdout
    for line in text.splitlines():
        c, d, sp, dp = (line.split("\t") + ["", "", "", ""])[:4]
        if c and c != "0" and c not in out:
            out[int(c)] = (int(sp), int(dp)) if d == "0" else (int(dp), int(sp))
    return out


def releases(frames):
    """{(frame, conn, dir): [(offset, data)]} of the non-end-flush chunks,
    and the same for end-flush chunks under key frame 'end'."""
    out = {}
    for num, fr in frames.items():
        for ch in fr.chunks:
            if ch["len"]:
                key = (num, ch["end"], ch["conn_id"], ch["dir"])
                out.setdefault(key, []).append((ch["offset"], ch["data"]))
    return out


def segments(cap, conn_ports):
    """[(frame, (src port, dst port), stream start, payload)] from tshark
    alone (relative sequence numbers: the stream starts at tcp.seq 1)."""
    out = []
    text = srtest.tshark(["-n", "-r", cap, "-T", "fields", "-e", "frame.number",
                          "-e", "tcp.srcport", "-e", "tcp.dstport", "-e", "tcp.seq",
                          "-e", "tcp.payload"], plugin="none").stdout
    for line in text.splitlines():
        num, sp, dp, seq, pl = (line.split("\t") + [""] * 5)[:5]
        if pl:
            out.append((int(num), (int(sp), int(dp)), int(seq) - 1, bytes.fromhex(pl)))
    return out


def contested(rel, pols, key):
    """Stream offsets where the single-policy runs released different bytes
    in release key."""
    views = []
    for pol in pols:
        m = {}
        for off, data in rel[pol].get(key, []):
            for i, b in enumerate(data):
                m[off + i] = b
        views.append(m)
    offs = set().union(*[set(v) for v in views])
    return {o for o in offs if len({v.get(o) for v in views}) > 1}


def div_items(cap, two_pass, prefs, name="safereasm.divergent_release"):
    """{frame: [(conn, dir, offset, len, groups{policies: bytes}, segments)]},
    the end-flush ones marked; name: safereasm.divergent_release (at the
    release) or safereasm.divergence (at a contested segment)."""
    import xml.etree.ElementTree as ET
    args = ["-n", "-r", cap, "-T", "pdml", "-J", "safereasm"] + srtest.pref_args(prefs)
    if two_pass:
        args.append("-2")
    root = ET.fromstring(srtest.tshark(args).stdout)
    out = {}
    for pkt in root.findall("packet"):
        num = int([f for f in pkt.iter("field") if f.get("name") == "num"][0].get("show"))

        def walk(node, end):
            for f in node.findall("field"):
                n = f.get("name")
                if n == "safereasm.end_flush":
                    walk(f, True)
                elif n == name:
                    v = {"end": end, "groups": {}, "segments": []}
                    for c in f.iter("field"):
                        cn = c.get("name")
                        if cn in ("safereasm.divergence.conn_id", "safereasm.divergence.dir",
                                  "safereasm.divergence.offset", "safereasm.divergence.len"):
                            v[cn.split(".")[2]] = int(c.get("show"))
                        elif cn == "safereasm.divergence.group":
                            pol = [g.get("show") for g in c.iter("field")
                                   if g.get("name") == "safereasm.divergence.policies"][0]
                            # A generated item of length 0: PDML gives the
                            # bytes in "show" (colon-separated hex).
                            data = [g.get("show") for g in c.iter("field")
                                    if g.get("name") == "safereasm.divergence.bytes"][0]
                            v["groups"][pol] = bytes.fromhex(data.replace(":", ""))
                        elif cn == "safereasm.divergence.segment":
                            v["segments"].append(int(c.get("show")))
                        elif cn == "safereasm.divergence.released_in":
                            v["released_in"] = int(c.get("show"))
                    out.setdefault(num, []).append(v)
                else:
                    walk(f, end)
        for proto in pkt.findall("proto"):
            if proto.get("name") == "safereasm":
                walk(proto, False)
    return out


def main():
    pols = policies()
    check(len(pols) == 6, "policies in the header: %s" % pols)
    if not os.access(TOOL, os.X_OK):
        raise srtest.TestFailure("no %s: build the safereasm-pcap target" % TOOL)
    for name in CAPS:
        cap = srtest.stage(os.path.join(srtest.CAPTURES, "crafted", name))
        conn_ports = ports(cap)

        # 1. Each policy: the plugin's bytes equal the tool's.
        per_policy = {}
        for pol in pols:
            frames = srtest.plugin_frames(cap, True, {"overlap_policy": pol})
            per_policy[pol] = frames
            tool = tool_directions(cap, pol)
            got = {}
            for (conn, d), st in srtest.streams(frames).items():
                if not st["data"]:
                    continue  # the tool lists directions with data only
                cp, sp = conn_ports[conn]
                key = (cp, sp) if d == 0 else (sp, cp)
                got[key] = (len(st["data"]), hashlib.sha256(st["data"]).hexdigest())
            check(got == tool, "%s, policy %s: plugin %s, safereasm-pcap %s"
                  % (name, pol, got, tool))
            # No divergence field unless asked for.
            check(not any(k.startswith("safereasm.diverge") for f in frames.values()
                          for k in f.fields),
                  "%s, policy %s: a divergence field without detect_divergence"
                  % (name, pol))

        # 2. Where the single-policy runs released different bytes.
        rel = {pol: releases(per_policy[pol]) for pol in pols}
        expect = {}
        # 3. The segments that matter, from tshark's own view of the packets.
        segs = segments(cap, conn_ports)
        expect_segs = {}   # segment frame -> release frame
        expect_named = {}  # (release frame, end) -> [segment frames]
        for key in rel["first"]:
            versions = {}
            for pol in pols:
                versions.setdefault(b"".join(d for _, d in rel[pol].get(key, [])),
                                    []).append(pol)
            if len(versions) > 1:
                expect[(key[0], key[1])] = sorted(", ".join(v) for v in versions.values())
                offs = contested(rel, pols, key)
                cp, sp = conn_ports[key[2]]
                want = (cp, sp) if key[3] == 0 else (sp, cp)
                hit = sorted(num for num, pp, start, pl in segs
                             if pp == want and any(start <= o < start + len(pl) for o in offs))
                check(hit, "%s: no segment covers the contested offsets %s of release %s"
                      % (name, sorted(offs)[:8], key))
                expect_named[(key[0], key[1])] = hit[:16]
                for num in hit:
                    expect_segs.setdefault(num, key[0])
        for shown in ("first", "last"):
            prefs = dict(DIV, overlap_policy=shown)
            two = div_items(cap, True, prefs)
            got = {}
            for num, items in two.items():
                for v in items:
                    got[(num, v["end"])] = sorted(v["groups"])
                    first_group = list(v["groups"])[0]
                    check(shown in first_group.split(", "), "%s: the first group %r is "
                          "not the shown policy %s" % (name, first_group, shown))
            check(got == expect, "%s (shown %s): divergence at %s, single-policy runs "
                  "differ at %s" % (name, shown, got, expect))
            named = {(num, v["end"]): sorted(v["segments"]) for num, items in two.items()
                     for v in items}
            check(named == expect_named, "%s (shown %s): releases name segments %s, the "
                  "packets' payloads say %s" % (name, shown, named, expect_named))
            seg_two = div_items(cap, True, prefs, "safereasm.divergence")
            got_segs = {num: items[0].get("released_in") for num, items in seg_two.items()}
            check(got_segs == expect_segs, "%s (shown %s): safereasm.divergence at %s "
                  "(-> release), the packets' payloads say %s"
                  % (name, shown, got_segs, expect_segs))
            seg_one = div_items(cap, False, prefs, "safereasm.divergence")
            check(all(items[0].get("released_in") == num for num, items in seg_one.items()),
                  "%s: one pass marks segments %s before their release"
                  % (name, {n: i[0].get("released_in") for n, i in seg_one.items()}))
            # 4. One pass: the same, the end flush aside.
            one = div_items(cap, False, prefs)
            two_no_end = {n: [v for v in items if not v["end"]] for n, items in two.items()}
            two_no_end = {n: items for n, items in two_no_end.items() if items}
            check(one == two_no_end, "%s: one-pass divergence %s, two-pass %s"
                  % (name, one, two_no_end))
            tree = srtest.stats_tree(srtest.tshark(["-n", "-r", cap, "-q", "-2", "-z",
                                                    "safereasm,tree"]
                                                   + srtest.pref_args(prefs)).stdout)
            n_rel = sum(len(items) for items in two.values())
            n_dir = len({(v["conn_id"], v["dir"]) for items in two.values() for v in items})
            check(tree.get("divergent_releases") == n_rel and
                  tree.get("divergent_directions") == n_dir,
                  "%s: tree counts %s releases / %s directions, fields %d / %d"
                  % (name, tree.get("divergent_releases"), tree.get("divergent_directions"),
                     n_rel, n_dir))
            if name == "policy-http.pcap":
                check(sorted(two) == [6], "policy-http.pcap: divergence at %s, expected "
                      "[6] (the frame that fills the hole)" % sorted(two))
                check(sorted(seg_two) == [4, 5], "policy-http.pcap: safereasm.divergence "
                      "at %s, expected [4, 5] (the request and its overlapping "
                      "retransmission)" % sorted(seg_two))
                if 6 in two:
                    v = two[6][0]
                    check(v["segments"] == [4, 5], "policy-http.pcap: contested segments %s, "
                          "expected [4, 5]" % v["segments"])
                    kept = {g: b for g, b in v["groups"].items()}
                    check(any(b.startswith(b"index.html") for b in kept.values()) and
                          any(b.startswith(b"evil.php") for b in kept.values()),
                          "policy-http.pcap: kept bytes %s" % kept)
                    check(sorted(kept) == ["first, bsd, linux", "old_linux, solaris, last"],
                          "policy-http.pcap: groups %s" % sorted(kept))
    srtest.finish("plugin/divergence")


if __name__ == "__main__":
    try:
        main()
    except srtest.TestFailure as e:
        print("FAIL: %s" % e)
        sys.exit(1)
