"""Keys pressed quickly keep their meaning: right after a run, and in one burst before a plan exists.

The run's result reaches the tables with the next snapshot (a moment later; at 50k pods, a second). A key
in between used to be judged on the old state: `t` right after Begin said "begin the upgrade first".
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from meshtui.tui.app import MeshApp
from meshtui.tui.screens.disabled import DisabledScreen
from meshtui.tui.screens.plan import PlanScreen
from meshtui.tui.screens.tag import TagScreen
from meshtui.tui.widgets.action_runner import ActionRunner

from .conftest import Cluster, Waiter
from .test_engine_walkthrough import Driver
from .test_typed_ahead import burst


async def test_a_key_pressed_before_the_result_is_shown_waits_for_it(
    demo_app: Callable[[], tuple[MeshApp, Cluster]],
    waiter: Waiter,
) -> None:
    app, _cluster = demo_app()
    async with app.run_test(size=(120, 36), message_hook=waiter.hook) as pilot:
        d = Driver(app, pilot, waiter)
        dash = d.dash
        await d.until(lambda: dash.snapshot is not None and dash.snapshot.synced, "the first sync")
        await d.until(lambda: dash.snapshot.state is not None and d.enabled("start"), "Begin enabled")
        assert not d.enabled("move-tag"), "the demo's tags move only once the upgrade is recorded"

        # Snapshots built from now on wait for the gate: the run's result stays out of the tables.
        gate = threading.Event()
        build = dash.feed.builder.build
        dash.feed.builder.build = lambda: gate.wait(20) and build()  # type: ignore[method-assign]
        await d.plan("b")
        before = len(waiter.seen(ActionRunner.Finished))
        await pilot.press("enter")
        await d.until(lambda: len(waiter.seen(ActionRunner.Finished)) > before, "the Begin run")
        assert not d.enabled("move-tag"), "the snapshot after the run is held"

        await pilot.press("t")
        await pilot.pause()
        assert not isinstance(app.screen, DisabledScreen), "t was judged on the state before Begin"
        assert not isinstance(app.screen, TagScreen)
        assert any("Reading the result of the last action" in n.message for n in app._notifications)

        gate.set()
        await d.until(lambda: not dash.flow.settling, "the snapshot showing the run")
        assert d.enabled("move-tag") and d.phase() is not None
        await pilot.press("t")
        await d.until(lambda: isinstance(app.screen, TagScreen), "the tag picker")


async def test_r_i_enter_in_one_burst_replans_with_i_and_applies_nothing_unseen(
    demo_app: Callable[[], tuple[MeshApp, Cluster]],
    waiter: Waiter,
) -> None:
    app, _cluster = demo_app()
    async with app.run_test(size=(120, 36), message_hook=waiter.hook) as pilot:
        d = Driver(app, pilot, waiter)
        await d.begin()
        await pilot.press("slash", *"todo", "enter", "a")
        await d.plan("s")
        await d.apply()
        await d.until(lambda: not d.dash.flow.busy, "the switch shown")

        # As tmux send-keys or a fast typist hands them over: all three before the plan exists.
        before = len(waiter.seen(ActionRunner.Planned))
        runs = len(waiter.seen(ActionRunner.Finished))
        burst(app, ("r", "r"), ("i", "i"), ("enter", None))
        await d.until(lambda: len(waiter.seen(ActionRunner.Planned)) >= before + 2, "the plan, then its re-plan")
        first, second = waiter.seen(ActionRunner.Planned)[before : before + 2]
        assert first.action == second.action == "restart"
        assert any("PodDisruptionBudget" in line for line in first.plan.lines())
        screen = app.screen
        assert isinstance(screen, PlanScreen) and screen.plan is second.plan, "i took the alternative"
        await d.until(lambda: screen.outcome is not None, "the re-plan's dry run")
        assert len(waiter.seen(ActionRunner.Finished)) == runs
        assert app.screen is screen, "the early enter applied nothing: the operator has not seen this plan"
        await d.apply()


async def test_select_all_then_switch_in_one_burst_plans_the_selection(
    demo_app: Callable[[], tuple[MeshApp, Cluster]],
    waiter: Waiter,
) -> None:
    app, _cluster = demo_app()
    async with app.run_test(size=(120, 36), message_hook=waiter.hook) as pilot:
        d = Driver(app, pilot, waiter)
        await d.begin()
        await pilot.press("slash", *"todo", "enter")
        todo = set(d.dash.data_plane.namespaces.table.visible_keys())
        assert len(todo) > 1
        before = len(waiter.seen(ActionRunner.Planned))
        burst(app, ("a", "a"), ("s", "s"))  # the keys keep their order: a selects, then s plans the selection
        await d.until(lambda: len(waiter.seen(ActionRunner.Planned)) > before, "the switch plan")
        screen = app.screen
        assert isinstance(screen, PlanScreen) and screen.subtitle.startswith("Namespaces (selected)"), screen.subtitle
        plan = waiter.seen(ActionRunner.Planned)[-1].plan
        switched = {(op.cluster, op.name) for op in plan.operations if op.kind == "Namespace"}
        assert switched and switched <= todo and len(switched) > 1
