"""Small frozen models parsed once from raw Kubernetes JSON (API responses or `kubectl get -o yaml` dumps).

The domain never sees a raw dict after this module: parsing keeps only what the Istio rules need, so 50,000
pods fit in memory and every later computation works on plain attributes.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from types import MappingProxyType
from typing import Any, cast

import orjson
import yaml

from meshtui.domain.selectors import LabelSelector, SelectorError

Labels = Mapping[str, str]

EMPTY_LABELS: Labels = MappingProxyType({})

WORKLOAD_KINDS = frozenset({"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob", "Rollout"})

# Label and annotation keys the Istio rules read (docs/istio.md: injection, what an injected pod carries, gateways).
REV_LABEL = "istio.io/rev"
TAG_LABEL = "istio.io/tag"
INJECTION_LABEL = "istio-injection"
INJECT_KEY = "sidecar.istio.io/inject"
STATUS_ANNOTATION = "sidecar.istio.io/status"
PROXY_IMAGE_ANNOTATION = "sidecar.istio.io/proxyImage"
TEMPLATES_ANNOTATION = "inject.istio.io/templates"
NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"
PROXY_CONTAINER = "istio-proxy"
AUTO_IMAGE = "auto"  # the gateway charts' placeholder image that injection replaces

REDIRECTION_ANNOTATION = "ambient.istio.io/redirection"  # istio-cni marks the pods it enrolled: "enabled"
PROMETHEUS_PORT = "prometheus.io/port"
SCRAPE_TARGETS = "prometheus.istio.io/scrape-targets"  # `port:path,...`, several ports merged (>= 1.31)
MERGE_METRICS = "prometheus.istio.io/merge-metrics"
ZTUNNEL = "ztunnel"
ISTIO_CNI = "istio-cni"
CNI_CONTAINER = "install-cni"
CNI_APP_LABEL = ("k8s-app", "istio-cni-node")
# Env of the ztunnel container naming the istiod it gets configuration and certificates from.
ZTUNNEL_ENV = ("XDS_ADDRESS", "CA_ADDRESS")

_IMAGE_VARIANTS = ("-distroless", "-debug")
_POD_ANNOTATIONS = (
    REV_LABEL,
    STATUS_ANNOTATION,
    PROXY_IMAGE_ANNOTATION,
    INJECT_KEY,
    TEMPLATES_ANNOTATION,
    REDIRECTION_ANNOTATION,
    PROMETHEUS_PORT,
    SCRAPE_TARGETS,
    MERGE_METRICS,
)
_intern = sys.intern


class MalformedObject(ValueError):
    """Raised when an object cannot be modelled at all (not a mapping, no name); callers report, skip it."""

    def __init__(self, kind: str, name: str, reason: str) -> None:
        super().__init__(f"{kind} {name or '?'}: {reason}")
        self.kind = kind
        self.name = name
        self.reason = reason


# ---------------------------------------------------------------------------------------------- helpers

# Pods of one ReplicaSet share an identical label set; interning keeps one mapping for all of them.
_INTERNED: dict[tuple[tuple[str, str], ...], Labels] = {}
_INTERN_LIMIT = 200_000


def freeze_labels(raw: object, problems: list[str] | None = None, where: str = "metadata.labels") -> Labels:
    """Return an immutable, interned copy of a string map, dropping (and reporting) non-string entries."""
    if not raw:
        return EMPTY_LABELS
    if type(raw) is not dict:
        if problems is not None:
            problems.append(f"{where} is not a map of strings, so it was ignored.")
        return EMPTY_LABELS
    items = tuple(raw.items())
    try:
        cached = _INTERNED.get(items)
    except TypeError:  # an unhashable (list or map) value
        cached = None
    if cached is None:
        # Only a miss needs the type check: a key made of strings never equals one holding other types.
        for key, value in items:
            if type(key) is not str or type(value) is not str:
                clean = {k: v for k, v in items if type(k) is str and type(v) is str}
                if problems is not None:
                    bad = ", ".join(sorted(str(k) for k, v in items if type(k) is not str or type(v) is not str))
                    problems.append(f"{where} entry {bad} is not a string, so it was ignored.")
                return freeze_labels(clean)
        if len(_INTERNED) >= _INTERN_LIMIT:
            _INTERNED.clear()
        cached = MappingProxyType(dict(items))
        _INTERNED[items] = cached
    return cached


def _map(value: object) -> dict[str, Any]:
    return value if type(value) is dict else {}


def _list(value: object) -> list[Any]:
    return value if type(value) is list else []


def _str(value: object) -> str | None:
    return value if type(value) is str else None


def _int(value: object) -> int | None:
    if type(value) is int:
        return value
    return None


def _identity(kind: str, raw: object, namespaced: bool) -> tuple[dict[str, Any], str, str]:
    """Check the minimum every model needs (a mapping with metadata.name) and return metadata, name, ns."""
    if type(raw) is not dict:
        raise MalformedObject(kind, "", "the object is not a mapping")
    meta = raw.get("metadata")
    if type(meta) is not dict:
        raise MalformedObject(kind, "", "the object has no metadata")
    name = meta.get("name")
    if type(name) is not str or not name:
        raise MalformedObject(kind, "", "the object has no metadata.name")
    namespace = ""
    if namespaced:
        ns = meta.get("namespace")
        if type(ns) is not str or not ns:
            raise MalformedObject(kind, name, "the object has no metadata.namespace")
        namespace = ns
    return meta, name, namespace


def image_tag(image: str | None) -> str | None:
    """The tag of an image reference (`hub/proxyv2:1.22.3` -> `1.22.3`), None without one."""
    if not image:
        return None
    ref = image.split("@", 1)[0]
    colon = ref.rfind(":")
    if colon < 0 or colon < ref.rfind("/"):
        return None
    return ref[colon + 1 :] or None


def image_repository(image: str | None) -> str | None:
    """The last path element of an image reference without tag or digest (`hub/ztunnel:1.29.6` -> `ztunnel`)."""
    if not image:
        return None
    ref = image.split("@", 1)[0]
    name = ref.rsplit("/", 1)[-1]
    return name.split(":", 1)[0] or None


def image_version(image: str | None) -> str | None:
    """The Istio version an image runs: its tag without a `-distroless`/`-debug` variant suffix."""
    tag = image_tag(image)
    if tag is None:
        return None
    for suffix in _IMAGE_VARIANTS:
        if tag.endswith(suffix):
            return tag[: -len(suffix)] or None
    return tag


def _selector(raw: object, kind: str, name: str, field: str) -> LabelSelector:
    try:
        return LabelSelector.from_dict(cast("Mapping[str, Any] | None", raw))
    except SelectorError as exc:
        raise MalformedObject(kind, name, f"{field}: {exc}") from exc


@dataclass(frozen=True, slots=True)
class OwnerRef:
    """A controller owner reference: the object that recreates this one."""

    kind: str
    name: str
    uid: str


def _controller(meta: dict[str, Any]) -> OwnerRef | None:
    """The owner with `controller: true`, else the first owner (hand-written dumps often omit the flag)."""
    refs = [r for r in _list(meta.get("ownerReferences")) if type(r) is dict]
    if not refs:
        return None
    chosen = next((r for r in refs if r.get("controller") is True), refs[0])
    return OwnerRef(str(chosen.get("kind") or ""), str(chosen.get("name") or ""), str(chosen.get("uid") or ""))


def positional_constructor(cls: type[Any]) -> Callable[..., Any]:
    """A constructor of a frozen, slotted dataclass from all its fields, in order, that sets each slot directly.

    The generated `__init__` of a frozen dataclass sets every field through `object.__setattr__`; for a
    model built 50,000 times in a row (a pod list) that is half the cost of modelling it. The object is the
    same: equality, hashing, repr and immutability come from the class. No defaults: every field is passed.
    """
    names = [f.name for f in fields(cls)]
    namespace: dict[str, Any] = {"_new": object.__new__, "_cls": cls}
    lines = [f"def construct({', '.join(names)}):", "    self = _new(_cls)"]
    for i, name in enumerate(names):
        namespace[f"_set{i}"] = getattr(cls, name).__set__  # the slot's member descriptor
        lines.append(f"    _set{i}(self, {name})")
    lines.append("    return self")
    exec("\n".join(lines), namespace)
    construct: Callable[..., Any] = namespace["construct"]
    construct.__qualname__ = f"{cls.__name__}.positional"
    return construct


# ---------------------------------------------------------------------------------------------- Namespace


@dataclass(frozen=True, slots=True)
class Namespace:
    """A namespace: its labels (always with `kubernetes.io/metadata.name`) and whether it is going away."""

    cluster: str
    name: str
    labels: Labels
    terminating: bool = False
    uid: str = ""

    @property
    def key(self) -> str:
        """The inventory key of the namespace."""
        return self.name


def parse_namespace(cluster: str, raw: object) -> Namespace:
    """Model a Namespace; the API server always sets `kubernetes.io/metadata.name`, so a dump gets it too."""
    meta, name, _ = _identity("Namespace", raw, namespaced=False)
    labels = freeze_labels(meta.get("labels"))
    if labels.get(NAMESPACE_NAME_LABEL) != name:
        labels = freeze_labels({**labels, NAMESPACE_NAME_LABEL: name})
    status = _map(raw.get("status")) if isinstance(raw, dict) else {}
    terminating = bool(meta.get("deletionTimestamp")) or status.get("phase") == "Terminating"
    return Namespace(cluster, name, labels, terminating, str(meta.get("uid") or ""))


# ---------------------------------------------------------------------------------------------- Pod


@dataclass(frozen=True, slots=True)
class Pod:
    """A pod reduced to what the revision rules, the gates and verification read."""

    cluster: str
    namespace: str
    name: str
    uid: str
    labels: Labels
    phase: str
    ready: bool
    terminating: bool
    owner_kind: str | None
    owner_name: str | None
    host_network: bool
    node_name: str | None
    start_time: str | None
    has_sidecar: bool
    native_sidecar: bool
    proxy_image: str | None
    proxy_version: str | None
    current_revision: str | None
    revision_source: str | None  # which evidence gave current_revision, e.g. "annotation istio.io/rev"
    inject_annotation: str | None
    inject_templates: str | None
    rev_annotation: str | None
    restarts: int
    last_restart_at: str | None
    waiting_reasons: tuple[str, ...]
    problems: tuple[str, ...] = ()
    # An istio-proxy container still holding the `image: auto` placeholder of a gateway template: the
    # injector never filled it, so no proxy runs and the container cannot start.
    awaiting_injection: bool = False
    # A node agent of the ambient data plane ("ztunnel" or "istio-cni"), never a sidecar pod (the ztunnel
    # chart names its container istio-proxy), with the image it runs.
    component: str | None = None
    component_image: str | None = None
    ambient: bool = False  # istio-cni enrolled it (annotation ambient.istio.io/redirection: enabled)
    prometheus_port: str | None = None
    scrape_targets: str | None = None
    merge_metrics: str | None = None

    @property
    def key(self) -> tuple[str, str]:
        """The inventory key (namespace, name)."""
        return (self.namespace, self.name)

    @property
    def terminal(self) -> bool:
        """True for Succeeded and Failed pods, which are listed apart and block nothing."""
        return self.phase == "Succeeded" or self.phase == "Failed"


_new_pod: Callable[..., Pod] = positional_constructor(Pod)


def parse_pod(cluster: str, raw: object) -> Pod:
    """Model a Pod; a malformed annotation becomes an entry in `problems`, a nameless object raises."""
    meta, name, namespace = _identity("Pod", raw, namespaced=True)
    assert type(raw) is dict
    try:
        return _parse_pod(cluster, raw, meta, name, namespace)
    except MalformedObject:
        raise
    except Exception as exc:  # a last resort: one unreadable pod must not stop a list of 50,000
        raise MalformedObject("Pod", f"{namespace}/{name}", f"unreadable ({exc})") from exc


def _parse_pod(cluster: str, raw: dict[str, Any], meta: dict[str, Any], name: str, namespace: str) -> Pod:
    # Written for speed (50,000 pods are the design load): few calls, type checks inline.
    problems: list[str] = []
    labels = freeze_labels(meta.get("labels"), problems)
    annotations = meta.get("annotations")
    if type(annotations) is not dict:
        if annotations is not None:
            problems.append("metadata.annotations is not a map, so it was ignored.")
        annotations = {}
    spec = raw.get("spec")
    if type(spec) is not dict:
        spec = {}
    status = raw.get("status")
    if type(status) is not dict:
        status = {}

    proxy_container: dict[str, Any] | None = None
    native = False
    awaiting = False
    containers = spec.get("containers")
    if type(containers) is list:
        for c in containers:
            if type(c) is dict and c.get("name") == PROXY_CONTAINER:
                proxy_container = c
                break
    if proxy_container is not None and proxy_container.get("image") == AUTO_IMAGE:
        proxy_container = None  # a gateway template's placeholder that injection never replaced: no proxy runs
        awaiting = True
    if proxy_container is None:
        init_containers = spec.get("initContainers")
        if type(init_containers) is list:
            for c in init_containers:
                if type(c) is dict and c.get("name") == PROXY_CONTAINER and c.get("restartPolicy") == "Always":
                    proxy_container = c
                    native = True
                    break
    proxy_image: str | None = None
    if proxy_container is not None:
        image = proxy_container.get("image")
        proxy_image = image if type(image) is str else None

    wanted: list[str | None] = []
    for key in _POD_ANNOTATIONS:
        value = annotations.get(key)
        if value is not None and type(value) is not str:
            problems.append(f"annotation {key} is not a string, so it was ignored.")
            value = None
        wanted.append(value)
    (
        rev_annotation,
        status_text,
        proxy_image_annotation,
        inject_annotation,
        templates_annotation,
        redirection,
        prometheus_port,
        scrape_targets,
        merge_metrics,
    ) = wanted
    cni_image: str | None = None
    if labels.get(CNI_APP_LABEL[0]) == CNI_APP_LABEL[1] and type(containers) is list:
        for c in containers:
            if type(c) is dict and c.get("name") == CNI_CONTAINER and type(c.get("image")) is str:
                cni_image = c["image"]
                break

    ready = False
    conditions = status.get("conditions")
    if type(conditions) is list:
        for cond in conditions:
            if type(cond) is dict and cond.get("type") == "Ready":
                ready = cond.get("status") == "True"
                break

    restarts = 0
    last_restart: str | None = None
    waiting: list[str] = []
    for statuses in (status.get("containerStatuses"), status.get("initContainerStatuses")):
        if type(statuses) is not list:
            continue
        for cs in statuses:
            if type(cs) is not dict:
                continue
            count = cs.get("restartCount")
            if type(count) is int:
                restarts += count
            state = cs.get("state")
            if type(state) is dict and "waiting" in state:
                reason = _map(state["waiting"]).get("reason")
                if type(reason) is str and reason not in waiting:
                    waiting.append(reason)
            if count:
                finished = _map(_map(cs.get("lastState")).get("terminated")).get("finishedAt")
                if type(finished) is str and (last_restart is None or finished > last_restart):
                    last_restart = finished

    owner_kind: str | None = None
    owner_name: str | None = None
    refs = meta.get("ownerReferences")
    if type(refs) is list and refs:
        chosen = next((r for r in refs if type(r) is dict and r.get("controller") is True), refs[0])
        if type(chosen) is dict:
            owner_kind = str(chosen.get("kind") or "")
            owner_name = str(chosen.get("name") or "")
    phase = status.get("phase")
    node = spec.get("nodeName")
    start = status.get("startTime")
    return make_pod(
        cluster,
        namespace,
        name,
        str(meta.get("uid") or ""),
        labels,
        problems,
        rev_annotation,
        status_text,
        proxy_image_annotation,
        inject_annotation,
        templates_annotation,
        proxy_container is not None,
        native,
        proxy_image,
        ready,
        restarts,
        last_restart,
        tuple(waiting),
        owner_kind,
        owner_name,
        phase if type(phase) is str else None,
        bool(meta.get("deletionTimestamp")),
        spec.get("hostNetwork") is True,
        node if type(node) is str else None,
        start if type(start) is str else None,
        awaiting_injection=awaiting,
        redirection=redirection,
        prometheus_port=prometheus_port,
        scrape_targets=scrape_targets,
        merge_metrics=merge_metrics,
        cni_image=cni_image,
    )


# The injector writes the same status annotation on every pod of a revision and template: each distinct
# text is decoded once. Values are (revision or None, problem or None).
_STATUS_REVISIONS: dict[str, tuple[str | None, str | None]] = {}
_VERSIONS: dict[str, str | None] = {}
_MEMO_LIMIT = 10_000


def _status_revision(text: str) -> tuple[str | None, str | None]:
    """The revision named by a `sidecar.istio.io/status` annotation, or the problem that hides it."""
    found = _STATUS_REVISIONS.get(text)
    if found is None:
        try:
            decoded = orjson.loads(text)
        except orjson.JSONDecodeError:
            found = (None, f"annotation {STATUS_ANNOTATION} is not valid JSON, so its revision is unknown.")
        else:
            if type(decoded) is dict:
                rev = decoded.get("revision")
                found = (rev if type(rev) is str and rev else None, None)
            else:
                found = (None, f"annotation {STATUS_ANNOTATION} is not a JSON object, so its revision is unknown.")
        if len(_STATUS_REVISIONS) >= _MEMO_LIMIT:
            _STATUS_REVISIONS.clear()
        _STATUS_REVISIONS[text] = found
    return found


def _proxy_version(image: str) -> str | None:
    if image in _VERSIONS:
        return _VERSIONS[image]
    if len(_VERSIONS) >= _MEMO_LIMIT:
        _VERSIONS.clear()
    version = _VERSIONS[image] = image_version(image)
    return version


def make_pod(
    cluster: str,
    namespace: str,
    name: str,
    uid: str,
    labels: Labels,
    problems: list[str],
    rev_annotation: str | None,
    status_annotation: str | None,
    proxy_image_annotation: str | None,
    inject_annotation: str | None,
    templates_annotation: str | None,
    has_proxy: bool,
    native_sidecar: bool,
    proxy_container_image: str | None,
    ready: bool,
    restarts: int,
    last_restart_at: str | None,
    waiting_reasons: tuple[str, ...],
    owner_kind: str | None,
    owner_name: str | None,
    phase: str | None,
    terminating: bool,
    host_network: bool,
    node_name: str | None,
    start_time: str | None,
    awaiting_injection: bool = False,
    redirection: str | None = None,
    prometheus_port: str | None = None,
    scrape_targets: str | None = None,
    merge_metrics: str | None = None,
    cni_image: str | None = None,
) -> Pod:
    """The Pod from the fields a decoder extracted (a dict walk in `parse_pod`, or typed structs).

    Every decoder hands over the same facts with the same types; the revision rules live here once.
    `problems` gathers what the decoder found wrong and is extended with what the rules find.
    """
    status_revision: str | None = None
    if status_annotation:
        status_revision, problem = _status_revision(status_annotation)
        if problem is not None:
            problems.append(problem)

    component: str | None = None
    component_image: str | None = None
    if has_proxy and (labels.get("app") == ZTUNNEL or image_repository(proxy_container_image) == ZTUNNEL):
        # The ztunnel chart names its container istio-proxy: a node agent, not a sidecar.
        component, component_image = ZTUNNEL, proxy_container_image
        has_proxy = native_sidecar = False
    elif labels.get(CNI_APP_LABEL[0]) == CNI_APP_LABEL[1]:
        component, component_image = ISTIO_CNI, cni_image

    current: str | None = None
    source: str | None = None
    proxy_image: str | None = None
    if has_proxy:
        if rev_annotation:
            current, source = rev_annotation, "annotation istio.io/rev"
        elif status_revision:
            current, source = status_revision, "annotation sidecar.istio.io/status"
        elif labels.get(REV_LABEL):
            current, source = labels[REV_LABEL], "label istio.io/rev"
        else:
            problems.append("the pod runs an istio-proxy container but carries no revision.")
        proxy_image = proxy_image_annotation or proxy_container_image
    return _new_pod(
        cluster,
        _intern(namespace),
        name,
        uid,
        labels,
        _intern(phase) if phase is not None else "Unknown",
        ready,
        terminating,
        _intern(owner_kind) if owner_kind is not None else None,
        owner_name,
        host_network,
        node_name,
        start_time,
        has_proxy,
        native_sidecar,
        proxy_image,
        _proxy_version(proxy_image) if proxy_image else None,
        _intern(current) if current else None,
        source,
        inject_annotation,
        templates_annotation,
        rev_annotation,
        restarts,
        last_restart_at,
        waiting_reasons,
        tuple(problems),
        awaiting_injection and not has_proxy,
        component,
        component_image,
        redirection == "enabled",
        prometheus_port,
        scrape_targets,
        merge_metrics,
    )


# ---------------------------------------------------------------------------------------------- Workloads


@dataclass(frozen=True, slots=True)
class Workload:
    """A pod controller (Deployment, StatefulSet, DaemonSet, ReplicaSet, Job, CronJob, Argo Rollout)."""

    cluster: str
    kind: str
    namespace: str
    name: str
    uid: str
    labels: Labels
    owner: OwnerRef | None
    template_labels: Labels
    template_annotations: Labels
    template_host_network: bool
    template_images: tuple[tuple[str, str], ...]  # (container name, image) of the pod template
    replicas: int | None
    paused: bool
    update_strategy: str | None  # RollingUpdate, Recreate, OnDelete; canary/blueGreen for a Rollout
    partition: int | None
    generation: int | None
    observed_generation: int | None
    status_replicas: int | None
    updated_replicas: int | None
    ready_replicas: int | None
    available_replicas: int | None
    workload_ref: str | None = None  # a Rollout that borrows a Deployment's template names it here
    finished: bool = False  # a Job whose Complete or Failed condition holds: it creates no more pods
    rev_annotation: str | None = None  # metadata annotation istio.io/rev (the ztunnel chart sets it)
    template_env: tuple[tuple[str, str], ...] = ()  # the ZTUNNEL_ENV variables its containers set

    @property
    def key(self) -> tuple[str, str, str]:
        """The inventory key (kind, namespace, name)."""
        return (self.kind, self.namespace, self.name)

    @property
    def template_key(self) -> tuple[object, ...]:
        """Everything about the workload that changes what its pods' replacements get, and nothing else."""
        return (
            self.owner,
            self.template_labels,
            self.template_annotations,
            self.template_host_network,
            self.paused,
            self.update_strategy,
            self.partition,
            self.workload_ref,
            self.image_of(PROXY_CONTAINER),  # a rendered proxy (not "auto") is kept on restart
        )

    def image_of(self, container: str) -> str | None:
        """The image of a named container of the pod template."""
        return next((image for name, image in self.template_images if name == container), None)


