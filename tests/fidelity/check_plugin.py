#!/usr/bin/env python3
"""check_plugin.py - the two paths through the core must agree exactly:
safereasm-pcap, and tshark with the safereasm plugin.

Usage: check_plugin.py CASE     (a name from cases.py, or real-<capture>)
       check_plugin.py --list   (every name, ';'-separated, for CMake)

For each capture: `tshark -2` with the plugin (two passes, so the
end-of-capture flush is shown), the case's tool options passed as the
matching `-o safereasm.<pref>:<value>`. Each connection direction's stream
is rebuilt from the per-frame chunks (safereasm.chunk.*, ordered by offset,
each offset checked against the previous end plus the gap before it), and
compared with safereasm-pcap --write: the same bytes and holes at the same
offsets (so delivered, skipped and sha256 agree), the same conflict count,
the same frames with SR_SEG_CONFLICT and the same conflict-flagged chunk
ranges.

Directions are matched by their address/port 4-tuple. The zones differ in
encoding (the tool: VLAN ids; the plugin: a hash of VLAN/VXLAN ids and
tunnel addresses), so within one 4-tuple the connections pair by creation
order, and where several zones hold the same 4-tuple, the sets of per-zone
results must be equal. The plugin's connection endpoints come from its
segment fields (safereasm.conn_id, .dir), paired with the frame's top-level
IP and TCP layers the way plugin/extract.c pairs them.

Where the two cannot agree (a decoding difference between the tool and
Wireshark), EXCUSES says so, per case, with the reason and a check that
the capture shows it for that direction; every excused direction is
printed. Nothing else is excused. Exit 0 when all agree, 77 when the
case's tool options have no plugin preference (none at present).
Python 3 standard library only; tshark runs through
tests/lib/tshark-as-user.sh (as root, tshark ignores personal plugins).
"""

import atexit
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile

import cases
import fidelity as F

PLUGIN = os.environ.get("SR_PLUGIN", "")
HELPER = os.path.join(F.SRC, "tests", "lib", "tshark-as-user.sh")
REAL = os.path.join(F.SRC, "captures", "real")
HEADER = os.path.join(F.SRC, "core", "include", "safereasm.h")


def header_value(name):
    with open(HEADER) as f:
        m = re.search(r"\b%s\s*=\s*(0x[0-9a-fA-F]+|\d+)" % name, f.read())
    if not m:
        raise F.Fail("no %s in %s" % (name, HEADER))
    return int(m.group(1), 0)


SEG_CONFLICT = header_value("SR_SEG_CONFLICT")
CHUNK_CONFLICT = header_value("SR_CHUNK_CONFLICT")

# safereasm-pcap option -> plugin preference (plugin/prefs.c, named after
# the sr_options fields). Seconds are whole seconds in the plugin.
PREFS = {
    "--max-pages-total": "max_buffered_pages_total",
    "--max-pages-per-connection": "max_buffered_pages_per_connection",
    "--page-size": "page_size",
    "--connection-timeout": "connection_timeout",
    "--flush-interval": "flush_interval",
    "--closed-linger": "closed_linger",
    "--max-window": "max_window",
    "--conflict-history": "conflict_history",
    "--max-connections": "max_connections",
}


def pref_args(tool_args):
    """-o arguments for the tool's options; None if one has no preference."""
    out, a = [], list(tool_args)
    while a:
        opt = a.pop(0)
        if opt not in PREFS or not a or not re.fullmatch(r"\d+", a[0]):
            return None
        out += ["-o", "safereasm.%s:%s" % (PREFS[opt], a.pop(0))]
    return out


# ----------------------------------------------------------------- excuses

class Excuse:
    """A direction the two paths cannot agree on, and why. kind is
    "plugin-only", "tool-only" or "differs"; evidence(k, t, p, seen) returns
    what in the capture shows the reason applies to this direction (a
    string), or None -- then the excuse does not apply and the difference
    fails like any other. k: the 4-tuple; t, p: the tool's and the
    plugin's direction (None when missing); seen: what the plugin run
    found in the capture (Seen)."""

    def __init__(self, kind, evidence, reason, only=None):
        self.kind, self.evidence, self.reason = kind, evidence, reason
        # "differs" only: the differences it may cover (their first words);
        # None = any.
        self.only = only

    def covers(self, diffs):
        return self.only is None or all(d.split(":")[0] in self.only for d in diffs)


