#!/usr/bin/env python3
"""test_load.py - tshark loads the plugin and knows its parts.

-G plugins lists safereasm.so from the private plugin folder; -G protocols
lists "Safe TCP Reassembly"; -z help lists safereasm,tree; the .so exports
exactly the four symbols the 4.0 loader looks up; and, as a control, the
same tshark run as root without the helper does NOT load it (the root trap
the helper exists for).
"""

import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import srtest  # noqa: E402
from srtest import check  # noqa: E402


def main():
    check(os.path.isfile(srtest.PLUGIN), "plugin %s not built" % srtest.PLUGIN)

    out = srtest.tshark(["-G", "plugins"]).stdout
    rows = [line.split("\t") for line in out.splitlines() if "safereasm" in line]
    check(len(rows) == 1, "-G plugins lists safereasm %d times:\n%s" % (len(rows), out))
    if rows:
        name, version, kind, path = [c.strip() for c in rows[0][:4]]
        check(name == "safereasm.so", "plugin file name %r" % name)
        check(version == "0.1.0", "plugin version %r" % version)
        check(kind == "dissector", "plugin type %r" % kind)
        check(path.endswith("/.local/lib/wireshark/plugins/%s/epan/safereasm.so" % srtest.ABI),
              "loaded from %r, not the personal plugin folder" % path)

    out = srtest.tshark(["-G", "protocols"]).stdout
    # 4.4 and later add columns after the first three.
    check(any(line.split("\t")[:3] == ["Safe TCP Reassembly", "SafeReasm", "safereasm"]
              for line in out.splitlines()),
          "-G protocols has no 'Safe TCP Reassembly\\tSafeReasm\\tsafereasm' line")

    p = srtest.tshark(["-z", "help"], check_rc=False)
    check("     safereasm,tree" in (p.stdout + p.stderr).splitlines(),
          "-z help does not list safereasm,tree")

    nm = subprocess.run(["nm", "-D", "--defined-only", srtest.PLUGIN],
                        stdout=subprocess.PIPE, universal_newlines=True)
    if nm.returncode == 0:
        syms = sorted(line.split()[-1] for line in nm.stdout.splitlines() if line.strip())
        # 4.2 and later also look up plugin_describe (plugin/ws-compat.h).
        want = ["plugin_register", "plugin_version", "plugin_want_major", "plugin_want_minor"]
        if srtest.ABI != "4.0":
            want = sorted(want + ["plugin_describe"])
        check(syms == want, "exported symbols: %s" % syms)

    # Control: root ignores personal plugin folders and WIRESHARK_PLUGIN_DIR.
    if os.geteuid() == 0:
        env = dict(os.environ, WIRESHARK_PLUGIN_DIR=os.path.dirname(
            os.path.dirname(os.path.dirname(srtest.PLUGIN))))
        p = subprocess.run(["tshark", "-G", "plugins"], env=env, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, universal_newlines=True)
        system_copy = any("safereasm" in line and "/usr/lib" in line
                          for line in p.stdout.splitlines())
        if not system_copy:
            check("safereasm" not in p.stdout,
                  "root tshark loaded the plugin through WIRESHARK_PLUGIN_DIR: "
                  "the helper would not be needed")
    srtest.finish("plugin/load")


if __name__ == "__main__":
    try:
        main()
    except srtest.TestFailure as e:
        print("FAIL: %s" % e)
        sys.exit(1)
