"""The endpoints and endpointslice controllers: a Service's Endpoints and EndpointSlice from its pods.

As kube-controller-manager keeps them: Endpoints list the ready pods (`addresses`) and the not-ready
ones (`notReadyAddresses`), terminating pods left out; the Service's one EndpointSlice lists every pod
with an IP, with `ready`/`serving`/`terminating` conditions. A Service without a selector is left alone
(its endpoints are the user's). One slice a Service is enough at the simulator's scale (the real
controller splits at 100 endpoints).
"""

from __future__ import annotations

from typing import Any

from meshtui.domain.selectors import LabelSelector
from meshtui.sim.controllers.base import PODS, Runtime, is_ready, is_terminating
from meshtui.sim.store import Obj

SERVICES = "services"
ENDPOINTS = "endpoints"
SLICES = "discovery.k8s.io/endpointslices"
SERVICE_NAME = "kubernetes.io/service-name"
MANAGED_BY = "endpointslice.kubernetes.io/managed-by"
SLICE_CONTROLLER = "endpointslice-controller.k8s.io"
ENDPOINTS_MANAGED_BY = "endpoints.kubernetes.io/managed-by"
ENDPOINTS_CONTROLLER = "endpoint-controller"
WORK = "endpoints"


def pod_signature(pod: Obj) -> tuple[Any, ...]:
    """What a Service's endpoints show of a pod: IP, node, readiness, termination and labels."""
    status = pod.get("status") or {}
    meta = pod["metadata"]
    return (
        status.get("podIP"),
        status.get("phase"),
        is_ready(pod),
        bool(meta.get("deletionTimestamp")),
        (pod.get("spec") or {}).get("nodeName"),
        tuple(sorted((meta.get("labels") or {}).items())),
    )


def _target_port(svc_port: dict[str, Any], pod: Obj) -> int | None:
    target = svc_port.get("targetPort", svc_port.get("port"))
    if isinstance(target, int):
        return target
    if isinstance(target, str) and target.isdigit():
        return int(target)
    for c in (pod.get("spec") or {}).get("containers") or []:
        for p in c.get("ports") or []:
            if p.get("name") == target and isinstance(p.get("containerPort"), int):
                return int(p["containerPort"])
    return None


def _ports(svc: Obj, pods: list[Obj]) -> list[dict[str, Any]]:
    out = []
    for sp in (svc.get("spec") or {}).get("ports") or []:
        port = next((p for p in (_target_port(sp, pod) for pod in pods) if p is not None), None)
        if port is None:
            continue
        entry: dict[str, Any] = {"port": port, "protocol": sp.get("protocol") or "TCP"}
        if sp.get("name"):
            entry = {"name": sp["name"], **entry}
        if sp.get("appProtocol"):
            entry["appProtocol"] = sp["appProtocol"]
        out.append(entry)
    return out


def _target_ref(pod: Obj) -> dict[str, Any]:
    meta = pod["metadata"]
    return {"kind": "Pod", "namespace": meta["namespace"], "name": meta["name"], "uid": meta.get("uid", "")}


def selected_pods(rt: Runtime, namespace: str, selector: dict[str, str]) -> list[Obj]:
    """The namespace's pods the Service selects that have an IP and are not finished, by name."""
    sel = LabelSelector.from_dict({"matchLabels": selector})
    out = []
    for name in sorted(rt.names(PODS, namespace)):
        entry = rt.store.entry(PODS, namespace, name)
        if entry is None or not sel.matches(entry.labels) or entry.phase in ("Succeeded", "Failed"):
            continue
        pod = entry.obj()
        if (pod.get("status") or {}).get("podIP"):
            out.append(pod)
    return out


def sync_endpoints(rt: Runtime, namespace: str, name: str) -> None:
    """Bring the Service's Endpoints and EndpointSlice in line with the pods it selects (or remove them)."""
    svc = rt.store.get(SERVICES, namespace, name)
    selector = ((svc or {}).get("spec") or {}).get("selector")
    if svc is None or svc["metadata"].get("deletionTimestamp"):
        _remove(rt, namespace, name)
        return
    if not selector:
        return
    pods = selected_pods(rt, namespace, selector)
    _write_endpoints(rt, svc, pods)
    _write_slice(rt, svc, pods)


def _remove(rt: Runtime, namespace: str, name: str) -> None:
    if rt.store.entry(ENDPOINTS, namespace, name) is not None:
        rt.store.remove(ENDPOINTS, namespace, name)
    for entry in list(rt.store.entries(SLICES, namespace)):
        if entry.labels.get(SERVICE_NAME) == name and entry.labels.get(MANAGED_BY) == SLICE_CONTROLLER:
            rt.store.remove(SLICES, namespace, entry.name)


