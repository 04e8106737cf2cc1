"""The ReplicaSet controller: keep spec.replicas active pods, report status, surface creation failures.

A pod refused by admission (a dangling injector webhook) leaves the ReplicaSet short, with condition
`ReplicaFailure`/`FailedCreate` carrying the API server's message, and the sync retries with backoff.
"""

from __future__ import annotations

from typing import Any

from meshtui.sim import deletion, errors
from meshtui.sim.controllers.base import (
    PODS,
    REPLICASETS,
    Runtime,
    is_active,
    is_ready,
    omit_zero,
    pod_from_template,
    remove_condition,
    set_condition,
    write_status,
)
from meshtui.sim.store import Obj


def sync_replicaset(rt: Runtime, namespace: str, name: str) -> None:
    """Create or delete pods towards spec.replicas and write the status."""
    rs = rt.store.get(REPLICASETS, namespace, name)
    if rs is None or rs["metadata"].get("deletionTimestamp"):
        return
    uid = rs["metadata"]["uid"]
    pods = rt.owned(PODS, namespace, uid)
    active = [p for p in pods if is_active(p)]
    want = int(rs["spec"].get("replicas", 1))
    failure: errors.ApiError | None = None
    diff = len(active) - want
    if diff < 0:
        template = rs["spec"].get("template") or {}
        for _ in range(-diff):
            pod = pod_from_template(template, namespace, rt.unique_pod_name(f"{name}-", namespace), rs, {})
            try:
                active.append(rt.store.create(PODS, pod))
            except errors.ApiError as exc:
                failure = exc
                break
    elif diff > 0:
        for victim in rank_for_deletion(active)[:diff]:
            try:
                deletion.delete(rt.store, PODS, namespace, victim["metadata"]["name"])
            except errors.ApiError as exc:
                if exc.code != 404:
                    raise
            active.remove(victim)
    conditions: list[dict[str, Any]] = list((rs.get("status") or {}).get("conditions") or [])
    if failure is not None:
        reason = "FailedCreate" if diff < 0 else "FailedDelete"
        conditions = set_condition(conditions, "ReplicaFailure", "True", reason, failure.message)
        for cond in conditions:
            if cond["type"] == "ReplicaFailure":
                cond["message"] = failure.message
        rt.retry(("replicaset", namespace, name))
    else:
        conditions = remove_condition(conditions, "ReplicaFailure")
    template_labels = ((rs["spec"].get("template") or {}).get("metadata") or {}).get("labels") or {}
    ready = sum(1 for p in active if is_ready(p))
    status = omit_zero(
        {
            "replicas": len(active),
            "fullyLabeledReplicas": sum(1 for p in active if _has_labels(p, template_labels)),
            "readyReplicas": ready,
            "availableReplicas": ready,
            "observedGeneration": rs["metadata"].get("generation", 1),
            "conditions": conditions,
        }
    )
    status.setdefault("replicas", 0)
    write_status(rt, REPLICASETS, namespace, name, status)


def rank_for_deletion(pods: list[Obj]) -> list[Obj]:
    """Pods in the order a ReplicaSet deletes them: unscheduled, pending, not ready, then the newest."""

    def rank(p: Obj) -> tuple[int, int, int, str]:
        spec = p.get("spec") or {}
        phase = (p.get("status") or {}).get("phase")
        return (
            0 if not spec.get("nodeName") else 1,
            0 if phase == "Pending" else 1,
            1 if is_ready(p) else 0,
            _neg(p["metadata"].get("creationTimestamp", "")),
        )

    return sorted(pods, key=rank)


def _neg(ts: str) -> str:
    # Newest first: invert the characters so a plain ascending sort puts later timestamps first.
    return "".join(chr(0x10FFFF - ord(c)) for c in ts)


def _has_labels(pod: Obj, labels: dict[str, str]) -> bool:
    have = pod["metadata"].get("labels") or {}
    return all(have.get(k) == v for k, v in labels.items())
