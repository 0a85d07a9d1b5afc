#!/usr/bin/python3
"""bench.py - the safereasm benchmark (bench/run.sh runs it; see docs/benchmarks.md).

Generates the captures (cached), runs every program on every capture
interleaved (repeat r runs all programs of a capture in a rotated order before
repeat r+1), measures wall time, user+sys CPU and peak RSS of each run with
wait4(), records the load average, checks that the outputs agree, and writes:

  OUT/results/runs.csv       one row per run
  OUT/results/summary.json   medians, paired ratios, agreement, load, sizes
  OUT/results/summary.md     the table of medians and ratios (also printed)
  DOCS/bench-time.png, bench-memory.png, bench-scaling.png   the charts

Fairness rules (docs/benchmarks.md explains them):
- the same limits: gopacket runs with safereasm's page caps (pages of 1900
  bytes, 50,000 total, 1,000 per connection) and its 120 s timeout; for the
  scaling captures every program gets room for all connections; libnids has
  no limits to set (its out-of-order queue is pruned at 64 KiB per half);
- the same digest work: every program runs twice per capture, once with no
  digest (safereasm-pcap's default output has none) and once SHA-256ing
  every delivered byte per direction (safereasm-pcap --sha256), each with
  its own SHA-256 (OpenSSL for libnids, crypto/sha256 for Go, OpenSSL's
  libcrypto for ours when the build finds it, as bench/run.sh's does); a
  row's ratios are against safereasm-pcap doing the same digest work, and
  libnids with GLib's SHA-256 shows what a software digest costs;
- interleaved runs, medians, paired ratios (ratio of the same repeat);
- a run that fails (exit status, signal, timeout) fails the benchmark, and so
  do outputs that disagree where they must agree.
"""

import argparse
import csv
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FLOOR_SHA = "read floor + SHA-256 of every payload"
OURS = "safereasm-pcap"
OURS_SHA = "safereasm-pcap --sha256"


PAIR = "two safereasm-pcap at once"


def log(*a):
    print(*a, file=sys.stderr, flush=True)


class BenchError(Exception):
    pass


# ---------------------------------------------------------------- captures

def capture_specs(a):
    """name -> dict(gen=argv or callable, conns=concurrent connections, group)."""
    q = a.quick
    gen = os.path.join(a.build, "bench", "bench-gen")
    bulk_mb = a.bulk_mb or (50 if q else 200)
    many_n = a.many_conns or (25000 if q else 100000)
    scale_mb = a.scale_mb or (100 if q else 200)
    ooo_n = a.ooo_segs or 1000000
    specs = {}
    specs["bulk"] = dict(file="bulk-%d.pcap" % bulk_mb, gen=[gen, "bulk", None, str(bulk_mb)],
                         conns=20, kind="main",
                         desc="%d MB, 20 connections, ~10 %% reordered, 1 %% duplicated" % bulk_mb)
    specs["many"] = dict(file="many-%d.pcap" % many_n, gen=[gen, "many", None, str(many_n), "1000"],
                         conns=1000, kind="main",
                         desc="%d connections x 4 KB (1000 open at once)" % many_n)
    for n, tag in ((10000, "10k"), (100000, "100k"), (1000000, "1M")):
        specs["scale-" + tag] = dict(file="scale-%s-%d.pcap" % (tag, scale_mb),
                                     gen=[gen, "scale", None, str(n), str(scale_mb)],
                                     conns=n, kind="scale", nconns=n,
                                     desc="%s connections all open, %d MB payload in total" % (tag, scale_mb))
    for order in ("reversed", "random"):
        specs["ooo-" + order[:3]] = dict(file="ooo-%s-%d.pcap" % (order, ooo_n),
                                         gen=[gen, "ooo", None, order, str(ooo_n)],
                                         conns=1, kind="ooo",
                                         desc="1 connection, %d one-byte segments, %s" % (ooo_n, order))
    specs["real"] = dict(file="real-%dx%d.pcapng" % (a.real_n, a.real_mb),
                         gen=[os.path.join(ROOT, "bench", "gen", "make-real.sh"), None,
                              str(a.real_mb), str(a.real_n)],
                         conns=a.real_n, kind="real", min_bytes=a.real_n * a.real_mb * 1048576,
                         desc="real: %d parallel HTTP downloads of %d MiB over a 1500-MTU loopback"
                         % (a.real_n, a.real_mb))
    specs["plugin-synth"] = dict(file="plugin-synth-%d.pcap" % a.synth_mib,
                                 gen=["python3", os.path.join(ROOT, "captures", "crafted", "make-big.py"),
                                      None, str(a.synth_mib)],
                                 conns=200, kind="plugin",
                                 desc="captures/crafted/make-big.py, %d MiB of payload" % a.synth_mib)
    return specs


