"""A burst of 10,000 pod events collapses into one repaint and keeps the cursor, selection and scroll."""

from __future__ import annotations

from dataclasses import replace

from meshtui.domain.inventory import Inventory
from meshtui.domain.objects import Pod
from meshtui.tui.feed import StaticMesh
from meshtui.tui.widgets.live_feed import LiveFeed

from .conftest import Waiter, static_app

CLUSTER = "meshtui-sim"


def burst(inventory: Inventory, count: int, round_: int) -> None:
    """`count` pod events: new pods sorted before and after everything, and changes to existing pods."""
    existing = [row.pod for row in inventory.view().pods()]
    template = existing[0]
    for i in range(count // 2):
        namespace = "aaa-burst" if i % 2 else "zzz-burst"
        pod = replace(template, namespace=namespace, name=f"burst-{round_}-{i:05d}", uid=f"uid-{round_}-{i}")
        inventory.apply(CLUSTER, "Pod", "ADDED", pod)
    for i in range(count - count // 2):
        pod: Pod = existing[i % len(existing)]
        inventory.apply(CLUSTER, "Pod", "MODIFIED", replace(pod, restarts=pod.restarts + 1 + i))


async def test_burst_keeps_cursor_selection_and_scroll(demo_inventory: Inventory, waiter: Waiter) -> None:
    inventory = Inventory.from_snapshot(demo_inventory.snapshot())
    app = static_app(inventory)
    mesh = app.mesh
    assert isinstance(mesh, StaticMesh)
    async with app.run_test(size=(80, 24), message_hook=waiter.hook) as pilot:
        dash = app.dashboard
        await waiter.until(pilot, lambda: dash.snapshot is not None, what="the first snapshot")
        table = dash.data_plane.namespaces.table
        await pilot.press("space", "j", "j", "j", "space", *["j"] * 14)
        cursor, line = table.cursor_key, table.cursor_index - round(table.scroll_y)
        assert table.scroll_y > 0  # scrolled: the screen line of the cursor is what must not move
        selected = table.selected_keys
        assert selected == {(CLUSTER, "accounts"), (CLUSTER, "catalog")}

        before = len(waiter.seen(LiveFeed.Updated))
        burst(inventory, 10_000, 1)
        mesh.changed()
        await waiter.until(pilot, lambda: len(waiter.seen(LiveFeed.Updated)) > before, what="the burst's snapshot")
        await pilot.pause()
        # One snapshot for the whole burst.
        assert len(waiter.seen(LiveFeed.Updated)) == before + 1
        assert table.row_count == 21  # two namespaces appeared, one before the cursor
        assert table.cursor_key == cursor
        assert table.cursor_index - round(table.scroll_y) == line
        assert table.selected_keys == selected

        # Every pod of the mesh in one table: the same holds there.
        await dash.run_action("show_view('pods')")
        pods = dash.data_plane.pods.table
        await pilot.press("pagedown", "j", "j", "j")
        await pilot.pause()
        cursor, line = pods.cursor_key, pods.cursor_index - round(pods.scroll_y)
        assert pods.row_count == 149 + 5_000
        before = len(waiter.seen(LiveFeed.Updated))
        burst(inventory, 10_000, 2)
        mesh.changed()
        await waiter.until(pilot, lambda: len(waiter.seen(LiveFeed.Updated)) > before, what="the burst's snapshot")
        await pilot.pause()
        assert pods.row_count == 149 + 10_000
        assert pods.cursor_key == cursor
        assert pods.cursor_index - round(pods.scroll_y) == line
