#!/usr/bin/env python3
"""test_threads.py - safereasm-pcap --threads N gives the output of
--threads 1, on every capture, every run.

Each worker thread has its own pool and assembler (both directions of a
flow go to one worker), every segment carries one capture clock, and
connection ids are the frame that created the connection, so nothing a
worker prints may depend on how the workers were scheduled or how many
there are -- as long as no cap is hit (the caps are split N ways).

  xy           captures/crafted/threads-xy.pcap (make-threads.py): X's hole
               is filled 0.1 s later while Y's worker runs 400 s ahead; the
               exact lines (X 5100 bytes, no gap; Y 20000 bytes) at
               1..4 threads, RUNS runs each.
  caps         the caps hold for the process: with --threads 1..4 the
               summed peaks stay within --max-connections (synscan, 1994
               connections) and --max-pages-total (a real capture with loss).
  determinism  every capture under captures/ at --threads 1..4, RUNS runs
               each, several processes at once for load: the per-direction
               lines, sorted, equal the first --threads 1 run's, byte for
               byte, and every run of one thread count prints them in the
               same order (lines are written as connections complete: the
               order is fixed for a given N, not across N); with --write on
               three captures (3 runs per thread count), the same streams.tsv
               rows (same order within one N) and the same files.
               RUNS = $SR_THREADS_RUNS or 20 (the test header of
               tests/tool/CMakeLists.txt gives the measured times).
  quick        what the TSan build runs: xy, and threads-xy, echo-connections
               (500 connections) and one real capture at 1..4 threads, RUNS
               (default 2) runs each; and tiny (below).
  tiny         every plain pcap under captures/ walked by 2 and 3 workers
               (SR_PCAP_WALK=always, with and without SR_PCAP_IDX_GUESS=all,
               and each) with the walk's sizes made
               tiny (SR_PCAP_WALK_SIZES=tiny: chunks of 64 records, a
               look-ahead of 256 frames), so that on these small files the
               workers wait for each other and for the main thread and the
               main thread is woken by every rule it has: stdout and stderr
               byte for byte those of one reader handing out batches to as
               many workers (SR_PCAP_WALK=never), whose lines are those of
               --threads 1 (sorted; but for the counters that are sums over
               workers, docs/safereasm-pcap.md).
  resident     a plain pcap file is read from a mapping, and the pages it
               is done with are given back as it goes (by the one thread,
               by the main thread for walks that visit every frame, by the
               workers themselves for the indexed walk): on a 226 MiB
               capture of one in-order connection, the peak RSS of
               --threads 1 and of --threads 2 in every SR_PCAP_WALK mode
               stays within 96 MiB of the tool's own on a capture of 100
               frames (a run that kept the file mapped would be about
               220 MiB above it; the walks keep up to 32 MiB of the file
               ahead, and ASan adds its own). And pages the conflict
               history reads again after they were given back (20,000
               connections open at once, 10-byte segments, a 64-byte
               history) are given back again: at most 3 MiB of the
               mapping resident at the end, in every mode.
"""

import concurrent.futures
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile

import tooltest as T

RUNS = int(os.environ.get("SR_THREADS_RUNS", "0") or 0)
JOBS = int(os.environ.get("SR_THREADS_JOBS", "0") or 0) or 2 * (os.cpu_count() or 2)
THREADS = (1, 2, 3, 4)
XY = os.path.join(T.CAPTURES, "crafted", "threads-xy.pcap")
WRITE_CAPTURES = ("crafted/threads-xy.pcap", "fidelity/zeek/echo-connections.pcap.gz",
                  "real/harsh-s1-client.pcapng")


def xy_expected():
    """The two lines threads-xy.pcap must give, from how make-threads.py
    builds it (not from a run of the tool)."""
    x = b"".join(bytes("X%08d\n" % i, "ascii") for i in range(510))
    y = bytes(0x41 + i % 26 for i in range(20000))
    return ["10.0.1.1:40000>10.0.1.2:9 5100 0 0 0 " + hashlib.sha256(x).hexdigest(),
            "10.0.2.1:40002>10.0.2.2:9 20000 0 0 0 " + hashlib.sha256(y).hexdigest()]


