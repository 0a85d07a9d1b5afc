#!/usr/bin/env python3
"""test_prefs.py - preferences: the core's defaults, -o works, bad values
are refused with a message naming them and the previous value stays.

Defaults are compared with the SR_DEFAULT_* macros of the core header.
"Stays in force" is checked by behaviour: limit-per-connection.pcap hits
the per-connection limit at frame 7 only with 100-byte pages, so a refused
page_size must leave the limit unhit.
"""

import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import srtest  # noqa: E402
from srtest import check  # noqa: E402

USEC = 1000000


def defaults():
    d = srtest.header_define
    return {
        "max_buffered_pages_total": d("SR_DEFAULT_MAX_PAGES_TOTAL"),
        "max_buffered_pages_per_connection": d("SR_DEFAULT_MAX_PAGES_PER_CONNECTION"),
        "page_size": d("SR_DEFAULT_PAGE_SIZE"),
        "connection_timeout": d("SR_DEFAULT_CONNECTION_TIMEOUT") // USEC,
        "flush_interval": d("SR_DEFAULT_FLUSH_INTERVAL") // USEC,
        "closed_linger": d("SR_DEFAULT_CLOSED_LINGER") // USEC,
        "max_window": d("SR_DEFAULT_MAX_WINDOW"),
        "max_connections": d("SR_DEFAULT_MAX_CONNECTIONS"),
    }


# pref, bad value, value kept (the default)
REFUSED = [
    ("page_size", "0"),
    ("page_size", "1048577"),
    ("max_buffered_pages_total", "0"),
    ("max_buffered_pages_total", "10"),              # below per-connection (1000)
    ("max_buffered_pages_per_connection", "0"),
    ("max_buffered_pages_per_connection", "60000"),  # above total (50000)
    ("connection_timeout", "0"),
    ("flush_interval", "0"),
    ("flush_interval", "200"),                        # above the timeout (120)
    ("max_window", "0"),
    ("max_window", "2147483648"),
    ("max_connections", "0"),
]


def limit_hit_frames(cap, opts, home=None):
    out = srtest.tshark(["-n", "-r", cap, "-Y", "safereasm.limit.connection == 1",
                         "-T", "fields", "-e", "frame.number"] + opts, home=home)
    return [int(x) for x in out.stdout.split()], out.stderr


def main():
    dflt = defaults()
    out = srtest.tshark(["-G", "currentprefs"]).stdout
    prefs = dict(re.findall(r"^#?safereasm\.(\w+): (\S+)$", out, re.M))
    check(sorted(prefs) == sorted(dflt), "preferences %s, expected %s"
          % (sorted(prefs), sorted(dflt)))
    for k, v in dflt.items():
        check(prefs.get(k) == str(v), "default of safereasm.%s is %s, header says %s"
              % (k, prefs.get(k), v))

    cap = srtest.stage(os.path.join(srtest.CAPTURES, "crafted", "limit-per-connection.pcap"))
    small = ["-o", "safereasm.page_size:100",
             "-o", "safereasm.max_buffered_pages_per_connection:3"]

    # Accepted: -o changes what the core does.
    hits, err = limit_hit_frames(cap, small)
    check(hits == [7], "with 100-byte pages and 3 per connection the limit hits %s, "
                       "expected [7]" % hits)
    check(err.strip() == "", "valid -o values printed: %r" % err)
    hits, _ = limit_hit_frames(cap, [])
    check(hits == [], "with the defaults the limit hits %s, expected none" % hits)

    # Refused: named, the old value kept, tshark goes on (rc 0).
    for name, bad in REFUSED:
        p = srtest.tshark(["-n", "-r", cap, "-q", "-o", "safereasm.%s:%s" % (name, bad)],
                          check_rc=False)
        check(p.returncode == 0, "-o safereasm.%s:%s: exit %d" % (name, bad, p.returncode))
        want = "safereasm.%s: value %s refused (" % (name, bad)
        check(want in p.stderr, "-o safereasm.%s:%s: stderr %r lacks %r"
              % (name, bad, p.stderr.strip(), want))
        check("keeping %s" % dflt[name] in p.stderr, "-o safereasm.%s:%s: stderr %r does "
              "not say the old value %s is kept" % (name, bad, p.stderr.strip(), dflt[name]))

    # The refused page_size leaves 1900-byte pages: no limit hit, although
    # the per-connection limit of 3 was accepted.
    hits, err = limit_hit_frames(cap, ["-o", "safereasm.page_size:0",
                                       "-o", "safereasm.max_buffered_pages_per_connection:3"])
    check(hits == [], "page_size 0 was refused but the limit hits at %s (100-byte "
                      "pages?)" % hits)
    check("safereasm.page_size: value 0 refused" in err, "no warning for page_size 0")
    check("max_buffered_pages_per_connection" not in err,
          "the valid per-connection value was refused too: %r" % err)

    # Only valid together: both accepted, no warning.
    p = srtest.tshark(["-n", "-r", cap, "-q",
                       "-o", "safereasm.max_buffered_pages_total:10",
                       "-o", "safereasm.max_buffered_pages_per_connection:5"], check_rc=False)
    check(p.returncode == 0 and p.stderr.strip() == "",
          "total 10 with per-connection 5 should be accepted: rc %d %r"
          % (p.returncode, p.stderr))

    # Not a number: tshark's own error, exit 1.
    p = srtest.tshark(["-n", "-r", cap, "-q", "-o", "safereasm.page_size:abc"],
                      check_rc=False)
    check(p.returncode == 1 and 'Invalid -o flag "safereasm.page_size:abc"' in p.stderr,
          "-o safereasm.page_size:abc: rc %d %r" % (p.returncode, p.stderr))

    # A preferences file goes through the same check.
    home = os.path.join(srtest.scratch(), "prefs-home")
    os.makedirs(os.path.join(home, ".config", "wireshark"), exist_ok=True)
    with open(os.path.join(home, ".config", "wireshark", "preferences"), "w") as f:
        f.write("safereasm.page_size: 0\nsafereasm.max_buffered_pages_per_connection: 3\n")
    hits, err = limit_hit_frames(cap, [], home=home)
    check("safereasm.page_size: value 0 refused" in err,
          "page_size 0 from the preferences file: stderr %r" % err)
    check(hits == [], "page_size 0 from the preferences file was not refused: hits %s" % hits)
    with open(os.path.join(home, ".config", "wireshark", "preferences"), "w") as f:
        f.write("safereasm.page_size: 100\nsafereasm.max_buffered_pages_per_connection: 3\n")
    hits, err = limit_hit_frames(cap, [], home=home)
    check(hits == [7], "page_size 100 from the preferences file: hits %s" % hits)
    srtest.finish("plugin/prefs")


if __name__ == "__main__":
    try:
        main()
    except srtest.TestFailure as e:
        print("FAIL: %s" % e)
        sys.exit(1)
