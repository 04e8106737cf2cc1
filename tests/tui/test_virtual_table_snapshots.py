"""Snapshots of a small VirtualTable with a cursor, a selection and an at-risk row."""

from __future__ import annotations

import pytest
from rich.text import Text
from textual.app import App, ComposeResult
from textual.pilot import Pilot

from meshtui.tui.widgets import Column, Row, VirtualTable

COLUMNS = [
    Column("name", "POD", 24, flex=1, priority=10),
    Column("namespace", "NAMESPACE", 12, priority=9),
    Column("status", "STATUS", 16, priority=8),
    Column("revision", "REVISION", 10, priority=6),
    Column("restarts", "RESTARTS", 8, align="right", priority=4),
    Column("node", "NODE", 14, priority=2),
    Column("message", "MESSAGE", 30, flex=1, priority=0),
]

PODS: dict[str, Row] = {
    "payments/api-7d9f-abcde": (
        "api-7d9f-abcde",
        "payments",
        "Running",
        "1-24-0",
        "0",
        "node-a",
        "",
    ),
    "payments/api-7d9f-fghij": (
        "api-7d9f-fghij",
        "payments",
        Text("CrashLoopBackOff", style="bold red"),
        "1-23-1",
        "12",
        "node-b",
        "Back-off restarting failed container [/app]",
    ),
    "payments/worker-5c-klmno": (
        "worker-5c-klmno",
        "payments",
        "Running",
        "1-24-0",
        "1",
        "node-a",
        "",
    ),
    "checkout/web-66-pqrst": ("web-66-pqrst", "checkout", "Running", "1-23-1", "0", "node-c", ""),
    "checkout/web-66-uvwxy": (
        "web-66-uvwxy",
        "checkout",
        ("Pending", "yellow"),
        "1-24-0",
        "0",
        "",
        "[bold]x",
    ),
    "search/indexer-0": ("indexer-0", "search", "Running", "1-23-1", "3", "node-b", ""),
    "search/indexer-1": (
        "indexer-1-with-a-very-long-statefulset-name",
        "search",
        "Running",
        "1-23-1",
        "0",
        "node-c",
        "",
    ),
}

AT_RISK = {"payments/api-7d9f-fghij"}


class SnapshotApp(App[None]):
    """A table of seven pods; the test presses keys to set the cursor and the selection."""

    def compose(self) -> ComposeResult:
        yield VirtualTable(
            COLUMNS,
            row_style=lambda key: "bold yellow underline" if key in AT_RISK else None,
            auto_flush_hz=None,
        )

    def on_mount(self) -> None:
        table = self.query_one(VirtualTable)
        table.set_rows(PODS)
        table.flush()
        table.focus()


async def select_two_and_park_the_cursor(pilot: Pilot[None]) -> None:
    await pilot.press("j", "space", "j", "j", "space", "j")


@pytest.fixture(autouse=True)
def colour_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)


def test_small_table_at_80x24(snap_compare) -> None:
    assert snap_compare(SnapshotApp(), terminal_size=(80, 24), run_before=select_two_and_park_the_cursor)


def test_small_table_at_160x48(snap_compare) -> None:
    assert snap_compare(SnapshotApp(), terminal_size=(160, 48), run_before=select_two_and_park_the_cursor)


def test_small_table_without_colour(snap_compare, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    assert snap_compare(SnapshotApp(), terminal_size=(80, 24), run_before=select_two_and_park_the_cursor)
