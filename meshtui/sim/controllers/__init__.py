"""The simulated cluster's controllers (workloads, kubelet, PDBs, namespaces) on the store's loop.

`Controllers` runs them live (event-driven by store listeners, with timers for pod start-up and
termination); `settle` runs the same code instantly until nothing is left to do, so a scenario is
complete the moment it is built.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable, Iterator

from meshtui.sim import admission, crds
from meshtui.sim import ambient as ambient_mesh
from meshtui.sim.controllers.ambient import sync_ambient
from meshtui.sim.controllers.base import (
    DAEMONSETS,
    DEPLOYMENTS,
    JOBS,
    PDBS,
    PODS,
    REPLICASETS,
    STATEFULSETS,
    Runtime,
    iter_workloads,
)
from meshtui.sim.controllers.churn import PodChurn
from meshtui.sim.controllers.daemonset import sync_daemonset
from meshtui.sim.controllers.deployment import sync_deployment
from meshtui.sim.controllers.disruption import sync_pdb
from meshtui.sim.controllers.endpoints import SERVICES, sync_endpoints
from meshtui.sim.controllers.endpoints import WORK as ENDPOINTS_WORK
from meshtui.sim.controllers.events import WORK as EVENTS_WORK
from meshtui.sim.controllers.events import sync_event
from meshtui.sim.controllers.garbage import WORK as GC_WORK
from meshtui.sim.controllers.garbage import item as gc_item
from meshtui.sim.controllers.garbage import sync_foreground
from meshtui.sim.controllers.gatewayapi import GATEWAYS, sync_gateway
from meshtui.sim.controllers.job import sync_job
from meshtui.sim.controllers.kubelet import CRASHLOOP, ensure_nodes, sync_pod
from meshtui.sim.controllers.namespace import sync_namespace
from meshtui.sim.controllers.replicaset import sync_replicaset
from meshtui.sim.controllers.statefulset import sync_statefulset
from meshtui.sim.resources import RESOURCES
from meshtui.sim.settings import SimSettings
from meshtui.sim.store import Store

__all__ = ["CRASHLOOP", "Controllers", "PodChurn", "Runtime", "settle"]

HANDLERS = {
    "deployment": sync_deployment,
    "replicaset": sync_replicaset,
    "statefulset": sync_statefulset,
    "daemonset": sync_daemonset,
    "job": sync_job,
    "pdb": sync_pdb,
    "namespace": sync_namespace,
    "pod": sync_pod,
    GC_WORK: sync_foreground,
    "gateway": sync_gateway,
    "ambient": sync_ambient,
    ENDPOINTS_WORK: sync_endpoints,
    EVENTS_WORK: sync_event,
}


def _runtime(
    store: Store,
    settings: SimSettings,
    *,
    loop: asyncio.AbstractEventLoop | None,
    instant: bool,
    rng: random.Random | None,
) -> Runtime:
    rt = Runtime(store, settings, loop=loop, instant=instant, rng=rng)
    rt.handlers.update(HANDLERS)
    return rt


def _resync(rt: Runtime) -> None:
    """Queue every object the controllers own, and every pod the kubelet still has work on."""
    for _ in _resync_steps(rt):
        pass


#: Stored objects looked at between two yields of a resync walk (about a millisecond of work).
_RESYNC_STEP = 500


def _resync_steps(rt: Runtime) -> Iterator[None]:
    """`_resync` as a walk that yields every few hundred objects, so a live start-up serves requests meanwhile.

    Nodes and CRDs are made before the first yield; each kind's entries are listed up front, so changes
    made between slices (which queue their own reconciles) never disturb the walk.
    """
    ensure_nodes(rt)
    crds.ensure(rt.store)
    n = 0
    tallies: dict[str, dict[str, tuple[int, bool]]] = {}

    def tick() -> bool:
        nonlocal n
        n += 1
        return n % _RESYNC_STEP == 0

    for key, work in (
        (DEPLOYMENTS, "deployment"),
        (REPLICASETS, "replicaset"),
        (STATEFULSETS, "statefulset"),
        (DAEMONSETS, "daemonset"),
        (JOBS, "job"),
        (PDBS, "pdb"),
    ):
        for ns, name in list(iter_workloads(rt, key)):
            if key != REPLICASETS or not _steady_replicaset(rt, ns, name, tallies):
                rt.enqueue((work, ns, name))
            if tick():
                yield
    for entry in list(rt.store.entries(SERVICES)):
        rt.enqueue((ENDPOINTS_WORK, entry.namespace, entry.name))
        if tick():
            yield
    for entry in list(rt.store.entries("events")):
        rt.enqueue((EVENTS_WORK, entry.namespace, entry.name))
        if tick():
            yield
    for entry in list(rt.store.entries(GATEWAYS)):
        rt.enqueue(("gateway", entry.namespace, entry.name))
    enrols = ambient_mesh.cni_enrolls(rt.store)
    for entry in list(rt.store.entries("namespaces")):
        if entry.phase == "Terminating":
            rt.enqueue(("namespace", "", entry.name))
        elif enrols:
            rt.enqueue(("ambient", "", entry.name))
        if tick():
            yield
    for res in RESOURCES:
        for entry in list(rt.store.entries(res.key)):
            if b'"foregroundDeletion"' in entry.raw:
                rt.enqueue(gc_item(res.key, entry.namespace, entry.name))
            if tick():
                yield
    for entry in list(rt.store.entries(PODS)):
        raw = entry.raw
        if (
            entry.phase in ("Pending", None)
            or b'"deletionTimestamp"' in raw
            or CRASHLOOP.encode() in raw
            or (entry.phase == "Running" and b'"restartPolicy":"Always"' not in raw)
        ):
            rt.enqueue(("pod", entry.namespace, entry.name))
        if tick():
            yield


def _owner_tally(rt: Runtime, namespace: str) -> dict[str, tuple[int, bool]]:
    """Controller uid -> (pods it owns in the namespace, whether all are Running, Ready and not terminating),
    read from the stored bytes without decoding the pods."""
    tally: dict[str, tuple[int, bool]] = {}
    for pod_name in rt.names(PODS, namespace):
        pod = rt.store.entry(PODS, namespace, pod_name)
        if pod is None:
            continue
        raw = pod.raw
        refs = raw.find(b'"ownerReferences":[')
        at = raw.find(b'"uid":"', refs) if refs >= 0 else -1
        if at < 0:
            continue
        uid = raw[at + 7 : raw.find(b'"', at + 7)].decode()
        ok = pod.phase == "Running" and b'"deletionTimestamp"' not in raw and _READY in raw
        count, all_ok = tally.get(uid, (0, True))
        tally[uid] = (count + 1, all_ok and ok)
    return tally


_READY = b'"type":"Ready","status":"True"'


def _steady_replicaset(rt: Runtime, namespace: str, name: str, tallies: dict[str, dict[str, tuple[int, bool]]]) -> bool:
    """A ReplicaSet a resync need not reconcile: its status is current and its running, Ready pods are as many
    as it wants (read from the stored bytes, without decoding its pods).

    A 50,000-pod store holds thousands of them; reconciling each decodes every pod it owns.
    """
    entry = rt.store.entry(REPLICASETS, namespace, name)
    if entry is None:
        return True
    rs = entry.obj()
    meta, status = rs["metadata"], rs.get("status") or {}
    want = int((rs.get("spec") or {}).get("replicas", 1))
    if meta.get("deletionTimestamp") or status.get("observedGeneration") != meta.get("generation", 1):
        return False
    if not (status.get("replicas", 0) == status.get("readyReplicas", 0) == status.get("availableReplicas", 0) == want):
        return False
    if namespace not in tallies:
        tallies[namespace] = _owner_tally(rt, namespace)
    count, all_ok = tallies[namespace].get(meta["uid"], (0, True))
    return count == want and all_ok


class Controllers:
    """The live controllers of one store; `start()`/`stop()` may be called from any thread."""

    def __init__(
        self,
        store: Store,
        settings: SimSettings,
        loop: asyncio.AbstractEventLoop | None = None,
        *,
        seed: int | None = None,
    ):
        self.store = store
        self.settings = settings
        self.loop = loop
        self.runtime: Runtime | None = None
        self._rng = random.Random(seed)

    def start(self) -> None:
        """Attach to the store and queue a full resync (on the store's loop)."""
        self._on_loop(self._start)

    def stop(self) -> None:
        """Detach from the store and cancel pending timers (on the store's loop)."""
        self._on_loop(self._stop)

    def _on_loop(self, fn: Callable[[], None]) -> None:
        loop = self.loop
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if loop is None:
            loop = running
            self.loop = loop
        if loop is None or running is loop:
            fn()
        else:
            loop.call_soon_threadsafe(fn)

    def _start(self) -> None:
        if self.runtime is not None:
            return
        admission.install(self.store)
        rt = _runtime(self.store, self.settings, loop=self.loop, instant=False, rng=self._rng)
        rt.attach()
        self.runtime = rt
        rt.run_sliced(_resync_steps(rt))

    def _stop(self) -> None:
        if self.runtime is not None:
            self.runtime.detach()
            self.runtime = None

    @property
    def idle(self) -> bool:
        """True when no reconcile is queued (timers may still be pending)."""
        return self.runtime is None or not (self.runtime.queue or self.runtime.resyncing)


def settle(store: Store, settings: SimSettings | None = None, *, rng: random.Random | None = None) -> int:
    """Run every controller to completion at once: pods start Ready and deletions finish without waiting.

    Deterministic for a given `rng` and store content. Webhook failures are not retried (the live
    controllers retry them); crash-looping pods start with one restart. Returns the steps taken.
    """
    admission.install(store)
    rt = _runtime(store, settings or SimSettings(), loop=None, instant=True, rng=rng or random.Random(0))
    rt.attach()
    try:
        _resync(rt)
        return rt.run_instant()
    finally:
        rt.detach()
