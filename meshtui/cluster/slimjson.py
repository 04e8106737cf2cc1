"""Decode pod list pages keeping only the fields the domain reads, skipping the rest in C.

A 50,000-pod list is ~300 MB of JSON; building every nested dict of it costs seconds, while the domain
needs a few dozen fields a pod. msgspec skips unknown fields without creating Python objects for them.

Two decoders:

- `decode_pod_page` (the watch's list path) decodes a page straight into typed structs, each field with
  the one JSON type the domain accepts, and models every pod from them with `make_pod`: no dict is built
  for a pod. A page holding any value of another type (a number where a string belongs, a list where a
  map belongs) does not fit and is decoded in full and parsed by `parse_pod` instead, so odd objects are
  still modelled (and their problems reported) exactly as before.
- `decode_pod_list` gives plain dicts with only the fields the domain reads (for readers that parse dicts).
- `decode_workload_list` gives a workload list page as plain dicts holding only the keys `parse_workload`
  reads, each value as the JSON has it (and no key the JSON lacks), so the parser gives the same models.
"""

from __future__ import annotations

from typing import Any, TypedDict, cast

import msgspec
import orjson

from meshtui.cluster.reflector import ListPage, ObjKey, parse_page, problem_text
from meshtui.domain.objects import (
    CNI_APP_LABEL,
    CNI_CONTAINER,
    EMPTY_LABELS,
    PROXY_CONTAINER,
    MalformedObject,
    Pod,
    freeze_labels,
    make_pod,
    parse_pod,
)

# ---------------------------------------------------------------------------------------- plain dicts


class _Container(msgspec.Struct):
    name: Any = None
    image: Any = None
    restartPolicy: Any = None


class _Condition(msgspec.Struct):
    type: Any = None
    status: Any = None


class _ContainerStatus(msgspec.Struct):
    restartCount: Any = None
    state: Any = None
    lastState: Any = None


class _OwnerRef(msgspec.Struct):
    kind: Any = None
    name: Any = None
    controller: Any = None


class _Meta(msgspec.Struct):
    name: Any = None
    namespace: Any = None
    uid: Any = None
    resourceVersion: Any = None
    labels: Any = None
    annotations: Any = None
    deletionTimestamp: Any = None
    ownerReferences: list[_OwnerRef] | None = None


class _Spec(msgspec.Struct):
    containers: list[_Container] | None = None
    initContainers: list[_Container] | None = None
    hostNetwork: Any = None
    nodeName: Any = None


class _Status(msgspec.Struct):
    phase: Any = None
    conditions: list[_Condition] | None = None
    containerStatuses: list[_ContainerStatus] | None = None
    initContainerStatuses: list[_ContainerStatus] | None = None
    startTime: Any = None


class _Pod(msgspec.Struct):
    metadata: _Meta | None = None
    spec: _Spec | None = None
    status: _Status | None = None


class _ListMeta(msgspec.Struct):
    resourceVersion: Any = None
    # `continue` is a Python keyword: renamed on the wire.
    cont: Any = msgspec.field(default=None, name="continue")


class _PodList(msgspec.Struct):
    metadata: _ListMeta | None = None
    items: list[_Pod] | None = None


_DECODER = msgspec.json.Decoder(_PodList)


def decode_pod_list(data: bytes) -> dict[str, Any]:
    """A pod list page as plain dicts with only the fields the domain reads (full decode if it does not fit)."""
    try:
        page = _DECODER.decode(data)
    except (msgspec.ValidationError, msgspec.DecodeError):
        result: dict[str, Any] = orjson.loads(data)
        return result
    meta = page.metadata or _ListMeta()
    return {
        "metadata": {"resourceVersion": meta.resourceVersion, "continue": meta.cont},
        "items": msgspec.to_builtins(page.items or []),
    }


# ---------------------------------------------------------------------------------------- typed structs
# Every field has the one type `parse_pod` accepts without a problem; anything else fails the page's
# validation and sends it to `parse_pod`. gc=False: short-lived and acyclic, the collector need not see them.


class _TAnnotations(msgspec.Struct, gc=False):
    rev: str | None = msgspec.field(default=None, name="istio.io/rev")
    status: str | None = msgspec.field(default=None, name="sidecar.istio.io/status")
    proxy_image: str | None = msgspec.field(default=None, name="sidecar.istio.io/proxyImage")
    inject: str | None = msgspec.field(default=None, name="sidecar.istio.io/inject")
    templates: str | None = msgspec.field(default=None, name="inject.istio.io/templates")
    redirection: str | None = msgspec.field(default=None, name="ambient.istio.io/redirection")
    prometheus_port: str | None = msgspec.field(default=None, name="prometheus.io/port")
    scrape_targets: str | None = msgspec.field(default=None, name="prometheus.istio.io/scrape-targets")
    merge_metrics: str | None = msgspec.field(default=None, name="prometheus.istio.io/merge-metrics")


