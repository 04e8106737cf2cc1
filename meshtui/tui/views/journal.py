"""The journal: every action meshtui took or was refused, newest first."""

from __future__ import annotations

from meshtui.tui import rows as R
from meshtui.tui.feed import TableDelta
from meshtui.tui.views.table_view import TableView


class JournalView(TableView):
    """Journal lines with time, who, cluster, action, result and what changed."""

    NOUN = ("entry", "entries")
    NEWEST_FIRST = True  # keys are journal positions
    EMPTY = "Nothing recorded yet: actions appear here once taken (or refused)."
    LISTED = False  # read from the upgrade record, not listed from the cluster

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(R.JOURNAL_COLUMNS, id=id)
        self._archive = ""

    def show_archive(self, total: int, archive: tuple[str, ...]) -> None:
        """Say how many entries the upgrade has in all and which ConfigMaps hold the older ones."""
        note = f"{total:,} in all, the older in ConfigMap {', '.join(archive)}" if archive else ""
        if note != self._archive:
            self._archive = note
            self.update_summary()

    def summary_notes(self) -> list[str]:
        """The archive note, when entries were archived."""
        return [self._archive] if self._archive else []

    def apply_delta(self, delta: TableDelta) -> None:
        """New entries arrive on top: a cursor that was on the newest entry moves up to the new newest."""
        table = self.table
        on_newest = table.cursor_key is None or table.cursor_index == 0
        super().apply_delta(delta)
        if on_newest and table.visible_count:
            table.action_cursor_home()

    def compile_filter(self, text: str) -> R.Predicate | None:
        """Words only."""
        return R.journal_filter(text)
