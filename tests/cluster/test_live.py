"""The live model over the simulator: it stays equal to a fresh read while the cluster changes underneath."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from meshtui.cluster.kubeconfig import connect
from meshtui.cluster.live import MeshWatch
from meshtui.cluster.oneshot import load_once
from meshtui.cluster.reflector import ConnState, Timing
from meshtui.domain.inventory import Inventory
from meshtui.domain.report import status_document
from meshtui.sim import istio, scenarios
from meshtui.sim.runtime import SimCluster
from meshtui.sim.settings import SimSettings
from tests.conftest import StartSims
from tests.helpers import fast_settings, multi_kubeconfig, start_sim, wait_until

TIMING = Timing(watch_min_s=2, watch_max_s=4, backoff_initial_s=0.05, backoff_max_s=0.5, auth_retry_s=0.2)


def fresh_document(kubeconfig: Path, contexts: list[str] | None = None) -> dict[str, object]:
    """The status document from a one-shot read, as `meshtui status` computes it."""
    targets = connect(str(kubeconfig), contexts)
    inventory = Inventory()
    for t in targets:
        inventory.add_cluster(t.name, t.server)
    load_once(targets, inventory)
    return status_document(inventory.view(), all_pods=True)


def live_document(watch: MeshWatch) -> dict[str, object]:
    assert watch.flush(10)
    with watch.lock:
        return status_document(watch.inventory.view(), all_pods=True)  # type: ignore[attr-defined]


@pytest.fixture
def demo(sims: StartSims) -> Iterator[tuple[SimCluster, Path, MeshWatch]]:
    running = sims("demo")
    sim, kubeconfig = running.cluster, running.kubeconfig
    inventory = Inventory()
    targets = connect(str(kubeconfig))
    for t in targets:
        inventory.add_cluster(t.name, t.server)
    watch = MeshWatch(targets, inventory, timing=TIMING)
    watch.start()
    assert watch.wait_synced(30)
    yield sim, kubeconfig, watch
    watch.stop()


def converge(watch: MeshWatch, kubeconfig: Path, what: str) -> dict[str, object]:
    """Wait until the live document equals a fresh read; return it."""
    last: dict[str, dict[str, object]] = {}

    def same() -> bool:
        fresh = fresh_document(kubeconfig)
        live = live_document(watch)
        last["fresh"], last["live"] = fresh, live
        return fresh == live

    wait_until(same, timeout=30, what=what)
    return last["live"]


def test_live_model_follows_a_relabel_a_restart_and_a_tag_move(
    demo: tuple[SimCluster, Path, MeshWatch],
) -> None:
    sim, kubeconfig, watch = demo
    store = sim.store
    assert store is not None
    start = converge(watch, kubeconfig, "the initial state")
    ns_before = {n["name"]: n for n in start["namespaces"]}  # type: ignore[union-attr, index]
    assert ns_before["orders"]["revision"] == "1-22-3"

    # Relabel a namespace to the target: its pods now would restart on the target.
    sim.call(lambda: scenarios.relabel(store, "orders", {"istio.io/rev": "1-23-1"}))
    after = converge(watch, kubeconfig, "the relabel")
    pods = [p for p in after["pods"] if p["namespace"] == "orders" and p["revision"]]  # type: ignore[union-attr, index]
    assert pods and all(p["revision_on_restart"] == "1-23-1" and p["revision"] == "1-22-3" for p in pods)

    # Restart its deployments: the new pods come up on the target, the old ones go.
    deployments = sim.call(lambda: [d["metadata"]["name"] for d in store.list("apps/deployments", "orders")])
    for name in deployments:
        sim.call(lambda n=name: scenarios.restart(store, "apps/deployments", "orders", n, at="2026-11-29T20:00:00Z"))

    def orders_on_target() -> bool:
        doc = live_document(watch)
        ns = next(n for n in doc["namespaces"] if n["name"] == "orders")  # type: ignore[union-attr, index]
        return ns["pods"]["by_revision"] == {"1-23-1": ns["pods"]["live"]} and ns["pods"]["live"] > 0

    wait_until(orders_on_target, timeout=30, what="the restarted pods to be on the target")
    converge(watch, kubeconfig, "the restart")

    # Move a tag: namespaces labelled prod-stable now resolve to the target.
    sim.call(lambda: istio.set_tag(store, "prod-stable", "1-23-1"))
    moved = converge(watch, kubeconfig, "the tag move")
    tags = {t["name"]: t["revision"] for t in moved["tags"]}  # type: ignore[union-attr, index]
    assert tags["prod-stable"] == "1-23-1"
    accounts = next(n for n in moved["namespaces"] if n["name"] == "accounts")  # type: ignore[union-attr, index]
    assert accounts["revision"] == "1-23-1"


def test_live_model_converges_after_faults(demo: tuple[SimCluster, Path, MeshWatch]) -> None:
    sim, kubeconfig, watch = demo
    store = sim.store
    assert store is not None
    sim.faults.fail(0.3, 503)
    sim.faults.drop_watches()
    sim.call(lambda: scenarios.relabel(store, "payments", {"istio.io/rev": "1-23-1"}))
    sim.faults.restart()
    sim.call(lambda: scenarios.relabel(store, "shop", {"team": "web"}))
    sim.faults.clear()
    converge(watch, kubeconfig, "convergence after faults")
    wait_until(lambda: all(h.state is ConnState.SYNCED for h in watch.health()), what="every watch back in sync")


def test_two_clusters_watched_as_one_mesh(tmp_path: Path, sims: StartSims) -> None:
    east, west = sims("demo").cluster, sims("fresh").cluster
    kubeconfig = multi_kubeconfig(tmp_path / "k", {"east": east, "west": west}, current="east")
    targets = connect(str(kubeconfig), ["east", "west"])
    inventory = Inventory()
    for t in targets:
        inventory.add_cluster(t.name, t.server)
    watch = MeshWatch(targets, inventory, timing=TIMING)
    watch.start()
    try:
        assert watch.wait_synced(30)
        assert [h.cluster for h in watch.health()] == ["east", "west"]
        live = live_document(watch)
        assert live == fresh_document(kubeconfig, ["east", "west"])
        assert {c["name"] for c in live["clusters"]} == {"east", "west"}  # type: ignore[union-attr, index]
    finally:
        watch.stop()


def restarted_demo(old: SimCluster, settings: SimSettings | None = None) -> SimCluster:
    """The demo on a new simulator with the old one's port and token: the same server, with new storage."""
    settings = settings or fast_settings(bookmark_interval=0.5)
    return start_sim(
        setup=lambda store: scenarios.build("demo", store, settings, seed=1),
        settings=settings,
        controllers=True,
        port=old.port,
        token=old.token,
    )


