#!/usr/bin/env python3
"""test_valgrind.py - tshark with the plugin under valgrind memcheck: no
definite leak and no memory error attributable to the plugin.

A loss record or error is the plugin's when a frame of its stack lies in
safereasm.so (a source file of plugin/, core/src/ or tools/sr-fault.c, or
the .so itself). No suppression file: Wireshark's and GLib's own leaks are
counted and printed, not failed. --keep-debuginfo=yes, because tshark
unloads its plugins before valgrind's leak check, which would otherwise
leave the plugin's frames as "???".

  quick (default, label plugin): the real capture
      real/harsh-s1-server.pcapng in two passes with every overlap
      policy (detect_divergence); the same with SAFEREASM_FAULT_NTH=20 (a
      failure while reassembling) and =1 (the core cannot be set up).
  all (label plugin;valgrind-long): every capture the plugin tests read
      (captures/crafted, captures/fidelity) and captures/real, two passes
      with detect_divergence, plus the fault runs on each real capture.
"""

import glob
import os
import re
import shutil
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import srtest  # noqa: E402

OWN = set()
for pat in ("plugin/*.c", "plugin/*.h", "core/src/*.c", "core/src/*.h", "tools/sr-fault.c"):
    OWN.update(os.path.basename(p) for p in glob.glob(os.path.join(srtest.SOURCE_DIR, pat)))
FRAME = re.compile(r"==\d+==\s+(?:at|by) 0x[0-9A-Fa-f]+: (.*)")
LOSS = re.compile(r"are definitely lost in loss record")
ERRKIND = re.compile(r"Invalid (read|write|free)|uninitialised|Mismatched free|"
                     r"Source and destination overlap|Syscall param")


def ours(frame):
    if "safereasm.so" in frame:
        return True
    m = re.search(r"\(([\w.+-]+\.[ch]):\d+\)", frame)
    return bool(m and m.group(1) in OWN)


def analyse(log):
    """(plugin definite leaks, plugin errors, all definite bytes, text of ours)"""
    blocks = re.split(r"\n==\d+== \n", log)
    leaks = errors = 0
    shown = []
    for b in blocks:
        frames = FRAME.findall(b)
        if not any(ours(f) for f in frames):
            continue
        if LOSS.search(b):
            leaks += 1
            shown.append(b)
        elif ERRKIND.search(b):
            errors += 1
            shown.append(b)
    m = re.search(r"definitely lost: ([\d,]+) bytes in ([\d,]+) blocks", log)
    total = m.group(0) if m else "definitely lost: 0"
    return leaks, errors, total, shown


def vg_run(name, cap, args, nth=None):
    logdir = os.path.join(srtest.scratch(), "vg")
    os.makedirs(logdir, exist_ok=True)
    os.chmod(logdir, 0o777)
    log = os.path.join(logdir, "%s.log" % re.sub(r"\W", "_", name))
    if os.path.exists(log):
        os.unlink(log)
    vg = ["--leak-check=full", "--show-leak-kinds=definite", "--keep-debuginfo=yes",
          "--num-callers=40", "--log-file=" + log, shutil.which("tshark") or "/usr/bin/tshark"]
    if nth is not None:
        os.environ["SAFEREASM_FAULT_NTH"] = nth
    try:
        p = srtest.tshark(vg + ["-n", "-r", cap] + args, check_rc=False, program="valgrind",
                          timeout=1800)
    finally:
        os.environ.pop("SAFEREASM_FAULT_NTH", None)
    srtest.check(p.returncode == 0, "%s: exit %d\n%s" % (name, p.returncode, p.stderr[-1500:]))
    text = open(log, errors="replace").read() if os.path.exists(log) else ""
    if not srtest.check("HEAP SUMMARY" in text, "%s: no valgrind summary" % name):
        return
    leaks, errors, total, shown = analyse(text)
    print("%s: plugin definite leaks %d, plugin errors %d (whole process: %s)"
          % (name, leaks, errors, total), flush=True)
    srtest.check(leaks == 0 and errors == 0,
                 "%s: %d definite leak(s), %d error(s) in the plugin:\n%s"
                 % (name, leaks, errors, "\n\n".join(shown)[:6000]))


def main():
    mode = sys.argv[1] if len(sys.argv) > 1 else "quick"
    if not shutil.which("valgrind"):
        print("test_valgrind: valgrind not installed: skipped")
        sys.exit(77)
    div = ["-2", "-V", "-o", "safereasm.detect_divergence:TRUE"]
    real = sorted(glob.glob(os.path.join(srtest.CAPTURES, "real", "*.pcap*")))
    if mode == "quick":
        harsh = srtest.stage(os.path.join(srtest.CAPTURES, "real", "harsh-s1-server.pcapng"))
        vg_run("harsh-divergence", harsh, div)
        vg_run("harsh-fault-20", harsh, ["-V"], nth="20")
        vg_run("harsh-fault-1", harsh, [], nth="1")
    else:
        caps = [os.path.join(srtest.CAPTURES, c) for c in srtest.all_captures()] + real
        for c in caps:
            vg_run(os.path.relpath(c, srtest.CAPTURES), srtest.stage(c, re.sub(
                r"[/]", "_", os.path.relpath(c, srtest.CAPTURES))), div)
        for c in real:
            s = srtest.stage(c)
            for nth in ("10", "30", "60", "1+"):
                vg_run("%s-fault-%s" % (os.path.basename(c), nth), s, ["-V"], nth=nth)
    srtest.finish("test_valgrind " + mode)


if __name__ == "__main__":
    main()
