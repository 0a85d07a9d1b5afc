#!/bin/sh
# plugin-dir.sh - where `cmake --install` puts the Wireshark plugin
# (ctest packaging/plugin-dir; see cmake/SafereasmPluginDir.cmake):
#   no prefix anywhere           -> $HOME/.local/lib/wireshark/plugins/<4.x>/epan
#   --prefix P at install time   -> P/<rel>   (rel: Wireshark's plugin folder
#   -DCMAKE_INSTALL_PREFIX=Q     -> Q/<rel>    relative to its prefix, + /epan)
#   DESTDIR=D                    -> D/<the same path>
#   -DSR_PLUGIN_INSTALL_DIR=X    -> X, also with --prefix
#   setup.sh as a user (prefix ~/.local, X = the personal folder, given at
#   the first configure) -> X, also after a reconfigure
# Configures and builds the plugin in a scratch folder with HOME pointed at
# a scratch folder, so the real home is never touched (checked at the end).
# Environment: SR_SOURCE_DIR, SR_CMAKE.
set -eu
: "${SR_SOURCE_DIR:?}"
cmake=${SR_CMAKE:-cmake}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/sr-pkg-plugindir.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
real_home=${HOME:-/nonexistent}
marker=$tmp/start
touch "$marker"
fail=0
bad() { echo "FAIL: $*"; fail=1; }

home=$tmp/home
mkdir -p "$home"
rel=$(pkg-config --variable=plugindir wireshark | sed "s#^$(pkg-config --variable=prefix wireshark)/##")/epan
personal=$home/.local/lib/wireshark/plugins/$(pkg-config --modversion wireshark | cut -d. -f1,2)/epan
b=$tmp/build
opts="-DSR_BUILD_TESTS=OFF -DSR_BUILD_TOOLS=OFF -DSR_BUILD_BENCH=OFF -DSR_BUILD_SHARED=OFF"

conf() { # conf ARGS...: (re)configure the scratch build
    # shellcheck disable=SC2086
    HOME=$home "$cmake" -S "$SR_SOURCE_DIR" -B "$b" $opts "$@" > "$tmp/conf.log" 2>&1 \
        || { cat "$tmp/conf.log"; exit 1; }
}
# case NAME EXPECTED_FILE [DESTDIR] [cmake --install args...]
case_() {
    name=$1 want=$2 dd=$3
    shift 3
    rm -rf "$tmp/out"
    if ! env HOME="$home" DESTDIR="$dd" "$cmake" --install "$b" --component plugin "$@" \
            > "$tmp/inst.log" 2>&1; then
        bad "$name: install failed"; cat "$tmp/inst.log"; return
    fi
    found=$(find "$tmp" -name safereasm.so ! -path "$tmp/build*" | sort)
    if [ "$found" = "$want" ]; then
        echo "ok: $name -> ${want#"$tmp"/}"
    else
        bad "$name: expected $want, found: $found"
    fi
    # Remove what was installed, for the next case.
    find "$tmp" -name safereasm.so ! -path "$tmp/build*" -delete
}

conf
HOME=$home "$cmake" --build "$b" --target safereasm_plugin -j2 > "$tmp/build.log" 2>&1 \
    || { cat "$tmp/build.log"; exit 1; }
case_ "default prefix, no --prefix" "$personal/safereasm.so" ""
case_ "default prefix, --prefix P" "$tmp/P/$rel/safereasm.so" "" --prefix "$tmp/P"
case_ "default prefix, DESTDIR=D" "$tmp/D$personal/safereasm.so" "$tmp/D"
case_ "default prefix, DESTDIR=D --prefix /usr" "$tmp/D/usr/$rel/safereasm.so" "$tmp/D" --prefix /usr
conf -DCMAKE_INSTALL_PREFIX="$tmp/Q"
case_ "prefix Q" "$tmp/Q/$rel/safereasm.so" ""
case_ "prefix Q, --prefix P" "$tmp/P/$rel/safereasm.so" "" --prefix "$tmp/P"
case_ "prefix Q, DESTDIR=D" "$tmp/D$tmp/Q/$rel/safereasm.so" "$tmp/D"
conf -DSR_PLUGIN_INSTALL_DIR="$tmp/X"
case_ "SR_PLUGIN_INSTALL_DIR=X, --prefix P" "$tmp/X/safereasm.so" "" --prefix "$tmp/P"
conf -DSR_PLUGIN_INSTALL_DIR=mine/epan
case_ "SR_PLUGIN_INSTALL_DIR=relative, --prefix P" "$tmp/P/mine/epan/safereasm.so" "" --prefix "$tmp/P"

# What setup.sh does as a user, in a fresh build folder.
b=$tmp/build-setup
conf -DCMAKE_INSTALL_PREFIX="$home/.local" -DSR_PLUGIN_INSTALL_DIR="$personal"
HOME=$home "$cmake" --build "$b" --target safereasm_plugin -j2 > "$tmp/build.log" 2>&1 \
    || { cat "$tmp/build.log"; exit 1; }
case_ "setup.sh: prefix ~/.local, SR_PLUGIN_INSTALL_DIR=personal" "$personal/safereasm.so" ""
conf
case_ "setup.sh, reconfigured" "$personal/safereasm.so" ""

# The real home was left alone.
if [ -d "$real_home/.local/lib/wireshark" ] &&
   [ -n "$(find "$real_home/.local/lib/wireshark" -cnewer "$marker" 2>/dev/null)" ]; then
    bad "something was written under $real_home/.local/lib/wireshark"
fi
[ "$fail" = 0 ] && echo "packaging/plugin-dir: all checks passed"
exit $fail