def parse_workload(cluster: str, raw: object, kind: str | None = None) -> Workload:
    """Model any pod controller; `kind` overrides the object's own (list items from the API have none)."""
    the_kind = kind or (raw.get("kind") if isinstance(raw, dict) else None) or "Workload"
    meta, name, namespace = _identity(str(the_kind), raw, namespaced=True)
    assert type(raw) is dict
    spec = _map(raw.get("spec"))
    status = _map(raw.get("status"))
    template = _map(spec.get("template"))
    if the_kind == "CronJob":
        template = _map(_map(_map(spec.get("jobTemplate")).get("spec")).get("template"))
    tmeta = _map(template.get("metadata"))
    tspec = _map(template.get("spec"))
    images = tuple(
        (str(c.get("name")), str(c.get("image")))
        for c in _list(tspec.get("containers")) + _list(tspec.get("initContainers"))
        if type(c) is dict and type(c.get("image")) is str
    )
    strategy: str | None = None
    partition: int | None = None
    paused = spec.get("paused") is True
    if the_kind == "Deployment":
        strategy = _str(_map(spec.get("strategy")).get("type")) or "RollingUpdate"
    elif the_kind in ("StatefulSet", "DaemonSet"):
        update = _map(spec.get("updateStrategy"))
        strategy = _str(update.get("type")) or "RollingUpdate"
        partition = _int(_map(update.get("rollingUpdate")).get("partition"))
    elif the_kind == "Rollout":
        rollout_strategy = _map(spec.get("strategy"))
        strategy = "blueGreen" if "blueGreen" in rollout_strategy else "canary"
    elif the_kind == "CronJob":
        paused = spec.get("suspend") is True

    replicas = _int(spec.get("replicas"))
    status_replicas = _int(status.get("replicas"))
    updated = _int(status.get("updatedReplicas"))
    ready = _int(status.get("readyReplicas"))
    available = _int(status.get("availableReplicas"))
    if the_kind == "DaemonSet":
        replicas = status_replicas = _int(status.get("desiredNumberScheduled"))
        updated = _int(status.get("updatedNumberScheduled"))
        ready = _int(status.get("numberReady"))
        available = _int(status.get("numberAvailable"))
    elif replicas is None and the_kind in ("Deployment", "StatefulSet", "ReplicaSet", "Rollout"):
        replicas = 1
    ref = _map(spec.get("workloadRef"))
    env = tuple(
        (e["name"], e["value"])
        for c in _list(tspec.get("containers"))
        if type(c) is dict
        for e in _list(c.get("env"))
        if type(e) is dict and e.get("name") in ZTUNNEL_ENV and type(e.get("value")) is str
    )
    finished = the_kind == "Job" and any(
        type(c) is dict and c.get("type") in ("Complete", "Failed") and c.get("status") == "True"
        for c in _list(status.get("conditions"))
    )
    return _new_workload(
        cluster=cluster,
        kind=str(the_kind),
        namespace=namespace,
        name=name,
        uid=str(meta.get("uid") or ""),
        labels=freeze_labels(meta.get("labels")),
        owner=_controller(meta),
        template_labels=freeze_labels(tmeta.get("labels")),
        template_annotations=freeze_labels(tmeta.get("annotations")),
        template_host_network=tspec.get("hostNetwork") is True,
        template_images=images,
        replicas=replicas,
        paused=paused,
        update_strategy=strategy,
        partition=partition,
        generation=_int(meta.get("generation")),
        observed_generation=_int(status.get("observedGeneration")),
        status_replicas=status_replicas,
        updated_replicas=updated,
        ready_replicas=ready,
        available_replicas=available,
        workload_ref=f"{ref.get('kind')}/{ref.get('name')}" if ref.get("name") else None,
        finished=finished,
        rev_annotation=_str(_map(meta.get("annotations")).get(REV_LABEL)),
        template_env=env,
    )


