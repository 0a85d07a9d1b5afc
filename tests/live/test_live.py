#!/usr/bin/env python3
"""test_live.py - the plugin in a live capture (tshark -i) on a veth pair.

    client netns --veth-- bridge netns (scripts/impair-bridge.py) --veth-- server netns
    10.78.0.1             loss, reordering, duplication, delay           10.78.0.2:9100

tests/live/livegen.py runs many short transfers both ways (W workers, for
DURATION seconds) and records every transfer's client port and byte counts.
Two tshark capture the server's interface at the same time, as an
unprivileged user whose only privileges are CAP_NET_RAW/CAP_NET_ADMIN
(ambient, inherited by dumpcap - as a Debian user in the wireshark group
has them through dumpcap's file capabilities); a root tshark would ignore
the personal plugin folder (docs/plugin.md, "Live capture"):
  - "plugin": safereasm loaded, printing its fields per frame (-P) while
    writing the capture (-w live.pcapng), and -z safereasm,tree at the end;
  - "baseline": the same without the plugin, for tshark's own memory.
Their VmRSS is sampled every 2 s. Then the saved file is read back by tshark
with the plugin, with the same preferences.

Checks:
  1. nothing lost by the capture (dumpcap reports 0 dropped), and the live
     run printed every frame the file holds;
  2. the plugin's per-frame fields are the same live and read back, frame
     by frame, and so is the -z safereasm,tree output;
  3. every completed transfer is in the plugin's fields with exactly the
     bytes the programs sent: delivered client-to-server = bytes the client
     sent, server-to-client = bytes the client received (a lost frame or
     byte would show here);
  4. the statistics tree: bytes_delivered = the sum of safereasm.delivered
     over the frames = the bytes the programs moved, one connection created
     and closed per transfer, nothing skipped, no errors, no allocation
     failures;
  5. memory, after the warm-up (the first minute; a quarter of the run when
     shorter), as the growth of the plugin tshark's peak RSS minus the
     baseline tshark's over the same time ("extra"). Both curves are printed.
     tshark itself is not flat in a long capture (it keeps about 470 bytes
     per frame); what the plugin adds must be bounded by its preferences:
     the released bytes it keeps are capped by max_retained_kib (16 MiB
     here), so extra <= that cap + RSS_PER_FRAME bytes per frame + RSS_SLACK
     MiB. The per-frame part is the record every frame keeps for
     re-dissection (record, segment, released run and its source frames,
     changed counters): 298 bytes per frame measured in the 5-minute run,
     350 allowed; tshark's own per-frame state is ~470 bytes.

The plugin has no wall-clock flush (dissection must not depend on the wall
clock; docs/plugin.md): in a live capture capture time follows the wall
clock, so the capture-time sweep (flush_interval 2 s, connection_timeout
10 s here) does that job while traffic flows.

usage: test_live.py [DURATION_S]   (default 60; the ctest entry live/long: 300)
Needs root (network namespaces), iproute2, ethtool, tshark/dumpcap, setpriv; exits 77
(skipped) with a message otherwise. Python 3 standard library only.
Environment: SR_PLUGIN (the built safereasm.so), SR_SOURCE_DIR,
SR_LIVE_WORKERS (default 24), SR_LIVE_RSS_SLACK (MiB, default 24),
SR_LIVE_KEEP=DIR (keep the capture and logs there), SR_LIVE_CONN_TIMEOUT
(seconds, default 10; 1 makes idle-timeout splits happen, to see check 3
accept them only where the capture shows the gap).
"""

import glob
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.environ.get("SR_SOURCE_DIR", os.path.abspath(os.path.join(HERE, "..", "..")))
ABI = os.environ.get("SR_PLUGIN_ABI", "4.0")
PLUGIN = os.environ.get("SR_PLUGIN", os.path.join(SOURCE, "build", "plugins", ABI, "epan",
                                                  "safereasm.so"))
BRIDGE = os.path.join(SOURCE, "scripts", "impair-bridge.py")
GEN = os.path.join(HERE, "livegen.py")
UID = 65534
PORT = 9100
WORKERS = int(os.environ.get("SR_LIVE_WORKERS", "24"))
RSS_SLACK = float(os.environ.get("SR_LIVE_RSS_SLACK", "24"))
RSS_PER_FRAME = 350
CONN_TIMEOUT = int(os.environ.get("SR_LIVE_CONN_TIMEOUT", "10"))
PREFS = {"flush_interval": min(2, CONN_TIMEOUT), "connection_timeout": CONN_TIMEOUT,
         "max_retained_kib": 16384}
