"""A key acts on what the operator chose, and a refused action asks for no confirmation (demo, real engine)."""

from __future__ import annotations

from collections.abc import Callable

from meshtui.tui.app import MeshApp
from meshtui.tui.screens.plan import PlanScreen

from .conftest import Cluster, Waiter
from .test_engine_walkthrough import CLUSTER, Driver, demo_app

__all__ = ["demo_app"]


async def test_a_refused_delete_asks_for_no_confirmation(
    demo_app: Callable[[], tuple[MeshApp, Cluster]], waiter: Waiter
) -> None:
    app, _ = demo_app()
    async with app.run_test(size=(80, 24), message_hook=waiter.hook) as pilot:
        d = Driver(app, pilot, waiter)
        await d.begin()
        await pilot.press("slash", *"shop", "enter", "enter")
        await d.until(lambda: d.dash.data_plane.current == "pods", "the pods of shop")
        key = d.dash.data_plane.pods.table.cursor_key
        assert key is not None and key[:2] == (CLUSTER, "shop")
        screen = await d.plan("ctrl+d")
        assert screen.plan is not None and screen.plan.refused, screen.plan
        assert "Refused" in str(screen.verdict.render())
        assert not screen.word.display, "a refused plan shows no 'type delete to confirm' box"
        assert str(screen.keys.render()).startswith("esc close")
        await pilot.press(*"delete", "enter")
        assert isinstance(app.screen, PlanScreen) and screen.plan.refused, "typing and enter do nothing"
