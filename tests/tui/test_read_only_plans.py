"""`meshtui --read-only`: every action shows its plan only (README), through the production factory and engine."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import pytest

from meshtui.cluster.kubeconfig import connect
from meshtui.engine.session import EngineSession
from meshtui.tui.factory import build_app, watch_targets
from meshtui.tui.screens.dashboard import DashboardScreen
from meshtui.tui.screens.disabled import DisabledScreen
from meshtui.tui.screens.plan import PlanScreen
from meshtui.tui.settings import DashboardSettings
from meshtui.tui.widgets.action_runner import ActionRunner

from .conftest import Cluster, Waiter


async def test_read_only_shows_the_plan_and_sends_no_write(
    start_cluster: Callable[..., Cluster], waiter: Waiter, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MESHTUI_IDENTITY", "sre@jump-1")
    cluster = start_cluster("demo")
    targets = connect(str(cluster.kubeconfig), None, read_only=True)
    mesh = watch_targets(targets)
    session = EngineSession(targets, None, read_only=True)
    app = build_app(mesh, session, settings=replace(DashboardSettings(), read_only=True))
    writes_before = cluster.store_call(lambda store: store.rv)
    try:
        async with app.run_test(size=(120, 36), message_hook=waiter.hook) as pilot:
            dash = app.dashboard
            await waiter.until(
                pilot,
                lambda: dash.snapshot is not None and dash.snapshot.synced and dash.snapshot.state is not None,
                what="the first synced snapshot",
            )
            assert "READ-ONLY" in str(dash.header.where.render())
            # Start is held by read-only mode alone: its plan opens, applying is not offered.
            await pilot.press("b")
            await waiter.until(pilot, lambda: bool(waiter.seen(ActionRunner.DryRunDone)), what="the plan")
            screen = app.screen
            assert isinstance(screen, PlanScreen), screen
            assert screen.plan is not None and screen.plan.operations, screen.plan
            assert "Read-only" in str(screen.verdict.render())
            assert not screen.applicable
            await pilot.press("enter")
            await pilot.pause()
            assert not waiter.seen(ActionRunner.Finished)
            await pilot.press("escape")
            assert isinstance(app.screen, DashboardScreen)
            # Finish is held by its gates too: those are what the operator reads, read-only among them.
            await pilot.press("4", "F")
            await pilot.pause()
            assert isinstance(app.screen, DisabledScreen), app.screen
    finally:
        session.close()
        mesh.stop()
    # Not one write reached the server (the store's resourceVersion moves with every write).
    assert cluster.store_call(lambda store: store.rv) == writes_before
