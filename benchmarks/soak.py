"""Soak the dashboard: meshtui alone over a long session of pod churn and key actions; does its memory stay flat?

Usage: python benchmarks/soak.py [--pods 10000] [--churn 500] [--seconds 120 | --hour]

Starts `meshtui sim --scenario large --churn N` in a subprocess (`--pods`, 25 a namespace), builds the
dashboard in this process (production factory, headless 120x36), waits for the first complete screen,
then for the whole session presses keys as a user would (view switches, cursor moves and pages, a typed
filter and its reset) while the watch applies the churn. RSS is sampled every 10 s after a full
collection; the growth is the last sample less the one taken after a warm-up minute (or a sixth of a
short session), when caches have filled.
The last line is `soak_growth_mb=<MB> soak_start_mb=<MB> soak_end_mb=<MB> soak_seconds=<s>`.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

from simproc import start_sim, stop_sim  # noqa: E402
from tui import SIZE, Frames, complete, frame_after  # noqa: E402

from meshtui.cluster.kubeconfig import connect  # noqa: E402
from meshtui.tui.factory import build_app, make_session, watch_targets  # noqa: E402
from meshtui.tui.logfile import setup_logging  # noqa: E402
from meshtui.tui.settings import DashboardSettings  # noqa: E402

PODS_PER_NAMESPACE = 25
SAMPLE_EVERY_S = 10.0
#: One round of a user's session: every view, moves and pages, a filter typed and cleared.
ROUND = ("1", "j", "j", "pagedown", "2", "j", "k", "pagedown", "pageup", "G", "g", "3", "4", "2",
         "slash", "a", "p", "p", "enter", "j", "escape", "w", "n", "1")  # fmt: skip


def rss_mb() -> float:
    """This process's resident set size now, in MB."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


async def soak(kubeconfig: Path, namespaces: int, pods: int, seconds: float) -> list[tuple[float, float]]:
    """(seconds into the session, RSS MB) samples, each after a full collection."""
    from textual import events

    targets = connect(str(kubeconfig), None)
    mesh = watch_targets(targets)
    session, problem = make_session(targets, DashboardSettings())
    app = build_app(mesh, session, session_problem=problem)
    samples: list[tuple[float, float]] = []
    try:
        async with app.run_test(size=SIZE):
            app._bench_frames = Frames(app)
            while not complete(app, namespaces, pods):
                await asyncio.sleep(0.05)
            started = time.perf_counter()
            next_sample = started
            presses = 0
            while (now := time.perf_counter()) - started < seconds:
                if now >= next_sample:
                    gc.collect()
                    samples.append((now - started, rss_mb()))
                    print(f"  {now - started:6.0f}s  {samples[-1][1]:7.0f} MB  ({presses} keys)", flush=True)
                    next_sample += SAMPLE_EVERY_S
                key = ROUND[presses % len(ROUND)]
                char = key if len(key) == 1 else {"slash": "/", "enter": "\r"}.get(key)
                sent = time.perf_counter()
                app._driver.send_message(events.Key(key, char))
                await frame_after(app, sent)
                presses += 1
                await asyncio.sleep(0.1)
            gc.collect()
            samples.append((time.perf_counter() - started, rss_mb()))
    finally:
        mesh.stop()
        if session is not None:
            session.close()
    return samples


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pods", type=int, default=10_000)
    parser.add_argument("--churn", type=float, default=500, help="pod changes a second")
    parser.add_argument("--seconds", type=float, default=120)
    parser.add_argument("--hour", action="store_true", help="soak for an hour (overrides --seconds)")
    args = parser.parse_args()
    seconds = 3600.0 if args.hour else args.seconds
    os.environ.setdefault("MESHTUI_LOG", str(Path(tempfile.gettempdir()) / "meshtui-bench.log"))
    setup_logging()
    namespaces = max(1, args.pods // PODS_PER_NAMESPACE)
    with tempfile.TemporaryDirectory(prefix="meshtui-soak-") as tmp:
        kubeconfig = Path(tmp) / "kubeconfig"
        sim = start_sim(namespaces, PODS_PER_NAMESPACE, kubeconfig, args.churn)
        try:
            samples = asyncio.run(soak(kubeconfig, namespaces, namespaces * PODS_PER_NAMESPACE, seconds))
        finally:
            stop_sim(sim)
    warm = min(60.0, seconds / 6)
    start = next((mb for t, mb in samples if t >= warm), samples[0][1])
    end = samples[-1][1]
    print(
        f"soak_growth_mb={end - start:.0f} soak_start_mb={start:.0f} soak_end_mb={end:.0f} soak_seconds={seconds:.0f}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
