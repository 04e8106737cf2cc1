"""Action flows through Pilot on the simulator with the real engine session: keys in, plans shown, cluster changed."""

from __future__ import annotations

import threading
from collections.abc import Callable

from meshtui.domain.plan import Plan
from meshtui.engine.api import Progress
from meshtui.tui.rows import plain
from meshtui.tui.screens.confirm import ConfirmScreen
from meshtui.tui.screens.dashboard import DashboardScreen
from meshtui.tui.screens.disabled import DisabledScreen
from meshtui.tui.screens.explain import ExplainScreen
from meshtui.tui.screens.help import HelpScreen
from meshtui.tui.screens.message import MessageScreen
from meshtui.tui.screens.plan import PlanScreen
from meshtui.tui.settings import DashboardSettings
from meshtui.tui.widgets.action_runner import ActionRunner
from meshtui.tui.widgets.live_feed import LiveFeed

from .conftest import NEW, Live, Waiter, last_namespace_setup
from .test_engine_walkthrough import Driver


def synced(dashboard: DashboardScreen) -> Callable[[], bool]:
    """True once a snapshot with every cluster listed has been shown."""
    return lambda: dashboard.snapshot is not None and dashboard.snapshot.synced


def namespaces_of(plan: Plan) -> set[str]:
    """The namespaces a plan labels."""
    return {op.name for op in plan.operations if op.kind == "Namespace"}


def labels(live: Live, namespace: str) -> dict[str, str]:
    """A namespace's labels as the simulator stores them."""
    return dict(live.cluster.get("namespaces", None, namespace)["metadata"].get("labels") or {})


async def test_switch_two_selected_namespaces(live_app: Callable[..., Live], waiter: Waiter) -> None:
    live = live_app()
    app = live.app
    async with app.run_test(size=(120, 36), message_hook=waiter.hook) as pilot:
        dash = app.dashboard
        d = Driver(app, pilot, waiter)
        await d.begin()
        # Find the namespaces not yet done, then select two of them.
        await pilot.press("slash", *"todo", "enter")
        table = dash.data_plane.namespaces.table
        shown = [key[1] for key in table.visible_keys()]
        assert shown[:3] == ["accounts", "analytics", "batch"]
        await pilot.press("space", "j", "j", "space")
        assert dash.data_plane.namespaces.selected == [("meshtui-sim", "accounts"), ("meshtui-sim", "batch")]
        modal = await d.plan("s")
        assert modal.applicable, modal.verdict.render()
        assert "Namespaces (selected): accounts, batch" in modal.subtitle
        assert namespaces_of(modal.plan) == {"accounts", "batch"}
        await d.apply()
        for ns in ("accounts", "batch"):
            assert labels(live, ns).get("istio.io/rev") == NEW
            assert "istio-injection" not in labels(live, ns)

        # The table follows the cluster: both rows now resolve to the target.
        def switched() -> bool:
            rows = [table.get_row(("meshtui-sim", ns)) for ns in ("accounts", "batch")]
            return all(r is not None and plain(r)[2] == NEW for r in rows)

        await waiter.until(pilot, switched, what="the namespaces to show the new revision")
        journal = dash.engine_state.journal
        switches = [line for line in journal if line.action == "switch"]
        assert switches and {line.result for line in switches} == {"applied"}, journal

        # Still to restart, so still shown: they stay selected and the next key restarts exactly them.
        assert dash.data_plane.namespaces.selected == [("meshtui-sim", "accounts"), ("meshtui-sim", "batch")]
        restart = await d.plan("r")
        assert "Namespaces (selected): accounts, batch" in restart.subtitle
        assert restart.plan.action == "restart"
        assert {op.namespace for op in restart.plan.operations} == {"accounts"}
        assert any("batch/" in line for line in restart.plan.skipped), "batch holds only a bare pod: skipped, said why"