def tunnelled_only_in_plugin(k, t, p, seen):
    return "plugin zone %#x (tunnel)" % p.zone if t is None and p is not None and p.zone else None


def teredo_only_in_plugin(k, t, p, seen):
    # Teredo clients have addresses in 2001:0::/32.
    if t is None and p is not None and any(a.startswith("2001:0:") for a in (k[0], k[2])):
        return "Teredo address"
    return None


EXCUSES = {
    "zeek-gre-aruba": [Excuse("plugin-only", tunnelled_only_in_plugin,
                              "safereasm-pcap does not decode 802.11 inside Aruba GRE (type 0x8200): "
                              "unsupported_encap; Wireshark does")],
    "zeek-teredo": [Excuse("plugin-only", teredo_only_in_plugin,
                           "safereasm-pcap does not decode Teredo (IPv6 in UDP); Wireshark does")],
}


# ----------------------------------------------------------------- the case list

def all_cases():
    out = list(cases.CASES)
    if os.path.isdir(REAL):
        for f in sorted(os.listdir(REAL)):
            if f.endswith((".pcap", ".pcapng")):
                out.append(cases.Case("real-" + f.split(".")[0], os.path.join(REAL, f)))
    return out


def get_case(name):
    for c in all_cases():
        if c.name == name:
            return c
    raise F.Fail("no case %r" % name)


# ----------------------------------------------------------------- tshark with the plugin

_scratch = None


def stage(path):
    """Copy the capture into a world-readable scratch folder: as root the
    helper runs tshark as nobody, which may not read the source tree."""
    global _scratch
    if _scratch is None:
        _scratch = tempfile.mkdtemp(prefix="sr-fid-plugin.")
        os.chmod(_scratch, 0o755)
        atexit.register(shutil.rmtree, _scratch, True)
    dst = os.path.join(_scratch, os.path.basename(path))
    shutil.copyfile(path, dst)
    os.chmod(dst, 0o644)
    return dst