#: Every workload of a list is made here (tens of thousands of ReplicaSets): set slot by slot.
_new_workload: Callable[..., Workload] = positional_constructor(Workload)


# ---------------------------------------------------------------------------------------------- Webhooks


@dataclass(frozen=True, slots=True)
class WebhookRule:
    """One admission rule: the operations and resources a webhook is called for."""

    operations: tuple[str, ...]
    api_groups: tuple[str, ...]
    api_versions: tuple[str, ...]
    resources: tuple[str, ...]
    scope: str

    def covers_pod_create(self) -> bool:
        """True when the API server would call the webhook for a pod CREATE (core/v1 `pods`)."""
        return (
            ("CREATE" in self.operations or "*" in self.operations)
            and ("" in self.api_groups or "*" in self.api_groups)
            and ("v1" in self.api_versions or "*" in self.api_versions)
            and ("pods" in self.resources or "*" in self.resources)
            and self.scope in ("*", "Namespaced")
        )


DEACTIVATED_KEY = "istio.io/deactivated"


@dataclass(frozen=True, slots=True)
class Webhook:
    """One webhook of a Mutating or Validating configuration, with its selectors parsed."""

    name: str
    namespace_selector: LabelSelector
    object_selector: LabelSelector
    service_namespace: str | None
    service_name: str | None
    service_path: str | None
    url: str | None
    failure_policy: str
    rules: tuple[WebhookRule, ...]
    has_match_conditions: bool = False

    @property
    def service(self) -> str | None:
        """The called Service as `ns/name`, None for a URL webhook."""
        if self.service_name is None:
            return None
        return f"{self.service_namespace}/{self.service_name}"

    @property
    def deactivated(self) -> bool:
        """True for a webhook istioctl switched off with `istio.io/deactivated: never-match` selectors."""
        for selector in (self.namespace_selector, self.object_selector):
            for req in selector.requirements:
                if req.key == DEACTIVATED_KEY and req.operator == "In":
                    return True
        return False

    @property
    def covers_pod_create(self) -> bool:
        """True when any rule makes the API server call this webhook for a new pod."""
        return any(rule.covers_pod_create() for rule in self.rules)


