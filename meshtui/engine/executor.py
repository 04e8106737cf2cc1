"""Applies a plan: server-side dry run first, then each operation conditionally, with a journal entry per step.

Steps are idempotent (re-applying a label that is already set changes nothing), so a run cut off
half-way is finished by running the same plan again. A 409 is never retried blind: the object is
re-read and, unless the desired state already holds, the run stops so the caller can re-plan and ask.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from meshtui.cluster import mutations
from meshtui.cluster.errors import ClusterError, Conflict, Forbidden, NotFound, Unauthorized
from meshtui.cluster.rawapi import RawApi
from meshtui.domain.plan import APPLY_PATCH, Operation, Plan


class StepResult(Enum):
    """What happened to one operation."""

    APPLIED = "applied"
    ALREADY = "already"  # the desired state already held (idempotent re-run, or someone else did it)
    DRY_RUN = "dry-run"
    CONFLICT = "conflict"
    DENIED = "denied"
    FAILED = "failed"
    ABORTED = "aborted"


@dataclass(frozen=True, slots=True)
class StepOutcome:
    """One operation's result, with the server's answer when it refused."""

    operation: Operation
    result: StepResult
    message: str = ""


@dataclass(slots=True)
class RunOutcome:
    """A whole run: every step's outcome and the overall verdict."""

    plan: Plan
    steps: list[StepOutcome] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when every step was applied, already held, or dry-run checked."""
        good = (StepResult.APPLIED, StepResult.ALREADY, StepResult.DRY_RUN)
        return all(s.result in good for s in self.steps) and len(self.steps) == len(self.plan.operations)

    @property
    def stopped_by(self) -> StepOutcome | None:
        """The step that ended the run early, if any."""
        return next(
            (
                s
                for s in self.steps
                if s.result not in (StepResult.APPLIED, StepResult.ALREADY, StepResult.DRY_RUN)
            ),
            None,
        )


class RunControl:
    """Pause, resume and abort for a run in progress; safe to call from any thread."""

    def __init__(self) -> None:
        self._running = threading.Event()
        self._running.set()
        self._abort = threading.Event()

    def pause(self) -> None:
        """Hold before the next step."""
        self._running.clear()

    def resume(self) -> None:
        """Continue after a pause."""
        self._running.set()

    def abort(self) -> None:
        """Stop before the next step (a step in flight completes)."""
        self._abort.set()
        self._running.set()

    @property
    def paused(self) -> bool:
        """True while paused."""
        return not self._running.is_set()

    @property
    def aborted(self) -> bool:
        """True once aborted."""
        return self._abort.is_set()

    def wait_if_paused(self) -> bool:
        """Block while paused; False when aborted."""
        self._running.wait()
        return not self._abort.is_set()

    def sleep(self, seconds: float) -> bool:
        """Sleep, waking early on abort; False when aborted."""
        return not self._abort.wait(seconds)


#: Called after every step with (index, total, outcome).
Progress = Callable[[int, int, StepOutcome], None]
#: Records a step in the journal: (operation, result, message).
JournalHook = Callable[[Operation, StepResult, str], None]
#: Given an operation whose object changed underneath (409), the re-read object; True when the
#: operation's desired state already holds on it.
SatisfiedCheck = Callable[[Operation, dict[str, Any]], bool]


class Executor:
    """Applies plans to one or more clusters (one RawApi per cluster name)."""

    def __init__(
        self,
        apis: dict[str, RawApi],
        *,
        journal: JournalHook | None = None,
        satisfied: SatisfiedCheck | None = None,
        read_only: bool = False,
    ):
        self.apis = apis
        self.journal = journal
        self.satisfied = satisfied
        self.read_only = read_only

    def dry_run(self, plan: Plan) -> RunOutcome:
        """Check every operation with `dryRun=All`: admission and validation run, nothing is stored."""
        out = RunOutcome(plan)
        if self.read_only:
            # Even a dry run is a write request; read-only mode sends none at all.
            return out
        for op in plan.operations:
            out.steps.append(self._send(op, dry_run=True))
        return out

    def apply(
        self, plan: Plan, *, control: RunControl | None = None, progress: Progress | None = None
    ) -> RunOutcome:
        """Apply the operations in order, stopping at the first that is refused."""
        out = RunOutcome(plan)
        if plan.refused or self.read_only:
            return out
        control = control or RunControl()
        total = len(plan.operations)
        for i, op in enumerate(plan.operations):
            if not control.wait_if_paused():
                outcome = StepOutcome(op, StepResult.ABORTED, "aborted by the operator")
                out.steps.append(outcome)
                self._record(op, outcome)
                break
            outcome = self._send(op, dry_run=False)
            out.steps.append(outcome)
            self._record(op, outcome)
            if progress:
                progress(i + 1, total, outcome)
            if outcome.result not in (StepResult.APPLIED, StepResult.ALREADY):
                break
        return out

    def _record(self, op: Operation, outcome: StepOutcome) -> None:
        if self.journal is not None:
            self.journal(op, outcome.result, outcome.message)

    def _send(self, op: Operation, *, dry_run: bool) -> StepOutcome:
        api = self.apis.get(op.cluster)
        if api is None:
            return StepOutcome(op, StepResult.FAILED, f"no connection to cluster {op.cluster!r}")
        ok = StepResult.DRY_RUN if dry_run else StepResult.APPLIED
        try:
            if op.verb == "patch":
                mutations.patch(
                    api,
                    op.path,
                    op.wire_body(),
                    content_type=op.content_type,
                    dry_run=dry_run,
                    what=op.describe(),
                )
            elif op.verb == "apply":
                mutations.apply(api, op.path, op.body, dry_run=dry_run, what=op.describe())
            elif op.verb == "create":
                mutations.create(api, op.api_path, op.body, dry_run=dry_run, what=op.describe())
            elif op.verb == "delete":
                try:
                    mutations.delete(
                        api, op.path, dry_run=dry_run, expect_rv=op.expect_rv, what=op.describe()
                    )
                except NotFound:
                    return StepOutcome(op, StepResult.ALREADY, "already gone")
            else:
                return StepOutcome(op, StepResult.FAILED, f"unknown verb {op.verb!r}")
        except Conflict as exc:
            if op.verb == "create" and exc.reason == "AlreadyExists":
                return StepOutcome(op, StepResult.ALREADY, "already exists")
            return self._conflict(api, op, exc)
        except (Forbidden, Unauthorized) as exc:
            return StepOutcome(op, StepResult.DENIED, exc.message)
        except ClusterError as exc:
            return StepOutcome(op, StepResult.FAILED, exc.message)
        return StepOutcome(op, ok)

    def _conflict(self, api: RawApi, op: Operation, exc: Conflict) -> StepOutcome:
        try:
            fresh = api.request("GET", op.path, what=f"re-reading {op.object_ref} after a conflict")
        except ClusterError as err:
            return StepOutcome(
                op, StepResult.CONFLICT, f"{exc.message} (and re-reading failed: {err.message})"
            )
        if self.satisfied is not None and isinstance(fresh, dict) and self.satisfied(op, fresh):
            return StepOutcome(op, StepResult.ALREADY, "changed by someone else to the desired state")
        rv = (fresh.get("metadata") or {}).get("resourceVersion", "?") if isinstance(fresh, dict) else "?"
        return StepOutcome(
            op,
            StepResult.CONFLICT,
            f"{op.object_ref} was changed by someone else since the plan was made (now at resourceVersion {rv}); "
            "nothing was overwritten: review the new plan and confirm again.",
        )


def is_apply(op: Operation) -> bool:
    """True for server-side-apply operations (they need no resourceVersion precondition)."""
    return op.verb == "apply" or op.content_type == APPLY_PATCH
