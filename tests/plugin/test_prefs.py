#!/usr/bin/env python3
"""test_prefs.py - preferences: the core's defaults, -o works, bad values
are refused with a message naming them and the previous value stays.

Defaults are compared with the SR_DEFAULT_* macros of the core header, but
for max_buffered_pages_total: the plugin's own SRP_DEFAULT_MAX_PAGES_TOTAL
(plugin/prefs.h), below the core's.
"Stays in force" is checked by behaviour: limit-per-connection.pcap hits
the per-connection limit at frame 7 only with 100-byte pages, so a refused
page_size must leave the limit unhit.
"""

import json
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import srtest  # noqa: E402
from srtest import check  # noqa: E402

USEC = 1000000


def plugin_pages_default():
    """SRP_DEFAULT_MAX_PAGES_TOTAL of plugin/prefs.h."""
    with open(os.path.join(srtest.SOURCE_DIR, "plugin", "prefs.h")) as f:
        return int(re.search(r"#define SRP_DEFAULT_MAX_PAGES_TOTAL (\d+)", f.read()).group(1))


def defaults():
    d = srtest.header_define
    return {
        "max_buffered_pages_total": plugin_pages_default(),
        "max_buffered_pages_per_connection": d("SR_DEFAULT_MAX_PAGES_PER_CONNECTION"),
        "page_size": d("SR_DEFAULT_PAGE_SIZE"),
        "connection_timeout": d("SR_DEFAULT_CONNECTION_TIMEOUT") // USEC,
        "flush_interval": d("SR_DEFAULT_FLUSH_INTERVAL") // USEC,
        "closed_linger": d("SR_DEFAULT_CLOSED_LINGER") // USEC,
        "max_window": d("SR_DEFAULT_MAX_WINDOW"),
        "conflict_history": d("SR_DEFAULT_CONFLICT_HISTORY"),
        "max_connections": d("SR_DEFAULT_MAX_CONNECTIONS"),
        # The core's default policy (sr_options_init) is SR_POLICY_FIRST.
        "overlap_policy": "first",
    }


# Plugin-only preferences (no core option behind them), with defaults.
PLUGIN_ONLY = {"detect_divergence": "FALSE", "max_retained_kib": "262144"}


def policy_names():
    """The policy names of SR_OVERLAP_POLICY_MAP, in order."""
    return [name for _, name in srtest.header_map("SR_OVERLAP_POLICY_MAP")]


def option_fields():
    """Field names of struct sr_options in the core header."""
    text = srtest.header_text()
    body = re.search(r"typedef struct sr_options \{(.*?)\} sr_options;", text, re.S).group(1)
    body = re.sub(r"/\*.*?\*/", "", body, flags=re.S)
    return sorted(re.findall(r"\b(\w+);", body))


# pref, bad value, value kept (the default)
REFUSED = [
    ("page_size", "0"),
    ("page_size", "1048577"),
    ("max_buffered_pages_total", "0"),
    ("max_buffered_pages_total", "10"),              # below per-connection (1000)
    ("max_buffered_pages_per_connection", "0"),
    ("max_buffered_pages_per_connection", "40000"),  # above total (30000)
    ("connection_timeout", "0"),
    ("flush_interval", "0"),
    ("flush_interval", "200"),                        # above the timeout (120)
    ("max_window", "0"),
    ("max_window", "2147483648"),
    ("max_connections", "0"),
    ("conflict_history", "1048577"),
]


def limit_hit_frames(cap, opts, home=None):
    out = srtest.tshark(["-n", "-r", cap, "-Y", "safereasm.limit.connection",
                         "-T", "fields", "-e", "frame.number"] + opts, home=home)
    return [int(x) for x in out.stdout.split()], out.stderr


def main():
    dflt = defaults()
    # Every core option has a preference (but background_flush: dissection
    # must not depend on the wall clock), plus max_connections.
    opts = option_fields()
    check(len(opts) >= 8, "parsed only %s from struct sr_options" % opts)
    check(sorted(set(opts) - {"background_flush"} | {"max_connections"}) == sorted(dflt),
          "core options %s, the test knows %s: a new option needs a preference"
          % (opts, sorted(dflt)))
    out = srtest.tshark(["-G", "currentprefs"]).stdout
    prefs = dict(re.findall(r"^#?safereasm\.(\w+): (\S+)$", out, re.M))
    check(sorted(prefs) == sorted(list(dflt) + list(PLUGIN_ONLY)),
          "preferences %s, expected %s" % (sorted(prefs), sorted(dflt)))
    # The enum lists exactly the core's policy names.
    m = re.search(r"# One of: (.*)\n(?:#.*\n)*#?safereasm\.overlap_policy:", out)
    check(m is not None and [x.strip() for x in m.group(1).split(",")] == policy_names(),
          "overlap_policy choices %s, header has %s"
          % (m.group(1) if m else None, policy_names()))
    check(0 < plugin_pages_default() < srtest.header_define("SR_DEFAULT_MAX_PAGES_TOTAL"),
          "the plugin's page budget %d is not below the core's" % plugin_pages_default())
    for k, v in list(dflt.items()) + list(PLUGIN_ONLY.items()):
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

    # conflict_history 0: a different copy of delivered bytes is no longer
    # a conflict, only differences among buffered data are.
    ccap = srtest.stage(os.path.join(srtest.CAPTURES, "crafted", "conflict.pcap"))
    with open(os.path.join(srtest.CAPTURES, "crafted", "expected.json")) as f:
        cexp = json.load(f)["conflict.pcap"]
    for opts, want in (([], cexp["filters"]["safereasm.status.conflict"]),
                       (["-o", "safereasm.conflict_history:0"],
                        cexp["conflicts_without_history"])):
        got = srtest.tshark(["-n", "-r", ccap, "-Y", "safereasm.status.conflict",
                             "-T", "fields", "-e", "frame.number"] + opts).stdout.split()
        check([int(x) for x in got] == want, "conflict.pcap %s: conflicts at %s, expected "
              "%s" % (opts, got, want))

    # overlap_policy picks what the chunks show: policy-http.pcap's request
    # reads GET /index.html under first, bsd and linux, GET /evil.php under
    # old_linux, solaris and last (make-policy.py).
    hcap = srtest.stage(os.path.join(srtest.CAPTURES, "crafted", "policy-http.pcap"))
    for pol in policy_names():
        frames = srtest.plugin_frames(hcap, True, {"overlap_policy": pol})
        data = b"".join(s["data"] for k, s in sorted(srtest.streams(frames).items())
                        if k[1] == 0)
        want = b"GET /index.html" if pol in ("first", "bsd", "linux") else b"GET /evil.php"
        check(data.startswith(want), "overlap_policy %s: client stream starts %r, "
              "expected %r" % (pol, data[:20], want))
    p = srtest.tshark(["-n", "-r", hcap, "-q", "-o", "safereasm.overlap_policy:linux"],
                      check_rc=False)
    check(p.returncode == 0 and p.stderr.strip() == "",
          "-o safereasm.overlap_policy:linux: rc %d %r" % (p.returncode, p.stderr))

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
