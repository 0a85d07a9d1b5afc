#!/bin/sh
# Make a large real capture (default >= 100 MB) for cost measurements:
# parallel HTTP downloads over loopback between Debian's python3 http.server
# and curl, captured with dumpcap. Needs capture rights (root).
# Usage: scripts/make-big-capture.sh OUT.pcapng [MB per download] [downloads]
set -eu
out=${1:?usage: $0 OUT.pcapng [MB] [N]}
mb=${2:-25}
n=${3:-5}
dir=$(mktemp -d)
trap 'kill $srv $cap 2>/dev/null || true; rm -rf "$dir"' EXIT
head -c $((mb * 1024 * 1024)) /dev/urandom > "$dir/blob"
port=$((20000 + $$ % 10000))
python3 -m http.server "$port" --bind 127.0.0.1 --directory "$dir" >/dev/null 2>&1 &
srv=$!
dumpcap -q -B 512 -i lo -f "tcp port $port" -w "$out" &
cap=$!
sleep 2
i=0
while [ $i -lt "$n" ]; do
    curl -s --limit-rate 8M -o /dev/null "http://127.0.0.1:$port/blob" &
    i=$((i + 1))
done
wait $(jobs -p | grep -v -e "^$srv\$" -e "^$cap\$") 2>/dev/null || true
sleep 1
kill -INT $cap; wait $cap 2>/dev/null || true
ls -l "$out"
