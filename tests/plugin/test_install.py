#!/usr/bin/env python3
"""test_install.py - cmake --install puts safereasm.so where tshark loads it.

The default install folder is the personal plugin folder
$HOME/.local/lib/wireshark/plugins/4.0/epan (cache variable
SR_PLUGIN_INSTALL_DIR). A DESTDIR install of this build tree puts the file
there (under DESTDIR), and tshark loads the installed copy; with
--component plugin nothing else is installed. A fresh
configure with -DSR_PLUGIN_INSTALL_DIR=<dir> installs into <dir> instead.
"""

import filecmp
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import srtest  # noqa: E402
from srtest import check  # noqa: E402

CMAKE = os.environ.get("SR_CMAKE", "cmake")


def cache_value(build, name):
    p = subprocess.run([CMAKE, "-N", "-L", build], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, universal_newlines=True)
    m = re.search(r"^%s:\w+=(.*)$" % name, p.stdout, re.M)
    return m.group(1) if m else None


def main():
    build = srtest.BUILD_DIR
    dest = cache_value(build, "SR_PLUGIN_INSTALL_DIR")
    check(dest is not None and os.path.isabs(dest),
          "SR_PLUGIN_INSTALL_DIR of %s is %r" % (build, dest))

    root = os.path.join(srtest.scratch(), "destdir")
    env = dict(os.environ, DESTDIR=root)
    p = subprocess.run([CMAKE, "--install", build], env=env, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, universal_newlines=True)
    check(p.returncode == 0, "cmake --install failed:\n%s%s" % (p.stdout, p.stderr))
    installed = os.path.join(root + (dest or ""), "safereasm.so")
    if check(os.path.isfile(installed), "%s not installed" % installed):
        check(filecmp.cmp(installed, srtest.PLUGIN, shallow=False),
              "the installed plugin differs from the built one")
        out = srtest.tshark(["-G", "plugins"], plugin=installed).stdout
        check(any(line.startswith("safereasm.so") for line in out.splitlines()),
              "tshark does not load the installed copy")

    # --component plugin installs the plugin alone.
    root2 = os.path.join(srtest.scratch(), "destdir-component")
    p = subprocess.run([CMAKE, "--install", build, "--component", "plugin"],
                       env=dict(os.environ, DESTDIR=root2), stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, universal_newlines=True)
    check(p.returncode == 0, "cmake --install --component plugin failed:\n%s" % p.stderr)
    files = [os.path.relpath(os.path.join(d, f), root2)
             for d, _, fs in os.walk(root2) for f in fs]
    check(files == [os.path.relpath(os.path.join(root2 + (dest or ""), "safereasm.so"),
                                    root2)],
          "--component plugin installed %s" % files)

    # The default, and an override, at configure time (configure only: the
    # install script names the folder).
    opts = ["-DSR_BUILD_TESTS=OFF", "-DSR_BUILD_TOOLS=OFF", "-DSR_BUILD_BENCH=OFF"]
    home = os.path.join(srtest.scratch(), "some home")
    for name, extra, want in (
            ("default", [], os.path.join(home, ".local/lib/wireshark/plugins/%s/epan" % srtest.ABI)),
            ("override", ["-DSR_PLUGIN_INSTALL_DIR=" + os.path.join(home, "mine")],
             os.path.join(home, "mine"))):
        alt = os.path.join(srtest.scratch(), "build-" + name)
        p = subprocess.run([CMAKE, "-S", srtest.SOURCE_DIR, "-B", alt] + opts + extra,
                           env=dict(os.environ, HOME=home), stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, universal_newlines=True)
        if not check(p.returncode == 0, "configure (%s) failed:\n%s" % (name, p.stderr)):
            continue
        check(cache_value(alt, "SR_PLUGIN_INSTALL_DIR") == want,
              "%s: SR_PLUGIN_INSTALL_DIR is %r, expected %r"
              % (name, cache_value(alt, "SR_PLUGIN_INSTALL_DIR"), want))
        script = os.path.join(alt, "plugin", "cmake_install.cmake")
        text = open(script).read() if os.path.exists(script) else ""
        check(want in text, "%s: plugin/cmake_install.cmake does not install into %r"
              % (name, want))
    srtest.finish("plugin/install")


if __name__ == "__main__":
    try:
        main()
    except srtest.TestFailure as e:
        print("FAIL: %s" % e)
        sys.exit(1)
