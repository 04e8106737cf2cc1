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