@dataclass(frozen=True, slots=True)
class WebhookConfiguration:
    """A MutatingWebhookConfiguration or ValidatingWebhookConfiguration (cluster-scoped)."""

    cluster: str
    kind: str
    name: str
    labels: Labels
    webhooks: tuple[Webhook, ...]

    @property
    def key(self) -> str:
        """The inventory key of a cluster-scoped object."""
        return self.name

    @property
    def revision(self) -> str | None:
        """The `istio.io/rev` label (which a tag configuration sets to its real revision)."""
        return self.labels.get(REV_LABEL)

    @property
    def tag(self) -> str | None:
        """The `istio.io/tag` label of a revision-tag configuration."""
        return self.labels.get(TAG_LABEL)

    @property
    def is_istio_injector(self) -> bool:
        """True for Istio sidecar-injector configurations (a revision label, or chart webhook names)."""
        if self.kind != "MutatingWebhookConfiguration":
            return False
        if REV_LABEL in self.labels:
            return True
        return any(w.name.endswith("sidecar-injector.istio.io") for w in self.webhooks)


def _parse_webhook(raw: object, kind: str, config: str) -> Webhook:
    hook = _map(raw)
    name = _str(hook.get("name")) or ""
    client = _map(hook.get("clientConfig"))
    service = _map(client.get("service"))
    rules = tuple(
        WebhookRule(
            tuple(str(x) for x in _list(r.get("operations"))),
            tuple(str(x) for x in _list(r.get("apiGroups"))),
            tuple(str(x) for x in _list(r.get("apiVersions"))),
            tuple(str(x) for x in _list(r.get("resources"))),
            _str(r.get("scope")) or "*",
        )
        for r in _list(hook.get("rules"))
        if type(r) is dict
    )
    return Webhook(
        name=name,
        namespace_selector=_selector(hook.get("namespaceSelector"), kind, config, f"{name}.namespaceSelector"),
        object_selector=_selector(hook.get("objectSelector"), kind, config, f"{name}.objectSelector"),
        service_namespace=_str(service.get("namespace")) if service else None,
        service_name=_str(service.get("name")) if service else None,
        service_path=_str(service.get("path")) if service else None,
        url=_str(client.get("url")),
        failure_policy=_str(hook.get("failurePolicy")) or "Fail",
        rules=rules,
        has_match_conditions=bool(_list(hook.get("matchConditions"))),
    )


