"""fidelity.py - shared helpers of the fidelity tests: run safereasm-pcap,
the gopacket driver and tshark's Follow TCP Stream, and put every
direction's bytes into one canonical form to compare them.

Canonical form of a direction: a list of pieces in stream order, each
("d", bytes) for data or ("g", n) for an n-byte hole; neighbours of the
same kind are merged, empty pieces dropped. Python 3 standard library only.
"""

import base64
import os
import re
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.normpath(os.path.join(HERE, "..", ".."))

TOOL = os.environ.get("SR_PCAP_TOOL", "")
GOPACKET = os.environ.get("SR_GOPACKET_DRIVER", "")
TSHARK = os.environ.get("TSHARK", shutil.which("tshark") or "tshark")

GAP_RE = re.compile(rb"^\[(\d+) bytes missing in capture file\]\x00?$")


class Fail(Exception):
    pass


# ----------------------------------------------------------------- canon


def canon(pieces):
    out = []
    for kind, v in pieces:
        if (kind == "d" and not v) or (kind == "g" and v == 0):
            continue
        if out and out[-1][0] == kind:
            out[-1] = (kind, out[-1][1] + v)
        else:
            out.append((kind, v))
    return out


def length(c):
    return sum(len(v) if k == "d" else v for k, v in c)


def truncate(c, n):
    """The first n stream bytes of canonical form c."""
    out, pos = [], 0
    for k, v in c:
        size = len(v) if k == "d" else v
        if pos + size <= n:
            out.append((k, v))
            pos += size
        else:
            if n > pos:
                out.append((k, v[: n - pos] if k == "d" else n - pos))
            break
    return out


def describe(c, limit=8):
    parts = []
    for k, v in c[:limit]:
        parts.append("data[%d]" % len(v) if k == "d" else "gap[%d]" % v)
    if len(c) > limit:
        parts.append("... (%d pieces)" % len(c))
    return " ".join(parts) or "(empty)"


def first_difference(a, b):
    """None if a == b, else a message naming the first differing offset."""
    if a == b:
        return None
    pos = 0
    for (ka, va), (kb, vb) in zip(a, b):
        if ka != kb:
            return "offset %d: %s here, %s there" % (pos, ka, kb)
        if ka == "g":
            if va != vb:
                return "offset %d: gap of %d vs %d" % (pos, va, vb)
            pos += va
            continue
        n = min(len(va), len(vb))
        for i in range(n):
            if va[i] != vb[i]:
                return "offset %d: byte %r vs %r (context %r vs %r)" % (
                    pos + i, va[i:i + 1], vb[i:i + 1], va[max(0, i - 8):i + 8], vb[max(0, i - 8):i + 8])
        if len(va) != len(vb):
            return "offset %d: data piece of %d vs %d bytes" % (pos, len(va), len(vb))
        pos += len(va)
    return "lengths %d vs %d (%s | %s)" % (length(a), length(b), describe(a), describe(b))


# ----------------------------------------------------------------- safereasm-pcap


def parse_endpoint(s):
    """'1.2.3.4:80' or '[::1]:80' -> (host, port)"""
    if s.startswith("["):
        host, port = s[1:].split("]:")
    else:
        host, port = s.rsplit(":", 1)
    return host, int(port)


def parse_key(key):
    zone = 0
    if "@" in key:
        key, z = key.split("@")
        zone = int(z)
    a, b = key.split(">")
    return parse_endpoint(a), parse_endpoint(b), zone


