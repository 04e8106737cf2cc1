"""The node agents table's rows: one ztunnel or istio-cni pod a row, with the ambient pods on its node.

Pure (no Textual), like `rows`: the refresh worker builds the cells off the UI thread.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping

from meshtui.domain.ambient import DataPlaneComponent, NodeAgent
from meshtui.domain.objects import ZTUNNEL
from meshtui.tui.rows import (
    CLUSTER_COLUMN,
    DASH,
    GOOD_STYLE,
    RISK_STYLE,
    WARN_STYLE,
    Predicate,
    Revisions,
    _compile,
)
from meshtui.tui.widgets.virtual_table import Cell, Column, Row, cell_plain

AGENT_COLUMNS = (
    Column("node", "NODE", 10, flex=2, priority=100),
    Column("component", "AGENT", 9, priority=95),
    Column("name", "POD", 13, flex=2, priority=65),
    Column("version", "VERSION", 7, flex=1, priority=90),
    Column("istiod", "ISTIOD", 6, flex=1, priority=85),
    Column("ready", "READY", 11, priority=80),
    Column("template", "TEMPLATE", 8, priority=75),
    Column("ambient", "AMBIENT", 7, align="right", priority=70),  # ambient pods on the node
)
_AGENT = {c.key: i for i, c in enumerate(AGENT_COLUMNS)}

#: (cluster, node, agent kind, namespace, pod): the table sorts by key, so a node's agents sit together.
AgentKey = tuple[str, str, str, str, str]


def agent_columns(multi_cluster: bool) -> tuple[Column, ...]:
    """The node agents table's columns; a CLUSTER column first when the mesh spans clusters."""
    return (CLUSTER_COLUMN, *AGENT_COLUMNS) if multi_cluster else AGENT_COLUMNS


def agent_cells(
    component: DataPlaneComponent, agent: NodeAgent, ambient_pods: int, revs: Revisions, multi_cluster: bool
) -> Row:
    """One node agent pod's cells; `ambient_pods` counts the live ambient pods on its node."""
    version: Cell = agent.version or "unknown"
    if not agent.current:
        version = (agent.version or "unknown", WARN_STYLE)
    istiod: Cell = DASH  # istio-cni takes no configuration from istiod
    if component.kind == ZTUNNEL:
        istiod = agent.istiod or "unknown"
        if revs.target and agent.istiod == revs.target:
            istiod = (agent.istiod, GOOD_STYLE)
    ready: Cell
    if agent.terminating:
        ready = ("terminating", WARN_STYLE)
    elif agent.ready:
        ready = "ready"
    else:
        ready = ("NOT ready", RISK_STYLE)
    template: Cell = "current" if agent.current else ("older", WARN_STYLE)
    cells: tuple[Cell, ...] = (
        agent.node or "?",
        component.kind,
        agent.pod,
        version,
        istiod,
        ready,
        template,
        str(ambient_pods),
    )
    return (component.cluster, *cells) if multi_cluster else cells


def agent_rows(
    components: tuple[DataPlaneComponent, ...],
    ambient_by_node: Mapping[tuple[str, str], int],
    revs: Revisions,
    multi_cluster: bool,
) -> dict[Hashable, Row]:
    """Every node agent pod of `components` by its AgentKey."""
    out: dict[Hashable, Row] = {}
    for c in components:
        for agent in c.pods:
            key: AgentKey = (c.cluster, agent.node or "", c.kind, c.namespace, agent.pod)
            count = ambient_by_node.get((c.cluster, agent.node or ""), 0)
            out[key] = agent_cells(c, agent, count, revs, multi_cluster)
    return out


def agent_filter(text: str, multi_cluster: bool) -> Predicate | None:
    """Words, `rev:R` (the istiod it uses), `todo` (an older template), `risk` (not ready)."""
    offset = 1 if multi_cluster else 0

    def cell(row: Row, key: str) -> str:
        return cell_plain(row[_AGENT[key] + offset])

    def special(word: str) -> Callable[[Row], bool] | None:
        if word.startswith("rev:"):
            wanted = word[4:]
            return lambda row: cell(row, "istiod") == wanted
        if word == "todo":
            return lambda row: cell(row, "template") != "current"
        if word in ("risk", "at-risk"):
            return lambda row: cell(row, "ready") != "ready"
        return None

    return _compile(text, special)
