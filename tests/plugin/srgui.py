"""srgui.py - drive the real Wireshark GUI (Debian's wireshark-qt 4.0) under
Xvfb for the plugin tests: start it with the built plugin through
tests/lib/tshark-as-user.sh, send keys with xdotool, and read the plugin's
own trace (wireshark --log-debug safereasm) from its stderr.

Needs the Debian packages wireshark-qt, xvfb and xdotool; available()
says whether they are there (the tests skip otherwise).
"""

import os
import re
import shutil
import subprocess
import time

import srtest


def free_display():
    """An X display number nobody uses (no lock file, no socket)."""
    for n in range(90, 200):
        if not os.path.exists("/tmp/.X%d-lock" % n) and \
           not os.path.exists("/tmp/.X11-unix/X%d" % n):
            return ":%d" % n
    raise srtest.TestFailure("no free X display number")


def available():
    return all(shutil.which(t) for t in ("wireshark", "Xvfb", "xdotool"))


class Gui:
    """One Wireshark window on its own Xvfb display."""

    def __init__(self, capture, prefs_text=None, display=None, main_title=None):
        self.work = os.path.join(srtest.scratch(), "gui-%d" % time.time_ns())
        self.home = os.path.join(self.work, "home")
        conf = os.path.join(self.home, ".config", "wireshark")
        os.makedirs(conf)
        os.makedirs(os.path.join(self.work, "run"))
        with open(os.path.join(conf, "recent_common"), "w") as f:
            f.write("gui.geometry_main_x: 0\ngui.geometry_main_y: 0\n"
                    "gui.geometry_main_width: 1600\ngui.geometry_main_height: 1000\n"
                    "privs.warn_if_elevated: FALSE\n")
        if prefs_text is not None:
            with open(os.path.join(conf, "preferences"), "w") as f:
                f.write(prefs_text)
        self.conf = conf
        self.display = display or free_display()
        self.proc = None
        self.log = None
        self.xvfb = subprocess.Popen(["Xvfb", self.display, "-screen", "0", "1600x1000x24",
                                      "-ac", "-nolisten", "tcp"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(1.5)
        subprocess.run(["chmod", "-R", "a+rwX", self.work])
        self.log_path = os.path.join(self.work, "wireshark.log")
        env = dict(os.environ, SR_PLUGIN=srtest.PLUGIN, SR_PROGRAM="wireshark",
                   SR_TSHARK_HOME=self.home, DISPLAY=self.display,
                   XDG_RUNTIME_DIR=os.path.join(self.work, "run"))
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen([srtest.HELPER, "--log-debug", "safereasm", "-r", capture],
                                     stdout=self.log, stderr=subprocess.STDOUT, env=env,
                                     start_new_session=True)
        try:
            self.main = self.wait_window(main_title or
                                         "^%s$" % re.escape(os.path.basename(capture)), 60)
        except Exception:
            self.close()
            raise
        time.sleep(2)

    def xdo(self, *args):
        return subprocess.run(["xdotool"] + list(args), stdout=subprocess.PIPE,
                              universal_newlines=True,
                              env=dict(os.environ, DISPLAY=self.display)).stdout

    def wait_window(self, name, timeout=30):
        end = time.time() + timeout
        while time.time() < end:
            out = self.xdo("search", "--onlyvisible", "--name", name).split()
            if out:
                return out[0]
            time.sleep(0.3)
        raise srtest.TestFailure("no window named %r appeared; wireshark log:\n%s"
                                 % (name, self.trace()[-3000:]))

    def wait_gone(self, wid, timeout=20):
        end = time.time() + timeout
        while time.time() < end:
            if wid not in self.xdo("search", "--onlyvisible", "--name", ".").split():
                return
            time.sleep(0.3)

    def keys(self, *keys, window=None):
        for k in keys:
            if window:
                self.xdo("windowfocus", "--sync", window)
            self.xdo("key", "--clearmodifiers", k)
            time.sleep(0.15)

    def type(self, text):
        self.xdo("type", "--delay", "40", text)
        time.sleep(0.3)

    def trace(self):
        self.log.flush()
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def mark(self):
        """Position in the trace; lines after it are what follows."""
        return len(self.trace())

    def lines_since(self, pos):
        return self.trace()[pos:].splitlines()

    def wait_trace(self, pos, pattern, timeout=30):
        end = time.time() + timeout
        while time.time() < end:
            for line in self.lines_since(pos):
                if re.search(pattern, line):
                    return True
            time.sleep(0.3)
        return False

    def screenshot(self, path, window="root"):
        subprocess.run(["import", "-window", window, path],
                       env=dict(os.environ, DISPLAY=self.display))

    def close(self):
        if self.proc is not None:
            try:
                os.killpg(self.proc.pid, 15)
            except OSError:
                pass
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, 9)
                self.proc.wait(10)
            self.proc = None
        if self.xvfb is not None:
            self.xvfb.terminate()
            self.xvfb.wait(10)
            self.xvfb = None
        if self.log is not None:
            self.log.close()
            self.log = None


def first_pass_frames(lines):
    """[(frame, tree, segments)] of the plugin's first-pass trace lines."""
    out = []
    for line in lines:
        m = re.search(r"first pass: frame (\d+), tree (\w+), (\d+) segment", line)
        if m:
            out.append((int(m.group(1)), m.group(2), int(m.group(3))))
    return out