async def test_upgrade_disabled_until_the_last_pod_moves(live_app: Callable[..., Live], waiter: Waiter) -> None:
    live = live_app(scenario=None, setup=last_namespace_setup)
    app = live.app
    async with app.run_test(size=(120, 36), message_hook=waiter.hook) as pilot:
        dash = app.dashboard
        d = Driver(app, pilot, waiter)
        await d.begin()
        await pilot.press("U")
        dialog = app.screen
        assert isinstance(dialog, DisabledScreen)
        text = str(dialog.content_body)
        assert "1 namespace still on 1-22-3: cart" in text
        assert "2 pods still on 1-22-3" in text
        # o jumps to what holds it back: only cart is shown.
        await pilot.press("o")
        assert isinstance(app.screen, DashboardScreen)
        assert dash.data_plane.namespaces.table.visible_keys() == [("meshtui-sim", "cart")]
        # Switch cart (the cursor row), then restart it.
        switch = await d.plan("s")
        assert namespaces_of(switch.plan) == {"cart"}
        await d.apply()
        await waiter.until(
            pilot,
            lambda: dash.snapshot.view.namespace("meshtui-sim", "cart").revision == NEW,
            what="cart to resolve to the target",
        )
        upgrade = dash.engine_state.action("upgrade")
        assert not upgrade.enabled
        assert len(upgrade.reasons) == 1 and upgrade.reasons[0].startswith("2 pods still on 1-22-3"), upgrade.reasons
        restart = await d.plan("r")
        assert "Deployment cart/api" in "\n".join(restart.plan.lines())
        await d.apply()
        await waiter.until(
            pilot, lambda: dash.engine_state.action("upgrade").enabled, timeout=60, what="Upgrade to become enabled"
        )
        # Enabled exactly when no pod is left on the source.
        view = dash.snapshot.view
        assert all(p.revision == NEW for p in view.pods() if p.live and p.has_sidecar)
        row = dash.data_plane.namespaces.table.get_row(("meshtui-sim", "cart"))
        assert row is not None and plain(row)[-1] == "0 left"
        # The "holding back Upgrade" scope followed the cluster and went away with its condition.
        await waiter.until(
            pilot, lambda: not dash.data_plane.namespaces.scope_note, what="the offender scope to be dropped"
        )
        assert dash.data_plane.namespaces.table.visible_count == dash.data_plane.namespaces.table.row_count


async def test_restart_shows_progress_and_can_be_paused(live_app: Callable[..., Live], waiter: Waiter) -> None:
    live = live_app(settings=DashboardSettings(batch_size=1))
    app = live.app
    gate = threading.Event()
    async with app.run_test(size=(120, 36), message_hook=waiter.hook) as pilot:
        dash = app.dashboard
        d = Driver(app, pilot, waiter)
        await d.begin()
        await pilot.press("slash", *"todo", "enter", "a")
        restart = await d.plan("r")
        total = len(restart.plan.operations)
        assert total >= 2, restart.plan.lines()  # a step to pause after, and one after the pause
        # The run holds after its first step until the test lets it go on (the report comes from its thread).
        report = dash.runner._progressed

        def held(progress: Progress) -> None:
            report(progress)
            if progress.done == 1:
                gate.wait(10)

        dash.runner._progressed = held  # type: ignore[method-assign]
        await pilot.press("enter")
        await waiter.until(
            pilot,
            lambda: any(m.progress.done == 1 for m in waiter.seen(ActionRunner.Progressed)),
            what="the first step",
        )
        assert dash.progress.has_class("-running")
        assert f"1/{total}" in str(dash.progress.render())
        await pilot.press("p")
        assert dash.runner.paused
        assert "PAUSED" in str(dash.progress.render())
        gate.set()  # the executor now waits for the resume before its second step
        await pilot.press("p")
        assert not dash.runner.paused
        await waiter.until(pilot, lambda: len(waiter.seen(ActionRunner.Finished)) == 2, what="the restart", timeout=90)
        last: Progress = waiter.seen(ActionRunner.Progressed)[-1].progress
        assert last.done == last.total == total
        assert not dash.progress.has_class("-running")
        first = restart.plan.operations[0]
        deploy = live.cluster.get("apps/deployments", first.namespace, first.name)
        assert "kubectl.kubernetes.io/restartedAt" in deploy["spec"]["template"]["metadata"]["annotations"]


async def test_quit_asks_first_while_work_runs(live_app: Callable[..., Live], waiter: Waiter) -> None:
    live = live_app()
    app = live.app
    async with app.run_test(size=(120, 36), message_hook=waiter.hook) as pilot:
        dash = app.dashboard
        await waiter.until(pilot, synced(dash), what="the first synced snapshot")
        dash.runner.running = True  # as while a run is in flight
        await pilot.press("q")
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("n")
        assert isinstance(app.screen, DashboardScreen)
        dash.runner.running = False
        await pilot.press("q")
    assert app.return_code == 0


async def test_explain_filter_help_and_back(live_app: Callable[..., Live], waiter: Waiter) -> None:
    live = live_app()
    app = live.app
    async with app.run_test(size=(80, 24), message_hook=waiter.hook) as pilot:
        dash = app.dashboard
        await waiter.until(pilot, synced(dash), what="the first synced snapshot")
        await pilot.press("slash", *"risk", "enter")
        keys = dash.data_plane.namespaces.table.visible_keys()
        assert [k[1] for k in keys] == ["analytics", "legacy-billing"]
        await pilot.press("enter")  # the pods of analytics
        assert dash.data_plane.current == "pods"
        pods = dash.data_plane.pods.table.visible_keys()
        assert pods and all(k[1] == "analytics" for k in pods)
        await pilot.press("e")
        assert isinstance(app.screen, ExplainScreen)
        assert "aggregator" in app.screen.heading
        await pilot.press("escape")
        await pilot.press("escape")  # back to the namespaces, filter kept
        assert dash.data_plane.current == "namespaces"
        assert dash.data_plane.namespaces.filter_text == "risk"
        await pilot.press("escape")  # clears the filter
        assert dash.data_plane.namespaces.filter_text == ""
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        await pilot.press("4")
        assert dash.tabs.active == "finish"
        await pilot.press("1", "5", "2")
        assert dash.tabs.active == "data-plane"


