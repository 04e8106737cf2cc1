"""From the live inventory to what the tables need: an immutable snapshot plus row-level deltas.

The reflectors change the inventory on their own threads; the dashboard's refresh worker calls
`SnapshotBuilder.build` (blocking: it takes the watch lock) and posts the result, so the UI thread only
applies small deltas. Rows are compared by identity first: the inventory reuses unchanged row objects,
so a burst that touched 500 of 50,000 pods costs 500 cell tuples, not 50,000.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from meshtui.cluster.live import ClusterHealth, MeshWatch
from meshtui.cluster.reflector import ConnState
from meshtui.domain.ambient import DataPlaneComponent, ambient_pods_by_node
from meshtui.domain.gateways import GatewayRow
from meshtui.domain.inventory import Inventory, InventoryView
from meshtui.domain.namespaces import NamespaceRow
from meshtui.domain.pods import PodRow
from meshtui.engine.api import EngineState, JournalLine, Session
from meshtui.tui import agent_rows as A
from meshtui.tui import rows as R
from meshtui.tui.widgets.virtual_table import Row

log = logging.getLogger(__name__)

#: The watched kind whose first list the namespaces' pod counts wait for.
POD_KIND = "Pod"


class MeshSource(Protocol):
    """Where the dashboard reads the mesh from: a live watch, or a fixed inventory in tests."""

    @property
    def clusters(self) -> tuple[str, ...]: ...

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def listen(self, callback: Callable[[], None]) -> None:
        """Call `callback` (from any thread) whenever the mesh or a connection state changed."""

    def read(
        self, source: str | None, target: str | None, chosen: str | None = None, plan_shown: bool = False
    ) -> InventoryView:
        """A consistent view (blocking while the watch applies a batch)."""

    def health(self) -> tuple[ClusterHealth, ...]: ...


class WatchedMesh:
    """A MeshWatch and its inventory as a MeshSource; `owned` watches are started and stopped here."""

    def __init__(self, watch: MeshWatch, inventory: Inventory, *, owned: bool = True) -> None:
        self.watch = watch
        self.inventory = inventory
        self.owned = owned
        self._started = False

    @property
    def clusters(self) -> tuple[str, ...]:
        """The cluster names, in kubeconfig order."""
        return tuple(t.name for t in self.watch.targets)

    def start(self) -> None:
        """Start the reflectors (once) when this object owns the watch."""
        if self.owned and not self._started:
            self._started = True
            self.watch.start()

    def stop(self) -> None:
        """Stop the reflectors when this object owns the watch."""
        if self.owned and self._started:
            self._started = False
            self.watch.stop()

    def listen(self, callback: Callable[[], None]) -> None:
        """Route the watch's change notifications (applier and reflector threads) to `callback`."""
        self.watch.on_change = callback

    def read(
        self, source: str | None, target: str | None, chosen: str | None = None, plan_shown: bool = False
    ) -> InventoryView:
        """A view taken under the watch lock."""
        with self.watch.lock:
            return self.inventory.view(source, target, chosen, plan_shown)

    def health(self) -> tuple[ClusterHealth, ...]:
        """Per-cluster connection state."""
        return tuple(self.watch.health())


class StaticMesh:
    """An inventory that changes only when the caller says so (tests, snapshots, offline dumps)."""

    def __init__(self, inventory: Inventory, health: tuple[ClusterHealth, ...] | None = None) -> None:
        self.inventory = inventory
        self._callback: Callable[[], None] | None = None
        self._health = health

    @property
    def clusters(self) -> tuple[str, ...]:
        """The inventory's clusters."""
        return self.inventory.clusters

    def start(self) -> None:
        """Nothing to start."""

    def stop(self) -> None:
        """Nothing to stop."""

    def listen(self, callback: Callable[[], None]) -> None:
        """Remember whom to tell about changes."""
        self._callback = callback

    def changed(self) -> None:
        """Tell the dashboard that the inventory changed (call after mutating it)."""
        if self._callback is not None:
            self._callback()

    def read(
        self, source: str | None, target: str | None, chosen: str | None = None, plan_shown: bool = False
    ) -> InventoryView:
        """The current view."""
        return self.inventory.view(source, target, chosen, plan_shown)

    def health(self) -> tuple[ClusterHealth, ...]:
        """Every cluster synced, unless told otherwise."""
        if self._health is not None:
            return self._health
        return tuple(ClusterHealth(c, "", ConnState.SYNCED, "", 1, 1) for c in self.inventory.clusters)


@dataclass(frozen=True, slots=True)
class TableDelta:
    """What changed in one table since the previous snapshot: a full reset, or upserts and deletes."""

    reset: Mapping[Hashable, Row] | None = None
    upserts: Mapping[Hashable, Row] = field(default_factory=dict)
    deletes: tuple[Hashable, ...] = ()

    @property
    def empty(self) -> bool:
        """True when nothing changed."""
        return self.reset is None and not self.upserts and not self.deletes