def tshark_plugin(args):
    if not PLUGIN or not os.path.exists(PLUGIN):
        raise F.Fail("SR_PLUGIN %r: no plugin to load" % PLUGIN)
    env = dict(os.environ, SR_PLUGIN=PLUGIN, SR_TSHARK_HOME=os.path.join(_scratch, "home"))
    p = subprocess.run([HELPER] + args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")
    if p.returncode != 0:
        raise F.Fail("tshark %s: exit %d: %s" % (" ".join(args), p.returncode, err.strip()[-2000:]))
    return out, err


FIELDS = ["frame.number", "frame.protocols", "ip.src", "ip.dst", "ip.len", "ip.hdr_len",
          "ipv6.src", "ipv6.dst", "tcp.srcport", "tcp.dstport", "tcp.hdr_len", "tcp.len",
          "safereasm.conn_id", "safereasm.dir", "safereasm.zone", "safereasm.status",
          "safereasm.chunk.conn_id", "safereasm.chunk.dir", "safereasm.chunk.offset",
          "safereasm.chunk.skipped", "safereasm.chunk.len", "safereasm.chunk.flags",
          "safereasm.chunk.data", "safereasm.chunk.data_dropped"]


class PDir:
    """One connection direction as the plugin showed it."""

    def __init__(self, conn_id, d):
        self.conn_id, self.dir = conn_id, d
        self.chunks = []          # (offset, skipped, len, flags, data, frame)
        self.zone = None
        self.tuple = None         # (src, sport, dst, dport), from the segments
        self.conflict_frames = []
        self.problems = []

    def build(self):
        """Order the chunks by offset, check that they tile the stream, and
        derive canon(), delivered, skipped, sha256 and the conflicts."""
        pieces, end = [], 0
        self.delivered = self.skipped = 0
        self.conflict_chunks = []
        sha = hashlib.sha256()
        for off, skipped, n, flags, data, frame in sorted(self.chunks, key=lambda c: c[0]):
            if off != end + skipped:
                self.problems.append("frame %d: chunk at offset %d after a gap of %d, but the "
                                     "previous chunk ended at %d" % (frame, off, skipped, end))
            if data is None or len(data) != n:
                self.problems.append("frame %d: chunk at offset %d of %d bytes shows %s bytes" %
                                     (frame, off, n, "no" if data is None else len(data)))
                data = data or b""
            pieces += [("g", skipped), ("d", data)]
            sha.update(data)
            self.delivered += n
            self.skipped += skipped
            if flags & CHUNK_CONFLICT and n:
                self.conflict_chunks.append((off, n))
            end = off + n
        self._canon = F.canon(pieces)
        self.sha256 = sha.hexdigest()
        # As the tool counts them: segments the core said SR_SEG_CONFLICT for.
        self.conflicts = len(self.conflict_frames)

    def canon(self):
        return self._canon


class Seen:
    """What the plugin run saw in the capture besides the directions."""

    def __init__(self):
        self.short = {}   # 4-tuple -> frames whose IPv4 length exceeds the frame


def split(v):
    return v.split("|") if v else []


def rows(v, frame, prefix, names):
    """Per-item tuples of the fields prefix+name (one occurrence per item)."""
    cols = [[int(x, 0) for x in split(v[prefix + n])] for n in names]
    if len(set(map(len, cols))) > 1:
        raise F.Fail("frame %d: %s* fields do not line up: %s" % (frame, prefix, [len(c) for c in cols]))
    return list(zip(*cols))


def top_level(v):
    """The frame's top-level TCP layers as plugin/extract.c walks the tree,
    each with the last IP header before it: [(4-tuple, IPv4 claimed
    payload or None, tcp.len)]. Layers after an ICMP header are quoted
    inside it, not top-level. None when the field values do not line up
    with the layers (a header cut short)."""
    ip4 = list(zip(split(v["ip.src"]), split(v["ip.dst"])))
    ip4len = list(zip(split(v["ip.len"]), split(v["ip.hdr_len"])))
    ip6 = list(zip(split(v["ipv6.src"]), split(v["ipv6.dst"])))
    tcp = list(zip(split(v["tcp.srcport"]), split(v["tcp.dstport"])))
    tcplen = list(zip(split(v["tcp.hdr_len"]), split(v["tcp.len"])))
    layers = v["frame.protocols"].split(":")
    if layers.count("ip") != len(ip4) or layers.count("ipv6") != len(ip6) or \
            layers.count("tcp") != len(tcp):
        return None
    lens_ok = len(ip4len) == len(ip4) and len(tcplen) == len(tcp)
    out, ip, nested = [], None, False
    for p in layers:
        if p in ("icmp", "icmpv6"):
            nested = True
        elif p == "ip":
            (s, d), ln = ip4.pop(0), (ip4len.pop(0) if lens_ok else None)
            ip = None if nested else (s, d, int(ln[0]) - int(ln[1]) if ln else None)
        elif p == "ipv6":
            s, d = ip6.pop(0)
            ip = None if nested else (F.expand_v6(s), F.expand_v6(d), None)
        elif p == "tcp":
            sp, dp = tcp.pop(0)
            hl, tl = tcplen.pop(0) if lens_ok else (None, None)
            if not nested and ip is not None:
                claimed = ip[2] - int(hl) if ip[2] is not None and hl else None
                out.append(((ip[0], int(sp), ip[1], int(dp)), claimed, int(tl) if tl else None))
    return out


def run_plugin(pcap, extra):
    """({(conn_id, dir): PDir}, Seen, stderr) from tshark -2 with the plugin."""
    args = ["-n", "-2", "-r", stage(pcap)] + list(extra) + \
           ["-T", "fields", "-E", "occurrence=a", "-E", "aggregator=|"]
    for f in FIELDS:
        args += ["-e", f]
    out, err = tshark_plugin(args)
    dirs, seen = {}, Seen()

    def get(c, d):
        if (c, d) not in dirs:
            dirs[(c, d)] = PDir(c, d)
        return dirs[(c, d)]

    for line in out.splitlines():
        cols = line.split("\t")
        if len(cols) != len(FIELDS):
            raise F.Fail("tshark printed %d columns, expected %d: %r" % (len(cols), len(FIELDS), line[:200]))
        v = dict(zip(FIELDS, cols))
        frame = int(v["frame.number"])
        tl = top_level(v)
        for k, claimed, tcp_len in tl or []:
            if claimed is not None and tcp_len is not None and claimed > tcp_len:
                seen.short.setdefault(k, []).append(frame)
        segs = rows(v, frame, "safereasm.", ("conn_id", "dir", "zone", "status"))
        for i, (c, d, z, st) in enumerate(segs):
            if c == 0:
                continue  # the core refused it (an error): no connection
            pd = get(c, d)
            if st & SEG_CONFLICT:
                pd.conflict_frames.append(frame)
            # Endpoints only where every top-level TCP layer became a segment.
            if tl is None or len(tl) != len(segs):
                continue
            src, sp, dst, dp = tl[i][0]
            for dd, t in ((d, (src, sp, dst, dp)), (1 - d, (dst, dp, src, sp))):
                q = get(c, dd)
                if q.tuple is None:
                    q.tuple, q.zone = t, z
                elif q.tuple != t or q.zone != z:
                    q.problems.append("frame %d: segment of connection %d is %s zone %#x; earlier "
                                      "ones said %s zone %#x" % (frame, c, t, z, q.tuple, q.zone))
        chunks = rows(v, frame, "safereasm.chunk.", ("conn_id", "dir", "offset", "skipped", "len", "flags"))
        # safereasm.chunk.data comes once per chunk with bytes, in order;
        # data_dropped instead where the plugin cannot show them.
        data = [bytes.fromhex(x) for x in split(v["safereasm.chunk.data"])]
        if v["safereasm.chunk.data_dropped"] or len(data) != sum(1 for ch in chunks if ch[4]):
            data = []
        data = iter(data)
        for c, d, o, s, n, fl in chunks:
            get(c, d).chunks.append((o, s, n, fl, next(data, None) if n else b"", frame))
    for pd in dirs.values():
        pd.build()
        if pd.tuple is None:
            pd.problems.append("no frame names the endpoints of connection %d" % pd.conn_id)
    return dirs, seen, err


# ----------------------------------------------------------------- comparing

def tuple_of(d):
    return (F.expand_v6(d.src[0]), d.src[1], F.expand_v6(d.dst[0]), d.dst[1])


def merged(ranges):
    out = []
    for o, n in sorted(ranges):
        if out and o <= out[-1][0] + out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][0] + out[-1][1], o + n) - out[-1][0])
        else:
            out.append((o, n))
    return out


