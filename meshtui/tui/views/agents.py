"""The node agents table: each ztunnel and istio-cni pod of an ambient mesh, one row a pod, node by node."""

from __future__ import annotations

from meshtui.tui import agent_rows as A
from meshtui.tui.rows import Predicate
from meshtui.tui.views.table_view import TableView


class AgentsView(TableView):
    """ztunnel and istio-cni pods with their node, version, istiod, readiness and the ambient pods beside them."""

    NOUN = ("node agent", "node agents")
    EMPTY = "No ambient node agent (ztunnel, istio-cni) found (yet)."

    def __init__(self, *, multi_cluster: bool = False, id: str | None = None) -> None:
        self.multi_cluster = multi_cluster
        super().__init__(A.agent_columns(multi_cluster), id=id)

    def compile_filter(self, text: str) -> Predicate | None:
        """Words, `rev:R`, `todo`, `risk`."""
        return A.agent_filter(text, self.multi_cluster)