def test_xy(c, runs):
    want = xy_expected()
    for t in THREADS:
        for r in range(runs):
            rc, out, err = T.run(XY, "--no-stats", "--threads", str(t))
            got = T.lines_of(out)
            if not c.need(rc == 0 and sorted(got) == sorted(want), "threads-xy --threads %d run %d: exit %d, lines %s, expected %s"
                          % (t, r + 1, rc, got, want)):
                break
    print("xy: %d runs at 1..4 threads" % (runs * len(THREADS)))


def test_caps(c):
    syn = os.path.join(T.CAPTURES, "fidelity", "ndpi", "synscan.pcap")
    lossy = os.path.join(T.CAPTURES, "real", "harsh-s1-client.pcapng")
    for t in THREADS:
        rc, out, err = T.run(syn, "--threads", str(t), "--max-connections", "100")
        st = T.stats_of(out)
        per = 100 // t
        c.need(rc == 0 and st.get("pool.peak_connections", -1) <= 100 and
               st.get("pool.peak_connections", -1) == per * t and st.get("pool.closed_evicted", 0) > 0,
               "synscan --threads %d --max-connections 100: exit %d, summed peak %s (expected %d x %d), "
               "evicted %s" % (t, rc, st.get("pool.peak_connections"), t, per, st.get("pool.closed_evicted")))
        rc, out, err = T.run(lossy, "--threads", str(t), "--max-pages-total", "16",
                             "--max-pages-per-connection", "8")
        st = T.stats_of(out)
        c.need(rc == 0 and 0 < st.get("assembler.pages_peak", -1) <= 16,
               "harsh-s1-client --threads %d --max-pages-total 16: exit %d, summed pages_peak %s (cap 16)"
               % (t, rc, st.get("assembler.pages_peak")))
    # More workers than the cap: each worker keeps 1 (documented), never 0.
    rc, out, err = T.run(syn, "--threads", "8", "--max-connections", "4")
    st = T.stats_of(out)
    c.need(rc == 0 and st.get("pool.peak_connections") == 8,
           "synscan --threads 8 --max-connections 4: exit %d, peak %s, expected 8 (1 per worker)"
           % (rc, st.get("pool.peak_connections")))
    print("caps: checked at 1..4 threads")


def lines_run(path, t):
    rc, out, err = T.run(path, "--no-stats", "--threads", str(t))
    return rc, T.lines_of(out), err


# Counters that may differ across thread counts (docs/safereasm-pcap.md):
# sums of the workers' gauges and peaks, and connections_flushed (a pool
# sees the clock only when given a segment, so a connection one pool flushes
# at one sweep and times out later may be timed out at once by another).
SUMMED = ("# assembler pages_peak ", "# pool peak_connections ", "# pool active_connections ",
          "# assembler connections_flushed ")


def test_tiny(c, runs):
    caps = [p for p in T.all_captures() if p.endswith(".pcap")]
    c.need(len(caps) >= 5, "tiny: only %d plain pcap captures" % len(caps))

    def tool(path, t, **env):
        try:  # a walk that waits for ever fails here, not at ctest's timeout
            p = subprocess.run([T.TOOL, "--no-progress", "--sha256", "--threads", str(t), path], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, env=dict(os.environ, **env), timeout=120)
        except subprocess.TimeoutExpired:
            return -1, "", "hung: no exit after 120 s (%s)" % env
        return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")

    walked = 0
    for path in caps:
        one = tool(path, 1)
        one_lines = sorted(l for l in one[1].split("\n") if not l.startswith(SUMMED))
        for t in (2, 3):
            ref = tool(path, t, SR_PCAP_WALK="never")  # one reader, batches: the order at t workers
            c.need(ref[0] == one[0] and
                   sorted(l for l in ref[1].split("\n") if not l.startswith(SUMMED)) == one_lines,
                   "tiny: %s --threads %d (reader): not the lines of --threads 1" % (T.rel(path), t))
            for mode, more in (("always", {}), ("always", {"SR_PCAP_IDX_GUESS": "all"}), ("each", {})):
                for r in range(runs):
                    got = tool(path, t, SR_PCAP_WALK=mode, SR_PCAP_WALK_SIZES="tiny", **more)
                    c.need(got == ref,
                           "tiny: %s --threads %d SR_PCAP_WALK=%s %s: exit %d/%d, stdout %s, stderr %r"
                           % (T.rel(path), t, mode, more, got[0], ref[0],
                              "same" if got[1] == ref[1] else "differs", got[2][-300:]))
                    walked += 1
    print("tiny: %d plain pcap captures, %d walks with tiny sizes at 2 and 3 threads" % (len(caps), walked))


