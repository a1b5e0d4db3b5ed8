#!/usr/bin/env python3
"""
Checks the shaped line with plain TCP before a run (bench/link-netns.ts prints what it finds):

  bulk.py serve PORT            accept one connection, read to its end, answer b"k", print JSON
                                {"bytes": n, "seconds": from accept to the end}
  bulk.py send HOST PORT BYTES  print JSON {"connectMs": the TCP handshake (one RTT),
                                "seconds": from connected to the server's answer}

Both bound themselves in time (--timeout, default 120 s) and exit non-zero when it passes.
"""
import json
import socket
import sys
import time


def main():
    args = sys.argv[1:]
    timeout = 120.0
    if "--timeout" in args:
        i = args.index("--timeout")
        timeout = float(args[i + 1])
        del args[i:i + 2]
    if args[0] == "serve":
        srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        srv.bind(("0.0.0.0", int(args[1])))
        srv.listen(1)
        srv.settimeout(timeout)
        print(json.dumps({"listening": True}), flush=True)
        conn, _ = srv.accept()
        conn.settimeout(timeout)
        t0 = time.monotonic()
        n = 0
        while True:
            b = conn.recv(65536)
            if not b:
                break
            n += len(b)
        seconds = time.monotonic() - t0
        conn.sendall(b"k")
        conn.close()
        print(json.dumps({"bytes": n, "seconds": seconds}), flush=True)
    elif args[0] == "send":
        host, port, total = args[1], int(args[2]), int(args[3])
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.settimeout(timeout)
        t0 = time.monotonic()
        s.connect((host, port))
        t1 = time.monotonic()
        chunk = b"x" * 65536
        left = total
        while left > 0:
            left -= s.send(chunk[: min(left, len(chunk))])
        s.shutdown(socket.SHUT_WR)
        s.recv(1)
        t2 = time.monotonic()
        print(json.dumps({"connectMs": (t1 - t0) * 1000, "seconds": t2 - t1}), flush=True)
    else:
        print("usage: bulk.py serve PORT | send HOST PORT BYTES [--timeout S]", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
