#!/usr/bin/env python3
"""test_gui.py - the GUI paths of issue 8, in the real wireshark-qt 4.0
under Xvfb (skipped when wireshark-qt, xvfb or xdotool are missing).

1. Enabled Protocols off -> on: Analyze -> Enabled Protocols, search
   "safereasm", uncheck it, OK; again, check it, OK. The re-dissection
   after the second OK must feed the core again with a protocol tree (the
   plugin's trace, --log-debug safereasm, says "tree yes" and the segments
   it fed for every TCP frame), as after opening the file. View -> Reload
   (Ctrl+R), switching to a profile that disables the plugin and back, and
   opening a second file must do the same.
2. A refused preference is not kept in the preferences file: page size 0
   entered in Edit -> Preferences (reached through the packet details'
   Protocol Preferences menu), OK: refused with a dialog, and the file does
   not hold 0 (Wireshark writes that file before it runs the apply
   callback, so the plugin writes it again). Wireshark started with
   "safereasm.page_size: 0" already in the file refuses it and repairs the
   file.
"""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import srtest  # noqa: E402
import srgui  # noqa: E402
from srtest import check  # noqa: E402


def toggle_safereasm(g):
    """Analyze -> Enabled Protocols, search safereasm, click its check box, OK."""
    g.xdo("mousemove", "255", "10", "click", "1")
    time.sleep(0.8)
    g.xdo("mousemove", "317", "213", "click", "1")
    d = g.wait_window("Enabled Protocols")
    time.sleep(1)
    g.xdo("windowfocus", "--sync", d)
    g.type("safereasm")
    time.sleep(1)
    geo = g.xdo("getwindowgeometry", d)
    x, y = [int(v) for v in geo.split("Position: ")[1].split()[0].split(",")]
    w, h = [int(v) for v in geo.split("Geometry: ")[1].split()[0].split("x")]
    g.xdo("mousemove", str(x + 42), str(y + 72), "click", "1")   # the check box
    time.sleep(0.5)
    g.xdo("mousemove", str(x + w - 224), str(y + h - 24), "click", "1")  # OK
    g.wait_gone(d)
    time.sleep(2)


def tcp_frames(cap):
    out = srtest.tshark(["-n", "-r", cap, "-Y", "tcp", "-T", "fields",
                         "-e", "frame.number"]).stdout
    return sorted(int(x) for x in out.split())


def check_refed(g, pos, frames, what):
    ok = g.wait_trace(pos, r"first pass: frame %d," % frames[-1], 30)
    got = srgui.first_pass_frames(g.lines_since(pos))
    check(ok and sorted(f for f, tree, n in got if tree == "yes" and n > 0) == frames,
          "%s: the first pass fed %s (frame, tree, segments), expected every TCP frame "
          "%s with a tree" % (what, got, frames))


