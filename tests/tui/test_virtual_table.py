"""Behaviour of VirtualTable through Pilot at a fixed 80x24 (or 160x48) terminal."""

from __future__ import annotations

from collections.abc import Hashable, Mapping

import pytest
from rich.cells import cell_len
from rich.text import Text
from textual import on
from textual.app import App, ComposeResult
from textual.message import Message

from meshtui.tui.widgets import Column, Row, VirtualTable

SMALL_COLUMNS = [
    Column("name", "NAME", 12, flex=1, priority=10),
    Column("status", "STATUS", 10, priority=5),
    Column("n", "N", 4, align="right", priority=1),
]

WIDE_COLUMNS = [
    Column("name", "NAME", 20, flex=1, priority=10),
    Column("ns", "NAMESPACE", 15, priority=9),
    Column("status", "STATUS", 12, priority=8),
    Column("node", "NODE", 25, priority=2),
    Column("rev", "REVISION", 12, priority=6),
    Column("message", "MESSAGE", 40, flex=2, priority=0),
    Column("restarts", "RESTARTS", 8, align="right", priority=4),
]

STATUSES = ("Running", "Pending", "Failed")


def make_rows(count: int, prefix: str = "k") -> dict[Hashable, Row]:
    """Rows keyed `k000`..; status cycles so a filter keeps every third row."""
    return {f"{prefix}{i:03d}": (f"pod-{prefix}{i:03d}", STATUSES[i % 3], str(i)) for i in range(count)}


class TableApp(App[None]):
    """Hosts one focused table and records the messages it posts."""

    def __init__(self, table: VirtualTable, rows: Mapping[Hashable, Row] | None = None) -> None:
        super().__init__()
        self.table = table
        self.initial_rows = rows
        self.messages: list[Message] = []

    def compose(self) -> ComposeResult:
        yield self.table

    def on_mount(self) -> None:
        if self.initial_rows is not None:
            self.table.set_rows(self.initial_rows)
            self.table.flush()
        self.table.focus()

    @on(VirtualTable.CursorMoved)
    @on(VirtualTable.Activated)
    @on(VirtualTable.SelectionChanged)
    def record(self, message: Message) -> None:
        self.messages.append(message)

    def of_type(self, kind: type[Message]) -> list:
        return [message for message in self.messages if isinstance(message, kind)]


def new_table(columns: list[Column] = SMALL_COLUMNS, **kwargs) -> VirtualTable:
    kwargs.setdefault("auto_flush_hz", None)
    return VirtualTable(columns, **kwargs)


def screen_line(table: VirtualTable) -> int:
    """The cursor's line on screen (0 is the header)."""
    assert table.cursor_index is not None
    return table.cursor_index - round(table.scroll_y) + 1


def line_text(table: VirtualTable, y: int) -> str:
    return table.render_line(y).text


async def test_cursor_stays_on_its_key_when_rows_are_inserted_above() -> None:
    table = new_table()
    app = TableApp(table, make_rows(100))
    async with app.run_test(size=(80, 24)) as pilot:
        table.set_sort(lambda key, row: key)
        table.flush()
        assert table.move_cursor("k050")
        await pilot.pause()
        line = screen_line(table)
        assert line_text(table, line).lstrip().startswith("pod-k050")

        table.apply({f"a{i:03d}": (f"pod-a{i:03d}", "Running", "0") for i in range(10)})
        table.flush()
        await pilot.pause()

        assert table.cursor_key == "k050"
        assert table.cursor_index == 60
        assert screen_line(table) == line
        assert line_text(table, line).lstrip().startswith("pod-k050")


async def test_cursor_and_screen_line_survive_a_reorder() -> None:
    table = new_table()
    app = TableApp(table, make_rows(100))
    async with app.run_test(size=(80, 24)) as pilot:
        table.move_cursor("k030")
        await pilot.press("up", "up", "up")
        line = screen_line(table)
        assert table.cursor_key == "k027"

        table.set_sort(lambda key, row: key, reverse=True)
        table.flush()
        await pilot.pause()

        assert table.cursor_key == "k027"
        assert table.cursor_index == 72
        assert screen_line(table) == line
        assert line_text(table, line).lstrip().startswith("pod-k027")


