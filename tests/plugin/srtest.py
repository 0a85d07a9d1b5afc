"""srtest.py - shared helpers for the plugin tests (Python 3 standard library).

Every test drives the real tshark with the built plugin, through
tests/lib/tshark-as-user.sh (as root, tshark ignores personal plugins, so
the helper drops to an unprivileged uid). Captures are copied into a
world-readable scratch folder first, because that uid may not be able to
read the source tree.

Environment (set by tests/plugin/CMakeLists.txt):
  SR_PLUGIN      the built safereasm.so
  SR_SOURCE_DIR  the source tree
  SR_BUILD_DIR   the build tree
"""

import atexit
import base64
import os
import re
import shutil
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from capturelist import list_captures  # noqa: E402

SOURCE_DIR = os.environ.get("SR_SOURCE_DIR",
                            os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))
BUILD_DIR = os.environ.get("SR_BUILD_DIR", os.path.join(SOURCE_DIR, "build-plugin"))
# The Wireshark major.minor the plugin was built for (its plugin folder).
ABI = os.environ.get("SR_PLUGIN_ABI", "4.0")
PLUGIN = os.environ.get("SR_PLUGIN", os.path.join(BUILD_DIR, "plugins", ABI, "epan",
                                                  "safereasm.so"))
HELPER = os.path.join(SOURCE_DIR, "tests", "lib", "tshark-as-user.sh")
CAPTURES = os.path.join(SOURCE_DIR, "captures")
HEADER = os.path.join(SOURCE_DIR, "core", "include", "safereasm.h")

_scratch = None
_home = None


class TestFailure(Exception):
    pass


from checks import check, failures as _failures  # noqa: E402,F401


def finish(name):
    if _failures:
        print("%s: %d failure(s)" % (name, len(_failures)))
        sys.exit(1)
    print("%s: ok" % name)
    sys.exit(0)


def scratch():
    """A world-readable scratch folder, removed at exit."""
    global _scratch
    if _scratch is None:
        _scratch = tempfile.mkdtemp(prefix="sr-plugin-test.")
        os.chmod(_scratch, 0o755)
        atexit.register(shutil.rmtree, _scratch, True)
    return _scratch


def all_captures():
    """Every capture the plugin tests read (crafted and third-party), as
    paths relative to CAPTURES, sorted."""
    return [os.path.relpath(p, CAPTURES)
            for p in list_captures(CAPTURES, ("crafted", "fidelity"))]


def stage(path, name=None):
    """Copy a capture where the unprivileged tshark can read it."""
    dst = os.path.join(scratch(), name or os.path.basename(path))
    if not os.path.exists(dst):
        shutil.copyfile(path, dst)
        os.chmod(dst, 0o644)
    return dst


def tshark_home():
    """One private HOME for the whole test process (the helper keeps it)."""
    global _home
    if _home is None:
        _home = os.path.join(scratch(), "home")
    return _home


def tshark(args, check_rc=True, plugin=None, program=None, timeout=900, home=None):
    """Run tshark with the plugin; returns CompletedProcess (text).
    home: a private HOME other than the shared one (e.g. with a
    preferences file)."""
    env = dict(os.environ)
    env["SR_PLUGIN"] = plugin or PLUGIN
    env["SR_TSHARK_HOME"] = home or tshark_home()
    if program:
        env["SR_PROGRAM"] = program
    p = subprocess.run([HELPER] + list(args), env=env, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=timeout)
    p.stdout = p.stdout.decode("utf-8", "replace")
    p.stderr = p.stderr.decode("utf-8", "replace")
    if check_rc and p.returncode != 0:
        raise TestFailure("tshark %s: exit %d\n%s" % (" ".join(args), p.returncode,
                                                      p.stderr[-2000:]))
    return p


def pref_args(prefs):
    out = []
    for k, v in sorted((prefs or {}).items()):
        out += ["-o", "safereasm.%s:%s" % (k, v)]
    return out


# ------------------------------------------------------------ the header

def header_text():
    with open(HEADER) as f:
        return f.read()


def header_map(name):
    """Entries of an X-macro table in safereasm.h: [(name, text)]."""
    text = header_text()
    m = re.search(r"#define %s\(XX\)(.*?)\n\n" % name, text, re.S)
    if not m:
        raise TestFailure("no %s in %s" % (name, HEADER))
    body = m.group(1).replace("\\\n", "\n")
    return re.findall(r"XX\((\w+),\s*\"((?:[^\"\\]|\\.)*)\"\)", body)


def header_define(name):
    m = re.search(r"#define %s\s+(.+)" % name, header_text())
    if not m:
        raise TestFailure("no #define %s" % name)
    expr = m.group(1).split("/*")[0].strip()
    expr = re.sub(r"(\d+)u\b", r"\1", expr)
    expr = expr.replace("SR_USEC_PER_SEC", "1000000").replace("(sr_time)", "")
    return int(eval(expr, {"__builtins__": {}}))  # a literal arithmetic expression


