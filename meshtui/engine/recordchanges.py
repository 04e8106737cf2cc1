"""Changes of the upgrade record beyond the journal: the choice, the end, verify runs and what a switch changed.

Each changes a record in place; the session applies them through its lock-fenced write.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from meshtui.domain.actions import ActionId
from meshtui.domain.objects import REV_LABEL, TAG_LABEL
from meshtui.domain.plan import Operation
from meshtui.engine.executor import StepResult
from meshtui.engine.planners.common import NS_INJECTION, NS_REV, TEMPLATE_REV
from meshtui.engine.record import CheckRecord, JournalEntry, SwitchMark, UpgradeRecord, VerifyRun
from meshtui.engine.verifystate import DataPlaneState

if TYPE_CHECKING:
    from meshtui.engine.api import CheckResult


def journal(record: UpgradeRecord, entry: JournalEntry) -> None:
    """Append one journal entry (the record's `updated` follows it)."""
    record.append(entry)
    record.updated = entry.time


def step_entry(op: Operation, result: StepResult, message: str, action: str, by: str, when: str) -> JournalEntry:
    """The journal entry of one applied, refused or failed operation of a run."""
    return JournalEntry(
        time=when,
        identity=by,
        cluster=op.cluster,
        action=action,
        objects=[op.object_ref],
        before=jsonable(op.before),
        after=jsonable(op.after),
        result=result.value,
        message=message or op.summary,
    )


def journal_step(record: UpgradeRecord, entry: JournalEntry, op: Operation, result: StepResult) -> None:
    """Journal one operation of a run; an applied one also updates what a switch back and verify rely on."""
    journal(record, entry)
    if result in (StepResult.APPLIED, StepResult.ALREADY):
        bookkeep(record, op, entry.time)


def choose(record: UpgradeRecord, action: ActionId) -> None:
    """Upgrade or Rollback: the choice of the revision Finish keeps, and the phase it leads to."""
    upgrade = action == ActionId.UPGRADE
    record.finish_choice = "upgrade" if upgrade else "rollback"
    record.phase = "finishing-upgrade" if upgrade else "finishing-rollback"


def finish(record: UpgradeRecord, phase: str, when: str) -> None:
    """The upgrade's end: completed or cancelled, and when."""
    record.phase = "completed" if phase == "completed" else "cancelled"
    record.finished = when


def verify_run(
    checks: tuple[CheckResult, ...], dp: DataPlaneState, kept: str, by: str, when: str
) -> tuple[list[CheckRecord], VerifyRun, dict[str, Any]]:
    """A verify run as the record keeps it: the checks, the run (verdict and the data-plane state it checked),
    and the journal entry's `after`."""
    stored = [CheckRecord(name=c.name, result=c.result, detail=c.detail, offenders=list(c.offenders)) for c in checks]
    results = {c.result for c in checks}
    verdict: Literal["passed", "failed", "unknown"] = (
        "failed" if "fail" in results else "unknown" if "unknown" in results else "passed"
    )
    run = VerifyRun(
        at=when,
        by=by,
        revision=kept,
        result=verdict,
        fingerprint=dp.fingerprint,
        namespaces=dp.namespaces,
        pods=dp.pods,
        restarts=dp.restarts,
        not_ready=dp.not_ready,
    )
    after = {
        "fingerprint": dp.fingerprint,
        "namespaces": dp.namespaces,
        "pods": dp.pods,
        "restarts": dp.restarts,
        "not_ready": dp.not_ready,
    }
    return stored, run, after


def store_checks(record: UpgradeRecord, checks: list[CheckRecord], when: str, run: VerifyRun) -> None:
    """A verify run's checks and verdict."""
    record.checks = checks
    record.verify_at = when
    record.verify_run = run


def jsonable(values: dict[str, Any]) -> dict[str, Any]:
    """An operation's before/after as the journal keeps them (scalars; anything else as text)."""
    return {k: v if isinstance(v, str | int | float | bool | type(None)) else str(v) for k, v in values.items()}


def bookkeep(record: UpgradeRecord, op: Operation, when: str) -> None:
    """Remember what a switch changed, so switching back restores it and verify knows since when."""
    if op.kind == "Namespace" and NS_REV in op.after:
        key = f"{op.cluster}/{op.name}"
        mark = record.switched.get(key)
        if mark is None:
            record.switched[key] = SwitchMark(
                at=when, injection=op.before.get(NS_INJECTION), rev=op.before.get(NS_REV), to=op.after.get(NS_REV)
            )
        else:
            mark.at, mark.to = when, op.after.get(NS_REV)
    elif TEMPLATE_REV in op.after or (op.kind == "Gateway" and NS_REV in op.after):
        field = TEMPLATE_REV if TEMPLATE_REV in op.after else NS_REV
        key = f"{op.cluster}/{op.namespace}/{op.kind}/{op.name}"
        mark = record.templates.get(key)
        if mark is None:
            record.templates[key] = SwitchMark(at=when, rev=op.before.get(field), to=op.after.get(field))
        else:
            mark.at, mark.to = when, op.after.get(field)
    elif op.kind == "MutatingWebhookConfiguration" and isinstance(op.body, dict):
        labels = (op.body.get("metadata") or {}).get("labels") or {}
        tag = labels.get(TAG_LABEL)
        previous = op.before.get(f"metadata.labels[{REV_LABEL}]")
        if tag and previous:
            record.tags.setdefault(f"{op.cluster}/{tag}", str(previous))
