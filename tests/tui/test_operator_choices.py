"""A key acts on what the operator chose, and a refused action asks for no confirmation (demo, real engine)."""

from __future__ import annotations

from collections.abc import Callable

from meshtui.engine.record import RestartProgress
from meshtui.tui.app import MeshApp
from meshtui.tui.screens.choice import ChoiceScreen
from meshtui.tui.screens.plan import PlanScreen

from .conftest import Cluster, Waiter
from .test_engine_walkthrough import CLUSTER, Driver


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


async def test_a_recorded_restart_is_offered_as_such_never_substituted(
    demo_app: Callable[[], tuple[MeshApp, Cluster]], waiter: Waiter
) -> None:
    app, _ = demo_app()
    async with app.run_test(size=(120, 36), message_hook=waiter.hook) as pilot:
        d = Driver(app, pilot, waiter)
        await d.begin()
        session = d.dash.runner.session
        recorded = [f"{CLUSTER}|Deployment|reviews|{name}" for name in ("reviews-v1", "ratings")]
        progress = RestartProgress(batch_id="restart-1", workloads=recorded, restarted_at="2026-03-02T10:00:00Z")
        session.store.update(lambda r: setattr(r, "restart", progress))  # a meshtui that died mid-restart
        d.dash.runner.refresh_session()
        await d.until(lambda: bool(d.dash.snapshot.state and d.dash.snapshot.state.restart_pending), "the record")

        await pilot.press("slash", *"catalog", "enter")
        await pilot.press("r")
        assert isinstance(app.screen, ChoiceScreen), app.screen
        assert "A restart of 2 workloads" in str(app.screen.content_body) and "reviews" in str(app.screen.content_body)
        discard = await d.plan("d")
        assert discard.plan is not None and {op.namespace for op in discard.plan.operations} == {"catalog"}
        assert any("discards the recorded restart" in n for n in discard.plan.notes), discard.plan.notes
        await pilot.press("escape")

        await pilot.press("r")
        resume = await d.plan("r")
        assert resume.plan is not None
        assert [(op.namespace, op.name) for op in resume.plan.operations] == [
            ("reviews", "reviews-v1"),
            ("reviews", "ratings"),
        ]
        assert resume.subtitle.startswith("The recorded, unfinished restart")
