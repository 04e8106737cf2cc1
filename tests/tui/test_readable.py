"""Readable at 80 columns: every row has a view that shows it whole, counts say what they count."""

from __future__ import annotations

from typing import Any

from rich.console import Console

from meshtui.domain.inventory import Inventory
from meshtui.tui.screens.detail import DetailScreen

from .conftest import static_app
from .test_dashboard_snapshots import session


def _text(screen: DetailScreen, width: int = 76) -> str:
    console = Console(width=width, record=True, color_system=None)
    console.print(screen.content_body)
    return console.export_text()


async def _ready(pilot: Any) -> None:
    dashboard = pilot.app.dashboard
    for _ in range(200):
        if dashboard.snapshot is not None:
            return
        await pilot.pause(0.01)


async def test_e_on_a_namespace_shows_every_field_whole(demo_inventory: Inventory) -> None:
    app = static_app(demo_inventory, session=session())
    async with app.run_test(size=(80, 24)) as pilot:
        await _ready(pilot)
        table = app.dashboard.data_plane.namespaces.table
        table.move_cursor(("meshtui-sim", "kube-node-lease"))
        await pilot.press("e")
        screen = app.screen
        assert isinstance(screen, DetailScreen)
        text = _text(screen)
        assert "kube-node-lease" in text  # cut to "kube-node-lea…" in the table at 80 columns
        assert "NO SC" in text and "RESTART" in text


async def test_enter_on_a_pod_shows_the_row_whole_with_its_explanation(demo_inventory: Inventory) -> None:
    app = static_app(demo_inventory, session=session())
    async with app.run_test(size=(80, 24)) as pilot:
        await _ready(pilot)
        app.dashboard.data_plane.namespaces.table.move_cursor(("meshtui-sim", "analytics"))
        await pilot.press("enter")
        assert app.dashboard.data_plane.current == "pods"
        await pilot.press("enter")
        screen = app.screen
        assert isinstance(screen, DetailScreen)
        text = " ".join(_text(screen).split())
        assert "REASON" in text and "On restart:" in text
        key = app.dashboard.data_plane.pods.table.cursor_key
        assert key is not None and key[2] in text


async def test_journal_is_newest_first_and_enter_shows_the_whole_entry(demo_inventory: Inventory) -> None:
    app = static_app(demo_inventory, session=session())
    async with app.run_test(size=(80, 24)) as pilot:
        await _ready(pilot)
        await pilot.press("5")
        await pilot.pause()
        journal = app.dashboard.journal.table
        assert journal.cursor_key == journal.visible_keys()[0] == 3  # the newest of the four entries
        await pilot.press("enter")
        screen = app.screen
        assert isinstance(screen, DetailScreen)
        text = " ".join(_text(screen, 70).split())
        assert "8 namespaces not on 1-23-1 [see the gates]" in text
        assert "bob@jump-2" in text


async def test_pods_of_a_namespace_count_the_namespace_not_the_mesh(demo_inventory: Inventory) -> None:
    app = static_app(demo_inventory, session=session())
    async with app.run_test(size=(80, 24)) as pilot:
        await _ready(pilot)
        app.dashboard.data_plane.namespaces.table.move_cursor(("meshtui-sim", "batch"))
        await pilot.press("enter")
        await pilot.pause()
        summary = str(app.dashboard.data_plane.pods.summary.render())
        shown = app.dashboard.data_plane.pods.table.visible_count
        assert summary.startswith(f"{shown} pod")
        assert " of " not in summary.split("·")[0]


async def test_a_filter_hides_selected_rows_without_deselecting_them_and_says_so(demo_inventory: Inventory) -> None:
    app = static_app(demo_inventory, session=session())
    async with app.run_test(size=(80, 24)) as pilot:
        await _ready(pilot)
        view = app.dashboard.data_plane.namespaces
        total = view.table.row_count
        await pilot.press("a", "slash", *"kube", "enter")
        await pilot.pause()
        shown = view.table.visible_count
        summary = str(view.summary.render())
        assert f"{total} selected ({total - shown} hidden)" in summary
        await pilot.press("escape")
        await pilot.pause()
        assert len(view.table.selected_keys) == total
        assert "hidden" not in str(view.summary.render())


async def test_after_a_filter_change_the_first_match_is_in_view(demo_inventory: Inventory) -> None:
    app = static_app(demo_inventory, session=session())
    async with app.run_test(size=(80, 24)) as pilot:
        await _ready(pilot)
        table = app.dashboard.data_plane.namespaces.table
        await pilot.press("G")
        assert table.scroll_y > 0
        await pilot.press("slash", *"o", "enter")
        await pilot.pause()
        first = table.visible_keys()[0]
        assert table.cursor_key == first and table.scroll_y == 0


