"""Restart progress kept in the upgrade record: the batch started, each workload rolled out or failed.

A restarted meshtui (or another operator) reads it to resume the batch instead of starting over; the
functions here change a record in place and are applied through the session's lock-fenced write.
"""

from __future__ import annotations

from meshtui.domain.plan import Operation, Plan
from meshtui.engine.executor import RestartEvent
from meshtui.engine.planners.common import DEFAULT_BATCH, TEMPLATE_RESTARTED, workload_key
from meshtui.engine.record import RestartProgress, UpgradeRecord

#: The fields of a restart operation that carry its timestamp (a workload's template, an Argo Rollout).
STAMPS = (TEMPLATE_RESTARTED, "spec.restartAt")


def restart_namespaces(workloads: list[str]) -> list[str]:
    """The namespaces of recorded workload keys (`cluster|Kind|ns|name`), in order."""
    return list(dict.fromkeys(key.split("|", 3)[2] for key in workloads if key.count("|") >= 3))


def unfinished_restart(record: UpgradeRecord | None) -> RestartProgress | None:
    """The restart recorded with workloads left, if any (the operator resumes or discards it)."""
    restart = record.restart if record is not None else None
    return restart if restart is not None and restart.remaining else None


def operation_key(op: Operation) -> str:
    """The key a restart operation's workload is recorded under."""
    return workload_key(op.cluster, op.kind, op.namespace or "", op.name)


def progress_for(plan: Plan, record: UpgradeRecord, now: str) -> RestartProgress | None:
    """The progress to record when a restart plan starts; None when a recorded batch already covers it
    (resuming it) or the plan restarts nothing."""
    keys = [operation_key(op) for op in plan.operations if op.await_rollout]
    if not keys:
        return None
    recorded = unfinished_restart(record)
    if recorded is not None and set(recorded.remaining) >= set(keys):
        return None  # resuming: the recorded batch stays as it is
    stamps = [op.after.get(k) for op in plan.operations for k in STAMPS]
    stamp = next((str(v) for v in stamps if v), now)
    return RestartProgress(
        batch_id=f"{plan.action}-{now}",
        workloads=keys,
        restarted_at=stamp,
        batch_size=plan.batch_size or DEFAULT_BATCH,
        pause_seconds=plan.pause_seconds,
        action=plan.action.value,
        updated=now,
    )


def note_event(record: UpgradeRecord, event: RestartEvent, op: Operation, message: str, when: str) -> None:
    """Record one workload's outcome (`rolled-out` or `failed`) in the restart in flight."""
    if record.restart is None:
        return
    key = operation_key(op)
    record.restart.updated = when
    if event is RestartEvent.ROLLED_OUT and key not in record.restart.done:
        record.restart.done.append(key)
    elif event is RestartEvent.FAILED:
        record.restart.failed.append(f"{key}: {message}")
