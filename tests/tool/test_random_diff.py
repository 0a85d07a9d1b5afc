#!/usr/bin/env python3
"""test_random_diff.py - differential check of safereasm-pcap on random
hostile captures it has never seen: the same capture read with --threads 1,
and with --threads 2 and 3 under each SR_PCAP_WALK (always, each, never),
must give the same per-direction lines (sorted; the order of lines is fixed
only per thread count), and --verify must find no violation. Read from
standard input (libpcap's buffer: the conflict history copies delivered
bytes) it must give the lines of the mapped file (whose payloads the history
keeps by reference), with and without caps.

Each capture (written with struct, raw IP, valid lengths) holds many
connections, with: SYN/SYN-ACK or none, data in random segments, reordering,
duplicated frames, loss, late and duplicated SYN, FIN and RST, RSTs at
random sequence numbers, port reuse (a new SYN on the same 4-tuple after a
close), frames cut by the snapshot length (orig_len > incl_len), the
capture clock jumping back and forward past --flush-interval and
--connection-timeout, IPv6 connections beside IPv4 ones, and frames the
decoder refuses (cut or malformed headers, other protocols), whose
messages and counters must be those of --threads 1 under every walk (the
indexed walk hands IPv6 flows and decoder messages apart from IPv4 ones). No cap is in reach in the first set of runs, so the
thread count must not change anything. A second set with --max-connections
and --max-pages-total small enough to be hit compares, per thread count, the
three walks with each other (the docs: the same N gives the same output) and
still needs --verify clean.

SR_RANDOM_CAPTURES (default 4) captures, seeded from SR_SEED (default 1).
A failing capture is kept in the temporary directory named in the output.
"""

import os
import random
import re
import struct
import subprocess
import sys
import tempfile

import tooltest as T

N = int(os.environ.get("SR_RANDOM_CAPTURES", "4"))
SEED = int(os.environ.get("SR_SEED", "1"))

SYN, FIN, RST, PSH, ACK = 0x02, 0x01, 0x04, 0x08, 0x10


tcp, ipv4 = T.tcp, T.ipv4

# Payload bytes that look like pcap records (a header of this capture's
# time and an 8-byte frame, over and over): where the indexed walk guesses
# that records start, it finds these first at times, and must then build
# the chunk again from where the one before it really ended.
FAKE = struct.pack("<IIII", 1_000_500, 0, 8, 8) + bytes(8)


def ipv6(src, dst, body):
    return struct.pack(">IHBB16s16s", 6 << 28, len(body), 6, 64, bytes(src), bytes(dst)) + body


def junk(rng):
    """A frame the decoder refuses, and why: each kind has its message."""
    k = rng.randrange(5)
    if k == 0:  # IPv4 header cut
        return ipv4([10, 9, 9, 9], [10, 9, 9, 8], b"")[:rng.randrange(1, 20)]
    if k == 1:  # TCP header cut
        return ipv4([10, 9, 9, 9], [10, 9, 9, 8], tcp(1, 2, 3, 4, ACK))[:20 + rng.randrange(1, 20)]
    if k == 2:  # not IP at all
        return bytes([0x20 + rng.randrange(0x20)]) + bytes(rng.randrange(40))
    if k == 3:  # UDP: not TCP, counted only
        return struct.pack(">BBHHHBBH4s4s", 0x45, 0, 28, 1, 0, 64, 17, 0, bytes(4), bytes(4)) + bytes(8)
    return ipv6([0] * 16, [0] * 16, b"")[:rng.randrange(1, 40)]  # IPv6 header cut


