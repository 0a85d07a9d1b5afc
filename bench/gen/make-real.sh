#!/bin/sh
# make-real.sh - a real capture for the benchmark: N parallel HTTP downloads
# of MB MiB each (Debian's python3 http.server and curl) in a private network
# namespace whose loopback has a 1500-byte MTU and no segmentation offloads,
# so the capture holds MTU-sized segments as on a wire; captured by dumpcap.
# Reliable where scripts/make-big-capture.sh was not: waits until the server
# answers, checks every download's size and the capture's size, fails loudly.
# Needs root (unshare -n). Usage: bench/gen/make-real.sh OUT.pcapng [MB] [N]
set -eu
if [ "${SR_IN_NETNS:-}" != 1 ]; then
    exec env SR_IN_NETNS=1 unshare -n "$0" "$@"
fi
out=${1:?usage: $0 OUT.pcapng [MB per download] [downloads]}
mb=${2:-20}
n=${3:-5}
ip link set lo up
ip link set lo mtu 1500
ethtool -K lo tso off gso off gro off >/dev/null 2>&1 || {
    echo "make-real.sh: ethtool could not turn offloads off (apt-get install ethtool)" >&2; exit 1; }
dir=$(mktemp -d)
srv= cap=
trap 'kill $srv $cap 2>/dev/null || true; rm -rf "$dir"' EXIT
head -c $((mb * 1024 * 1024)) /dev/urandom > "$dir/blob"
port=8080
python3 -m http.server "$port" --bind 127.0.0.1 --directory "$dir" >/dev/null 2>&1 &
srv=$!
i=0
until curl -s -o /dev/null "http://127.0.0.1:$port/"; do
    i=$((i + 1)); [ $i -lt 100 ] || { echo "make-real.sh: server not up" >&2; exit 1; }
    sleep 0.1
done
rm -f "$out"
dumpcap -q -B 256 -i lo -f "tcp port $port" -w "$out" 2>"$dir/dumpcap.log" &
cap=$!
i=0
until [ -s "$out" ]; do # dumpcap writes the file header once it captures
    i=$((i + 1)); [ $i -lt 100 ] || { echo "make-real.sh: dumpcap not up" >&2; cat "$dir/dumpcap.log" >&2; exit 1; }
    sleep 0.1
done
sleep 0.5
pids=
i=0
while [ $i -lt "$n" ]; do
    curl -s --limit-rate 16M -o "$dir/got$i" "http://127.0.0.1:$port/blob" &
    pids="$pids $!"
    i=$((i + 1))
done
for p in $pids; do wait "$p"; done
i=0
while [ $i -lt "$n" ]; do
    cmp -s "$dir/blob" "$dir/got$i" || { echo "make-real.sh: download $i incomplete" >&2; exit 1; }
    i=$((i + 1))
done
sleep 1
kill -INT $cap; wait $cap 2>/dev/null || true
cap=
chmod 644 "$out"
size=$(stat -c %s "$out")
want=$((n * mb * 1024 * 1024))
if [ "$size" -lt "$want" ]; then
    echo "make-real.sh: $out is $size bytes, expected at least $want" >&2; exit 1
fi
echo "$out: $size bytes, $n x $mb MiB downloads" >&2
