"""The controllers' shared runtime: a de-duplicated work queue fed by store events, timers and indexes.

The same runtime runs live (asyncio timers on the store's loop) or instantly (`settle`: timers fire in
virtual time order at once), so scenarios reach the state the live controllers would, without waiting.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
import math
import random
import time
import zlib
from collections.abc import Callable, Iterator
from typing import Any

from meshtui.sim.resources import BY_KIND, Resource
from meshtui.sim.settings import SimSettings
from meshtui.sim.store import Obj, Store, now_rfc3339

log = logging.getLogger("meshtui.sim.controllers")

DEPLOYMENTS = "apps/deployments"
REPLICASETS = "apps/replicasets"
STATEFULSETS = "apps/statefulsets"
DAEMONSETS = "apps/daemonsets"
REVISIONS = "apps/controllerrevisions"
JOBS = "batch/jobs"
PDBS = "policy/poddisruptionbudgets"
PODS = "pods"
SERVICES = "services"
INDEXED = (PODS, DEPLOYMENTS, REPLICASETS, STATEFULSETS, DAEMONSETS, REVISIONS, JOBS, PDBS, SERVICES)
#: Owner kind -> work item kind for a pod's controller.
OWNER_ITEMS = {
    "ReplicaSet": "replicaset",
    "StatefulSet": "statefulset",
    "DaemonSet": "daemonset",
    "Job": "job",
}
RS_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
#: One slice of controller work between two turns of the HTTP server (and while it answers a request).
SLICE_S = 0.005
SLICE_SERVING_S = 0.002

Item = tuple[str, str, str]  # (work kind, namespace, name)
Handler = Callable[["Runtime", str, str], None]


class Runtime:
    """Work queue, timers and per-namespace indexes shared by every controller of one store."""

    def __init__(
        self,
        store: Store,
        settings: SimSettings,
        *,
        loop: asyncio.AbstractEventLoop | None = None,
        instant: bool = False,
        rng: random.Random | None = None,
    ):
        self.store = store
        self.settings = settings
        self.loop = loop
        self.instant = instant
        self.rng = rng or random.Random()
        self.handlers: dict[str, Handler] = {}
        self.queue: dict[Item, None] = {}
        self.by_ns: dict[str, dict[str, set[str]]] = {key: {} for key in INDEXED}
        self.scheduled: set[tuple[str, str, str, str]] = set()  # (purpose, ns, name, uid) with a timer pending
        self.failures: dict[Item, int] = {}
        self._retried: set[Item] = set()
        self.stopped = False
        self._timers: set[asyncio.TimerHandle] = set()
        self._virtual: list[tuple[float, int, Callable[[], None]]] = []
        self._now = 0.0
        self._seq = itertools.count()
        self._kicked = False
        self._node_cursor = 0
        self._ip_counter = itertools.count(2)
        #: Sliced walks (`run_sliced`) still under way: the controllers are not idle until they end.
        self.resyncing = 0

    # -- wiring ---------------------------------------------------------------------------------------

    def attach(self) -> None:
        """Build the indexes from the store and start listening to its changes."""
        for key in INDEXED:
            index = self.by_ns[key]
            index.clear()
            for entry in self.store.entries(key):
                index.setdefault(entry.namespace, set()).add(entry.name)
        self.store.add_listener(self.on_change)

    def detach(self) -> None:
        """Stop listening and cancel every timer."""
        self.stopped = True
        self.store.remove_listener(self.on_change)
        for handle in self._timers:
            handle.cancel()
        self._timers.clear()
        self._virtual.clear()

    def names(self, key: str, namespace: str) -> set[str]:
        """Names of the indexed kind in a namespace (a live set: copy before mutating the store)."""
        return self.by_ns[key].get(namespace, set())

    def owned(self, key: str, namespace: str, owner_uid: str) -> list[Obj]:
        """Objects of a kind in a namespace whose controller reference is this uid, by name."""
        needle = owner_uid.encode()
        out = []
        for name in sorted(self.names(key, namespace)):
            entry = self.store.entry(key, namespace, name)
            if entry is None or needle not in entry.raw:
                continue
            obj = entry.obj()
            if controller_uid(obj) == owner_uid:
                out.append(obj)
        return out

    # -- queue ----------------------------------------------------------------------------------------

    def enqueue(self, item: Item) -> None:
        """Queue one reconcile (de-duplicated; an item already queued keeps its place)."""
        if self.stopped:
            return
        if item not in self.queue:
            self.queue[item] = None
        self._kick()

    def _kick(self) -> None:
        if self.instant or self._kicked or self.loop is None:
            return
        self._kicked = True
        self.loop.call_soon(self._drain)

    def _slice(self) -> tuple[float, int]:
        """How long one slice of work may run, and the least it does: short while the server answers a request."""
        if self.store.requests_in_flight:
            return SLICE_SERVING_S, 1
        return SLICE_S, 8

    def _drain(self) -> None:
        self._kicked = False
        budget, least = self._slice()
        deadline = time.monotonic() + budget
        done = 0
        while self.queue and not self.stopped:
            self._run_one()
            done += 1
            if done >= least and time.monotonic() > deadline:
                break  # yield to the HTTP server; the rest runs on the next loop iteration
        if self.queue:
            self._kick()

    def run_sliced(self, steps: Iterator[None]) -> None:
        """Advance `steps` a slice at a time on the loop, serving requests in between (all at once when instant).

        The first slice runs now, so what a generator does before its first `yield` is done on return.
        """
        if self.instant or self.loop is None:
            for _ in steps:
                pass
            return
        loop = self.loop
        self.resyncing += 1

        def step() -> None:
            if self.stopped:
                return
            deadline = time.monotonic() + self._slice()[0]
            for _ in steps:
                if time.monotonic() > deadline:
                    loop.call_soon(step)
                    return
            self.resyncing -= 1

        step()

    def _run_one(self) -> None:
        item = next(iter(self.queue))
        del self.queue[item]
        handler = self.handlers.get(item[0])
        if handler is None:
            return
        self._retried.discard(item)
        try:
            handler(self, item[1], item[2])
        except Exception:  # a controller never dies: log, back off, retry
            log.exception("controller %s %s/%s failed", *item)
            self.retry(item)
        if item not in self._retried:
            self.failures.pop(item, None)  # a clean pass resets the backoff

    def retry(self, item: Item) -> None:
        """Requeue an item after an exponential backoff (dropped in instant mode)."""
        n = self.failures.get(item, 0)
        self.failures[item] = n + 1
        self._retried.add(item)
        self.after(min(5.0, 0.05 * 2**n), lambda: self.enqueue(item), kind="retry")

    # -- time -----------------------------------------------------------------------------------------

    def after(self, delay: float, fn: Callable[[], None], *, kind: str = "once") -> None:
        """Run fn after delay seconds; in instant mode "retry" and "periodic" timers are dropped."""
        if self.stopped:
            return
        if self.instant:
            if kind in ("retry", "periodic"):
                return
            heapq.heappush(self._virtual, (self._now + max(0.0, delay), next(self._seq), fn))
            return
        if self.loop is None:
            return
        handle: asyncio.TimerHandle | None = None

        def fire() -> None:
            if handle is not None:
                self._timers.discard(handle)
            if self.stopped:
                return
            try:
                fn()
            except Exception:
                log.exception("controller timer failed")

        handle = self.loop.call_later(max(0.0, delay), fire)
        self._timers.add(handle)

    def run_instant(self, max_steps: int = 2_000_000) -> int:
        """Drain the queue and the virtual timers until nothing is left; returns the steps taken."""
        steps = 0
        while steps < max_steps:
            if self.queue:
                self._run_one()
            elif self._virtual:
                when, _, fn = heapq.heappop(self._virtual)
                self._now = max(self._now, when)
                try:
                    fn()
                except Exception:
                    log.exception("controller timer failed")
            else:
                break
            steps += 1
        return steps

    # -- events ---------------------------------------------------------------------------------------

    def on_change(self, kind: str, res: Resource, obj: Obj, old: Obj | None) -> None:
        """Store listener: keep the indexes and queue the reconciles this change calls for."""
        if self.stopped:
            return
        key = res.key
        meta = obj["metadata"]
        ns = meta.get("namespace") or ""
        name = meta["name"]
        if key in self.by_ns:
            index = self.by_ns[key]
            if kind == "DELETED":
                names = index.get(ns)
                if names is not None:
                    names.discard(name)
                    if not names:
                        del index[ns]
            elif kind == "ADDED":
                index.setdefault(ns, set()).add(name)
        if key == PODS:
            self._on_pod(kind, ns, name, obj, old)
        elif key == REPLICASETS:
            self.enqueue(("replicaset", ns, name))
            owner = controller_ref(obj)
            if owner and owner.get("kind") == "Deployment":
                self.enqueue(("deployment", ns, owner["name"]))
        elif key == DEPLOYMENTS:
            self.enqueue(("deployment", ns, name))
        elif key == STATEFULSETS:
            self.enqueue(("statefulset", ns, name))
        elif key == DAEMONSETS:
            self.enqueue(("daemonset", ns, name))
        elif key == JOBS:
            self.enqueue(("job", ns, name))
        elif key == PDBS:
            if kind != "DELETED":
                self.enqueue(("pdb", ns, name))
        elif key == "gateway.networking.k8s.io/gateways":
            if kind != "DELETED":
                self.enqueue(("gateway", ns, name))
        elif key == "namespaces":
            if (obj.get("status") or {}).get("phase") == "Terminating" and kind != "DELETED":
                self.enqueue(("namespace", "", name))
            elif kind == "MODIFIED" and old is not None and old["metadata"].get("labels") != meta.get("labels"):
                # istio-cni enrols (or releases) the namespace's pods; waypoints may change owner.
                self.enqueue(("ambient", "", name))
                for entry in self.store.entries("gateway.networking.k8s.io/gateways", name):
                    self.enqueue(("gateway", name, entry.name))
        if key == SERVICES:
            self.enqueue(("endpoints", ns, name))
        if key == "admissionregistration.k8s.io/mutatingwebhookconfigurations" or (
            key == "services" and "istio.io/tag" in (meta.get("labels") or {})
        ):
            # A tag (webhook or Service) moved, or a revision came or went: gateways and waypoints may have
            # a new owner.
            for entry in self.store.entries("gateway.networking.k8s.io/gateways"):
                self.enqueue(("gateway", entry.namespace, entry.name))
        elif key == "events":
            self.enqueue(("event-mirror", ns, name))
        elif key == "nodes":
            for ds_ns, names in self.by_ns[DAEMONSETS].items():
                for ds in names:
                    self.enqueue(("daemonset", ds_ns, ds))
        if kind == "DELETED" and ns and key != "namespaces":
            ns_entry = self.store.entry("namespaces", None, ns)
            if ns_entry is not None and ns_entry.phase == "Terminating":
                self.enqueue(("namespace", "", ns))
        self._on_foreground(kind, key, ns, name, meta)

    def _on_foreground(self, kind: str, key: str, ns: str, name: str, meta: dict[str, Any]) -> None:
        """Foreground deletion: an object waiting for it, or a dependent of one that went."""
        from meshtui.sim.controllers import garbage

        if kind != "DELETED":
            if meta.get("deletionTimestamp") and garbage.waiting(meta):
                self.enqueue(garbage.item(key, ns, name))
            return
        for ref in meta.get("ownerReferences") or []:
            owner = BY_KIND.get(ref.get("kind") or "")
            if owner is None:
                continue
            owner_ns = ns if owner.namespaced else ""
            entry = self.store.entry(owner.key, owner_ns or None, ref.get("name") or "")
            if entry is not None and b'"foregroundDeletion"' in entry.raw:
                self.enqueue(garbage.item(owner.key, owner_ns, entry.name))

    def _on_pod(self, kind: str, ns: str, name: str, obj: Obj, old: Obj | None) -> None:
        if kind == "ADDED" or (
            kind == "MODIFIED"
            and obj["metadata"].get("deletionTimestamp")
            and not (old and old["metadata"].get("deletionTimestamp"))
        ):
            self.enqueue(("pod", ns, name))
        from meshtui.sim.controllers import endpoints

        if kind != "MODIFIED" or old is None or endpoints.pod_signature(obj) != endpoints.pod_signature(old):
            for svc in self.names(SERVICES, ns):
                self.enqueue(("endpoints", ns, svc))
        if kind == "MODIFIED" and old is not None and pod_signature(obj) == pod_signature(old):
            return  # an annotation or status detail changed: no owner cares
        owner = controller_ref(obj)
        if owner:
            work = OWNER_ITEMS.get(owner.get("kind", ""))
            if work:
                self.enqueue((work, ns, owner["name"]))
        for pdb in self.names(PDBS, ns):
            self.enqueue(("pdb", ns, pdb))

    # -- nodes and addresses ------------------------------------------------------------------------

    def node_names(self) -> list[str]:
        """The simulated nodes, `sim-node-1`..`sim-node-N`."""
        return [f"sim-node-{i}" for i in range(1, max(1, self.settings.nodes) + 1)]

    def next_node(self) -> str:
        """Round-robin node assignment for new pods."""
        nodes = self.node_names()
        node = nodes[self._node_cursor % len(nodes)]
        self._node_cursor += 1
        return node

    def pod_ip(self, node: str) -> str:
        """A pod IP in the node's /24 of 10.244.0.0/16."""
        index = int(node.rsplit("-", 1)[-1]) if node.rsplit("-", 1)[-1].isdigit() else 0
        n = next(self._ip_counter)
        return f"10.244.{index % 256}.{2 + n % 250}"

    def random_suffix(self, n: int = 5) -> str:
        """A suffix like the API server's generateName: n characters of the safe alphabet."""
        bits = self.rng.getrandbits(5 * n)  # one draw per name: 5 bits a character, folded onto 27 letters
        return "".join(RS_ALPHABET[(bits >> (5 * i)) % 32 % len(RS_ALPHABET)] for i in range(n))

    def unique_pod_name(self, prefix: str, namespace: str) -> str:
        """`<prefix><5 random>` not taken in the namespace."""
        while True:
            name = prefix + self.random_suffix()
            if self.store.entry(PODS, namespace, name) is None:
                return name