RETAINED_CAP = 16384 * 1024
FIELDS = ["frame.number", "tcp.stream", "tcp.srcport", "tcp.dstport", "safereasm.delivered",
          "safereasm.skipped", "safereasm.conn.delivered_c2s", "safereasm.conn.delivered_s2c",
          "safereasm.conn.skipped_c2s", "safereasm.conn.skipped_s2c", "safereasm.status",
          "safereasm.error", "frame.time_epoch", "safereasm.conn_id"]
STAT = re.compile(r"\s*(.*?) \((\w+)\)\s+(-?\d+)\s")

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from checks import check, failures  # noqa: E402

procs = []
netns = []


def skip(why):
    print("test_live: skipped: " + why, flush=True)
    sys.exit(77)


def sh(*args, **kw):
    return subprocess.run(list(args), check=True, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, **kw)


def cleanup():
    for p in procs:
        if p.poll() is None:
            p.kill()
    for p in procs:
        try:
            p.wait(5)
        except subprocess.TimeoutExpired:
            pass
    for ns in netns:
        subprocess.run(["ip", "netns", "del", ns], stderr=subprocess.DEVNULL)


def preflight():
    if os.geteuid() != 0:
        skip("needs root for network namespaces and veth (CI runs as root)")
    # ethtool: offloads off, or the user-space bridge sees 64 KiB frames it
    # cannot send on and no transfer completes.
    for t in ("ip", "ethtool", "tshark", "dumpcap", "setpriv"):
        if not shutil.which(t):
            skip("%s not found" % t)
    if not os.access(PLUGIN, os.R_OK):
        skip("plugin %s not built" % PLUGIN)
    probe = "srlp%d" % os.getpid()
    r = subprocess.run(["ip", "netns", "add", probe], stderr=subprocess.PIPE)
    if r.returncode != 0:
        skip("network namespaces unavailable: %s" % r.stderr.decode().strip())
    subprocess.run(["ip", "netns", "del", probe])


def setup_net(p):
    nc, nb, ns = p + "c", p + "b", p + "s"
    for n in (nc, nb, ns):
        sh("ip", "netns", "add", n)
        netns.append(n)
        sh("ip", "-n", n, "link", "set", "lo", "up")
    sh("ip", "link", "add", p + "c0", "type", "veth", "peer", "name", p + "bc")
    sh("ip", "link", "add", p + "s0", "type", "veth", "peer", "name", p + "bs")
    for dev, n in ((p + "c0", nc), (p + "bc", nb), (p + "s0", ns), (p + "bs", nb)):
        sh("ip", "link", "set", dev, "netns", n)
        # Offloads off: MTU-sized frames with real checksums through the
        # user-space bridge (as scripts/make-real-captures.sh).
        sh("ip", "netns", "exec", n, "ethtool", "-K", dev, "tx", "off", "rx", "off",
           "tso", "off", "gso", "off", "gro", "off")
        sh("ip", "-n", n, "link", "set", dev, "up")
    sh("ip", "-n", nc, "addr", "add", "10.78.0.1/24", "dev", p + "c0")
    sh("ip", "-n", ns, "addr", "add", "10.78.0.2/24", "dev", p + "s0")
    return nc, nb, ns


def start(cmd, out, err, ns=None, env=None):
    if ns:
        cmd = ["ip", "netns", "exec", ns] + cmd
    p = subprocess.Popen(cmd, stdout=out, stderr=err, env=env)
    procs.append(p)
    return p


def wait_for(path, pattern, seconds, proc=None):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        try:
            if pattern in open(path, errors="replace").read():
                return True
        except OSError:
            pass
        if proc is not None and proc.poll() is not None:
            break
        time.sleep(0.1)
    return False


