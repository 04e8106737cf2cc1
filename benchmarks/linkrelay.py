"""A userspace link emulator between two TUN devices, for kernels built without netem (benchmarks/link.py).

Usage (as root, started by benchmarks/link.py): python linkrelay.py --outer NAME --inner NAME --netns NS

Opens the TUN device `--outer` in the current network namespace, then enters `--netns` and opens `--inner`
there, and carries every IP packet between them as netem's `rate R delay D limit L` would on each side:
a packet waits for the link to finish sending the ones before it (at R bits a second), then D seconds more;
one arriving while L packets are queued is dropped. R and D come on stdin, one `<rate_bps> <delay_s>` line
per change (applied to both directions; each line is acknowledged with `ok` on stdout), so one relay
serves every profile of a run. It prints `ready` once both devices exist, and ends when stdin closes.
"""

from __future__ import annotations

import argparse
import collections
import ctypes
import fcntl
import os
import select
import struct
import sys
import time

TUNSETIFF = 0x400454CA
IFF_TUN = 0x0001
IFF_NO_PI = 0x1000
CLONE_NEWNET = 0x40000000
#: As netem's default queue limit, in packets.
LIMIT = 1000
#: At most this many packets are read from one device before the other gets its turn.
BURST = 64


def open_tun(name: str) -> int:
    """A non-blocking descriptor on a new TUN device `name` (IP packets, no extra header)."""
    fd = os.open("/dev/net/tun", os.O_RDWR | os.O_NONBLOCK)
    fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", name.encode(), IFF_TUN | IFF_NO_PI))
    return fd


def enter_netns(name: str) -> None:
    """Move this process into the named network namespace (as `ip netns exec` does)."""
    libc = ctypes.CDLL(None, use_errno=True)
    with open(f"/run/netns/{name}") as ns:
        if libc.setns(ns.fileno(), CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), f"setns into {name} failed")


class Direction:
    """One way of the link: packets read from `src`, queued, written to `dst` when due."""

    def __init__(self, src: int, dst: int) -> None:
        self.src, self.dst = src, dst
        self.queue: collections.deque[tuple[float, bytes]] = collections.deque()
        self.busy_until = 0.0
        self.dropped = 0

    def take(self, rate_bps: float, delay_s: float) -> None:
        """Read what the device holds (up to BURST packets) and schedule each one."""
        for _ in range(BURST):
            try:
                packet = os.read(self.src, 65536)
            except BlockingIOError:
                return
            if len(self.queue) >= LIMIT:
                self.dropped += 1
                continue
            start = max(time.monotonic(), self.busy_until)
            self.busy_until = start + len(packet) * 8 / rate_bps
            self.queue.append((self.busy_until + delay_s, packet))

    def deliver(self, now: float) -> None:
        """Write every packet that is due (they are due in order: the delay is the same for all)."""
        queue = self.queue
        while queue and queue[0][0] <= now:
            _, packet = queue.popleft()
            try:
                os.write(self.dst, packet)
            except OSError:
                self.dropped += 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--outer", required=True)
    parser.add_argument("--inner", required=True)
    parser.add_argument("--netns", required=True)
    args = parser.parse_args()
    outer = open_tun(args.outer)
    enter_netns(args.netns)
    inner = open_tun(args.inner)
    ways = {outer: Direction(outer, inner), inner: Direction(inner, outer)}
    rate_bps, delay_s = 1e9, 0.0
    control = sys.stdin.fileno()
    poller = select.epoll()
    for fd in (outer, inner, control):
        poller.register(fd, select.EPOLLIN)
    print("ready", flush=True)
    while True:
        due = [w.queue[0][0] for w in ways.values() if w.queue]
        timeout = max(0.0, min(due) - time.monotonic()) if due else 1.0
        for fd, _ in poller.poll(timeout):
            if fd == control:
                line = sys.stdin.readline()
                if not line:
                    return 0
                rate, delay = line.split()
                rate_bps, delay_s = float(rate), float(delay)
                print("ok", flush=True)
            else:
                ways[fd].take(rate_bps, delay_s)
        now = time.monotonic()
        for way in ways.values():
            way.deliver(now)


if __name__ == "__main__":
    raise SystemExit(main())
