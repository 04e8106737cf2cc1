"""The disruption controller: PodDisruptionBudget status from the healthy pods its selector matches."""

from __future__ import annotations

from typing import Any

from meshtui.domain.selectors import LabelSelector, SelectorError
from meshtui.sim.controllers.base import (
    DEPLOYMENTS,
    PDBS,
    PODS,
    Runtime,
    controller_ref,
    is_ready,
    is_terminating,
    scaled_value,
    set_condition,
    write_status,
)
from meshtui.sim.store import Obj

_SCALED = {"ReplicaSet": "apps/replicasets", "StatefulSet": "apps/statefulsets"}


def sync_pdb(rt: Runtime, namespace: str, name: str) -> None:
    """Compute currentHealthy, desiredHealthy, expectedPods, disruptionsAllowed as `disruption.go` does."""
    pdb = rt.store.get(PDBS, namespace, name)
    if pdb is None:
        return
    spec = pdb.get("spec") or {}
    try:
        selector = LabelSelector.from_dict(spec.get("selector"))
    except SelectorError:
        selector = None
    pods: list[Obj] = []
    if selector is not None and spec.get("selector"):
        for pod_name in sorted(rt.names(PODS, namespace)):
            entry = rt.store.entry(PODS, namespace, pod_name)
            if entry is not None and selector.matches(entry.labels):
                pods.append(entry.obj())
    healthy = sum(1 for p in pods if not is_terminating(p) and is_ready(p))
    expected = 0
    desired = 0
    if spec.get("maxUnavailable") is not None:
        expected = _expected_scale(rt, pods)
        desired = max(0, expected - scaled_value(spec["maxUnavailable"], expected, True))
    elif spec.get("minAvailable") is not None:
        value = spec["minAvailable"]
        if isinstance(value, int) or not str(value).endswith("%"):
            desired = int(value)
            expected = len(pods)
        else:
            expected = _expected_scale(rt, pods)
            desired = scaled_value(value, expected, True)
    allowed = max(0, healthy - desired) if expected > 0 else 0
    conditions = list((pdb.get("status") or {}).get("conditions") or [])
    if allowed > 0:
        conditions = set_condition(conditions, "DisruptionAllowed", "True", "SufficientPods", "")
    else:
        conditions = set_condition(conditions, "DisruptionAllowed", "False", "InsufficientPods", "")
    for c in conditions:
        c["observedGeneration"] = pdb["metadata"].get("generation", 1)
    status: dict[str, Any] = {
        "observedGeneration": pdb["metadata"].get("generation", 1),
        "disruptionsAllowed": allowed,
        "currentHealthy": healthy,
        "desiredHealthy": desired,
        "expectedPods": expected,
        "conditions": conditions,
    }
    write_status(rt, PDBS, namespace, name, status)


def _expected_scale(rt: Runtime, pods: list[Obj]) -> int:
    """Sum of the scales of the pods' controllers (a Deployment's ReplicaSet counts as the Deployment)."""
    seen: dict[str, int] = {}
    for pod in pods:
        ref = controller_ref(pod)
        if ref is None:
            continue
        key = _SCALED.get(ref.get("kind", ""))
        if key is None:
            seen[ref["uid"]] = 1
            continue
        owner = rt.store.get(key, pod["metadata"]["namespace"], ref["name"])
        if owner is None:
            continue
        top = controller_ref(owner)
        if top is not None and top.get("kind") == "Deployment":
            dep = rt.store.get(DEPLOYMENTS, pod["metadata"]["namespace"], top["name"])
            if dep is not None:
                seen[dep["metadata"]["uid"]] = int(dep["spec"].get("replicas", 1))
                continue
        seen[owner["metadata"]["uid"]] = int(owner["spec"].get("replicas", 1))
    return sum(seen.values())