async def test_cursor_survives_a_burst_of_upserts_and_deletes_with_one_repaint() -> None:
    table = new_table()
    rows = {f"p{i:05d}": (f"pod-{i:05d}", STATUSES[i % 3], str(i)) for i in range(20_000)}
    app = TableApp(table, rows)
    async with app.run_test(size=(80, 24)) as pilot:
        table.set_sort(lambda key, row: int(row[2]))
        table.flush()
        table.move_cursor("p15000")
        await pilot.pause()
        line = screen_line(table)

        repaints = 0
        original_render_line = table.render_line

        def counting_render_line(y: int):
            nonlocal repaints
            repaints += y == 1
            return original_render_line(y)

        table.render_line = counting_render_line  # type: ignore[method-assign]
        # 10,000 single-row upserts that move rows, and 500 deletes above the cursor.
        for i in range(10_000):
            table.apply({f"p{i:05d}": (f"pod-{i:05d}", "Running", str(i + 20_000))})
        table.apply(deletes=[f"p{i:05d}" for i in range(10_000, 10_500)])
        assert table.cursor_index == 15_000, "mutations must wait for flush()"
        await pilot.pause()
        assert repaints == 0, "mutations must not repaint"
        table.flush()
        await pilot.pause()
        assert repaints == 1
        table.render_line = original_render_line  # type: ignore[method-assign]

        assert table.cursor_key == "p15000"
        # Rows 10,500..14,999 remain above it; 0..9,999 moved below.
        assert table.cursor_index == 4_500
        assert screen_line(table) == line
        assert line_text(table, line).lstrip().startswith("pod-15000")
        assert table.visible_count == 19_500


async def test_cursor_moves_to_the_nearest_survivor_when_its_row_goes() -> None:
    table = new_table()
    app = TableApp(table, make_rows(10))
    async with app.run_test(size=(80, 24)) as pilot:
        table.move_cursor("k004")
        await pilot.pause()
        app.messages.clear()

        # The row below slides into the gap, so it wins a tie.
        table.apply(deletes=["k004"])
        table.flush()
        await pilot.pause()
        assert table.cursor_key == "k005"
        assert [m.key for m in app.of_type(VirtualTable.CursorMoved)] == ["k005"]

        # k003 is one row away, k007 two.
        table.apply(deletes=["k005", "k006"])
        table.flush()
        await pilot.pause()
        assert table.cursor_key == "k003"

        table.move_cursor("k009")
        table.apply(deletes=["k009", "k008"])
        table.flush()
        await pilot.pause()
        assert table.cursor_key == "k007"

        table.set_filter(lambda key, row: False)
        table.flush()
        await pilot.pause()
        assert table.cursor_key is None
        assert "No rows" in line_text(table, 1)


async def test_selection_is_kept_through_updates_and_pruned_when_rows_go() -> None:
    table = new_table()
    app = TableApp(table, make_rows(10))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("space", "j", "space", "j", "space")
        assert table.selected_keys == {"k000", "k001", "k002"}
        assert line_text(table, 2).startswith("● pod-k001")
        assert line_text(table, 4).startswith("  pod-k003")

        table.apply({"k001": ("pod-k001", "Failed", "99")}, deletes=["k002"])
        table.flush()
        await pilot.pause()
        assert table.selected_keys == {"k000", "k001"}
        assert app.of_type(VirtualTable.SelectionChanged)[-1].keys == {"k000", "k001"}
        assert line_text(table, 2).startswith("● pod-k001")

        await pilot.press("k", "space")
        assert table.selected_keys == {"k000"}
        table.clear_selection()
        await pilot.pause()
        assert table.selected_keys == frozenset()
        assert app.of_type(VirtualTable.SelectionChanged)[-1].keys == frozenset()


