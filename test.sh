#!/bin/sh
# The whole test suite, as CI runs it (see README "Tests").
#   1. ASan+UBSan build: every test that does not load the plugin into tshark
#      (core unit, property, concurrency, fault injection, the pcap tool's
#      fidelity checks).
#   2. TSan build: the concurrency tests again (core, and safereasm-pcap
#      --threads: tests/tool, label concurrency).
#   2b. libFuzzer build (clang, ASan+UBSan): each fuzz target for 30 s.
#   3. Plain build with the Wireshark plugin: the tests that drive tshark
#      (tshark is not instrumented, so the plugin cannot be either).
#   4. Packaging.
#   5. The plugin against Wireshark 4.4 (Debian 13) and 4.6 (Debian
#      unstable): built and tested (ctest label wsversions) and packaged in
#      debootstrap roots (scripts/wireshark-root.sh), made once and cached
#      under /var/cache/safereasm-roots; making them starts in the
#      background at the beginning. Needs root; SR_WS_VERSIONS=0 skips it.
# Run it from the source tree; it builds into build-asan/, build-tsan/,
# build-fuzz/, build/.
set -eu
cd "$(dirname "$0")"
J=$(nproc 2>/dev/null || echo 2)
# Sanitizer findings must fail the run, with a useful report.
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:strict_string_checks=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
export TSAN_OPTIONS="${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1}"

step() { printf '\n===== %s =====\n' "$*"; }

# What the build and the tests need (apt-get, with sudo unless root; nothing
# when all is there): the gopacket oracle, the packaging tools, wireshark-qt
# and Xvfb for the GUI tests.
scripts/install-packages.sh scripts/debian-packages.txt scripts/test-packages.txt

# The 4.4/4.6 roots are made (once; cached) while the host builds and tests.
WS_SUITES="trixie sid"
ws_tmp=
if [ "${SR_WS_VERSIONS:-1}" = 1 ] && [ "$(id -u)" -eq 0 ]; then
    ws_tmp=$(mktemp -d "${TMPDIR:-/tmp}/sr-wsroots.XXXXXX")
    for s in $WS_SUITES; do
        scripts/wireshark-root.sh "$s" prepare >"$ws_tmp/$s.log" 2>&1 &
        echo $! >"$ws_tmp/$s.pid"
    done
fi

step "ASan+UBSan build"
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DSR_SANITIZE=address,undefined \
      -DSR_BUILD_PLUGIN=OFF
cmake --build build-asan -j"$J"
ctest --test-dir build-asan --output-on-failure -j"$J" -LE 'plugin'

step "TSan build (concurrency tests)"
cmake -S . -B build-tsan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSR_SANITIZE=thread \
      -DSR_BUILD_PLUGIN=OFF -DSR_BUILD_TOOLS=ON -DSR_BUILD_BENCH=OFF
cmake --build build-tsan -j"$J"
ctest --test-dir build-tsan --output-on-failure -L concurrency

step "libFuzzer build (ASan+UBSan, the core instrumented): 30 s per target"
# The corpus replays and seeded runs already ran in the ASan build; this
# fuzzes each target from the committed corpus (label fuzz-long).
CC=clang cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=Debug -DSR_LIBFUZZER=ON \
      -DSR_SANITIZE=address,undefined -DSR_BUILD_PLUGIN=OFF -DSR_BUILD_BENCH=OFF \
      -DSR_FUZZ_SECONDS="${SR_FUZZ_SECONDS:-30}"
cmake --build build-fuzz -j"$J" --target fuzz-core fuzz-decode
ctest --test-dir build-fuzz --output-on-failure -j"$J" -L fuzz-long

step "Plain build with the Wireshark plugin"
# As in the 4.4/4.6 roots: a pointer type Wireshark changed must not slip by.
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo \
      -DCMAKE_C_FLAGS=-Werror=incompatible-pointer-types
cmake --build build -j"$J"
if [ ! -e build/plugins/4.0/epan/safereasm.so ]; then
    echo "test.sh: the Wireshark plugin was not built (is libwireshark-dev 4.0 installed?)" >&2
    exit 1
fi
ctest --test-dir build --output-on-failure -j"$J" -L 'plugin'

step "Packaging: installed tree, consumers, plugin folder, Debian packages"
# The .deb test installs packages system-wide: it runs only when
# SR_TEST_SYSTEM_INSTALL=1 (CI sets it; its machine is thrown away) and as
# root, and is skipped otherwise.
ctest --test-dir build --output-on-failure -L packaging

step "The plugin on Wireshark 4.4 (Debian 13) and 4.6 (Debian unstable)"
if [ -z "$ws_tmp" ]; then
    echo "skipped: needs root (debootstrap, chroot)${SR_WS_VERSIONS:+; SR_WS_VERSIONS=$SR_WS_VERSIONS}"
else
    for s in $WS_SUITES; do
        wait "$(cat "$ws_tmp/$s.pid")" || { cat "$ws_tmp/$s.log"; exit 1; }
        cat "$ws_tmp/$s.log"
        scripts/wireshark-root.sh "$s" test
        scripts/wireshark-root.sh "$s" deb
    done
    rm -rf "$ws_tmp"
fi

step "all tests passed"