class Direction:
    """One direction as safereasm-pcap or the gopacket driver saw it:
    "key delivered skipped conflicts dropped sha256" (safereasm-pcap) or
    "key delivered skipped conflicts sha256" (the gopacket driver, which
    has no dropped count: dropped is None)."""

    def __init__(self, line):
        f = line.split()
        if len(f) not in (5, 6):
            raise Fail("bad output line %r" % line)
        self.key = f[0]
        self.src, self.dst, self.zone = parse_key(f[0])
        self.delivered = int(f[1])
        self.skipped = int(f[2])
        self.conflicts = None if f[3] == "-" else int(f[3])
        self.dropped = int(f[4]) if len(f) == 6 else None
        self.sha256 = f[-1]
        self.conn_id = None
        self.data = None
        self.gaps = []
        self.conflict_chunks = []
        self.conflict_packets = []
        self.close = None

    def canon(self):
        pieces, pos, di = [], 0, 0
        for off, n in self.gaps:
            take = off - pos
            pieces.append(("d", self.data[di:di + take]))
            di += take
            pieces.append(("g", n))
            pos = off + n
        pieces.append(("d", self.data[di:]))
        return canon(pieces)


def _ranges(text):
    if text == "-":
        return []
    out = []
    for r in text.split(","):
        off, n = r.split("+")
        out.append((int(off), int(n)))
    return out


def run(cmd, **kw):
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kw)
    return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")


def parse_output(out):
    dirs, stats = [], {}
    for line in out.splitlines():
        if line.startswith("# "):
            f = line[2:].split()
            if len(f) == 3:
                stats["%s.%s" % (f[0], f[1])] = int(f[2])
            elif len(f) == 2:
                stats[f[0]] = int(f[1])
        elif line.strip():
            dirs.append(Direction(line))
    return dirs, stats


def run_tool(pcap, *args, write=True, check=True):
    """Run safereasm-pcap; returns (directions, stats, stderr). With write,
    each Direction carries its bytes, gaps and conflict places."""
    if not TOOL:
        raise Fail("SR_PCAP_TOOL is not set")
    tmp = tempfile.mkdtemp(prefix="sr-fid-")
    try:
        cmd = [TOOL, "--no-progress", "--sha256"] + list(args)
        if write:
            cmd += ["--write", tmp]
        rc, out, err = run(cmd + [pcap])
        if check and rc != 0:
            raise Fail("%s exited %d: %s" % (" ".join(cmd), rc, err.strip()))
        dirs, stats = parse_output(out)
        if write:
            rows = {}
            with open(os.path.join(tmp, "streams.tsv")) as f:
                for line in f:
                    if line.startswith("#"):
                        continue
                    c = line.rstrip("\n").split("\t")
                    rows.setdefault(c[3], []).append(c)
            for d in dirs:
                # Lines are unique per (key) except when one 4-tuple is reused;
                # then rows and lines come in the same (sorted) order.
                # file conn_id dir key delivered skipped conflicts dropped
                # sha256 zone close gaps conflict_chunks conflict_packets
                c = rows[d.key].pop(0)
                if len(c) != 14:
                    raise Fail("streams.tsv row with %d columns, expected 14: %r" % (len(c), c))
                if c[4:9] != [str(d.delivered), str(d.skipped), str(d.conflicts), str(d.dropped), d.sha256]:
                    raise Fail("%s: streams.tsv says %s, the line says %s %s %s %s %s" %
                               (d.key, c[4:9], d.delivered, d.skipped, d.conflicts, d.dropped, d.sha256))
                d.conn_id = int(c[1])
                d.dir = int(c[2])
                d.close = c[10]
                d.gaps = _ranges(c[11])
                d.conflict_chunks = _ranges(c[12])
                d.conflict_packets = [] if c[13] == "-" else [int(x) for x in c[13].split(",")]
                with open(os.path.join(tmp, c[0]), "rb") as fh:
                    d.data = fh.read()
                if len(d.data) != d.delivered:
                    raise Fail("%s: file holds %d bytes, line says %d" % (d.key, len(d.data), d.delivered))
                if sum(n for _, n in d.gaps) != d.skipped:
                    raise Fail("%s: gaps add up to %d, line says %d skipped" %
                               (d.key, sum(n for _, n in d.gaps), d.skipped))
        return dirs, stats, err
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def run_gopacket(pcap, *args):
    if not GOPACKET:
        raise Fail("SR_GOPACKET_DRIVER is not set")
    rc, out, err = run([GOPACKET] + list(args) + [pcap])
    if rc != 0:
        raise Fail("gopacket driver exited %d: %s" % (rc, err.strip()))
    return parse_output(out)