def differences(t, p):
    """What differs between tool direction t and plugin direction p."""
    out = []
    for what, a, b in (("delivered", t.delivered, p.delivered), ("skipped", t.skipped, p.skipped),
                       ("sha256", t.sha256, p.sha256), ("conflicts", t.conflicts, p.conflicts)):
        if a != b:
            out.append("%s: tool %s, plugin %s" % (what, a, b))
    diff = F.first_difference(t.canon(), p.canon())
    if diff:
        out.append("stream %s\n        tool:   %s\n        plugin: %s" %
                   (diff, F.describe(t.canon()), F.describe(p.canon())))
    if sorted(t.conflict_packets) != sorted(p.conflict_frames):
        out.append("frames with a conflicting overlap: tool %s, plugin %s" %
                   (sorted(t.conflict_packets), sorted(p.conflict_frames)))
    if merged(t.conflict_chunks) != merged(p.conflict_chunks):
        out.append("conflict-flagged chunks: tool %s, plugin %s" %
                   (merged(t.conflict_chunks), merged(p.conflict_chunks)))
    if t.zone and not p.zone:
        out.append("zone: tool %d (VLAN), plugin none" % t.zone)
    return out


def results(lst):
    """A zone's connections on this 4-tuple, as comparable values."""
    return tuple((d.delivered, d.skipped, d.sha256, d.conflicts) for d in lst)


