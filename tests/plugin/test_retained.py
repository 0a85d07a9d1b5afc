#!/usr/bin/env python3
"""test_retained.py - the max_retained_kib preference bounds what the plugin keeps.

On an out-of-order flood made here with captures/hostile/make-hostile.py
(40 connections each missing its first 1000-byte segment, 20 segments each;
half get the hole filled at the end, so 20 x 19,000 bytes are released from
the core's pages and copied into records), with max_retained_kib 64:

- safereasm.retained_bytes never passes 65536 and never goes down, in one
  pass and in two (where the end-of-capture flush releases the rest);
- every chunk (frame, connection, direction, offset, length, skipped, flags)
  is the same as in a run with the default limit; a chunk whose bytes the
  default run shows and the bounded one does not has data_dropped, and the
  bytes it does show are the same;
- some chunks were not kept, and the expert info says so exactly once;
- every other safereasm field (the global counters included) is the same;
- one pass shows what two passes show for the frames' own records;
- each frame's global counters are the previous frame's plus its changes
  (the delta-encoded snapshots, rebuilt across many key intervals).
"""

import importlib.util
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import srtest  # noqa: E402
from srtest import check  # noqa: E402

LIMIT_KIB = 64
# Fields a limit may change: the bytes themselves and the plugin's own count.
MAY_DIFFER = {"safereasm.chunk.data", "safereasm.chunk.data_dropped",
              "safereasm.retained_bytes", "safereasm.expert.retained_limit"}


def make_capture(path):
    src = os.path.join(srtest.SOURCE_DIR, "captures", "hostile", "make-hostile.py")
    spec = importlib.util.spec_from_file_location("make_hostile", src)
    mh = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mh)
    w = mh.Writer(path)
    mh.ooo_flood(w, {"ooo": (40, 20, 1000)})
    w.close()


def chunk_key(num, ch):
    return (num, ch["end"], ch.get("conn_id"), ch.get("dir"), ch.get("offset"), ch.get("len"),
            ch.get("skipped"), ch.get("flags"))


def main():
    d = srtest.scratch()
    cap = os.path.join(d, "ooo-medium.pcap")
    make_capture(cap)
    os.chmod(cap, 0o644)
    bound = {"max_retained_kib": str(LIMIT_KIB)}
    for two_pass in (False, True):
        what = "two-pass" if two_pass else "one-pass"
        full = srtest.plugin_frames(cap, two_pass)
        cut = srtest.plugin_frames(cap, two_pass, prefs=bound)
        check(sorted(full) == sorted(cut), "%s: frames differ" % what)

        # The delta-encoded snapshots rebuild every frame's counters (the
        # capture has far more frames than SRP_SNAP_KEY_EVERY): each frame's
        # safereasm.global.* is the previous one's plus its safereasm.change.*.
        prev = {}
        for num in sorted(cut):
            g, ch = cut[num].glob, cut[num].change
            if not g:
                continue
            for name, v in g.items():
                check(v == prev.get(name, 0) + ch.get(name, 0),
                      "%s frame %d: global.%s %d, previous %d + change %d"
                      % (what, num, name, v, prev.get(name, 0), ch.get(name, 0)))
            prev = g
        check(len([n for n in cut if cut[n].glob]) > 100, "%s: too few snapshots" % what)

        last, dropped, kept_copied, expert = 0, 0, 0, 0
        for num in sorted(cut):
            f, c = full[num], cut[num]
            for v in c.fields.get("safereasm.retained_bytes", []):
                v = int(v)
                check(v <= LIMIT_KIB * 1024, "%s frame %d: retained_bytes %d passes %d"
                      % (what, num, v, LIMIT_KIB * 1024))
                check(v >= last, "%s frame %d: retained_bytes went down %d -> %d"
                      % (what, num, last, v))
                last = v
            expert += len(c.fields.get("safereasm.expert.retained_limit", []))
            check([chunk_key(num, x) for x in f.chunks] == [chunk_key(num, x) for x in c.chunks],
                  "%s frame %d: chunks differ with the limit:\n %s\n %s"
                  % (what, num, [chunk_key(num, x) for x in f.chunks],
                     [chunk_key(num, x) for x in c.chunks]))
            for fc, cc in zip(f.chunks, c.chunks):
                if cc["data"]:
                    check(cc["data"] == fc["data"], "%s frame %d: kept bytes differ" % (what, num))
                    check(not cc.get("data_dropped"), "%s frame %d: data and data_dropped"
                          % (what, num))
                    if cc.get("flags", 0) & 0x08:  # buffered: copied from pages
                        kept_copied += cc.get("len", 0)
                elif fc["data"]:
                    check(cc.get("data_dropped") == 1, "%s frame %d: chunk at offset %s lost "
                          "its bytes without data_dropped" % (what, num, cc.get("offset")))
                    dropped += 1
            for name in set(f.fields) | set(c.fields):
                if name in MAY_DIFFER:
                    continue
                check(f.fields.get(name) == c.fields.get(name),
                      "%s frame %d: %s is %s with the limit, %s without"
                      % (what, num, name, c.fields.get(name), f.fields.get(name)))
        check(dropped > 0, "%s: no chunk lost its bytes at %d KiB" % (what, LIMIT_KIB))
        check(last > 0, "%s: retained_bytes stayed 0" % what)
        check(expert == 1, "%s: the retained-limit expert info appears %d times, expected once"
              % (what, expert))
        check(kept_copied <= LIMIT_KIB * 1024, "%s: %d buffered bytes shown, limit %d"
              % (what, kept_copied, LIMIT_KIB * 1024))
        print("%s: %d chunks not kept, retained_bytes ends at %d" % (what, dropped, last))
        if two_pass:
            # One pass shows the frames' own records exactly as two passes.
            one = srtest.plugin_frames(cap, False, prefs=bound)
            for num in sorted(one):
                a = [chunk_key(num, x) + (x["data"],) for x in one[num].chunks]
                b = [chunk_key(num, x) + (x["data"],) for x in cut[num].chunks if not x["end"]]
                check(a == b, "frame %d: one pass and two passes show other chunks" % num)
                check(one[num].glob == cut[num].glob, "frame %d: global counters differ "
                      "between one and two passes" % num)
    srtest.finish("retained")


if __name__ == "__main__":
    main()