def parse_webhook_configuration(cluster: str, raw: object, kind: str | None = None) -> WebhookConfiguration:
    """Model a Mutating/ValidatingWebhookConfiguration; a malformed selector makes the object malformed."""
    the_kind = kind or (raw.get("kind") if isinstance(raw, dict) else None) or "MutatingWebhookConfiguration"
    meta, name, _ = _identity(str(the_kind), raw, namespaced=False)
    assert type(raw) is dict
    hooks = tuple(_parse_webhook(h, str(the_kind), name) for h in _list(raw.get("webhooks")))
    return WebhookConfiguration(cluster, str(the_kind), name, freeze_labels(meta.get("labels")), hooks)


# ---------------------------------------------------------------------------------------------- Service


@dataclass(frozen=True, slots=True)
class Service:
    """A Service: enough to know whether a webhook's target exists and which tag or revision it serves."""

    cluster: str
    namespace: str
    name: str
    labels: Labels
    selector: Labels

    @property
    def key(self) -> tuple[str, str]:
        """The inventory key (namespace, name)."""
        return (self.namespace, self.name)


def parse_service(cluster: str, raw: object) -> Service:
    """Model a Service."""
    meta, name, namespace = _identity("Service", raw, namespaced=True)
    assert type(raw) is dict
    selector = freeze_labels(_map(raw.get("spec")).get("selector"))
    return Service(cluster, namespace, name, freeze_labels(meta.get("labels")), selector)


