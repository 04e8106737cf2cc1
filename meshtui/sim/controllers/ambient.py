"""istio-cni's ambient enrolment: mark the pods it redirects to ztunnel `ambient.istio.io/redirection: enabled`.

istio-cni enrols a pod when it starts and when its namespace is labelled, and releases it (removes the
annotation) when the label goes; pods with a sidecar are never enrolled (`cni/pkg/util/podutil.go`).
"""

from __future__ import annotations

from meshtui.sim import ambient, errors
from meshtui.sim.controllers.base import PODS, Runtime, is_terminating
from meshtui.sim.store import Obj


def sync_ambient(rt: Runtime, _namespace: str, name: str) -> None:
    """Enrol or release every running pod of namespace `name`."""
    if not ambient.cni_enrolls(rt.store):
        return
    ns = rt.store.get("namespaces", None, name)
    if ns is None:
        return
    labels = dict(ns["metadata"].get("labels") or {})
    for entry in list(rt.store.entries(PODS, name)):
        if entry.phase == "Running":
            _mark(rt, entry.obj(), labels)


def enrol_pod(rt: Runtime, pod: Obj) -> None:
    """Enrol one pod that just started, if istio-cni's selectors take it."""
    if not ambient.cni_enrolls(rt.store):
        return
    ns = rt.store.get("namespaces", None, pod["metadata"].get("namespace") or "")
    _mark(rt, pod, dict(((ns or {}).get("metadata") or {}).get("labels") or {}))


def _mark(rt: Runtime, pod: Obj, ns_labels: dict[str, str]) -> None:
    if is_terminating(pod):
        return
    want = ambient.enrolled(pod, ns_labels)
    has = (pod["metadata"].get("annotations") or {}).get(ambient.REDIRECTION) == "enabled"
    if want == has:
        return

    def apply(obj: Obj) -> Obj:
        ann = obj["metadata"].setdefault("annotations", {})
        if want:
            ann[ambient.REDIRECTION] = "enabled"
        else:
            ann.pop(ambient.REDIRECTION, None)
        return obj

    try:
        rt.store.update(PODS, pod["metadata"]["namespace"], pod["metadata"]["name"], apply)
    except errors.ApiError as exc:
        if exc.code != 404:
            raise
