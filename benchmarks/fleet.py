"""Benchmark a fleet in one dashboard: several large simulated clusters (default four of 50,000 pods each).

Usage: python benchmarks/fleet.py [--clusters 4] [--pods 50000] [--churn 2000] [--keys 100]

Each cluster is `meshtui sim --scenario large` in its own process (`--pods` per cluster, 25 a namespace);
one kubeconfig holds a context per cluster and meshtui is given all of them, as a user's fleet would be.
(a) `meshtui status --json` over every context, as a subprocess: its wall time;
(b) the dashboard (production factory, headless 120x36) from connecting to the first complete screen:
    synced, every namespace and pod of every cluster in its table; then the memory it holds for them,
    as bytes per pod (RSS after the first screen less RSS before connecting, over the pods);
(c) the clusters restarted with `--churn N` pod changes a second each, and `--keys` key presses timed
    from delivery to the first frame composed after the key was handled (as benchmarks/tui.py does);
(d) the peak RSS of this process (meshtui alone: the simulators run in their own).
A 50,000-pod simulator holds about 1.7 GB, more under churn (its watch history); with less memory pass a
smaller `--pods`, or `--keys 0` to skip the churn phase (the key figure is then `nan`).
The last line is `fleet_first_screen_s=<s> fleet_key_p99_ms=<ms> fleet_peak_mb=<MB> fleet_status_s=<s>
bytes_per_pod=<B>`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

from simproc import start_sim, stop_sim  # noqa: E402
from tui import first_screen, key_latencies, p99  # noqa: E402

from meshtui.tui.logfile import setup_logging  # noqa: E402

PODS_PER_NAMESPACE = 25


def rss_bytes() -> int:
    """This process's resident set size now."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def start_fleet(clusters: int, namespaces: int, folder: Path, churn: float) -> list[subprocess.Popen[str]]:
    """Start the simulators side by side (each builds its scenario on its own core time); all or none."""
    procs: list[subprocess.Popen[str] | None] = [None] * clusters
    errors: list[BaseException] = []

    def one(i: int) -> None:
        try:
            procs[i] = start_sim(namespaces, PODS_PER_NAMESPACE, folder / f"kubeconfig-{i}", churn)
        except BaseException as exc:  # reported below, once every start has ended
            errors.append(exc)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(clusters)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    started = [p for p in procs if p is not None]
    if errors:
        for p in started:
            stop_sim(p)
        raise SystemExit(f"a simulator did not start: {errors[0]}")
    return started


def fleet_kubeconfig(folder: Path, clusters: int) -> tuple[Path, list[str]]:
    """One kubeconfig with a context per simulator (`fleet-1`...), from the kubeconfigs they wrote."""
    config: dict[str, Any] = {"apiVersion": "v1", "kind": "Config", "clusters": [], "users": [], "contexts": []}
    names = []
    for i in range(clusters):
        one = yaml.safe_load((folder / f"kubeconfig-{i}").read_text())
        name = f"fleet-{i + 1}"
        names.append(name)
        config["clusters"].append({"name": name, "cluster": one["clusters"][0]["cluster"]})
        config["users"].append({"name": name, "user": one["users"][0]["user"]})
        config["contexts"].append({"name": name, "context": {"cluster": name, "user": name}})
    config["current-context"] = names[0]
    path = folder / "fleet-kubeconfig"
    path.write_text(yaml.safe_dump(config))
    path.chmod(0o600)
    return path, names


def status_seconds(kubeconfig: Path, contexts: list[str]) -> float:
    """Wall time of `meshtui status --json` over every context (it must succeed)."""
    cmd = [sys.executable, "-m", "meshtui", "status", "--json", "--kubeconfig", str(kubeconfig)]
    for c in contexts:
        cmd += ["--context", c]
    started = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, check=False)
    took = time.perf_counter() - started
    if proc.returncode not in (0, 1) or not proc.stdout.strip().startswith("{"):
        raise SystemExit(f"meshtui status --json failed ({proc.returncode}): {proc.stderr[-500:]}")
    return took


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clusters", type=int, default=4)
    parser.add_argument("--pods", type=int, default=50_000, help="pods per cluster (25 a namespace)")
    parser.add_argument("--churn", type=float, default=2000, help="pod changes a second, per cluster")
    parser.add_argument("--keys", type=int, default=100, help="key presses under churn; 0: skip that phase")
    args = parser.parse_args()
    os.environ.setdefault("MESHTUI_LOG", str(Path(tempfile.gettempdir()) / "meshtui-bench.log"))
    setup_logging()
    namespaces = max(1, args.pods // PODS_PER_NAMESPACE)
    per_cluster = namespaces * PODS_PER_NAMESPACE
    total_ns, total_pods = namespaces * args.clusters, per_cluster * args.clusters
    held: list[int] = []

    def measure_held(app: Any, mesh: Any) -> None:
        del app, mesh
        held.append(rss_bytes())

    with tempfile.TemporaryDirectory(prefix="meshtui-fleet-") as tmp:
        folder = Path(tmp)
        sims = start_fleet(args.clusters, namespaces, folder, 0)
        try:
            kubeconfig, contexts = fleet_kubeconfig(folder, args.clusters)
            status_s = status_seconds(kubeconfig, contexts)
            print(f"status --json over {args.clusters} clusters: {status_s:.2f}s", flush=True)
            before = rss_bytes()
            rows, listed, first = asyncio.run(
                first_screen(kubeconfig, total_ns, total_pods, contexts, on_complete=measure_held)
            )
        finally:
            for p in sims:
                stop_sim(p)
        bytes_per_pod = (held[0] - before) / total_pods if held else float("nan")
        print(
            f"first rows on screen: {rows:.2f}s; the watch listed every kind: {listed:.2f}s; first complete screen: "
            f"{first:.2f}s ({args.clusters} clusters, {total_ns} namespaces, {total_pods} pods); "
            f"{bytes_per_pod:.0f} bytes a pod held",
            flush=True,
        )
        latencies: list[float] = []
        if args.keys:
            sims = start_fleet(args.clusters, namespaces, folder, args.churn)
            try:
                kubeconfig, contexts = fleet_kubeconfig(folder, args.clusters)
                latencies, applied = asyncio.run(key_latencies(kubeconfig, total_ns, total_pods, args.keys, contexts))
            finally:
                for p in sims:
                    stop_sim(p)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if latencies:
        print(
            f"keys under churn {args.churn:g}/s a cluster: {len(latencies)} presses, p50 "
            f"{statistics.median(latencies):.0f} ms, p99 {p99(latencies):.0f} ms, max {max(latencies):.0f} ms; "
            f"the watch applied {applied} events meanwhile",
            flush=True,
        )
    key_p99 = f"{p99(latencies):.0f}" if latencies else "nan"
    print(
        f"fleet_first_screen_s={first:.2f} fleet_key_p99_ms={key_p99} fleet_peak_mb={peak_mb:.0f} "
        f"fleet_status_s={status_s:.2f} bytes_per_pod={bytes_per_pod:.0f}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