def test_progress_says_elapsed_rate_and_eta() -> None:
    from meshtui.tui.widgets.progress_panel import pace

    assert pace(0, 6765, 3) == "3s"
    assert pace(140, 6765, 100) == "1m40s · 1.4/s · ETA 1h18m"
    assert pace(10, 10, 5) == "5s · 2.0/s"


async def test_progress_keeps_the_current_step_at_80_columns(demo_inventory: Inventory) -> None:
    from meshtui.engine.api import Progress

    app = static_app(demo_inventory, session=session())
    async with app.run_test(size=(80, 24)) as pilot:
        await _ready(pilot)
        panel = app.dashboard.progress
        panel.start("Restart workloads (6765 in batches of 5, 0s apart) across every selected namespace")
        panel.update_progress(
            Progress("restart", 12, 6765, "app-0013: Deployment svc-03", "waiting for Deployment app-0013/svc-04")
        )
        await pilot.pause()
        lines = panel.render().plain.splitlines()
        assert len(lines) == 2 and all(len(line) <= 80 for line in lines)
        assert lines[1] == "waiting for Deployment app-0013/svc-04"  # one workload a line
        assert "12/6,765" in lines[0]


def test_a_plan_leads_with_totals_and_wraps_under_its_own_text() -> None:
    from meshtui.domain.plan import Operation, Plan
    from meshtui.tui.plan_text import plan_body

    long = "labels istio.io/rev: 1-22-3 -> 1-23-1 and a long tail that must wrap at eighty columns"
    ops = tuple(
        Operation("c", "patch", "/api/v1/namespaces", "Namespace", None, f"ns{i}", summary=long) for i in range(12)
    )
    console = Console(width=80, record=True, color_system=None)
    console.print(plan_body(Plan("switch", "Switch namespaces", ops, skipped=("x: bare pod",))))
    lines = console.export_text().splitlines()
    assert lines[0].startswith("12 operations: 12 namespaces · 1 skipped")
    numbered = next(i for i, line in enumerate(lines) if line.lstrip().startswith("12."))
    text_column = lines[numbered].index("[c]")
    continuation = lines[numbered + 1]
    assert continuation[:text_column].strip() == "" and continuation[text_column] != " "


async def test_the_journal_cursor_follows_new_entries_when_it_was_on_the_newest(demo_inventory: Inventory) -> None:
    from meshtui.tui.feed import TableDelta
    from meshtui.tui.rows import journal_cells
    from tests.tui.test_dashboard_snapshots import JOURNAL

    app = static_app(demo_inventory, session=session())
    async with app.run_test(size=(80, 24)) as pilot:
        await _ready(pilot)
        await pilot.press("5")
        journal = app.dashboard.journal
        journal.apply_delta(TableDelta(reset={i: journal_cells(line) for i, line in enumerate(JOURNAL[:1])}))
        await pilot.pause()
        assert journal.table.cursor_key == 0
        journal.apply_delta(TableDelta(reset={i: journal_cells(line) for i, line in enumerate(JOURNAL)}))
        await pilot.pause()
        assert journal.table.cursor_key == 3  # the newest, on top, not the old entry it started on


async def test_the_dry_run_reports_each_checked_operation_to_the_plan_dialog(demo_inventory: Inventory) -> None:
    from meshtui.tui.screens.plan import PlanScreen
    from meshtui.tui.widgets.action_runner import ActionRunner

    seen: list[tuple[int, int]] = []

    def hook(message: Any) -> None:
        if isinstance(message, ActionRunner.DryRunChecked):
            seen.append((message.done, message.total))

    app = static_app(demo_inventory, session=session())
    async with app.run_test(size=(80, 24), message_hook=hook) as pilot:
        await _ready(pilot)
        await pilot.press("a", "r")
        for _ in range(500):
            screen = app.screen
            if isinstance(screen, PlanScreen) and screen.outcome is not None:
                break
            await pilot.pause(0.01)
        screen = app.screen
        assert isinstance(screen, PlanScreen) and screen.plan is not None and screen.outcome is not None
        total = len(screen.plan.operations)
        assert seen and seen[-1] == (total, total)  # the dialog heard of every operation checked
        assert screen._checked == total


async def test_finish_before_a_choice_offers_no_jump_to_unrelated_namespaces(demo_inventory: Inventory) -> None:
    from meshtui.tui.screens.disabled import DisabledScreen

    app = static_app(demo_inventory, session=session())
    async with app.run_test(size=(80, 24)) as pilot:
        await _ready(pilot)
        await pilot.press("F")
        screen = app.screen
        assert isinstance(screen, DisabledScreen)
        assert not screen.can_jump  # Finish waits for a choice here, not for the namespaces Upgrade lists
        await pilot.press("escape", "U")
        assert isinstance(app.screen, DisabledScreen) and app.screen.can_jump
