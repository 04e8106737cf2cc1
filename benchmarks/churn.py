"""Benchmark the simulator's pod churn: changes a second on the event loop, and the cost of one change.

Usage: python benchmarks/churn.py [--rate 1000] [--changes 2000]

The demo and the status benchmark ask for thousands of pod changes a second; this measures whether the
store keeps up: the rate achieved when `--rate` is asked for, until `--changes` were made. The last line
is `churn_asked_per_s=<rate> churn_per_s=<achieved> churn_change_us=<microseconds>`.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from meshtui.sim import istio
from meshtui.sim.controllers import Controllers, PodChurn, settle
from meshtui.sim.settings import SimSettings
from meshtui.sim.store import Store

SETTINGS = SimSettings(pod_ready_delay=0.03, pod_termination_delay=0.02, nodes=3)


def deployment(name: str, namespace: str, replicas: int) -> dict[str, object]:
    """A Deployment of `replicas` pods with one container."""
    return {
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": name, "image": f"example/{name}:1"}]},
            },
        },
    }


def store_with_pods(replicas: int) -> Store:
    """A settled store with one Deployment of `replicas` injected pods."""
    store = Store()
    store.create("namespaces", {"metadata": {"name": "shop", "labels": {"istio.io/rev": "1-22-3"}}})
    istio.install_revision(store, "1-22-3", "1.22.3")
    store.create("apps/deployments", deployment("web", "shop", replicas))
    settle(store, SETTINGS)
    return store


def cost_per_change(changes: int) -> float:
    """Seconds one synchronous churn change takes, averaged over `changes`."""
    churn = PodChurn(store_with_pods(50), changes)
    start = time.perf_counter()
    for _ in range(changes):
        churn.change_one()
    return (time.perf_counter() - start) / changes


async def achieved_rate(asked: float, changes: int) -> float:
    """Changes a second the churn task makes, asked for `asked`, on an event loop shared with the controllers."""
    store = store_with_pods(5)
    controllers = Controllers(store, SETTINGS, asyncio.get_running_loop())
    controllers.start()
    churn = PodChurn(store, asked)
    start = time.perf_counter()
    churn.start()
    while churn.changes < changes:
        await asyncio.sleep(0.01)
    await churn.stop()
    elapsed = time.perf_counter() - start
    controllers.stop()
    return churn.changes / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=1000.0)
    parser.add_argument("--changes", type=int, default=2000)
    args = parser.parse_args()
    per_change = cost_per_change(args.changes)
    per_second = asyncio.run(achieved_rate(args.rate, args.changes))
    print(f"churn_asked_per_s={args.rate:g} churn_per_s={per_second:.0f} churn_change_us={per_change * 1e6:.0f}")


if __name__ == "__main__":
    main()
