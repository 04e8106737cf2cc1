"""Keys typed faster than the dashboard answers (a paste, `tmux send-keys`, a fast typist) keep their meaning.

The terminal hands the keys over in one burst: every key is routed before `/` has opened the filter, so the
letters after `/` must still land in the filter and the keys after `enter` must act on the table again.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from textual import events
from textual.pilot import Pilot

from meshtui.domain.inventory import Inventory
from meshtui.tui.app import MeshApp

from .conftest import Waiter, static_app

CLUSTER = "meshtui-sim"


def burst(app: MeshApp, *keys: tuple[str, str | None]) -> None:
    """Hand `keys` to the app in one go, as the terminal driver does with a burst of input."""
    driver = app._driver
    assert driver is not None
    for key, character in keys:
        event = events.Key(key, character)
        event.set_sender(app)
        driver.send_message(event)


async def settled(pilot: Pilot[Any], done: Callable[[], bool]) -> None:
    """Let the app work through the burst: until `done()` holds, or a deadline (the asserts then say what)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 10
    while loop.time() < deadline:
        await pilot.pause()
        if done():
            return
        await pilot.pause(0.05)


def typed(text: str) -> list[tuple[str, str | None]]:
    return [(ch, ch) for ch in text]


async def test_a_filter_typed_in_one_burst_filters_and_the_next_key_acts_on_the_rows(
    demo_inventory: Inventory, waiter: Waiter
) -> None:
    app = static_app(Inventory.from_snapshot(demo_inventory.snapshot()))
    async with app.run_test(size=(80, 24), message_hook=waiter.hook) as pilot:
        dash = app.dashboard
        await waiter.until(pilot, lambda: dash.snapshot is not None, what="the first snapshot")
        namespaces = dash.data_plane.namespaces
        todo = None
        for attempt in range(2):  # the second time with the filter already known to work key by key
            burst(app, ("slash", "/"), *typed("todo"), ("enter", None), ("a", "a"))
            await settled(pilot, lambda: bool(namespaces.table.selected_keys) or namespaces.filtering)
            assert namespaces.filter_text == "todo", (attempt, namespaces.filter_text)
            assert not namespaces.filtering
            shown = set(namespaces.table.visible_keys())
            assert namespaces.table.selected_keys == shown, "a selects the rows the filter shows"
            assert (CLUSTER, "monitoring") not in shown and (CLUSTER, "catalog") in shown
            todo = shown if todo is None else todo
            assert shown == todo
            await pilot.press("c", "escape")
            await pilot.pause()
            assert namespaces.filter_text == "" and not namespaces.table.selected_keys
