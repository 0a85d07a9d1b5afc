#!/bin/sh
# deb.sh - the Debian packages work when installed (ctest packaging/deb,
# run by .ci/run): builds them with scripts/build-deb.sh, installs them
# with `apt-get install ./x.deb`, then
#  - the plugin is in Wireshark's global folder, and tshark run as an
#    unprivileged user (tests/lib/tshark-as-user.sh, no personal plugin)
#    lists it from there and extracts safereasm.chunk.data from
#    captures/crafted/gap.pcap; root's tshark loads it too;
#  - safereasm-pcap runs from /usr/bin on the same capture;
#  - the consumer builds against /usr with pkg-config and find_package and
#    runs with /usr/lib/<multiarch>/libsafereasm.so.0;
# and removes the packages again (also on failure), checking their files
# are gone. Changes the machine: root only, and only with
# SR_TEST_SYSTEM_INSTALL=1; else it exits 77 (skipped).
# Environment: SR_SOURCE_DIR, SR_CMAKE, CC.
set -eu
: "${SR_SOURCE_DIR:?}"
if [ "$(id -u)" != 0 ] || [ "${SR_TEST_SYSTEM_INSTALL:-0}" != 1 ]; then
    echo "packaging/deb: skipped (needs root and SR_TEST_SYSTEM_INSTALL=1: it installs packages)"
    exit 77
fi
cmake=${SR_CMAKE:-cmake}
cc=${CC:-cc}
pkgs="safereasm-wireshark-plugin safereasm-pcap libsafereasm-dev libsafereasm0"
for p in $pkgs; do
    if dpkg-query -W -f '${Status}' "$p" 2>/dev/null | grep -q 'ok installed'; then
        echo "packaging/deb: $p is already installed; not touching this machine"
        exit 1
    fi
done
# Nor over an installation made without packages (setup.sh as root,
# cmake --install): the packages would overwrite its plugin, the purge
# delete it, and the consumers below find its /usr/local copy first.
global=$(pkg-config --variable=plugindir wireshark)/epan
for f in "$global/safereasm.so" /usr/local/lib/libsafereasm.so.0 \
         /usr/local/lib/*/libsafereasm.so.0 /usr/local/bin/safereasm-pcap; do
    if [ -e "$f" ] && ! dpkg -S "$f" > /dev/null 2>&1; then
        echo "packaging/deb: $f is installed, not by a package (setup.sh? uninstall:" \
             "xargs rm -f < build-setup/install_manifest.txt); not touching this machine"
        exit 1
    fi
done
tmp=$(mktemp -d "${TMPDIR:-/tmp}/sr-pkg-deb.XXXXXX")
chmod 755 "$tmp"
installed=0
cleanup() {
    if [ "$installed" = 1 ]; then
        # shellcheck disable=SC2086
        apt-get purge -y -q $pkgs > "$tmp/purge.log" 2>&1 || cat "$tmp/purge.log"
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
fail=0
bad() { echo "FAIL: $*"; fail=1; }
ok() { echo "ok: $*"; }
t0=$(date +%s)

export HOME="$tmp/home"
mkdir -p "$HOME"
debs=$(sh "$SR_SOURCE_DIR/scripts/build-deb.sh" "$tmp/build")
t1=$(date +%s)
for d in $debs; do
    echo "built: ${d##*/}"
    dpkg-deb -f "$d" Package Version Depends | sed 's/^/    /'
done
plugdeb=$(echo "$debs" | grep safereasm-wireshark-plugin_)
dpkg-deb -f "$plugdeb" Depends | grep -q 'libwireshark16 (<< 4\.1~)' \
    || bad "plugin package does not depend on libwireshark16 (<< 4.1~)"

# shellcheck disable=SC2086
if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $debs \
        > "$tmp/install.log" 2>&1; then
    cat "$tmp/install.log"; bad "apt-get install failed"; exit 1
fi
installed=1
t2=$(date +%s)
ok "apt-get install ./*.deb"

dpkg -L safereasm-wireshark-plugin | grep -qx "$global/safereasm.so" \
    && ok "plugin installed as $global/safereasm.so" || bad "plugin not in $global"
multi=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || gcc -print-multiarch)
[ -f "/usr/lib/$multi/libsafereasm.so.0" ] && ok "/usr/lib/$multi/libsafereasm.so.0" \
    || bad "no /usr/lib/$multi/libsafereasm.so.0"
