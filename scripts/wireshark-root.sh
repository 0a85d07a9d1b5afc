#!/bin/sh
# wireshark-root.sh - build and test the plugin against another Debian
# release's Wireshark, in a debootstrap root made once and cached.
#
#   scripts/wireshark-root.sh SUITE prepare      make the root (cached)
#   scripts/wireshark-root.sh SUITE test [CTEST_ARGS...]
#                                               build the project inside it and
#                                               run the plugin tests there
#
# SUITE is a Debian suite: trixie (Wireshark 4.4), sid (4.6), bookworm (4.0).
# The mirror is the one apt on this machine uses (read from its sources,
# never a fixed host). Roots live in $SR_ROOTS_DIR (default
# /var/cache/safereasm-roots/SUITE); the source tree is bind-mounted at /src
# and built in /build inside the root. Needs root (debootstrap, chroot,
# mount); the tests inside run tshark as an unprivileged user, as on the host.
set -eu

SUITE=${1:?usage: wireshark-root.sh SUITE prepare|test [ctest args]}
ACTION=${2:-test}
[ $# -ge 2 ] && shift 2 || shift $#
SRC=$(cd "$(dirname "$0")/.." && pwd)
ROOTS=${SR_ROOTS_DIR:-/var/cache/safereasm-roots}
ROOT=$ROOTS/$SUITE
PKGS="build-essential cmake pkg-config ca-certificates python3 util-linux
      libglib2.0-dev libpcap-dev zlib1g-dev libwireshark-dev tshark"

say() { printf 'wireshark-root.sh [%s]: %s\n' "$SUITE" "$*" >&2; }

# The Debian mirror apt uses here: deb822 .sources files first, then the
# one-line format. The security archive is not a full mirror: skipped.
mirror() {
    for f in /etc/apt/sources.list.d/*.sources; do
        [ -r "$f" ] || continue
        awk '/^URIs:/ { for (i = 2; i <= NF; i++) if ($i !~ /security/) { print $i; exit } }' "$f"
    done | head -n 1 | grep . && return 0
    cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
        awk '$1 == "deb" && $0 !~ /security/ { for (i = 2; i <= NF; i++) if ($i ~ /^(https?|file):/) { print $i; exit } }' |
        head -n 1 | grep . && return 0
    say "no Debian mirror found in apt's sources"
    return 1
}

in_root() { chroot "$ROOT" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 "$@"; }

prepare() {
    if [ -e "$ROOT/.safereasm-ready" ]; then
        say "root ready at $ROOT"
        return 0
    fi
    [ "$(id -u)" -eq 0 ] || { say "needs root (debootstrap)"; exit 1; }
    command -v debootstrap >/dev/null || { say "debootstrap is not installed"; exit 1; }
    M=$(mirror)
    say "debootstrap $SUITE from $M into $ROOT"
    rm -rf "$ROOT"
    mkdir -p "$ROOTS"
    debootstrap --variant=minbase "$SUITE" "$ROOT" "$M" >"$ROOTS/$SUITE.debootstrap.log" 2>&1 || {
        tail -n 20 "$ROOTS/$SUITE.debootstrap.log" >&2
        exit 1
    }
    echo "deb $M $SUITE main" >"$ROOT/etc/apt/sources.list"
    # The mirror is a snapshot: sid's Release file has expired.
    echo 'Acquire::Check-Valid-Until "false";' >"$ROOT/etc/apt/apt.conf.d/99snapshot"
    in_root apt-get update >"$ROOTS/$SUITE.apt.log" 2>&1
    # shellcheck disable=SC2086
    in_root env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        $PKGS >>"$ROOTS/$SUITE.apt.log" 2>&1 || {
        tail -n 20 "$ROOTS/$SUITE.apt.log" >&2
        exit 1
    }
    touch "$ROOT/.safereasm-ready"
    say "root ready: $(in_root tshark --version | head -n 1)"
}

run_tests() {
    prepare
    mkdir -p "$ROOT/src" "$ROOT/proc" "$ROOT/dev"
    mount --bind "$SRC" "$ROOT/src"
    mount -t proc proc "$ROOT/proc"
    mount --bind /dev "$ROOT/dev"
    trap 'umount "$ROOT/dev" "$ROOT/proc" "$ROOT/src" 2>/dev/null || true' EXIT INT TERM
    say "building in $ROOT/build ($(in_root tshark --version | head -n 1))"
    in_root sh -c 'cmake -S /src -B /build -DCMAKE_BUILD_TYPE=RelWithDebInfo \
            -DSR_BUILD_BENCH=OFF >/build.cmake.log 2>&1 || { tail -n 30 /build.cmake.log; exit 1; }
        cmake --build /build -j"$(nproc)" 2>&1 | grep -E "warning|error" || true
        cmake --build /build -j"$(nproc)" >/dev/null' || exit 1
    in_root ctest --test-dir /build --output-on-failure -j"$(nproc)" -L plugin "$@"
}

case "$ACTION" in
prepare) prepare ;;
test) run_tests "$@" ;;
*) say "unknown action $ACTION"; exit 2 ;;
esac
