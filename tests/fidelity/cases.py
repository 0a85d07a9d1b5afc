"""cases.py - the third-party captures the fidelity tests run, and for each
what tshark's Follow TCP Stream can and cannot be trusted with there.

Every excuse names the rule of captures/fidelity/MANIFEST.md ("Oracle"
section, from ../shared/captures/third_party/MANIFEST.md) that makes tshark
wrong at that place, so that a reader can check it. `check_extra` holds
assertions that do not come from tshark (suricata-verify and Zeek
baselines, the VLAN key, counters).
"""

import os
import sys

import fidelity as F

CAPDIR = os.path.join(F.SRC, "captures", "fidelity")


class Case:
    def __init__(self, name, rel, tshark_args=(), tool_args=(), tail_ok=None, extra_ok=None,
                 rules=None, min_compared=1, extra=None, note=""):
        self.name = name
        self.rel = rel
        self.tshark_args = list(tshark_args)
        self.tool_args = list(tool_args)
        self.tail_ok = tail_ok
        self.extra_ok = extra_ok
        self.rules = rules or {}
        self.min_compared = min_compared
        self.extra = extra
        self.note = note

    def path(self):
        return self.rel if os.path.isabs(self.rel) else os.path.join(CAPDIR, self.rel)

    def rule_for(self, stream, peer):
        return self.rules.get((stream, peer)) or self.rules.get((stream, None)) or self.rules.get("*")

    def check_extra(self, dirs, stats):
        return self.extra(dirs, stats) if self.extra else []


# ----------------------------------------------------------------- helpers for extra checks


def need(cond, msg, out):
    if not cond:
        out.append(msg)


def one_dir(dirs, src_port, out):
    found = [d for d in dirs if d.src[1] == src_port]
    need(len(found) == 1, "expected one direction from port %d, got %d" % (src_port, len(found)), out)
    return found[0] if found else None


def data_of(d):
    return d.data if d is not None and d.data is not None else b""


def frames_with(pcap, hexbytes):
    """Frame numbers whose TCP payload is exactly hexbytes (tshark)."""
    rc, out, err = F.run([F.TSHARK, "-n", "-r", pcap, "-Y", "tcp.payload == %s" % hexbytes,
                          "-T", "fields", "-e", "frame.number"])
    if rc != 0:
        raise F.Fail("tshark: " + err)
    return [int(x) for x in out.split()]


def stat_at_least(stats, name, n, out):
    need(stats.get(name, 0) >= n, "counter %s = %s, expected >= %d" % (name, stats.get(name), n), out)


# suricata-verify eve-overlap-payload-01 (test.yaml): GOOD then EVIL at the
# same sequence number; the default policy inspects GOOD. A conflicting
# overlap must be reported on the client direction at the EVIL packet.
def sv_overlap(good, evil_hex, path):
    def f(dirs, stats):
        out = []
        d = one_dir(dirs, 12345, out)
        need(data_of(d) == good, "client bytes %r, suricata-verify expects %r" % (data_of(d), good), out)
        if d is not None:
            need(d.conflicts and d.conflicts >= 1,
                 "no conflict reported for the overlap with different data (conflicts=%s)" % d.conflicts, out)
            evil = frames_with(os.path.join(CAPDIR, path), evil_hex)
            need(bool(evil) and set(evil) <= set(d.conflict_packets),
                 "conflict packets %s, expected the overlapping frame(s) %s" % (d.conflict_packets, evil), out)
        stat_at_least(stats, "assembler.overlap_conflicts", 1, out)
        return out
    return f


def sv_gap(expect_pieces):
    def f(dirs, stats):
        out = []
        d = one_dir(dirs, 12345, out)
        if d is not None:
            need(d.canon() == expect_pieces, "client stream %s, expected %s" %
                 (F.describe(d.canon()), F.describe(expect_pieces)), out)
        return out
    return f


CASES = []


def add(*a, **kw):
    CASES.append(Case(*a, **kw))


def get(name):
    for c in CASES:
        if c.name == name:
            return c
    raise F.Fail("no case %r" % name)


# ----------------------------------------------------------------- the table

if __name__ == "__main__":
    if sys.argv[1:] == ["--list"]:
        print(";".join(c.name for c in CASES))