def _address(pod: Obj) -> dict[str, Any]:
    out: dict[str, Any] = {"ip": pod["status"]["podIP"]}
    node = (pod.get("spec") or {}).get("nodeName")
    if node:
        out["nodeName"] = node
    out["targetRef"] = _target_ref(pod)
    return out


def endpoints_subsets(svc: Obj, pods: list[Obj]) -> list[dict[str, Any]] | None:
    """The Endpoints' subsets for the Service's selected pods: ready and not-ready addresses, terminating left out."""
    live = [p for p in pods if not is_terminating(p)]
    ready = sorted((_address(p) for p in live if is_ready(p)), key=lambda a: str(a["ip"]))
    not_ready = sorted((_address(p) for p in live if not is_ready(p)), key=lambda a: str(a["ip"]))
    subset: dict[str, Any] = {}
    if ready:
        subset["addresses"] = ready
    if not_ready:
        subset["notReadyAddresses"] = not_ready
    ports = _ports(svc, live)
    if subset and ports:
        subset["ports"] = ports
    return [subset] if subset else None


def _write_endpoints(rt: Runtime, svc: Obj, pods: list[Obj]) -> None:
    meta = svc["metadata"]
    ns, name = meta["namespace"], meta["name"]
    subsets = endpoints_subsets(svc, pods)
    labels = {**(meta.get("labels") or {}), ENDPOINTS_MANAGED_BY: ENDPOINTS_CONTROLLER}
    existing = rt.store.get(ENDPOINTS, ns, name)
    if existing is None:
        obj: Obj = {"metadata": {"name": name, "namespace": ns, "labels": labels}}
        if subsets:
            obj["subsets"] = subsets
        rt.store.create(ENDPOINTS, obj)
        return
    if existing.get("subsets") == subsets and existing["metadata"].get("labels") == labels:
        return

    def apply(obj: Obj) -> Obj:
        obj["metadata"]["labels"] = labels
        if subsets:
            obj["subsets"] = subsets
        else:
            obj.pop("subsets", None)
        return obj

    rt.store.update(ENDPOINTS, ns, name, apply)


def _slice_endpoint(pod: Obj) -> dict[str, Any]:
    terminating = is_terminating(pod)
    serving = is_ready(pod)
    out: dict[str, Any] = {
        "addresses": [pod["status"]["podIP"]],
        "conditions": {"ready": serving and not terminating, "serving": serving, "terminating": terminating},
        "targetRef": _target_ref(pod),
    }
    node = (pod.get("spec") or {}).get("nodeName")
    if node:
        out["nodeName"] = node
        out["zone"] = f"sim-zone-{node.rsplit('-', 1)[-1]}"
    return out


def slice_body(svc: Obj, pods: list[Obj]) -> Obj:
    """The Service's EndpointSlice (labels, addressType, endpoints, ports) for its selected pods."""
    meta = svc["metadata"]
    labels = {**(meta.get("labels") or {}), SERVICE_NAME: meta["name"], MANAGED_BY: SLICE_CONTROLLER}
    return {
        "metadata": {"labels": labels},
        "addressType": "IPv4",
        "endpoints": [_slice_endpoint(p) for p in pods] or None,
        "ports": _ports(svc, pods) or None,
    }


def _write_slice(rt: Runtime, svc: Obj, pods: list[Obj]) -> None:
    meta = svc["metadata"]
    ns, name = meta["namespace"], meta["name"]
    body = slice_body(svc, pods)
    endpoints, ports, labels = body["endpoints"], body["ports"], body["metadata"]["labels"]
    current = next(
        (
            e
            for e in rt.store.entries(SLICES, ns)
            if e.labels.get(SERVICE_NAME) == name and e.labels.get(MANAGED_BY) == SLICE_CONTROLLER
        ),
        None,
    )
    if current is None:
        owner = {
            "apiVersion": "v1",
            "kind": "Service",
            "name": name,
            "uid": meta["uid"],
            "controller": True,
            "blockOwnerDeletion": True,
        }
        obj: Obj = {
            "metadata": {"generateName": f"{name}-", "namespace": ns, "labels": labels, "ownerReferences": [owner]},
            "addressType": "IPv4",
            "endpoints": endpoints,
            "ports": ports,
        }
        rt.store.create(SLICES, obj)
        return
    old = current.obj()
    if old.get("endpoints") == endpoints and old.get("ports") == ports and old["metadata"].get("labels") == labels:
        return

    def apply(obj: Obj) -> Obj:
        obj["metadata"]["labels"] = labels
        obj["endpoints"] = endpoints
        obj["ports"] = ports
        return obj

    rt.store.update(SLICES, ns, current.name, apply)
