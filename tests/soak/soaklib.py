"""soaklib.py - shared helpers of the soak tests (tests/soak/), Python 3
standard library only: the hostile captures (generated once per build tree
and scale), the mutated variants of every capture (editcap, seeded), runs
of safereasm-pcap and of tshark with the plugin under a hang limit, and
where a failing input is kept for replay.

Environment (set by tests/soak/CMakeLists.txt):
  SR_SOURCE_DIR   the source tree
  SR_SOAK_DIR     a folder of this build tree for generated captures and
                  kept failures
  SR_PCAP_TOOL    safereasm-pcap (the tool tests)
  SR_PLUGIN       safereasm.so, SR_BUILD_DIR (the plugin tests, via
                  tests/plugin/srtest.py)
  EDITCAP         editcap
  SR_SOAK_SEED    seed of the mutations (default 1)
"""

import fcntl
import hashlib
import importlib.util
import os
import random
import re
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from capturelist import list_captures  # noqa: E402

SRC = os.environ.get("SR_SOURCE_DIR") or os.path.normpath(
    os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
CAPTURES = os.path.join(SRC, "captures")
GENERATOR = os.path.join(CAPTURES, "hostile", "make-hostile.py")
SOAK_DIR = os.environ.get("SR_SOAK_DIR") or os.path.join(SRC, "build-soak", "soak")
TOOL = os.environ.get("SR_PCAP_TOOL", "")
EDITCAP = os.environ.get("EDITCAP") or "editcap"
SEED = int(os.environ.get("SR_SOAK_SEED", "1"))


# What a sanitizer or a crash leaves on stderr.
CRASH_WORDS = ("AddressSanitizer", "LeakSanitizer", "UndefinedBehaviorSanitizer",
               "runtime error:", "Segmentation", "Aborted", "core dumped")
# What tshark prints when our plugin (or GLib on its behalf) misbehaves.
# Wireshark's own dissectors report bugs on mangled files too; only ours count.
PLUGIN_BAD = ("Dissector bug, protocol SafeReasm", "safereasm", "SafeReasm", "CRITICAL **",
              "ERROR **") + CRASH_WORDS

from checks import check, failures as _failures  # noqa: E402,F401
# Violations tolerated as the known open issue (see check_tool), by name.




def finish(name, summary):
    if _failures:
        print("%s: %d failure(s); %s" % (name, len(_failures), summary))
        return 1
    print("%s: ok; %s" % (name, summary))
    return 0


# ------------------------------------------------------------ captures

def _generator_module():
    spec = importlib.util.spec_from_file_location("make_hostile", GENERATOR)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def hostile(scale):
    """[(name, path)] of the hostile captures at a scale: the committed files
    for "small", else generated into SOAK_DIR/hostile-<scale>/ (again only
    when the generator changed; a lock keeps two tests from writing at once)."""
    mod = _generator_module()
    if scale == "small":
        folder = os.path.dirname(GENERATOR)
        return [(n, os.path.join(folder, n + ".pcap")) for n, _ in mod.CAPTURES]
    folder = os.path.join(SOAK_DIR, "hostile-" + scale)
    os.makedirs(folder, exist_ok=True)
    with open(GENERATOR, "rb") as f:
        stamp = hashlib.sha256(f.read()).hexdigest()
    with open(os.path.join(SOAK_DIR, "hostile.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        stamp_file = os.path.join(folder, "stamp")
        have = open(stamp_file).read() if os.path.exists(stamp_file) else ""
        if have != stamp:
            for name, path, frames in mod.generate(folder, scale):
                print("generated %s: %d frames, %d bytes" % (name, frames,
                                                             os.path.getsize(path)), flush=True)
            with open(stamp_file, "w") as f:
                f.write(stamp)
    os.chmod(SOAK_DIR, 0o755)
    os.chmod(folder, 0o755)
    out = []
    for n, _ in mod.CAPTURES:
        path = os.path.join(folder, n + ".pcap")
        os.chmod(path, 0o644)
        out.append((n, path))
    return out


def all_captures():
    """Every capture under captures/, recursively, as absolute paths, sorted."""
    return list_captures(CAPTURES)


def rel(path):
    return os.path.relpath(path, CAPTURES)


# ------------------------------------------------------------ mutations

def variants(path, count, seed=None):
    """count editcap argument lists for one capture, chosen by a generator
    seeded with the run's seed and the capture's name (so a variant can be
    replayed from its name alone): random byte errors (-E) at probabilities
    from 0.0005 to 0.1, a snaplen (-s) from 14 to 200, or both."""
    seed = SEED if seed is None else seed
    rnd = random.Random("%d/%s" % (seed, rel(path)))
    out = []
    for i in range(count):
        kind = i % 3
        args = []
        if kind in (0, 2):
            p = rnd.choice((0.0005, 0.002, 0.01, 0.03, 0.1))
            args += ["-E", repr(p), "--seed", str(rnd.randrange(1, 2**31))]
        if kind in (1, 2):
            args += ["-s", str(rnd.randrange(14, 201))]
        out.append(args)
    return out


def tag(args):
    return "".join(a.strip("-") if a.startswith("-") else a + "_" for a in args).rstrip("_")


def mutate(src, args, dst):
    """editcap ARGS src dst (pcapng out); True on success."""
    p = subprocess.run([EDITCAP, "-F", "pcapng"] + args + [src, dst], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, universal_newlines=True)
    if p.returncode != 0:
        check(False, "editcap %s %s: %s" % (" ".join(args), src, p.stderr.strip()))
        return False
    os.chmod(dst, 0o644)
    return True


def keep(path, what, how):
    """Copy a failing input to SOAK_DIR/failures/ with a note; returns the copy."""
    folder = os.path.join(SOAK_DIR, "failures")
    os.makedirs(folder, exist_ok=True)
    ext = ".pcapng" if path.endswith(".pcapng") else os.path.splitext(path)[1]
    dst = os.path.join(folder, re.sub(r"[^\w.-]+", "_", what) + ext)
    shutil.copyfile(path, dst)
    with open(dst + ".txt", "w") as f:
        f.write("%s\n%s\n" % (what, how))
    return dst


# ------------------------------------------------------------ the tool

def stats_of(out):
    """{'assembler.pages_peak': n, ...} from the tool's '# ' lines."""
    st = {}
    for line in out.splitlines():
        if line.startswith("# "):
            f = line[2:].split()
            if len(f) == 3 and f[2].isdigit():
                st["%s.%s" % (f[0], f[1])] = int(f[2])
            elif len(f) == 2 and f[1].isdigit():
                st[f[0]] = int(f[1])
    return st


def run_tool(path, args, timeout):
    """(rc, stdout, stderr) of safereasm-pcap --verify; rc None on a hang."""
    cmd = [TOOL, "--no-progress", "--sha256", "--verify"] + list(args) + [path]
    try:
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout)
    except subprocess.TimeoutExpired:
        return None, "", "hang: no exit within %d s" % timeout
    return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")


def check_tool(path, args, timeout, caps, what, known_cut=False):
    """One tool run: exits 0 (or 1 when the file is damaged past some
    point), no sanitizer report, no --verify violation (known_cut is
    accepted and ignored: the snaplen-cut violation it once excused,
    tests/soak/repro/, is fixed in the core), and the core's peaks within
    the caps ({'assembler.pages_peak': cap, ...}). Returns the
    statistics; a failing input is kept."""
    rc, out, err = run_tool(path, args, timeout)
    st = stats_of(out)
    how = "%s --no-progress --sha256 --verify %s %s" % (TOOL, " ".join(args), path)
    problems = []
    if rc is None:
        problems.append(err)
    elif not (rc == 0 or (rc == 1 and "rest of the file ignored" in err) or
              (rc == 3 and st.get("verify.violations", 0))):   # judged below
        problems.append("exit %d%s" % (rc, " (signal %d)" % -rc if rc < 0 else ""))
    problems += ["stderr says %r" % w for w in CRASH_WORDS if w in err]
    if rc is not None and rc >= 0 and "verify.violations" not in st:
        problems.append("no statistics printed")
    if st.get("verify.violations", 0):
        problems.append("%d verify violations" % st["verify.violations"])
    for key, cap in caps.items():
        if st.get(key, 0) > cap:
            problems.append("%s %d > cap %d" % (key, st[key], cap))
    if problems:
        kept = keep(path, what, how)
        check(False, "%s: %s (input kept: %s)\n    %s" % (
            what, "; ".join(problems), kept, "\n    ".join(err.strip().splitlines()[-12:])))
    return st


# ------------------------------------------------------------ tshark

def srtest():
    sys.path.insert(0, os.path.join(SRC, "tests", "plugin"))
    import srtest as s  # noqa: E402
    return s


def tree_values(text):
    """{'pages_peak': n, ...} from the plugin's statistics tree (-z safereasm,tree)."""
    out = {}
    for m in re.finditer(r"\((\w+)\)\s+(\d+)", text):
        out.setdefault(m.group(1), int(m.group(2)))
    return out


def check_tshark(path, args, timeout, caps, what):
    """One tshark run with the plugin, -q -z safereasm,tree ARGS: no signal,
    exit 0 (2: the mangled file is unreadable past some point), nothing
    about the plugin on stderr, the statistics tree printed (on exit 0) and
    its peaks within the caps ({'pages_peak': cap, ...})."""
    st = srtest()
    cmd = ["-n", "-r", path] + list(args) + ["-q", "-z", "safereasm,tree"]
    how = "SR_PLUGIN=%s tests/lib/tshark-as-user.sh %s" % (st.PLUGIN, " ".join(cmd))
    problems = []
    try:
        p = st.tshark(cmd, check_rc=False, timeout=timeout)
    except subprocess.TimeoutExpired:
        kept = keep(path, what, how)
        check(False, "%s: hang: tshark still running after %d s (input kept: %s)" % (
            what, timeout, kept))
        return {}
    if p.returncode not in (0, 2):
        problems.append("tshark exit %d%s" % (p.returncode, " (signal %d)" % -p.returncode
                                              if p.returncode < 0 else ""))
    problems += ["stderr says %r" % w for w in PLUGIN_BAD if w in p.stderr]
    vals = tree_values(p.stdout)
    if p.returncode == 0 and ("Safe TCP Reassembly:" not in p.stdout or "pages_peak" not in vals):
        problems.append("no statistics tree in the output")
    for key, cap in caps.items():
        if vals.get(key, 0) > cap:
            problems.append("%s %d > cap %d" % (key, vals[key], cap))
    if problems:
        kept = keep(path, what, how)
        check(False, "%s: %s (input kept: %s)\n    %s" % (
            what, "; ".join(problems), kept, "\n    ".join(p.stderr.strip().splitlines()[-12:])))
    return vals