# ------------------------------------------------------------------------------------- injector ConfigMap

INJECTOR_CONFIGMAP = "istio-sidecar-injector"

# The top-level keys of `data.config` the rules read; the (large) templates are never parsed.
_CONFIG_KEYS = ("policy", "neverInjectSelector", "alwaysInjectSelector", "defaultTemplates")
_TOP_KEY = re.compile(r"^([A-Za-z][A-Za-z0-9_]*):", re.MULTILINE)
_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass(frozen=True, slots=True)
class InjectorConfig:
    """The injector settings of a revision (`istio-sidecar-injector[-R]`): policy, selectors, proxy image."""

    cluster: str
    namespace: str
    name: str
    revision: str
    policy: str
    never_inject: tuple[LabelSelector, ...]
    always_inject: tuple[LabelSelector, ...]
    default_templates: tuple[str, ...]
    hub: str | None
    tag: str | None
    variant: str | None
    proxy_image: str | None
    enable_namespaces_by_default: bool
    problems: tuple[str, ...] = ()

    @property
    def key(self) -> tuple[str, str]:
        """The inventory key (namespace, name)."""
        return (self.namespace, self.name)

    @property
    def proxy_version(self) -> str | None:
        """The version of the proxy image this revision injects."""
        return image_version(self.proxy_image)

    @property
    def injection_key(self) -> tuple[object, ...]:
        """The fields that change which pods get a sidecar."""
        return (self.revision, self.policy, self.never_inject, self.always_inject)


