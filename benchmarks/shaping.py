"""A shaped link to a network namespace for benchmarks/link.py: set up, shaped per profile, checked, removed.

The namespace `meshtui-link` is reached from here over a point-to-point link (10.253.77.1 here, .2 inside)
shaped the same in both directions: `netem delay RTT/2 rate R` on both ends of a veth pair, or, on a kernel
built without netem, the same discipline applied by benchmarks/linkrelay.py between two TUN devices. Every
name is this benchmark's own, so leftovers of a crashed run are removed before a new one starts.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import queue
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO

HERE = Path(__file__).resolve().parent

NETNS = "meshtui-link"
OUTER, INNER = "mtlink-o", "mtlink-i"
OUTER_IP, INNER_IP = "10.253.77.1", "10.253.77.2"
#: Ports inside the namespace: the forwarder to the simulator, and the bulk source of the link check.
FORWARD_PORT, BULK_PORT = 8443, 9000
#: As netem's default, in packets, each way.
QUEUE_LIMIT = 1000


@dataclass(frozen=True)
class Profile:
    name: str
    rate_mbit: float
    rtt_ms: float

    def __str__(self) -> str:
        return f"{self.name} ({self.rate_mbit:g} Mbit/s, {self.rtt_ms:g} ms RTT)"


class Unavailable(Exception):
    """A shaped link cannot be made here; the message is one sentence saying why."""


def run(*cmd: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=30, check=False)
    if check and proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed: {proc.stderr.strip()}")
    return proc


def die_with_parent() -> None:
    """For preexec_fn: the child gets SIGTERM when this process ends, however it ends."""
    ctypes.CDLL(None).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


class Lines:
    """A child's stdout read by a thread, so waiting for a line can time out."""

    def __init__(self, stream: IO[str]) -> None:
        self.lines: queue.Queue[str | None] = queue.Queue()

        def pump() -> None:
            for line in stream:
                self.lines.put(line.strip())
            self.lines.put(None)

        threading.Thread(target=pump, daemon=True).start()

    def expect(self, word: str, timeout: float, what: str) -> None:
        end = time.monotonic() + timeout
        while (left := end - time.monotonic()) > 0:
            try:
                line = self.lines.get(timeout=left)
            except queue.Empty:
                break
            if line is None:
                raise RuntimeError(f"{what} ended before it was ready")
            if line == word:
                return
        raise RuntimeError(f"{what} was not ready within {timeout:g}s")

    def drain(self) -> list[str]:
        """Every line received so far and not yet read."""
        found = []
        while True:
            try:
                line = self.lines.get_nowait()
            except queue.Empty:
                return found
            if line is not None:
                found.append(line)


def netns_pids() -> list[int]:
    proc = run("ip", "netns", "pids", NETNS, check=False)
    return [int(p) for p in proc.stdout.split()] if proc.returncode == 0 else []


def remove_leftovers() -> None:
    """Remove this benchmark's namespace, links and processes, whatever state a run left them in."""
    for pid in netns_pids():  # only processes inside this benchmark's own namespace
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    if Path(f"/run/netns/{NETNS}").exists():
        run("ip", "netns", "del", NETNS, check=False)
    if Path(f"/sys/class/net/{OUTER}").exists():
        run("ip", "link", "del", OUTER, check=False)


def why_unavailable() -> str | None:
    """One sentence when namespaces and shaping cannot be made here at all, else None."""
    if os.geteuid() != 0:
        return "network namespaces need root (run it as root, or in a VM where you are)"
    missing = [tool for tool in ("ip", "tc") if shutil.which(tool) is None]
    if missing:
        return f"{' and '.join(missing)} not found (install iproute2)"
    return None


