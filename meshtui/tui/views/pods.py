"""The pods table: every pod of the mesh in one VirtualTable, scoped to the namespaces being looked at."""

from __future__ import annotations

from collections.abc import Hashable

from meshtui.tui import rows as R
from meshtui.tui.views.table_view import TableView
from meshtui.tui.widgets.virtual_table import RowKey, cell_plain

_REASON = [c.key for c in R.POD_COLUMNS].index("reason")
_NAMESPACE_PRIORITY = next(c.priority for c in R.POD_COLUMNS if c.key == "namespace")


class PodsView(TableView):
    """Pods with their current revision, proxy version and revision on restart; at-risk rows in bold."""

    NOUN = ("pod", "pods")

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(R.POD_COLUMNS, id=id, row_style=self._row_style)
        self.namespaces: frozenset[tuple[str, str]] | None = None
        self.keys: frozenset[tuple[str, str, str]] | None = None

    def _row_style(self, key: RowKey) -> str | None:
        row = self.table.get_row(key)
        if row is not None and cell_plain(row[_REASON]).startswith(R.RISK_MARK):
            return "bold"
        return None

    def compile_filter(self, text: str) -> R.Predicate | None:
        """Words, `rev:R`, `risk`, `todo` (not yet on its revision on restart)."""
        return R.pod_filter(text, None)

    def show_namespaces(self, namespaces: set[tuple[str, str]] | None, note: str) -> None:
        """Show the pods of these (cluster, namespace) pairs; None shows every pod."""
        self.namespaces = frozenset(namespaces) if namespaces is not None else None
        self.keys = None
        self._namespace_column(wanted=namespaces is None or len(namespaces) > 1)
        self.set_scope(R.pod_filter("", self.namespaces), note)

    def show_keys(self, keys: set[tuple[str, str, str]], note: str) -> None:
        """Show exactly these pods (a gate's offenders)."""
        self.namespaces = None
        self.keys = frozenset(keys)
        self._namespace_column(wanted=len({k[:2] for k in keys}) > 1)
        self.set_scope(R.pod_filter("", None, self.keys), note)

    def _namespace_column(self, *, wanted: bool) -> None:
        """Pods of several namespaces need the NAMESPACE column even at 80 columns; one namespace's do not."""
        self.table.set_priorities({"namespace": 95 if wanted else _NAMESPACE_PRIORITY})

    @property
    def cursor_pod(self) -> Hashable | None:
        """The key of the pod under the cursor."""
        return self.table.cursor_key