def write_pcap(path, frames):
    """frames: (time in microseconds, bytes, cut) - cut: bytes captured
    (None = all); orig_len stays the frame's length."""
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 101))
        for t, fr, cut in frames:
            inc = fr if cut is None else fr[:cut]
            f.write(struct.pack("<IIII", t // 1000000, t % 1000000, len(inc), len(fr)))
            f.write(inc)


def gen_capture(rng, path):
    nconn = rng.randint(5, 60)
    per_conn = []
    for k in range(nconn):
        if rng.random() < 0.25:  # IPv6: the same shapes
            a = [0x20, 1, 0xd, 0xb8] + [0] * 10 + [k // 250, k % 250 + 1]
            b = [0x20, 1, 0xd, 0xb8, 1] + [0] * 10 + [1 + rng.randrange(3)]
        else:
            a = [10, 0, k // 250, k % 250 + 1]
            b = [10, 1, 0, 1 + rng.randrange(3)]
        sport = 1024 + rng.randrange(6)  # few ports: 4-tuples are reused
        dport = 80
        evs = []
        lives = 1 if rng.random() < 0.7 else 2  # port reuse: a second life
        for life in range(lives):
            isn = [rng.choice([0, 0xFFFFFFFF - rng.randrange(3000), rng.getrandbits(32)]),
                   rng.getrandbits(32)]
            syn = rng.random() < 0.7
            lens = [rng.randrange(0, 4000), rng.randrange(0, 6000)]
            segs = []
            if syn:
                segs.append((0, isn[0], 0, SYN, b""))
                segs.append((1, isn[1], isn[0] + 1, SYN | ACK, b""))
            base = [isn[0] + (1 if syn else 0), isn[1] + (1 if syn else 0)]
            pos = [0, 0]
            mss = rng.choice([3, 7, 100, 536, 1460])
            fake = rng.random() < 0.3
            while pos[0] < lens[0] or pos[1] < lens[1]:
                d = rng.randrange(2) if pos[0] < lens[0] and pos[1] < lens[1] else (0 if pos[0] < lens[0] else 1)
                n = min(lens[d] - pos[d], rng.randint(1, mss))
                if fake:  # pcap record headers, as the indexed walk's guesses look for
                    data = bytes(FAKE[i % len(FAKE)] for i in range(pos[d], pos[d] + n))
                else:
                    data = bytes((k * 7 + d * 13 + life * 3 + i) % 251 for i in range(pos[d], pos[d] + n))
                segs.append((d, base[d] + pos[d], base[1 - d] + pos[1 - d], ACK | PSH, data))
                pos[d] += n
            end = rng.random()
            if end < 0.6:
                segs.append((0, base[0] + pos[0], base[1] + pos[1], FIN | ACK, b""))
                segs.append((1, base[1] + pos[1], base[0] + pos[0] + 1, FIN | ACK, b""))
            elif end < 0.8:
                segs.append((rng.randrange(2), base[0] + pos[0], base[1] + pos[1], RST | ACK, b""))
            # hostile extras
            for _ in range(rng.randrange(4)):
                kind = rng.randrange(5)
                d = rng.randrange(2)
                if kind == 0 and syn:  # late duplicate SYN
                    segs.append((0, isn[0], 0, SYN, b""))
                elif kind == 1:  # FIN at a random place
                    segs.append((d, base[d] + rng.randrange(max(1, pos[d] + 10)), 0, FIN | ACK, b""))
                elif kind == 2:  # RST at a random sequence number
                    segs.append((d, rng.getrandbits(32), 0, RST, b""))
                elif kind == 3:  # far away data
                    segs.append((d, base[d] + rng.choice([1 << 31, (1 << 30) - 5, 70000]), 0, ACK,
                                 b"x" * rng.randint(1, 50)))
                else:  # retransmission with other bytes
                    if pos[d]:
                        o = rng.randrange(pos[d])
                        segs.append((d, base[d] + o, 0, ACK, b"Z" * rng.randint(1, 30)))
            # reorder, duplicate, lose
            out = []
            for s in segs:
                r = rng.random()
                if r < 0.05:
                    continue
                out.append(s)
                if r > 0.93:
                    out.append(s)
            for _ in range(rng.randrange(len(out) // 3 + 1)):
                i = rng.randrange(len(out))
                j = min(len(out) - 1, i + rng.randint(1, 4))
                out[i], out[j] = out[j], out[i]
            evs.extend((a, b, sport, dport, s) for s in out)
        per_conn.append(evs)
    # interleave, with capture time
    frames = []
    t = 1_000_000_000_000 + rng.randrange(10**9)
    idx = [0] * nconn
    live = list(range(nconn))
    while live:
        k = rng.choice(live[:8])
        a, b, sport, dport, (d, seq, ack, flags, data) = per_conn[k][idx[k]]
        idx[k] += 1
        if idx[k] == len(per_conn[k]):
            live.remove(k)
        r = rng.random()
        if r < 0.01:
            t += rng.choice([7, 20, 200]) * 1_000_000  # past flush / timeout
        elif r < 0.02:
            t -= rng.randrange(1, 30) * 1_000_000  # back
        elif r < 0.04:
            t += 1_000_000 + rng.randrange(1_000_000)
        else:
            t += rng.randrange(20000)
        src, dst, sp, dp = (a, b, sport, dport) if d == 0 else (b, a, dport, sport)
        fr = (ipv6 if len(src) == 16 else ipv4)(src, dst, tcp(sp, dp, seq, ack, flags, data))
        cut = None
        if data and rng.random() < 0.04:
            cut = rng.randrange(20, len(fr))  # snaplen: headers only, or part
        frames.append((t, fr, cut))
        if rng.random() < 0.02:
            frames.append((t, junk(rng), None))
    write_pcap(path, frames)
    return len(frames)


def run(path, threads, walk, extra, stdin=False, more_env=None):
    """stdin: the capture is read from standard input, by libpcap: payloads
    the core must copy, where a mapped file's are kept by reference."""
    env = dict(os.environ)
    env.update(more_env or {})
    if walk:
        env["SR_PCAP_WALK"] = walk
    else:
        env.pop("SR_PCAP_WALK", None)
    with open(path, "rb") as f:
        p = subprocess.run([T.TOOL, "--no-progress", "--sha256", "--verify", "--empty", "--threads",
                            str(threads)] + extra + ["-" if stdin else path],
                           stdin=f if stdin else subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, env=env)
    out = p.stdout.decode("utf-8", "replace")
    return p.returncode, sorted(T.lines_of(out)), T.stats_of(out), p.stderr.decode("utf-8", "replace")


def main():
    T.need_tool()
    c = T.Checks()
    rng = random.Random(SEED)
    tmp = tempfile.mkdtemp(prefix="sr-random-diff-")
    opts = ["--connection-timeout", "5", "--flush-interval", "1", "--closed-linger", "3"]
    caps = opts + ["--max-connections", "12", "--max-pages-total", "24",
                   "--max-pages-per-connection", "6", "--page-size", "200"]
    runs = 0
    frames = 0
    guesses_wrong = 0
    for i in range(N):
        path = os.path.join(tmp, "random-%d-%d.pcap" % (SEED, i))
        frames += gen_capture(rng, path)
        ok = True
        rc, ref, st, err = run(path, 1, None, opts)
        runs += 1
        ok &= c.need(rc == 0 and st.get("verify.violations", 0) == 0,
                     "%s --threads 1: exit %d, %s" % (path, rc, err.strip()[:300]))
        for extra in (opts, caps):
            # The same lines, conflicts included, whether the conflict
            # history copies delivered bytes or keeps the mapped file's.
            ref_x = ref if extra is opts else run(path, 1, None, caps)[1]
            rc_s, got_s, _, err_s = run(path, 1, None, extra, stdin=True)
            runs += 1 + (extra is caps)
            ok &= c.need(rc_s == 0, "%s from stdin: exit %d %s" % (path, rc_s, err_s.strip()[:300]))
            if got_s != ref_x:
                diff = sorted(set(got_s) ^ set(ref_x))[:6]
                ok &= c.need(False, "%s%s read from stdin differs from the mapped file: %s"
                             % (path, " caps" if extra is caps else "", diff))
        for n in (2, 3):
            for walk in ("always", "each", "never"):
                rc2, got, st2, err2 = run(path, n, walk, opts)
                runs += 1
                ok &= c.need(rc2 == 0, "%s --threads %d walk %s: exit %d %s" %
                             (path, n, walk, rc2, err2.strip()[:300]))
                if got != ref:
                    diff = sorted(set(got) ^ set(ref))[:6]
                    ok &= c.need(False, "%s --threads %d walk %s differs from --threads 1: %s" %
                                 (path, n, walk, diff))
                # The decoder's messages and counters: those of one reader.
                dec = {k: v for k, v in st.items() if k.startswith(("decode.", "frames"))}
                dec2 = {k: v for k, v in st2.items() if k.startswith(("decode.", "frames"))}
                ok &= c.need(dec2 == dec and len(dec) > 2,
                             "%s --threads %d walk %s: decoder counters %s, one thread %s" %
                             (path, n, walk, dec2, dec))
                ok &= c.need(err2 == err, "%s --threads %d walk %s: messages differ:\n%s\n---\n%s" %
                             (path, n, walk, err2[:600], err[:600]))
        # How a mapped file's records are read (file_read into a buffer, or
        # the mapping) changes nothing, counters included, against a run of
        # the same thread count; nor does the reading failing part-way (as
        # when the file shrinks while read: libpcap reads on from there);
        # nor, in the indexed walk (chunks of 64 records), building every
        # chunk after the first from a guess of where its records start
        # (SR_PCAP_IDX_GUESS=all), right or wrong. SR_PCAP_READ_REPORT
        # says how many records each way read, and how many chunks were
        # chained built from the chain's end, from a guess, and how many
        # guesses were built again.
        size = os.path.getsize(path)
        tiny = {"SR_PCAP_WALK_SIZES": "tiny", "SR_PCAP_READ_REPORT": "1"}
        for n in (1, 2):
            walk = "always" if n > 1 else None
            walked = (lambda f, m, w: w == f + m) if n > 1 else (lambda f, m, w: w == 0)
            base = None
            for name, env, want in (
                    ("records read with file_read", {},
                     lambda f, m, p, w, *_: f > 0 and p == 0 and walked(f, m, w)),
                    ("records from the mapping", {"SR_PCAP_READ_MEAN_MAX": "0"},
                     lambda f, m, p, w, *_: m > 0 and p == 0 and walked(f, m, w))) + ((
                    ("chunks built from guesses", {"SR_PCAP_IDX_GUESS": "all"},
                     lambda f, m, p, w, known, guessed, again:
                     p == 0 and walked(f, m, w) and guessed > 0),
                    ("chunks built from guesses, from the mapping",
                     {"SR_PCAP_IDX_GUESS": "all", "SR_PCAP_READ_MEAN_MAX": "0"},
                     lambda f, m, p, w, known, guessed, again:
                     m > 0 and p == 0 and walked(f, m, w) and guessed > 0))
                    if n > 1 else ()) + tuple(
                    ("reading failing at byte %d" % at, {"SR_PCAP_READ_FAIL_AT": str(at)},
                     lambda f, m, p, w, *_: p > 0)
                    for at in sorted(rng.randrange(24, size) for _ in range(2))):
                rc5, got5, st5, err5 = run(path, n, walk, opts, more_env=dict(tiny, **env))
                runs += 1
                rep = re.search(r"records read: file (\d+), mapping (\d+), libpcap (\d+), by the indexed "
                                r"walk (\d+); chunks chained: built from the chain (\d+), from a guess "
                                r"(\d+), guesses built again (\d+); mappings resident at the end \d+ KiB\n", err5)
                err5 = err5.replace(rep.group(0), "") if rep else err5
                how = tuple(int(x) for x in rep.groups()) if rep else None
                if how and "IDX_GUESS" in str(env):
                    guesses_wrong += how[6]
                if base is None:
                    base = (got5, st5, err5)
                    ok &= c.need(got5 == ref, "%s --threads %d, %s: lines %s"
                                 % (path, n, name, sorted(set(got5) ^ set(ref))[:6]))
                ok &= c.need(rc5 == 0 and (got5, st5, err5) == base and how and want(*how),
                             "%s --threads %d, %s: exit %d, records read (file, mapping, "
                             "libpcap, walked; chunks from the chain, from a guess, guesses "
                             "built again) %s, lines %s, counters %s, messages %r" %
                             (path, n, name, rc5, how, sorted(set(got5) ^ set(base[0]))[:6],
                              {k: (v, base[1].get(k)) for k, v in st5.items()
                               if base[1].get(k) != v}, err5[:300]))
        for n in (1, 2, 3):
            first = None
            for walk in ((None,) if n == 1 else ("always", "each", "never")):
                rc3, got, st3, err3 = run(path, n, walk, caps)
                runs += 1
                ok &= c.need(rc3 == 0, "%s caps --threads %d walk %s: exit %d %s" %
                             (path, n, walk, rc3, err3.strip()[:300]))
                if first is None:
                    first = got
                elif got != first:
                    diff = sorted(set(got) ^ set(first))[:6]
                    ok &= c.need(False, "%s caps --threads %d walk %s differs from walk always: %s"
                                 % (path, n, walk, diff))
        if ok:
            os.unlink(path)
    # The payloads that look like records (FAKE) lead guesses astray.
    c.need(guesses_wrong > 0, "no guess of the indexed walk was wrong in any run: "
           "the path that builds a chunk again went untried")
    if not c.fails:
        os.rmdir(tmp)
    return c.done("random captures: %d (%d frames), %d runs, %d guesses built again, seed %d%s" %
                  (N, frames, runs, guesses_wrong, SEED, "; kept in " + tmp if c.fails else ""))


if __name__ == "__main__":
    sys.exit(main())