# ----------------------------------------------------------------- tshark


class TsharkStream:
    def __init__(self, index):
        self.index = index
        self.peers = {}  # peer number -> (host, port)
        self.pieces = {0: [], 1: []}
        self.first_packet = None

    def canon(self, peer):
        return canon(self.pieces[peer])


def tshark_stream_ids(pcap, extra=()):
    """tcp.stream ids of streams with at least one payload byte (or a RST,
    which may carry data tshark does not count in tcp.len)."""
    rc, out, err = run([TSHARK, "-n", "-r", pcap] + list(extra) +
                       ["-Y", "tcp.len > 0 || tcp.flags.reset == 1 || tcp.flags.syn == 1",
                        "-T", "fields", "-e", "tcp.stream", "-e", "frame.number"])
    if rc != 0:
        raise Fail("tshark failed: %s" % err.strip())
    ids, frames = [], {}
    for line in out.splitlines():
        f = line.split("\t")
        if len(f) < 2 or not f[0]:
            continue
        # Tunnels: several tcp.stream values in one frame; take each.
        for s in f[0].split(","):
            s = int(s)
            if s not in frames:
                ids.append(s)
                frames[s] = set()
            frames[s].add(int(f[1]))
    return sorted(ids), frames


def _parse_follow_block(lines, index):
    st = TsharkStream(index)
    cur = None
    i = 0
    peer_no = None
    while i < len(lines):
        line = lines[i]
        s = line.strip()
        if s.startswith("- peer:") and cur is None:
            peer_no = int(s.split(":")[1])
        elif s.startswith("host:") and cur is None:
            host = s.split(":", 1)[1].strip()
            st.peers[peer_no] = [host, None]
        elif s.startswith("port:") and cur is None:
            st.peers[peer_no][1] = int(s.split(":")[1])
        elif s.startswith("- packet:"):
            cur = {"packet": int(s.split(":")[1])}
            if st.first_packet is None:
                st.first_packet = cur["packet"]
        elif s.startswith("peer:") and cur is not None:
            cur["peer"] = int(s.split(":")[1])
        elif s.startswith("data: !!binary |"):
            b64 = []
            i += 1
            while i < len(lines) and lines[i].startswith("      "):
                b64.append(lines[i].strip())
                i += 1
            data = base64.b64decode("".join(b64))
            m = GAP_RE.match(data)
            if m:
                st.pieces[cur["peer"]].append(("g", int(m.group(1))))
            else:
                st.pieces[cur["peer"]].append(("d", data))
            continue
        i += 1
    st.peers = {k: tuple(v) for k, v in st.peers.items()}
    return st


def tshark_follow(pcap, ids, extra=(), batch=64):
    """Follow TCP stream (yaml) for every id; returns {id: TsharkStream}."""
    out_streams = {}
    for b in range(0, len(ids), batch):
        chunk = ids[b:b + batch]
        cmd = [TSHARK, "-n", "-r", pcap] + list(extra) + ["-q"]
        for i in chunk:
            cmd += ["-z", "follow,tcp,yaml,%d" % i]
        rc, out, err = run(cmd)
        if rc != 0:
            raise Fail("tshark follow failed: %s" % err.strip())
        blocks, cur = [], None
        for line in out.splitlines():
            if line.startswith("peers:"):
                cur = []
                blocks.append(cur)
            elif cur is not None:
                cur.append(line)
        if len(blocks) != len(chunk):
            raise Fail("tshark printed %d follow blocks for %d streams" % (len(blocks), len(chunk)))
        # Several -z follow are printed in reverse order (MANIFEST Oracle 9).
        for sid, blk in zip(reversed(chunk), blocks):
            out_streams[sid] = _parse_follow_block(blk, sid)
    return out_streams


def expand_v6(host):
    import ipaddress
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        return host


def tool_path_default():
    return TOOL


def say(*a):
    print(*a)
    sys.stdout.flush()