def test_live_model_converges_when_the_servers_resource_versions_go_back(tmp_path: Path) -> None:
    """A restarted simulator (on a real cluster, an etcd restore) serves the same port with lower
    resourceVersions: every watch resuming from its old version would stay silent. The live model must
    notice, relist, and equal a fresh read of the new server."""
    first = start_sim("demo")
    kubeconfig = first.kubeconfig(tmp_path / "kubeconfig")
    inventory = Inventory()
    targets = connect(str(kubeconfig))
    for t in targets:
        inventory.add_cluster(t.name, t.server)
    watch = MeshWatch(targets, inventory, timing=TIMING)
    watch.start()
    second: SimCluster | None = None
    try:
        assert watch.wait_synced(30)
        store = first.store
        assert store is not None
        # The old server moves on: payments relabelled (the new server will not have that), and enough
        # writes that its resourceVersion stays above anything the new server reaches during the test.
        sim_rv = first.call(lambda: store.rv)
        for i in range(300):
            first.call(lambda i=i: scenarios.relabel(store, "payments", {"istio.io/rev": "1-23-1", "n": str(i)}))
        converge(watch, kubeconfig, "the old server's state")
        old_rv = first.call(lambda: store.rv)
        first.stop()

        second = restarted_demo(first)
        new_store = second.store
        assert new_store is not None
        assert second.call(lambda: new_store.rv) < old_rv - 200 < old_rv, (sim_rv, old_rv)
        live = converge(watch, kubeconfig, "the restarted server's state")
        payments = next(n for n in live["namespaces"] if n["name"] == "payments")  # type: ignore[union-attr, index]
        assert payments["revision"] == "1-22-3"
        wait_until(lambda: all(h.state is ConnState.SYNCED for h in watch.health()), what="every watch back in sync")
        assert any(r.rv_regressions for r in watch.reflectors), "the resourceVersion regression was not noticed"
    finally:
        watch.stop()
        first.stop()
        if second is not None:
            second.stop()
