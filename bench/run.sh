#!/bin/bash
# bench/run.sh - wall time and peak RSS of safereasm-pcap (1 and N threads),
# the gopacket driver and tshark (-z follow / -z conv) on the same captures.
#
# usage: bench/run.sh [BUILD_DIR] [CAPTURE...]
#   BUILD_DIR defaults to build; captures default to the larger committed ones.
# Prints one Markdown table row per (capture, program): seconds, peak RSS MiB.
# Uses GNU time (/usr/bin/time -f); each measurement is the best of 3 runs.
set -euo pipefail
cd "$(dirname "$0")/.."
B=${1:-build}; shift || true
TOOL=$B/tools/safereasm-pcap
GOP=$B/bench/gopacket-reasm
[ -x "$TOOL" ] || { echo "bench: $TOOL not built" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "bench: needs GNU time (apt-get install time)" >&2; exit 1; }
CAPS=("$@")
[ ${#CAPS[@]} -gt 0 ] || CAPS=(captures/fidelity/zeek/echo-connections.pcap.gz
  captures/fidelity/wireshark/challenge01_ooo_stream.pcapng.gz
  captures/fidelity/suricata-verify/tls-subjectaltname/input.pcap
  captures/real/harsh-s1-server.pcapng)
TMP=$(mktemp -d); trap 'rm -rf "$TMP"' EXIT

measure() { # label cmd...
  local label=$1; shift
  local best_t="" best_m=""
  for _ in 1 2 3; do
    /usr/bin/time -f "%e %M" -o "$TMP/t" "$@" > /dev/null 2>&1 || true
    read -r t m < "$TMP/t"
    if [ -z "$best_t" ] || awk "BEGIN{exit !($t < $best_t)}"; then best_t=$t; fi
    if [ -z "$best_m" ] || [ "$m" -lt "$best_m" ]; then best_m=$m; fi
  done
  printf '| %s | %s | %s | %.1f |\n' "$(basename "$CAP")" "$label" "$best_t" "$(awk "BEGIN{print $best_m/1024}")"
}

echo "| capture | program | wall s | peak RSS MiB |"
echo "|---|---|---|---|"
for CAP in "${CAPS[@]}"; do
  # Uncompressed copy, so every program reads the same bytes.
  case $CAP in *.gz) zcat "$CAP" > "$TMP/cap"; F=$TMP/cap ;; *) F=$CAP ;; esac
  measure "safereasm-pcap" "$TOOL" --no-progress "$F"
  measure "safereasm-pcap --threads 2" "$TOOL" --no-progress --threads 2 "$F"
  [ -x "$GOP" ] && measure "gopacket driver" "$GOP" "$F"
  N=$(tshark -n -r "$F" -T fields -e tcp.stream 2>/dev/null | sort -un | wc -l)
  ARGS=(); for ((i = 0; i < N && i < 200; i++)); do ARGS+=(-z "follow,tcp,yaml,$i"); done
  measure "tshark -z follow x$(( N < 200 ? N : 200 ))" tshark -n -q -r "$F" "${ARGS[@]}"
  measure "tshark -z conv,tcp" tshark -n -q -r "$F" -z conv,tcp
done