def counter_names():
    return [n for n, _ in header_map("SR_POOL_STATS_MAP")] + \
           [n for n, _ in header_map("SR_ASSEMBLER_STATS_MAP")]


# ------------------------------------------------------------ plugin output

class Frame:
    """What the plugin showed at one frame (from PDML)."""

    def __init__(self, num):
        self.num = num
        self.segs = []        # dicts of safereasm.* segment fields
        self.chunks = []      # dicts: conn, dir, offset, skipped, len, data, flags, end
        self.closes = []      # dicts: conn, reason, end
        self.glob = {}        # counter -> value (frame record)
        self.end_glob = {}    # counter -> value (end-of-capture snapshot)
        self.change = {}
        self.end_change = {}
        self.present = False  # the safereasm protocol item is there
        self.fields = {}      # every safereasm.* field name -> list of shows
        self.end = False


def _int(s):
    return int(s, 0) if s.startswith("0x") else int(s)


def _show(field):
    """A PDML field's value; booleans as 1/0 whatever the release prints
    (4.0 writes 1/0, 4.4 and later True/False)."""
    v = field.get("show", "")
    return {"True": "1", "False": "0"}.get(v, v)


def _walk(field, fr, end, ctx):
    name = field.get("name", "")
    show = _show(field)
    if name.startswith("safereasm"):
        fr.fields.setdefault(name, []).append(show)
    if name == "safereasm.end_flush":
        end = True
        fr.end = True
    if name == "safereasm.segment":
        seg = {}
        for c in field.iter("field"):
            n = c.get("name", "")
            if n.startswith("safereasm.") and c is not field and _show(c) != "":
                seg[n[len("safereasm."):]] = _show(c)
        fr.segs.append(seg)
    elif name == "safereasm.chunk":
        ch = {"end": end, "data": b"", "srcs": []}
        for c in field.iter("field"):
            n = c.get("name", "")
            if n == "safereasm.chunk.data":
                ch["data"] = bytes.fromhex(c.get("value", ""))
            elif n == "safereasm.chunk.frame":
                # show is the frame number; the label adds "(N bytes)".
                b = re.search(r"\((\d+) bytes\)", c.get("showname", ""))
                ch["srcs"].append((int(_show(c)), int(b.group(1)) if b else None))
            elif n in ("safereasm.chunk.frames", "safereasm.chunk.frame_count"):
                continue
            elif n.startswith("safereasm.chunk.") and n.count(".") == 2:
                ch[n.split(".")[2]] = _int(_show(c))
        fr.chunks.append(ch)
    elif name == "safereasm.closed":
        cl = {"end": end}
        for c in field.iter("field"):
            n = c.get("name", "")
            if n.startswith("safereasm.closed."):
                cl[n.split(".")[2]] = int(_show(c))
        fr.closes.append(cl)
    elif name.startswith("safereasm.global."):
        (fr.end_glob if end else fr.glob)[name.split(".", 2)[2]] = int(show)
    elif name.startswith("safereasm.change."):
        (fr.end_change if end else fr.change)[name.split(".", 2)[2]] = int(show)
    for c in field.findall("field"):
        _walk(c, fr, end, ctx)


def parse_pdml(text):
    frames = {}
    root = ET.fromstring(text)
    for pkt in root.findall("packet"):
        num = None
        for proto in pkt.findall("proto"):
            if proto.get("name") == "geninfo":
                for f in proto.findall("field"):
                    if f.get("name") == "num":
                        num = int(f.get("show"))
        fr = Frame(num)
        for proto in pkt.findall("proto"):
            if proto.get("name") == "safereasm":
                fr.present = True
                for f in proto.findall("field"):
                    _walk(f, fr, False, None)
        frames[num] = fr
    return frames


def plugin_frames(capture, two_pass, prefs=None, extra=()):
    """{frame number: Frame} for every frame of the capture."""
    args = ["-n", "-r", capture, "-T", "pdml", "-J", "safereasm"] + pref_args(prefs)
    if two_pass:
        args.append("-2")
    args += list(extra)
    return parse_pdml(tshark(args).stdout)


