"""While the first load runs, the feed builds at most one snapshot a second; the one after it comes at once.

Each snapshot during the load hands the tables thousands of new rows: at 50,000 pods, four a second kept
the first complete screen seconds later (benchmarks/tui.py).
"""

from __future__ import annotations

import pytest

from meshtui.cluster.live import ClusterHealth
from meshtui.cluster.reflector import ConnState
from meshtui.domain.inventory import Inventory
from meshtui.tui.factory import build_app
from meshtui.tui.feed import StaticMesh
from meshtui.tui.settings import DashboardSettings
from meshtui.tui.widgets import live_feed
from meshtui.tui.widgets.live_feed import LiveFeed

from .conftest import Waiter, fixed_clock
from .fakes import FakeSession

CLUSTER = "meshtui-sim"


async def test_snapshots_wait_during_the_load_and_not_after_it(
    demo_inventory: Inventory, waiter: Waiter, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = [1000.0]
    monkeypatch.setattr(live_feed, "monotonic", lambda: now[0])
    loading = (ClusterHealth(CLUSTER, "", ConnState.CONNECTING, "", 14, 15, 27_519, ("Pod",)),)
    mesh = StaticMesh(Inventory.from_snapshot(demo_inventory.snapshot()), loading)
    app = build_app(mesh, FakeSession(clock=fixed_clock), clock=fixed_clock, settings=DashboardSettings())
    async with app.run_test(size=(80, 24), message_hook=waiter.hook) as pilot:
        dash = app.dashboard
        feed = dash.feed
        await waiter.until(pilot, lambda: dash.snapshot is not None, what="the first snapshot")

        def refreshes() -> int:
            return len(waiter.seen(LiveFeed.Updated)) + len(waiter.seen(LiveFeed.Unchanged))

        await waiter.until(pilot, lambda: not feed._busy, what="the first refresh to end")
        before = refreshes()
        now[0] += 0.5  # a change half a second later, pods still listing: it waits
        ticket = feed.refresh_now()
        feed._tick()
        await pilot.pause()
        assert refreshes() == before and not dash.has_snapshot(ticket) and feed._dirty.is_set()

        now[0] += 0.6  # a second after the last one: built
        feed._tick()
        await waiter.until(pilot, lambda: dash.has_snapshot(ticket), what="the next refresh")

        now[0] += 0.1  # every kind listed: the refresh that completes the screen does not wait
        mesh._health = (ClusterHealth(CLUSTER, "", ConnState.SYNCED, "", 15, 15, 0),)
        ticket = feed.refresh_now()
        feed._tick()
        await waiter.until(pilot, lambda: dash.has_snapshot(ticket), what="the synced snapshot")
        assert dash.snapshot is not None and dash.snapshot.synced

        now[0] += 0.1  # and after the load, changes are shown at the feed's own pace again
        ticket = feed.refresh_now()
        feed._tick()
        await waiter.until(pilot, lambda: dash.has_snapshot(ticket), what="a change after the load")
