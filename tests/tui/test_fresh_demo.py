"""`meshtui demo --scenario fresh`: only the old revision is installed, and the upgrade can still begin."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

import pytest

from meshtui.cli.demo_cmd import _render, demo_settings
from meshtui.engine.session import EngineSession
from meshtui.tui.factory import build_app, watch_targets
from meshtui.tui.screens.plan import PlanScreen
from meshtui.tui.widgets.action_runner import ActionRunner

from .conftest import NEW, OLD, Cluster, Waiter


async def test_the_fresh_demo_names_its_pair_and_begins(
    start_cluster: Callable[..., Cluster], waiter: Waiter, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MESHTUI_IDENTITY", "sre@jump-1")
    cluster = start_cluster("fresh")
    args = argparse.Namespace(scenario="fresh", source=None, target=None, read_only=False, theme=None)
    settings = demo_settings(args, _render(tmp_path, "fresh"))
    assert (settings.source, settings.target) == (OLD, NEW)
    mesh = watch_targets(cluster.targets)
    session = EngineSession(cluster.targets, None, source=settings.source, target=settings.target)
    app = build_app(mesh, session, settings=settings)
    try:
        async with app.run_test(size=(120, 36), message_hook=waiter.hook) as pilot:
            dash = app.dashboard
            await waiter.until(
                pilot,
                lambda: dash.snapshot is not None and dash.snapshot.synced and dash.snapshot.state is not None,
                what="the first synced snapshot",
            )
            state = dash.snapshot.state
            assert (state.source, state.target) == (OLD, NEW)
            assert state.action("start").enabled, state.action("start").reasons
            await pilot.press("b")
            await waiter.until(pilot, lambda: bool(waiter.seen(ActionRunner.DryRunDone)), what="the Start plan")
            screen = app.screen
            assert isinstance(screen, PlanScreen) and screen.applicable, screen
    finally:
        session.close()
        mesh.stop()