def user_home(work, name, plugin):
    home = os.path.join(work, name)
    plugdir = os.path.join(home, ".local", "lib", "wireshark", "plugins", ABI, "epan")
    os.makedirs(plugdir)
    os.makedirs(os.path.join(home, ".config", "wireshark"))
    if plugin:
        shutil.copy(PLUGIN, plugdir)
    shadow_global(home)
    for d, dirs, files in os.walk(home):
        for x in dirs + files:
            os.chown(os.path.join(d, x), UID, UID)
    os.chown(home, UID, UID)
    return home


def shadow_global(home):
    """A safereasm.so in the global plugin folder would be loaded instead of
    the one under test (as tests/lib/tshark-as-user.sh explains): then the
    user's programs get a private global folder, the installed plugins
    linked without safereasm.so (WIRESHARK_PLUGIN_DIR, set by as_user); so for the
    baseline too, which must run without it."""
    for g in glob.glob("/usr/lib/*/wireshark/plugins") + ["/usr/lib/wireshark/plugins"]:
        if not os.path.exists(os.path.join(g, ABI, "epan", "safereasm.so")):
            continue
        for kind in os.listdir(os.path.join(g, ABI)):
            d = os.path.join(home, "global-plugins", ABI, kind)
            os.makedirs(d)
            for f in os.listdir(os.path.join(g, ABI, kind)):
                if f != "safereasm.so":
                    os.symlink(os.path.join(g, ABI, kind, f), os.path.join(d, f))
        return


def check_loaded(home, base_home):
    """The plugin under test is the one tshark loads, and only with it: a
    safereasm.so installed system-wide would be loaded first and shadow it
    (the test would then check the installed build, not this one)."""
    def listed(h):
        out = subprocess.run(as_user(h) + ["tshark", "-G", "plugins"], stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL, timeout=120).stdout.decode()
        return [l.split("\t")[-1].strip() for l in out.splitlines()
                if l.startswith("safereasm.so")]
    got, base = listed(home), listed(base_home)
    want = os.path.join(home, ".local", "lib", "wireshark", "plugins", ABI, "epan",
                        "safereasm.so")
    if got != [want] or base:
        print("FAIL: tshark loads safereasm from %s (the build under test is copied to %s; "
              "without it: %s)" % (got, want, base))
        cleanup()
        sys.exit(1)


def as_user(home, caps=False):
    """The command prefix that runs a Wireshark program as the test user."""
    c = ["setpriv", "--reuid=%d" % UID, "--regid=%d" % UID, "--clear-groups"]
    if caps:
        c += ["--inh-caps=+net_raw,+net_admin", "--ambient-caps=+net_raw,+net_admin"]
    c += ["env", "-u", "WIRESHARK_PLUGIN_DIR", "-u", "WIRESHARK_CONFIG_DIR",
          "HOME=" + home, "XDG_CONFIG_HOME=" + os.path.join(home, ".config")]
    shadow = os.path.join(home, "global-plugins")
    return c + (["WIRESHARK_PLUGIN_DIR=" + shadow] if os.path.isdir(shadow) else [])


def pref_args():
    out = []
    for k, v in sorted(PREFS.items()):
        out += ["-o", "safereasm.%s:%s" % (k, v)]
    return out


def field_args():
    out = ["-T", "fields", "-E", "occurrence=f"]
    for f in FIELDS:
        out += ["-e", f]
    return out