class Link:
    """The namespace and its shaped link; `mode` is "netem" or "relay"."""

    def __init__(self, mode: str) -> None:
        self.mode = mode
        self.relay: subprocess.Popen[str] | None = None
        self.relay_lines: Lines | None = None

    def setup(self) -> None:
        """Make the namespace and the link; raises Unavailable when this kernel cannot."""
        remove_leftovers()
        proc = run("ip", "netns", "add", NETNS, check=False)
        if proc.returncode != 0:
            raise Unavailable(f"a network namespace cannot be made here ({proc.stderr.strip()})")
        run("ip", "-n", NETNS, "link", "set", "lo", "up")
        if self.mode == "netem":
            self._veth()
        else:
            self._tun()

    def _veth(self) -> None:
        proc = run("ip", "link", "add", OUTER, "type", "veth", "peer", "name", INNER, "netns", NETNS, check=False)
        if proc.returncode != 0:
            raise Unavailable(f"a veth pair cannot be made here ({proc.stderr.strip()})")
        proc = run("tc", "qdisc", "add", "dev", OUTER, "root", "netem", "delay", "1ms", check=False)
        if proc.returncode != 0:
            raise Unavailable(f"this kernel has no netem qdisc ({proc.stderr.strip()})")
        run("ip", "addr", "add", f"{OUTER_IP}/30", "dev", OUTER)
        run("ip", "link", "set", OUTER, "up")
        run("ip", "-n", NETNS, "addr", "add", f"{INNER_IP}/30", "dev", INNER)
        run("ip", "-n", NETNS, "link", "set", INNER, "up")

    def _tun(self) -> None:
        if not os.access("/dev/net/tun", os.R_OK | os.W_OK):
            raise Unavailable("this kernel has no netem qdisc and no usable /dev/net/tun for the userspace relay")
        self.relay = subprocess.Popen(
            [sys.executable, str(HERE / "linkrelay.py"), "--outer", OUTER, "--inner", INNER, "--netns", NETNS],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            preexec_fn=die_with_parent,
        )
        assert self.relay.stdout is not None
        self.relay_lines = Lines(self.relay.stdout)
        try:
            self.relay_lines.expect("ready", 10, "the link relay")
        except RuntimeError as exc:
            raise Unavailable(f"the userspace link relay could not make its TUN devices ({exc})") from exc
        run("ip", "addr", "add", OUTER_IP, "peer", INNER_IP, "dev", OUTER)
        run("ip", "link", "set", OUTER, "txqueuelen", str(QUEUE_LIMIT), "up")
        run("ip", "-n", NETNS, "addr", "add", INNER_IP, "peer", OUTER_IP, "dev", INNER)
        run("ip", "-n", NETNS, "link", "set", INNER, "txqueuelen", str(QUEUE_LIMIT), "up")

    def shape(self, profile: Profile) -> None:
        """Both directions: delay RTT/2 and rate R each (a queue of QUEUE_LIMIT packets, as netem's default)."""
        delay_ms = profile.rtt_ms / 2
        if self.mode == "netem":
            discipline = ["netem", "delay", f"{delay_ms:g}ms", "rate", f"{profile.rate_mbit:g}mbit"]
            discipline += ["limit", str(QUEUE_LIMIT)]
            run("tc", "qdisc", "replace", "dev", OUTER, "root", *discipline)
            run("tc", "-n", NETNS, "qdisc", "replace", "dev", INNER, "root", *discipline)
        else:
            assert self.relay is not None and self.relay.stdin is not None and self.relay_lines is not None
            self.relay.stdin.write(f"{profile.rate_mbit * 1e6:g} {delay_ms / 1000:g}\n")
            self.relay.stdin.flush()
            self.relay_lines.expect("ok", 10, "the link relay")

    def describe(self) -> str:
        if self.mode == "netem":
            shown = run("tc", "qdisc", "show", "dev", OUTER).stdout.strip()
            inner = run("tc", "-n", NETNS, "qdisc", "show", "dev", INNER).stdout.strip()
            return f"here: {shown}; inside: {inner}"
        return "netem's discipline applied by the userspace relay between two TUN devices, both ways"

    def teardown(self) -> None:
        """Remove everything (idempotent: the finally block and atexit may both call it)."""
        if self.relay is not None:
            if self.relay.stdin is not None:
                with contextlib.suppress(OSError):
                    self.relay.stdin.close()
            try:
                self.relay.wait(5)
            except subprocess.TimeoutExpired:
                self.relay.kill()
                self.relay.wait(5)
            self.relay = None
        remove_leftovers()


def check_link(profile: Profile, timeout: float = 30) -> tuple[float, float]:
    """The link as measured: median TCP connect time (one round trip) in ms, and the rate of a timed transfer
    of one second's worth of bytes, in Mbit/s (its first round trip taken off)."""
    rtts = []
    for _ in range(5):
        started = time.perf_counter()
        with socket.create_connection((INNER_IP, BULK_PORT), timeout=timeout) as s:
            rtts.append((time.perf_counter() - started) * 1000)
            s.sendall(b"0\n")
    rtt = sorted(rtts)[len(rtts) // 2]
    size = int(profile.rate_mbit * 1e6 / 8)
    with socket.create_connection((INNER_IP, BULK_PORT), timeout=timeout) as s:
        started = time.perf_counter()
        s.sendall(f"{size}\n".encode())
        got = 0
        while got < size:
            data = s.recv(1 << 20)
            if not data:
                break
            got += len(data)
        took = time.perf_counter() - started
    if got < size:
        raise RuntimeError(f"the link check received {got} of {size} bytes")
    return rtt, got * 8 / max(took - rtt / 1000, 1e-6) / 1e6
