"""A small controller for the real API server: the parts of a cluster the product relies on.

A bare kube-apiserver stores Deployments but nothing turns them into pods, no pod ever runs, and no
status is ever written. meshtui reads exactly those things (rollout progress, ready pods, PDB
headroom), so the realapi tier runs this harness next to the server. It watches, in threads, with the
official client, and only acts in the namespaces it is told to `manage`:

* Deployment -> ReplicaSet ``<deployment>-<pod-template-hash>`` (a new one whenever the pod template
  changes, e.g. on ``kubectl rollout restart``); the old ReplicaSets are scaled to zero and their pods
  deleted at once (no surge pacing);
* ReplicaSet -> pods (``generateName``, owner reference, template labels plus ``pod-template-hash``),
  created through the real API server and therefore through its admission webhooks (sidecar
  injection happens exactly as in a cluster);
* the kubelet's part: every pod is marked Running and Ready through the status subresource (all its
  containers, native sidecars included), and a pod with a deletionTimestamp is removed;
* Deployment and ReplicaSet status (observedGeneration, replicas, updated/ready/available,
  conditions) and PodDisruptionBudget status (expected/healthy pods, disruptionsAllowed).

Why a harness rather than building kube-controller-manager from source like kube-apiserver: another
long Go build (kube-controller-manager is about as large as kube-apiserver) would double the cold
start of the tier, and it would still not be enough: Running/Ready is the kubelet's job (plus a
scheduler to bind pods to nodes), and a kubelet needs a container runtime this machine does not have.
The harness is a few hundred lines that do the part the product observes, deterministically and fast.

Not modelled: garbage collection of orphans, scaling pace (maxSurge/maxUnavailable), minReadySeconds,
probes, nodes, StatefulSets, DaemonSets and Jobs.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import math
import queue
import threading
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException
from kubernetes.watch.watch import iter_resp_lines

log = logging.getLogger(__name__)

Obj = dict[str, Any]
Key = tuple[str, str, str]  # (kind, namespace, name)

MERGE = "application/merge-patch+json"
_SAFE = "bcdfghjklmnpqrstvwxz2456789"  # the alphabet of Kubernetes' rand.SafeEncodeString


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def template_hash(template: Obj) -> str:
    """A stable ``pod-template-hash`` for a pod template (10 characters of the safe alphabet)."""
    digest = hashlib.sha256(json.dumps(template, sort_keys=True).encode()).digest()
    return "".join(_SAFE[b % len(_SAFE)] for b in digest[:10])


def selector_string(selector: Obj | None) -> str:
    """A LabelSelector object as a label selector query string."""
    selector = selector or {}
    parts = [f"{k}={v}" for k, v in sorted((selector.get("matchLabels") or {}).items())]
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr["key"], expr["operator"], ",".join(expr.get("values") or [])
        parts.append(
            {
                "In": f"{key} in ({values})",
                "NotIn": f"{key} notin ({values})",
                "Exists": key,
                "DoesNotExist": f"!{key}",
            }[op]
        )
    return ",".join(parts)


def is_ready(pod: Obj) -> bool:
    conditions = (pod.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def _controller_ref(obj: Obj) -> Obj | None:
    for ref in (obj.get("metadata") or {}).get("ownerReferences") or []:
        if ref.get("controller"):
            return dict(ref)
    return None


class _Informer(threading.Thread):
    """List then watch one kind across all namespaces, calling ``on_event(type, object)``; relist on 410."""

    def __init__(
        self,
        name: str,
        list_fn: Callable[..., Any],
        on_event: Callable[[str, Obj], None],
        stopped: threading.Event,
    ) -> None:
        super().__init__(name=f"harness-{name}", daemon=True)
        self.list_fn = list_fn
        self.on_event = on_event
        self.stopped = stopped
        self.synced = threading.Event()
        self._resp: Any = None

    def run(self) -> None:
        rv = ""
        while not self.stopped.is_set():
            try:
                if not rv:
                    resp = self.list_fn(_preload_content=False, _request_timeout=(5, 30))
                    body = json.loads(resp.data)
                    for item in body.get("items") or []:
                        self.on_event("ADDED", item)
                    rv = body["metadata"]["resourceVersion"]
                    self.synced.set()
                rv = self._watch(rv)
            except Exception as exc:  # keep going: a test fails on its own deadline, not here
                if self.stopped.is_set():
                    return
                log.warning("%s: %r; relisting", self.name, exc)
                rv = ""
                self.stopped.wait(0.2)

    def _watch(self, rv: str) -> str:
        resp = self.list_fn(
            watch=True,
            resource_version=rv,
            allow_watch_bookmarks=True,
            timeout_seconds=30,
            _preload_content=False,
            _request_timeout=(5, 60),
        )
        self._resp = resp
        try:
            for line in iter_resp_lines(resp):
                if self.stopped.is_set():
                    return rv
                if not line:
                    continue
                ev = json.loads(line)
                obj = ev.get("object") or {}
                if ev.get("type") == "ERROR":
                    return ""  # 410 Expired or another error: relist
                rv = (obj.get("metadata") or {}).get("resourceVersion") or rv
                if ev.get("type") != "BOOKMARK":
                    self.on_event(ev["type"], obj)
        finally:
            self._resp = None
            resp.release_conn()
        return rv

    def interrupt(self) -> None:
        resp = self._resp
        if resp is not None:
            with contextlib.suppress(Exception):
                resp.shutdown()


class HarnessController:
    """Deployment, ReplicaSet, kubelet and PDB behaviour for the namespaces it manages.

    Usage::

        with HarnessController(api_client) as harness:
            harness.manage("my-namespace")
            ...
    """

    def __init__(self, api: client.ApiClient, namespaces: Iterable[str] = ()) -> None:
        self.api = api
        self.core = client.CoreV1Api(api)
        self.apps = client.AppsV1Api(api)
        self.policy = client.PolicyV1Api(api)
        self._namespaces = set(namespaces)
        self._stopped = threading.Event()
        self._queue: queue.Queue[Key | None] = queue.Queue()
        self._pending: set[Key] = set()
        self._lock = threading.Lock()
        self._pod_ips = 0
        self._informers = [
            _Informer(
                "deployments",
                self.apps.list_deployment_for_all_namespaces,
                self._on_deployment,
                self._stopped,
            ),
            _Informer(
                "replicasets",
                self.apps.list_replica_set_for_all_namespaces,
                self._on_replicaset,
                self._stopped,
            ),
            _Informer("pods", self.core.list_pod_for_all_namespaces, self._on_pod, self._stopped),
            _Informer(
                "pdbs", self.policy.list_pod_disruption_budget_for_all_namespaces, self._on_pdb, self._stopped
            ),
        ]
        self._worker = threading.Thread(target=self._work, name="harness-worker", daemon=True)
        self.errors: list[str] = []

    # -- lifecycle ---------------------------------------------------------------------------------

    def start(self, timeout: float = 30.0) -> HarnessController:
        self._worker.start()
        for informer in self._informers:
            informer.start()
        for informer in self._informers:
            if not informer.synced.wait(timeout):
                raise TimeoutError(f"{informer.name} did not list within {timeout}s")
        return self

    def stop(self) -> None:
        self._stopped.set()
        for informer in self._informers:
            informer.interrupt()
        self._queue.put(None)
        for thread in (*self._informers, self._worker):
            if thread.is_alive():
                thread.join(timeout=10)

    def __enter__(self) -> HarnessController:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def manage(self, namespace: str) -> None:
        """Start acting in ``namespace`` (and reconcile what is already there)."""
        with self._lock:
            self._namespaces.add(namespace)
        for dep in self._items(self.apps.list_namespaced_deployment, namespace):
            self._enqueue(("deployment", namespace, dep["metadata"]["name"]))
        for pod in self._items(self.core.list_namespaced_pod, namespace):
            self._enqueue(("pod", namespace, pod["metadata"]["name"]))
        self._enqueue(("pdbs", namespace, ""))

    # -- events -> keys ------------------------------------------------------------------------------

    def _managed(self, obj: Obj) -> str | None:
        ns = (obj.get("metadata") or {}).get("namespace") or ""
        with self._lock:
            return ns if ns in self._namespaces else None

    def _on_deployment(self, kind: str, obj: Obj) -> None:
        ns = self._managed(obj)
        if ns is not None:
            self._enqueue(("deployment", ns, obj["metadata"]["name"]))

    def _on_replicaset(self, kind: str, obj: Obj) -> None:
        ns = self._managed(obj)
        ref = _controller_ref(obj)
        if ns is not None and ref and ref.get("kind") == "Deployment":
            self._enqueue(("deployment", ns, ref["name"]))

    def _on_pod(self, kind: str, obj: Obj) -> None:
        ns = self._managed(obj)
        if ns is None:
            return
        meta = obj["metadata"]
        if kind != "DELETED":
            self._enqueue(("pod", ns, meta["name"]))
        ref = _controller_ref(obj)
        pod_hash = (meta.get("labels") or {}).get("pod-template-hash")
        if ref and ref.get("kind") == "ReplicaSet" and pod_hash and ref["name"].endswith(f"-{pod_hash}"):
            self._enqueue(("deployment", ns, ref["name"][: -len(pod_hash) - 1]))
        self._enqueue(("pdbs", ns, ""))

    def _on_pdb(self, kind: str, obj: Obj) -> None:
        ns = self._managed(obj)
        if ns is not None and kind != "DELETED":
            self._enqueue(("pdb", ns, obj["metadata"]["name"]))

    def _enqueue(self, key: Key) -> None:
        with self._lock:
            if key in self._pending:
                return
            self._pending.add(key)
        self._queue.put(key)

    def _work(self) -> None:
        while True:
            key = self._queue.get()
            if key is None or self._stopped.is_set():
                return
            with self._lock:
                self._pending.discard(key)
            kind, ns, name = key
            try:
                if kind == "deployment":
                    self._sync_deployment(ns, name)
                elif kind == "pod":
                    self._sync_pod(ns, name)
                elif kind == "pdb":
                    self._sync_pdb(ns, name)
                elif kind == "pdbs":
                    for pdb in self._items(self.policy.list_namespaced_pod_disruption_budget, ns):
                        self._sync_pdb(ns, pdb["metadata"]["name"])
            except ApiException as exc:
                if self._stopped.is_set():
                    return
                if exc.status not in (404, 409):
                    self.errors.append(f"{key}: {exc.status} {exc.body}")
                    log.warning("harness %s: %s %s", key, exc.status, exc.body)
                threading.Timer(0.05, self._enqueue, (key,)).start()  # retry on a fresh read
            except Exception as exc:
                if self._stopped.is_set():
                    return
                self.errors.append(f"{key}: {exc!r}")
                log.exception("harness %s failed", key)

    # -- reads ---------------------------------------------------------------------------------------

    @staticmethod
    def _read(fn: Callable[..., Any], *args: Any) -> Obj | None:
        try:
            resp = fn(*args, _preload_content=False)
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise
        result: Obj = json.loads(resp.data)
        return result

    @staticmethod
    def _items(fn: Callable[..., Any], namespace: str, **kwargs: Any) -> list[Obj]:
        resp = fn(namespace, _preload_content=False, **kwargs)
        items: list[Obj] = json.loads(resp.data).get("items") or []
        return items

    # -- kubelet ---------------------------------------------------------------------------------------

    def _sync_pod(self, ns: str, name: str) -> None:
        pod = self._read(self.core.read_namespaced_pod, name, ns)
        if pod is None:
            return
        if pod["metadata"].get("deletionTimestamp"):
            with contextlib.suppress(ApiException):
                self.core.delete_namespaced_pod(name, ns, grace_period_seconds=0)
            return
        status = pod.get("status") or {}
        if status.get("phase") == "Running" and is_ready(pod):
            return
        stamp = now()
        with self._lock:
            self._pod_ips += 1
            ip = f"10.244.{self._pod_ips // 250}.{self._pod_ips % 250 + 1}"
        spec = pod.get("spec") or {}

        def running(container: Obj) -> Obj:
            return {
                "name": container["name"],
                "image": container.get("image", ""),
                "imageID": f"{container.get('image', '')}@sha256:{'0' * 64}",
                "ready": True,
                "started": True,
                "restartCount": 0,
                "state": {"running": {"startedAt": stamp}},
            }

        inits = []
        for container in spec.get("initContainers") or []:
            if container.get("restartPolicy") == "Always":  # a native sidecar keeps running
                inits.append(running(container))
            else:
                inits.append(
                    {
                        "name": container["name"],
                        "image": container.get("image", ""),
                        "imageID": f"{container.get('image', '')}@sha256:{'0' * 64}",
                        "ready": True,
                        "restartCount": 0,
                        "state": {
                            "terminated": {
                                "exitCode": 0,
                                "reason": "Completed",
                                "startedAt": stamp,
                                "finishedAt": stamp,
                            }
                        },
                    }
                )
        patch: Obj = {
            "status": {
                "phase": "Running",
                "conditions": [
                    {"type": t, "status": "True", "lastTransitionTime": stamp}
                    for t in (
                        "PodReadyToStartContainers",
                        "Initialized",
                        "Ready",
                        "ContainersReady",
                        "PodScheduled",
                    )
                ],
                "containerStatuses": [running(c) for c in spec.get("containers") or []],
                "initContainerStatuses": inits,
                "hostIP": "127.0.0.1",
                "hostIPs": [{"ip": "127.0.0.1"}],
                "podIP": ip,
                "podIPs": [{"ip": ip}],
                "startTime": stamp,
            }
        }
        self.core.patch_namespaced_pod_status(name, ns, patch, _content_type=MERGE)

    # -- ReplicaSets and Deployments -------------------------------------------------------------------

    def _sync_deployment(self, ns: str, name: str) -> None:
        dep = self._read(self.apps.read_namespaced_deployment, name, ns)
        if dep is None:
            return
        meta, spec = dep["metadata"], dep["spec"]
        replicas = int(spec.get("replicas", 1))
        template = spec["template"]
        pod_hash = template_hash(template)
        owned = [
            rs
            for rs in self._items(self.apps.list_namespaced_replica_set, ns)
            if (_controller_ref(rs) or {}).get("uid") == meta["uid"]
        ]
        current = next((rs for rs in owned if rs["metadata"]["name"] == f"{name}-{pod_hash}"), None)
        revisions = [
            int((rs["metadata"].get("annotations") or {}).get("deployment.kubernetes.io/revision", "0"))
            for rs in owned
        ]
        if current is None:
            current = self._create_replicaset(dep, pod_hash, replicas, max(revisions, default=0) + 1)
            owned.append(current)
        elif int(current["spec"].get("replicas", 0)) != replicas:
            current = self._scale(current, replicas)
        for rs in owned:
            if rs is not current and int(rs["spec"].get("replicas", 0)) != 0:
                self._scale(rs, 0)
                rs["spec"]["replicas"] = 0
        totals = {"replicas": 0, "ready": 0, "updated": 0}
        for rs in owned:
            pods = self._sync_replicaset_pods(rs)
            ready = sum(1 for p in pods if is_ready(p))
            totals["replicas"] += len(pods)
            totals["ready"] += ready
            if rs is current:
                totals["updated"] = len(pods)
            self._write_replicaset_status(rs, pods, ready)
        self._write_deployment_status(dep, replicas, totals)

    def _create_replicaset(self, dep: Obj, pod_hash: str, replicas: int, revision: int) -> Obj:
        meta, spec = dep["metadata"], dep["spec"]
        template = json.loads(json.dumps(spec["template"]))
        template.setdefault("metadata", {}).setdefault("labels", {})["pod-template-hash"] = pod_hash
        selector = json.loads(json.dumps(spec.get("selector") or {}))
        selector.setdefault("matchLabels", {})["pod-template-hash"] = pod_hash
        rs = {
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "metadata": {
                "name": f"{meta['name']}-{pod_hash}",
                "labels": dict(template["metadata"]["labels"]),
                "annotations": {
                    "deployment.kubernetes.io/revision": str(revision),
                    "deployment.kubernetes.io/desired-replicas": str(replicas),
                    "deployment.kubernetes.io/max-replicas": str(replicas),
                },
                "ownerReferences": [
                    {
                        "apiVersion": "apps/v1",
                        "kind": "Deployment",
                        "name": meta["name"],
                        "uid": meta["uid"],
                        "controller": True,
                        "blockOwnerDeletion": True,
                    }
                ],
            },
            "spec": {"replicas": replicas, "selector": selector, "template": template},
        }
        resp = self.apps.create_namespaced_replica_set(meta["namespace"], rs, _preload_content=False)
        created: Obj = json.loads(resp.data)
        return created

    def _scale(self, rs: Obj, replicas: int) -> Obj:
        meta = rs["metadata"]
        resp = self.apps.patch_namespaced_replica_set(
            meta["name"],
            meta["namespace"],
            {"spec": {"replicas": replicas}},
            _content_type=MERGE,
            _preload_content=False,
        )
        scaled: Obj = json.loads(resp.data)
        return scaled

    def _sync_replicaset_pods(self, rs: Obj) -> list[Obj]:
        """Create or delete pods until the ReplicaSet has ``spec.replicas``; return the live ones."""
        meta = rs["metadata"]
        ns = meta["namespace"]
        pods = [
            p
            for p in self._items(
                self.core.list_namespaced_pod, ns, label_selector=selector_string(rs["spec"]["selector"])
            )
            if (_controller_ref(p) or {}).get("uid") == meta["uid"]
            and not p["metadata"].get("deletionTimestamp")
        ]
        want = int(rs["spec"].get("replicas", 0))
        template = rs["spec"]["template"]
        while len(pods) < want:
            pod = {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {
                    "generateName": f"{meta['name']}-",
                    "labels": dict(template["metadata"].get("labels") or {}),
                    "annotations": dict(template["metadata"].get("annotations") or {}),
                    "ownerReferences": [
                        {
                            "apiVersion": "apps/v1",
                            "kind": "ReplicaSet",
                            "name": meta["name"],
                            "uid": meta["uid"],
                            "controller": True,
                            "blockOwnerDeletion": True,
                        }
                    ],
                },
                "spec": template["spec"],
            }
            resp = self.core.create_namespaced_pod(ns, pod, _preload_content=False)
            pods.append(json.loads(resp.data))
        if len(pods) > want:
            pods.sort(key=lambda p: p["metadata"].get("creationTimestamp") or "", reverse=True)
            for extra in pods[: len(pods) - want]:
                with contextlib.suppress(ApiException):
                    self.core.delete_namespaced_pod(extra["metadata"]["name"], ns)
            pods = pods[len(pods) - want :]
        return pods

    def _write_replicaset_status(self, rs: Obj, pods: list[Obj], ready: int) -> None:
        meta = rs["metadata"]
        status = {
            "replicas": len(pods),
            "fullyLabeledReplicas": len(pods),
            "readyReplicas": ready,
            "availableReplicas": ready,
            "observedGeneration": meta.get("generation", 1),
        }
        old = rs.get("status") or {}
        if all(old.get(k, 0) == v for k, v in status.items()):
            return
        self.apps.patch_namespaced_replica_set_status(
            meta["name"], meta["namespace"], {"status": status}, _content_type=MERGE
        )

    def _write_deployment_status(self, dep: Obj, replicas: int, totals: dict[str, int]) -> None:
        meta = dep["metadata"]
        old = dep.get("status") or {}
        available = totals["ready"]
        complete = totals["updated"] == replicas and totals["replicas"] == replicas and available == replicas
        status: Obj = {
            "observedGeneration": meta.get("generation", 1),
            "replicas": totals["replicas"],
            "updatedReplicas": totals["updated"],
            "readyReplicas": totals["ready"],
            "availableReplicas": available,
            "unavailableReplicas": max(0, replicas - available),
        }
        if all(old.get(k, 0) == v for k, v in status.items()) and old.get("conditions"):
            return
        stamp = now()
        status["conditions"] = [
            {
                "type": "Available",
                "status": "True" if available >= replicas else "False",
                "reason": "MinimumReplicasAvailable"
                if available >= replicas
                else "MinimumReplicasUnavailable",
                "message": "Deployment has minimum availability."
                if available >= replicas
                else "Deployment does not have minimum availability.",
                "lastUpdateTime": stamp,
                "lastTransitionTime": stamp,
            },
            {
                "type": "Progressing",
                "status": "True",
                "reason": "NewReplicaSetAvailable" if complete else "ReplicaSetUpdated",
                "message": f'ReplicaSet "{meta["name"]}-{template_hash(dep["spec"]["template"])}" '
                + ("has successfully progressed." if complete else "is progressing."),
                "lastUpdateTime": stamp,
                "lastTransitionTime": stamp,
            },
        ]
        self.apps.patch_namespaced_deployment_status(
            meta["name"], meta["namespace"], {"status": status}, _content_type=MERGE
        )

    # -- PodDisruptionBudgets ---------------------------------------------------------------------------

    def _sync_pdb(self, ns: str, name: str) -> None:
        pdb = self._read(self.policy.read_namespaced_pod_disruption_budget, name, ns)
        if pdb is None:
            return
        spec = pdb.get("spec") or {}
        pods = [
            p
            for p in self._items(
                self.core.list_namespaced_pod, ns, label_selector=selector_string(spec.get("selector"))
            )
            if not p["metadata"].get("deletionTimestamp")
        ]
        expected = len(pods)
        healthy = sum(1 for p in pods if is_ready(p))

        def count(value: Any) -> int:
            if isinstance(value, str) and value.endswith("%"):
                return math.ceil(int(value[:-1]) * expected / 100)
            return int(value)

        if "minAvailable" in spec:
            desired = count(spec["minAvailable"])
        elif "maxUnavailable" in spec:
            desired = max(0, expected - count(spec["maxUnavailable"]))
        else:
            desired = expected
        allowed = max(0, healthy - desired)
        status = {
            "observedGeneration": pdb["metadata"].get("generation", 1),
            "expectedPods": expected,
            "currentHealthy": healthy,
            "desiredHealthy": desired,
            "disruptionsAllowed": allowed,
        }
        old = pdb.get("status") or {}
        if all(old.get(k) == v for k, v in status.items()) and old.get("conditions"):
            return
        stamp = now()
        status["conditions"] = [
            {
                "type": "DisruptionAllowed",
                "status": "True" if allowed > 0 else "False",
                "reason": "SufficientPods" if allowed > 0 else "InsufficientPods",
                "message": "",
                "observedGeneration": pdb["metadata"].get("generation", 1),
                "lastTransitionTime": stamp,
            }
        ]
        self.policy.patch_namespaced_pod_disruption_budget_status(
            name, ns, {"status": status}, _content_type=MERGE
        )


# -- waiting for the cluster, without sleeping -----------------------------------------------------------


def await_list(
    list_fn: Callable[..., Any],
    namespace: str,
    predicate: Callable[[list[Obj]], bool],
    *,
    timeout: float = 30.0,
    **selectors: Any,
) -> list[Obj]:
    """Return the objects of a namespaced list once ``predicate(objects)`` holds, waking on watch events.

    Lists once, then watches from the list's resourceVersion, re-evaluating on every event; raises
    TimeoutError with the last state after ``timeout`` seconds.
    """
    deadline = time.monotonic() + timeout
    resp = list_fn(namespace, _preload_content=False, **selectors)
    body = json.loads(resp.data)
    objects = {o["metadata"]["name"]: o for o in body.get("items") or []}
    rv = body["metadata"]["resourceVersion"]
    while True:
        current = sorted(objects.values(), key=lambda o: o["metadata"]["name"])
        if predicate(current):
            return current
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError(
                f"condition not met within {timeout}s; last state: "
                + json.dumps([_summary(o) for o in current])[:4000]
            )
        watch = list_fn(
            namespace,
            watch=True,
            resource_version=rv,
            timeout_seconds=max(1, math.ceil(remaining)),
            _preload_content=False,
            _request_timeout=(5, remaining + 5),
            **selectors,
        )
        try:
            for line in iter_resp_lines(watch):
                if not line:
                    continue
                ev = json.loads(line)
                obj = ev["object"]
                if ev["type"] == "ERROR":
                    raise RuntimeError(f"watch failed: {obj}")
                rv = obj["metadata"].get("resourceVersion", rv)
                if ev["type"] == "DELETED":
                    objects.pop(obj["metadata"]["name"], None)
                elif ev["type"] in ("ADDED", "MODIFIED"):
                    objects[obj["metadata"]["name"]] = obj
                else:
                    continue
                current = sorted(objects.values(), key=lambda o: o["metadata"]["name"])
                if predicate(current):
                    return current
        finally:
            watch.close()


def await_object(
    list_fn: Callable[..., Any],
    namespace: str,
    name: str,
    predicate: Callable[[Obj], bool],
    *,
    timeout: float = 30.0,
) -> Obj:
    """Return the named object once ``predicate(object)`` holds (see `await_list`)."""
    found = await_list(
        list_fn,
        namespace,
        lambda objs: bool(objs) and predicate(objs[0]),
        timeout=timeout,
        field_selector=f"metadata.name={name}",
    )
    return found[0]


def _summary(obj: Obj) -> Obj:
    meta = obj.get("metadata") or {}
    return {"name": meta.get("name"), "rv": meta.get("resourceVersion"), "status": obj.get("status")}
