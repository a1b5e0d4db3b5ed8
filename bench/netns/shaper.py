#!/usr/bin/env python3
"""
A user-space line between two network namespaces: one TUN device in each, and this process
copying IP packets from one to the other with a rate, a delay and a seeded loss. The kernels
here have tbf/htb but no netem, so delay and random loss cannot be had from `tc`; a TUN hop
gives all three on one path, and everything else (retransmission, congestion control, head-of-
line blocking, the TLS and WebSocket on top) is the kernel's real TCP.

Why Python: creating a TUN device needs the TUNSETIFF ioctl, which Node cannot issue without a
native addon (not allowed in this project); this is a bench-only tool (bench/netns/README.md).

Per direction (up = from the first namespace's device to the second's, down = back):
  - rate: a packet departs at max(now, previous departure) + its serialisation time
    (IP bytes * 8 / rate), so the line never carries more than its rate;
  - buffer: a packet that would find more than --queue-bytes waiting to depart is dropped at
    the tail (a router's buffer; TCP sees it as loss, as on a real line);
  - loss: after taking its time on the line, a packet is lost with probability --loss (a
    seeded random stream per direction);
  - delay: a packet that got through arrives rtt/2 after its departure (arrivals keep order).

Control on stdin, one command a line, each answered with one JSON line on stdout:
  up | down (down: the line is cut, every packet and everything in flight is dropped) | stats
The process exits on `quit` or end of stdin, and is killed with its parent (PR_SET_PDEATHSIG):
its TUN devices are not persistent, so they vanish with it.

Usage: shaper.py --ns-a tb-vil --dev-a tbv0 --ns-b tb-town --dev-b tbt0
                 --rate 100000 --rtt 600 --loss 0.02 --seed 1 [--queue-bytes N]
"""
import argparse
import collections
import ctypes
import fcntl
import json
import os
import random
import select
import signal
import struct
import sys
import time

TUNSETIFF = 0x400454CA
IFF_TUN = 0x0001
IFF_NO_PI = 0x1000
CLONE_NEWNET = 0x40000000
PR_SET_PDEATHSIG = 1
# Packets read from one device before looking at the other and the clock again (bounds a burst).
READ_BATCH = 64

libc = ctypes.CDLL(None, use_errno=True)


def enter_netns(name):
    fd = os.open(f"/run/netns/{name}", os.O_RDONLY)
    try:
        if libc.setns(fd, CLONE_NEWNET) != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"setns into {name}: {os.strerror(err)}")
    finally:
        os.close(fd)


def open_tun(name):
    fd = os.open("/dev/net/tun", os.O_RDWR)
    fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH22x", name.encode(), IFF_TUN | IFF_NO_PI))
    os.set_blocking(fd, False)
    return fd


class Direction:
    def __init__(self, name, out_fd, rate, owd, loss, seed, queue_bytes):
        self.name = name
        self.out_fd = out_fd
        self.sec_per_byte = 8.0 / rate
        self.owd = owd
        self.loss = loss
        self.rng = random.Random(seed)
        self.queue_bytes = queue_bytes
        self.free_at = 0.0  # when the line is free for the next departure
        self.flight = collections.deque()  # (arrival time, packet), in arrival order
        self.c = dict(packets=0, bytes=0, payload=0, lost=0, lostBytes=0, queueDrops=0, cutDrops=0, syns=0, delivered=0)

    def offer(self, pkt, now, down):
        size = len(pkt)
        if down:
            self.c["cutDrops"] += 1
            return None
        waiting = max(0.0, self.free_at - now) / self.sec_per_byte  # bytes ahead of this one
        if waiting + size > self.queue_bytes:
            self.c["queueDrops"] += 1
            return None
        depart = max(now, self.free_at) + size * self.sec_per_byte
        self.free_at = depart
        # On the wire: it took its time on the line whether or not it arrives.
        self.c["packets"] += 1
        self.c["bytes"] += size
        payload, syn = tcp_payload(pkt)
        self.c["payload"] += payload
        if syn:
            self.c["syns"] += 1
        if self.loss > 0 and self.rng.random() < self.loss:
            self.c["lost"] += 1
            self.c["lostBytes"] += size
            return None
        self.flight.append((depart + self.owd, pkt))
        return syn

    def deliver(self, now):
        while self.flight and self.flight[0][0] <= now:
            _, pkt = self.flight.popleft()
            try:
                os.write(self.out_fd, pkt)
                self.c["delivered"] += 1
            except OSError:
                pass  # the device is down or its queue full: the packet is lost, as on a line

    def cut(self):
        self.c["cutDrops"] += len(self.flight)
        self.flight.clear()
        self.free_at = 0.0

    def next_at(self):
        return self.flight[0][0] if self.flight else None


