#!/usr/bin/env python3
"""impair-bridge.py - a user-space impairing bridge between two network
interfaces (this kernel has no netem qdisc).

Forwards every Ethernet frame received on one interface out of the other
with AF_PACKET sockets. TCP frames (IPv4/IPv6) are impaired, everything
else (ARP, neighbour discovery) passes at once:
  --loss P        drop the frame
  --dup P         send it twice
  --reorder P     hold it back an extra --reorder-delay, so later frames overtake it
  --delay MS      base one-way delay, plus up to --jitter MS
All random choices come from one seeded generator: the same --seed and the
same input sequence give the same decisions. Runs until SIGTERM/SIGINT or
--duration, then prints its counters as one JSON line on stdout.

Used by scripts/make-real-captures.sh inside the middle network namespace.
Linux only; needs CAP_NET_RAW. Python 3 standard library only.
"""

import argparse
import heapq
import json
import random
import select
import signal
import socket
import struct
import sys
import time

ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4


def is_tcp(frame):
    if len(frame) < 14:
        return False
    off, et = 14, struct.unpack("!H", frame[12:14])[0]
    while et in (0x8100, 0x88A8) and len(frame) >= off + 4:
        et = struct.unpack("!H", frame[off + 2:off + 4])[0]
        off += 4
    if et == 0x0800 and len(frame) > off + 9:
        return frame[off + 9] == 6
    if et == 0x86DD and len(frame) > off + 6:
        return frame[off + 6] == 6
    return False


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("if_a")
    ap.add_argument("if_b")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--loss", type=float, default=0.0)
    ap.add_argument("--dup", type=float, default=0.0)
    ap.add_argument("--reorder", type=float, default=0.0)
    ap.add_argument("--delay", type=float, default=0.0, help="ms")
    ap.add_argument("--jitter", type=float, default=0.0, help="ms")
    ap.add_argument("--reorder-delay", type=float, default=5.0, help="ms")
    ap.add_argument("--duration", type=float, default=0.0, help="seconds, 0 = until signalled")
    a = ap.parse_args()
    for name in ("loss", "dup", "reorder"):
        v = getattr(a, name)
        if not 0.0 <= v < 1.0:
            ap.error("--%s must be in [0, 1)" % name)

    rng = random.Random(a.seed)
    socks = {}
    for ifname in (a.if_a, a.if_b):
        s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
        s.bind((ifname, 0))
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        s.setblocking(False)
        socks[ifname] = s
    peer = {a.if_a: socks[a.if_b], a.if_b: socks[a.if_a]}
    by_fd = {s.fileno(): name for name, s in socks.items()}

    stats = {"frames": 0, "tcp": 0, "dropped": 0, "duplicated": 0, "reordered": 0,
             "sent": 0, "send_errors": 0}
    queue = []  # (due, n, socket, frame)
    n = 0
    stop = [False]

    def on_signal(signum, frame):
        stop[0] = True
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    end = time.monotonic() + a.duration if a.duration > 0 else None
    poller = select.poll()
    for s in socks.values():
        poller.register(s.fileno(), select.POLLIN)

    print("ready", file=sys.stderr, flush=True)
    while not stop[0]:
        now = time.monotonic()
        if end is not None and now >= end:
            break
        while queue and queue[0][0] <= now:
            _, _, out, frame = heapq.heappop(queue)
            try:
                out.send(frame)
                stats["sent"] += 1
            except OSError:
                stats["send_errors"] += 1
        timeout = 100
        if queue:
            timeout = max(0, min(timeout, int((queue[0][0] - now) * 1000) + 1))
        for fd, _ in poller.poll(timeout):
            src = by_fd[fd]
            s = socks[src]
            for _ in range(64):
                try:
                    frame, addr = s.recvfrom(65535)
                except BlockingIOError:
                    break
                if addr[2] == PACKET_OUTGOING:
                    continue  # our own transmissions on this interface
                stats["frames"] += 1
                out = peer[src]
                now = time.monotonic()
                if not is_tcp(frame):
                    heapq.heappush(queue, (now, n, out, frame))
                    n += 1
                    continue
                stats["tcp"] += 1
                if rng.random() < a.loss:
                    stats["dropped"] += 1
                    continue
                due = now + (a.delay + rng.random() * a.jitter) / 1000.0
                if rng.random() < a.reorder:
                    stats["reordered"] += 1
                    due += a.reorder_delay / 1000.0
                copies = 1
                if rng.random() < a.dup:
                    stats["duplicated"] += 1
                    copies = 2
                for _ in range(copies):
                    heapq.heappush(queue, (due, n, out, frame))
                    n += 1
    print(json.dumps(stats), flush=True)


if __name__ == "__main__":
    main()