async def test_filter_then_select_all_selects_exactly_the_visible_rows() -> None:
    table = new_table()
    rows = make_rows(30)
    app = TableApp(table, rows)
    async with app.run_test(size=(80, 24)) as pilot:
        table.set_filter(lambda key, row: row[1] == "Failed")
        table.flush()
        table.select_all()
        await pilot.pause()

        expected = {key for key, row in rows.items() if row[1] == "Failed"}
        assert table.visible_keys() == sorted(expected)
        assert table.selected_keys == expected
        assert all(line_text(table, y).startswith("●") for y in range(1, 11))

        # Narrowing the filter never changes the selection behind the operator's back: it counts the hidden.
        table.set_filter(lambda key, row: row[1] == "Failed" and int(row[2]) < 9)
        table.flush()
        await pilot.pause()
        assert table.selected_keys == expected
        assert table.hidden_selected_count() == len(expected - {"k002", "k005", "k008"})


async def test_markup_like_strings_render_literally() -> None:
    table = new_table([Column("name", "NAME", 20), Column("message", "MESSAGE", 40, flex=1)])
    rows = {
        "a": ("[bold]x", "Back-off restarting failed container [/app]"),
        "b": ("[red]y[/red]", Text("[link=x]z")),
        "c": (("[i]w", "italic"), "tab\there\nnewline"),
    }
    app = TableApp(table, rows)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("j", "j", "j")
        first = line_text(table, 1)
        assert first.startswith("  [bold]x ")
        assert "Back-off restarting failed container [/app]" in first
        assert not any(segment.style and segment.style.bold for segment in table.render_line(1))
        assert line_text(table, 2).startswith("  [red]y[/red] ")
        assert "[link=x]z" in line_text(table, 2)
        third = line_text(table, 3)
        assert third.startswith("  [i]w ")
        assert "tab\\there\\nnewline" in third, "control characters are shown escaped"
        screenshot = app.export_screenshot()
        assert "[/app]" in screenshot.replace("&#160;", " ")


@pytest.mark.parametrize(
    ("size", "expected"),
    [
        ((80, 24), ["name", "ns", "status", "rev", "restarts"]),
        ((160, 48), [column.key for column in WIDE_COLUMNS]),
    ],
)
async def test_columns_drop_by_priority_to_fit_the_width(size: tuple[int, int], expected: list[str]) -> None:
    table = new_table(WIDE_COLUMNS)
    long = "x" * 200
    rows = {f"r{i}": (long, "istio-system", "Running", "node-1", "1-24-0", long, "3") for i in range(60)}
    app = TableApp(table, rows)
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        assert table.visible_columns() == expected
        header = line_text(table, 0)
        for column in WIDE_COLUMNS:
            assert (column.title in header) == (column.key in expected)
        width = table.scrollable_content_region.width
        for y in range(size[1]):
            assert table.render_line(y).cell_length == width
        row_text = line_text(table, 1)
        assert row_text.count("…") == (2 if "message" in expected else 1)
        assert row_text.rstrip().endswith("3")


async def test_wide_glyphs_are_truncated_by_cells() -> None:
    table = new_table([Column("name", "NAME", 7), Column("n", "N", 3)])
    app = TableApp(table, {"a": ("日本語のポッド", "1")})
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        text = line_text(table, 1)
        name_cell = text[2 : text.index("1") - 1]
        assert cell_len(name_cell) == 7
        assert name_cell.rstrip().endswith("…")


async def test_navigation_keys_move_the_cursor() -> None:
    table = new_table()
    app = TableApp(table, make_rows(100))
    async with app.run_test(size=(80, 24)) as pilot:
        page = table.scrollable_content_region.height - 1
        expected_moves = [
            ("j", 1),
            ("down", 2),
            ("k", 1),
            ("pagedown", 1 + page),
            ("pageup", 1),
            ("G", 99),
            ("up", 98),
            ("g", 0),
            ("end", 99),
            ("home", 0),
            ("up", 0),
        ]
        for key, index in expected_moves:
            await pilot.press(key)
            assert (key, table.cursor_index) == (key, index)
            assert 1 <= screen_line(table) <= page, f"cursor off screen after {key}"
        moved = [message.key for message in app.of_type(VirtualTable.CursorMoved)]
        assert moved[-1] == "k000"


async def test_enter_posts_activated_with_the_cursor_key() -> None:
    table = new_table()
    app = TableApp(table, make_rows(10))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("j", "j", "enter")
        activated = app.of_type(VirtualTable.Activated)
        assert [message.key for message in activated] == ["k002"]
        assert activated[0].control is table


