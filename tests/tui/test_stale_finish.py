"""Finish's "type the revision" dialog stays open while another operator undoes the upgrade behind it.

The issue's scenario through the real dashboard flow: U, enter, F; then `kubectl label ns shop
istio.io/rev=1-22-3 --overwrite` and a rollout restart of shop (the official client); then the revision
is typed. The run is judged on a fresh read of the cluster: nothing is deleted and the dashboard says why.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from meshtui.domain.reasons import ReasonKind
from meshtui.engine.session import EngineSession
from meshtui.tui.factory import build_app, watch_targets
from meshtui.tui.screens.message import MessageScreen
from meshtui.tui.screens.plan import PlanScreen
from meshtui.tui.settings import DashboardSettings
from meshtui.tui.widgets.action_runner import ActionRunner
from tests.engine.finishing import OLD, upgrade_enabled
from tests.engine.support import Mesh
from tests.engine.test_safety import istiod_exists, relabel_and_restart_shop, webhooks_of

from .conftest import Cluster, Waiter
from .test_engine_walkthrough import Driver


async def test_choosing_upgrade_after_a_relabel_records_no_choice(
    start_cluster: Callable[..., Cluster], tmp_path: Path, waiter: Waiter, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("MESHTUI_IDENTITY", "sre@jump-1")
    cluster = start_cluster("fresh")
    mesh = Mesh(cluster.sim, cluster.kubeconfig)
    upgrade_enabled(mesh, tmp_path)
    watched = watch_targets(cluster.targets)
    session = EngineSession(cluster.targets, None)
    app = build_app(watched, session, settings=replace(DashboardSettings(), title="stale upgrade"))
    try:
        async with app.run_test(size=(120, 40), message_hook=waiter.hook) as pilot:
            d = Driver(app, pilot, waiter)
            await d.until(lambda: d.dash.snapshot is not None and d.dash.snapshot.synced, "the first sync")
            await d.until(lambda: d.enabled("upgrade"), "Upgrade enabled", timeout=60)
            choice = await d.plan("U")
            assert choice.applicable

            relabel_and_restart_shop(mesh)  # behind the open dialog

            before = len(waiter.seen(ActionRunner.Finished))
            await pilot.press("enter")
            await d.until(lambda: len(waiter.seen(ActionRunner.Finished)) > before, "the run", timeout=60)
            outcome = waiter.seen(ActionRunner.Finished)[-1].outcome
            assert {r.kind for r in outcome.refusal} == {ReasonKind.STALE_VIEW}
            await d.until(lambda: isinstance(app.screen, MessageScreen), "the refusal dialog")
            assert "no longer holds on a fresh read" in str(app.screen.content_body)
    finally:
        session.close()
        watched.stop()
        mesh.api.close()
    record = mesh.record()
    assert record is not None and record.finish_choice is None, "the choice was recorded on a stale view"


async def test_typing_the_revision_after_a_relabel_deletes_nothing(
    start_cluster: Callable[..., Cluster], tmp_path: Path, waiter: Waiter, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("MESHTUI_IDENTITY", "sre@jump-1")
    cluster = start_cluster("fresh")
    mesh = Mesh(cluster.sim, cluster.kubeconfig)
    upgrade_enabled(mesh, tmp_path)
    watched = watch_targets(cluster.targets)
    session = EngineSession(cluster.targets, None)
    app = build_app(watched, session, settings=replace(DashboardSettings(), title="stale finish"))
    try:
        async with app.run_test(size=(120, 40), message_hook=waiter.hook) as pilot:
            d = Driver(app, pilot, waiter)
            await d.until(lambda: d.dash.snapshot is not None and d.dash.snapshot.synced, "the first sync")
            await d.until(lambda: d.enabled("upgrade"), "Upgrade enabled", timeout=60)
            await d.plan("U")
            await d.apply()
            await d.until(lambda: d.phase() == "finishing-upgrade", "the stepper to show Finish")
            finish = await d.plan("F")
            assert finish.confirm_word == OLD and finish.applicable
            assert webhooks_of(mesh, OLD)

            relabel_and_restart_shop(mesh)  # behind the open dialog

            before = len(waiter.seen(ActionRunner.Finished))
            await pilot.press(*OLD, "enter")
            await d.until(lambda: len(waiter.seen(ActionRunner.Finished)) > before, "the run", timeout=60)
            finished = waiter.seen(ActionRunner.Finished)[-1]
            assert not finished.outcome.ok and finished.outcome.steps == []
            assert {r.kind for r in finished.outcome.refusal} == {ReasonKind.STALE_VIEW}
            await d.until(lambda: isinstance(app.screen, MessageScreen), "the refusal dialog")
            shown = str(app.screen.content_body)
            assert "no longer holds on a fresh read" in shown and "shop" in shown, shown
            assert not isinstance(app.screen, PlanScreen)
    finally:
        session.close()
        watched.stop()
        mesh.api.close()

    assert istiod_exists(mesh), "istiod-1-22-3 was deleted on a stale view"
    assert webhooks_of(mesh, OLD), "the 1-22-3 webhooks were deleted on a stale view"
    record = mesh.record()
    assert record is not None and record.phase != "completed"
    assert record.journal[-1].result == "refused" and record.journal[-1].action == "finish"
