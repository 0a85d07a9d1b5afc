#!/usr/bin/env python3
"""livegen.py - the live-capture test's traffic: many short TCP transfers,
both directions, seeded sizes, each checked end to end.

  livegen.py server PORT
      Accept connections; for each, read an 8-byte header (c2s, s2c: two
      big-endian uint32), read c2s bytes, send s2c bytes, half-close, wait
      for the client's EOF. Prints "ready" on stderr once listening.
  livegen.py client HOST PORT --duration S --workers W --seed N --out FILE
      W threads open connections for S seconds (a short random pause
      between them), send the header and c2s bytes, read s2c bytes to EOF.
      Writes FILE: one JSON object per line per transfer,
      {"port": client port, "c2s": bytes sent including the header,
       "s2c": bytes received, "ok": all bytes arrived, "t": start time}.
Python 3 standard library only.
"""

import argparse
import json
import random
import socket
import socketserver
import struct
import sys
import threading
import time

HDR = struct.Struct("!II")


def fill(n, seed):
    return random.Random(seed).randbytes(n)


class Handler(socketserver.BaseRequestHandler):
    def handle(self):
        s = self.request
        s.settimeout(60)
        try:
            hdr = b""
            while len(hdr) < HDR.size:
                b = s.recv(HDR.size - len(hdr))
                if not b:
                    return
                hdr += b
            c2s, s2c = HDR.unpack(hdr)
            got = 0
            while got < c2s:
                b = s.recv(min(65536, c2s - got))
                if not b:
                    return
                got += len(b)
            s.sendall(fill(s2c, c2s * 7919 + s2c))
            s.shutdown(socket.SHUT_WR)
            while s.recv(65536):
                pass
        except OSError:
            pass


class Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128


def server(port):
    srv = Server(("0.0.0.0", port), Handler)
    print("ready", file=sys.stderr, flush=True)
    srv.serve_forever()


def one(host, port, rng):
    # Sizes: mostly small, some large (a few to a few hundred segments).
    c2s = int(min(60000, rng.lognormvariate(7.5, 1.2)))
    s2c = int(min(400000, rng.lognormvariate(9.5, 1.3)))
    s = socket.create_connection((host, port), timeout=60)
    rec = {"port": s.getsockname()[1], "c2s": HDR.size + c2s, "s2c": 0, "ok": False,
           "t": time.time()}
    try:
        s.sendall(HDR.pack(c2s, s2c) + fill(c2s, rng.getrandbits(32)))
        got = 0
        while True:
            b = s.recv(65536)
            if not b:
                break
            got += len(b)
        rec["s2c"] = got
        rec["ok"] = got == s2c
    except OSError as e:
        rec["error"] = str(e)
    finally:
        s.close()
    return rec


def client(a):
    end = time.monotonic() + a.duration
    out = open(a.out, "w")
    lock = threading.Lock()

    def worker(i):
        rng = random.Random(a.seed * 1000 + i)
        while time.monotonic() < end:
            try:
                rec = one(a.host, a.port, rng)
            except OSError as e:
                rec = {"port": 0, "ok": False, "error": str(e)}
            with lock:
                out.write(json.dumps(rec) + "\n")
                out.flush()
            time.sleep(rng.random() * a.pause)

    ts = [threading.Thread(target=worker, args=(i,)) for i in range(a.workers)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    out.close()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="mode", required=True)
    s = sub.add_parser("server")
    s.add_argument("port", type=int)
    c = sub.add_parser("client")
    c.add_argument("host")
    c.add_argument("port", type=int)
    c.add_argument("--duration", type=float, default=60)
    c.add_argument("--workers", type=int, default=16)
    c.add_argument("--pause", type=float, default=0.5, help="max seconds between transfers")
    c.add_argument("--seed", type=int, default=1)
    c.add_argument("--out", required=True)
    a = ap.parse_args()
    if a.mode == "server":
        server(a.port)
    else:
        client(a)


if __name__ == "__main__":
    main()
