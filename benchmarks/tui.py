"""Benchmark the dashboard on the large scenario: first complete screen, key latency under churn, memory.

Usage: python benchmarks/tui.py [--namespaces 2000] [--pods-per-namespace 25] [--churn 2000] [--keys 200]
(`--keys 0` measures the first screen only: the key figure is then `nan`.)

(a) starts `meshtui sim --scenario large --churn 0` in a subprocess, builds the dashboard through the
    production factory (watch, engine session, app) in this process, headless at 120x36, and times
    from the connection to the first screen on which the header says synced and the namespaces and
    pods tables hold every namespace and pod;
(b) restarts the simulator with `--churn N` (N pod changes a second) and presses keys (cursor moves,
    pages, tab and view switches, a typed filter) while the watch applies the churn, timing each key
    from the moment the driver delivers it to the end of the first frame composed after the key was
    handled (Pilot's own waits look for an idle process, which a churning watch never is);
(c) reports the peak RSS of this process (the simulator runs in its own).
The last line is `tui_first_screen_s=<s> tui_key_p99_ms=<ms> tui_peak_mb=<MB>`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

from simproc import start_sim, stop_sim  # noqa: E402

from meshtui.cluster.kubeconfig import connect  # noqa: E402
from meshtui.tui.factory import build_app, make_session, watch_targets  # noqa: E402
from meshtui.tui.logfile import setup_logging  # noqa: E402
from meshtui.tui.settings import DashboardSettings  # noqa: E402

SIZE = (120, 36)
#: Keys that always change the screen, so each one is followed by a frame.
KEYS = ("j", "k", "pagedown", "pageup", "j", "G", "g", "w", "n", "1", "2", "4", "2", "j", "k", "j")


def complete(app: Any, namespaces: int, pods: int) -> bool:
    """The first complete screen: synced, every namespace and pod in its table."""
    dash = app.dashboard
    snap = dash.snapshot
    if snap is None or not snap.synced:
        return False
    dp = dash.data_plane
    return dp.namespaces.table.row_count >= namespaces and dp.pods.table.row_count >= pods


async def first_screen(
    kubeconfig: Path,
    namespaces: int,
    pods: int,
    contexts: list[str] | None = None,
    on_complete: Any = None,
) -> tuple[float, float, float]:
    """Seconds from connecting to the first rows, to the watch having listed everything, to the complete screen.

    `contexts` makes it a fleet (every context in one dashboard); `on_complete(app, mesh)` runs on the
    complete screen, before anything is torn down.
    """
    started = time.perf_counter()
    targets = connect(str(kubeconfig), contexts)
    mesh = watch_targets(targets)
    session, problem = make_session(targets, DashboardSettings())
    app = build_app(mesh, session, session_problem=problem)
    first_rows = listed = 0.0
    try:
        async with app.run_test(size=SIZE):
            app._bench_frames = Frames(app)
            while not complete(app, namespaces, pods):
                now = time.perf_counter() - started
                if not first_rows and app.dashboard.data_plane.namespaces.table.row_count:
                    first_rows = now
                if not listed and all(r.synced.is_set() for r in mesh.watch.reflectors):
                    listed = now
                await asyncio.sleep(0.02)
            await frame_after(app, time.perf_counter())
            done = time.perf_counter() - started
            if on_complete is not None:
                on_complete(app, mesh)
            return first_rows, listed or done, done
    finally:
        mesh.stop()
        if session is not None:
            session.close()


class Frames:
    """Timestamps of the frames the app composes (headless too), by wrapping App._display."""

    def __init__(self, app: Any) -> None:
        self.times: list[float] = []
        display = app._display

        def timed(screen: Any, renderable: Any) -> None:
            if renderable is not None:
                self.times.append(time.perf_counter())
            display(screen, renderable)

        app._display = timed


FRAME_TIMEOUT = 5.0


async def frame_after(app: Any, since: float, timeout: float = FRAME_TIMEOUT) -> float:
    """Wait for a frame composed after `since`; its time (or the timeout's end)."""
    frames: Frames = app._bench_frames
    end = since + timeout
    while time.perf_counter() < end:
        later = [t for t in frames.times if t > since]
        if later:
            return later[0]
        await asyncio.sleep(0.001)
    return end


async def key_latencies(
    kubeconfig: Path, namespaces: int, pods: int, count: int, contexts: list[str] | None = None
) -> tuple[list[float], int]:
    """Milliseconds per key press while the watch applies churn; and how many events it applied meanwhile."""
    from textual import events

    targets = connect(str(kubeconfig), contexts)
    mesh = watch_targets(targets)
    session, problem = make_session(targets, DashboardSettings())
    app = build_app(mesh, session, session_problem=problem)
    latencies: list[float] = []
    handled: list[float] = []

    def hook(message: Any) -> None:
        if isinstance(message, events.Key):
            handled.append(time.perf_counter())

    try:
        async with app.run_test(size=SIZE, message_hook=hook):
            app._bench_frames = Frames(app)
            while not complete(app, namespaces, pods):
                await asyncio.sleep(0.05)
            await app.dashboard.run_action("show_view('pods')")
            await asyncio.sleep(0.5)
            applied = mesh.watch.applied_events
            GC_PAUSES.clear()
            keys = [KEYS[i % len(KEYS)] for i in range(count)]
            # A typed filter is part of the workload: each key re-filters the rows shown.
            middle = count // 2
            keys[middle:middle] = ["1", "2", "slash", "a", "p", "p", "-", "0", "enter", "escape"]
            for key in keys:
                char = key if len(key) == 1 else {"slash": "/", "enter": "\r"}.get(key)
                sent = time.perf_counter()
                mark = len(handled)
                app._driver.send_message(events.Key(key, char))
                while len(handled) == mark and time.perf_counter() - sent < 5:
                    await asyncio.sleep(0.001)
                shown = await frame_after(app, handled[mark] if len(handled) > mark else sent)
                if shown - sent >= FRAME_TIMEOUT:
                    raise SystemExit(f"key {key!r} was followed by no frame within {FRAME_TIMEOUT}s")
                latencies.append((shown - sent) * 1000)
                if os.environ.get("MESHTUI_BENCH_VERBOSE"):
                    got = (handled[mark] - sent) * 1000 if len(handled) > mark else -1
                    print(f"  {key:>9} handled after {got:5.0f} ms, shown {latencies[-1]:7.0f} ms", flush=True)
                await asyncio.sleep(0.05)  # a fast typist, not a flood
            return latencies, mesh.watch.applied_events - applied
    finally:
        mesh.stop()
        if session is not None:
            session.close()


def p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]


