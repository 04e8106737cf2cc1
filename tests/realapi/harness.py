"""A small controller for the real API server: the parts of a cluster the product relies on.

A bare kube-apiserver stores Deployments but nothing turns them into pods, no pod ever runs, and no
status is ever written. meshtui reads exactly those things (rollout progress, ready pods, PDB
headroom), so the realapi tier runs this harness next to the server. It watches, in threads, with the
official client, and only acts in the namespaces it is told to `manage` (and on cluster-scoped objects
once told to `manage_cluster_scoped`):

* Deployment -> ReplicaSet ``<deployment>-<pod-template-hash>`` (a new one whenever the pod template
  changes, e.g. on ``kubectl rollout restart``); the old ReplicaSets are scaled to zero and their pods
  deleted at once (no surge pacing);
* ReplicaSet -> pods (``generateName``, owner reference, template labels plus ``pod-template-hash``),
  created through the real API server and therefore through its admission webhooks (sidecar
  injection happens exactly as in a cluster);
* StatefulSet -> ordinal pods ``<set>-0``, ``<set>-1``, ... created in order, each once the previous one
  is Ready (OrderedReady), labelled ``controller-revision-hash: <set>-<hash>`` after a ControllerRevision
  of the template; a template change (``kubectl rollout restart``) replaces one pod at a time from the
  highest ordinal down to the partition, and ``currentRevision`` becomes ``updateRevision`` once every
  pod is updated and Ready; ``OnDelete`` only recreates deleted pods;
* DaemonSet -> one pod per node on a fixed list of node names (``nodes``, default two: the server has
  no Node objects and nothing needs them), bound with ``spec.nodeName``, labelled
  ``controller-revision-hash: <hash>`` and ``pod-template-generation``; a rolling update replaces up to
  ``maxUnavailable`` (default 1) nodes' pods at a time;
* the kubelet's part: every pod is marked Running and Ready through the status subresource (all its
  containers, native sidecars included), and a pod with a deletionTimestamp is removed;
* Deployment, ReplicaSet, StatefulSet and DaemonSet status (the fields ``kubectl rollout status`` and
  meshtui read: observedGeneration, replicas, updated/ready/available, current/update revisions,
  desired/updated/ready number scheduled, conditions) and PodDisruptionBudget status
  (expected/healthy pods, disruptionsAllowed);
* the garbage collector's part: when an owner (Deployment, ReplicaSet, StatefulSet, DaemonSet) is gone,
  its ReplicaSets, pods and ControllerRevisions are deleted; an object deleted with
  ``propagationPolicy: Foreground`` (the API server keeps it, with a deletionTimestamp and the
  ``foregroundDeletion`` finalizer, until a garbage collector is done) has its dependents deleted and
  then the finalizer removed, so it goes. This covers every kind meshtui deletes when it takes a
  revision offline (webhook configurations, RBAC, ConfigMaps, Services, ...).

Why a harness rather than building kube-controller-manager from source like kube-apiserver: another
long Go build (kube-controller-manager is about as large as kube-apiserver) would double the cold
start of the tier, and it would still not be enough: Running/Ready is the kubelet's job (plus a
scheduler to bind pods to nodes), and a kubelet needs a container runtime this machine does not have.
The harness is a few hundred lines that do the part the product observes, deterministically and fast.

Not modelled: scaling pace (maxSurge, the Deployment's maxUnavailable), minReadySeconds, probes,
Node objects, Parallel pod management, Jobs, the orphan finalizer, and owners of another kind than the
four above.
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
from dataclasses import dataclass
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
HASH_LABEL = "controller-revision-hash"
FOREGROUND = "foregroundDeletion"
#: Owners whose dependents (ReplicaSets, pods, ControllerRevisions) the garbage collector deletes.
OWNER_KINDS = ("Deployment", "ReplicaSet", "StatefulSet", "DaemonSet")
DEFAULT_NODES = ("harness-node-1", "harness-node-2")


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


def is_terminating(obj: Obj) -> bool:
    return bool((obj.get("metadata") or {}).get("deletionTimestamp"))


def _scaled(value: Any, total: int) -> int:
    """An int-or-percent (rounded up, as maxUnavailable is) of ``total``."""
    if isinstance(value, str) and value.endswith("%"):
        return math.ceil(int(value[:-1]) * total / 100)
    return int(value)


def _ordinal(set_name: str, pod_name: str) -> int | None:
    suffix = pod_name[len(set_name) + 1 :]
    if not pod_name.startswith(f"{set_name}-") or not suffix.isdigit():
        return None
    return int(suffix)


def _revision_of(pod: Obj) -> str:
    return str(((pod.get("metadata") or {}).get("labels") or {}).get(HASH_LABEL, ""))


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


@dataclass(frozen=True)
class _Kind:
    """How the harness lists, reads, patches and deletes one kind (namespaced calls take the namespace)."""

    name: str
    namespaced: bool
    list_all: Callable[..., Any]
    read: Callable[..., Any]
    patch: Callable[..., Any]
    delete: Callable[..., Any]

    def args(self, name: str, namespace: str) -> tuple[str, ...]:
        return (name, namespace) if self.namespaced else (name,)


class HarnessController:
    """Deployment, ReplicaSet, StatefulSet, DaemonSet, kubelet, PDB and garbage-collector behaviour for
    the namespaces it manages.

    Usage::

        with HarnessController(api_client) as harness:
            harness.manage("my-namespace")
            ...
    """

    def __init__(
        self, api: client.ApiClient, namespaces: Iterable[str] = (), *, nodes: Iterable[str] = DEFAULT_NODES
    ) -> None:
        self.api = api
        self.core = client.CoreV1Api(api)
        self.apps = client.AppsV1Api(api)
        self.policy = client.PolicyV1Api(api)
        self.nodes = tuple(nodes)
        self._namespaces = set(namespaces)
        self._cluster_scoped = False
        self._stopped = threading.Event()
        self._queue: queue.Queue[Key | None] = queue.Queue()
        self._pending: set[Key] = set()
        self._lock = threading.Lock()
        self._pod_ips = 0
        self.kinds = self._kind_table()
        handlers: dict[str, Callable[[str, Obj], None]] = {
            "Deployment": self._on_deployment,
            "ReplicaSet": self._on_replicaset,
            "StatefulSet": self._on_statefulset,
            "DaemonSet": self._on_daemonset,
            "Pod": self._on_pod,
            "PodDisruptionBudget": self._on_pdb,
        }
        self._informers = [
            _Informer(kind.name, kind.list_all, self._dispatch(kind, handlers.get(kind.name)), self._stopped)
            for kind in self.kinds.values()
        ]
        self._worker = threading.Thread(target=self._work, name="harness-worker", daemon=True)
        self.errors: list[str] = []

    def _kind_table(self) -> dict[str, _Kind]:
        core, apps, policy = self.core, self.apps, self.policy
        rbac = client.RbacAuthorizationV1Api(self.api)
        adm = client.AdmissionregistrationV1Api(self.api)
        kinds = [
            _Kind(
                "Deployment",
                True,
                apps.list_deployment_for_all_namespaces,
                apps.read_namespaced_deployment,
                apps.patch_namespaced_deployment,
                apps.delete_namespaced_deployment,
            ),
            _Kind(
                "ReplicaSet",
                True,
                apps.list_replica_set_for_all_namespaces,
                apps.read_namespaced_replica_set,
                apps.patch_namespaced_replica_set,
                apps.delete_namespaced_replica_set,
            ),
            _Kind(
                "StatefulSet",
                True,
                apps.list_stateful_set_for_all_namespaces,
                apps.read_namespaced_stateful_set,
                apps.patch_namespaced_stateful_set,
                apps.delete_namespaced_stateful_set,
            ),
            _Kind(
                "DaemonSet",
                True,
                apps.list_daemon_set_for_all_namespaces,
                apps.read_namespaced_daemon_set,
                apps.patch_namespaced_daemon_set,
                apps.delete_namespaced_daemon_set,
            ),
            _Kind(
                "ControllerRevision",
                True,
                apps.list_controller_revision_for_all_namespaces,
                apps.read_namespaced_controller_revision,
                apps.patch_namespaced_controller_revision,
                apps.delete_namespaced_controller_revision,
            ),
            _Kind(
                "Pod",
                True,
                core.list_pod_for_all_namespaces,
                core.read_namespaced_pod,
                core.patch_namespaced_pod,
                core.delete_namespaced_pod,
            ),
            _Kind(
                "PodDisruptionBudget",
                True,
                policy.list_pod_disruption_budget_for_all_namespaces,
                policy.read_namespaced_pod_disruption_budget,
                policy.patch_namespaced_pod_disruption_budget,
                policy.delete_namespaced_pod_disruption_budget,
            ),
            # Kinds only the garbage collector acts on (foreground deletion), as when a revision goes offline.
            _Kind(
                "ConfigMap",
                True,
                core.list_config_map_for_all_namespaces,
                core.read_namespaced_config_map,
                core.patch_namespaced_config_map,
                core.delete_namespaced_config_map,
            ),
            _Kind(
                "Secret",
                True,
                core.list_secret_for_all_namespaces,
                core.read_namespaced_secret,
                core.patch_namespaced_secret,
                core.delete_namespaced_secret,
            ),
            _Kind(
                "Service",
                True,
                core.list_service_for_all_namespaces,
                core.read_namespaced_service,
                core.patch_namespaced_service,
                core.delete_namespaced_service,
            ),
            _Kind(
                "ServiceAccount",
                True,
                core.list_service_account_for_all_namespaces,
                core.read_namespaced_service_account,
                core.patch_namespaced_service_account,
                core.delete_namespaced_service_account,
            ),
            _Kind(
                "Role",
                True,
                rbac.list_role_for_all_namespaces,
                rbac.read_namespaced_role,
                rbac.patch_namespaced_role,
                rbac.delete_namespaced_role,
            ),
            _Kind(
                "RoleBinding",
                True,
                rbac.list_role_binding_for_all_namespaces,
                rbac.read_namespaced_role_binding,
                rbac.patch_namespaced_role_binding,
                rbac.delete_namespaced_role_binding,
            ),
            _Kind(
                "ClusterRole",
                False,
                rbac.list_cluster_role,
                rbac.read_cluster_role,
                rbac.patch_cluster_role,
                rbac.delete_cluster_role,
            ),
            _Kind(
                "ClusterRoleBinding",
                False,
                rbac.list_cluster_role_binding,
                rbac.read_cluster_role_binding,
                rbac.patch_cluster_role_binding,
                rbac.delete_cluster_role_binding,
            ),
            _Kind(
                "MutatingWebhookConfiguration",
                False,
                adm.list_mutating_webhook_configuration,
                adm.read_mutating_webhook_configuration,
                adm.patch_mutating_webhook_configuration,
                adm.delete_mutating_webhook_configuration,
            ),
            _Kind(
                "ValidatingWebhookConfiguration",
                False,
                adm.list_validating_webhook_configuration,
                adm.read_validating_webhook_configuration,
                adm.patch_validating_webhook_configuration,
                adm.delete_validating_webhook_configuration,
            ),
        ]
        return {k.name: k for k in kinds}

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
        for key, lister in (
            ("deployment", self.apps.list_namespaced_deployment),
            ("statefulset", self.apps.list_namespaced_stateful_set),
            ("daemonset", self.apps.list_namespaced_daemon_set),
            ("pod", self.core.list_namespaced_pod),
        ):
            for obj in self._items(lister, namespace):
                self._enqueue((key, namespace, obj["metadata"]["name"]))
        self._enqueue(("pdbs", namespace, ""))

    def manage_cluster_scoped(self) -> None:
        """Also act on cluster-scoped objects (finish their foreground deletion)."""
        with self._lock:
            self._cluster_scoped = True

    # -- events -> keys ------------------------------------------------------------------------------

    def _managed(self, obj: Obj) -> str | None:
        ns = (obj.get("metadata") or {}).get("namespace") or ""
        with self._lock:
            return ns if ns in self._namespaces else None

    def _in_scope(self, kind: _Kind, obj: Obj) -> bool:
        if kind.namespaced:
            return self._managed(obj) is not None
        with self._lock:
            return self._cluster_scoped

    def _dispatch(self, kind: _Kind, handler: Callable[[str, Obj], None] | None) -> Callable[[str, Obj], None]:
        def on_event(event: str, obj: Obj) -> None:
            if self._in_scope(kind, obj):
                self._gc_event(kind, event, obj)
            if handler is not None:
                handler(event, obj)

        return on_event

    def _gc_event(self, kind: _Kind, event: str, obj: Obj) -> None:
        """The garbage collector's triggers: an owner gone, or an object waiting for foreground deletion."""
        meta = obj.get("metadata") or {}
        ns = meta.get("namespace") or ""
        if event == "DELETED":
            if kind.name in OWNER_KINDS:
                self._enqueue(("collect", ns, meta.get("uid", "")))
            for ref in meta.get("ownerReferences") or []:
                if ref.get("kind") in self.kinds:
                    self._enqueue((f"gc:{ref['kind']}", ns, ref.get("name", "")))
        elif meta.get("deletionTimestamp") and FOREGROUND in (meta.get("finalizers") or []):
            self._enqueue((f"gc:{kind.name}", ns, meta["name"]))

    def _on_deployment(self, kind: str, obj: Obj) -> None:
        ns = self._managed(obj)
        if ns is not None:
            self._enqueue(("deployment", ns, obj["metadata"]["name"]))

    def _on_replicaset(self, kind: str, obj: Obj) -> None:
        ns = self._managed(obj)
        ref = _controller_ref(obj)
        if ns is not None and ref and ref.get("kind") == "Deployment":
            self._enqueue(("deployment", ns, ref["name"]))

    def _on_statefulset(self, kind: str, obj: Obj) -> None:
        ns = self._managed(obj)
        if ns is not None and kind != "DELETED":
            self._enqueue(("statefulset", ns, obj["metadata"]["name"]))

    def _on_daemonset(self, kind: str, obj: Obj) -> None:
        ns = self._managed(obj)
        if ns is not None and kind != "DELETED":
            self._enqueue(("daemonset", ns, obj["metadata"]["name"]))

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
        elif ref and ref.get("kind") in ("StatefulSet", "DaemonSet"):
            self._enqueue((str(ref["kind"]).lower(), ns, ref["name"]))
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
                elif kind == "statefulset":
                    self._sync_statefulset(ns, name)
                elif kind == "daemonset":
                    self._sync_daemonset(ns, name)
                elif kind == "pod":
                    self._sync_pod(ns, name)
                elif kind == "pdb":
                    self._sync_pdb(ns, name)
                elif kind == "pdbs":
                    for pdb in self._items(self.policy.list_namespaced_pod_disruption_budget, ns):
                        self._sync_pdb(ns, pdb["metadata"]["name"])
                elif kind == "collect":
                    self._collect(ns, name)
                elif kind.startswith("gc:"):
                    self._finish_foreground(self.kinds[kind[3:]], ns, name)
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
        if dep is None or is_terminating(dep):
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
            int((rs["metadata"].get("annotations") or {}).get("deployment.kubernetes.io/revision", "0")) for rs in owned
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
            if (_controller_ref(p) or {}).get("uid") == meta["uid"] and not p["metadata"].get("deletionTimestamp")
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
                "reason": "MinimumReplicasAvailable" if available >= replicas else "MinimumReplicasUnavailable",
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

    # -- ControllerRevisions, StatefulSets and DaemonSets ------------------------------------------------

    def _owned(self, lister: Callable[..., Any], owner: Obj, **kwargs: Any) -> list[Obj]:
        meta = owner["metadata"]
        return [
            o
            for o in self._items(lister, meta["namespace"], **kwargs)
            if (_controller_ref(o) or {}).get("uid") == meta["uid"]
        ]

    def _ensure_revision(self, owner: Obj, kind: str, template: Obj, hash_value: str) -> str:
        """The ControllerRevision ``<owner>-<hash>`` of a template (created if missing); returns its name."""
        meta = owner["metadata"]
        name = f"{meta['name']}-{hash_value}"
        if self._read(self.apps.read_namespaced_controller_revision, name, meta["namespace"]) is not None:
            return name
        numbers = [
            int(r.get("revision") or 0) for r in self._owned(self.apps.list_namespaced_controller_revision, owner)
        ]
        body = {
            "apiVersion": "apps/v1",
            "kind": "ControllerRevision",
            "metadata": {
                "name": name,
                "labels": {
                    **((template.get("metadata") or {}).get("labels") or {}),
                    "controller.kubernetes.io/hash": hash_value,
                },
                "ownerReferences": [self._owner_ref(owner, kind)],
            },
            "data": {"spec": {"template": {**template, "$patch": "replace"}}},
            "revision": max(numbers, default=0) + 1,
        }
        try:
            self.apps.create_namespaced_controller_revision(meta["namespace"], body, _preload_content=False)
        except ApiException as exc:
            if exc.status != 409:
                raise
        return name

    def _revision_template(self, namespace: str, name: str) -> Obj | None:
        rev = self._read(self.apps.read_namespaced_controller_revision, name, namespace)
        if rev is None:
            return None
        template = dict(((rev.get("data") or {}).get("spec") or {}).get("template") or {})
        template.pop("$patch", None)
        return template

    @staticmethod
    def _owner_ref(owner: Obj, kind: str) -> Obj:
        return {
            "apiVersion": "apps/v1",
            "kind": kind,
            "name": owner["metadata"]["name"],
            "uid": owner["metadata"]["uid"],
            "controller": True,
            "blockOwnerDeletion": True,
        }

    def _create_pod(self, owner: Obj, kind: str, template: Obj, labels: dict[str, str], **fields: Any) -> Obj:
        """A pod of ``owner`` from ``template`` through the API server (and so its admission webhooks).

        ``fields``: ``name`` or ``generate_name``, and extra ``spec`` fields (hostname, nodeName, ...).
        """
        tpl_meta = template.get("metadata") or {}
        meta: Obj = {
            "labels": {**(tpl_meta.get("labels") or {}), **labels},
            "annotations": dict(tpl_meta.get("annotations") or {}),
            "ownerReferences": [self._owner_ref(owner, kind)],
        }
        if "name" in fields:
            meta["name"] = fields.pop("name")
        else:
            meta["generateName"] = fields.pop("generate_name")
        spec = {**(template.get("spec") or {}), **{k: v for k, v in fields.items() if v}}
        body = {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec}
        resp = self.core.create_namespaced_pod(owner["metadata"]["namespace"], body, _preload_content=False)
        created: Obj = json.loads(resp.data)
        return created

    def _delete_pod(self, pod: Obj) -> None:
        meta = pod["metadata"]
        try:
            self.core.delete_namespaced_pod(meta["name"], meta["namespace"])
        except ApiException as exc:
            if exc.status != 404:
                raise

    def _write_status(self, patch: Callable[..., Any], obj: Obj, status: Obj) -> None:
        old = obj.get("status") or {}
        if all(old.get(k) == v for k, v in status.items()):
            return
        meta = obj["metadata"]
        patch(meta["name"], meta["namespace"], {"status": status}, _content_type=MERGE)

    def _sync_statefulset(self, ns: str, name: str) -> None:
        sts = self._read(self.apps.read_namespaced_stateful_set, name, ns)
        if sts is None or is_terminating(sts):
            return
        spec = sts["spec"]
        replicas = int(spec["replicas"] if spec.get("replicas") is not None else 1)
        strategy = spec.get("updateStrategy") or {}
        rolling = strategy.get("type", "RollingUpdate") == "RollingUpdate"
        partition = int((strategy.get("rollingUpdate") or {}).get("partition") or 0)
        template = spec["template"]
        update_rev = self._ensure_revision(sts, "StatefulSet", template, template_hash(template))
        current_rev = (sts.get("status") or {}).get("currentRevision") or update_rev
        self._step_statefulset(sts, replicas, rolling, partition, current_rev, update_rev)

        pods = [
            p
            for p in self._owned(self.core.list_namespaced_pod, sts)
            if _ordinal(name, p["metadata"]["name"]) is not None
        ]
        live = [p for p in pods if not is_terminating(p)]
        ready = sum(1 for p in live if is_ready(p))
        updated = sum(1 for p in live if _revision_of(p) == update_rev)
        current = sum(1 for p in live if _revision_of(p) == current_rev)
        if rolling and updated == len(live) == replicas == ready:
            current_rev, current = update_rev, updated
        status = {
            "observedGeneration": sts["metadata"].get("generation", 1),
            "replicas": len(live),
            "readyReplicas": ready,
            "currentReplicas": current,
            "updatedReplicas": updated,
            "availableReplicas": ready,
            "currentRevision": current_rev,
            "updateRevision": update_rev,
            "collisionCount": 0,
        }
        self._write_status(self.apps.patch_namespaced_stateful_set_status, sts, status)

    def _step_statefulset(
        self, sts: Obj, replicas: int, rolling: bool, partition: int, current_rev: str, update_rev: str
    ) -> None:
        """One step of OrderedReady management: create the first missing ordinal, else remove the highest
        extra one, else replace the highest outdated one; each waits for the previous to be done."""
        name = sts["metadata"]["name"]
        ns = sts["metadata"]["namespace"]
        pods: dict[int, Obj] = {}
        for pod in self._owned(self.core.list_namespaced_pod, sts):
            ordinal = _ordinal(name, pod["metadata"]["name"])
            if ordinal is not None:
                pods[ordinal] = pod
        for ordinal in range(replicas):
            pod = pods.get(ordinal)
            if pod is None:
                rev, template = update_rev, sts["spec"]["template"]
                if rolling and ordinal < partition:
                    rev, template = current_rev, self._revision_template(ns, current_rev) or template
                pod_name = f"{name}-{ordinal}"
                self._create_pod(
                    sts,
                    "StatefulSet",
                    template,
                    {
                        HASH_LABEL: rev,
                        "statefulset.kubernetes.io/pod-name": pod_name,
                        "apps.kubernetes.io/pod-index": str(ordinal),
                    },
                    name=pod_name,
                    hostname=pod_name,
                    subdomain=sts["spec"].get("serviceName"),
                )
                return
            if is_terminating(pod) or not is_ready(pod):
                return
        extra = sorted((o for o in pods if o >= replicas), reverse=True)
        if extra:
            if not is_terminating(pods[extra[0]]):
                self._delete_pod(pods[extra[0]])
            return
        if not rolling:
            return
        for ordinal in range(replicas - 1, partition - 1, -1):
            if _revision_of(pods[ordinal]) != update_rev:
                self._delete_pod(pods[ordinal])
                return

    def _sync_daemonset(self, ns: str, name: str) -> None:
        ds = self._read(self.apps.read_namespaced_daemon_set, name, ns)
        if ds is None or is_terminating(ds):
            return
        spec = ds["spec"]
        template = spec["template"]
        current = template_hash(template)
        self._ensure_revision(ds, "DaemonSet", template, current)
        by_node: dict[str, list[Obj]] = {}
        for pod in self._owned(self.core.list_namespaced_pod, ds):
            by_node.setdefault((pod.get("spec") or {}).get("nodeName") or "", []).append(pod)
        generation = str(ds["metadata"].get("generation", 1))
        for node in self.nodes:
            if not by_node.get(node):
                labels = {HASH_LABEL: current, "pod-template-generation": generation}
                pod = self._create_pod(ds, "DaemonSet", template, labels, generate_name=f"{name}-", nodeName=node)
                by_node[node] = [pod]
        for node, pods in by_node.items():
            if node not in self.nodes:
                for pod in pods:
                    if not is_terminating(pod):
                        self._delete_pod(pod)
        strategy = spec.get("updateStrategy") or {}
        if strategy.get("type", "RollingUpdate") == "RollingUpdate":
            limit = max(1, _scaled((strategy.get("rollingUpdate") or {}).get("maxUnavailable", 1), len(self.nodes)))
            unavailable = sum(
                1 for n in self.nodes if not any(is_ready(p) and not is_terminating(p) for p in by_node.get(n, []))
            )
            for node in self.nodes:
                if unavailable >= limit:
                    break
                old = [p for p in by_node.get(node, []) if not is_terminating(p) and _revision_of(p) != current]
                if old:
                    self._delete_pod(old[0])
                    unavailable += 1
        pods = [p for p in self._owned(self.core.list_namespaced_pod, ds) if not is_terminating(p)]
        on_nodes = [p for p in pods if (p.get("spec") or {}).get("nodeName") in self.nodes]
        ready = sum(1 for p in on_nodes if is_ready(p))
        status = {
            "observedGeneration": ds["metadata"].get("generation", 1),
            "desiredNumberScheduled": len(self.nodes),
            "currentNumberScheduled": len({p["spec"]["nodeName"] for p in on_nodes}),
            "numberMisscheduled": 0,
            "numberReady": ready,
            "updatedNumberScheduled": sum(1 for p in on_nodes if _revision_of(p) == current),
            "numberAvailable": ready,
            "numberUnavailable": max(0, len(self.nodes) - ready),
        }
        self._write_status(self.apps.patch_namespaced_daemon_set_status, ds, status)

    # -- the garbage collector --------------------------------------------------------------------------

    def _dependents(self, namespace: str, uid: str) -> list[tuple[_Kind, Obj]]:
        """ReplicaSets, pods and ControllerRevisions of ``namespace`` that name ``uid`` as an owner."""
        out: list[tuple[_Kind, Obj]] = []
        for kind, lister in (
            ("ReplicaSet", self.apps.list_namespaced_replica_set),
            ("Pod", self.core.list_namespaced_pod),
            ("ControllerRevision", self.apps.list_namespaced_controller_revision),
        ):
            for obj in self._items(lister, namespace):
                if any(ref.get("uid") == uid for ref in obj["metadata"].get("ownerReferences") or []):
                    out.append((self.kinds[kind], obj))
        return out

    def _delete_dependents(self, namespace: str, uid: str) -> int:
        """Delete (in the background) every dependent not already being deleted; how many remain."""
        deps = self._dependents(namespace, uid)
        for kind, obj in deps:
            if is_terminating(obj):
                continue
            with contextlib.suppress(ApiException):
                kind.delete(obj["metadata"]["name"], namespace, propagation_policy="Background")
        return len(self._dependents(namespace, uid))

    def _collect(self, namespace: str, owner_uid: str) -> None:
        """The owner is gone: delete its dependents."""
        if namespace and owner_uid:
            self._delete_dependents(namespace, owner_uid)

    def _finish_foreground(self, kind: _Kind, namespace: str, name: str) -> None:
        """Foreground deletion: delete the dependents, and once none is left remove ``foregroundDeletion``."""
        obj = self._read(kind.read, *kind.args(name, namespace))
        if obj is None:
            return
        meta = obj["metadata"]
        finalizers = list(meta.get("finalizers") or [])
        if not meta.get("deletionTimestamp") or FOREGROUND not in finalizers:
            return
        if kind.namespaced and self._delete_dependents(namespace, meta["uid"]):
            return  # each dependent's DELETED event brings this owner back here
        rest = [f for f in finalizers if f != FOREGROUND]
        patch = {"metadata": {"finalizers": rest or None, "resourceVersion": meta["resourceVersion"]}}
        kind.patch(*kind.args(name, namespace), patch, _content_type=MERGE)

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
        self.policy.patch_namespaced_pod_disruption_budget_status(name, ns, {"status": status}, _content_type=MERGE)


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
                f"condition not met within {timeout}s; last state: " + json.dumps([_summary(o) for o in current])[:4000]
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
