#!/usr/bin/env python3
"""soak_mutate.py - every capture under captures/ (crafted, third-party,
real, hostile), mutated with editcap, through safereasm-pcap or through
tshark with the plugin.

    soak_mutate.py tool|plugin [VARIANTS]

Each capture gets VARIANTS seeded variants (soaklib.variants: random byte
errors -E at 0.0005..0.1, a snaplen -s of 14..200 bytes, or both; default
8 for the tool, 3 for the plugin, the first 3 of the tool's, so both read
the same files). SR_SOAK_SEED picks another set (default 1); a variant is
named by its capture, its editcap arguments and the seed, so it can be
made again.

tool (the suite runs it in the ASan+UBSan build): --verify with caps of
256 pages, 64 per connection, 512 connections: exit 0 (or 1 when the file
is unreadable past some point), no sanitizer report, no violation, peaks
within the caps, within 60 s.
plugin: tshark -z safereasm,tree, one pass for even-numbered variants, two
passes (-2) for odd ones: no signal, nothing about the plugin on stderr,
the statistics tree printed, within 60 s.

tests/plugin/test_mangled.py reads the same captures mangled with -E 0.02
(seeds 1 and 2) and -s 60 in one and two passes and with -V; these
variants are other ones.

A failing variant is kept in SR_SOAK_DIR/failures/ with the command that
failed. Every --verify violation fails (the snaplen-cut one this soak found,
tests/soak/repro/make-fin-before-cut.py, is fixed in the core).
"""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import soaklib as S  # noqa: E402

TOOL_CAPS = ["--max-pages-total", "256", "--max-pages-per-connection", "64",
             "--max-connections", "512"]
TOOL_LIMITS = {"assembler.pages_peak": 256, "pool.peak_connections": 512}
TIMEOUT = 60


def main():
    mode = sys.argv[1] if len(sys.argv) > 1 else "tool"
    count = int(sys.argv[2]) if len(sys.argv) > 2 else (8 if mode == "tool" else 3)
    caps = S.all_captures()
    S.check(len(caps) >= 50, "only %d captures under %s" % (len(caps), S.CAPTURES))
    if mode == "plugin":
        work = S.srtest().scratch()
    else:
        work = os.path.join(S.SOAK_DIR, "mutate-tool")
        os.makedirs(work, exist_ok=True)
    t0 = time.monotonic()
    runs = 0
    for path in caps:
        name = S.rel(path).replace("/", "__")
        for i, args in enumerate(S.variants(path, count)):
            dst = os.path.join(work, "%s.seed%d.%s.pcapng" % (name, S.SEED, S.tag(args)))
            what = "mutate %s %s (editcap %s, SR_SOAK_SEED=%d)" % (
                mode, S.rel(path), " ".join(args), S.SEED)
            if not S.mutate(path, args, dst):
                continue
            if mode == "tool":
                S.check_tool(dst, TOOL_CAPS, TIMEOUT, TOOL_LIMITS, what, known_cut="-s" in args)
            else:
                S.check_tshark(dst, ["-2"] if i % 2 else [], TIMEOUT, {}, what)
            os.unlink(dst)
            runs += 1
        print("%s: %d variants, %.0f s so far" % (S.rel(path), count, time.monotonic() - t0),
              flush=True)
    S.check(runs >= len(caps) * count * 9 // 10, "only %d variants read" % runs)
    return S.finish("soak/mutate/%s" % mode, "%d captures x %d variants = %d runs, seed %d" % (
        len(caps), count, runs, S.SEED))


if __name__ == "__main__":
    sys.exit(main())
