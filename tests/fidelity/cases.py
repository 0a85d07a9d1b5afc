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
                 rules=None, min_compared=1, extra=None, note="", prefix_ok=None):
        self.name = name
        # Design difference, not an oracle limit: our bytes may stop early
        # (a prefix of tshark's) for the reason given.
        self.prefix_ok = prefix_ok
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


ORACLE2 = "Oracle 2: tshark stops silently at a hole the receiver never ACKs"
ORACLE3 = ("Oracle 3: tshark lets a later in-order copy replace queued out-of-order bytes; "
           "we keep the first copy")
ORACLE6 = "Oracle 6: tshark ignores snaplen truncation; we skip the cut bytes as a gap"
ORACLE10 = "Oracle 10: tshark ignores segments with absurd sequence numbers"


def no_data(dirs, stats):
    out = []
    for d in dirs:
        need(d.delivered == 0, "%s: %d bytes delivered, the capture carries none" % (d.key, d.delivered), out)
    need(stats.get("decode.tcp", 0) > 0, "no TCP segment decoded", out)
    need(stats.get("pool.total_created", 0) > 0, "no connection created", out)
    return out


def syn_flood_bounded(dirs, stats):
    # 200 half-open connections against --max-connections 50: the table
    # must stay bounded and the surplus be evicted, not refused.
    out = no_data(dirs, stats)
    need(stats.get("pool.peak_connections", 10**9) <= 50,
         "peak_connections %s > --max-connections 50" % stats.get("pool.peak_connections"), out)
    need(stats.get("pool.closed_evicted", 0) >= 150,
         "closed_evicted %s, expected >= 150 (200 SYNs, 50 slots)" % stats.get("pool.closed_evicted"), out)
    need(stats.get("error.SR_ERR_CONNECTION_LIMIT", 0) == 0, "connection limit errors instead of evictions", out)
    return out


def snaplen_gaps(dirs, stats):
    # truncated-header.pcap: snaplen 54/68 cut every payload: no byte
    # captured, so every claimed byte must come out as skipped.
    out = []
    need(len(dirs) == 2, "expected 2 directions, got %d" % len(dirs), out)
    for d in dirs:
        need(d.delivered == 0 and d.skipped > 0,
             "%s: delivered %d skipped %d; expected 0 delivered and the cut bytes skipped" %
             (d.key, d.delivered, d.skipped), out)
    stat_at_least(stats, "decode.snaplen_cut", 1, out)
    return out


def miss_end_data(dirs, stats):
    # Zeek baseline core.tcp.miss-end-data/out: content_gap on the responder
    # side, seq 1, length 2902 -- the server's data is missing before its FIN.
    out = []
    d = one_dir(dirs, 80, out)
    if d is not None:
        need(d.canon() == [("g", 2902)], "server direction %s, Zeek says gap[2902] at 0" % F.describe(d.canon()), out)
    return out


def vlan_three(dirs, stats):
    # Zeek's vlan_fivetuple baseline: 3 connections (untagged, QinQ 10/20,
    # VLAN 42) -- our zone keeps them apart; each carries the same bytes.
    out = []
    zones = sorted(set(d.zone for d in dirs))
    need(zones == sorted([0, (10 << 12) | 20, 42]), "zones %s, expected untagged, QinQ 10/20 and VLAN 42" % zones, out)
    for port in (80, 59856):
        shas = set(d.sha256 for d in dirs if d.src[1] == port)
        need(len(shas) == 1, "port %d: the three VLAN copies differ" % port, out)
    return out


def bigtransfer(dirs, stats):
    # Zeek baseline core.tcp.large-file-reassembly/out: the last file_chunk of
    # the data connection (port 37150) is at offset 5416665488 (> 4 GiB).
    out = []
    d = one_dir(dirs, 37150, out)
    if d is not None:
        need(d.delivered + d.skipped >= 5416665488,
             "data connection ends at offset %d, Zeek saw data at 5416665488" % (d.delivered + d.skipped), out)
    return out