def is_injector_configmap(name: str) -> bool:
    """True for `istio-sidecar-injector` and `istio-sidecar-injector-<revision>`."""
    return name == INJECTOR_CONFIGMAP or name.startswith(INJECTOR_CONFIGMAP + "-")


def _config_blocks(text: str) -> dict[str, object]:
    """Parse only the wanted top-level keys of the injector config YAML (the templates are tens of KB)."""
    starts = [(m.start(), m.group(1)) for m in _TOP_KEY.finditer(text)]
    wanted: dict[str, object] = {}
    for i, (start, key) in enumerate(starts):
        if key not in _CONFIG_KEYS:
            continue
        end = starts[i + 1][0] if i + 1 < len(starts) else len(text)
        loaded = yaml.load(text[start:end], Loader=_Loader)
        if isinstance(loaded, dict):
            wanted[key] = loaded.get(key)
    return wanted


def parse_injector_configmap(cluster: str, raw: object) -> InjectorConfig | None:
    """Model an injector ConfigMap, None for others; a broken field is a problem, not an error."""
    meta, name, namespace = _identity("ConfigMap", raw, namespaced=True)
    if not is_injector_configmap(name):
        return None
    assert type(raw) is dict
    labels = freeze_labels(meta.get("labels"))
    data = _map(raw.get("data"))
    problems: list[str] = []

    values: dict[str, Any] = {}
    values_text = data.get("values")
    if type(values_text) is str and values_text:
        try:
            decoded = orjson.loads(values_text)
            values = decoded if type(decoded) is dict else {}
        except orjson.JSONDecodeError:
            problems.append("data.values is not valid JSON, so the injected proxy image is unknown.")
    glob = _map(values.get("global"))
    proxy = _map(glob.get("proxy"))
    hub = _str(glob.get("hub"))
    tag = glob.get("tag")
    tag_text = str(tag) if tag not in (None, "") else None
    variant = _str(glob.get("variant")) or None
    image = _str(proxy.get("image"))
    proxy_image: str | None = None
    if image and "/" in image:
        proxy_image = image
    elif image and hub and tag_text:
        proxy_image = f"{hub}/{image}:{tag_text}" + (f"-{variant}" if variant else "")

    revision = labels.get(REV_LABEL) or _str(values.get("revision")) or ""
    if not revision:
        revision = name[len(INJECTOR_CONFIGMAP) + 1 :] if name != INJECTOR_CONFIGMAP else ""
    revision = revision or "default"

    config: dict[str, object] = {}
    config_text = data.get("config")
    if type(config_text) is str and config_text:
        try:
            config = _config_blocks(config_text)
        except yaml.YAMLError:
            problems.append("data.config is not valid YAML, so injection policy defaults to enabled.")

    def selectors(key: str) -> tuple[LabelSelector, ...]:
        parsed: list[LabelSelector] = []
        for item in _list(config.get(key)):
            try:
                parsed.append(LabelSelector.from_dict(item))
            except SelectorError as exc:
                problems.append(f"data.config {key} has an invalid selector ({exc}); istiod skips it too.")
        return tuple(parsed)

    policy = config.get("policy")
    injector_webhook = _map(values.get("sidecarInjectorWebhook"))
    return InjectorConfig(
        cluster=cluster,
        namespace=namespace,
        name=name,
        revision=revision,
        policy=str(policy) if policy is not None else "enabled",
        never_inject=selectors("neverInjectSelector"),
        always_inject=selectors("alwaysInjectSelector"),
        default_templates=tuple(str(t) for t in _list(config.get("defaultTemplates"))) or ("sidecar",),
        hub=hub,
        tag=tag_text,
        variant=variant,
        proxy_image=proxy_image,
        enable_namespaces_by_default=injector_webhook.get("enableNamespacesByDefault") is True,
        problems=tuple(problems),
    )


