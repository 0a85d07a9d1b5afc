#!/usr/bin/env python3
"""test_divergence.py - overlap_policy and detect_divergence (issue 9).

On the overlap-policy captures of captures/crafted/make-policy.py:

1. For every policy, the plugin's per-direction stream (-2, every byte,
   overlap_policy NAME) has the SHA-256 and length that
   `safereasm-pcap --policy NAME --json` reports for that direction.
2. With detect_divergence, safereasm.divergence is present at exactly the
   frames where six separate single-policy runs (no detect_divergence)
   released different bytes for the same direction and offsets, with the
   same policy groups; and only where the issue expects it on
   policy-http.pcap (the hole-filling frame 6, naming the overlapping
   retransmission, frame 5, as its segment).
3. One pass equals two passes for every divergence field, and the
   statistics tree counts the divergent releases and directions.
4. Without detect_divergence (the default) no divergence field appears.
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
    p = subprocess.run([TOOL, "--json", "--policy", pol, cap], stdout=subprocess.PIPE,
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


def div_items(cap, two_pass, prefs):
    """{frame: [(conn, dir, offset, len, groups{policies: bytes}, segments)]},
    the end-flush ones marked."""
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
                elif n == "safereasm.divergence":
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
            check(not any("safereasm.divergence" in f.fields for f in frames.values()),
                  "%s, policy %s: safereasm.divergence without detect_divergence"
                  % (name, pol))

        # 2. Where the single-policy runs released different bytes.
        rel = {pol: releases(per_policy[pol]) for pol in pols}
        expect = {}
        for key in rel["first"]:
            versions = {}
            for pol in pols:
                versions.setdefault(b"".join(d for _, d in rel[pol].get(key, [])),
                                    []).append(pol)
            if len(versions) > 1:
                expect[(key[0], key[1])] = sorted(", ".join(v) for v in versions.values())
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
            # 3. One pass: the same, the end flush aside.
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
                if 6 in two:
                    v = two[6][0]
                    check(v["segments"] == [5], "policy-http.pcap: overlapping segments %s, "
                          "expected [5]" % v["segments"])
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
