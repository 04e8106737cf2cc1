"""When a workload's rollout is complete, judged from its status the way `kubectl rollout status` does."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class RolloutState:
    """Whether a rollout finished, failed for good, or is still going, with kubectl's wording."""

    done: bool
    failed: bool
    message: str


def rollout_state(kind: str, obj: Mapping[str, Any]) -> RolloutState:
    """Judge a Deployment, StatefulSet or DaemonSet object (raw JSON)."""
    meta = obj.get("metadata") or {}
    spec = obj.get("spec") or {}
    status = obj.get("status") or {}
    generation = int(meta.get("generation") or 0)
    observed = int(status.get("observedGeneration") or 0)
    if generation > observed:
        return RolloutState(False, False, "waiting for the controller to observe the new template")
    if kind == "Deployment":
        for cond in status.get("conditions") or []:
            if cond.get("type") == "Progressing" and cond.get("reason") == "ProgressDeadlineExceeded":
                return RolloutState(False, True, f"exceeded its progress deadline: {cond.get('message', '')}")
        want = int(spec.get("replicas", 1) if spec.get("replicas") is not None else 1)
        updated = int(status.get("updatedReplicas") or 0)
        total = int(status.get("replicas") or 0)
        available = int(status.get("availableReplicas") or 0)
        if updated < want:
            return RolloutState(False, False, f"{updated} of {want} updated replicas are available")
        if total > updated:
            return RolloutState(False, False, f"{total - updated} old replicas are pending termination")
        if available < updated:
            return RolloutState(False, False, f"{available} of {updated} updated replicas are available")
        return RolloutState(True, False, "successfully rolled out")
    if kind == "StatefulSet":
        want = int(spec.get("replicas", 1) if spec.get("replicas") is not None else 1)
        ready = int(status.get("readyReplicas") or 0)
        if ready < want:
            return RolloutState(False, False, f"{ready} of {want} pods are ready")
        strategy = spec.get("updateStrategy") or {}
        partition = int(((strategy.get("rollingUpdate") or {}).get("partition")) or 0)
        if strategy.get("type") == "OnDelete":
            return RolloutState(True, False, "OnDelete: pods are replaced only when deleted")
        if partition > 0:
            updated = int(status.get("updatedReplicas") or 0)
            if updated < want - partition:
                return RolloutState(False, False, f"{updated} of {want - partition} pods above the partition updated")
            return RolloutState(True, False, f"partitioned roll out complete: {updated} new pods")
        if status.get("updateRevision") != status.get("currentRevision"):
            updated = int(status.get("updatedReplicas") or 0)
            return RolloutState(False, False, f"{updated} of {want} pods updated")
        return RolloutState(True, False, "successfully rolled out")
    if kind == "DaemonSet":
        desired = int(status.get("desiredNumberScheduled") or 0)
        updated = int(status.get("updatedNumberScheduled") or 0)
        available = int(status.get("numberAvailable") or 0)
        if updated < desired:
            return RolloutState(False, False, f"{updated} of {desired} updated pods are scheduled")
        if available < desired:
            return RolloutState(False, False, f"{available} of {desired} updated pods are available")
        return RolloutState(True, False, "successfully rolled out")
    return RolloutState(True, False, f"{kind} has no rollout to wait for")