ldconfig -p | grep -q 'libsafereasm.so.0 ' && ok "ldconfig knows libsafereasm.so.0" \
    || bad "libsafereasm.so.0 not in the ld.so cache"

# tshark as an unprivileged user, with the global plugins only.
cp "$SR_SOURCE_DIR/captures/crafted/gap.pcap" "$tmp/gap.pcap"
chmod a+r "$tmp/gap.pcap"
asuser() { SR_PLUGIN=none sh "$SR_SOURCE_DIR/tests/lib/tshark-as-user.sh" "$@"; }
line=$(asuser -G plugins 2>&1 | grep '^safereasm\.so' || true)
case $line in
*"$global/safereasm.so"*) ok "tshark -G plugins (unprivileged): $(echo "$line" | tr -s '\t' ' ')" ;;
*) bad "tshark -G plugins (unprivileged) does not list $global/safereasm.so: '$line'" ;;
esac
asuser -r "$tmp/gap.pcap" -2 -Y safereasm.chunk -T fields -e frame.number \
    -e safereasm.chunk.conn_id -e safereasm.chunk.data > "$tmp/fields" 2>&1 || true
if grep -q '574f524c44' "$tmp/fields"; then   # "WORLD", released after the gap
    ok "safereasm.chunk.data extracted: $(tr '\t\n' ' ;' < "$tmp/fields")"
else
    bad "no safereasm.chunk.data 'WORLD' from gap.pcap:"; cat "$tmp/fields"
fi
tshark -G plugins 2>/dev/null | grep -q "^safereasm\.so.*$global" \
    && ok "root's tshark loads it too (global folder)" || bad "root's tshark does not load it"

# The tool.
if /usr/bin/safereasm-pcap "$tmp/gap.pcap" > "$tmp/tool.out" 2>&1; then
    ok "safereasm-pcap gap.pcap: $(wc -l < "$tmp/tool.out") lines"
else
    bad "safereasm-pcap failed:"; cat "$tmp/tool.out"
fi

# A consumer of the installed library, both ways.
src=$SR_SOURCE_DIR/tests/packaging/consumer
# shellcheck disable=SC2046
if $cc -std=c11 -Wall -Wextra -Werror -o "$tmp/c-pc" "$src/consumer.c" \
        $(pkg-config --cflags --libs safereasm) && "$tmp/c-pc" > "$tmp/c-pc.out"; then
    ok "consumer (pkg-config, /usr): $(grep -E 'sr_version|stream' "$tmp/c-pc.out" | tr '\n' ';')"
else
    bad "consumer (pkg-config) against /usr"
fi
if "$cmake" -S "$src" -B "$tmp/c-cm" > "$tmp/c-cm.log" 2>&1 &&
   "$cmake" --build "$tmp/c-cm" >> "$tmp/c-cm.log" 2>&1 && "$tmp/c-cm/consumer" > /dev/null; then
    ldd "$tmp/c-cm/consumer" | grep -q "lib/$multi/libsafereasm.so.0" \
        && ok "consumer (find_package, /usr) runs with /usr/lib/$multi/libsafereasm.so.0" \
        || bad "consumer (find_package) does not use /usr/lib/$multi/libsafereasm.so.0"
else
    bad "consumer (find_package) against /usr:"; cat "$tmp/c-cm.log"
fi

# Remove, and check nothing is left.
t3=$(date +%s)
# shellcheck disable=SC2086
apt-get purge -y -q $pkgs > "$tmp/purge.log" 2>&1 || { cat "$tmp/purge.log"; bad "apt-get purge"; }
installed=0
[ ! -e "$global/safereasm.so" ] && [ ! -e "/usr/lib/$multi/libsafereasm.so.0" ] \
    && [ ! -e /usr/bin/safereasm-pcap ] && [ ! -e /usr/include/safereasm.h ] \
    && ok "apt-get purge removed every file" || bad "files left after purge"
t4=$(date +%s)
echo "times: build+cpack $((t1 - t0)) s, install $((t2 - t1)) s, checks $((t3 - t2)) s, purge $((t4 - t3)) s"
[ "$fail" = 0 ] && echo "packaging/deb: all checks passed"
exit $fail
