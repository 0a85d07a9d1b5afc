#!/bin/sh
# install.sh - the installed tree is what a library user gets (ctest
# packaging/install): `cmake --install <build> --prefix TMP`, then
#  - libsafereasm.so.0.x.y with soname libsafereasm.so.0 and its symlinks,
#    exporting exactly the SR_API functions of the installed header;
#  - the plugin under TMP (not in any home), exporting only its 4 loader
#    symbols and no sr_* (the core is linked in statically);
#  - a tiny consumer built against TMP with pkg-config and with
#    find_package(safereasm), linked to the shared library, run: it prints
#    sr_version() and reassembles two out-of-order segments;
#  - pkg-config --static gives a working static link too.
# Environment (set by tests/packaging/CMakeLists.txt): SR_BUILD_DIR,
# SR_SOURCE_DIR, SR_CMAKE, SR_LIBDIR (CMAKE_INSTALL_LIBDIR), CC,
# SR_WITH_PLUGIN (1 when the build has the plugin).
set -eu
: "${SR_BUILD_DIR:?}" "${SR_SOURCE_DIR:?}" "${SR_LIBDIR:?}"
cmake=${SR_CMAKE:-cmake}
cc=${CC:-cc}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/sr-pkg-install.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
fail=0
bad() { echo "FAIL: $*"; fail=1; }
ok() { echo "ok: $*"; }

# Nothing of this test may land in a real home folder.
export HOME="$tmp/home"
mkdir -p "$HOME"
prefix=$tmp/prefix
"$cmake" --install "$SR_BUILD_DIR" --prefix "$prefix" > "$tmp/install.log"
case $SR_LIBDIR in /*) libdir=$SR_LIBDIR ;; *) libdir=$prefix/$SR_LIBDIR ;; esac

# --- shared library: soname, symlinks, exported symbols
real=$(cd "$libdir" && ls libsafereasm.so.0.* 2>/dev/null | head -n 1)
[ -n "$real" ] || { bad "no libsafereasm.so.0.* in $libdir"; exit 1; }
soname=$(readelf -d "$libdir/$real" | sed -n 's/.*Library soname: \[\(.*\)\]/\1/p')
[ "$soname" = libsafereasm.so.0 ] && ok "readelf -d $real: SONAME $soname" \
    || bad "SONAME of $real is '$soname'"
[ "$(readlink "$libdir/libsafereasm.so.0")" = "$real" ] \
    && [ "$(readlink "$libdir/libsafereasm.so")" = libsafereasm.so.0 ] \
    && ok "symlinks libsafereasm.so -> libsafereasm.so.0 -> $real" \
    || bad "symlinks: $(ls -l "$libdir"/libsafereasm.so*)"
[ -f "$libdir/libsafereasm.a" ] && ok "static libsafereasm.a installed" || bad "no libsafereasm.a"
nm -D --defined-only "$libdir/$real" | awk '{print $3}' | sort > "$tmp/exported"
sed -n 's/^SR_API[^(]*[ *]\(sr_[a-z0-9_]*\)(.*/\1/p' "$prefix/include/safereasm.h" | sort > "$tmp/api"
if cmp -s "$tmp/exported" "$tmp/api"; then
    ok "exported symbols = the $(wc -l < "$tmp/api") SR_API functions"
else
    bad "exported symbols differ from the header's SR_API functions:"
    diff "$tmp/api" "$tmp/exported" || true
fi
grep -qx sr_version "$tmp/exported" || bad "sr_version not exported"

