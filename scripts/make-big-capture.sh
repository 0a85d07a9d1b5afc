#!/bin/sh
# Make a large real capture (default >= 100 MB) for cost measurements:
# parallel HTTP downloads over loopback between Debian's python3 http.server
# and curl, captured with dumpcap. Needs capture rights (root).
# Usage: scripts/make-big-capture.sh OUT.pcapng [MB per download] [downloads]
# Waits for the server and for dumpcap before the downloads start, and fails
# (exit 1) when a download fails or the capture holds less than the bytes
# that were sent: a benchmark input that is not what it claims is worse
# than none.
set -eu
out=${1:?usage: $0 OUT.pcapng [MB] [N]}
mb=${2:-25}
n=${3:-5}
dir=$(mktemp -d)
srv=
cap=
trap 'kill $srv $cap 2>/dev/null || true; rm -rf "$dir"' EXIT
head -c $((mb * 1024 * 1024)) /dev/urandom > "$dir/blob"
port=$((20000 + $$ % 10000))
python3 -m http.server "$port" --bind 127.0.0.1 --directory "$dir" >/dev/null 2>&1 &
srv=$!
# The server answers (a small request, not captured: dumpcap is not up yet).
tries=0
until curl -s -o /dev/null -r 0-0 "http://127.0.0.1:$port/blob"; do
    tries=$((tries + 1))
    [ "$tries" -lt 150 ] || { echo "make-big-capture.sh: the HTTP server did not start" >&2; exit 1; }
    sleep 0.2
done
rm -f "$out"
dumpcap -q -B 512 -i lo -f "tcp port $port" -w "$out" 2>"$dir/dumpcap.err" &
cap=$!
# dumpcap is capturing once it has written the file's header.
tries=0
until [ -s "$out" ]; do
    tries=$((tries + 1))
    if [ "$tries" -ge 150 ] || ! kill -0 "$cap" 2>/dev/null; then
        echo "make-big-capture.sh: dumpcap did not start:" >&2
        cat "$dir/dumpcap.err" >&2
        exit 1
    fi
    sleep 0.2
done
sleep 0.5
pids=
i=0
while [ $i -lt "$n" ]; do
    curl -sf --limit-rate 8M -o "$dir/got.$i" "http://127.0.0.1:$port/blob" &
    pids="$pids $!"
    i=$((i + 1))
done
failed=0
for p in $pids; do
    wait "$p" || failed=$((failed + 1))
done
sleep 1
kill -INT "$cap"
wait "$cap" 2>/dev/null || true
cap=
[ "$failed" -eq 0 ] || { echo "make-big-capture.sh: $failed download(s) failed" >&2; exit 1; }
size=$(stat -c %s "$out")
want=$((mb * 1024 * 1024 * n))
if [ "$size" -lt "$want" ]; then
    echo "make-big-capture.sh: $out has $size bytes, less than the $want sent" >&2
    exit 1
fi
ls -l "$out"
