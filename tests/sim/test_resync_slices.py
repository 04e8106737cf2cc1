"""A live start-up resync runs in slices: requests are answered between them, and the controllers count as
busy until the walk ends (so `idle` waits for it)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from meshtui.sim.controllers import Controllers, base
from meshtui.sim.settings import SimSettings
from meshtui.sim.store import Store


def test_a_sliced_walk_lets_other_callbacks_run_between_its_slices(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(base, "SLICE_S", 0.0)  # one step a slice: the order below is then exact
    order: list[str] = []

    def walk() -> Iterator[None]:
        for i in range(3):
            order.append(f"step {i}")
            yield
        order.append("done")

    async def main() -> None:
        loop = asyncio.get_running_loop()
        rt = base.Runtime(Store(), SimSettings(), loop=loop)
        rt.run_sliced(walk())
        assert order == ["step 0"] and rt.resyncing == 1  # the first slice ran at once, the rest waits
        loop.call_soon(order.append, "request")
        while rt.resyncing:
            await asyncio.sleep(0)
        assert order == ["step 0", "step 1", "request", "step 2", "done"]

    asyncio.run(main())


def test_controllers_are_not_idle_until_the_resync_walk_ends(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(base, "SLICE_S", 0.0)

    async def main() -> None:
        store = Store()
        store.create("namespaces", {"metadata": {"name": "shop"}})
        for i in range(1200):
            store.create("configmaps", {"metadata": {"name": f"cm-{i}", "namespace": "shop"}})
        controllers = Controllers(store, SimSettings(), asyncio.get_running_loop())
        controllers.start()
        assert controllers.runtime is not None and controllers.runtime.resyncing == 1
        assert not controllers.idle
        while not controllers.idle:
            await asyncio.sleep(0)
        assert store.entry("nodes", None, "sim-node-1") is not None
        controllers.stop()

    asyncio.run(main())


def test_a_replicaset_missing_a_pod_is_reconciled_at_start_up_though_its_status_says_ready() -> None:
    from meshtui.sim.controllers import settle
    from tests.sim.conftest import fast_settings

    store = Store()
    store.create("namespaces", {"metadata": {"name": "shop"}})
    store.create("apps/deployments", {
        "metadata": {"name": "web", "namespace": "shop"},
        "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}},
                 "template": {"metadata": {"labels": {"app": "web"}},
                              "spec": {"containers": [{"name": "web", "image": "example/web:1"}]}}},
    })
    settings = fast_settings()
    settle(store, settings)
    (rs,) = store.list("apps/replicasets", "shop")
    assert rs["status"]["readyReplicas"] == 3
    gone = sorted(e.name for e in store.entries("pods", "shop"))[0]
    store.remove("pods", "shop", gone)  # behind the controllers' back: the status still says 3 Ready

    async def main() -> None:
        controllers = Controllers(store, settings, asyncio.get_running_loop())
        controllers.start()
        while not controllers.idle or len(list(store.entries("pods", "shop"))) < 3:
            await asyncio.sleep(0.01)
        controllers.stop()

    asyncio.run(asyncio.wait_for(main(), 20))
    assert len(list(store.entries("pods", "shop"))) == 3
