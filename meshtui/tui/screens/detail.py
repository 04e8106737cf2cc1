"""One table row whole: every column's full text (a cut cell is never the only way to read it), plus context."""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from meshtui.tui.screens.dialog import Dialog
from meshtui.tui.widgets.virtual_table import Cell, Column, cell_plain


def detail_table(columns: Sequence[Column], row: Sequence[Cell]) -> Table:
    """Column title and full value, one a line; long values wrap under themselves."""
    table = Table(box=None, show_header=False, pad_edge=False, expand=True)
    table.add_column(width=max((len(c.title) for c in columns), default=8), no_wrap=True)
    table.add_column(ratio=1, overflow="fold")
    for column, cell in zip(columns, row, strict=False):
        value = cell_plain(cell)
        style = cell[1] if isinstance(cell, tuple) else ""
        table.add_row(Text(column.title, style="bold"), Text(value or "-", style=style))
    return table


class DetailScreen(Dialog[None]):
    """A row whole, with optional context under it (a pod's explanation, a journal entry's before/after)."""

    DEFAULT_CSS = """
    DetailScreen VerticalScroll { max-height: 20; }
    """

    def __init__(
        self, title: str, columns: Sequence[Column], row: Sequence[Cell], extra: RenderableType | None = None
    ) -> None:
        parts: list[RenderableType] = [detail_table(columns, row)]
        if extra is not None:
            parts += [Text(""), extra]
        super().__init__(title, Group(*parts), "↑↓ scroll · esc close")

    def on_mount(self) -> None:
        self.query_one("VerticalScroll").focus()
