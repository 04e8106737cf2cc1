"""Counts of thousands read the same on every surface: `50,002 pods`, as the loading line and the plans
write them (the summary line wrote `50002 pods` once loaded and `2,005 namespaces so far` while loading)."""

from __future__ import annotations

from tests.conftest import StartSims
from tests.helpers import read_inventory

from .conftest import Cluster, Waiter, static_app


async def test_a_summary_of_thousands_of_pods_has_separators(sims: StartSims, waiter: Waiter) -> None:
    cluster = sims("large", params={"namespaces": 90, "pods_per_namespace": 25}, as_type=Cluster)
    inventory = read_inventory(cluster.targets)
    pods = sum(1 for _ in inventory.view().pods())
    assert pods >= 1000
    app = static_app(inventory)
    async with app.run_test(size=(80, 24), message_hook=waiter.hook) as pilot:
        dash = app.dashboard
        await waiter.until(pilot, lambda: dash.snapshot is not None, what="the first snapshot")
        await pilot.press("P")
        await pilot.pause()
        view = dash.data_plane.pods
        assert str(view.summary.render()).startswith(f"{pods:,} pods · ")
        await pilot.press("slash", *"app-00", "enter")  # the 2,250 application pods
        await pilot.pause()
        shown = view.table.visible_count
        assert shown >= 1000
        assert str(view.summary.render()).startswith(f"{shown:,} pods match · ")