def write_bulk(path, frames, payload=1448):
    """One connection, in order: SYN, SYN-ACK, ACK, then `frames` data
    segments from the server, FIN both ways (written as they are made)."""
    c, srv = (10, 0, 0, 1), (10, 0, 0, 2)
    data = bytes(range(256)) * (payload // 256 + 1)

    def gen():
        yield T.ipv4(c, srv, T.tcp(40000, 80, 100, 0, 0x02))
        yield T.ipv4(srv, c, T.tcp(80, 40000, 5000, 101, 0x12))
        yield T.ipv4(c, srv, T.tcp(40000, 80, 101, 5001, 0x10))
        seq = 5001
        for i in range(frames):
            yield T.ipv4(srv, c, T.tcp(80, 40000, seq, 101, 0x18, data[i % 256:i % 256 + payload]))
            seq += payload
        yield T.ipv4(srv, c, T.tcp(80, 40000, seq, 101, 0x11))
        yield T.ipv4(c, srv, T.tcp(40000, 80, 101, seq + 1, 0x11))
        yield T.ipv4(srv, c, T.tcp(80, 40000, seq + 1, 102, 0x10))

    T.pcap(path, gen())


def write_interleaved(path, conns, rounds, payload=10):
    """`conns` connections open at once: every handshake, then `rounds`
    rounds of one `payload`-byte segment from every client in turn, then
    every FIN. A direction's segments lie far apart in the file, so with a
    conflict history of a few segments' bytes its sixth segment turns the
    history's runs into a ring of bytes, which reads the five before it
    from pages of the mapping given back long ago. Frames 1 ms apart: a
    round takes 20 s of capture time, so no connection times out, and
    sweeps are few (with frames a second apart and a timeout long enough
    to keep the connections, every sweep visited all 20,000 idle
    connections: 99 s a run under ASan; docs/library.md, "What a sweep
    costs")."""
    def addr(i):
        return (10, 1 + i // 65536, i // 256 % 256, i % 256)
    srv = (10, 200, 0, 1)

    def gen():
        for i in range(conns):
            yield T.ipv4(addr(i), srv, T.tcp(40000, 80, 100, 0, 0x02))
            yield T.ipv4(srv, addr(i), T.tcp(80, 40000, 5000, 101, 0x12))
            yield T.ipv4(addr(i), srv, T.tcp(40000, 80, 101, 5001, 0x10))
        for r in range(rounds):
            for i in range(conns):
                yield T.ipv4(addr(i), srv, T.tcp(40000, 80, 101 + r * payload, 5001, 0x18,
                                                 bytes([0x41 + (i + r) % 26]) * payload))
        end = 101 + rounds * payload
        for i in range(conns):
            yield T.ipv4(addr(i), srv, T.tcp(40000, 80, end, 5001, 0x11))
            yield T.ipv4(srv, addr(i), T.tcp(80, 40000, 5001, end + 1, 0x11))
            yield T.ipv4(addr(i), srv, T.tcp(40000, 80, end + 1, 5002, 0x10))

    T.pcap(path, gen(), step_us=1000)


def peak_rss_kb(args, **env):
    """(exit, peak RSS in KiB) of one run of the tool (a child of its own:
    RUSAGE_CHILDREN's maximum is over the children waited for, so each run
    is measured in a fresh helper process)."""
    code = ("import os, resource, subprocess, sys\n"
            "r = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode\n"
            "print(r, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n")
    p = subprocess.run([sys.executable, "-c", code, T.TOOL, "--no-progress"] + list(args),
                       stdout=subprocess.PIPE, env=dict(os.environ, **env), timeout=600)
    rc, kb = p.stdout.decode().split()
    return int(rc), int(kb)


# One thread, and two threads under every way of reading a mapped file.
RESIDENT_MODES = ((["--threads", "1"], {}),
                  (["--threads", "2"], {"SR_PCAP_WALK": "always"}),
                  (["--threads", "2"], {"SR_PCAP_WALK": "each"}),
                  (["--threads", "2"], {"SR_PCAP_WALK": "never"}))


def mode_name(args, env):
    return "%s %s" % (" ".join(args), " ".join("%s=%s" % kv for kv in env.items()))


def test_resident(c):
    tmp = tempfile.mkdtemp(prefix="sr-resident-")
    try:
        small, big = os.path.join(tmp, "small.pcap"), os.path.join(tmp, "big.pcap")
        write_bulk(small, 100)
        write_bulk(big, 160 * 1024)  # 160k segments of 1448 bytes: 226 MiB
        size_mb = os.path.getsize(big) / 2**20
        for args, env in RESIDENT_MODES:
            rc0, base = peak_rss_kb(args + [small], **env)
            rc, kb = peak_rss_kb(args + [big], **env)
            above = (kb - base) / 1024
            what = mode_name(args, env)
            c.need(rc0 == 0 and rc == 0, "resident: %s: exit %d / %d" % (what, rc0, rc))
            c.need(above < 96,
                   "resident: %s: peak RSS %.0f MiB above the small capture's on a %.0f MiB "
                   "capture: its pages are not given back" % (what, above, size_mb))
            print("resident: %s: %.0f MiB capture, peak RSS %.1f MiB above a 100-frame one's"
                  % (what, size_mb, above))
        # Pages given back and read again by the history must be given back
        # again: at the end, the mapping holds at most about one regive
        # step (1 MiB with tiny sizes) plus what the walk keeps ahead; the
        # pages the history read were about 7 MiB of this file.
        inter = os.path.join(tmp, "interleaved.pcap")
        write_interleaved(inter, 20000, 8)
        for args, env in RESIDENT_MODES:
            what = mode_name(args, env)
            p = subprocess.run([T.TOOL, "--no-progress", "--conflict-history", "64",
                                "--max-connections", "30000"] + args + [inter],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=600,
                               env=dict(os.environ, SR_PCAP_WALK_SIZES="tiny", SR_PCAP_READ_REPORT="1",
                                        **env))
            m = re.search(rb"mappings resident at the end (\d+) KiB", p.stderr)
            lines = [l for l in p.stdout.splitlines() if not l.startswith(b"#")]
            c.need(p.returncode == 0 and m and len(lines) == 20000,
                   "resident: interleaved %s: exit %d, %d lines, %s" % (what, p.returncode, len(lines),
                                                                      p.stderr[-300:]))
            if m:
                kb = int(m.group(1))
                c.need(kb < 3 * 1024, "resident: interleaved %s: %d KiB of a %.0f MiB capture still "
                       "resident at the end: pages the history read again were not given back"
                       % (what, kb, os.path.getsize(inter) / 2**20))
                print("resident: interleaved %s: %d KiB of the mapping resident at the end" % (what, kb))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def write_run(path, t):
    """(exit, streams.tsv text, {file: sha256}) of one --write run."""
    tmp = tempfile.mkdtemp(prefix="sr-threads-")
    try:
        rc, out, err = T.run(path, "--no-stats", "--threads", str(t), "--write", tmp)
        files = {}
        for f in sorted(os.listdir(tmp)):
            with open(os.path.join(tmp, f), "rb") as fh:
                files[f] = hashlib.sha256(fh.read()).hexdigest()
        tsv = files.pop("streams.tsv", None) and open(os.path.join(tmp, "streams.tsv")).read()
        return rc, tsv, files
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def sorted_rows(tsv):
    return sorted(tsv.splitlines()) if tsv else tsv


def test_determinism(c, caps, runs, write_caps, write_runs):
    ref = {}
    for path in caps:
        rc, lines, err = lines_run(path, 1)
        ref[path] = (rc, sorted(lines))
    jobs = [(path, t, r) for path in caps for t in THREADS for r in range(runs)]
    differ, order, misordered = {}, {}, set()
    with concurrent.futures.ThreadPoolExecutor(JOBS) as ex:
        futs = {ex.submit(lines_run, path, t): (path, t, r) for path, t, r in jobs}
        for f in concurrent.futures.as_completed(futs):
            path, t, r = futs[f]
            rc, lines, err = f.result()
            if (rc, sorted(lines)) != ref[path]:
                differ.setdefault((path, t), []).append((r, rc, sorted(lines), err))
            elif order.setdefault((path, t), lines) != lines:
                misordered.add((path, t))
    for path, t in sorted(misordered):
        c.need(False, "%s --threads %d: the same lines in another order than in an earlier run" %
               (T.rel(path), t))
    for (path, t), bad in sorted(differ.items()):
        r, rc, lines, err = bad[0]
        san = [l for l in err.splitlines() if "Sanitizer" in l or "SUMMARY" in l or " #" in l]
        if san:
            print("sanitizer report (%s --threads %d):\n    %s" % (T.rel(path), t, "\n    ".join(san[:40])))
        want = ref[path][1]
        only_ref = [l for l in want if l not in lines][:3]
        only_here = [l for l in lines if l not in want][:3]
        c.need(False, "%s --threads %d: %d of %d runs differ from --threads 1 (exit %d vs %d); "
               "first: only with 1 thread %s, only with %d %s %s" %
               (T.rel(path), t, len(bad), runs, rc, ref[path][0], only_ref, t, only_here,
                err.strip()[-200:]))
    print("determinism: %d captures x %d thread counts x %d runs = %d runs, %d capture/thread pairs differ"
          % (len(caps), len(THREADS), runs, len(jobs), len(differ)))
    for rel in write_caps:
        path = os.path.join(T.CAPTURES, rel)
        if not os.path.exists(path):
            c.need(False, "%s missing" % rel)
            continue
        want = write_run(path, 1)
        c.need(want[0] == 0 and want[1] and want[2], "%s --write: exit %d, %d files" % (rel, want[0], len(want[2])))
        first_tsv = {}
        with concurrent.futures.ThreadPoolExecutor(JOBS) as ex:
            futs = {ex.submit(write_run, path, t): t for t in THREADS for _ in range(write_runs)}
            for f in concurrent.futures.as_completed(futs):
                t = futs[f]
                got = f.result()
                same = (got[0], sorted_rows(got[1]), got[2]) == (want[0], sorted_rows(want[1]), want[2])
                c.need(same, "%s --write --threads %d: exit %d, streams.tsv rows or files differ from "
                       "--threads 1%s" % (rel, t, got[0], "" if sorted_rows(got[1]) == sorted_rows(want[1])
                                          else " (streams.tsv differs)"))
                c.need(first_tsv.setdefault(t, got[1]) == got[1],
                       "%s --write --threads %d: streams.tsv rows in another order than in an earlier run" % (rel, t))
        print("write: %s: streams.tsv and %d files, %d runs at 1..4 threads" % (rel, len(want[2]), write_runs * 4))


def main():
    T.need_tool()
    mode = sys.argv[1] if len(sys.argv) > 1 else "determinism"
    c = T.Checks()
    if mode == "xy":
        test_xy(c, RUNS or 5)
    elif mode == "caps":
        test_caps(c)
    elif mode == "determinism":
        caps = T.all_captures()
        c.need(len(caps) >= 10, "only %d captures" % len(caps))
        test_determinism(c, caps, RUNS or 20, WRITE_CAPTURES, 3)
    elif mode == "quick":
        runs = RUNS or 2
        test_xy(c, runs)
        caps = [os.path.join(T.CAPTURES, r) for r in WRITE_CAPTURES]
        test_determinism(c, caps, runs, WRITE_CAPTURES[:1], 1)
        test_tiny(c, 1)
    elif mode == "tiny":
        test_tiny(c, RUNS or 2)
    elif mode == "resident":
        test_resident(c)
    else:
        print("usage: test_threads.py xy|caps|determinism|quick|tiny|resident")
        return 2
    return c.done("threads %s" % mode)


if __name__ == "__main__":
    sys.exit(main())
