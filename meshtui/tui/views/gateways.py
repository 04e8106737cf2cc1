"""The gateways table: each gateway workload with its revision and how it will be upgraded."""

from __future__ import annotations

from meshtui.tui import rows as R
from meshtui.tui.views.table_view import TableView


class GatewaysView(TableView):
    """Gateways of every kind; m moves them all to the target, M back to the source."""

    NOUN = ("gateway", "gateways")
    EMPTY = "No gateway found (yet)."

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(R.GATEWAY_COLUMNS, id=id)

    def compile_filter(self, text: str) -> R.Predicate | None:
        """Words and `rev:R`."""
        return R.gateway_filter(text)
