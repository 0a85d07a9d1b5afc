"""tooltest.py - shared helpers of the safereasm-pcap tests in tests/tool/:
where the tool and the captures are, running the tool, reading its output.
Python 3 standard library only. The tool comes from SR_PCAP_TOOL (CMake
passes the built binary)."""

import os
import struct
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from capturelist import list_captures  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.normpath(os.path.join(HERE, "..", ".."))
CAPTURES = os.path.join(SRC, "captures")
TOOL = os.environ.get("SR_PCAP_TOOL", "")


# Exit codes of safereasm-pcap (its --help).
EXIT_OK, EXIT_IO, EXIT_USAGE, EXIT_VERIFY = 0, 1, 2, 3


def need_tool():
    if not TOOL or not os.path.exists(TOOL):
        print("FAIL: SR_PCAP_TOOL not set or missing (%r)" % TOOL)
        sys.exit(1)


def all_captures():
    """Every capture under captures/, recursively, as absolute paths, sorted."""
    return list_captures(CAPTURES)


def rel(path):
    return os.path.relpath(path, CAPTURES)


def run(path, *args):
    """(exit status, stdout, stderr) of the tool on one capture."""
    p = subprocess.run([TOOL, "--no-progress", "--sha256"] + list(args) + [path], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE)
    return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")


def lines_of(out):
    """The per-direction lines (not the '# ' counters)."""
    return [l for l in out.splitlines() if l and not l.startswith("#")]


def stats_of(out):
    """{'assembler.pages_peak': n, 'frames': n, ...} from the '# ' lines."""
    st = {}
    for l in out.splitlines():
        if l.startswith("# "):
            f = l[2:].split()
            if len(f) == 3:
                st["%s.%s" % (f[0], f[1])] = int(f[2])
            elif len(f) == 2:
                st[f[0]] = int(f[1])
    return st


class Line:
    """src:port>dst:port delivered skipped conflicts dropped sha256"""

    def __init__(self, text):
        f = text.split()
        if len(f) != 6:
            raise ValueError("bad line %r" % text)
        self.key = f[0]
        self.delivered, self.skipped, self.conflicts, self.dropped = (int(x) for x in f[1:5])
        self.sha256 = f[5]

    def __repr__(self):
        return "%s %d %d %d %d" % (self.key, self.delivered, self.skipped, self.conflicts,
                                   self.dropped)


class Checks:
    """Collects failures; every check prints what it found."""

    def __init__(self):
        self.fails = []

    def need(self, cond, what):
        if not cond:
            self.fails.append(what)
            print("FAIL:", what)
        return cond

    def done(self, summary):
        print("%s: %d failures" % (summary, len(self.fails)))
        return 1 if self.fails else 0


# Tiny raw-IP captures for the tests that build their own (no checksums:
# the tool does not check them).
def tcp(sport, dport, seq, ack, flags, payload=b""):
    return struct.pack(">HHIIBBHHH", sport, dport, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF, 5 << 4, flags,
                       65535, 0, 0) + payload


def ipv4(src, dst, body):
    return struct.pack(">BBHHHBBH4s4s", 0x45, 0, 20 + len(body), 1, 0, 64, 6, 0, bytes(src), bytes(dst)) + body


def pcap(path, frames, t0=1000, step_us=1000000):
    """frames: any iterable of raw IP frames, step_us microseconds apart
    (one second unless told) from t0 seconds."""
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 101))  # raw IP
        for i, fr in enumerate(frames):
            t = t0 * 1000000 + i * step_us
            f.write(struct.pack("<IIII", t // 1000000, t % 1000000, len(fr), len(fr)))
            f.write(fr)