@dataclass(frozen=True, slots=True)
class Snapshot:
    """One consistent picture for every tab, with the row deltas against the previous one."""

    serial: int
    view: InventoryView
    state: EngineState | None
    state_error: str
    health: tuple[ClusterHealth, ...]
    revisions: R.Revisions
    namespaces: TableDelta
    pods: TableDelta
    gateways: TableDelta
    journal: TableDelta
    taken_at: datetime
    agents: TableDelta = field(default_factory=TableDelta)  # ztunnel and istio-cni pods, node by node

    @property
    def synced(self) -> bool:
        """True once every cluster has listed everything at least once."""
        return all(h.synced_kinds == h.total_kinds for h in self.health) and bool(self.health)


class SnapshotBuilder:
    """Builds snapshots and remembers the last rows it sent, so each snapshot carries only the changes.

    Used by one worker at a time (the refresh worker is exclusive), so it needs no lock.
    """

    def __init__(
        self,
        mesh: MeshSource,
        session: Session | None,
        *,
        source: str | None = None,
        target: str | None = None,
        clock: Callable[[], datetime],
        no_session: str = "",
    ) -> None:
        self.mesh = mesh
        self.session = session
        self.source = source
        self.target = target
        self.clock = clock
        self.no_session = no_session or "no upgrade session: the tables work, the actions do not"
        self.multi_cluster = len(mesh.clusters) > 1
        self._serial = 0
        self._revs: R.Revisions | None = None
        self._namespaces: dict[Hashable, NamespaceRow] = {}
        self._pod_tuples: dict[tuple[str, str], tuple[PodRow, ...]] = {}
        self._gateways: dict[Hashable, GatewayRow] = {}
        self._journal: tuple[JournalLine, ...] | None = None
        self._components: tuple[DataPlaneComponent, ...] = ()
        self._ambient_by_ns: dict[tuple[str, str], dict[tuple[str, str], int]] = {}
        self._agents: dict[Hashable, Row] = {}
        self._seen: tuple[object, ...] | None = None
        #: Clusters whose pods have not listed once yet: their namespaces' pod counts read `…`, not 0.
        self._pods_pending: frozenset[str] = frozenset()

    def build(self) -> Snapshot | None:
        """Read the mesh and the engine state; the snapshot with deltas, or None when nothing changed (blocking).

        Watch traffic that changes nothing shown (annotations, probe times) thus costs no repaint.
        """
        view = self.mesh.read(self.source, self.target)
        state, error = self._state(view)
        if (
            state is not None
            and state.source
            and state.target
            and ((state.source, state.target) != (view.source, view.target))
        ):
            # The upgrade record names the pair: render against it.
            view = self.mesh.read(state.source, state.target)
            state, error = self._state(view)
        health = self.mesh.health()
        seen = (view, state, error, health)
        last = self._seen
        # The inventory hands out the same view object until something changed (compared by identity).
        if last is not None and view is last[0] and (state, error, health) == last[1:]:
            return None
        self._seen = seen
        revs = R.Revisions(view.source, view.target, state.goal if state is not None else None)
        pods_pending = frozenset(h.cluster for h in health if POD_KIND in h.pending_kinds)
        ns_reset = pods_pending != self._pods_pending
        self._pods_pending = pods_pending
        reset = revs != self._revs
        self._revs = revs
        self._serial += 1
        pods_changed: set[tuple[str, str]] = set()
        pods_delta = self._pod_delta(view, revs, reset, pods_changed)
        return Snapshot(
            serial=self._serial,
            view=view,
            state=state,
            state_error=error,
            health=health,
            revisions=revs,
            namespaces=self._namespace_delta(view, revs, reset or ns_reset, pods_changed),
            pods=pods_delta,
            gateways=self._gateway_delta(view, revs, reset),
            journal=self._journal_delta(state),
            taken_at=self.clock(),
            agents=self._agent_delta(view, revs, reset, pods_changed),
        )

    def _state(self, view: InventoryView) -> tuple[EngineState | None, str]:
        if self.session is None:
            return None, self.no_session
        try:
            return self.session.state(view), ""
        except Exception as exc:  # the engine's failure must not stop the tables
            log.exception("engine state failed")
            return None, f"the upgrade engine failed: {exc}"

    def _namespace_delta(
        self, view: InventoryView, revs: R.Revisions, reset: bool, pods_changed: set[tuple[str, str]]
    ) -> TableDelta:
        """Namespaces whose row or whose pods changed (the restart progress is counted over its pods)."""
        multi = self.multi_cluster
        pods = view.pods_by_namespace
        pending = self._pods_pending

        def cells(n: NamespaceRow) -> Row:
            listed = n.cluster not in pending
            return R.namespace_cells(n, revs, multi, pods.get((n.cluster, n.name), ()), pods_listed=listed)

        if reset:
            self._namespaces = {(n.cluster, n.name): n for n in view.namespaces}
            return TableDelta(reset={k: cells(n) for k, n in self._namespaces.items()})
        prev = self._namespaces
        fresh: dict[Hashable, NamespaceRow] = {}
        upserts: dict[Hashable, Row] = {}
        for n in view.namespaces:
            key = (n.cluster, n.name)
            fresh[key] = n
            old = prev.get(key)
            if (old is not n and old != n) or key in pods_changed:
                upserts[key] = cells(n)
        deletes = tuple(k for k in prev if k not in fresh)
        self._namespaces = fresh
        return TableDelta(upserts=upserts, deletes=deletes)

    def _pod_delta(
        self, view: InventoryView, revs: R.Revisions, reset: bool, pods_changed: set[tuple[str, str]]
    ) -> TableDelta:
        """Pods that changed, compared by identity first (unchanged rows are the same objects)."""
        fresh = dict(view.pods_by_namespace)
        if reset:
            self._pod_tuples = fresh
            return TableDelta(
                reset={(r.cluster, r.namespace, r.name): R.pod_cells(r, revs) for rows in fresh.values() for r in rows}
            )
        prev = self._pod_tuples
        upserts: dict[Hashable, Row] = {}
        deletes: list[Hashable] = []
        for ns_key, rows in fresh.items():
            old_rows = prev.get(ns_key)
            if old_rows is rows:
                continue
            pods_changed.add(ns_key)
            old = {r.name: r for r in old_rows or ()}
            for r in rows:
                before = old.pop(r.name, None)
                if before is not r and before != r:
                    upserts[(r.cluster, r.namespace, r.name)] = R.pod_cells(r, revs)
            deletes.extend((r.cluster, r.namespace, r.name) for r in old.values())
        for ns_key, old_rows in prev.items():
            if ns_key not in fresh:
                pods_changed.add(ns_key)
                deletes.extend((r.cluster, r.namespace, r.name) for r in old_rows)
        self._pod_tuples = fresh
        return TableDelta(upserts=upserts, deletes=tuple(deletes))

    def _gateway_delta(self, view: InventoryView, revs: R.Revisions, reset: bool) -> TableDelta:
        fresh: dict[Hashable, GatewayRow] = {(g.cluster, g.namespace, g.name): g for g in view.gateways}
        if reset:
            self._gateways = fresh
            return TableDelta(reset={k: R.gateway_cells(g, revs) for k, g in fresh.items()})
        prev = self._gateways
        upserts: dict[Hashable, Row] = {k: R.gateway_cells(g, revs) for k, g in fresh.items() if prev.get(k) != g}
        deletes = tuple(k for k in prev if k not in fresh)
        self._gateways = fresh
        return TableDelta(upserts=upserts, deletes=deletes)

    def _agent_delta(
        self, view: InventoryView, revs: R.Revisions, reset: bool, pods_changed: set[tuple[str, str]]
    ) -> TableDelta:
        """Node agent pods whose cells changed; the ambient pods per node are recounted only where pods changed."""
        components = view.components
        if not components:
            # A sidecar-only mesh costs nothing here; counts start over if agents appear.
            self._ambient_by_ns = {}
            self._components = ()
            if reset or self._agents:
                self._agents = {}
                return TableDelta(reset={})
            return TableDelta()
        full = reset or not self._components
        if not full and not pods_changed and components == self._components:
            return TableDelta()
        pods = view.pods_by_namespace
        if full:
            self._ambient_by_ns = {k: ambient_pods_by_node(r.pod for r in rows) for k, rows in pods.items()}
        else:
            for ns_key in pods_changed:
                rows = pods.get(ns_key)
                if rows is None:
                    self._ambient_by_ns.pop(ns_key, None)
                else:
                    self._ambient_by_ns[ns_key] = ambient_pods_by_node(r.pod for r in rows)
        self._components = components
        by_node: dict[tuple[str, str], int] = {}
        for counts in self._ambient_by_ns.values():
            for node, n in counts.items():
                by_node[node] = by_node.get(node, 0) + n
        fresh = A.agent_rows(components, by_node, revs, self.multi_cluster)
        prev, self._agents = self._agents, fresh
        if reset:
            return TableDelta(reset=fresh)
        upserts = {k: row for k, row in fresh.items() if prev.get(k) != row}
        deletes = tuple(k for k in prev if k not in fresh)
        return TableDelta(upserts=upserts, deletes=deletes)

    def _journal_delta(self, state: EngineState | None) -> TableDelta:
        lines = state.journal if state is not None else ()
        if lines == self._journal:
            return TableDelta()
        self._journal = lines
        return TableDelta(reset={i: R.journal_cells(line) for i, line in enumerate(lines)})


def describe_error(exc: BaseException) -> str:
    """One sentence for the operator from any exception (cluster errors already are one)."""
    message: Any = getattr(exc, "message", None) or str(exc) or type(exc).__name__
    text = str(message).strip().splitlines()
    return text[0] if text else type(exc).__name__
