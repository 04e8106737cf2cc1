"""The namespaces table, the heart of the data plane: one live row a namespace, selectable, filterable."""

from __future__ import annotations

from collections.abc import Hashable

from textual.message import Message

from meshtui.tui import rows as R
from meshtui.tui.views.table_view import TableView
from meshtui.tui.widgets.virtual_table import RowKey, cell_plain


class NamespacesView(TableView):
    """Namespaces with their injection label, resolved revision and pod counts against source and target."""

    NOUN = ("namespace", "namespaces")
    SELECTABLE = True

    class Opened(Message):
        """Posted when Enter is pressed on a namespace: its pods should be shown."""

        def __init__(self, key: Hashable) -> None:
            super().__init__()
            self.key = key

    def __init__(self, *, multi_cluster: bool = False, id: str | None = None) -> None:
        self.multi_cluster = multi_cluster
        self.revisions = R.Revisions(None, None)
        self.scope_keys: frozenset[Hashable] = frozenset()
        self._risk_index = (1 if multi_cluster else 0) + [c.key for c in R.NAMESPACE_COLUMNS].index("at_risk")
        super().__init__(R.namespace_columns(multi_cluster), id=id, row_style=self._row_style)

    def _row_style(self, key: RowKey) -> str | None:
        row = self.table.get_row(key)
        if row is not None and cell_plain(row[self._risk_index]) not in ("0", ""):
            return "bold"
        return None

    def set_revisions(self, revisions: R.Revisions) -> None:
        """The pair the `todo` filter compares against."""
        if revisions != self.revisions:
            self.revisions = revisions
            self._refresh_filter()

    def compile_filter(self, text: str) -> R.Predicate | None:
        """Words, `rev:R`, `risk`, `todo`."""
        return R.namespace_filter(text, self.revisions, self.multi_cluster)

    def show_only(self, keys: set[Hashable] | None, note: str = "") -> None:
        """Show only these namespaces (a gate's offenders); None shows all again."""
        if keys is None:
            self.scope_keys = frozenset()
            self.set_scope(None, "")
            return
        frozen = frozenset(keys)
        self.scope_keys = frozen
        self.set_scope(lambda key, _row: key in frozen, note)

    def open_row(self, key: Hashable) -> None:
        """Enter opens the namespace's pods (its fields whole are one `e` away)."""
        self.post_message(self.Opened(key))