def pair_up(tdirs, pdirs):
    """[(4-tuple, tool dir or None, plugin dir or None)]. Within a 4-tuple,
    the connections of a zone pair in creation (conn id) order. With
    several zones, a tool zone pairs with the plugin zone of equal results
    if there is one (the set of per-zone results is what must agree),
    else in order of first appearance."""
    def group(items, key):
        g = {}
        for x in items:
            g.setdefault(key(x), {}).setdefault(x.zone, []).append(x)
        return {k: sorted((sorted(lst, key=lambda d: d.conn_id) for lst in zones.values()),
                          key=lambda lst: lst[0].conn_id) for k, zones in g.items()}
    tg, pg = group(tdirs, tuple_of), group(pdirs, lambda d: d.tuple)
    pairs = []
    for k in sorted(set(tg) | set(pg), key=str):
        tz, pz = list(tg.get(k, [])), list(pg.get(k, []))
        zpairs = []
        for a in list(tz):
            b = next((b for b in pz if results(b) == results(a)), None) if len(tz) > 1 else None
            if b is not None:
                zpairs.append((a, b))
                tz.remove(a)
                pz.remove(b)
        for i in range(max(len(tz), len(pz))):
            zpairs.append((tz[i] if i < len(tz) else [], pz[i] if i < len(pz) else []))
        for a, b in zpairs:
            for j in range(max(len(a), len(b))):
                pairs.append((k, a[j] if j < len(a) else None, b[j] if j < len(b) else None))
    return pairs


def name_of(k):
    return "%s:%d>%s:%d" % k


def check(case):
    pcap = case.path()
    prefs = pref_args(case.tool_args)
    if prefs is None:
        F.say("%s: SKIPPED: tool options %s have no plugin preference" % (case.name, case.tool_args))
        return None
    tdirs, stats, terr = F.run_tool(pcap, *case.tool_args)
    pmap, seen, perr = run_plugin(pcap, list(case.tshark_args) + prefs)
    if re.search(r"refused|not a valid|unknown preference", perr, re.I):
        raise F.Fail("tshark did not take a preference: %s" % perr.strip())
    # The directions the tool prints: something delivered, skipped or in conflict.
    pdirs = [p for p in pmap.values() if p.delivered or p.skipped or p.conflicts]
    compared = identical = 0
    excused, failures = [], []

    def excuse_for(kind, k, t, p, diffs=()):
        for e in EXCUSES.get(case.name, []):
            if e.kind == kind and e.covers(diffs):
                ev = e.evidence(k, t, p, seen)
                if ev:
                    return "%s; here: %s" % (e.reason, ev)
        return None

    for p in pmap.values():
        for msg in p.problems:
            failures.append("plugin connection %d dir %d: %s" % (p.conn_id, p.dir, msg))
    for k, t, p in pair_up(tdirs, [p for p in pdirs if p.tuple is not None]):
        if t is None or p is None:
            one = t or p
            kind = "tool-only" if p is None else "plugin-only"
            what = "%s: %d delivered %d skipped %s conflicts, only in %s" % (
                name_of(k), one.delivered, one.skipped, one.conflicts,
                "safereasm-pcap" if p is None else "the plugin")
            reason = excuse_for(kind, k, t, p)
            (excused if reason else failures).append(what + (" -- " + reason if reason else ""))
            continue
        compared += 1
        diffs = differences(t, p)
        if not diffs:
            identical += 1
            continue
        text = "%s (tool conn %d%s, plugin conn %d dir %d zone %#x): %s" % (
            name_of(k), t.conn_id, "@%d" % t.zone if t.zone else "", p.conn_id, p.dir, p.zone,
            "; ".join(diffs))
        reason = excuse_for("differs", k, t, p, diffs)
        (excused if reason else failures).append(text + (" -- " + reason if reason else ""))
    for e in excused:
        F.say("  excused:", e)
    for f in failures:
        F.say("  FAIL:", f)
    if terr.strip():
        F.say("  safereasm-pcap stderr:", terr.strip().replace("\n", "\n    "))
    if compared < case.min_compared:
        failures.append("%d directions compared, expected at least %d" % (compared, case.min_compared))
        F.say("  FAIL:", failures[-1])
    F.say("%s: %d directions compared, %d identical, %d excused, %d failures" %
          (case.name, compared, identical, len(excused), len(failures)))
    return compared, identical, excused, failures


def main():
    if sys.argv[1:] == ["--list"]:
        print(";".join(c.name for c in all_cases()))
        return 0
    if len(sys.argv) != 2:
        sys.stderr.write("usage: check_plugin.py CASE | --list\n")
        return 2
    r = check(get_case(sys.argv[1]))
    if r is None:
        return 77
    return 1 if r[3] else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except F.Fail as e:
        print("FAIL:", e)
        sys.exit(1)