async def test_row_style_hook_and_cursor_reverse_video() -> None:
    table = new_table(row_style=lambda key: "bold" if key == "k001" else None)
    app = TableApp(table, make_rows(5))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert all(segment.style.bold for segment in table.render_line(2) if segment.text.strip())
        assert not any(segment.style.bold for segment in table.render_line(3))
        assert all(segment.style.reverse for segment in table.render_line(1))
        assert not any(segment.style.reverse for segment in table.render_line(2))


async def test_no_color_keeps_header_and_cursor_readable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    table = new_table()
    app = TableApp(table, make_rows(5))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("space")
        header = table.render_line(0)
        assert all(segment.style.reverse and segment.style.bold for segment in header)
        assert all(segment.style.reverse for segment in table.render_line(1))
        assert line_text(table, 1).startswith("● ")


async def test_mutations_wait_for_a_flush_unless_auto_flush_is_on() -> None:
    table = new_table()
    app = TableApp(table, make_rows(3))
    async with app.run_test(size=(80, 24)) as pilot:
        table.apply({"k001": ("renamed", "Running", "1")}, deletes=["k000"])
        await pilot.press("j")  # a repaint before the flush shows the flushed rows
        assert table.cursor_key == "k001"
        assert line_text(table, 1).startswith("  pod-k000")
        assert line_text(table, 2).startswith("  pod-k001")
        table.flush()
        await pilot.pause()
        assert line_text(table, 1).startswith("  renamed")
        assert table.cursor_key == "k001"

    table = new_table(auto_flush_hz=1_000_000)
    app = TableApp(table, make_rows(3))
    async with app.run_test(size=(80, 24)) as pilot:
        table.apply({"zzz": ("added", "Running", "9")})
        await pilot.pause()
        assert table.visible_keys()[-1] == "zzz"
        assert line_text(table, 4).startswith("  added")


async def test_empty_message_is_configurable() -> None:
    table = new_table(empty_message="No pods match the filter")
    app = TableApp(table, make_rows(3))
    async with app.run_test(size=(80, 24)) as pilot:
        table.set_filter(lambda key, row: row[1] == "CrashLoopBackOff")
        table.flush()
        await pilot.pause()
        assert line_text(table, 1).strip() == "No pods match the filter"
        assert table.visible_keys() == []
        assert table.row_count == 3
        table.empty_message = "Nothing in payments"
        await pilot.pause()
        assert "Nothing in payments" in app.export_screenshot().replace("&#160;", " ")


async def test_updates_re_sort_and_re_filter_rows_whose_cells_changed() -> None:
    table = new_table()
    app = TableApp(table, make_rows(6))
    async with app.run_test(size=(80, 24)) as pilot:
        table.sort_by("status")
        table.set_filter(lambda key, row: row[1] != "Failed")
        table.flush()
        await pilot.pause()
        assert table.visible_keys() == ["k001", "k004", "k000", "k003"]
        assert "STATUS▲" in line_text(table, 0)
        table.move_cursor("k003")
        await pilot.press("space")

        # k000 sorts earlier, k003 leaves the filter, k001 changes a cell that orders nothing.
        table.apply(
            {
                "k000": ("pod-k000", "Completed", "0"),
                "k003": ("pod-k003", "Failed", "3"),
                "k001": ("pod-k001", "Pending", "100"),
            }
        )
        table.flush()
        await pilot.pause()
        assert table.visible_keys() == ["k000", "k001", "k004"]
        assert table.cursor_key == "k000", "the row that was just above k003"
        assert table.selected_keys == {"k003"} and table.hidden_selected_count() == 1, "hidden, still selected"
        assert line_text(table, 2).rstrip().endswith("100")


async def test_a_click_moves_the_cursor_to_the_clicked_row() -> None:
    table = new_table()
    app = TableApp(table, make_rows(10))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.click(VirtualTable, offset=(5, 3))
        assert table.cursor_key == "k002"
        await pilot.click(VirtualTable, offset=(5, 0))  # the header
        assert table.cursor_key == "k002"
