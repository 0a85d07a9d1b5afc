#!/bin/sh
# bench/run.sh - the benchmark: builds the project and the benchmark programs
# in build-bench/ (RelWithDebInfo), generates the captures into bench/out/
# (cached, not in git), runs safereasm-pcap and its peers interleaved with
# repeats, checks that their outputs agree, prints the table of medians and
# paired ratios, writes bench/out/results/ and the charts docs/bench-*.png.
# Details: docs/benchmarks.md. Packages: bench/debian-packages.txt.
#
# usage: bench/run.sh [--quick] [--repeats N] [--captures a,b,...] [...]
#        bench/run.sh --help      (every option)
# Environment: BENCH_BUILD (default build-bench), BENCH_NO_BUILD=1 to skip
# the build step.
set -eu
cd "$(dirname "$0")/.."
B=${BENCH_BUILD:-build-bench}
if [ "${BENCH_NO_BUILD:-}" != 1 ]; then
    [ -f "$B/CMakeCache.txt" ] || cmake -S . -B "$B" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
    cmake --build "$B" -j"$(nproc)" >/dev/null
fi
exec /usr/bin/python3 bench/bench.py --build "$B" "$@"
