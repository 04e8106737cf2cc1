"""The live mesh: reflectors for every watched kind on every cluster, feeding one inventory.

Reflector threads only append to a coalescing buffer; one applier thread drains it into the
inventory under a lock, so readers (the dashboard's timer, `status`) take consistent views while
bursts of watch events cost one application, not one per event.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from meshtui.cluster.kinds import watch_specs
from meshtui.cluster.kubeconfig import ClusterTarget
from meshtui.cluster.rawapi import RawApi
from meshtui.cluster.reflector import ConnState, ConnStatus, ObjKey, Reflector, Timing, WatchSpec

log = logging.getLogger(__name__)


class InventoryLike(Protocol):
    """What the applier needs of the domain inventory."""

    def apply(self, cluster: str, kind: str, event_type: str, obj: Any, /) -> object: ...

    def apply_batch(self, cluster: str, events: Iterable[tuple[str, str, Any]], /) -> Any: ...

    def holds(self, cluster: str, kind: str, /) -> bool: ...

    def replace(self, cluster: str, kind: str, objs: Iterable[Any], /) -> object: ...


@dataclass(frozen=True, slots=True)
class ClusterHealth:
    """The connection state of one cluster, summarised over its reflectors."""

    cluster: str
    server: str
    state: ConnState
    reason: str
    synced_kinds: int
    total_kinds: int
    #: Objects the first lists of the kinds still connecting have brought so far (loading progress).
    listed_objects: int = 0
    #: The kinds not listed once yet (loading progress): until then their objects are missing, not absent.
    pending_kinds: tuple[str, ...] = ()

    @property
    def loading(self) -> bool:
        """True until every kind of this cluster has listed once."""
        return bool(self.pending_kinds)


@dataclass(frozen=True, slots=True)
class Problem:
    """An object that could not be modelled, with the reason."""

    cluster: str
    kind: str
    namespace: str
    name: str
    message: str


class _Buffer:
    """Last-writer-wins per object; a relist replaces everything pending for its kind."""

    def __init__(self) -> None:
        self.lock = threading.Condition()
        self.replaces: dict[tuple[str, str], dict[ObjKey, Any]] = {}
        self.changes: dict[tuple[str, str, ObjKey], tuple[str, Any]] = {}
        self.seq = 0

    def put_replace(self, cluster: str, kind: str, items: dict[ObjKey, Any]) -> None:
        with self.lock:
            self.replaces[(cluster, kind)] = items
            for k in [k for k in self.changes if k[0] == cluster and k[1] == kind]:
                del self.changes[k]
            self.seq += 1
            self.lock.notify_all()

    def put_page(self, cluster: str, kind: str, items: dict[ObjKey, Any]) -> None:
        """A list page: each object is upserted (after whatever is pending for it: pages follow its events)."""
        with self.lock:
            changes = self.changes
            for key, model in items.items():
                changes[(cluster, kind, key)] = ("ADDED", model)
            self.seq += 1
            self.lock.notify_all()

    def put_change(self, cluster: str, kind: str, event: str, key: ObjKey, model: Any) -> None:
        with self.lock:
            slot = (cluster, kind, key)
            pending = self.changes.get(slot)
            if pending is not None and pending[0] == "ADDED" and event == "MODIFIED":
                event = "ADDED"  # still new to the inventory
            self.changes[slot] = (event, model)
            self.seq += 1
            self.lock.notify_all()

    def take(
        self,
    ) -> tuple[dict[tuple[str, str], dict[ObjKey, Any]], dict[tuple[str, str, ObjKey], tuple[str, Any]]]:
        with self.lock:
            replaces, changes = self.replaces, self.changes
            self.replaces, self.changes = {}, {}
            return replaces, changes


class MeshWatch:
    """Watches a mesh (one or more clusters) and keeps an inventory in step with it."""

    def __init__(
        self,
        targets: list[ClusterTarget],
        inventory: InventoryLike,
        *,
        specs: list[WatchSpec[Any]] | None = None,
        timing: Timing | None = None,
        on_change: Callable[[], None] | None = None,
    ):
        self.targets = targets
        self.inventory = inventory
        self.lock = threading.RLock()  # guards the inventory: hold it while reading views
        self.version = 0  # bumps after every application to the inventory
        self.on_change = on_change
        self._buffer = _Buffer()
        self._stop = threading.Event()
        self._applier: threading.Thread | None = None
        self._statuses: dict[tuple[str, str], ConnStatus] = {}
        self._problems: dict[tuple[str, str, ObjKey], Problem] = {}
        self.reflectors: list[Reflector[Any]] = []
        self.applied_events = 0
        self._applied_seq = 0  # the buffer sequence number applied so far (flush waits on it)
        # (cluster, kind) whose first list is still to come and of which the inventory held nothing at
        # start, with the keys their list pages have queued so far (see `replaced`).
        self._first_lists: dict[tuple[str, str], set[ObjKey]] = {}
        # cluster -> objects its kinds' first lists brought so far (relists are not counted: loading progress).
        self._listed_objects: dict[str, int] = {}
        for target in targets:
            api = RawApi(target.api_client, target.name)
            for spec in specs or watch_specs():
                self.reflectors.append(Reflector(api, spec, self, timing=timing))
                self._statuses[(target.name, spec.kind)] = ConnStatus(ConnState.CONNECTING)

    # -- Sink (called from reflector threads) ---------------------------------------------------------

    def listed(self, cluster: str, kind: str, items: dict[ObjKey, Any]) -> None:
        """A page of a (re)list: queue its objects, so the inventory fills while the next page is fetched."""
        first = self._first_lists.get((cluster, kind))
        if first is not None:
            first.update(items)
            with self.lock:
                self._listed_objects[cluster] = self._listed_objects.get(cluster, 0) + len(items)
        self._buffer.put_page(cluster, kind, items)

    def replaced(self, cluster: str, kind: str, items: dict[ObjKey, Any]) -> None:
        """A reflector (re)listed: queue the complete state of its kind.

        After a kind's first list, when the inventory held none of it before and the pages queued exactly
        these objects (no list started over and dropped some), the queued pages already make the state
        exact: replacing 50,000 pods with themselves would only delay the first complete screen.
        """
        first = self._first_lists.pop((cluster, kind), None)
        if first is not None and items and first == items.keys():
            return
        self._buffer.put_replace(cluster, kind, items)

    def changed(self, cluster: str, kind: str, event: str, key: ObjKey, model: Any) -> None:
        """One watch event: queue it (coalesced with earlier ones for the same object)."""
        self._problems.pop((cluster, kind, key), None)
        if model is None:
            return
        self._buffer.put_change(cluster, kind, event, key, model)

    def status(self, cluster: str, kind: str, status: ConnStatus) -> None:
        """A reflector's connection state changed."""
        self._statuses[(cluster, kind)] = status
        if self.on_change is not None:
            self.on_change()

    def problem(self, cluster: str, kind: str, key: ObjKey, message: str) -> None:
        """An object was malformed and skipped."""
        self._problems[(cluster, kind, key)] = Problem(cluster, kind, key[0], key[1], message)
        log.warning("skipped %s %s/%s on %s: %s", kind, key[0], key[1], cluster, message)

    # -- lifecycle ------------------------------------------------------------------------------------

    def start(self) -> None:
        """Start every reflector and the applier."""
        self._note_first_lists()
        self._applier = threading.Thread(target=self._apply_loop, name="meshwatch-applier", daemon=True)
        self._applier.start()
        for r in self.reflectors:
            r.start()

    def _note_first_lists(self) -> None:
        with self.lock:
            self._first_lists = {
                (r.api.cluster, r.spec.kind): set()
                for r in self.reflectors
                if not self.inventory.holds(r.api.cluster, r.spec.kind)
            }

    def stop(self) -> None:
        """Stop the reflectors (closing their streams) and the applier."""
        self._stop.set()
        for r in self.reflectors:
            r._stop.set()
        # One deadline for all: a list blocked on a silent server ends only at its read timeout, and the
        # threads are daemons, so quitting must not wait for each of them in turn.
        deadline = time.monotonic() + 5
        for r in self.reflectors:
            r.stop(timeout=max(0.0, deadline - time.monotonic()))
        with self._buffer.lock:
            self._buffer.lock.notify_all()
        if self._applier is not None:
            self._applier.join(timeout=5)

    def wait_synced(self, timeout: float) -> bool:
        """Block until every reflector listed once and the applier caught up; False on timeout."""
        end = time.monotonic() + timeout
        for r in self.reflectors:
            if not r.synced.wait(max(0.0, end - time.monotonic())):
                return False
        return self.flush(max(0.0, end - time.monotonic()))

    def flush(self, timeout: float = 5.0) -> bool:
        """Block until everything queued so far was applied."""
        end = time.monotonic() + timeout
        with self._buffer.lock:
            target = self._buffer.seq
        while time.monotonic() < end:
            with self._buffer.lock:
                if self._applied_seq >= target:
                    return True
                self._buffer.lock.wait(0.05)
        return False

    def _apply_loop(self) -> None:
        while not self._stop.is_set():
            with self._buffer.lock:
                while not self._buffer.replaces and not self._buffer.changes and not self._stop.is_set():
                    self._buffer.lock.wait(0.5)
                seq = self._buffer.seq
            replaces, changes = self._buffer.take()
            if replaces or changes:
                try:
                    self._apply(replaces, changes)
                except Exception:
                    log.exception("applying watch events to the inventory failed")
            with self._buffer.lock:
                self._applied_seq = seq
                self._buffer.lock.notify_all()
            if (replaces or changes) and self.on_change is not None:
                self.on_change()

    def _apply(
        self,
        replaces: dict[tuple[str, str], dict[ObjKey, Any]],
        changes: dict[tuple[str, str, ObjKey], tuple[str, Any]],
    ) -> None:
        by_cluster: dict[str, list[tuple[str, str, Any]]] = {}
        for (cluster, kind, _key), (event, model) in changes.items():
            if model is not None:
                by_cluster.setdefault(cluster, []).append((kind, event, model))
        with self.lock:
            for (cluster, kind), items in replaces.items():
                self.inventory.replace(cluster, kind, list(items.values()))
            # One recomputation per cluster and batch, not one per event.
            for cluster, events in by_cluster.items():
                self.inventory.apply_batch(cluster, events)
            self.applied_events += len(changes) + len(replaces)
            self.version += 1

    # -- views ----------------------------------------------------------------------------------------

    def health(self) -> list[ClusterHealth]:
        """One line of connection state per cluster: the worst state of its reflectors, with a reason."""
        order = [ConnState.ERROR, ConnState.LAGGING, ConnState.CONNECTING, ConnState.SYNCED]
        out = []
        for target in self.targets:
            statuses = [(k, s) for (c, k), s in self._statuses.items() if c == target.name]
            worst_kind, worst = min(statuses, key=lambda ks: order.index(ks[1].state))
            synced = sum(1 for _, s in statuses if s.state is ConnState.SYNCED)
            reason = f"{worst_kind}: {worst.reason}" if worst.reason and worst.state is not ConnState.SYNCED else ""
            listed = self._listed_objects.get(target.name, 0)
            pending = tuple(
                r.spec.kind for r in self.reflectors if r.api.cluster == target.name and not r.synced.is_set()
            )
            out.append(
                ClusterHealth(target.name, target.server, worst.state, reason, synced, len(statuses), listed, pending)
            )
        return out

    def problems(self) -> list[Problem]:
        """Objects skipped as malformed, for the UI and `status`."""
        return sorted(self._problems.values(), key=lambda p: (p.cluster, p.kind, p.namespace, p.name))
