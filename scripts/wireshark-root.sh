#!/bin/sh
# wireshark-root.sh - build and test the plugin against another Debian
# release's Wireshark, in a debootstrap root made once and cached.
#
#   scripts/wireshark-root.sh SUITE prepare   make the root (cached)
#   scripts/wireshark-root.sh SUITE test [CTEST_ARGS...]
#           build the project inside it and run the plugin tests there
#           (default: the ctest label wsversions, the subset chosen for the
#           other releases; pass e.g. -L plugin for all)
#   scripts/wireshark-root.sh SUITE deb       build the .deb files there
#           (scripts/build-deb.sh), check the plugin package depends on
#           that release's libwireshark, install it in the root, check
#           tshark -G plugins lists it, and purge it again
#   scripts/wireshark-root.sh SUITE setup     run setup.sh there as an
#           unprivileged user on a copy of the tree (dependencies present,
#           build, install to ~/.local, demo), then check its tshark lists
#           the plugin
#
# SUITE is a Debian suite: trixie (Wireshark 4.4), sid (4.6), bookworm (4.0).
# The mirror is the one apt on this machine uses (read from its sources,
# never a fixed host). Roots live in $SR_ROOTS_DIR (default
# /var/cache/safereasm-roots/SUITE), with what setup.sh needs
# (scripts/debian-packages.txt) and file (for CPack). The source tree is
# bind-mounted at /src and built in /build inside the root, with
# -Werror=incompatible-pointer-types. One user of a root at a time (a lock
# file next to it). Needs root (debootstrap, chroot, mount); the tests
# inside run tshark as an unprivileged user, as on the host.
set -eu

