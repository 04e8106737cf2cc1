"""A keyed, virtualized table on Textual's Line API, built for live data at 50,000 rows.

Textual's DataTable re-renders and re-measures everything after any mutation and parses strings
as markup; this widget keeps rows in dicts, orders them lazily at `flush()`, and caches one strip
per (row, version, state) so a burst of updates costs one repaint of the visible lines.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass, replace
from time import monotonic
from typing import Any, ClassVar, Literal, NamedTuple, TypeAlias

from rich.cells import cell_len, set_cell_size
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding, BindingType
from textual.cache import LRUCache
from textual.geometry import Region, Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from meshtui.domain.text import inert
from meshtui.tui.inert import inert_text

RowKey: TypeAlias = Hashable
Cell: TypeAlias = str | Text | tuple[str, str]
"""A cell: a literal string (never markup), a Rich `Text`, or a `(text, rich style string)` pair."""
Row: TypeAlias = tuple[Cell, ...]
SortKey: TypeAlias = Callable[[RowKey, Row], Any]
RowFilter: TypeAlias = Callable[[RowKey, Row], bool]
Align: TypeAlias = Literal["left", "center", "right"]

ELLIPSIS = "…"


@dataclass(frozen=True, slots=True)
class Column:
    """One declared table column.

    `width` is the fixed width, or the minimum width when `flex` > 0 (flex columns share the
    width left over, in proportion to `flex`). When the terminal is too narrow, columns with the
    lowest `priority` are dropped first.
    """

    key: str
    title: str
    width: int = 10
    flex: int = 0
    align: Align = "left"
    priority: int = 0

    def __post_init__(self) -> None:
        if self.width < 1:
            raise ValueError(f"column {self.key!r}: width must be at least 1")
        if self.flex < 0:
            raise ValueError(f"column {self.key!r}: flex must not be negative")


class _Placed(NamedTuple):
    """A column shown at the current width: its index in the row tuple and its rendered width."""

    cell: int
    width: int
    align: Align


def _fit_parts(text: str, width: int, align: Align) -> tuple[int, str, int]:
    """Truncate `text` to `width` cells with an ellipsis; return it with its left and right padding."""
    if not text.isprintable():
        # Cluster data: control characters are shown escaped (`\x1b`), never sent to the terminal.
        text = inert(text)
    if text.isascii():
        length = len(text)
        if length > width:
            return 0, text[: width - 1] + ELLIPSIS, 0
    else:
        length = cell_len(text)
        if length > width:
            # set_cell_size pads with a space when a wide glyph straddles the cut.
            return 0, set_cell_size(text, width - 1) + ELLIPSIS, 0
    pad = width - length
    if align == "left":
        return 0, text, pad
    if align == "right":
        return pad, text, 0
    return pad // 2, text, pad - pad // 2


def _fit(text: str, width: int, align: Align) -> str:
    """Truncate `text` with an ellipsis or pad it to exactly `width` cells."""
    left, text, right = _fit_parts(text, width, align)
    if left or right:
        return f"{' ' * left}{text}{' ' * right}"
    return text


def _fit_text(text: Text, width: int, align: Align) -> tuple[int, Text, int]:
    """Truncate a Rich `Text` to `width` cells; return it with the left and right padding it needs.

    The padding is returned rather than added so it takes the row's style, not the cell's.
    """
    if not text.plain.isprintable():
        text = inert_text(text, keep_lines=False)
    text = text.copy()
    text.truncate(width, overflow="ellipsis")
    pad = max(0, width - text.cell_len)
    if align == "left":
        return 0, text, pad
    if align == "right":
        return pad, text, 0
    return pad // 2, text, pad - pad // 2


def cell_plain(cell: Cell) -> str:
    """Return the plain text of a cell, for sorting and searching."""
    if isinstance(cell, str):
        return cell
    if isinstance(cell, Text):
        return cell.plain
    return cell[0]


class VirtualTable(ScrollView, can_focus=True):
    """A keyed, virtualized, sortable and filterable table for live data.

    Mutations (`set_rows`, `apply`) only touch dicts; `flush()` (called automatically at most
    `auto_flush_hz` times a second) re-orders and repaints once, keeping cursor, scroll and
    selection on the same keys.
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up,k", "cursor_up", "Up", show=False),
        Binding("down,j", "cursor_down", "Down", show=False),
        Binding("pageup", "page_up", "Page up", show=False),
        Binding("pagedown", "page_down", "Page down", show=False),
        Binding("home,g", "cursor_home", "First row", show=False),
        Binding("end,G", "cursor_end", "Last row", show=False),
        Binding("space", "toggle_selection", "Select", show=False),
        Binding("enter", "activate", "Open", show=False),
    ]

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "virtual-table--header",
        "virtual-table--cursor",
        "virtual-table--selected",
        "virtual-table--empty",
    }

    DEFAULT_CSS = """
    VirtualTable {
        height: 1fr;
        overflow-x: hidden;
        overflow-y: auto;
        background: $surface;
        color: $foreground;
        & > .virtual-table--header { text-style: bold; background: $panel; }
        & > .virtual-table--cursor { text-style: reverse; }
        &:focus > .virtual-table--cursor { text-style: reverse bold; }
        & > .virtual-table--selected { text-style: bold; }
        & > .virtual-table--empty { color: $text-muted; text-style: italic; }
        &:nocolor > .virtual-table--header { text-style: bold reverse; }
        &:nocolor > .virtual-table--empty { text-style: none; }
    }
    """

    empty_message: reactive[str] = reactive("No rows")
    """The line shown when no row passes the filter (e.g. "No pods match the filter")."""

    class CursorMoved(Message):
        """Posted when the cursor moves to another row (by a key press, or because its row left)."""

        def __init__(self, table: VirtualTable, key: RowKey | None) -> None:
            super().__init__()
            self.table = table
            self.key = key

        @property
        def control(self) -> VirtualTable:
            """The table that posted the message."""
            return self.table

        def can_replace(self, message: Message) -> bool:
            # A held key posts many moves; only the latest position matters.
            return isinstance(message, VirtualTable.CursorMoved) and message.table is self.table

    class Activated(Message):
        """Posted when Enter is pressed on a row."""

        def __init__(self, table: VirtualTable, key: RowKey) -> None:
            super().__init__()
            self.table = table
            self.key = key

        @property
        def control(self) -> VirtualTable:
            """The table that posted the message."""
            return self.table

    class SelectionChanged(Message):
        """Posted when the set of selected keys changes (toggled, selected, cleared or pruned)."""

        def __init__(self, table: VirtualTable, keys: frozenset[RowKey]) -> None:
            super().__init__()
            self.table = table
            self.keys = keys

        @property
        def control(self) -> VirtualTable:
            """The table that posted the message."""
            return self.table

    def __init__(
        self,
        columns: Iterable[Column],
        *,
        row_style: Callable[[RowKey], str | None] | None = None,
        empty_message: str = "No rows",
        selectable: bool = True,
        selected_marker: str = "●",
        auto_flush_hz: float | None = 4.0,
        cache_size: int = 2048,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
        disabled: bool = False,
    ) -> None:
        """Declare the columns once; rows come later through `set_rows` and `apply`.

        Args:
            columns: The columns; each row tuple holds one cell per column, in this order.
            row_style: Returns a Rich style string for a row (e.g. at-risk rows), or None.
                Called for visible rows at each repaint; give it a non-colour attribute
                (bold, underline) so it still shows under NO_COLOR.
            empty_message: The line shown when no row passes the filter.
            selectable: Show the marker column and let Space select rows.
            selected_marker: The one-cell marker of selected rows (`*` for ASCII-only terminals).
            auto_flush_hz: Flush automatically at most this often after a mutation; None to
                flush only when `flush()` is called.
            cache_size: How many rendered lines to keep.
        """
        super().__init__(name=name, id=id, classes=classes, disabled=disabled)
        self._columns: tuple[Column, ...] = tuple(columns)
        if not self._columns:
            raise ValueError("a VirtualTable needs at least one column")
        if len({column.key for column in self._columns}) != len(self._columns):
            raise ValueError("column keys must be unique")
        if cell_len(selected_marker) != 1:
            raise ValueError("selected_marker must be one cell wide")
        self.row_style = row_style
        self.set_reactive(VirtualTable.empty_message, empty_message)
        self.selectable = selectable
        self.selected_marker = selected_marker
        self.auto_flush_hz = auto_flush_hz

        self._rows: dict[RowKey, Row] = {}
        self._versions: dict[RowKey, int] = {}
        self._next_version = 0
        self._order: list[RowKey] = []
        self._selected: set[RowKey] = set()
        self._cursor_key: RowKey | None = None
        self._cursor_position = -1

        # Ordering as requested, and as applied by the last re-order (what the screen shows).
        self._sort_key: SortKey | None = None
        self._sort_reverse = False
        self._sort_column: str | None = None
        self._filter: RowFilter | None = None
        self._shown_sort_key: SortKey | None = None
        self._shown_filter: RowFilter | None = None
        self._shown_sort: tuple[str | None, bool] = (None, False)

        # Mutations wait here until flush(); None marks a delete.
        self._pending: dict[RowKey, Row | None] = {}
        self._pending_reset: dict[RowKey, Row] | None = None
        self._needs_order = False
        # Whether the next re-order must rebuild the order from every row (filter, sort or rows replaced, or
        # a row that moved); otherwise it only drops the removed keys and merges the added ones in.
        self._full_order = True
        self._added: list[RowKey] = []
        self._removed: set[RowKey] = set()
        # Every row's sort key under `_sort_values_for`, kept up to date as rows change, so a re-order
        # compares cached values instead of calling the sort key for 50,000 rows.
        self._sort_values: dict[RowKey, Any] = {}
        self._sort_values_for: SortKey | None = None
        self._flush_scheduled = False
        self._last_flush = float("-inf")

        self._layout_width = -1
        self._layout: tuple[_Placed, ...] = ()
        self._strip_cache: LRUCache[tuple[Any, ...], Strip] = LRUCache(cache_size)
        self._render_pass: tuple[int, Style] | None = None
        self._style_cache: dict[str, Style] = {}

    # ------------------------------------------------------------------ data

    @property
    def columns(self) -> tuple[Column, ...]:
        """The declared columns, in display order."""
        return self._columns

    def set_priorities(self, priorities: Mapping[str, int]) -> None:
        """Change which columns give way first when narrow (the all-pods view needs its NAMESPACE)."""
        columns = tuple(
            replace(c, priority=priorities[c.key]) if c.key in priorities else c for c in self._columns
        )
        if columns != self._columns:
            self._columns = columns
            self._layout_width = -1
            self._strip_cache.clear()
            self.refresh()

    @property
    def row_count(self) -> int:
        """Number of rows held as of the last flush, shown or filtered out."""
        return len(self._rows)

    def get_row(self, key: RowKey) -> Row | None:
        """Return a row's cells as of the last flush, or None if it is not held."""
        return self._rows.get(key)

    def set_rows(self, rows: Mapping[RowKey, Row]) -> None:
        """Replace all rows at the next flush (initial load or relist).

        The cursor and the selection stay on keys that survive.
        """
        self._pending_reset = dict(rows)
        self._pending.clear()
        self._schedule_flush()

    def apply(self, upserts: Mapping[RowKey, Row] | None = None, deletes: Iterable[RowKey] = ()) -> None:
        """Insert or replace `upserts` and remove `deletes` at the next flush (unknown keys are ignored)."""
        pending = self._pending
        if upserts:
            pending.update(upserts)
        for key in deletes:
            pending[key] = None
        self._schedule_flush()

    def set_sort(self, key: SortKey | None, *, reverse: bool = False) -> None:
        """Order rows by `key(row_key, row)` from the next flush (stable; None keeps insertion order).

        `key` must depend only on its arguments: a row is re-ordered only when its cells change.
        """
        self._sort_key = key
        self._sort_reverse = reverse
        self._sort_column = None
        self._needs_order = True
        self._full_order = True
        self._schedule_flush()

    def sort_by(self, column: str | None, *, reverse: bool = False) -> None:
        """Order rows by the plain text of one column (None keeps insertion order)."""
        if column is None:
            self.set_sort(None)
            return
        index = self._column_index(column)

        def by_column(_key: RowKey, row: Row) -> str:
            cell = row[index] if index < len(row) else ""
            return cell if cell.__class__ is str else cell_plain(cell)

        self.set_sort(by_column, reverse=reverse)
        self._sort_column = column

    @property
    def sort_column(self) -> str | None:
        """The column set by `sort_by`, if any (shown with an arrow in the header)."""
        return self._sort_column

    def set_filter(self, predicate: RowFilter | None) -> None:
        """Show only rows for which `predicate(row_key, row)` is true, from the next flush.

        `predicate` must depend only on its arguments; call `set_filter` again when whatever else
        it reads changes.
        """
        self._filter = predicate
        self._needs_order = True
        self._full_order = True
        self._schedule_flush()

    def visible_keys(self) -> list[RowKey]:
        """Return the keys shown, in display order, as of the last flush."""
        return list(self._order)

    @property
    def visible_count(self) -> int:
        """Number of rows shown as of the last flush."""
        return len(self._order)

    def hidden_selected_count(self) -> int:
        """Selected rows the filter hides (the summary says so: a selection never acts unseen)."""
        return sum(1 for key in self._selected if not self._is_shown(key))

    def _is_shown(self, key: RowKey) -> bool:
        """Whether a key is among the rows shown (flushed rows passing the applied filter)."""
        row = self._rows.get(key)
        if row is None:
            return False
        predicate = self._shown_filter
        return predicate is None or bool(predicate(key, row))

    def _column_index(self, column: str) -> int:
        for index, declared in enumerate(self._columns):
            if declared.key == column:
                return index
        raise KeyError(f"no column {column!r}")

    def _schedule_flush(self) -> None:
        if self.auto_flush_hz and not self._flush_scheduled and self.is_mounted:
            self._flush_scheduled = True
            wait = self._last_flush + 1 / self.auto_flush_hz - monotonic()
            if wait > 0:
                self.set_timer(wait, self._auto_flush)
            else:
                # After the caller's handler returns, so its other mutations join this flush.
                self.call_later(self._auto_flush)

    def _auto_flush(self) -> None:
        self._flush_scheduled = False
        self.flush()

    def _on_mount(self, event: events.Mount) -> None:
        self.flush()

    # ----------------------------------------------------------------- flush

    def flush(self) -> None:
        """Apply pending mutations to the display: re-order if needed, then repaint once."""
        if not self.is_mounted:
            return  # Mounting flushes.
        changed = self._apply_pending()
        if not (changed or self._needs_order):
            return
        if self._needs_order:
            self._reorder()
            self._needs_order = False
        self._last_flush = monotonic()
        self.refresh()

    def _apply_pending(self) -> bool:
        """Move buffered mutations into the rows; return True if anything changed.

        Sets `_needs_order` when rows were added or removed, or an update changed a row's sort
        key or filter result; notes added and removed keys for an incremental re-order.
        """
        reset, pending = self._pending_reset, self._pending
        if reset is None and not pending:
            return False
        self._next_version += 1
        version = self._next_version
        rows, versions = self._rows, self._versions
        if reset is not None:
            self._pending_reset = None
            self._rows = rows = reset
            self._versions = versions = dict.fromkeys(reset, version)
            self._strip_cache.clear()
            self._needs_order = True
            self._full_order = True
            self._sort_values_for = None
            self._sort_values = {}
        if not pending:
            return True
        self._pending = {}
        sort_values_for = self._sort_values_for
        values = self._sort_values
        added, removed = self._added, self._removed
        for key, row in pending.items():
            old = rows.get(key)
            if row is None:
                if old is not None:
                    del rows[key], versions[key]
                    values.pop(key, None)
                    self._needs_order = True
                    removed.add(key)
                continue
            if old is None:
                self._needs_order = True
                added.append(key)
            elif not self._full_order and self._moves(key, old, row):
                self._needs_order = True
                self._full_order = True
            rows[key] = row
            versions[key] = version
            if sort_values_for is not None:
                values[key] = sort_values_for(key, row)
        return True

    def _moves(self, key: RowKey, old: Row, new: Row) -> bool:
        """Whether replacing `old` with `new` changes the row's sort key or filter result."""
        sort_key, predicate = self._shown_sort_key, self._shown_filter
        if sort_key is not None and sort_key(key, old) != sort_key(key, new):
            return True
        return predicate is not None and bool(predicate(key, old)) != bool(predicate(key, new))

    def _reorder(self) -> None:
        """Recompute the visible order; keep the cursor's key, its screen line and the selection."""
        old_order = self._order
        body = self._body_height()
        old_top = round(self.scroll_y)
        old_cursor, old_position = self._cursor_key, self._cursor_position

        self._shown_filter = self._filter
        self._shown_sort_key = self._sort_key
        self._shown_sort = (self._sort_column, self._sort_reverse)
        self._order = order = self._ordered(old_order)

        cursor = self._surviving_neighbour(old_cursor, old_position, old_order)
        if cursor is None and order:
            cursor = order[0]
        # list.index runs in C and checks identity first: cheaper than a 50,000-entry dict per flush.
        position = order.index(cursor) if cursor is not None else -1
        self._cursor_key, self._cursor_position = cursor, position

        # Keep the cursor on the same screen line; if it was scrolled out of view, keep the top row.
        if cursor is not None and old_top <= old_position < old_top + body:
            top = position - (old_position - old_top)
        else:
            old_top_key = old_order[old_top] if old_top < len(old_order) else None
            top_key = self._surviving_neighbour(old_top_key, old_top, old_order)
            top = order.index(top_key) if top_key is not None else 0
        top = max(0, min(top, len(order) - body))
        self.virtual_size = Size(0, len(order) + 1)
        self._scroll_to_line(top)

        if self._selected:
            # A filter hides selected rows but never deselects them (the summary counts the hidden ones);
            # only rows that are gone leave the selection, and the screen hears of it.
            kept = {key for key in self._selected if key in self._rows}
            if len(kept) != len(self._selected):
                self._selected = kept
                self.post_message(self.SelectionChanged(self, frozenset(kept)))
        if cursor != old_cursor:
            self.post_message(self.CursorMoved(self, cursor))

    def _ordered(self, old_order: list[RowKey]) -> list[RowKey]:
        """The shown keys in display order: merged into the old order when only rows came and went.

        Either way the result is what a stable sort of the rows (in insertion order) by the sort key
        gives: a new row goes after the rows with an equal sort key, since it was inserted after them.
        """
        rows = self._rows
        predicate, sort_key, reverse = self._shown_filter, self._shown_sort_key, self._sort_reverse
        added, removed = self._added, self._removed
        self._added, self._removed = [], set()
        full = self._full_order
        self._full_order = False
        values = self._sort_values
        if sort_key is not None and self._sort_values_for is not sort_key:
            self._sort_values = values = {key: sort_key(key, row) for key, row in rows.items()}
            self._sort_values_for = sort_key
            full = True
        if predicate is not None:
            added = [key for key in added if predicate(key, rows[key])]
        # Many additions (a first load) sort faster all at once; a descending order is always rebuilt.
        if full or (sort_key is not None and reverse) or len(added) > len(old_order) // 4 + 64:
            order = [key for key, row in rows.items() if predicate(key, row)] if predicate else list(rows)
            if sort_key is not None:
                order.sort(key=values.__getitem__, reverse=reverse)
            return order
        order = [key for key in old_order if key not in removed] if removed else list(old_order)
        if not added:
            return order
        if sort_key is None:
            order.extend(added)  # insertion order: new rows come last
            return order
        value = values.__getitem__
        added.sort(key=value)
        if not order or not value(added[0]) < value(order[-1]):
            order.extend(added)
            return order
        merged: list[RowKey] = []
        start = 0
        for key in added:
            at = bisect_right(order, value(key), start, key=value)
            merged.extend(order[start:at])
            merged.append(key)
            start = at
        merged.extend(order[start:])
        return merged

    def _surviving_neighbour(self, key: RowKey | None, position: int, old_order: list[RowKey]) -> RowKey | None:
        """Return `key` if it is still shown, else the nearest shown row around its old position."""
        if key is None:
            return None
        if self._is_shown(key):
            return key
        if position < 0:
            return None
        is_shown = self._is_shown
        # Prefer the row below on a tie: it slides into the vanished row's place.
        for distance in range(1, len(old_order)):
            below, above = position + distance, position - distance
            if below < len(old_order) and is_shown(old_order[below]):
                return old_order[below]
            if above >= 0 and is_shown(old_order[above]):
                return old_order[above]
            if below >= len(old_order) and above < 0:
                break
        return None

    # ------------------------------------------------------------ cursor/scroll

    @property
    def cursor_key(self) -> RowKey | None:
        """The key of the row under the cursor, or None when no row is shown."""
        return self._cursor_key

    @property
    def cursor_index(self) -> int | None:
        """The cursor's position among the visible rows, or None when no row is shown."""
        return None if self._cursor_key is None else self._cursor_position

    def move_cursor(self, key: RowKey) -> bool:
        """Put the cursor on a shown row; return False if the key is not shown."""
        if not self._is_shown(key):
            return False
        self._set_cursor_index(self._order.index(key))
        return True

    def _body_height(self) -> int:
        return max(1, self.scrollable_content_region.height - 1)

    def _scroll_to_line(self, top: int) -> None:
        self.scroll_to(y=top, animate=False, force=True, immediate=True)

    def _set_cursor_index(self, position: int, *, top: int | None = None) -> None:
        """Move the cursor to a visible position, scrolling only as far as needed."""
        if not self._order:
            return
        position = max(0, min(position, len(self._order) - 1))
        old_key, old_position = self._cursor_key, self._cursor_position
        new_key = self._order[position]
        self._cursor_key, self._cursor_position = new_key, position

        body = self._body_height()
        current_top = round(self.scroll_y)
        target = current_top if top is None else top
        if position < target:
            target = position
        elif position >= target + body:
            target = position - body + 1
        target = max(0, min(target, len(self._order) - body))
        if target != current_top:
            self._scroll_to_line(target)
        else:
            if old_position >= 0:
                self.refresh_line(old_position + 1)
            self.refresh_line(position + 1)
        if new_key != old_key:
            self.post_message(self.CursorMoved(self, new_key))

    def _on_resize(self, event: events.Resize) -> None:
        position = self.cursor_index
        if position is not None:
            self._set_cursor_index(position)

    def action_cursor_up(self) -> None:
        """Move the cursor one row up."""
        self._move_by(-1)

    def action_cursor_down(self) -> None:
        """Move the cursor one row down."""
        self._move_by(1)

    def action_page_up(self) -> None:
        """Move the cursor and the view one page up."""
        self._move_by(-self._body_height(), page=True)

    def action_page_down(self) -> None:
        """Move the cursor and the view one page down."""
        self._move_by(self._body_height(), page=True)

    def action_cursor_home(self) -> None:
        """Move the cursor to the first row."""
        self._set_cursor_index(0, top=0)

    def action_cursor_end(self) -> None:
        """Move the cursor to the last row."""
        self._set_cursor_index(len(self._order) - 1)

    def _move_by(self, delta: int, *, page: bool = False) -> None:
        position = self.cursor_index
        if position is None:
            return
        top = round(self.scroll_y) + delta if page else None
        self._set_cursor_index(position + delta, top=top)

    def action_activate(self) -> None:
        """Post `Activated` for the row under the cursor."""
        if self._cursor_key is not None:
            self.post_message(self.Activated(self, self._cursor_key))

    def on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        if offset is None or offset.y < 1:
            return
        position = offset.y - 1 + round(self.scroll_y)
        if position < len(self._order):
            self._set_cursor_index(position)

    # ------------------------------------------------------------- selection

    @property
    def selected_keys(self) -> frozenset[RowKey]:
        """The selected keys: always a subset of the rows shown, so bulk actions act on what is seen."""
        return frozenset(self._selected)

    def action_toggle_selection(self) -> None:
        """Select or deselect the row under the cursor."""
        key = self._cursor_key
        if key is None or not self.selectable:
            return
        if key in self._selected:
            self._selected.discard(key)
        else:
            self._selected.add(key)
        self._selection_changed()

    def select(self, keys: Iterable[RowKey]) -> None:
        """Add shown rows to the selection (other keys are ignored)."""
        if not self.selectable:
            return
        before = len(self._selected)
        self._selected.update(key for key in keys if self._is_shown(key))
        if len(self._selected) != before:
            self._selection_changed()

    def action_select_all(self) -> None:
        """Select every shown row."""
        self.select_all()

    def select_all(self) -> None:
        """Select exactly the rows shown (as of the last flush)."""
        if not self.selectable or len(self._selected) == len(self._order):
            return
        self._selected = set(self._order)
        self._selection_changed()

    def action_clear_selection(self) -> None:
        """Deselect every row."""
        self.clear_selection()

    def clear_selection(self) -> None:
        """Deselect every row."""
        if self._selected:
            self._selected = set()
            self._selection_changed()

    def _selection_changed(self) -> None:
        self.refresh()
        self.post_message(self.SelectionChanged(self, frozenset(self._selected)))

    # ------------------------------------------------------------- rendering

    def visible_columns(self) -> list[str]:
        """Return the keys of the columns shown at the current width."""
        self._ensure_layout(self.scrollable_content_region.width)
        return [self._columns[placed.cell].key for placed in self._layout]

    @property
    def _marker_width(self) -> int:
        return 2 if self.selectable else 1

    def _ensure_layout(self, width: int) -> None:
        """Choose the columns that fit `width` by priority and share out the spare width."""
        if width == self._layout_width:
            return
        self._layout_width = width
        available = width - self._marker_width
        by_priority = sorted(range(len(self._columns)), key=lambda i: (-self._columns[i].priority, i))
        chosen: list[int] = []
        used = 0
        for index in by_priority:
            need = self._columns[index].width + (1 if chosen else 0)
            if used + need > available:
                break
            chosen.append(index)
            used += need
        if not chosen:
            # Narrower than the most important column: show it alone, truncated.
            first = by_priority[0]
            self._layout = (_Placed(first, max(1, available), self._columns[first].align),)
            return
        chosen.sort()
        widths = {index: self._columns[index].width for index in chosen}
        flexible = [index for index in chosen if self._columns[index].flex]
        spare = available - used
        if flexible and spare > 0:
            total_flex = sum(self._columns[index].flex for index in flexible)
            given = 0
            for index in flexible:
                share = spare * self._columns[index].flex // total_flex
                widths[index] += share
                given += share
            widths[flexible[-1]] += spare - given
        self._layout = tuple(_Placed(index, widths[index], self._columns[index].align) for index in chosen)

    def _parse_style(self, spec: str) -> Style:
        style = self._style_cache.get(spec)
        if style is None:
            style = self.app.console.get_style(spec, default=Style.null())
            self._style_cache[spec] = style
        return style

    def render_lines(self, crop: Region) -> list[Strip]:
        # The width and the base style are the same for every line of one render: look them up once
        # (the style walks every ancestor's CSS), not once a line.
        self._render_pass = (self.scrollable_content_region.width, self.rich_style)
        try:
            return super().render_lines(crop)
        finally:
            self._render_pass = None

    def render_line(self, y: int) -> Strip:
        render_pass = self._render_pass
        if render_pass is not None:
            width, base = render_pass
        else:
            width, base = self.scrollable_content_region.width, self.rich_style
        if width <= self._marker_width:
            return Strip.blank(max(0, width), base)
        self._ensure_layout(width)
        if y == 0:
            return self._render_header(width, base)
        position = y - 1 + round(self.scroll_y)
        if position >= len(self._order):
            if y == 1 and not self._order:
                empty = self.get_component_rich_style("virtual-table--empty")
                text = " " * self._marker_width + self.empty_message
                return Strip([Segment(_fit(text, width, "left"), empty)], width)
            return Strip.blank(width, base)
        return self._render_row(self._order[position], width, base)

    def _render_header(self, width: int, base: Style) -> Strip:
        header = self.get_component_rich_style("virtual-table--header")
        sort_column, reverse = self._shown_sort
        cache_key = ("header", width, header, sort_column, reverse)
        strip = self._strip_cache.get(cache_key)
        if strip is None:
            parts = [" " * self._marker_width]
            for number, placed in enumerate(self._layout):
                column = self._columns[placed.cell]
                title = column.title
                if column.key == sort_column:
                    title = f"{title}{'▼' if reverse else '▲'}"
                if number:
                    parts.append(" ")
                parts.append(_fit(title, placed.width, placed.align))
            line = _fit("".join(parts), width, "left")
            strip = Strip([Segment(line, header)], width)
            self._strip_cache.set(cache_key, strip)
        return strip

    def _render_row(self, key: RowKey, width: int, base: Style) -> Strip:
        is_cursor = key == self._cursor_key
        is_selected = key in self._selected
        row_style_spec = self.row_style(key) if self.row_style is not None else None
        cursor_style = self.get_component_rich_style("virtual-table--cursor", partial=True)
        selected_style = self.get_component_rich_style("virtual-table--selected", partial=True)
        cache_key = (
            key,
            self._versions.get(key),
            is_selected,
            is_cursor,
            width,
            row_style_spec,
            base,
            cursor_style if is_cursor else None,
            selected_style if is_selected else None,
        )
        strip = self._strip_cache.get(cache_key)
        if strip is not None:
            return strip

        row_base = base
        if row_style_spec:
            row_base += self._parse_style(row_style_spec)
        if is_selected:
            row_base += selected_style
        post = cursor_style if is_cursor else None
        plain_style = row_base + post if post else row_base

        marker = self.selected_marker if is_selected else " "
        # Plain cells and padding are joined into as few segments as possible.
        pending = [f"{marker} " if self.selectable else " "]
        segments: list[Segment] = []
        row = self._rows[key]
        row_length = len(row)
        for number, placed in enumerate(self._layout):
            if number:
                pending.append(" ")
            cell: Cell = row[placed.cell] if placed.cell < row_length else ""
            if isinstance(cell, str):
                pending.append(_fit(cell, placed.width, placed.align))
                continue
            left, styled, right = self._styled_cell(cell, placed, row_base)
            pending.append(" " * left)
            if plain := "".join(pending):
                segments.append(Segment(plain, plain_style))
            pending = [" " * right]
            segments.extend(Segment(text, style + post if post else style) for text, style in styled)
        if plain := "".join(pending):
            segments.append(Segment(plain, plain_style))
        strip = Strip(segments).adjust_cell_length(width, plain_style)
        self._strip_cache.set(cache_key, strip)
        return strip

    def _styled_cell(
        self, cell: Text | tuple[str, str], placed: _Placed, row_base: Style
    ) -> tuple[int, list[tuple[str, Style]], int]:
        """Fit a styled cell; return its left padding, its (text, style) pieces and its right padding."""
        if isinstance(cell, Text):
            left, fitted, right = _fit_text(cell, placed.width, placed.align)
            # Text.render leaves the Text's own style to the caller.
            own = fitted.style
            cell_base = row_base + (self._parse_style(own) if isinstance(own, str) else own)
            pieces = [
                (segment.text, cell_base + segment.style if segment.style else cell_base)
                for segment in fitted.render(self.app.console)
            ]
            return left, pieces, right
        text, spec = cell
        left, text, right = _fit_parts(text, placed.width, placed.align)
        return left, [(text, row_base + self._parse_style(spec))], right
