"""A table with a one-line summary and a `/` filter: the common shape of namespaces, pods, gateways, journal."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable
from typing import ClassVar

from textual import events, on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import Input

from meshtui.tui.feed import TableDelta
from meshtui.tui.inert import InertStatic
from meshtui.tui.rows import Predicate
from meshtui.tui.widgets.virtual_table import Column, RowKey, VirtualTable


class FilterInput(Input):
    """The filter's input; keys typed ahead of the screen (one burst from the terminal) keep their meaning.

    The terminal may hand over `/todo enter a` at once: enter and esc close the filter right here, in key
    order, and a key that still reaches the input after that goes on as if typed now (to the table).
    """

    async def _on_key(self, event: events.Key) -> None:
        view = self.parent
        if not isinstance(view, TableView):
            return
        if not view.filtering:
            event.stop()
            event.prevent_default()
            self.app.post_message(events.Key(event.key, event.character))
        elif event.key in ("enter", "escape"):
            event.stop()
            event.prevent_default()
            view.close_filter(clear=event.key == "escape")


class TableView(Vertical):
    """A filterable VirtualTable under a summary line; subclasses give the columns, nouns and filter."""

    DEFAULT_CSS = """
    TableView { height: 1fr; }
    TableView > .summary { height: 1; padding: 0 1; background: $boost; color: $text-muted; }
    TableView > Input.filter { height: 1; border: none; padding: 0 1; display: none; }
    TableView > Input.filter.-active { display: block; }
    """

    #: The rows' noun, singular and plural, for the summary line.
    NOUN: ClassVar[tuple[str, str]] = ("row", "rows")
    SELECTABLE: ClassVar[bool] = False
    NEWEST_FIRST: ClassVar[bool] = False
    EMPTY: ClassVar[str] = "Waiting for the cluster… (the header shows how far the listing has come)"
    #: The rows come from listing the cluster: until the first complete list the count is only "so far".
    LISTED: ClassVar[bool] = True

    class RowOpened(Message):
        """Posted when Enter is pressed on a row: the screen shows it whole (namespaces open their pods)."""

        def __init__(self, view: TableView, key: Hashable) -> None:
            super().__init__()
            self.view = view
            self.key = key

    class FilterChanged(Message):
        """Posted when the filter text changes (typed, cleared or set by a jump to offenders)."""

        def __init__(self, view: TableView, text: str) -> None:
            super().__init__()
            self.view = view
            self.text = text

    def __init__(
        self,
        columns: Iterable[Column],
        *,
        id: str | None = None,
        row_style: Callable[[RowKey], str | None] | None = None,
    ) -> None:
        super().__init__(id=id)
        self.table = VirtualTable(
            columns, selectable=self.SELECTABLE, empty_message=self.EMPTY, row_style=row_style, selected_marker="*"
        )
        self.summary = InertStatic("", classes="summary")
        self.filter_input = FilterInput(
            placeholder="filter: words, rev:NAME, risk, todo, !word  (enter keeps, esc clears)",
            classes="filter",
            select_on_focus=False,
        )
        self.filter_text = ""
        self._scope_note = ""
        self._extra_predicate: Predicate | None = None
        #: True until the mesh has been listed whole once; the screen then sets the final empty message.
        self.listing = self.LISTED

    def compose(self) -> ComposeResult:
        yield self.filter_input
        yield self.summary
        yield self.table

    def on_mount(self) -> None:
        self.table.set_sort(lambda key, _row: key, reverse=self.NEWEST_FIRST)
        self._refresh_filter()

    # -- data (attributes down from the screen) -----------------------------------------------------

    def apply_delta(self, delta: TableDelta) -> None:
        """Apply one snapshot's changes to the table (flushed with the next repaint)."""
        if delta.reset is not None:
            self.table.set_rows(delta.reset)
        elif delta.upserts or delta.deletes:
            self.table.apply(delta.upserts, delta.deletes)
        if not delta.empty:
            # Snapshots arrive a few times a second at most: repaint now so the summary counts agree.
            self.table.flush()
            self.update_summary()

    def set_empty_message(self, text: str) -> None:
        """What the table says when no row is shown; the screen sets it once the mesh is listed whole, so
        from then on the count is the whole count, not one "so far"."""
        self.table.empty_message = text
        self.table.refresh()
        if self.listing:
            self.listing = False
            self.update_summary()

    # -- filter -------------------------------------------------------------------------------------

    def compile_filter(self, text: str) -> Predicate | None:
        """The predicate for the filter text (subclasses add scope and special words)."""
        raise NotImplementedError

    def start_filter(self) -> None:
        """Show the filter input and focus it, the cursor after the current text."""
        self.filter_input.add_class("-active")
        if self.filter_input.value != self.filter_text:
            with self.filter_input.prevent(Input.Changed):
                self.filter_input.value = self.filter_text
        self.filter_input.cursor_position = len(self.filter_text)
        # Focus now, not after the next refresh: on a busy screen the keys typed right after `/` are already
        # queued and would otherwise run as commands (`t` of "todo" moving a tag).
        self.screen.set_focus(self.filter_input, scroll_visible=False)
        if self.screen.focused is not self.filter_input:
            self.filter_input.focus()

    @property
    def scope_note(self) -> str:
        """What the rows are narrowed to beyond the typed filter ("holding back Upgrade"), or ""."""
        return self._scope_note

    @property
    def filtering(self) -> bool:
        """True while the filter input is open."""
        return self.filter_input.has_class("-active")

    def close_filter(self, *, clear: bool) -> None:
        """Hide the filter input, keeping what it holds or clearing it, and focus the table."""
        self.filter_input.remove_class("-active")
        if clear:
            self.set_filter("")
        elif self.filter_input.value.strip() != self.filter_text:
            self._use_filter(self.filter_input.value)
        # At once, not after the next refresh: the keys typed next act on the table.
        self.screen.set_focus(self.table, scroll_visible=False)

    def set_filter(self, text: str) -> None:
        """Filter the rows by `text` (empty shows all); the input shows the same text."""
        if self.filter_input.value != text:
            # Without prevent, the input's own Changed would echo back and could ping-pong with a stale one.
            with self.filter_input.prevent(Input.Changed):
                self.filter_input.value = text
        self._use_filter(text)

    def _use_filter(self, text: str) -> None:
        self.filter_text = text.strip()
        self._refresh_filter()
        # A new filter starts at its first match; a cleared one keeps the row the cursor was on, in view.
        if self.filter_text:
            self.table.action_cursor_home()
        elif self.table.cursor_key is not None:
            self.table.move_cursor(self.table.cursor_key)
        self.post_message(self.FilterChanged(self, self.filter_text))

    def set_scope(self, predicate: Predicate | None, note: str) -> None:
        """Restrict the rows beyond the typed filter (a namespace's pods, the offenders of a gate)."""
        self._extra_predicate = predicate
        self._scope_note = note
        self._refresh_filter()

    def _refresh_filter(self) -> None:
        words = self.compile_filter(self.filter_text)
        extra = self._extra_predicate
        if words is not None and extra is not None:

            def both(key: object, row: tuple) -> bool:  # type: ignore[type-arg]
                return extra(key, row) and words(key, row)

            self.table.set_filter(both)
        else:
            self.table.set_filter(words or extra)
        self.table.flush()
        self.update_summary()

    @on(VirtualTable.Activated)
    def _activated(self, event: VirtualTable.Activated) -> None:
        event.stop()
        self.open_row(event.key)

    def open_row(self, key: Hashable) -> None:
        """Enter on a row (subclasses may open something else)."""
        self.post_message(self.RowOpened(self, key))

    @on(Input.Changed, ".filter")
    def _typed(self, event: Input.Changed) -> None:
        event.stop()
        # An older change still queued is ignored, and so is the one the closing filter already applied.
        if event.value == self.filter_input.value and event.value.strip() != self.filter_text:
            self._use_filter(event.value)

    # -- selection ----------------------------------------------------------------------------------

    @property
    def selected(self) -> list[Hashable]:
        """The selected keys, in key order."""
        return sorted(self.table.selected_keys)  # type: ignore[type-var]

    @on(VirtualTable.SelectionChanged)
    def _selection(self) -> None:
        self.update_summary()

    # -- summary ------------------------------------------------------------------------------------

    def summary_notes(self) -> list[str]:
        """Further facts a view adds to its summary line (none by default)."""
        return []

    def update_summary(self) -> None:
        """Rewrite the one-line summary: counts, selection, scope and filter."""
        one, many = self.NOUN
        total, shown = self.table.row_count, self.table.visible_count
        if self._scope_note:
            # The total would count the whole mesh, not the scope: say only what is shown.
            parts = [f"{shown:,} {one if shown == 1 else many}" + (" match" if self.filter_text else "")]
        elif shown != total:
            parts = [f"{shown:,} of {total:,} {one if total == 1 else many}"]
        elif self.listing:
            parts = [f"{total:,} {one if total == 1 else many} so far, still listing"]
        else:
            parts = [f"{total:,} {one if total == 1 else many}"]
        if self.SELECTABLE:
            selected = self.table.selected_keys
            hidden = self.table.hidden_selected_count() if selected else 0
            parts.append(f"{len(selected):,} selected" + (f" ({hidden:,} hidden)" if hidden else ""))
        if self._scope_note:
            parts.append(self._scope_note)
        parts += self.summary_notes()
        if self.filter_text:
            parts.append(f"filter: {self.filter_text}")
        self.summary.update(" · ".join(parts))