def main():
    if not srgui.available():
        print("wireshark-qt, xvfb or xdotool not installed: GUI checks skipped")
        srtest.finish("plugin/gui")
    cap = srtest.stage(os.path.join(srtest.CAPTURES, "crafted", "gap.pcap"))
    frames = tcp_frames(cap)

    g = srgui.Gui(cap)
    try:
        check_refed(g, 0, frames, "file opened")
        pos = g.mark()
        toggle_safereasm(g)
        disabled = os.path.join(g.conf, "disabled_protos")
        check(os.path.exists(disabled) and "safereasm" in open(disabled).read(),
              "Enabled Protocols: unchecking SafeReasm did not disable it")
        check(g.wait_trace(pos, r"init: enabled 0", 10), "no init after disabling")
        check(not srgui.first_pass_frames(g.lines_since(pos)),
              "the plugin dissected while disabled")
        pos = g.mark()
        toggle_safereasm(g)
        check(not os.path.exists(disabled) or "safereasm" not in open(disabled).read(),
              "Enabled Protocols: checking SafeReasm again did not enable it")
        check(g.wait_trace(pos, r"init: enabled 1", 10), "no init after enabling")
        check_refed(g, pos, frames, "Enabled Protocols off -> on")
        # View -> Reload.
        pos = g.mark()
        g.xdo("windowfocus", "--sync", g.main)
        g.keys("ctrl+r")
        check_refed(g, pos, frames, "View -> Reload")
        # A profile that disables the plugin, and back to Default (status
        # bar: right-click the profile, Switch to).
        pdir = os.path.join(g.conf, "profiles", "off")
        os.makedirs(pdir)
        with open(os.path.join(pdir, "disabled_protos"), "w") as f:
            f.write("safereasm\n")
        os.system("chmod -R a+rwX '%s'" % g.conf)
        for target, y, enabled in (("off", "910", 0), ("Default", "885", 1)):
            pos = g.mark()
            g.xdo("mousemove", "1520", "988", "click", "3")
            time.sleep(1.5)
            g.xdo("mousemove", "1479", "975", "click", "1")      # Switch to
            time.sleep(1.5)
            g.xdo("mousemove", "1280", y, "click", "1")
            check(g.wait_trace(pos, r"init: enabled %d" % enabled, 15),
                  "switching to profile %s: no init with the plugin %s"
                  % (target, "enabled" if enabled else "disabled"))
            if enabled:
                check_refed(g, pos, frames, "profile switch back to Default")
            else:
                time.sleep(2)
                check(not srgui.first_pass_frames(g.lines_since(pos)),
                      "profile 'off': the plugin dissected while disabled")
        # A second file (File -> Open): an empty core, fed from frame 1.
        cap2 = srtest.stage(os.path.join(srtest.CAPTURES, "crafted", "conflict.pcap"))
        pos = g.mark()
        g.xdo("windowfocus", "--sync", g.main)
        g.keys("ctrl+o")
        time.sleep(2)
        g.type(cap2)
        g.keys("Return")
        check_refed(g, pos, tcp_frames(cap2), "a second file")
    finally:
        g.close()

    # The defect as reported: the Preferences dialog (here opened from the
    # packet details: right-click SafeReasm -> Protocol Preferences -> Page
    # size -> Open SafeReasm preferences...), page size 0, OK: refused with
    # a dialog, and the preferences file must not keep 0 (the dialog writes
    # the file before the plugin's apply callback runs).
    g = srgui.Gui(cap)
    try:
        g.xdo("mousemove", "200", "205", "click", "1")       # frame 6
        time.sleep(1)
        g.xdo("mousemove", "115", "613", "click", "1")       # its SafeReasm item
        time.sleep(0.5)
        g.xdo("click", "3")
        time.sleep(1)
        g.xdo("mousemove", "209", "523", "click", "1")       # Protocol Preferences
        time.sleep(1.5)
        g.xdo("mousemove", "603", "600", "click", "1")       # Page size (bytes): 1900...
        time.sleep(2)
        g.xdo("mousemove", "119", "101", "click", "1")       # Open SafeReasm preferences...
        g.wait_window("Preferences")
        time.sleep(2)
        g.xdo("mousemove", "516", "116", "click", "--repeat", "3", "1")  # the page size field
        g.xdo("key", "ctrl+a")
        g.type("0")
        g.xdo("mousemove", "617", "518", "click", "1")       # OK
        path = os.path.join(g.conf, "preferences")
        end = time.time() + 20
        while time.time() < end and not os.path.exists(path):
            time.sleep(0.5)
        time.sleep(3)
        g.screenshot(os.path.join(srtest.scratch(), "refused-dialog.png"))
        lines = open(path).read().splitlines() if os.path.exists(path) else []
        check(os.path.exists(path), "the Preferences dialog wrote no preferences file")
        check("safereasm.page_size: 0" not in lines,
              "Preferences dialog: the refused page size 0 was saved (%s)"
              % [x for x in lines if "page_size" in x])
    finally:
        g.close()

    # A refused value already in the file is repaired at start.
    # (The warning dialog holds the file back until OK; the file is
    # written before it shows.)
    g = srgui.Gui(cap, prefs_text="safereasm.page_size: 0\n"
                                  "safereasm.max_buffered_pages_per_connection: 3\n",
                  main_title="Wireshark")
    try:
        path = os.path.join(g.conf, "preferences")
        end = time.time() + 20
        while time.time() < end and "safereasm.page_size: 0" in open(path).read():
            time.sleep(0.5)
        g.screenshot(os.path.join(srtest.scratch(), "refused.png"))
        text = open(path).read()
        check("safereasm.page_size: 0" not in text.splitlines(),
              "the refused safereasm.page_size: 0 is still in the preferences file")
        check("safereasm.max_buffered_pages_per_connection: 3" in text.splitlines(),
              "the accepted per-connection value was lost from the preferences file")
    finally:
        g.close()
    srtest.finish("plugin/gui")


if __name__ == "__main__":
    try:
        main()
    except srtest.TestFailure as e:
        print("FAIL: %s" % e)
        sys.exit(1)