W = "wireshark/"
Z = "zeek/"
S = "suricata-verify/"
add("wireshark-tcp-badsegments", W + "tcp-badsegments.pcap")
add("wireshark-http-ooo", W + "http-ooo.pcap")
add("wireshark-http-ooo2", W + "http-ooo2.pcap")
add("wireshark-dns-ooo", W + "dns-ooo.pcap")
add("wireshark-retrans-tls", W + "retrans-tls.pcap")
add("wireshark-challenge01-ooo", W + "challenge01_ooo_stream.pcapng.gz", min_compared=2)
add("wireshark-tls-fragmented", W + "tls-fragmented-handshakes.pcap.gz", min_compared=100)
add("wireshark-communityid", W + "communityid.pcap.gz", min_compared=4,
    rules={(1, None): ORACLE6 + " (two server segments captured 30 of 1448 bytes)"})
add("zeek-reassembly", Z + "tcp/reassembly.pcap", rules={(0, 0): ORACLE3 + " (52 bytes at offset 13366)"})
add("zeek-bigtransfer", Z + "ftp/bigtransfer.pcap",
    # The control connection idles through the transfer (longer than the
    # default 120 s timeout) and the holes are larger than the default 1 GiB
    # window: both raised so the oracle's view (no timeout) applies.
    tool_args=["--connection-timeout", "100000", "--max-window", "2147483647"],
    min_compared=4, extra=bigtransfer)
add("zeek-quantum-insert", Z + "tcp/qi_internet_SYNACK_curl_jsonip.pcap", min_compared=2)
add("zeek-ssh-dups", Z + "tcp/ssh-dups.pcap", min_compared=2)
AFTER_RST = ("design: an RST inside the sender's window completes the connection (the core's "
             "contract, as gopacket); segments the peer sends after it are counted as after_close, "
             "tshark keeps following them")
add("zeek-rst-inject", Z + "tcp/rst-inject-rae.pcap", prefix_ok=AFTER_RST)
add("zeek-handshake-reorder", Z + "tcp/handshake-reorder.pcap", min_compared=2)
add("zeek-fin-retransmission", Z + "tcp/fin_retransmission.pcap", min_compared=0, extra=no_data)
add("zeek-miss-end-data", Z + "tcp/miss_end_data.pcap",
    rules={(0, None): ORACLE2 + " (nothing of the server's data was captured)"}, extra=miss_end_data)
add("zeek-truncated-header", Z + "tcp/truncated-header.pcap", min_compared=0,
    rules={(0, None): ORACLE6 + " (no payload byte captured at all)"}, extra=snaplen_gaps)
add("zeek-tcp-fast-open", Z + "tcp/tcp-fast-open.pcap", min_compared=4)
add("zeek-echo-connections", Z + "echo-connections.pcap.gz", min_compared=1000)
add("zeek-vlan-collisions", Z + "vlan-collisions.pcap", min_compared=6, extra=vlan_three)
# tshark has no idle timeout; the core times out a connection idle longer
# than connection_timeout (here: the server's FIN 235 s after the last
# segment), also when nothing else happened in between (lifecycle.c, README
# "Behaviour"). This compares the reassembly itself, with timers longer than
# the capture's pause; the timers are tested in tests/core/test-correctness.c.
LONG_TIMERS = ["--connection-timeout", "600", "--flush-interval", "60"]
add("zeek-pppoe-over-qinq", Z + "pppoe-over-qinq.pcap", min_compared=2, tool_args=LONG_TIMERS)
add("zeek-gre-aruba", Z + "tunnels/gre-aruba.pcap", min_compared=0,
    rules={"*": "not decoded by safereasm-pcap: 802.11 frames inside Aruba GRE (type 0x8200) are a "
                "documented decoder limitation, counted as unsupported_encap"})
add("zeek-teredo", Z + "tunnels/Teredo.pcap", tshark_args=["-d", "udp.port==32900,teredo"],
    # Teredo (IPv6 in UDP) is not decoded by safereasm-pcap; tshark only
    # follows it with -d. The 3 IPv4 streams are compared.
    rules={(3, None): "Teredo (IPv6 in UDP 3544) is not decoded by safereasm-pcap"}, min_compared=3)
