#!/bin/sh
# tshark-as-user.sh - run tshark (or another Wireshark program) with one
# epan plugin loaded from a private personal plugin folder.
#
# Why: when the real uid is root, Wireshark ignores the personal plugin
# folder and WIRESHARK_PLUGIN_DIR without a word (wsutil/plugins.c,
# started_with_special_privs()). CI runs as root, so as root this drops to
# an unprivileged uid with setpriv; otherwise it runs as the caller.
#
# Usage:  SR_PLUGIN=/path/to/safereasm.so tests/lib/tshark-as-user.sh <tshark args>
#
# Environment:
#   SR_PLUGIN        required: the plugin .so to load (copied, not linked, so
#                    the unprivileged user needs no access to the build tree),
#                    or "none" to load only the installed (global) plugins
#   SR_PROGRAM       program to run (default: tshark; e.g. wireshark)
#   SR_RUN_UID       uid to run as when root (default 65534, nobody)
#   SR_RUN_GID       gid to run as when root (default: SR_RUN_UID)
#   SR_TSHARK_HOME   private HOME to use and keep (default: a fresh temporary
#                    folder, removed afterwards)
#   SR_PLUGIN_ABI    plugin folder version (default 4.0)
#
# The private HOME also isolates preferences ($HOME/.config/wireshark).
# Files named in the arguments must be readable by the run uid, including
# every folder on their path; pass absolute paths. The exit status is the
# program's.
set -eu

: "${SR_PLUGIN:?SR_PLUGIN must name the plugin .so to load}"
program=${SR_PROGRAM:-tshark}
abi=${SR_PLUGIN_ABI:-4.0}
uid=${SR_RUN_UID:-65534}
gid=${SR_RUN_GID:-$uid}

if [ "$SR_PLUGIN" != none ] && [ ! -r "$SR_PLUGIN" ]; then
    echo "tshark-as-user.sh: cannot read plugin $SR_PLUGIN" >&2
    exit 2
fi

if [ -n "${SR_TSHARK_HOME:-}" ]; then
    home=$SR_TSHARK_HOME
    mkdir -p "$home"
    cleanup=
else
    home=$(mktemp -d "${TMPDIR:-/tmp}/sr-tshark-home.XXXXXX")
    cleanup=$home
fi
trap '[ -z "$cleanup" ] || rm -rf "$cleanup"' EXIT
trap 'exit 130' INT TERM

plugdir=$home/.local/lib/wireshark/plugins/$abi/epan
mkdir -p "$plugdir" "$home/.config/wireshark"
[ "$SR_PLUGIN" = none ] || cp -f "$SR_PLUGIN" "$plugdir/"
# A safereasm.so in the global plugin folder (setup.sh run as root, the
# .deb) would be loaded instead of this one: with the same file name in
# both folders the global copy wins. Then the program gets a private global
# folder (WIRESHARK_PLUGIN_DIR, which an unprivileged run honours): the
# installed one's plugins, linked, without safereasm.so.
globaldir=
if [ "$SR_PLUGIN" != none ]; then
    for g in /usr/lib/*/wireshark/plugins /usr/lib/wireshark/plugins; do
        [ -e "$g/$abi/epan/safereasm.so" ] || continue
        globaldir=$home/global-plugins
        for sub in "$g/$abi"/*/; do
            kind=${sub%/}
            kind=${kind##*/}
            mkdir -p "$globaldir/$abi/$kind"
            for f in "$sub"*; do
                [ "${f##*/}" = safereasm.so ] || ln -sf "$f" "$globaldir/$abi/$kind/"
            done
        done
        break
    done
fi
chmod -R a+rX "$home"

set +e
if [ "$(id -u)" = 0 ]; then
    # The program writes its profile under HOME (the GUI always does).
    chown -R "$uid:$gid" "$home"
    setpriv --reuid="$uid" --regid="$gid" --clear-groups \
        env -u WIRESHARK_PLUGIN_DIR -u WIRESHARK_CONFIG_DIR \
        HOME="$home" XDG_CONFIG_HOME="$home/.config" \
        ${globaldir:+WIRESHARK_PLUGIN_DIR="$globaldir"} "$program" "$@"
else
    env -u WIRESHARK_PLUGIN_DIR -u WIRESHARK_CONFIG_DIR \
        HOME="$home" XDG_CONFIG_HOME="$home/.config" \
        ${globaldir:+WIRESHARK_PLUGIN_DIR="$globaldir"} "$program" "$@"
fi
rc=$?
set -e
exit $rc
