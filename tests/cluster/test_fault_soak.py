"""More than a thousand injected faults, of every kind the simulator has, against a running MeshWatch: after
each round the live inventory must equal a fresh read, exactly (the figures go to docs/reliability.md).

Kinds: watches ended cleanly and reset mid-stream, watches answered 410 Expired, list continue tokens
expired mid-list, 500/503 and 429 answers, slow answers, and the API server's storage going back in time
(a restarted simulator on the same port with lower resourceVersions).
"""

from __future__ import annotations

import random
from collections import Counter
from pathlib import Path

from meshtui.cluster import kinds
from meshtui.cluster.kubeconfig import connect
from meshtui.cluster.live import MeshWatch
from meshtui.cluster.reflector import Timing
from meshtui.domain.inventory import Inventory
from meshtui.sim import istio, scenarios
from meshtui.sim.launch import launch
from meshtui.sim.runtime import SimCluster
from meshtui.sim.settings import SimSettings
from tests.cluster.test_live import converge, restarted_demo

TIMING = Timing(
    page_size=20,
    watch_min_s=1,
    watch_max_s=2,
    backoff_initial_s=0.02,
    backoff_max_s=0.2,
    auth_retry_s=0.1,
    read_slack_s=5,
)
#: Rounds go on until this many faults were applied (how many a round applies depends on timing), at most MAX_ROUNDS.
TARGET = 1_100
MIN_ROUNDS, MAX_ROUNDS = 20, 80
#: Rounds that restart the simulator with a new, lower-versioned store instead of injecting faults.
REGRESSIONS = (9, 19)
REVISIONS = ("1-22-3", "1-23-1")


def settings() -> SimSettings:
    return SimSettings(pod_ready_delay=0.05, pod_termination_delay=0.05, bookmark_interval=0.3, history_window=200)


def change(sim: SimCluster, rng: random.Random, i: int) -> None:
    """A few writes an operator and the controllers would make: relabels, restarts, a tag move."""
    store = sim.store
    assert store is not None
    namespaces = sim.call(lambda: [e.name for e in store.entries("namespaces") if e.labels.get("istio.io/rev")])
    for ns in rng.sample(namespaces, min(3, len(namespaces))):
        sim.call(lambda ns=ns: scenarios.relabel(store, ns, {"istio.io/rev": rng.choice(REVISIONS)}))
    deployments = sim.call(lambda: [(e.namespace, e.name) for e in store.entries("apps/deployments")])
    for ns, name in rng.sample(deployments, min(2, len(deployments))):
        sim.call(
            lambda ns=ns, name=name: scenarios.restart(
                store, "apps/deployments", ns, name, at=f"2026-12-06T0{i % 10}:00:00Z"
            )
        )
    if i % 3 == 0:
        sim.call(lambda: istio.set_tag(store, "prod-stable", rng.choice(REVISIONS)))


def inject(sim: SimCluster, kind: str, rng: random.Random, i: int) -> None:
    f = sim.faults
    if kind == "drop":
        f.drop_watches()
    elif kind == "reset":
        f.drop_watches(abrupt=True)
    elif kind == "expire":
        f.expire_next_watches(15)
        f.drop_watches()
    elif kind == "continue":
        f.expire_next_continues(3)
        f.expire_next_watches(15)  # the relists these cause are paginated: their tokens expire
        f.drop_watches()
    elif kind in ("503", "500", "429"):
        f.fail(0.4, int(kind), retry_after=0)
        f.drop_watches(abrupt=rng.random() < 0.5)
    elif kind == "slow":
        f.delay(30)
        f.drop_watches()
    change(sim, rng, i)


def test_a_thousand_faults_leave_no_divergence(tmp_path: Path) -> None:
    rng = random.Random(20261206)
    sim = launch("demo", settings=settings())
    kubeconfig = sim.kubeconfig(tmp_path / "kubeconfig")
    inventory = Inventory()
    targets = connect(str(kubeconfig))
    for t in targets:
        inventory.add_cluster(t.name, t.server)
    watch = MeshWatch(targets, inventory, timing=TIMING)
    totals: Counter[str] = Counter()
    divergent_rounds = 0
    watch.start()
    try:
        assert watch.wait_synced(30)
        kinds_cycle = ["drop", "reset", "expire", "continue", "503", "500", "429", "slow"]
        i = -1
        while i + 1 < MIN_ROUNDS or (sum((totals + sim.faults.applied()).values()) < TARGET and i + 1 < MAX_ROUNDS):
            i += 1
            if i in REGRESSIONS:
                # The storage goes back in time: the old server wrote on, the new one starts from scratch.
                store = sim.store
                assert store is not None
                for n in range(300):
                    sim.call(lambda n=n, store=store: scenarios.relabel(store, "shop", {"soak": str(n)}))
                totals += sim.faults.applied()
                sim.stop()
                sim = restarted_demo(sim, settings())
                totals["resourceVersion regression"] += 1
                change(sim, rng, i)
            else:
                for _ in range(6):
                    inject(sim, kinds_cycle[(i + _) % len(kinds_cycle)], rng, i)
            sim.faults.clear()
            try:
                converge(watch, kubeconfig, f"round {i}")
            except AssertionError:
                divergent_rounds += 1
                raise
        totals += sim.faults.applied()
    finally:
        watch.stop()
        sim.stop()
    print("\nfaults injected:", dict(sorted(totals.items())), "total", sum(totals.values()))
    print("divergent rounds:", divergent_rounds, "of", i + 1)
    assert sum(totals.values()) >= 1000, totals
    assert divergent_rounds == 0
    # Every kind noticed both regressions (a kind with no object may list at the old version again: its
    # version can then not go back, and there is nothing to replace).
    assert sum(r.rv_regressions for r in watch.reflectors) >= len(REGRESSIONS) * (len(kinds.watch_specs()) - 2)
