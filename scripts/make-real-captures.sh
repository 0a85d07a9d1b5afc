#!/bin/bash
# make-real-captures.sh - real Linux TCP transfers under loss, reordering,
# duplication and delay, captured on both ends, with the SHA-256 of every
# payload that was sent.
#
#   client netns  <-veth->  bridge netns (scripts/impair-bridge.py)  <-veth->  server netns
#   10.77.0.1 fd77::1                                                        10.77.0.2 fd77::2
#
# The kernel here has no netem qdisc, so the impairment is the user-space
# AF_PACKET bridge (seeded, reproducible decisions). Transfers, all at once:
# HTTP downloads (python3 -m http.server + curl) over IPv4 and IPv6, uploads
# with socat over IPv4 and IPv6, and simultaneous both-way socat transfers
# over IPv4 and IPv6. tshark captures on the client and on the server side.
#
# usage: scripts/make-real-captures.sh [-o OUTDIR] [-p PROFILE] [-s SEED] [-k KIB]
#   PROFILE: mild (loss 1%, reorder 10%, dup 1%) | harsh (loss 5%, reorder 25%,
#            dup 5%) | both (default)
#   KIB: payload size of each transfer in KiB (default 160; sizes vary +-25%)
# Writes OUTDIR/<profile>-s<seed>-{client,server}.pcapng, OUTDIR/transfers.tsv
# (one row per payload) and OUTDIR/MANIFEST.md. Needs root, iproute2,
# ethtool, tshark, socat, curl, python3. Removes everything it created
# (namespaces, veths, processes) on exit, also on failure.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
OUT=captures/real
PROFILES=both
SEED=1
KIB=160
while getopts "o:p:s:k:h" o; do
  case $o in
    o) OUT=$OPTARG ;;
    p) PROFILES=$OPTARG ;;
    s) SEED=$OPTARG ;;
    k) KIB=$OPTARG ;;
    *) sed -n '2,25p' "$0"; exit 2 ;;
  esac
done
[ "$PROFILES" = both ] && PROFILES="mild harsh"
for t in ip ethtool tshark socat curl python3; do
  command -v $t >/dev/null || { echo "make-real-captures: $t not found" >&2; exit 1; }
done
[ "$(id -u)" = 0 ] || { echo "make-real-captures: needs root (network namespaces)" >&2; exit 1; }

mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
WORK=$(mktemp -d /tmp/sr-real.XXXXXX)
chmod 755 "$WORK"
P=sr$$                      # prefix of every name we create (interface names <= 15 chars)
NC=${P}c NB=${P}b NS=${P}s  # namespaces
PIDS=()

cleanup() {
  set +e
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null; done
  sleep 0.2
  for pid in "${PIDS[@]}"; do kill -9 "$pid" 2>/dev/null; done
  for ns in $NC $NB $NS; do ip netns del $ns 2>/dev/null; done
  rm -rf "$WORK"
}
trap cleanup EXIT

in_ns() { local ns=$1; shift; ip netns exec "$ns" "$@"; }

setup_net() {
  for ns in $NC $NB $NS; do ip netns add $ns; in_ns $ns ip link set lo up; done
  ip link add ${P}c0 type veth peer name ${P}bc
  ip link add ${P}s0 type veth peer name ${P}bs
  ip link set ${P}c0 netns $NC; ip link set ${P}bc netns $NB
  ip link set ${P}s0 netns $NS; ip link set ${P}bs netns $NB
  # Offloads off: frames must be MTU-sized with real checksums, since the
  # bridge copies them through user space.
  for pair in "$NC ${P}c0" "$NB ${P}bc" "$NB ${P}bs" "$NS ${P}s0"; do
    set -- $pair
    in_ns $1 ethtool -K $2 tx off rx off tso off gso off gro off >/dev/null 2>&1 || true
  done
  in_ns $NB sysctl -qw net.ipv6.conf.all.disable_ipv6=1
  in_ns $NB ip link set ${P}bc up; in_ns $NB ip link set ${P}bs up
  in_ns $NC ip addr add 10.77.0.1/24 dev ${P}c0
  in_ns $NC ip addr add fd77::1/64 dev ${P}c0 nodad
  in_ns $NS ip addr add 10.77.0.2/24 dev ${P}s0
  in_ns $NS ip addr add fd77::2/64 dev ${P}s0 nodad
  in_ns $NC ip link set ${P}c0 up; in_ns $NS ip link set ${P}s0 up
}

wait_for() { # file pattern seconds
  for _ in $(seq $(($3 * 10))); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done
  echo "make-real-captures: timed out waiting for '$2' in $1" >&2; cat "$1" >&2; return 1
}

# payload NAME BYTES SEED: a reproducible random file, prints its sha256
payload() {
  python3 -c 'import random,sys; sys.stdout.buffer.write(random.Random(int(sys.argv[2])).randbytes(int(sys.argv[1])))' \
    "$2" "$3" > "$WORK/$1"
  sha256sum "$WORK/$1" | cut -d' ' -f1
}