def streams(frames):
    """{(conn, dir): {"runs": [(offset, bytes)], "gaps": [(offset, len)],
    "data": bytes, "skipped": n, "end": extent}} from chunks, in the order
    the plugin shows them (frame order; a frame's own chunks before its
    end-of-capture ones). Checks offsets are contiguous on the way."""
    out = {}
    for num in sorted(frames):
        fr = frames[num]
        for ch in sorted(fr.chunks, key=lambda c: c["end"]):
            key = (ch["conn_id"], ch["dir"])
            s = out.setdefault(key, {"runs": [], "run_frames": [], "gaps": [], "data": b"",
                                     "skipped": 0, "end": 0, "bad_offsets": []})
            if ch["offset"] != s["end"] + ch["skipped"]:
                s["bad_offsets"].append((num, ch["offset"], s["end"], ch["skipped"]))
            if ch["skipped"]:
                s["gaps"].append((ch["offset"] - ch["skipped"], ch["skipped"]))
            if ch["len"]:
                s["runs"].append((ch["offset"], ch["data"]))
                s["run_frames"].append(num)
            s["data"] += ch["data"]
            s["skipped"] += ch["skipped"]
            s["end"] = ch["offset"] + ch["len"]
            if len(ch["data"]) != ch["len"]:
                s["bad_offsets"].append((num, "data length %d != len %d"
                                         % (len(ch["data"]), ch["len"])))
    return out


# ------------------------------------------------------------ tshark follow

def follow_streams(capture, stream_ids, extra=()):
    """{stream: {"peers": [(host, port)], "chunks": [{packet, peer, data, gap}]}}
    from tshark -z follow,tcp,yaml,N (tshark's own reassembly, the oracle).
    The yaml output names no stream, and several -z follow in one run print
    in reverse order of the arguments (MANIFEST, Oracle 9); the caller
    checks each block's peers against the stream's endpoints."""
    out = {}
    ids = sorted(stream_ids)
    for i in range(0, len(ids), 40):
        part = ids[i:i + 40]
        args = ["-n", "-r", capture, "-q"] + list(extra)
        for s in part:
            args += ["-z", "follow,tcp,yaml,%d" % s]
        text = tshark(args).stdout
        blocks = re.split(r"(?m)^(?=peers:$)", text)
        blocks = [b for b in blocks if b.startswith("peers:")]
        if len(blocks) != len(part):
            raise TestFailure("follow printed %d blocks for %d streams" % (len(blocks),
                                                                           len(part)))
        for sid, block in zip(reversed(part), blocks):
            out[sid] = _parse_follow_yaml(block)
    return out


_GAP = re.compile(rb"^\[(\d+) bytes missing in capture file\]\x00?$")


def _parse_follow_yaml(block):
    peers, chunks = [], []
    cur = None
    lines = block.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        mp = re.match(r"  - peer: (\d+)$", line)
        mk = re.match(r"  - packet: (\d+)$", line)
        if mp:
            host = re.search(r"host: (\S+)", lines[i + 1]).group(1)
            port = int(re.search(r"port: (\d+)", lines[i + 2]).group(1))
            peers.append((host, port))
        elif mk:
            cur = {"packet": int(mk.group(1))}
            chunks.append(cur)
        elif cur is not None and re.match(r"    peer: (\d+)$", line):
            cur["peer"] = int(line.split(":")[1])
        elif cur is not None and "data: !!binary |" in line:
            b64 = []
            i += 1
            while i < len(lines) and lines[i].startswith("      "):
                b64.append(lines[i].strip())
                i += 1
            raw = base64.b64decode("".join(b64))
            g = _GAP.match(raw)
            cur["gap"] = int(g.group(1)) if g else None
            cur["data"] = b"" if g else raw
            continue
        i += 1
    return {"peers": peers, "chunks": chunks}


def follow_direction(stream, peer):
    """(runs, gaps, extent) of one peer of a followed stream; gaps are
    (offset, length, packet at which follow gave up on the bytes)."""
    runs, gaps, off = [], [], 0
    for c in stream["chunks"]:
        if c.get("peer") != peer:
            continue
        if c.get("gap") is not None:
            gaps.append((off, c["gap"], c["packet"]))
            off += c["gap"]
        elif c.get("data"):
            runs.append((off, c["data"]))
            off += len(c["data"])
    return runs, gaps, off


def frame_streams(capture, extra=()):
    """{frame: first tcp.stream} and {stream: has payload}."""
    text = tshark(["-n", "-r", capture, "-T", "fields", "-E", "occurrence=f",
                   "-e", "frame.number", "-e", "tcp.stream", "-e", "tcp.len"]
                  + list(extra)).stdout
    fmap, data = {}, {}
    for line in text.splitlines():
        parts = line.split("\t")
        if len(parts) < 3 or not parts[1]:
            continue
        f, s = int(parts[0]), int(parts[1])
        fmap[f] = s
        if parts[2] and int(parts[2]) > 0:
            data[s] = True
    return fmap, data


def stats_tree(text):
    """{counter name: count} from tshark -z safereasm,tree output (the node
    labels end in "(<counter>)")."""
    out = {}
    for line in text.splitlines():
        m = re.match(r"\s*(.*?) \((\w+)\)\s+(-?\d+)\s", line)
        if m:
            out[m.group(2)] = int(m.group(3))
    return out