# -- object helpers -----------------------------------------------------------------------------------------


def controller_ref(obj: Obj) -> dict[str, Any] | None:
    """The ownerReference marked controller, if any."""
    for ref in obj["metadata"].get("ownerReferences") or []:
        if ref.get("controller"):
            return dict(ref)
    return None


def controller_uid(obj: Obj) -> str | None:
    """The uid of the controlling owner, if any."""
    ref = controller_ref(obj)
    return ref.get("uid") if ref else None


def owner_ref(owner: Obj) -> dict[str, Any]:
    """A controller ownerReference pointing at owner."""
    return {
        "apiVersion": owner["apiVersion"],
        "kind": owner["kind"],
        "name": owner["metadata"]["name"],
        "uid": owner["metadata"]["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }


def is_terminating(obj: Obj) -> bool:
    """True once deletionTimestamp is set."""
    return bool(obj["metadata"].get("deletionTimestamp"))


def is_ready(pod: Obj) -> bool:
    """The pod's Ready condition is True."""
    for cond in (pod.get("status") or {}).get("conditions") or []:
        if cond.get("type") == "Ready":
            return bool(cond.get("status") == "True")
    return False


def is_finished(pod: Obj) -> bool:
    """Phase Succeeded or Failed."""
    return (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed")


def is_active(pod: Obj) -> bool:
    """Counted by a ReplicaSet: neither terminating nor finished."""
    return not is_terminating(pod) and not is_finished(pod)


def pod_signature(pod: Obj) -> tuple[Any, ...]:
    """What owners and PDBs react to: phase, readiness, deletion, node, labels and owners."""
    meta = pod["metadata"]
    return (
        (pod.get("status") or {}).get("phase"),
        is_ready(pod),
        bool(meta.get("deletionTimestamp")),
        (pod.get("spec") or {}).get("nodeName"),
        tuple(sorted((meta.get("labels") or {}).items())),
        controller_uid(pod),
    )


def scaled_value(value: Any, total: int, round_up: bool) -> int:
    """An IntOrString (`3` or `"25%"`) against a total, rounding as Kubernetes does."""
    if value is None:
        return 0
    if isinstance(value, int):
        return value
    text = str(value)
    if text.endswith("%"):
        pct = int(text[:-1])
        raw = pct * total / 100
        return math.ceil(raw) if round_up else math.floor(raw)
    return int(text)


def safe_encode(text: str) -> str:
    """rand.SafeEncodeString: map each character onto the vowel-free alphabet."""
    return "".join(RS_ALPHABET[ord(c) % len(RS_ALPHABET)] for c in text)


def template_hash(template: Obj, collision_count: int = 0) -> str:
    """The pod-template-hash of a template (hash label excluded): a 32-bit hash in the safe alphabet."""
    import orjson

    tpl = strip_hash(template)
    data = orjson.dumps(tpl, option=orjson.OPT_SORT_KEYS)
    if collision_count:
        data += str(collision_count).encode()
    # Kubernetes hashes its Go struct dump with FNV-32a; any stable 32-bit hash gives the same behaviour.
    return safe_encode(str(zlib.crc32(data)))


def strip_hash(template: Obj) -> Obj:
    """A template without its pod-template-hash label (for comparisons)."""
    import orjson

    tpl: Obj = orjson.loads(orjson.dumps(template))
    labels = (tpl.get("metadata") or {}).get("labels")
    if labels:
        labels.pop("pod-template-hash", None)
        labels.pop("controller-revision-hash", None)
    return tpl


def set_condition(
    conditions: list[dict[str, Any]],
    ctype: str,
    status: str,
    reason: str,
    message: str,
    *,
    update_time: bool = False,
) -> list[dict[str, Any]]:
    """Set a condition as the controllers' SetCondition helpers do.

    The same status and reason is no change at all; otherwise the condition moves to the end, keeping
    lastTransitionTime when only the reason changed.
    """
    now = now_rfc3339()
    current = next((c for c in conditions if c.get("type") == ctype), None)
    if current is not None and current.get("status") == status and current.get("reason") == reason:
        return [dict(c) for c in conditions]
    new: dict[str, Any] = {"type": ctype, "status": status}
    if update_time:
        new["lastUpdateTime"] = now
    transition = now
    if current is not None and current.get("status") == status:
        transition = current.get("lastTransitionTime", now)
    new.update({"lastTransitionTime": transition, "reason": reason, "message": message})
    return [dict(c) for c in conditions if c.get("type") != ctype] + [new]


def remove_condition(conditions: list[dict[str, Any]], ctype: str) -> list[dict[str, Any]]:
    """Conditions without the given type."""
    return [dict(c) for c in conditions if c.get("type") != ctype]


def omit_zero(status: dict[str, Any]) -> dict[str, Any]:
    """Drop zero and empty fields, as Go's omitempty does on the wire."""
    return {k: v for k, v in status.items() if v not in (0, None, "", [], {})}


def write_status(rt: Runtime, key: str, namespace: str, name: str, status: dict[str, Any]) -> None:
    """Write a status subresource when it differs (an equal status is a no-op in the store)."""

    def apply(obj: Obj) -> Obj | None:
        if obj.get("status") == status:
            return None
        obj["status"] = status
        return obj

    rt.store.update(key, namespace, name, apply, subresource="status")


def pod_from_template(
    template: Obj,
    namespace: str,
    name: str,
    owner: Obj,
    extra_labels: dict[str, str],
    *,
    node: str | None = None,
    hostname: str | None = None,
    subdomain: str | None = None,
) -> Obj:
    """A pod as a workload controller creates it from its template, with the API server's defaults applied."""
    import orjson

    tpl: Obj = orjson.loads(orjson.dumps(template))
    tmeta = tpl.get("metadata") or {}
    spec = tpl.get("spec") or {}
    for c in spec.get("containers") or []:
        _container_defaults(c)
    for c in spec.get("initContainers") or []:
        _container_defaults(c)
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("schedulerName", "default-scheduler")
    sa = spec.get("serviceAccountName") or spec.get("serviceAccount") or "default"
    spec["serviceAccountName"] = sa
    spec["serviceAccount"] = sa
    spec.setdefault("securityContext", {})
    spec.setdefault("enableServiceLinks", True)
    spec.setdefault(
        "tolerations",
        [
            {
                "key": "node.kubernetes.io/not-ready",
                "operator": "Exists",
                "effect": "NoExecute",
                "tolerationSeconds": 300,
            },
            {
                "key": "node.kubernetes.io/unreachable",
                "operator": "Exists",
                "effect": "NoExecute",
                "tolerationSeconds": 300,
            },
        ],
    )
    if node:
        spec["nodeName"] = node
    if hostname:
        spec["hostname"] = hostname
    if subdomain:
        spec["subdomain"] = subdomain
    meta: Obj = {
        "name": name,
        "namespace": namespace,
        "labels": {**(tmeta.get("labels") or {}), **extra_labels},
        "ownerReferences": [owner_ref(owner)],
    }
    if tmeta.get("annotations"):
        meta["annotations"] = dict(tmeta["annotations"])
    qos = "BestEffort"
    if any((c.get("resources") or {}) for c in spec.get("containers") or []):
        qos = "Burstable"
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": meta,
        "spec": spec,
        "status": {"phase": "Pending", "qosClass": qos},
    }


def _container_defaults(c: dict[str, Any]) -> None:
    c.setdefault("resources", {})
    c.setdefault("terminationMessagePath", "/dev/termination-log")
    c.setdefault("terminationMessagePolicy", "File")
    image = str(c.get("image", ""))
    c.setdefault("imagePullPolicy", "Always" if image.endswith(":latest") or ":" not in image else "IfNotPresent")


def iter_workloads(rt: Runtime, key: str) -> Iterator[tuple[str, str]]:
    """(namespace, name) of every indexed object of a kind, sorted."""
    for ns in sorted(rt.by_ns[key]):
        for name in sorted(rt.by_ns[key][ns]):
            yield ns, name