class _TOwnerRef(msgspec.Struct, gc=False):
    kind: str | None = None
    name: str | None = None
    controller: bool | None = None


class _TMeta(msgspec.Struct, gc=False):
    name: str | None = None
    namespace: str | None = None
    uid: str | None = None
    labels: dict[str, str] | None = None
    annotations: _TAnnotations | None = None
    deletionTimestamp: str | None = None
    ownerReferences: list[_TOwnerRef] | None = None


class _TContainer(msgspec.Struct, gc=False):
    name: str | None = None
    image: str | None = None
    restartPolicy: str | None = None


class _TSpec(msgspec.Struct, gc=False):
    containers: list[_TContainer] | None = None
    initContainers: list[_TContainer] | None = None
    hostNetwork: bool | None = None
    nodeName: str | None = None


class _TCondition(msgspec.Struct, gc=False):
    type: str | None = None
    status: str | None = None


class _TWaiting(msgspec.Struct, gc=False):
    reason: str | None = None


class _TState(msgspec.Struct, gc=False):
    waiting: _TWaiting | None = None


class _TTerminated(msgspec.Struct, gc=False):
    finishedAt: str | None = None


class _TLastState(msgspec.Struct, gc=False):
    terminated: _TTerminated | None = None


class _TContainerStatus(msgspec.Struct, gc=False):
    restartCount: int | None = None
    state: _TState | None = None
    lastState: _TLastState | None = None


class _TStatus(msgspec.Struct, gc=False):
    phase: str | None = None
    conditions: list[_TCondition] | None = None
    containerStatuses: list[_TContainerStatus] | None = None
    initContainerStatuses: list[_TContainerStatus] | None = None
    startTime: str | None = None


class _TPod(msgspec.Struct, gc=False):
    metadata: _TMeta | None = None
    spec: _TSpec | None = None
    status: _TStatus | None = None


class _TListMeta(msgspec.Struct, gc=False):
    resourceVersion: str | None = None
    cont: str | None = msgspec.field(default=None, name="continue")


class _TPodList(msgspec.Struct, gc=False):
    metadata: _TListMeta | None = None
    items: list[_TPod] | None = None


_TYPED_DECODER = msgspec.json.Decoder(_TPodList)


def decode_pod_page(cluster: str, data: bytes) -> ListPage[Pod]:
    """A pod list page modelled straight from typed structs (through `parse_pod` if it does not fit)."""
    try:
        page = _TYPED_DECODER.decode(data)
    except (msgspec.ValidationError, msgspec.DecodeError):
        return parse_page(cluster, orjson.loads(data), parse_pod)
    models: dict[ObjKey, Pod] = {}
    problems: list[tuple[ObjKey, str]] = []
    for item in page.items or ():
        meta = item.metadata
        key = (meta.namespace or "", meta.name or "?") if meta is not None else ("", "?")
        try:
            models[key] = _model(cluster, item, meta)
        except MalformedObject as exc:
            problems.append((key, problem_text(exc)))
        except Exception as exc:  # as parse_pod: one unreadable pod must not stop a list of 50,000
            unreadable = MalformedObject("Pod", f"{key[0]}/{key[1]}", f"unreadable ({exc})")
            problems.append((key, problem_text(unreadable)))
    lm = page.metadata
    if lm is None:
        return ListPage("", "", models, problems)
    return ListPage(lm.resourceVersion or "", lm.cont or "", models, problems)