add("zeek-mixed-vlan-mpls", Z + "mixed-vlan-mpls.pcap", min_compared=5)
add("sv-overlap-01", S + "eve-overlap-payload-01/tcp-overlap.pcap",
    extra=sv_overlap(b"GOOD", "45:56:49:4c", S + "eve-overlap-payload-01/tcp-overlap.pcap"))
add("sv-overlap-04-partial", S + "eve-overlap-payload-04-partial-overlap/tcp-overlap2.pcap",
    extra=sv_overlap(b"GOOD", "58:58:58", S + "eve-overlap-payload-04-partial-overlap/tcp-overlap2.pcap"))
add("sv-payload-05-gap", S + "eve-payload-05-tcp-data-gap/tcp-simple-gap2.pcap",
    extra=sv_gap([("d", b"VERY"), ("g", 4), ("d", b"DATA")]))
add("sv-payload-06-leading-gap", S + "eve-payload-06-tcp-data-leading-gap/tcp-leading-gap.pcap",
    extra=sv_gap([("g", 4), ("d", b"GOODDATA")]))
add("sv-evasion-linux", S + "bug-3286-02-linux-evasion/with_evasion_linux.pcap", min_compared=2)
add("sv-evasion-windows", S + "bug-3286-03-windows-evasion/with_evasion_windows.pcap", min_compared=2)
add("sv-rst-unacked-01", S + "tcp-rst-unacked-stream-01-raw/input.pcap", min_compared=2)
add("sv-split-handshake", S + "tcp-split-handshake-01-4whs/split-handshake-4whs.pcap")
add("sv-urgent", S + "tcp-urgp-01-oob/tcp-urgent1.pcap", min_compared=2)
add("sv-multi-mac", S + "mac-eve-multiple-disabled/multi_mac.pcap")
add("sv-rst-unacked-12", S + "tcp-rst-unacked-stream-12/TLPW1-tcp-110.37.219.134-10.12.14.101-tcp-990-49254.pcap",
    tail_ok=ORACLE2, min_compared=2)
add("sv-tls-subjectaltname", S + "tls-subjectaltname/input.pcap", min_compared=120,
    prefix_ok=AFTER_RST)
add("sv-ipv6-over-ipv4", S + "bug-4571-04/ipv6_over_ipv4.pcap")
add("sv-empty-sack", S + "tcp-empty-sack/tcp-opt.pcap", min_compared=2)
add("sv-syn-flood", S + "firewall-tcp-session-syn-flood-drop-precedence/input.pcap",
    tool_args=["--max-connections", "50"], min_compared=0, extra=syn_flood_bounded)
add("ndpi-reasm-crash", "ndpi/reasm_crash_anon.pcapng", rules={"*": ORACLE10},
    extra_ok=ORACLE10 + "; a fuzzed RST|FIN|URG segment completes our connection, later segments open a "
                        "second one, which tshark keeps in the same stream")
add("ndpi-reasm-segv", "ndpi/reasm_segv_anon.pcapng")
add("ndpi-synscan", "ndpi/synscan.pcap", min_compared=0, extra=no_data)
add("ndpi-6in4", "ndpi/6in4tunnel.pcap", min_compared=8)
add("tcpdump-gso-vxlan", "tcpdump/gso-ipv6-vxlan-ipv4.pcap")
def kday3(dirs, stats):
    # Frames 5 and 9 carry different 347-byte payloads at the same sequence
    # number (a fuzzed copy): a conflicting retransmission.
    out = []
    d = one_dir(dirs, 323, out)
    if d is not None:
        need(d.conflicts and d.conflicts >= 1, "%s: conflicts=%s for a retransmission with different bytes"
             % (d.key, d.conflicts), out)
    return out


# Timestamps jump by weeks back and forth: a huge timeout keeps the one
# connection tshark sees (else the idle sweep closes it and the copy opens
# a second one).
add("tcpdump-kday3", "tcpdump/kday3.pcap", tool_args=["--connection-timeout", "100000000"],
    min_compared=2, extra=kday3)

if __name__ == "__main__":
    if sys.argv[1:] == ["--list"]:
        print(";".join(c.name for c in CASES))