sha() { sha256sum "$1" | cut -d' ' -f1; }

run_profile() {
  local prof=$1 loss reorder dup
  case $prof in
    mild) loss=0.01 reorder=0.10 dup=0.01 ;;
    harsh) loss=0.05 reorder=0.25 dup=0.05 ;;
    *) echo "unknown profile $prof" >&2; exit 2 ;;
  esac
  local name=$prof-s$SEED
  setup_net
  in_ns $NB python3 "$HERE/impair-bridge.py" ${P}bc ${P}bs --seed $SEED --loss $loss \
    --reorder $reorder --dup $dup --delay 2 --jitter 1 --reorder-delay 6 \
    > "$WORK/bridge.json" 2> "$WORK/bridge.err" &
  local bridge=$!; PIDS+=($bridge)
  wait_for "$WORK/bridge.err" ready 10

  for side in client server; do
    local ns=$NC dev=${P}c0
    [ $side = server ] && ns=$NS dev=${P}s0
    in_ns $ns tshark -n -q -i $dev -f tcp -w "$WORK/$name-$side.pcapng" > /dev/null 2> "$WORK/tshark-$side.err" &
    PIDS+=($!); eval "TS_$side=$!"
  done
  wait_for "$WORK/tshark-client.err" "Capturing on" 20
  wait_for "$WORK/tshark-server.err" "Capturing on" 20

  # Payloads: sizes vary so that no two transfers look alike.
  local b=$((KIB * 1024)) s=$((SEED * 100))
  mkdir -p "$WORK/www"
  local rows=()
  h1=$(payload www/dl4.bin $((b)) $((s + 1)))
  h2=$(payload www/dl6.bin $((b * 5 / 4)) $((s + 2)))
  h3=$(payload up4.bin $((b * 3 / 4)) $((s + 3)))
  h4=$(payload up6.bin $((b * 7 / 8)) $((s + 4)))
  h5c=$(payload bi4c.bin $((b / 2)) $((s + 5))); h5s=$(payload bi4s.bin $((b * 9 / 10)) $((s + 6)))
  h6c=$(payload bi6c.bin $((b * 6 / 10)) $((s + 7))); h6s=$(payload bi6s.bin $((b / 3)) $((s + 8)))

  # Servers.
  (cd "$WORK/www" && exec ip netns exec $NS python3 -m http.server 8080 --bind :: ) > /dev/null 2> "$WORK/http.err" &
  PIDS+=($!)
  in_ns $NS socat -u TCP4-LISTEN:9000,reuseaddr CREATE:"$WORK/got-up4.bin" & PIDS+=($!)
  in_ns $NS socat -u TCP6-LISTEN:9001,reuseaddr CREATE:"$WORK/got-up6.bin" & PIDS+=($!)
  in_ns $NS socat -t 10 TCP4-LISTEN:9002,reuseaddr OPEN:"$WORK/bi4s.bin",rdonly\!\!CREATE:"$WORK/got-bi4c.bin" & PIDS+=($!)
  in_ns $NS socat -t 10 TCP6-LISTEN:9003,reuseaddr OPEN:"$WORK/bi6s.bin",rdonly\!\!CREATE:"$WORK/got-bi6c.bin" & PIDS+=($!)
  sleep 1

  # Clients, all at once, each bounded in time.
  local cpids=()
  in_ns $NC timeout 120 curl -sS -o "$WORK/got-dl4.bin" http://10.77.0.2:8080/dl4.bin & cpids+=($!)
  in_ns $NC timeout 120 curl -sS -g -o "$WORK/got-dl6.bin" "http://[fd77::2]:8080/dl6.bin" & cpids+=($!)
  in_ns $NC timeout 120 socat -u OPEN:"$WORK/up4.bin",rdonly TCP4:10.77.0.2:9000 & cpids+=($!)
  in_ns $NC timeout 120 socat -u OPEN:"$WORK/up6.bin",rdonly TCP6:[fd77::2]:9001 & cpids+=($!)
  in_ns $NC timeout 120 socat -t 10 OPEN:"$WORK/bi4c.bin",rdonly\!\!CREATE:"$WORK/got-bi4s.bin" TCP4:10.77.0.2:9002 & cpids+=($!)
  in_ns $NC timeout 120 socat -t 10 OPEN:"$WORK/bi6c.bin",rdonly\!\!CREATE:"$WORK/got-bi6s.bin" TCP6:[fd77::2]:9003 & cpids+=($!)
  local rc=0
  for pid in "${cpids[@]}"; do wait $pid || rc=1; done
  sleep 1.5   # last ACKs and FINs
  [ $rc = 0 ] || { echo "make-real-captures: a transfer failed" >&2; exit 1; }

  # The applications must have received exactly what was sent.
  for pair in "dl4 www/dl4.bin" "dl6 www/dl6.bin" "up4 up4.bin" "up6 up6.bin" \
              "bi4c bi4c.bin" "bi4s bi4s.bin" "bi6c bi6c.bin" "bi6s bi6s.bin"; do
    set -- $pair
    cmp -s "$WORK/got-$1.bin" "$WORK/$2" || { echo "make-real-captures: $1 arrived damaged" >&2; exit 1; }
  done

  kill -TERM $TS_client $TS_server; wait $TS_client $TS_server 2>/dev/null || true
  kill -TERM $bridge; wait $bridge 2>/dev/null || true
  for pid in "${PIDS[@]}"; do kill $pid 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait $pid 2>/dev/null || true; done
  PIDS=()
  for ns in $NC $NB $NS; do ip netns del $ns; done

  cp "$WORK/$name-client.pcapng" "$WORK/$name-server.pcapng" "$OUT/"
  chmod 644 "$OUT/$name-client.pcapng" "$OUT/$name-server.pcapng"
  local sz
  {
    for side in client server; do
      f=$name-$side.pcapng
      printf '%s\thttp\t4\t10.77.0.2\t8080\tto_client\t%s\t%s\n' $f $(stat -c %s "$WORK/www/dl4.bin") $h1
      printf '%s\thttp\t6\tfd77::2\t8080\tto_client\t%s\t%s\n' $f $(stat -c %s "$WORK/www/dl6.bin") $h2
      printf '%s\traw\t4\t10.77.0.2\t9000\tto_server\t%s\t%s\n' $f $(stat -c %s "$WORK/up4.bin") $h3
      printf '%s\traw\t6\tfd77::2\t9001\tto_server\t%s\t%s\n' $f $(stat -c %s "$WORK/up6.bin") $h4
      printf '%s\traw\t4\t10.77.0.2\t9002\tto_server\t%s\t%s\n' $f $(stat -c %s "$WORK/bi4c.bin") $h5c
      printf '%s\traw\t4\t10.77.0.2\t9002\tto_client\t%s\t%s\n' $f $(stat -c %s "$WORK/bi4s.bin") $h5s
      printf '%s\traw\t6\tfd77::2\t9003\tto_server\t%s\t%s\n' $f $(stat -c %s "$WORK/bi6c.bin") $h6c
      printf '%s\traw\t6\tfd77::2\t9003\tto_client\t%s\t%s\n' $f $(stat -c %s "$WORK/bi6s.bin") $h6s
    done
  } >> "$WORK/transfers.tsv"
  printf '| `%s` | %s | loss %s, reorder %s (+6 ms), dup %s, delay 2+0..1 ms, seed %s | `%s` |\n' \
    "$name-{client,server}.pcapng" "$prof" $loss $reorder $dup $SEED "$(cat "$WORK/bridge.json")" >> "$WORK/profiles.md"
  rm -rf "$WORK/www" "$WORK"/*.bin
}

: > "$WORK/transfers.tsv"; : > "$WORK/profiles.md"
for prof in $PROFILES; do run_profile $prof; done

{
  printf '# capture\tkind\tfamily\tserver_ip\tserver_port\tdirection\tbytes\tsha256\n'
  cat "$WORK/transfers.tsv"
} > "$OUT/transfers.tsv"
cat > "$OUT/MANIFEST.md" <<EOF
# Real captures: Linux TCP under loss, reordering and duplication

Made by \`scripts/make-real-captures.sh -p "$PROFILES" -s $SEED -k $KIB\` (this file is generated by it).
Three network namespaces (client 10.77.0.1 / fd77::1, server 10.77.0.2 / fd77::2, a
bridge in between) joined by veth pairs; \`scripts/impair-bridge.py\` forwards frames
between the two veth ends in the bridge namespace with AF_PACKET sockets and drops,
delays, holds back (reorders) and duplicates TCP frames, from one seeded generator.
Offloads are off, so every frame is MTU-sized. The transfers run at once, between real
programs: \`python3 -m http.server\` + \`curl\` (HTTP downloads, IPv4 and IPv6), \`socat\`
uploads (IPv4, IPv6), and \`socat\` sending both ways at the same time (IPv4, IPv6).
Payloads are seeded random bytes; the script checks that every receiving program got
exactly the bytes sent before keeping the capture. tshark captured on the client's
interface (\`-client\`: sees every segment the client sent, before the impairment) and
on the server's (\`-server\`: after it), filter \`tcp\`, full frames.

\`transfers.tsv\`: one row per payload and capture: the server endpoint, the direction
(\`to_client\`/\`to_server\`), its length and SHA-256. For \`http\` rows the stream also
carries the HTTP response header before the payload. License: made by this project,
BSD-3-Clause like the rest of it.

| files | profile | impairment | bridge counters |
|---|---|---|---|
$(cat "$WORK/profiles.md")
EOF
echo "make-real-captures: wrote $(ls "$OUT"/*.pcapng | wc -l) captures to $OUT"