async def test_read_only_refuses_with_the_reason(live_app: Callable[..., Live], waiter: Waiter) -> None:
    live = live_app(settings=DashboardSettings(read_only=True), read_only=True)
    app = live.app
    async with app.run_test(size=(120, 36), message_hook=waiter.hook) as pilot:
        dash = app.dashboard
        await waiter.until(pilot, synced(dash), what="the first synced snapshot")
        await pilot.press("space", "s")
        assert isinstance(app.screen, DisabledScreen)
        assert "read-only" in str(app.screen.content_body)
        await pilot.press("escape")
        writes = [r for r in live.cluster.sim.faults.requests() if r.verb not in ("", "get", "list", "watch")]
        assert writes == [], writes
        assert "READ-ONLY" in str(dash.header.where.render())


async def test_engine_failure_is_a_message_not_a_crash(live_app: Callable[..., Live], waiter: Waiter) -> None:
    live = live_app()

    def broken(*_a: object, **_k: object) -> None:
        raise RuntimeError("the API server went away")

    app = live.app
    async with app.run_test(size=(120, 36), message_hook=waiter.hook) as pilot:
        await Driver(app, pilot, waiter).begin()
        live.session.plan = broken  # type: ignore[method-assign]
        await pilot.press("space", "s")
        await waiter.until(pilot, lambda: bool(waiter.seen(ActionRunner.Failed)), what="the failure")
        assert isinstance(app.screen, PlanScreen)
        assert "the API server went away" in str(app.screen.verdict.render())
        await pilot.press("escape")
        assert isinstance(app.screen, DashboardScreen)
        assert not waiter.seen(LiveFeed.Failed)


async def test_too_small_terminal_says_so(live_app: Callable[..., Live], waiter: Waiter) -> None:
    live = live_app()
    app = live.app
    async with app.run_test(size=(70, 20), message_hook=waiter.hook) as pilot:
        await pilot.pause()
        assert "needs a terminal of at least 80x24; this one is 70x20" in str(app.screen.message.render())
        await pilot.resize_terminal(80, 24)
        await pilot.pause()
        assert isinstance(app.screen, DashboardScreen)


async def test_no_session_leaves_the_tables_working(start_cluster, waiter: Waiter) -> None:  # type: ignore[no-untyped-def]
    from meshtui.tui.factory import build_app, watch_targets

    cluster = start_cluster()
    mesh = watch_targets(cluster.targets)
    app = build_app(mesh, None, session_problem="the upgrade engine is not part of this build")
    try:
        async with app.run_test(size=(120, 36), message_hook=waiter.hook) as pilot:
            dash = app.dashboard
            await waiter.until(pilot, synced(dash), what="the first synced snapshot")
            assert dash.data_plane.namespaces.table.row_count == 19
            await pilot.press("s")
            assert isinstance(app.screen, MessageScreen)
            assert "not part of this build" in str(app.screen.content_body)
    finally:
        mesh.stop()


async def test_filter_typed_right_after_a_dialog_and_no_echo_loop(demo_inventory, waiter: Waiter) -> None:  # type: ignore[no-untyped-def]
    from textual.widgets import Input

    from .conftest import static_app

    app = static_app(demo_inventory)
    changes: list[str] = []

    def hook(message: object) -> None:
        waiter.hook(message)  # type: ignore[arg-type]
        if isinstance(message, Input.Changed):
            changes.append(message.value)

    async with app.run_test(size=(80, 24), message_hook=hook) as pilot:
        dash = app.dashboard
        await waiter.until(pilot, lambda: dash.snapshot is not None, what="the first snapshot")
        await pilot.press("U")
        assert isinstance(app.screen, DisabledScreen)
        # esc closes the dialog and / opens the filter before the dashboard has its focus back.
        await pilot.press("escape", "slash", *"risk")
        await pilot.pause()
        assert dash.data_plane.namespaces.filter_text == "risk"
        await pilot.press("escape")
        view = dash.data_plane.namespaces
        view.start_filter()
        view.filter_input.value = "risk"  # the input posts its change...
        view.close_filter(clear=True)  # ...and the filter is cleared before that change arrives
        await pilot.pause()  # the input's late change is handled...
        settled = len(changes)
        await pilot.pause()  # ...and so is every message that handling posted: an echo would be one more change
        assert len(changes) == settled
        assert dash.data_plane.namespaces.filter_text == ""