def prepare(name, spec, a):
    path = os.path.join(a.out, spec["file"])
    meta_path = path + ".meta.json"
    if os.path.exists(path) and os.path.exists(meta_path):
        meta = json.load(open(meta_path))
        if meta.get("bytes") == os.path.getsize(path):
            os.chmod(path, 0o644)
            return path, meta
    log("bench: generating %s (%s)" % (name, spec["file"]))
    argv = [path if x is None else x for x in spec["gen"]]
    r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if r.returncode != 0 or not os.path.exists(path):
        raise BenchError("generating %s failed: %s" % (name, r.stderr.strip()))
    size = os.path.getsize(path)
    if size < spec.get("min_bytes", 1 << 20):
        raise BenchError("%s: only %d bytes" % (path, size))
    fl = subprocess.run([a.floor, path], stdout=subprocess.PIPE, text=True, check=True).stdout
    frames = int([l.split()[2] for l in fl.splitlines() if l.startswith("# frames")][0])
    os.chmod(path, 0o644)  # the plugin rows read it as an unprivileged user
    meta = dict(bytes=size, frames=frames, generator=r.stderr.strip())
    json.dump(meta, open(meta_path, "w"))
    return path, meta


# ---------------------------------------------------------------- programs

def programs(name, spec, a):
    """The rows for one capture: list of (label, argv-builder, output kind)."""
    tool, nids, gop = a.tool, a.nids, a.gop
    kind = spec["kind"]
    conns = spec["conns"]
    ours_opts = []
    nids_opts = ["--streams", str(max(conns * 11 // 10, 10000))]
    if conns > 8000:  # room for every connection (the tool's default is 10,000)
        ours_opts = ["--max-connections", str(conns * 11 // 10)]
    gop_opts = ["-pages-total", "50000", "-pages-conn", "1000", "-timeout", "120s"]
    P = []

    def add(label, argv, **kw):
        P.append(program(label, argv, **kw))

    add("read floor (libpcap)", [a.floor, "{cap}"])
    if kind in ("main", "real") and a.floor_sha:
        # the floor of an output with a digest of every payload byte
        add(FLOOR_SHA, [a.floor, "--sha256", "{cap}"], digest=True)
    add(OURS, [tool, "--no-progress"] + ours_opts + ["{cap}"], out="ours")
    if kind != "plugin":
        add(OURS_SHA, [tool, "--no-progress", "--sha256"] + ours_opts + ["{cap}"], out="ours-sha", digest=True)
    if kind in ("main", "real"):
        add("safereasm-pcap --threads 2", [tool, "--no-progress", "--threads", "2"] + ours_opts + ["{cap}"],
            out="ours")
        add("safereasm-pcap --threads 2 --sha256", [tool, "--no-progress", "--threads", "2", "--sha256"]
            + ours_opts + ["{cap}"], out="ours-sha", digest=True)
        add("safereasm-pcap --no-stats", [tool, "--no-progress", "--no-stats"] + ours_opts + ["{cap}"],
            out="ours")
    if kind == "main":
        # What two CPUs of this machine give at all: two one-thread
        # processes at once, each with its own file reading and tables
        # (the wall time is until both are done; either failing fails it).
        # --threads 2 cannot beat 2 x one / this by much: it is the same
        # work on the same two CPUs, sharing their caches and memory.
        add(PAIR, ["sh", "-c", 'set -e; "$@" >/dev/null & p=$!; "$@" >/dev/null; wait $p', "pair",
                   tool, "--no-progress"] + ours_opts + ["{cap}"])
    if kind == "plugin":
        P.extend(plugin_rows(a))
        return P
    add("libnids (no digest)", [nids, "--digest", "none"] + nids_opts + ["{cap}"], out="nids-nodigest")
    add("libnids (SHA-256)", [nids, "--digest", "sha256"] + nids_opts + ["{cap}"], out="nids", digest=True)
    if kind in ("main", "real"):
        add("libnids (GLib SHA-256)", [nids, "--digest", "glib"] + nids_opts + ["{cap}"], out="nids",
            digest=True)
    add("gopacket (no digest)", [gop, "-no-stats", "-digest", "none"] + gop_opts + ["{cap}"],
        out="gop-nodigest")
    add("gopacket (SHA-256)", [gop, "-no-stats"] + gop_opts + ["{cap}"], out="gop", digest=True)
    if kind in ("main", "real") and (name != "many" or a.tshark_all):
        add("tcpflow (writes files)", ["tcpflow", "-r", "{cap}", "-o", "{wdir}"], out="tcpflow", write=True)
        add("safereasm-pcap --write", [tool, "--no-progress", "--no-stats"] + ours_opts
            + ["-w", "{wdir}", "{cap}"], out="ours-write", write=True)
        if not a.no_tshark:
            add("tshark -z conv,tcp", ["tshark", "-n", "-q", "-r", "{cap}", "-z", "conv,tcp"])
            add("tshark -z follow (stream 0)", ["tshark", "-n", "-q", "-r", "{cap}", "-z", "follow,tcp,raw,0"])
    if kind == "real" and not a.no_plugin:
        P.extend(plugin_rows(a))
    return P


def program(label, argv, out="none", env=None, plugin=None, write=None, digest=False):
    """One row of a capture's table: every row has every field (a row made
    without one broke the summary at the end of a 30-minute run)."""
    return dict(label=label, argv=argv, out=out, env=env, plugin=plugin, write=write, digest=digest)


def digest_labels(P):
    """The labels of the rows that SHA-256 every byte (summarise)."""
    return {p["label"] for p in P if p["digest"]}


def plugin_rows(a):
    if a.no_plugin or a.no_tshark:
        return []
    wrap = os.path.join(ROOT, "tests", "lib", "tshark-as-user.sh")
    rows = []
    for label, plugin, args in (("plugin: tshark -z safereasm,tree", a.plugin, ["-z", "safereasm,tree"]),
                                ("tshark -Y tcp.payload (no plugin)", "none", ["-Y", "tcp.payload"]),
                                ("tshark -z conv,tcp (no plugin)", "none", ["-z", "conv,tcp"])):
        rows.append(program(label, [wrap, "-n", "-q", "-r", "{cap}"] + args,
                            env={"SR_PLUGIN": plugin}, plugin=plugin))
    return rows


# ---------------------------------------------------------------- running

def warm(path, fresh=False):
    """Read the capture once, so the run after it finds it in the page
    cache: a program that uses gigabytes (libnids and gopacket on scale-1M)
    can push the captures out, and the next run then paid for the disk
    (a floor run of 0.68 s wall with 0.27 s CPU on scale-100k). fresh:
    drop it from the page cache first, so it is cached the same way for
    every capture and every benchmark run (one sequential read): how the
    kernel happens to hold a file's pages moved the read floor by 13 % and
    the tool, which maps the file, by up to 18 % on many-100000."""
    with open(path, "rb") as f:
        if fresh:
            os.posix_fadvise(f.fileno(), 0, 0, os.POSIX_FADV_DONTNEED)
        while f.read(8 << 20):
            pass


def run_one(p, cap, a, keep_output):
    warm(cap)
    wdir = None
    argv = list(p["argv"])
    if p["write"]:
        wdir = tempfile.mkdtemp(prefix="sr-bench-w-", dir=a.wtmp)
        os.rmdir(wdir)  # both programs create it; safereasm-pcap wants it new
        if argv[0] == "tcpflow":
            os.mkdir(wdir)
    argv = [cap if x == "{cap}" else wdir if x == "{wdir}" else x for x in argv]
    env = dict(os.environ)
    env.update(p["env"] or {})
    outf = tempfile.TemporaryFile(dir=a.wtmp) if keep_output else subprocess.DEVNULL
    errf = tempfile.TemporaryFile(dir=a.wtmp)
    load = os.getloadavg()[0]
    # GNU time measures user/sys/peak RSS: wait4() on our own child would
    # report the RSS of the forked Python image if the program is smaller.
    tfile = os.path.join(a.wtmp, "time.out")
    argv = ["/usr/bin/time", "-f", "%e %U %S %M %x", "-o", tfile] + argv
    c0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.monotonic()
    proc = subprocess.Popen(argv, stdout=outf, stderr=errf, env=env, cwd=a.wtmp)
    status = None
    ru = None
    deadline = t0 + a.timeout
    while True:
        pid, status, ru = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        if time.monotonic() > deadline:
            proc.kill()
            os.wait4(proc.pid, 0)
            raise BenchError("%s timed out after %d s on %s" % (p["label"], a.timeout, cap))
        time.sleep(0.005)
    wall = time.monotonic() - t0
    c1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    proc.returncode = os.waitstatus_to_exitcode(status)
    errf.seek(0)
    err = errf.read().decode(errors="replace")
    if proc.returncode != 0:
        raise BenchError("%s failed (exit %d) on %s: %s\n%s" % (p["label"], proc.returncode, cap,
                                                               " ".join(argv), err[-2000:]))
    if p["env"] and "tshark" in " ".join(argv) and ("Couldn't load" in err or "was compiled for" in err):
        raise BenchError("%s: plugin not loaded: %s" % (p["label"], err))
    output = None
    if keep_output:
        outf.seek(0)
        output = outf.read().decode(errors="replace")
    if wdir:
        output = written_bytes(wdir)
        shutil.rmtree(wdir, ignore_errors=True)
    # CPU from our own children's rusage (microseconds; GNU time prints
    # 10 ms steps), peak RSS from GNU time (per process).
    rss_kib = open(tfile).read().split()[-2]
    user, sys_ = c1.ru_utime - c0.ru_utime, c1.ru_stime - c0.ru_stime
    return dict(wall=wall, user=user, sys=sys_, cpu=user + sys_, rss_mib=int(rss_kib) / 1024.0,
                load=load, output=output)


def written_bytes(d):
    total = 0
    for root, _, files in os.walk(d):
        for f in files:
            if f in ("report.xml", "streams.tsv") or f.endswith(".tsv"):
                continue
            total += os.path.getsize(os.path.join(root, f))
    return total


def normalise(kind, text):
    """-> (set of (key, delivered, digest-or-None), total delivered)."""
    if kind in ("tcpflow", "ours-write"):
        return None, text
    rows = set()
    total = 0
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        f = line.split()
        if len(f) < 5:
            raise BenchError("unexpected %s output line: %r" % (kind, line))
        key, delivered = f[0], int(f[1])
        digest = f[-1] if kind in ("ours-sha", "nids", "gop") else None
        rows.add((key, delivered, digest))
        total += delivered
    return rows, total


def check_agreement(name, spec, outs):
    """outs: label -> (kind, text). Returns notes; raises on a required mismatch."""
    notes = []
    ref_rows, ref_total = normalise("ours", outs[OURS][1])
    ref_nodigest = {(k, d) for k, d, _ in ref_rows}
    # the digests every program that has them must agree with
    ref_sha = normalise("ours-sha", outs[OURS_SHA][1])[0] if OURS_SHA in outs else None
    required = spec["kind"] in ("main", "scale", "real", "plugin")
    for label, (kind, text) in outs.items():
        if label == OURS or kind == "none":
            continue
        rows, total = normalise(kind, text)
        if rows is None:  # files written: compare byte totals
            ok = total == ref_total
            what = "bytes written %d vs delivered %d" % (total, ref_total)
        elif kind.endswith("nodigest") or label == OURS_SHA:
            # OURS_SHA's digests are the reference of the rows below; its
            # directions and bytes must be the default's
            ok = {(k, d) for k, d, _ in rows} == ref_nodigest
            what = "%d directions, delivered bytes" % len(rows)
            if label == OURS_SHA:
                what += " as without --sha256"
        elif kind in ("ours", "ours-sha") and label.startswith("safereasm-pcap --threads"):
            ref_label = OURS_SHA if kind == "ours-sha" else OURS
            a_lines = sorted(l for l in text.splitlines() if l and not l.startswith("#"))
            b_lines = sorted(l for l in outs[ref_label][1].splitlines() if l and not l.startswith("#"))
            ok = a_lines == b_lines
            what = "%d lines identical to --threads 1" % len(a_lines)
        elif kind == "ours":
            ok = rows == ref_rows
            what = "%d directions, delivered bytes" % len(rows)
        else:
            ok = ref_sha is not None and rows == ref_sha
            what = "%d directions, delivered bytes and SHA-256" % len(rows)
        must = required and not (spec["kind"] == "ooo")
        if label.startswith("tcpflow") and spec["kind"] == "real":
            must = False  # tcpflow writes what it saw, retransmitted copies too
        if label.startswith("libnids") and spec["kind"] == "real":
            # a real capture may hold a loss the sender repaired: libnids
            # then stops delivering that direction (docs/benchmarks.md)
            must = False
        if not ok and rows is not None:
            what += "; it delivered %d bytes in all, safereasm-pcap %d" % (total, ref_total)
        notes.append(dict(program=label, agrees=ok, what=what, required=must))
        if not ok and must:
            raise BenchError("%s: %s disagrees with safereasm-pcap (%s)" % (name, label, what))
    return notes


def median(xs):
    return statistics.median(xs) if xs else float("nan")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default=os.path.join(ROOT, "build-bench"))
    ap.add_argument("--out", default=os.path.join(ROOT, "bench", "out"))
    ap.add_argument("--docs", default=os.path.join(ROOT, "docs"))
    ap.add_argument("--quick", action="store_true", help="smaller bulk/many/scale captures")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--scale-repeats", type=int, default=0, help="repeats for the scaling captures (default: --repeats)")
    # many: our runs take 0.15-0.3 s, and on a shared VM two runs a few
    # seconds apart differ by up to 1.5x; with 5 repeats the quartiles of
    # --threads 2's per-repeat speed-up were 1.27-2.33x (2026-12-03 15:47).
    ap.add_argument("--many-repeats", type=int, default=15,
                    help="repeats for many (at least --repeats; 0: --repeats)")
    ap.add_argument("--captures", default="bulk,many,scale-10k,scale-100k,scale-1M,ooo-rev,ooo-ran,real,plugin-synth")
    ap.add_argument("--bulk-mb", type=int, default=0)
    ap.add_argument("--many-conns", type=int, default=0)
    ap.add_argument("--scale-mb", type=int, default=0)
    ap.add_argument("--ooo-segs", type=int, default=0)
    ap.add_argument("--real-mb", type=int, default=20)
    ap.add_argument("--real-n", type=int, default=5)
    ap.add_argument("--synth-mib", type=int, default=60)
    ap.add_argument("--no-tshark", action="store_true")
    ap.add_argument("--no-plugin", action="store_true")
    ap.add_argument("--tshark-all", action="store_true", help="also tshark and tcpflow on many")
    ap.add_argument("--timeout", type=int, default=900)
    ap.add_argument("--no-charts", action="store_true")
    a = ap.parse_args()
    a.build = os.path.abspath(a.build)
    a.out = os.path.abspath(a.out)

    a.tool = os.path.join(a.build, "tools", "safereasm-pcap")
    a.floor = os.path.join(a.build, "bench", "pcap-floor")
    a.nids = os.path.join(a.build, "bench", "nids-reasm")
    a.gop = os.path.join(a.build, "bench", "gopacket-reasm")
    a.plugin = os.path.join(a.build, "plugins", "4.0", "epan", "safereasm.so")
    # pcap-floor --sha256 exists when the build found libcrypto
    a.floor_sha = subprocess.run([a.floor, "--sha256", "/dev/null"], stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL).returncode != 2 if os.access(a.floor, os.X_OK) else False
    need = [a.tool, a.floor, a.nids, a.gop] + ([] if a.no_plugin else [a.plugin])
    for x in need:
        if not os.access(x, os.X_OK if not x.endswith(".so") else os.R_OK):
            raise BenchError("%s is not built (cmake --build %s)" % (x, a.build))
    for x in ["tcpflow"] + ([] if a.no_tshark else ["tshark"]):
        if not shutil.which(x):
            raise BenchError("%s not installed (bench/debian-packages.txt)" % x)
    os.makedirs(a.out, exist_ok=True)
    res_dir = os.path.join(a.out, "results")
    os.makedirs(res_dir, exist_ok=True)
    a.wtmp = tempfile.mkdtemp(prefix="sr-bench-", dir="/dev/shm" if os.path.isdir("/dev/shm") else None)
    os.chmod(a.wtmp, 0o755)

    specs = capture_specs(a)
    wanted = [c for c in a.captures.split(",") if c]
    for c in wanted:
        if c not in specs:
            raise BenchError("unknown capture %s (one of %s)" % (c, ",".join(specs)))
    caps = {}
    for c in wanted:
        caps[c] = prepare(c, specs[c], a)

    runs = []
    summary = dict(host=os.uname().nodename, cpus=os.cpu_count(), quick=a.quick, repeats=a.repeats,
                   started=time.strftime("%Y-%m-%d %H:%M:%S %Z"), load_start=os.getloadavg(),
                   tool_version=subprocess.run([a.tool, "--version"], stdout=subprocess.PIPE,
                                               text=True).stdout.strip(),
                   captures={}, argv=sys.argv[1:])
    for c in wanted:
        path, meta = caps[c]
        spec = specs[c]
        P = programs(c, spec, a)
        reps = a.scale_repeats if (spec["kind"] == "scale" and a.scale_repeats) else a.repeats
        if c == "many":
            reps = max(reps, a.many_repeats)
        log("bench: %s: %s, %d frames, %d programs x %d repeats" % (c, human(meta["bytes"]), meta["frames"],
                                                                     len(P), reps))
        outs = {}
        per = {p["label"]: [] for p in P}
        warm(path, fresh=True)
        for r in range(reps):
            order = P[r % len(P):] + P[:r % len(P)]  # rotate: no program always first or last
            for p in order:
                keep = r == 0 and p["out"] != "none"
                m = run_one(p, path, a, keep)
                if keep:
                    outs[p["label"]] = (p["out"], m["output"])
                m.pop("output")
                m.update(capture=c, program=p["label"], repeat=r)
                per[p["label"]].append(m)
                runs.append(m)
                log("  %-36s r%d wall %7.3f s  cpu %7.3f s  rss %8.1f MiB  load %.2f"
                    % (p["label"], r, m["wall"], m["cpu"], m["rss_mib"], m["load"]))
            if r == 0:
                agreement = check_agreement(c, spec, outs)
                for n in agreement:
                    log("  agree: %-30s %s (%s)" % (n["program"], "yes" if n["agrees"] else "NO", n["what"]))
                outs = {}
        summary["captures"][c] = dict(desc=spec["desc"], file=spec["file"], kind=spec["kind"],
                                      nconns=spec.get("nconns"), repeats=reps, agreement=agreement,
                                      rows=summarise(per, meta, digest_labels(P)),
                                      **meta)
        json.dump(summary, open(os.path.join(res_dir, "partial.json"), "w"), indent=1)
    summary["load_end"] = os.getloadavg()
    loads = [m["load"] for m in runs]
    if os.path.exists(os.path.join(res_dir, "partial.json")):
        os.remove(os.path.join(res_dir, "partial.json"))
    summary["load_median"] = median(loads)
    summary["load_max"] = max(loads) if loads else None
    summary["finished"] = time.strftime("%Y-%m-%d %H:%M:%S %Z")
    shutil.rmtree(a.wtmp, ignore_errors=True)

    with open(os.path.join(res_dir, "runs.csv"), "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=["capture", "program", "repeat", "wall", "user", "sys", "cpu",
                                          "rss_mib", "load"])
        w.writeheader()
        for m in runs:
            w.writerow(m)
    json.dump(summary, open(os.path.join(res_dir, "summary.json"), "w"), indent=1)
    md = table(summary)
    open(os.path.join(res_dir, "summary.md"), "w").write(md)
    print(md)
    if not a.no_charts:
        charts(summary, a.docs)


def quartiles(xs):
    """[first quartile, third quartile] of xs (the spread the medians hide)."""
    if len(xs) < 2:
        return [xs[0], xs[0]] if xs else [float("nan")] * 2
    q = statistics.quantiles(xs, n=4, method="inclusive")
    return [q[0], q[2]]


def summarise(per, meta, digest_rows):
    """digest_rows: the labels of the rows that SHA-256 every byte; their
    ratios are against safereasm-pcap --sha256 (when it ran), the others'
    against the default."""
    floor = per.get("read floor (libpcap)")
    floor_sha = per.get(FLOOR_SHA)
    rows = {}
    for label, ms in per.items():
        n = len(ms)
        row = dict(n=n)
        for k in ("wall", "cpu", "user", "sys", "rss_mib", "load"):
            row[k] = median([m[k] for m in ms])
        # paired ratios: this program / safereasm-pcap doing the same digest
        # work, in the same repeat
        ref = per[OURS_SHA] if label in digest_rows and OURS_SHA in per else per[OURS]
        row["digest"] = label in digest_rows
        ratios = [ms[i]["wall"] / max(ref[i]["wall"], 1e-3) for i in range(n)]
        row["wall_ratio"] = median(ratios)
        row["wall_ratio_q"] = quartiles(ratios)
        # how many times faster than ours (the --threads rows: the speed-up)
        speedups = [ref[i]["wall"] / max(ms[i]["wall"], 1e-3) for i in range(n)]
        row["speedup"] = median(speedups)
        row["speedup_q"] = quartiles(speedups)
        row["cpu_ratio"] = median([ms[i]["cpu"] / max(ref[i]["cpu"], 1e-3) for i in range(n)])
        if floor:
            xf = [ms[i]["wall"] / max(floor[i]["wall"], 1e-3) for i in range(n)]
            row["wall_x_floor"] = median(xf)
            row["wall_x_floor_q"] = quartiles(xf)
            row["cpu_x_floor"] = median([ms[i]["cpu"] / max(floor[i]["cpu"], 1e-3) for i in range(n)])
        if floor_sha:
            row["wall_x_floor_sha"] = median([ms[i]["wall"] / max(floor_sha[i]["wall"], 1e-3)
                                              for i in range(n)])
            row["cpu_x_floor_sha"] = median([ms[i]["cpu"] / max(floor_sha[i]["cpu"], 1e-3)
                                             for i in range(n)])
        row["cpu_ns_per_frame"] = row["cpu"] / meta["frames"] * 1e9
        if label == PAIR:  # twice the work: the throughput two CPUs give
            gain = [2 * x for x in speedups]
            row["ceiling"] = median(gain)
            row["ceiling_q"] = quartiles(gain)
        rows[label] = row
    t2 = rows.get("safereasm-pcap --threads 2")
    if t2 and PAIR in per:
        # --threads 2's speed-up / the pair's throughput gain, per repeat:
        # (one / t2) / (2 one / pair) = pair / (2 t2)
        fr = [per[PAIR][i]["wall"] / (2 * max(per["safereasm-pcap --threads 2"][i]["wall"], 1e-3))
              for i in range(len(per[PAIR]))]
        t2["of_ceiling"] = median(fr)
        t2["of_ceiling_q"] = quartiles(fr)
    # the plugin's targets: paired ratios against tshark without it
    pl = per.get("plugin: tshark -z safereasm,tree")
    if pl:
        for base in ("tshark -Y tcp.payload (no plugin)", "tshark -z conv,tcp (no plugin)"):
            b = per[base]
            rows["plugin: tshark -z safereasm,tree"]["vs " + base] = dict(
                wall=median([pl[i]["wall"] / b[i]["wall"] for i in range(len(pl))]),
                cpu=median([pl[i]["cpu"] / b[i]["cpu"] for i in range(len(pl))]),
                rss=median([pl[i]["rss_mib"] / b[i]["rss_mib"] for i in range(len(pl))]))
    return rows


def human(n):
    return "%.0f MB" % (n / 1e6)


def table(s):
    out = ["# safereasm benchmark", "",
           "started %s, %d CPUs, %s mode, load average median %.2f (max %.2f) over the runs; %s" % (
               s["started"], s["cpus"], "quick" if s["quick"] else "full", s["load_median"], s["load_max"],
               s["tool_version"]), "",
           "Medians over the repeats; ratios are paired (same repeat) medians of program / safereasm-pcap"
           " doing the same digest work (rows with SHA-256 against `safereasm-pcap --sha256`, the others"
           " against the default, which has no digest); x floor = program / read floor. CPU = user+sys.", ""]
    for c, cs in s["captures"].items():
        out.append("## %s: %s (%s, %d frames, %d repeats)" % (c, cs["desc"], human(cs["bytes"]), cs["frames"],
                                                              cs["repeats"]))
        out.append("")
        out.append("| program | wall s | CPU s | peak RSS MiB | wall / ours | CPU / ours | wall x floor | CPU ns/frame |")
        out.append("|---|---:|---:|---:|---:|---:|---:|---:|")
        for label, r in cs["rows"].items():
            out.append("| %s | %.3f | %.3f | %.1f | %.2f | %.2f | %s | %.0f |" % (
                label, r["wall"], r["cpu"], r["rss_mib"], r["wall_ratio"], r["cpu_ratio"],
                "%.1f" % r["wall_x_floor"] if "wall_x_floor" in r else "-", r["cpu_ns_per_frame"]))
            for k, v in r.items():
                if k.startswith("vs ") and isinstance(v, dict):
                    out.append("| &nbsp;&nbsp;plugin %s | %.2f× | %.2f× | %.2f× | | | | |" % (
                        k, v["wall"], v["cpu"], v["rss"]))
        ours = cs["rows"].get(OURS_SHA, {})
        if "wall_x_floor_sha" in ours:
            out.append("")
            out.append("safereasm-pcap --sha256 against the %s: %.2f× in wall time, %.2f× in CPU (paired medians)." % (
                FLOOR_SHA, ours["wall_x_floor_sha"], ours["cpu_x_floor_sha"]))
        bad = [n for n in cs["agreement"] if not n["agrees"]]
        out.append("")
        out.append("Outputs: " + "; ".join("%s %s%s" % (n["program"], "agrees" if n["agrees"] else "DIFFERS",
                                                        "" if n["required"] else " (not required)")
                                           for n in cs["agreement"]) + ".")
        for n in bad:
            out.append("")
            out.append("%s differs: %s." % (n["program"], n["what"]))
        out.append("")
    out.extend(targets(s))
    return "\n".join(out)


def targets(s):
    """Issue 13's targets, each against what this run measured: the paired
    median, the quartiles of the per-repeat ratios (how far the machine's
    noise moves it) and whether the median meets it. A target whose
    captures or programs were not run is left out."""
    caps = s["captures"]
    rows = []

    def row(target, where, med, q, ok, unit="×"):
        fmt = (lambda v: "%.2f%s" % (v, unit)) if unit == "×" else (lambda v: "%.0f %s" % (v, unit))
        rows.append("| %s | %s | %s | %s | %s |" % (target, where, fmt(med),
                                                 "%s – %s" % (fmt(q[0]), fmt(q[1])) if q else "",
                                                 ok if isinstance(ok, str) else "yes" if ok else "**no**"))

    for c in ("bulk", "many", "real"):
        r = caps.get(c, {}).get("rows", {})
        for peer, ours in (("libnids (no digest)", OURS), ("libnids (SHA-256)", OURS_SHA),
                           ("gopacket (no digest)", OURS), ("gopacket (SHA-256)", OURS_SHA)):
            if peer in r and ours in r:
                row("1. faster than " + peer.split()[0] + " (peer / ours)", "%s, %s" % (c, peer),
                    r[peer]["wall_ratio"], r[peer]["wall_ratio_q"], r[peer]["wall_ratio"] > 1)
    for c in ("bulk", "many"):
        r = caps.get(c, {}).get("rows", {}).get(OURS, {})
        if "wall_x_floor" in r:
            row("1. within 2× of the read floor", c, r["wall_x_floor"], r["wall_x_floor_q"],
                r["wall_x_floor"] <= 2)
    sc = sorted([c for c in caps if caps[c]["kind"] == "scale" and OURS in caps[c]["rows"]],
                key=lambda c: caps[c]["nconns"])
    if len(sc) >= 2:
        ns = [caps[c]["rows"][OURS]["cpu_ns_per_frame"] for c in sc]
        row("2. CPU per segment flat (max / min)", ", ".join(sc), max(ns) / min(ns), None,
            max(ns) / min(ns) <= 1.5)
        lo, hi = caps[sc[-2]], caps[sc[-1]]
        per = ((hi["rows"][OURS]["rss_mib"] - lo["rows"][OURS]["rss_mib"]) * 1048576
               / (hi["nconns"] - lo["nconns"]))
        row("2. bytes per open connection", "%s − %s" % (sc[-2], sc[-1]), per, None, per <= 512, "B")
        if hi["nconns"] >= 1000000:
            mb = hi["rows"][OURS]["rss_mib"] * 1.048576
            row("2. 1M open connections under 600 MB", sc[-1], mb, None, mb < 600, "MB")
    for c in ("ooo-rev", "ooo-ran"):
        r = caps.get(c, {}).get("rows", {})
        if OURS in r and "gopacket (no digest)" in r:
            row("2. 1M tiny out-of-order segments: faster than gopacket", c,
                r["gopacket (no digest)"]["wall_ratio"], r["gopacket (no digest)"]["wall_ratio_q"],
                r["gopacket (no digest)"]["wall_ratio"] > 1)
    r = caps.get("many", {}).get("rows", {}).get("safereasm-pcap --threads 2")
    if r:
        row("3. `--threads 2` ≥ 1.7× one thread", "many", r["speedup"], r["speedup_q"], r["speedup"] >= 1.7)
        p = caps["many"]["rows"].get(PAIR)
        if p and "of_ceiling" in r:
            row("3. what 2 CPUs give: two one-thread processes at once (2 × one / both)", "many",
                p["ceiling"], p["ceiling_q"], "(the bound)")
            row("3. `--threads 2`'s speed-up / that bound", "many", r["of_ceiling"], r["of_ceiling_q"],
                "(how close)")
    for c in caps:
        pl = caps[c]["rows"].get("plugin: tshark -z safereasm,tree", {})
        for base, lim in (("tshark -Y tcp.payload (no plugin)", 1.2), ("tshark -z conv,tcp (no plugin)", 1.3)):
            v = pl.get("vs " + base)
            if v:
                for what in ("wall", "rss"):
                    row("4. plugin within %.1f× of %s (%s)" % (lim, base.split(" (")[0], what), c,
                        v[what], None, v[what] <= lim)
    if not rows:
        return []
    return ["## Targets (issue 13)", "",
            "Each against this run: the paired median, the quartiles of the per-repeat ratios, and"
            " whether the median meets the target.", "",
            "| target | capture | median | quartiles | met |", "|---|---|---:|---:|---|"] + rows + [""]


def charts(s, docs):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        log("bench: matplotlib missing (apt-get install python3-matplotlib): no charts")
        return
    os.makedirs(docs, exist_ok=True)
    caps = [c for c in s["captures"] if s["captures"][c]["kind"] != "scale"]
    progs = []
    for c in caps:
        for p in s["captures"][c]["rows"]:
            if p not in progs and p != PAIR:  # two runs: not one program's bar
                progs.append(p)
    for metric, fname, ylabel in (("wall", "bench-time.png", "wall time, s (median, log scale)"),
                                  ("rss_mib", "bench-memory.png", "peak RSS, MiB (median, log scale)")):
        fig, ax = plt.subplots(figsize=(14, 6.5))
        width = 0.8 / len(progs)
        cmap = plt.get_cmap("tab20")
        for j, p in enumerate(progs):
            xs, ys = [], []
            for i, c in enumerate(caps):
                r = s["captures"][c]["rows"].get(p)
                if r:
                    xs.append(i + (j - len(progs) / 2) * width + width / 2)
                    ys.append(max(r[metric], 1e-3))
            ax.bar(xs, ys, width, label=p, color=cmap(j % 20))
        ax.set_yscale("log")
        ax.set_xticks(range(len(caps)))
        ax.set_xticklabels(["%s\n%s" % (c, human(s["captures"][c]["bytes"])) for c in caps])
        ax.set_ylabel(ylabel)
        ax.set_title("safereasm benchmark (%s mode, load avg median %.1f)" % (
            "quick" if s["quick"] else "full", s["load_median"]))
        ax.legend(fontsize=7, ncol=2, loc="upper left", bbox_to_anchor=(1.0, 1.0))
        fig.tight_layout()
        fig.savefig(os.path.join(docs, fname), dpi=90)
        plt.close(fig)
    sc = sorted([c for c in s["captures"] if s["captures"][c]["kind"] == "scale"],
                key=lambda c: s["captures"][c]["nconns"])
    if sc:
        fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 5))
        labels = []
        for c in sc:
            for p in s["captures"][c]["rows"]:
                if p not in labels:
                    labels.append(p)
        for p in labels:
            xs = [s["captures"][c]["nconns"] for c in sc if p in s["captures"][c]["rows"]]
            ns = [s["captures"][c]["rows"][p]["cpu_ns_per_frame"] for c in sc if p in s["captures"][c]["rows"]]
            rss = [s["captures"][c]["rows"][p]["rss_mib"] for c in sc if p in s["captures"][c]["rows"]]
            ax1.plot(xs, ns, marker="o", label=p)
            ax2.plot(xs, rss, marker="o", label=p)
        for ax in (ax1, ax2):
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.set_xlabel("concurrent connections (same total payload)")
            ax.grid(True, which="both", alpha=0.3)
        ax1.set_ylabel("CPU ns per segment (user+sys / frames)")
        ax2.set_ylabel("peak RSS, MiB")
        ax1.legend(fontsize=8)
        fig.suptitle("Per-segment cost and memory against connection count")
        fig.tight_layout()
        fig.savefig(os.path.join(docs, "bench-scaling.png"), dpi=90)
        plt.close(fig)
    log("bench: charts in %s" % docs)


if __name__ == "__main__":
    try:
        main()
    except BenchError as e:
        log("bench: FAILED: %s" % e)
        sys.exit(1)