def rss_kib(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def split_output(text):
    """(field rows, stats tree text)"""
    rows, tree = [], []
    for line in text.splitlines():
        if re.match(r"^\d+\t", line):
            rows.append(line)
        else:
            tree.append(line)
    return rows, "\n".join(tree)


def stats(tree_text):
    out = {}
    for line in tree_text.splitlines():
        m = STAT.match(line)
        if m:
            out[m.group(2)] = int(m.group(3))
    return out


def num(s):
    return int(s, 0) if s else 0


def main():
    duration = float(sys.argv[1]) if len(sys.argv) > 1 else 60.0
    preflight()
    work = tempfile.mkdtemp(prefix="sr-live.")
    os.chmod(work, 0o777)
    keep = os.environ.get("SR_LIVE_KEEP")
    p = "srl%d" % (os.getpid() % 100000)
    try:
        run(work, p, duration)
    finally:
        cleanup()
        if keep:
            os.makedirs(keep, exist_ok=True)
            for f in os.listdir(work):
                src = os.path.join(work, f)
                if os.path.isfile(src):
                    shutil.copy(src, keep)
        shutil.rmtree(work, True)
    if failures:
        print("test_live: %d failure(s)" % len(failures))
        return 1
    print("test_live: ok")
    return 0


def run(work, p, duration):
    nc, nb, ns = setup_net(p)
    f = lambda n: os.path.join(work, n)  # noqa: E731
    bridge = start([sys.executable, BRIDGE, p + "bc", p + "bs", "--seed", "7", "--loss", "0.005",
                    "--reorder", "0.05", "--dup", "0.005", "--delay", "1", "--jitter", "1",
                    "--reorder-delay", "4"], open(f("bridge.json"), "w"),
                   open(f("bridge.err"), "w"), ns=nb)
    server = start([sys.executable, GEN, "server", str(PORT)], subprocess.DEVNULL,
                   open(f("server.err"), "w"), ns=ns)
    if not (check(wait_for(f("bridge.err"), "ready", 10, bridge), "bridge did not start")
            and check(wait_for(f("server.err"), "ready", 10, server), "server did not start")):
        return

    live_home = user_home(work, "home-plugin", True)
    base_home = user_home(work, "home-base", False)
    check_loaded(live_home, base_home)
    common = ["-n", "-l", "-i", p + "s0", "-f", "tcp", "-P"]
    live = start(as_user(live_home, True) + ["tshark"] + common +
                 ["-w", f("live.pcapng")] + pref_args() + field_args() +
                 ["-z", "safereasm,tree"], open(f("live.out"), "w"), open(f("live.err"), "w"),
                 ns=ns)
    base = start(as_user(base_home, True) + ["tshark"] + common +
                 ["-w", f("base.pcapng"), "-T", "fields", "-e", "frame.number", "-e",
                  "tcp.stream", "-e", "tcp.len"], open(f("base.out"), "w"),
                 open(f("base.err"), "w"), ns=ns)
    for name, proc in (("live", live), ("base", base)):
        if not check(wait_for(f(name + ".err"), "Capturing on", 30, proc),
                     "%s tshark did not start capturing:\n%s"
                     % (name, open(f(name + ".err")).read()[-2000:])):
            return

    # RSS sampler: (seconds since the traffic started, live KiB, base KiB).
    samples = []
    stop = threading.Event()
    t0 = time.monotonic()
    t0_wall = time.time()

    def sampler():
        while not stop.is_set():
            samples.append((time.monotonic() - t0, rss_kib(live.pid), rss_kib(base.pid)))
            stop.wait(2.0)
    th = threading.Thread(target=sampler)
    th.start()

    gen = start([sys.executable, GEN, "client", "10.78.0.2", str(PORT), "--duration",
                 str(duration), "--workers", str(WORKERS), "--seed", "3", "--out",
                 f("transfers.jsonl")], subprocess.DEVNULL, open(f("client.err"), "w"), ns=nc)
    gen.wait(timeout=duration + 180)
    time.sleep(3)  # the last FINs and ACKs
    stop.set()
    th.join()
    for proc in (live, base):
        proc.send_signal(signal.SIGINT)
    for proc in (live, base):
        try:
            proc.wait(timeout=300)
        except subprocess.TimeoutExpired:
            check(False, "tshark did not stop within 300 s of SIGINT")
            return
    bridge.send_signal(signal.SIGTERM)
    bridge.wait(timeout=10)
    check(live.returncode == 0, "live tshark exit %d:\n%s" % (live.returncode,
                                                             open(f("live.err")).read()[-2000:]))
    check(gen.returncode == 0, "generator exit %d:\n%s" % (gen.returncode,
                                                           open(f("client.err")).read()[-2000:]))
    report(work, f, duration, samples, t0_wall)


def report(work, f, duration, samples, t0_wall):
    live_err = open(f("live.err"), errors="replace").read()
    bridge_stats = open(f("bridge.json")).read().strip()
    transfers = [json.loads(l) for l in open(f("transfers.jsonl")) if l.strip()]
    done = [t for t in transfers if t.get("ok")]
    print("bridge: %s" % bridge_stats)
    print("transfers: %d, %d complete, %d bytes client to server, %d server to client"
          % (len(transfers), len(done), sum(t["c2s"] for t in done),
             sum(t["s2c"] for t in done)))
    check(len(done) >= 0.95 * len(transfers) and len(done) > 0,
          "only %d of %d transfers completed" % (len(done), len(transfers)))

    # 1. the capture lost nothing, and the live run printed every frame.
    check("safereasm." not in live_err, "tshark refused a preference: %s" % live_err[-2000:])
    dropped = [int(x) for x in re.findall(r"(\d+) packets? dropped", live_err)]
    check(sum(dropped) == 0, "the capture dropped packets: %s" % dropped)
    live_rows, live_tree = split_output(open(f("live.out"), errors="replace").read())
    os.chmod(f("live.pcapng"), 0o644)
    home = user_home(work, "home-read", True)
    rb = subprocess.run(as_user(home) + ["tshark", "-n", "-r", f("live.pcapng")] + pref_args()
                        + field_args() + ["-z", "safereasm,tree"], stdout=subprocess.PIPE,
                        stderr=subprocess.PIPE, timeout=1800)
    check(rb.returncode == 0, "read-back tshark exit %d: %s" % (rb.returncode, rb.stderr[-2000:]))
    rb_rows, rb_tree = split_output(rb.stdout.decode("utf-8", "replace"))
    print("frames: %d printed live, %d in the saved file" % (len(live_rows), len(rb_rows)))
    check(len(rb_rows) > 0 and [r.split("\t")[0] for r in live_rows]
          == [str(i) for i in range(1, len(rb_rows) + 1)],
          "live printed %d frames, the file has %d" % (len(live_rows), len(rb_rows)))

    # 2. the same fields live and read back, frame by frame; the same tree.
    diff = [(a, b) for a, b in zip(live_rows, rb_rows) if a != b]
    check(not diff, "%d frames differ live vs read back, first: %s" % (len(diff), diff[:3]))
    ls, rs = stats(live_tree), stats(rb_tree)
    check(ls and ls == rs, "-z safereasm,tree differs live vs read back:\n%s\n---\n%s"
          % (live_tree[-3000:], rb_tree[-3000:]))

    # 3. every completed transfer, with exactly the bytes sent. A transfer is
    # one tcp.stream; safereasm may hold it as more than one connection only
    # where the capture itself shows the stream idle for connection_timeout
    # (the connection timed out and the rest of the stream opened a new one,
    # counted in timeouts). The gaps are read off frame.time_epoch, not off
    # anything the plugin says.
    streams = {}
    delivered_sum = 0
    for r in live_rows:
        c = (r.split("\t") + [""] * len(FIELDS))[:len(FIELDS)]
        delivered_sum += num(c[4])
        if not c[1]:
            continue
        st = streams.setdefault(int(c[1]), {"port": None, "conns": {}, "last": None, "gap": 0.0})
        sp, dp = num(c[2]), num(c[3])
        if st["port"] is None:
            st["port"] = dp if sp == PORT else sp
        if c[12]:
            t = float(c[12])
            if st["last"] is not None:
                st["gap"] = max(st["gap"], t - st["last"])
            st["last"] = t if st["last"] is None else max(st["last"], t)
        if c[6] and c[13]:
            cn = st["conns"].setdefault(int(c[13]), {"c2s": 0, "s2c": 0, "skipped": 0})
            cn["c2s"] = max(cn["c2s"], num(c[6]))
            cn["s2c"] = max(cn["s2c"], num(c[7]))
            cn["skipped"] = max(cn["skipped"], num(c[8]) + num(c[9]))
    seen = {}
    for st in streams.values():
        seen.setdefault(st["port"], []).append(st)
    timeout = PREFS["connection_timeout"]
    missing = wrong = split_no_gap = splits = 0
    for t in done:
        cands = seen.get(t["port"], [])
        if not cands:
            missing += 1
            continue
        match = None
        for st in cands:
            cs = st["conns"].values()
            if (sum(x["c2s"] for x in cs) == t["c2s"] and sum(x["s2c"] for x in cs) == t["s2c"]
                    and all(x["skipped"] == 0 for x in cs)):
                match = st
        if match is None:
            wrong += 1
            if wrong <= 5:
                print("transfer %s: plugin saw %s" % (t, cands))
            continue
        if len(match["conns"]) > 1:
            splits += len(match["conns"]) - 1
            print("transfer %s: %d safereasm connections %s, longest idle gap in the capture "
                  "%.2f s" % (t, len(match["conns"]), match["conns"], match["gap"]))
            if match["gap"] < timeout:
                split_no_gap += 1
    check(missing == 0 and wrong == 0, "%d completed transfers missing from the plugin's fields, "
          "%d with other byte counts" % (missing, wrong))
    check(split_no_gap == 0, "%d transfers held as more than one connection without an idle "
          "gap of %d s in the capture" % (split_no_gap, timeout))
    print("streams: longest idle gap in one stream %.2f s; %d transfers split by an idle timeout"
          % (max([st["gap"] for st in streams.values()] or [0]), splits))

    # 4. the tree adds up.
    check(ls.get("bytes_delivered") == delivered_sum,
          "tree bytes_delivered %s != sum of safereasm.delivered %d"
          % (ls.get("bytes_delivered"), delivered_sum))
    if len(done) == len(transfers):
        # Every connection of the run is one transfer, all complete.
        sent = sum(t["c2s"] + t["s2c"] for t in done)
        # One connection per transfer, plus one per idle-timeout split above.
        check(ls.get("total_created") == len(done) + splits
              and ls.get("closed") == len(done) + splits
              and ls.get("timeouts", 0) >= splits,
              "tree: %s connections created, %s closed, %s timeouts, for %d transfers "
              "and %d splits" % (ls.get("total_created"), ls.get("closed"),
                                 ls.get("timeouts"), len(done), splits))
        check(ls.get("bytes_delivered") == sent and ls.get("bytes_skipped") == 0,
              "tree: %s bytes delivered, %s skipped; the programs moved %d"
              % (ls.get("bytes_delivered"), ls.get("bytes_skipped"), sent))
    check(ls.get("errors", 0) == 0 and ls.get("no_memory", 0) == 0,
          "tree errors %s, no_memory %s" % (ls.get("errors"), ls.get("no_memory")))
    print("tree: segments %s, bytes_delivered %s, bytes_skipped %s, total_created %s, "
          "closed %s, timeouts %s, pages_peak %s" % tuple(
              ls.get(k) for k in ("packets_processed", "bytes_delivered", "bytes_skipped",
                                  "total_created", "closed", "timeouts", "pages_peak")))

    # 5. memory.
    good = [s for s in samples if s[1] and s[2]]
    warm = 60.0 if duration >= 120 else duration / 4
    win_bytes = win_frames = 0
    for r in live_rows:
        c = (r.split("\t") + [""] * len(FIELDS))[:len(FIELDS)]
        if c[12] and float(c[12]) >= t0_wall + warm:
            win_bytes += num(c[4])
            win_frames += 1
    print("RSS MiB (s: plugin / baseline):")
    step = max(1, len(good) // 15)
    for s in good[::step] + good[-1:]:
        print("  %5.0f: %7.1f / %7.1f" % (s[0], s[1] / 1024, s[2] / 1024))
    after = [s for s in good if s[0] >= warm]
    if check(len(after) >= 3, "too few RSS samples after %.0f s" % warm):
        w_live, w_base = after[0][1], after[0][2]
        g_live = (max(s[1] for s in after) - w_live) / 1024
        g_base = (max(s[2] for s in after) - w_base) / 1024
        print("RSS growth after %.0f s: plugin %+.1f MiB, baseline %+.1f MiB "
              "(peak plugin %.1f, baseline %.1f MiB)" % (warm, g_live, g_base,
                                                          max(s[1] for s in good) / 1024,
                                                          max(s[2] for s in good) / 1024))
        extra = g_live - g_base
        print("after the warm-up: %d frames, %.1f MiB released; extra growth %.1f MiB = %.0f "
              "bytes per frame, %.0f per frame beyond the released bytes"
              % (win_frames, win_bytes / 2**20, extra, extra * 2**20 / max(win_frames, 1),
                 (extra * 2**20 - win_bytes) / max(win_frames, 1)))
        allowed = (min(win_bytes, RETAINED_CAP) + RSS_PER_FRAME * win_frames) / 2**20 + RSS_SLACK
        check(extra <= allowed,
              "the plugin tshark grew %.1f MiB more than the baseline after the warm-up, "
              "beyond its bounded retention (%.1f MiB allowed)" % (extra, allowed))


if __name__ == "__main__":
    sys.exit(main())