# ---------------------------------------------------------------------------------------- PDB and Gateway


@dataclass(frozen=True, slots=True)
class PodDisruptionBudget:
    """A PodDisruptionBudget: which pods it guards and how many may go now."""

    cluster: str
    namespace: str
    name: str
    selector: LabelSelector
    min_available: int | str | None
    max_unavailable: int | str | None
    disruptions_allowed: int | None
    current_healthy: int | None
    desired_healthy: int | None
    expected_pods: int | None

    @property
    def key(self) -> tuple[str, str]:
        """The inventory key (namespace, name)."""
        return (self.namespace, self.name)


def _int_or_percent(value: object) -> int | str | None:
    if type(value) is int or type(value) is str:
        return value
    return None


def parse_pdb(cluster: str, raw: object) -> PodDisruptionBudget:
    """Model a PodDisruptionBudget (policy/v1)."""
    _, name, namespace = _identity("PodDisruptionBudget", raw, namespaced=True)
    assert type(raw) is dict
    spec = _map(raw.get("spec"))
    status = _map(raw.get("status"))
    return PodDisruptionBudget(
        cluster=cluster,
        namespace=namespace,
        name=name,
        selector=_selector(spec.get("selector"), "PodDisruptionBudget", name, "spec.selector"),
        min_available=_int_or_percent(spec.get("minAvailable")),
        max_unavailable=_int_or_percent(spec.get("maxUnavailable")),
        disruptions_allowed=_int(status.get("disruptionsAllowed")),
        current_healthy=_int(status.get("currentHealthy")),
        desired_healthy=_int(status.get("desiredHealthy")),
        expected_pods=_int(status.get("expectedPods")),
    )


@dataclass(frozen=True, slots=True)
class Gateway:
    """A Gateway API `Gateway` (gateway.networking.k8s.io): a gateway or waypoint istiod deploys."""

    cluster: str
    namespace: str
    name: str
    gateway_class: str
    labels: Labels

    @property
    def key(self) -> tuple[str, str]:
        """The inventory key (namespace, name)."""
        return (self.namespace, self.name)


def parse_gateway(cluster: str, raw: object) -> Gateway:
    """Model a Gateway API Gateway."""
    meta, name, namespace = _identity("Gateway", raw, namespaced=True)
    assert type(raw) is dict
    spec = _map(raw.get("spec"))
    return Gateway(
        cluster, namespace, name, _str(spec.get("gatewayClassName")) or "", freeze_labels(meta.get("labels"))
    )


# ---------------------------------------------------------------------------------------------- dispatch

Model = Namespace | Pod | Workload | WebhookConfiguration | Service | InjectorConfig | PodDisruptionBudget | Gateway


def parse_object(cluster: str, raw: object, kind: str | None = None) -> Model | None:
    """Model any object by its kind; None for kinds (or ConfigMaps) the domain does not use."""
    the_kind = kind or (raw.get("kind") if isinstance(raw, dict) else None)
    if the_kind == "Pod":
        return parse_pod(cluster, raw)
    if the_kind == "Namespace":
        return parse_namespace(cluster, raw)
    if the_kind in WORKLOAD_KINDS:
        return parse_workload(cluster, raw, str(the_kind))
    if the_kind in ("MutatingWebhookConfiguration", "ValidatingWebhookConfiguration"):
        return parse_webhook_configuration(cluster, raw, str(the_kind))
    if the_kind == "Service":
        return parse_service(cluster, raw)
    if the_kind == "ConfigMap":
        return parse_injector_configmap(cluster, raw)
    if the_kind == "PodDisruptionBudget":
        return parse_pdb(cluster, raw)
    if the_kind == "Gateway":
        api_version = raw.get("apiVersion") if isinstance(raw, dict) else None
        if isinstance(api_version, str) and not api_version.startswith("gateway.networking.k8s.io"):
            return None  # Istio's own networking.istio.io Gateway is configuration, not a deployment
        return parse_gateway(cluster, raw)
    if the_kind is None and not isinstance(raw, dict):
        raise MalformedObject("?", "", "the object is not a mapping")
    return None


def kind_of(model: Model) -> str:
    """The Kubernetes kind a model stands for (the key `Inventory.apply` uses)."""
    if isinstance(model, Workload | WebhookConfiguration):
        return model.kind
    if isinstance(model, InjectorConfig):
        return "ConfigMap"
    if isinstance(model, PodDisruptionBudget):
        return "PodDisruptionBudget"
    return type(model).__name__
