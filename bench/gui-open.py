#!/usr/bin/env python3
"""gui-open.py - the time wireshark-qt takes to open a capture, without and
with the safereasm plugin (issue 13, target 4: within 1.3x).

Usage: bench/gui-open.py [--rounds N] [--plugin SO] [--idle S] CAPTURE

Starts Xvfb (1600x1000) and, in interleaved rounds, `wireshark -r CAPTURE`
through tests/lib/tshark-as-user.sh (as root, Wireshark ignores personal
plugin folders) with SR_PLUGIN=none and with the plugin. A run is over when
the process's CPU time has not grown for --idle seconds (the file is read
and the first screen drawn); it reports the wall time until the last
growth, the CPU time and the peak RSS (VmHWM), then the medians and the
median of the per-round ratios. Needs wireshark-qt and xvfb.
"""

import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WRAP = os.path.join(ROOT, "tests", "lib", "tshark-as-user.sh")
TICK = os.sysconf("SC_CLK_TCK")


def cpu_and_hwm(pid):
    """(CPU seconds, VmHWM KiB) of pid, or None once it is gone."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        with open("/proc/%d/status" % pid) as f:
            hwm = next((int(line.split()[1]) for line in f if line.startswith("VmHWM:")), 0)
    except (OSError, StopIteration, ValueError):
        return None
    return (int(fields[11]) + int(fields[12])) / TICK, hwm


def child_of(pid, deadline):
    """The wireshark process the wrapper runs (setpriv and env exec it; the
    wrapper's other children, mktemp and the like, come and go first)."""
    while time.monotonic() < deadline:
        try:
            with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
                kids = [int(k) for k in f.read().split()]
        except OSError:
            return None
        for k in kids:
            try:
                with open("/proc/%d/comm" % k) as f:
                    if f.read().strip() == "wireshark":
                        return k
            except OSError:
                pass
        time.sleep(0.02)
    return None


def one_run(cap, plugin, display, idle, timeout):
    env = dict(os.environ, SR_PLUGIN=plugin, SR_PROGRAM="wireshark", DISPLAY=display)
    t0 = time.monotonic()
    p = subprocess.Popen([WRAP, "-r", cap], env=env, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        pid = child_of(p.pid, t0 + 10)
        if pid is None:
            raise RuntimeError("wireshark did not start")
        last_cpu, last_change = -1.0, t0
        while True:
            now = time.monotonic()
            if now - t0 > timeout:
                raise RuntimeError("no idle moment within %d s" % timeout)
            s = cpu_and_hwm(pid)
            if s is None:
                raise RuntimeError("wireshark exited (exit status %s)" % p.poll())
            cpu, hwm = s
            if cpu != last_cpu:
                last_cpu, last_change = cpu, now
            elif now - last_change >= idle:
                return last_change - t0, last_cpu, hwm / 1024.0
            time.sleep(0.1)
    finally:
        try:
            os.killpg(p.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("capture")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--plugin", default=os.path.join(ROOT, "build", "plugins", "4.0", "epan",
                                                     "safereasm.so"))
    ap.add_argument("--idle", type=float, default=3.0, help="seconds without CPU growth")
    ap.add_argument("--timeout", type=int, default=600)
    ap.add_argument("--display", default=":93")
    a = ap.parse_args()
    if not os.access(a.plugin, os.R_OK):
        sys.exit("gui-open.py: no plugin at %s (build first, or --plugin)" % a.plugin)
    cap = os.path.abspath(a.capture)
    # The unprivileged user must read it: a copy in a folder anyone can read.
    work = tempfile.mkdtemp(prefix="sr-gui-open.")
    os.chmod(work, 0o755)
    copy = shutil.copy(cap, work)
    os.chmod(copy, 0o644)
    xvfb = subprocess.Popen(["Xvfb", a.display, "-screen", "0", "1600x1000x24", "-nolisten", "tcp"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1)
    runs = {"none": [], "plugin": []}
    try:
        for r in range(a.rounds):
            order = [("none", "none"), ("plugin", a.plugin)]
            if r % 2:
                order.reverse()
            for label, so in order:
                w, c, m = one_run(copy, so, a.display, a.idle, a.timeout)
                runs[label].append((w, c, m))
                print("round %d %-6s wall %6.2f s  cpu %6.2f s  peak RSS %7.1f MiB  load %.2f"
                      % (r, label, w, c, m, os.getloadavg()[0]), flush=True)
    finally:
        xvfb.terminate()
        xvfb.wait()
        shutil.rmtree(work, ignore_errors=True)
    print("\n| | wall to idle | CPU | peak RSS |\n|---|---|---|---|")
    for label in ("none", "plugin"):
        rs = runs[label]
        print("| %s | %.2f s | %.2f s | %.1f MiB |" % (
            "no plugin" if label == "none" else "plugin", statistics.median(x[0] for x in rs),
            statistics.median(x[1] for x in rs), statistics.median(x[2] for x in rs)))
    ratio = [statistics.median(p[i] / n[i] for p, n in zip(runs["plugin"], runs["none"]))
             for i in range(3)]
    print("| plugin / none (median of per-round ratios) | %.2fx | %.2fx | %.2fx |" % tuple(ratio))
    return 0


if __name__ == "__main__":
    sys.exit(main())