GC_PAUSES: list[tuple[int, float]] = []


def _gc_probe() -> list[tuple[int, float]]:
    import gc

    pauses = GC_PAUSES
    start: list[float] = [0.0]

    def callback(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            start[0] = time.perf_counter()
        elif (time.perf_counter() - start[0]) > 0.02:
            pauses.append((info["generation"], (time.perf_counter() - start[0]) * 1000))

    gc.callbacks.append(callback)
    return pauses


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--namespaces", type=int, default=2000)
    parser.add_argument("--pods-per-namespace", type=int, default=25)
    parser.add_argument("--churn", type=float, default=2000)
    parser.add_argument("--keys", type=int, default=200, help="key presses under churn; 0: first screen only")
    args = parser.parse_args()
    os.environ.setdefault("MESHTUI_LOG", str(Path(tempfile.gettempdir()) / "meshtui-bench.log"))
    setup_logging()
    pods = args.namespaces * args.pods_per_namespace
    pauses = _gc_probe() if os.environ.get("MESHTUI_BENCH_VERBOSE") else []
    with tempfile.TemporaryDirectory(prefix="meshtui-bench-") as tmp:
        kubeconfig = Path(tmp) / "kubeconfig"
        sim = start_sim(args.namespaces, args.pods_per_namespace, kubeconfig, 0)
        try:
            rows, listed, first = asyncio.run(first_screen(kubeconfig, args.namespaces, pods))
        finally:
            stop_sim(sim)
        print(
            f"first rows on screen: {rows:.2f}s; the watch listed every kind: {listed:.2f}s; first complete screen: "
            f"{first:.2f}s ({args.namespaces} namespaces, {pods} pods)",
            flush=True,
        )
        latencies: list[float] = []
        if args.keys:
            sim = start_sim(args.namespaces, args.pods_per_namespace, kubeconfig, args.churn)
            try:
                latencies, applied = asyncio.run(key_latencies(kubeconfig, args.namespaces, pods, args.keys))
            finally:
                stop_sim(sim)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if latencies:
        print(
            f"keys under churn {args.churn:g}/s: {len(latencies)} presses, p50 {statistics.median(latencies):.0f} "
            f"ms, p99 {p99(latencies):.0f} ms, max {max(latencies):.0f} ms; the watch applied {applied} events "
            "meanwhile",
            flush=True,
        )
    if pauses:
        print(f"collections over 20 ms: {len(pauses)}: {[(g, round(p)) for g, p in pauses]}")
    key_p99 = f"{p99(latencies):.0f}" if latencies else "nan"
    print(f"tui_first_screen_s={first:.2f} tui_key_p99_ms={key_p99} tui_peak_mb={peak_mb:.0f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
