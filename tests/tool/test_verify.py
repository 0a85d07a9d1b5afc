#!/usr/bin/env python3
"""test_verify.py - safereasm-pcap --verify on every capture of captures/
(recursively), with 1 and with 3 threads: exit status 0, no violation, and
every capture whose frames decode to TCP segments has directions checked.

--verify is the tool's own check of the core's byte accounting: per
direction, the distinct sequence numbers of the segments the core took
must not exceed delivered + skipped + dropped, and the core's totals must
equal what its chunks carried. A violation means bytes went missing
without being counted: exit status 3 and one message per direction."""

import sys

import tooltest as T


def main():
    T.need_tool()
    c = T.Checks()
    caps = T.all_captures()
    c.need(len(caps) >= 10, "only %d captures found under %s" % (len(caps), T.CAPTURES))
    for path in caps:
        for threads in ("1", "3"):
            rc, out, err = T.run(path, "--verify", "--threads", threads)
            st = T.stats_of(out)
            name = "%s --threads %s" % (T.rel(path), threads)
            # A damaged capture may end early (exit 1); verify still ran.
            ok_rc = rc == T.EXIT_OK or (rc == T.EXIT_IO and "rest of the file ignored" in err)
            viol = [l for l in err.splitlines() if "verify:" in l]
            c.need(ok_rc and not viol and st.get("verify.violations") == 0,
                   "%s: exit %d, violations %s:\n    %s" % (
                       name, rc, st.get("verify.violations"), "\n    ".join(viol[:10] or [err[-300:]])))
            if st.get("decode.tcp", 0) > 0:
                c.need(st.get("verify.directions", 0) > 0,
                       "%s: %d TCP segments but no direction checked" % (name, st["decode.tcp"]))
        print("%s: %s directions checked" % (T.rel(path), st.get("verify.directions")))
    return c.done("verify on %d captures" % len(caps))


if __name__ == "__main__":
    sys.exit(main())
