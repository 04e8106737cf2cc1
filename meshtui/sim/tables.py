"""Server-side Tables (`as=Table;g=meta.k8s.io;v=v1`): the columns kubectl prints, computed by the server.

`kubectl get` asks for Tables and prints what it gets; the pod columns follow kubectl's own printer
(READY counts native sidecars, STATUS shows Init:/waiting reasons and Terminating) so the sim prints
what a real cluster prints.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

Obj = dict[str, Any]
Column = tuple[str, str, int, str]  # name, type, priority, description
Printer = tuple[tuple[Column, ...], Callable[[Obj, datetime], list[Any]]]

_NAME: Column = ("Name", "string", 0, "Name must be unique within a namespace.")
_AGE: Column = (
    "Age",
    "string",
    0,
    "CreationTimestamp is a timestamp representing the server time when this object was created.",
)


def human_duration(seconds: float) -> str:
    """kubectl's HumanDuration: `45s`, `3m12s`, `95m`, `5h3m`, `20h`, `3d4h`, `40d`, `2y10d`."""
    s = int(seconds)
    if s < -1:
        return "<invalid>"
    if s < 0:
        return "0s"
    if s < 120:
        return f"{s}s"
    minutes = s // 60
    if minutes < 10:
        sec = s % 60
        return f"{minutes}m" if sec == 0 else f"{minutes}m{sec}s"
    if minutes < 180:
        return f"{minutes}m"
    hours = s // 3600
    if hours < 8:
        m = minutes % 60
        return f"{hours}h" if m == 0 else f"{hours}h{m}m"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        h = hours % 24
        return f"{hours // 24}d" if h == 0 else f"{hours // 24}d{h}h"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        dy = (hours // 24) % 365
        return f"{hours // 24 // 365}y" if dy == 0 else f"{hours // 24 // 365}y{dy}d"
    return f"{hours // 24 // 365}y"


def _parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def _age(obj: Obj, now: datetime) -> str:
    created = _parse_time((obj.get("metadata") or {}).get("creationTimestamp"))
    return "<unknown>" if created is None else human_duration((now - created).total_seconds())


def _name(obj: Obj) -> str:
    return str((obj.get("metadata") or {}).get("name", ""))


# -- pods ---------------------------------------------------------------------------------------------


def _restartable(container: Obj | None) -> bool:
    return bool(container) and container.get("restartPolicy") == "Always"  # type: ignore[union-attr]


def pod_cells(pod: Obj, now: datetime) -> list[Any]:
    """NAME READY STATUS RESTARTS AGE IP NODE NOMINATED-NODE READINESS-GATES, as kubectl's printPod."""
    spec = pod.get("spec") or {}
    status = pod.get("status") or {}
    meta = pod.get("metadata") or {}
    containers = spec.get("containers") or []
    init_specs = {c.get("name"): c for c in spec.get("initContainers") or []}
    total = len(containers) + sum(1 for c in init_specs.values() if _restartable(c))
    ready = 0
    restarts = 0
    last_restart: datetime | None = None
    reason = status.get("reason") or status.get("phase") or ""

    def note_restart(cs: Obj) -> None:
        nonlocal last_restart
        finished = _parse_time(((cs.get("lastState") or {}).get("terminated") or {}).get("finishedAt"))
        if finished and (last_restart is None or finished > last_restart):
            last_restart = finished

    initializing = False
    sidecar_restarts = 0
    init_statuses = status.get("initContainerStatuses") or []
    for i, cs in enumerate(init_statuses):
        restarts += int(cs.get("restartCount") or 0)
        note_restart(cs)
        state = cs.get("state") or {}
        if _restartable(init_specs.get(cs.get("name"))):
            sidecar_restarts += int(cs.get("restartCount") or 0)
            if cs.get("started"):
                if cs.get("ready"):
                    ready += 1
                continue
        term = state.get("terminated")
        waiting = state.get("waiting")
        if term is not None and int(term.get("exitCode") or 0) == 0:
            continue
        if term is not None:
            if term.get("reason"):
                reason = "Init:" + term["reason"]
            elif term.get("signal"):
                reason = f"Init:Signal:{term['signal']}"
            else:
                reason = f"Init:ExitCode:{term.get('exitCode')}"
        elif waiting is not None and waiting.get("reason") and waiting["reason"] != "PodInitializing":
            reason = "Init:" + waiting["reason"]
        else:
            reason = f"Init:{i}/{len(init_specs)}"
        initializing = True
        break
    initialized = any(
        c.get("type") == "Initialized" and c.get("status") == "True" for c in status.get("conditions") or []
    )
    if not initializing or initialized:
        restarts = sidecar_restarts
        has_running = False
        for cs in reversed(status.get("containerStatuses") or []):
            restarts += int(cs.get("restartCount") or 0)
            note_restart(cs)
            state = cs.get("state") or {}
            waiting = state.get("waiting")
            term = state.get("terminated")
            if waiting is not None and waiting.get("reason"):
                reason = waiting["reason"]
            elif term is not None and term.get("reason"):
                reason = term["reason"]
            elif term is not None:
                signal = term.get("signal")
                reason = f"Signal:{signal}" if signal else f"ExitCode:{term.get('exitCode')}"
            elif cs.get("ready") and state.get("running") is not None:
                has_running = True
                ready += 1
        if reason == "Completed" and has_running:
            pod_ready = any(
                c.get("type") == "Ready" and c.get("status") == "True" for c in status.get("conditions") or []
            )
            reason = "Running" if pod_ready else "NotReady"
    if meta.get("deletionTimestamp"):
        if status.get("reason") == "NodeLost":
            reason = "Unknown"
        elif status.get("phase") not in ("Succeeded", "Failed"):
            reason = "Terminating"
    restarts_cell = str(restarts)
    if restarts and last_restart is not None:
        restarts_cell = f"{restarts} ({human_duration((now - last_restart).total_seconds())} ago)"
    gates = spec.get("readinessGates") or []
    if gates:
        conds = {c.get("type"): c.get("status") for c in status.get("conditions") or []}
        gates_cell = f"{sum(1 for g in gates if conds.get(g.get('conditionType')) == 'True')}/{len(gates)}"
    else:
        gates_cell = "<none>"
    return [
        _name(pod),
        f"{ready}/{total}",
        reason,
        restarts_cell,
        _age(pod, now),
        status.get("podIP") or "<none>",
        spec.get("nodeName") or "<none>",
        status.get("nominatedNodeName") or "<none>",
        gates_cell,
    ]


_POD_COLUMNS: tuple[Column, ...] = (
    _NAME,
    ("Ready", "string", 0, "The aggregate readiness state of this pod for accepting traffic."),
    ("Status", "string", 0, "The aggregate status of the containers in this pod."),
    (
        "Restarts",
        "string",
        0,
        "The number of times the containers in this pod have been restarted and when "
        "the last container in this pod has restarted.",
    ),
    _AGE,
    ("IP", "string", 1, "IP address allocated to the pod. Routable at least within the cluster."),
    ("Node", "string", 1, "NodeName is a request to schedule this pod onto a specific node."),
    ("Nominated Node", "string", 1, "nominatedNodeName is set only when this pod preempts other pods on the node."),
    ("Readiness Gates", "string", 1, "If specified, all readiness gates will be evaluated for pod readiness."),
)


# -- other kinds --------------------------------------------------------------------------------------


def _images(obj: Obj) -> tuple[str, str]:
    containers = (((obj.get("spec") or {}).get("template") or {}).get("spec") or {}).get("containers") or []
    return ",".join(c.get("name", "") for c in containers), ",".join(c.get("image", "") for c in containers)


def _selector(obj: Obj) -> str:
    sel = (obj.get("spec") or {}).get("selector") or {}
    labels = sel.get("matchLabels") if isinstance(sel, dict) and "matchLabels" in sel else sel
    if not labels:
        return "<none>"
    return ",".join(f"{k}={v}" for k, v in sorted(labels.items()) if isinstance(v, str)) or "<none>"


def _deployment(obj: Obj, now: datetime) -> list[Any]:
    spec, st = obj.get("spec") or {}, obj.get("status") or {}
    names, images = _images(obj)
    ready = f"{st.get('readyReplicas', 0)}/{spec.get('replicas', 1)}"
    return [
        _name(obj),
        ready,
        st.get("updatedReplicas", 0),
        st.get("availableReplicas", 0),
        _age(obj, now),
        names,
        images,
        _selector(obj),
    ]


def _replicaset(obj: Obj, now: datetime) -> list[Any]:
    spec, st = obj.get("spec") or {}, obj.get("status") or {}
    names, images = _images(obj)
    return [
        _name(obj),
        spec.get("replicas", 1),
        st.get("replicas", 0),
        st.get("readyReplicas", 0),
        _age(obj, now),
        names,
        images,
        _selector(obj),
    ]


def _statefulset(obj: Obj, now: datetime) -> list[Any]:
    spec, st = obj.get("spec") or {}, obj.get("status") or {}
    names, images = _images(obj)
    ready = f"{st.get('readyReplicas', 0)}/{spec.get('replicas', 1)}"
    return [_name(obj), ready, _age(obj, now), names, images]


def _daemonset(obj: Obj, now: datetime) -> list[Any]:
    st = obj.get("status") or {}
    node_sel = (((obj.get("spec") or {}).get("template") or {}).get("spec") or {}).get("nodeSelector") or {}
    names, images = _images(obj)
    return [
        _name(obj),
        st.get("desiredNumberScheduled", 0),
        st.get("currentNumberScheduled", 0),
        st.get("numberReady", 0),
        st.get("updatedNumberScheduled", 0),
        st.get("numberAvailable", 0),
        ",".join(f"{k}={v}" for k, v in sorted(node_sel.items())) or "<none>",
        _age(obj, now),
        names,
        images,
        _selector(obj),
    ]


def _service(obj: Obj, now: datetime) -> list[Any]:
    spec = obj.get("spec") or {}
    ports = (
        ",".join(
            f"{p.get('port')}{':' + str(p['nodePort']) if p.get('nodePort') else ''}/{p.get('protocol', 'TCP')}"
            for p in spec.get("ports") or []
        )
        or "<none>"
    )
    ext = ",".join(spec.get("externalIPs") or []) or "<none>"
    return [
        _name(obj),
        spec.get("type", "ClusterIP"),
        spec.get("clusterIP") or "<none>",
        ext,
        ports,
        _age(obj, now),
        _selector(obj),
    ]


def _lease(obj: Obj, now: datetime) -> list[Any]:
    return [_name(obj), (obj.get("spec") or {}).get("holderIdentity") or "", _age(obj, now)]


def _first_three(items: list[str], empty: str) -> str:
    """kubectl's list cell: up to three items, then ` + N more...`."""
    if not items:
        return empty
    shown = ",".join(items[:3])
    return shown + (f" + {len(items) - 3} more..." if len(items) > 3 else "")


def _endpoints(obj: Obj, now: datetime) -> list[Any]:
    pairs = [
        f"{a.get('ip')}:{p.get('port')}"
        for subset in obj.get("subsets") or []
        for p in subset.get("ports") or [{}]
        for a in subset.get("addresses") or []
    ]
    return [_name(obj), _first_three(pairs, "<none>"), _age(obj, now)]


def _endpointslice(obj: Obj, now: datetime) -> list[Any]:
    ports = [str(p.get("port")) for p in obj.get("ports") or [] if p.get("port") is not None]
    addresses = [a for e in obj.get("endpoints") or [] for a in e.get("addresses") or []]
    return [
        _name(obj),
        obj.get("addressType", ""),
        _first_three(ports, "<unset>"),
        _first_three(addresses, "<unset>"),
        _age(obj, now),
    ]


def _event(obj: Obj, now: datetime) -> list[Any]:
    involved = obj.get("involvedObject") or {}
    last = obj.get("lastTimestamp") or obj.get("eventTime") or (obj.get("metadata") or {}).get("creationTimestamp")
    seen = _parse_time(last)
    return [
        human_duration((now - seen).total_seconds()) if seen else "<unknown>",
        obj.get("type", ""),
        obj.get("reason", ""),
        f"{str(involved.get('kind', '')).lower()}/{involved.get('name', '')}",
        obj.get("message", ""),
    ]


_WEBHOOK_CONFIGURATIONS: Printer = (
    (
        _NAME,
        ("Webhooks", "integer", 0, "Webhooks indicates the number of webhooks registered in this configuration"),
        _AGE,
    ),
    lambda o, now: [_name(o), len(o.get("webhooks") or []), _age(o, now)],
)


_PRINTERS: dict[str, Printer] = {
    "pods": (_POD_COLUMNS, pod_cells),
    "namespaces": (
        (_NAME, ("Status", "string", 0, "The status of the namespace"), _AGE),
        lambda o, now: [_name(o), (o.get("status") or {}).get("phase", ""), _age(o, now)],
    ),
    "configmaps": (
        (_NAME, ("Data", "integer", 0, "Data contains the configuration data."), _AGE),
        lambda o, now: [_name(o), len(o.get("data") or {}) + len(o.get("binaryData") or {}), _age(o, now)],
    ),
    "apps/deployments": (
        (
            _NAME,
            ("Ready", "string", 0, "Number of the pod with ready state"),
            # Declared as strings although the cells are integers, as the API server's printer does.
            (
                "Up-to-date",
                "string",
                0,
                "Total number of non-terminating pods targeted by this deployment that have the desired template "
                "spec.",
            ),
            (
                "Available",
                "string",
                0,
                "Total number of available non-terminating pods (ready for at least minReadySeconds) targeted by "
                "this deployment.",
            ),
            _AGE,
            ("Containers", "string", 1, "Names of each container in the template."),
            ("Images", "string", 1, "Images referenced by each container in the template."),
            (
                "Selector",
                "string",
                1,
                "Label selector for pods. Existing ReplicaSets whose pods are selected by this will be the ones "
                "affected by this deployment. It must match the pod template's labels.",
            ),
        ),
        _deployment,
    ),
    "apps/replicasets": (
        (
            _NAME,
            ("Desired", "integer", 0, "Number of desired pods."),
            ("Current", "integer", 0, "The most recently observed number of replicas."),
            ("Ready", "integer", 0, "The number of ready replicas for this replica set."),
            _AGE,
            ("Containers", "string", 1, "Names of each container in the template."),
            ("Images", "string", 1, "Images referenced by each container in the template."),
            ("Selector", "string", 1, "Label selector for pods."),
        ),
        _replicaset,
    ),
    "apps/statefulsets": (
        (
            _NAME,
            ("Ready", "string", 0, "Number of the pod with ready state"),
            _AGE,
            ("Containers", "string", 1, "Names of each container in the template."),
            ("Images", "string", 1, "Images referenced by each container in the template."),
        ),
        _statefulset,
    ),
    "apps/daemonsets": (
        (
            _NAME,
            ("Desired", "integer", 0, "The desired number of nodes."),
            ("Current", "integer", 0, "The number of nodes running at least one daemon pod."),
            ("Ready", "integer", 0, "The number of nodes with ready daemon pods."),
            ("Up-to-date", "integer", 0, "The number of nodes running the updated pod."),
            ("Available", "integer", 0, "The number of nodes with available daemon pods."),
            ("Node Selector", "string", 0, "The node selector of the template."),
            _AGE,
            ("Containers", "string", 1, "Names of each container in the template."),
            ("Images", "string", 1, "Images referenced by each container in the template."),
            ("Selector", "string", 1, "Label selector for pods."),
        ),
        _daemonset,
    ),
    "services": (
        (
            _NAME,
            ("Type", "string", 0, "The type of the service."),
            ("Cluster-IP", "string", 0, "The IP address of the service."),
            ("External-IP", "string", 0, "The external IPs of the service."),
            ("Port(s)", "string", 0, "The ports of the service."),
            _AGE,
            ("Selector", "string", 1, "The label selector of the service."),
        ),
        _service,
    ),
    "coordination.k8s.io/leases": ((_NAME, ("Holder", "string", 0, "The holder of the lease."), _AGE), _lease),
    "endpoints": ((_NAME, ("Endpoints", "string", 0, "Endpoints of the resource."), _AGE), _endpoints),
    "discovery.k8s.io/endpointslices": (
        (
            _NAME,
            ("AddressType", "string", 0, "The IP protocol for this slice."),
            ("Ports", "string", 0, "The ports of the slice."),
            ("Endpoints", "string", 0, "The endpoints of the slice."),
            _AGE,
        ),
        _endpointslice,
    ),
    "events": (
        (
            ("Last Seen", "string", 0, "The last time this event was seen."),
            ("Type", "string", 0, "The type of the event."),
            ("Reason", "string", 0, "The reason of the event."),
            ("Object", "string", 0, "The object the event is about."),
            ("Message", "string", 0, "A human-readable description of the event."),
        ),
        _event,
    ),
    "apiextensions.k8s.io/customresourcedefinitions": (
        (_NAME, ("Created At", "date", 0, "The time the definition was created.")),
        lambda o, now: [_name(o), (o.get("metadata") or {}).get("creationTimestamp", "")],
    ),
    "admissionregistration.k8s.io/mutatingwebhookconfigurations": _WEBHOOK_CONFIGURATIONS,
    "admissionregistration.k8s.io/validatingwebhookconfigurations": _WEBHOOK_CONFIGURATIONS,
}
_GENERIC: Printer = ((_NAME, _AGE), lambda o, now: [_name(o), _age(o, now)])


def column_definitions(key: str) -> list[Obj]:
    """The Table's columnDefinitions for a resource (by store key)."""
    columns, _ = _PRINTERS.get(key, _GENERIC)
    return [
        {"name": n, "type": t, "format": "name" if n == "Name" else "", "description": d, "priority": p}
        for n, t, p, d in columns
    ]


def partial_metadata(obj: Obj) -> Obj:
    """The object reduced to a PartialObjectMetadata."""
    return {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": obj.get("metadata") or {}}


def row(key: str, obj: Obj, include_object: str, now: datetime | None = None) -> Obj:
    """One Table row; `include_object` is None, Metadata (the default) or Object, as the API accepts."""
    _, cells = _PRINTERS.get(key, _GENERIC)
    out: Obj = {"cells": cells(obj, now or datetime.now(UTC))}
    if include_object == "Object":
        out["object"] = obj
    elif include_object != "None":
        out["object"] = partial_metadata(obj)
    return out


def table(key: str, objs: list[Obj], include_object: str, list_meta: Obj, *, headers: bool = True) -> Obj:
    """A complete `meta.k8s.io/v1` Table for these objects."""
    now = datetime.now(UTC)
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": list_meta,
        "columnDefinitions": column_definitions(key) if headers else None,
        "rows": [row(key, o, include_object, now) for o in objs],
    }