# --- the plugin: under the prefix, self-contained
if [ "${SR_WITH_PLUGIN:-0}" = 1 ]; then
    plugin=$(find "$prefix" -name safereasm.so)
    case $plugin in
    "$prefix"/*/wireshark/plugins/4.0/epan/safereasm.so) ok "plugin under the prefix: ${plugin#"$tmp"/}" ;;
    *) bad "plugin not under $prefix/.../wireshark/plugins/4.0/epan: '$plugin'" ;;
    esac
    [ -z "$(find "$HOME" -name safereasm.so)" ] || bad "plugin installed into HOME"
    if [ -n "$plugin" ]; then
        syms=$(nm -D --defined-only "$plugin" | awk '{print $3}' | sort | tr '\n' ' ')
        [ "$syms" = "plugin_register plugin_version plugin_want_major plugin_want_minor " ] \
            && ok "plugin exports only: $syms" || bad "plugin exports: $syms"
        readelf -d "$plugin" | grep -q 'libsafereasm' && bad "plugin needs libsafereasm.so"
    fi
fi

# --- consumer, pkg-config way
export PKG_CONFIG_PATH="$libdir/pkgconfig"
src=$SR_SOURCE_DIR/tests/packaging/consumer
if pkg-config --exists safereasm; then
    v=$(pkg-config --modversion safereasm)
    ok "pkg-config --modversion safereasm: $v"
    pkg-config --print-requires-private safereasm | grep -q glib-2.0 \
        || bad "glib-2.0 is not in Requires.private"
    # shellcheck disable=SC2046
    $cc -std=c11 -Wall -Wextra -Werror -o "$tmp/consumer-pc" "$src/consumer.c" \
        $(pkg-config --cflags --libs safereasm) -Wl,-rpath,"$libdir"
    readelf -d "$tmp/consumer-pc" | grep -q 'NEEDED.*\[libsafereasm.so.0\]' \
        && ok "consumer (pkg-config) NEEDED libsafereasm.so.0" \
        || bad "consumer (pkg-config) does not link libsafereasm.so.0"
    if "$tmp/consumer-pc" > "$tmp/out-pc"; then
        ok "consumer (pkg-config): $(tr '\n' ';' < "$tmp/out-pc")"
    else
        bad "consumer (pkg-config) failed: $(cat "$tmp/out-pc")"
    fi
    grep -qx "sr_version: $v (header $v)" "$tmp/out-pc" || bad "sr_version() is not $v"
    # Static: libsafereasm.a plus Requires.private/Libs.private.
    # shellcheck disable=SC2046
    $cc -std=c11 -o "$tmp/consumer-static" "$src/consumer.c" \
        $(pkg-config --cflags safereasm) "$libdir/libsafereasm.a" \
        $(pkg-config --static --libs-only-other --libs-only-l safereasm | sed 's/-lsafereasm//')
    readelf -d "$tmp/consumer-static" | grep -q libsafereasm && bad "static consumer needs the .so"
    "$tmp/consumer-static" > /dev/null && ok "consumer (pkg-config --static, libsafereasm.a) runs" \
        || bad "static consumer failed"
else
    bad "pkg-config does not find safereasm in $PKG_CONFIG_PATH"
fi

# --- consumer, CMake way
if "$cmake" -S "$src" -B "$tmp/consumer-cmake" -DCMAKE_PREFIX_PATH="$prefix" \
        -DCMAKE_BUILD_TYPE=Release > "$tmp/cm.log" 2>&1 \
   && "$cmake" --build "$tmp/consumer-cmake" >> "$tmp/cm.log" 2>&1; then
    exe=$tmp/consumer-cmake/consumer
    readelf -d "$exe" | grep -q 'NEEDED.*\[libsafereasm.so.0\]' \
        && ok "consumer (find_package) NEEDED libsafereasm.so.0" \
        || bad "consumer (find_package) does not link libsafereasm.so.0"
    if "$exe" > "$tmp/out-cm"; then
        ok "consumer (find_package): $(tr '\n' ';' < "$tmp/out-cm")"
    else
        bad "consumer (find_package) failed: $(cat "$tmp/out-cm")"
    fi
else
    bad "consumer (find_package) did not build:"; cat "$tmp/cm.log"
fi
# The version file: a different minor version is not accepted (0.x).
mkdir -p "$tmp/vcheck"
cat > "$tmp/vcheck/CMakeLists.txt" <<'CM'
cmake_minimum_required(VERSION 3.16)
project(v NONE)
find_package(safereasm 0.99 QUIET)
if(safereasm_FOUND)
  message(FATAL_ERROR "safereasm ${safereasm_VERSION} accepted for 0.99")
endif()
CM
"$cmake" -S "$tmp/vcheck" -B "$tmp/vcheck/b" -DCMAKE_PREFIX_PATH="$prefix" > "$tmp/v.log" 2>&1 \
    && ok "find_package(safereasm 0.99) refuses the installed version" \
    || { bad "version check"; cat "$tmp/v.log"; }

[ "$fail" = 0 ] && echo "packaging/install: all checks passed"
exit $fail