def tcp_payload(pkt):
    """(TCP payload bytes, is a SYN without ACK) of an IPv4 packet; (0, False) for anything else."""
    if len(pkt) < 20 or pkt[0] >> 4 != 4 or pkt[9] != 6:
        return 0, False
    ihl = (pkt[0] & 0x0F) * 4
    total = (pkt[2] << 8) | pkt[3]
    if len(pkt) < ihl + 20:
        return 0, False
    doff = (pkt[ihl + 12] >> 4) * 4
    flags = pkt[ihl + 13]
    return max(0, total - ihl - doff), (flags & 0x02) != 0 and (flags & 0x10) == 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ns-a", required=True)
    ap.add_argument("--dev-a", required=True)
    ap.add_argument("--ns-b", required=True)
    ap.add_argument("--dev-b", required=True)
    ap.add_argument("--rate", type=float, required=True, help="bit/s, each direction")
    ap.add_argument("--rtt", type=float, required=True, help="ms")
    ap.add_argument("--loss", type=float, default=0.0)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--queue-bytes", type=int, default=0, help="default: max(one BDP, 16 full packets)")
    a = ap.parse_args()
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    bdp = int(a.rate / 8 * a.rtt / 1000)
    queue = a.queue_bytes or max(bdp, 16 * 1500)
    enter_netns(a.ns_a)
    fa = open_tun(a.dev_a)
    enter_netns(a.ns_b)
    fb = open_tun(a.dev_b)
    owd = a.rtt / 2000.0
    up = Direction("up", fb, a.rate, owd, a.loss, a.seed * 2 + 1, queue)
    dn = Direction("down", fa, a.rate, owd, a.loss, a.seed * 2 + 2, queue)
    down = False
    up_at = time.monotonic()
    syn_after_up = None
    t_start = time.monotonic()
    out = sys.stdout

    def reply(obj):
        out.write(json.dumps(obj) + "\n")
        out.flush()

    reply({"ready": True, "queueBytes": queue, "pid": os.getpid()})
    stdin_buf = b""
    while True:
        now = time.monotonic()
        up.deliver(now)
        dn.deliver(now)
        nexts = [t for t in (up.next_at(), dn.next_at()) if t is not None]
        timeout = max(0.0, min(nexts) - time.monotonic()) if nexts else 1.0
        readable, _, _ = select.select([fa, fb, 0], [], [], min(timeout, 1.0))
        for fd in readable:
            if fd == 0:
                chunk = os.read(0, 4096)
                if not chunk:
                    return
                stdin_buf += chunk
                while b"\n" in stdin_buf:
                    line, stdin_buf = stdin_buf.split(b"\n", 1)
                    cmd = line.decode().strip()
                    now = time.monotonic()
                    if cmd == "down":
                        down = True
                        up.cut()
                        dn.cut()
                    elif cmd == "up":
                        down = False
                        up_at = now
                        syn_after_up = None
                    elif cmd == "quit":
                        reply({"bye": True})
                        return
                    elif cmd != "stats":
                        reply({"error": f"unknown command {cmd!r}: up, down, stats, quit"})
                        continue
                    reply({"ms": round((now - t_start) * 1000, 1), "down": down, "up": up.c, "dn": dn.c,
                           "synAfterUpMs": syn_after_up})
                continue
            d = up if fd == fa else dn
            for _ in range(READ_BATCH):
                try:
                    pkt = os.read(fd, 65536)
                except BlockingIOError:
                    break
                now = time.monotonic()
                syn = d.offer(pkt, now, down)
                if syn and d is up and syn_after_up is None and not down:
                    syn_after_up = round((now - up_at) * 1000, 1)


if __name__ == "__main__":
    main()