def _model(cluster: str, item: _TPod, meta: _TMeta | None) -> Pod:
    """The Pod `parse_pod` gives for the same JSON: the same checks, in the same order, on typed fields."""
    if meta is None:
        raise MalformedObject("Pod", "", "the object has no metadata")
    name = meta.name
    if not name:
        raise MalformedObject("Pod", "", "the object has no metadata.name")
    namespace = meta.namespace
    if not namespace:
        raise MalformedObject("Pod", name, "the object has no metadata.namespace")
    labels = freeze_labels(meta.labels) if meta.labels else EMPTY_LABELS

    proxy: _TContainer | None = None
    native = False
    awaiting = False
    cni_image: str | None = None
    host_network = False
    node: str | None = None
    spec = item.spec
    if spec is not None:
        if spec.containers:
            for c in spec.containers:
                if c.name == PROXY_CONTAINER:
                    proxy = c
                    break
        if proxy is not None and proxy.image == "auto":
            proxy = None  # a gateway template's placeholder that injection never replaced: no proxy runs
            awaiting = True
        if proxy is None and spec.initContainers:
            for c in spec.initContainers:
                if c.name == PROXY_CONTAINER and c.restartPolicy == "Always":
                    proxy = c
                    native = True
                    break
        host_network = spec.hostNetwork is True
        node = spec.nodeName
        if labels.get(CNI_APP_LABEL[0]) == CNI_APP_LABEL[1] and spec.containers:
            cni_image = next((c.image for c in spec.containers if c.name == CNI_CONTAINER), None)

    ready = False
    restarts = 0
    last_restart: str | None = None
    waiting: list[str] = []
    phase: str | None = None
    start: str | None = None
    status = item.status
    if status is not None:
        phase = status.phase
        start = status.startTime
        if status.conditions:
            for cond in status.conditions:
                if cond.type == "Ready":
                    ready = cond.status == "True"
                    break
        for statuses in (status.containerStatuses, status.initContainerStatuses):
            if not statuses:
                continue
            for cs in statuses:
                count = cs.restartCount
                if count is not None:
                    restarts += count
                state = cs.state
                if state is not None and state.waiting is not None:
                    reason = state.waiting.reason
                    if reason is not None and reason not in waiting:
                        waiting.append(reason)
                if count:
                    last = cs.lastState
                    terminated = last.terminated if last is not None else None
                    finished = terminated.finishedAt if terminated is not None else None
                    if finished is not None and (last_restart is None or finished > last_restart):
                        last_restart = finished

    owner_kind: str | None = None
    owner_name: str | None = None
    refs = meta.ownerReferences
    if refs:
        chosen = refs[0]
        for ref in refs:
            if ref.controller is True:
                chosen = ref
                break
        owner_kind = chosen.kind or ""
        owner_name = chosen.name or ""

    ann = meta.annotations
    return make_pod(
        cluster,
        namespace,
        name,
        meta.uid or "",
        labels,
        [],
        ann.rev if ann is not None else None,
        ann.status if ann is not None else None,
        ann.proxy_image if ann is not None else None,
        ann.inject if ann is not None else None,
        ann.templates if ann is not None else None,
        proxy is not None,
        native,
        proxy.image if proxy is not None else None,
        ready,
        restarts,
        last_restart,
        tuple(waiting),
        owner_kind,
        owner_name,
        phase,
        bool(meta.deletionTimestamp),
        host_network,
        node,
        start,
        awaiting_injection=awaiting,
        redirection=ann.redirection if ann is not None else None,
        prometheus_port=ann.prometheus_port if ann is not None else None,
        scrape_targets=ann.scrape_targets if ann is not None else None,
        merge_metrics=ann.merge_metrics if ann is not None else None,
        cni_image=cni_image,
    )


# ---------------------------------------------------------------------------------------- workloads
# TypedDicts decode straight into dicts, skipping unknown keys in C: a key the JSON lacks stays absent and a
# value keeps its JSON type (Any), so `parse_workload` reads exactly what it would from the full JSON. An
# object or list the parser walks into must be one (or null); a page where it is not is decoded in full.


class _WContainer(TypedDict, total=False):
    name: Any
    image: Any
    env: Any


class _WPodSpec(TypedDict, total=False):
    containers: list[_WContainer] | None
    initContainers: list[_WContainer] | None
    hostNetwork: Any


class _WTemplateMeta(TypedDict, total=False):
    labels: Any
    annotations: Any


class _WTemplate(TypedDict, total=False):
    metadata: _WTemplateMeta | None
    spec: _WPodSpec | None


class _WJobSpec(TypedDict, total=False):
    template: _WTemplate | None


class _WJobTemplate(TypedDict, total=False):
    spec: _WJobSpec | None


class _WSpec(TypedDict, total=False):
    template: _WTemplate | None
    jobTemplate: _WJobTemplate | None
    paused: Any
    suspend: Any
    strategy: Any
    updateStrategy: Any
    replicas: Any
    workloadRef: Any


class _WStatus(TypedDict, total=False):
    replicas: Any
    updatedReplicas: Any
    readyReplicas: Any
    availableReplicas: Any
    desiredNumberScheduled: Any
    updatedNumberScheduled: Any
    numberReady: Any
    numberAvailable: Any
    observedGeneration: Any
    conditions: Any


class _WMeta(TypedDict, total=False):
    name: Any
    namespace: Any
    uid: Any
    labels: Any
    annotations: Any
    generation: Any
    ownerReferences: Any


class _WItem(TypedDict, total=False):
    kind: Any
    apiVersion: Any
    metadata: _WMeta | None
    spec: _WSpec | None
    status: _WStatus | None


class _WList(TypedDict, total=False):
    metadata: Any
    items: list[_WItem] | None


_WORKLOAD_DECODER = msgspec.json.Decoder(_WList)


def decode_workload_list(data: bytes) -> dict[str, Any]:
    """A workload list page as plain dicts holding only what `parse_workload` reads (in full if odd)."""
    try:
        page = cast("dict[str, Any]", _WORKLOAD_DECODER.decode(data))
    except (msgspec.ValidationError, msgspec.DecodeError):
        result: dict[str, Any] = orjson.loads(data)
        return result
    return page