SUITE=${1:?usage: wireshark-root.sh SUITE prepare|test|deb|setup [ctest args]}
ACTION=${2:-test}
[ $# -ge 2 ] && shift 2 || shift $#
SRC=$(cd "$(dirname "$0")/.." && pwd)
ROOTS=${SR_ROOTS_DIR:-/var/cache/safereasm-roots}
ROOT=$ROOTS/$SUITE
PKGS="$(grep -v '^#' "$SRC/scripts/debian-packages.txt" | tr '\n' ' ')file"

say() { printf 'wireshark-root.sh [%s]: %s\n' "$SUITE" "$*" >&2; }

[ "$(id -u)" -eq 0 ] || { say "needs root (debootstrap, chroot, mount)"; exit 1; }

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

apt_in_root() {
    # shellcheck disable=SC2086
    in_root env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        $PKGS >>"$ROOTS/$SUITE.apt.log" 2>&1 || {
        tail -n 20 "$ROOTS/$SUITE.apt.log" >&2
        exit 1
    }
}

prepare() {
    mkdir -p "$ROOTS"
    if [ -e "$ROOT/.safereasm-ready" ]; then
        # A root made with a shorter package list gets the rest.
        if [ "$(cat "$ROOT/.safereasm-ready")" != "$PKGS" ]; then
            say "installing the packages added since the root was made"
            apt_in_root
            echo "$PKGS" >"$ROOT/.safereasm-ready"
        fi
        say "root ready at $ROOT"
        return 0
    fi
    # test.sh prepares the suites at once: on a machine without debootstrap
    # both went to install it, and the second found apt's lock held (a
    # clean-clone CI run, 2026-12-02). One installs; the other waits for
    # the lock and finds it there.
    {
        flock 9
        command -v debootstrap >/dev/null || {
            say "installing debootstrap"
            echo debootstrap >"$ROOTS/.debootstrap-list"
            "$SRC/scripts/install-packages.sh" "$ROOTS/.debootstrap-list"
        }
    } 9>"$ROOTS/.host-apt.lock"
    M=$(mirror)
    say "debootstrap $SUITE from $M into $ROOT"
    rm -rf "$ROOT"
    debootstrap --variant=minbase "$SUITE" "$ROOT" "$M" >"$ROOTS/$SUITE.debootstrap.log" 2>&1 || {
        tail -n 20 "$ROOTS/$SUITE.debootstrap.log" >&2
        exit 1
    }
    echo "deb $M $SUITE main" >"$ROOT/etc/apt/sources.list"
    # The mirror may be a snapshot whose Release file has expired (sid's).
    echo 'Acquire::Check-Valid-Until "false";' >"$ROOT/etc/apt/apt.conf.d/99snapshot"
    in_root apt-get update >"$ROOTS/$SUITE.apt.log" 2>&1
    apt_in_root
    echo "$PKGS" >"$ROOT/.safereasm-ready"
    say "root ready: $(in_root tshark --version 2>/dev/null | head -n 1)"
}

mounted=
unmount_all() {
    for m in $mounted; do umount "$m" 2>/dev/null || true; done
    mounted=
}
mount_all() {
    mkdir -p "$ROOT/src" "$ROOT/proc" "$ROOT/dev"
    # A run killed before its cleanup (a stopped CI job) leaves its mounts,
    # the source one maybe of a tree deleted since: take them down first.
    for m in "$ROOT/src" "$ROOT/proc" "$ROOT/dev"; do
        while mountpoint -q "$m"; do umount "$m" || break; done
    done
    mount --bind "$SRC" "$ROOT/src" && mounted="$ROOT/src $mounted"
    mount -t proc proc "$ROOT/proc" && mounted="$ROOT/proc $mounted"
    mount --bind /dev "$ROOT/dev" && mounted="$ROOT/dev $mounted"
}

build() {
    say "building in $ROOT/build ($(in_root tshark --version 2>/dev/null | head -n 1))"
    in_root sh -c 'cmake -S /src -B /build -DCMAKE_BUILD_TYPE=RelWithDebInfo \
            -DSR_BUILD_BENCH=OFF -DCMAKE_C_FLAGS=-Werror=incompatible-pointer-types \
            >/build.cmake.log 2>&1 || { tail -n 30 /build.cmake.log; exit 1; }
        cmake --build /build -j"$(nproc)" >/build.log 2>&1 || { grep -B2 -A8 "error" /build.log | head -n 60; exit 1; }
        grep -E "warning:" /build.log || true' || exit 1
    [ -e "$ROOT/build/plugins/$(ws_majmin)/epan/safereasm.so" ] || {
        say "the plugin was not built"; exit 1; }
}

ws_majmin() { in_root pkg-config --modversion wireshark | cut -d. -f1,2; }

# The .deb files of this release: Depends names its libwireshark soname
# package, and the installed package loads into its tshark.
deb() {
    in_root rm -rf /build-deb
    debs=$(in_root sh /src/scripts/build-deb.sh /build-deb) || exit 1
    plug=$(echo "$debs" | grep safereasm-wireshark-plugin_)
    lib=$(in_root sh -c 'dpkg-query -S "$(readlink -f "$(pkg-config --variable=libdir wireshark)/libwireshark.so")"' |
          cut -d: -f1)
    dep=$(in_root dpkg-deb -f "$plug" Depends)
    say "$(basename "$plug"): Depends: $dep"
    mm=$(ws_majmin)
    next="${mm%.*}.$((${mm#*.} + 1))~"
    echo "$dep" | grep -q "$lib (<< $next)" || { say "FAIL: does not depend on $lib (<< $next)"; exit 1; }
    # shellcheck disable=SC2086
    in_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
        $debs >"$ROOTS/$SUITE.deb.log" 2>&1 || { tail -n 20 "$ROOTS/$SUITE.deb.log" >&2; exit 1; }
    # As nobody, with no personal plugin: the global folder only.
    listed=$(in_root setpriv --reuid=65534 --regid=65534 --clear-groups env HOME=/tmp \
             tshark -G plugins | grep safereasm || true)
    in_root env DEBIAN_FRONTEND=noninteractive apt-get purge -y -q \
        safereasm-wireshark-plugin safereasm-pcap libsafereasm-dev libsafereasm0 \
        >>"$ROOTS/$SUITE.deb.log" 2>&1
    [ -n "$listed" ] || { say "FAIL: the installed package's tshark does not list safereasm"; exit 1; }
    say "tshark -G plugins: $listed"
}

# setup.sh as a user would run it on this release (its packages are there,
# so it installs none), on a copy of the tree owned by that user.
setup() {
    in_root rm -rf /tmp/sr-setup
    in_root mkdir -p /tmp/sr-setup/home
    (cd "$SRC" && tar --exclude='./build*' --exclude=./.git -cf - .) |
        in_root tar -xf - -C /tmp/sr-setup --no-same-owner
    in_root chown -R 65534:65534 /tmp/sr-setup
    in_root setpriv --reuid=65534 --regid=65534 --clear-groups \
        env HOME=/tmp/sr-setup/home PATH=/usr/bin:/bin sh -c \
        'cd /tmp/sr-setup && ./setup.sh >setup.log 2>&1 || { tail -n 30 setup.log; exit 1; }
         tail -n 12 setup.log' || exit 1
    listed=$(in_root setpriv --reuid=65534 --regid=65534 --clear-groups \
             env HOME=/tmp/sr-setup/home tshark -G plugins | grep safereasm || true)
    [ -n "$listed" ] || { say "FAIL: after setup.sh, tshark -G plugins does not list safereasm"; exit 1; }
    say "tshark -G plugins: $listed"
    in_root rm -rf /tmp/sr-setup
}

mkdir -p "$ROOTS"
exec 9>"$ROOTS/$SUITE.lock"
flock 9
case "$ACTION" in
prepare) prepare ;;
test|deb|setup)
    prepare
    trap 'unmount_all' EXIT
    trap 'exit 130' INT TERM
    mount_all
    case "$ACTION" in
    test)
        build
        [ $# -gt 0 ] || set -- -L wsversions
        in_root ctest --test-dir /build --output-on-failure -j"$(nproc)" "$@"
        ;;
    deb) deb ;;
    setup) setup ;;
    esac
    ;;
*) say "unknown action $ACTION"; exit 2 ;;
esac
