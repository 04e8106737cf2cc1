"""Applies a plan: server-side dry run first, then each operation conditionally, with a journal entry per step.

Steps are idempotent, so a run cut off half-way is finished by running it again; a 409 re-reads the object
and re-sends the step only if the fields it changes are still as planned (never a blind overwrite).
Restarts run in batches, each gated on PodDisruptionBudgets and awaited by watching the rollout.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum, StrEnum
from typing import Any

import orjson

from meshtui.cluster import mutations
from meshtui.cluster.errors import ClusterError, Conflict, Forbidden, NotFound, Unauthorized
from meshtui.cluster.rawapi import RawApi
from meshtui.domain.plan import Operation, Plan
from meshtui.domain.reasons import Reason
from meshtui.domain.rollout import rollout_state
from meshtui.engine.installers import wait_external
from meshtui.engine.kube import field_value, get, is_transient, list_all, retrying


class StepResult(Enum):
    """What happened to one operation."""

    APPLIED = "applied"
    ALREADY = "already"  # the desired state already held (idempotent re-run, or someone else did it)
    DRY_RUN = "dry-run"
    CONFLICT = "conflict"
    DENIED = "denied"
    FAILED = "failed"
    ABORTED = "aborted"
    REFUSED = "refused"  # the object's state forbids the step (a paused Deployment)
    NOT_CHECKED = "not-checked"  # a dry run cannot cover it (an external installer, a wait)


class RestartEvent(StrEnum):
    """What a batched restart reports about one workload as it goes."""

    BATCH = "batch"  # a batch starts (the message says which)
    ROLLED_OUT = "rolled-out"  # the workload's new pods are ready
    FAILED = "failed"  # it did not roll out, or could not be restarted


@dataclass(frozen=True, slots=True)
class StepOutcome:
    """One operation's result, with the server's answer when it refused."""

    operation: Operation
    result: StepResult
    message: str = ""


GOOD = (StepResult.APPLIED, StepResult.ALREADY, StepResult.DRY_RUN, StepResult.NOT_CHECKED)


@dataclass(slots=True)
class RunOutcome:
    """A whole run: every step's outcome and the overall verdict."""

    plan: Plan
    steps: list[StepOutcome] = field(default_factory=list)
    #: Why the run was refused before or between its steps (a stale view, a lost lock), typed.
    refusal: tuple[Reason, ...] = ()

    @property
    def ok(self) -> bool:
        """True when the plan was not refused and every step was applied, already held, or dry-run checked."""
        return (
            not self.plan.refused
            and not self.refusal
            and all(s.result in GOOD for s in self.steps)
            and len(self.steps) == len(self.plan.operations)
        )

    @property
    def stopped_by(self) -> StepOutcome | None:
        """The step that ended the run early, if any."""
        return next((s for s in self.steps if s.result not in GOOD), None)

    def count(self, result: StepResult) -> int:
        """How many steps ended with `result`."""
        return sum(1 for s in self.steps if s.result is result)


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
#: Runs an installer: (argv, timeout) -> (exit code, last lines of output).
ProgramRunner = Callable[[list[str], float], tuple[int, str]]
#: Restart bookkeeping: (event, operation, message); events are batch, rolled-out, failed.
RestartHook = Callable[[RestartEvent, Operation, str], None]
#: A status line while waiting (a PDB, a rollout), for progress displays.
StatusHook = Callable[[str], None]
#: Asked before every write of a run: why the operation must not be sent (empty: send it).
Guard = Callable[[Operation], tuple[Reason, ...]]

#: Default time a workload's rollout (or a PDB wait) may take.
ROLLOUT_TIMEOUT = 300.0
#: Length of one watch request while waiting, so pause and abort are noticed promptly.
WATCH_WINDOW = 5


class Executor:
    """Applies plans to one or more clusters (one RawApi per cluster name)."""

    def __init__(
        self,
        apis: dict[str, RawApi],
        *,
        guard: Guard,
        journal: JournalHook | None = None,
        satisfied: SatisfiedCheck | None = None,
        read_only: bool = False,
        runner: ProgramRunner | None = None,
        on_restart: RestartHook | None = None,
        on_status: StatusHook | None = None,
        rollout_timeout: float = ROLLOUT_TIMEOUT,
        deadline: float | None = None,
    ):
        self.apis = apis
        #: Every write of `apply` passes it first (the session's lock fence and fresh-view check).
        self.guard = guard
        self.journal = journal
        self.satisfied = satisfied
        self.read_only = read_only
        self.runner = runner
        self.on_restart = on_restart
        self.on_status = on_status
        self.rollout_timeout = rollout_timeout
        #: A monotonic time after which no new step starts and waits give up (the command's --timeout).
        self.deadline = deadline

    # ------------------------------------------------------------------------------------------ entry points

    def dry_run(self, plan: Plan, checked: Callable[[int, int], None] | None = None) -> RunOutcome:
        """Check every operation with `dryRun=All`: admission and validation run, nothing is stored.

        `checked(done, total)` is called after each operation (a dry run of thousands takes seconds).
        """
        out = RunOutcome(plan)
        if self.read_only:
            # Even a dry run is a write request; read-only mode sends none at all.
            return out
        for op in plan.operations:
            if op.verb in ("exec", "wait"):
                out.steps.append(StepOutcome(op, StepResult.NOT_CHECKED, "not covered by a server-side dry run"))
            else:
                out.steps.append(self._send(op, dry_run=True))
            if checked is not None:
                checked(len(out.steps), len(plan.operations))
        return out

    def apply(self, plan: Plan, *, control: RunControl | None = None, progress: Progress | None = None) -> RunOutcome:
        """Apply the operations in order, stopping at the first that is refused (or batch that fails)."""
        out = RunOutcome(plan)
        if plan.refused or self.read_only:
            return out
        control = control or RunControl()
        ops = plan.operations
        total = len(ops)
        i = 0
        while i < total:
            if ops[i].await_rollout:
                j = i
                while j < total and ops[j].await_rollout:
                    j += 1
                if not self._restart(plan, list(ops[i:j]), i, total, out, control, progress):
                    break
                i = j
                continue
            op = ops[i]
            if not control.wait_if_paused() or self._expired():
                outcome = StepOutcome(op, StepResult.ABORTED, self._stop_reason(control))
                out.steps.append(outcome)
                self._record(op, outcome)
                break
            if self._refused(op, out):
                break
            outcome = self._step(op, control)
            out.steps.append(outcome)
            self._record(op, outcome)
            if progress:
                progress(i + 1, total, outcome)
            if outcome.result not in (StepResult.APPLIED, StepResult.ALREADY):
                break
            i += 1
        return out

    # ------------------------------------------------------------------------------------------ one step

    def _refused(self, op: Operation, out: RunOutcome) -> bool:
        """Ask the guard before a write (waits only read); on a refusal the run ends there, typed."""
        if op.verb == "wait":
            return False
        refusal = self.guard(op)
        if not refusal:
            return False
        out.refusal = refusal
        outcome = StepOutcome(op, StepResult.REFUSED, "; ".join(r.message for r in refusal))
        out.steps.append(outcome)
        self._record(op, outcome)
        return True

    def _expired(self) -> bool:
        return self.deadline is not None and time.monotonic() >= self.deadline

    def _stop_reason(self, control: RunControl) -> str:
        return "aborted by the operator" if control.aborted else "stopped: the command's --timeout ran out"

    def _step(self, op: Operation, control: RunControl) -> StepOutcome:
        if op.verb == "exec":
            return self._exec(op)
        if op.verb == "wait":
            return self._wait_revision(op, control)
        return self._send(op, dry_run=False)

    def _record(self, op: Operation, outcome: StepOutcome) -> None:
        if self.journal is not None:
            self.journal(op, outcome.result, outcome.message)

    def _send(self, op: Operation, *, dry_run: bool, body: Any = None, rebased: int = 0) -> StepOutcome:
        api = self.apis.get(op.cluster)
        if api is None:
            return StepOutcome(op, StepResult.FAILED, f"no connection to cluster {op.cluster!r}")
        ok = StepResult.DRY_RUN if dry_run else StepResult.APPLIED
        wire = op.wire_body() if body is None else body
        try:
            if op.verb == "patch":
                retrying(
                    lambda: mutations.patch(
                        api, op.path, wire, content_type=op.content_type, dry_run=dry_run, what=op.describe()
                    )
                )
            elif op.verb == "apply":
                retrying(lambda: mutations.apply(api, op.path, op.body, dry_run=dry_run, what=op.describe()))
            elif op.verb == "create":
                retrying(lambda: mutations.create(api, op.api_path, op.body, dry_run=dry_run, what=op.describe()))
            elif op.verb == "replace":
                retrying(lambda: mutations.replace(api, op.path, wire, dry_run=dry_run, what=op.describe()))
            elif op.verb == "delete":
                expect = op.expect_rv if body is None else str(body)
                try:
                    retrying(
                        lambda: mutations.delete(api, op.path, dry_run=dry_run, expect_rv=expect, what=op.describe())
                    )
                except NotFound:
                    return StepOutcome(op, StepResult.ALREADY, "already gone")
            else:
                return StepOutcome(op, StepResult.FAILED, f"unknown verb {op.verb!r}")
        except Conflict as exc:
            if op.verb == "create" and exc.reason == "AlreadyExists":
                return StepOutcome(op, StepResult.ALREADY, "already exists")
            return self._conflict(api, op, exc, dry_run=dry_run, rebased=rebased)
        except NotFound as exc:
            return StepOutcome(op, StepResult.FAILED, exc.message)
        except (Forbidden, Unauthorized) as exc:
            return StepOutcome(op, StepResult.DENIED, exc.message)
        except ClusterError as exc:
            return StepOutcome(op, StepResult.FAILED, exc.message)
        return StepOutcome(op, ok)

    def _conflict(self, api: RawApi, op: Operation, exc: Conflict, *, dry_run: bool, rebased: int) -> StepOutcome:
        try:
            fresh = retrying(lambda: api.request("GET", op.path, what=f"re-reading {op.object_ref} after a conflict"))
        except NotFound:
            if op.verb == "delete":
                return StepOutcome(op, StepResult.ALREADY, "already gone")
            return StepOutcome(op, StepResult.CONFLICT, f"{op.object_ref} was deleted by someone else")
        except ClusterError as err:
            return StepOutcome(op, StepResult.CONFLICT, f"{exc.message} (and re-reading failed: {err.message})")
        if not isinstance(fresh, dict):
            return StepOutcome(op, StepResult.CONFLICT, exc.message)
        if self._holds(op, fresh):
            return StepOutcome(op, StepResult.ALREADY, "changed by someone else to the desired state")
        rv = str((fresh.get("metadata") or {}).get("resourceVersion") or "?")
        if op.before and rebased < 2 and all(field_value(fresh, k) == v for k, v in op.before.items()):
            # Someone else wrote other fields: ours are still as planned, so send the step on their version.
            return self._send(op, dry_run=dry_run, body=self._rebase(op, rv), rebased=rebased + 1)
        changed = [k for k, v in op.before.items() if field_value(fresh, k) != v]
        detail = "; ".join(f"{k} is now {field_value(fresh, k)!r} (planned from {op.before[k]!r})" for k in changed)
        return StepOutcome(
            op,
            StepResult.CONFLICT,
            f"{op.object_ref} was changed by someone else since the plan was made (now at resourceVersion {rv}"
            + (f": {detail}" if detail else "")
            + "); nothing was overwritten: review the new plan and confirm again.",
        )

    def _holds(self, op: Operation, fresh: dict[str, Any]) -> bool:
        if self.satisfied is not None and self.satisfied(op, fresh):
            return True
        if op.verb == "delete" or not op.after:
            return False
        return all(field_value(fresh, k) == v for k, v in op.after.items())

    def _rebase(self, op: Operation, rv: str) -> Any:
        if op.verb == "delete":
            return rv
        body = orjson.loads(orjson.dumps(op.wire_body()))
        if isinstance(body, dict):
            body.setdefault("metadata", {})["resourceVersion"] = rv
        return body

    # ------------------------------------------------------------------------------------------ installers

    def _exec(self, op: Operation) -> StepOutcome:
        if self.runner is None:
            return StepOutcome(op, StepResult.FAILED, "no program runner configured")
        argv = [str(a) for a in op.body or []]
        code, tail = self.runner(argv, self._remaining(self.rollout_timeout * 4))
        if code != 0:
            return StepOutcome(op, StepResult.FAILED, f"{argv[0]} exited with {code}: {tail}".strip())
        return StepOutcome(op, StepResult.APPLIED, tail.splitlines()[-1] if tail else "")

    def _wait_revision(self, op: Operation, control: RunControl) -> StepOutcome:
        api = self.apis.get(op.cluster)
        if api is None:
            return StepOutcome(op, StepResult.FAILED, f"no connection to cluster {op.cluster!r}")
        timeout = float((op.body or {}).get("timeout") or self.rollout_timeout)
        if isinstance(op.body, dict) and op.body.get("external"):
            ok, message = wait_external(api, op.name, self._remaining(timeout), control.sleep, self._status)
            result = StepResult.APPLIED if ok else StepResult.ABORTED if control.aborted else StepResult.FAILED
            return StepOutcome(op, result, message)
        if isinstance(op.body, dict) and op.body.get("node"):
            from meshtui.engine.ambient import wait_node  # one node of an in-place DaemonSet upgrade

            ok, message = wait_node(api, op, control, self._remaining(timeout), self._status)
            result = StepResult.APPLIED if ok else StepResult.ABORTED if control.aborted else StepResult.FAILED
            return StepOutcome(op, result, message)
        self._status(f"waiting for {op.object_ref} to be Ready")
        ok, message = self.wait_rollout(api, op, timeout, control, appear=True)
        return StepOutcome(op, StepResult.APPLIED if ok else StepResult.FAILED, message)

    def _remaining(self, seconds: float) -> float:
        if self.deadline is None:
            return seconds
        return max(0.0, min(seconds, self.deadline - time.monotonic()))

    def _status(self, message: str) -> None:
        if self.on_status is not None:
            self.on_status(message)

    # ------------------------------------------------------------------------------------------ restarts

    def _restart(
        self,
        plan: Plan,
        ops: list[Operation],
        offset: int,
        total: int,
        out: RunOutcome,
        control: RunControl,
        progress: Progress | None,
    ) -> bool:
        """Run restart operations in batches; False when the run must stop."""
        size = max(1, plan.batch_size or len(ops))
        batches = [ops[k : k + size] for k in range(0, len(ops), size)]
        done = 0
        for number, batch in enumerate(batches, start=1):
            if number > 1 and plan.pause_seconds > 0:
                self._status(f"pausing {plan.pause_seconds:g}s before batch {number} of {len(batches)}")
                control.sleep(self._remaining(plan.pause_seconds))
            if not control.wait_if_paused() or self._expired():
                for op in batch:
                    outcome = StepOutcome(op, StepResult.ABORTED, self._stop_reason(control))
                    out.steps.append(outcome)
                    self._record(op, outcome)
                return False
            for op in batch:
                self._hook(RestartEvent.BATCH, op, f"batch {number} of {len(batches)}")
            started: list[Operation] = []
            failed = False
            waited = self._pdb_gate(batch, control)
            for index, op in enumerate(batch):
                if index in waited:
                    outcome = StepOutcome(op, StepResult.FAILED, waited[index])
                    out.steps.append(outcome)
                    self._record(op, outcome)
                    self._hook(RestartEvent.FAILED, op, outcome.message)
                    failed = True
                    done += 1
                    if progress:
                        progress(offset + done, total, outcome)
                    continue
                if self._refused(op, out):
                    return False
                refusal = self._refusal(op)
                outcome = StepOutcome(op, StepResult.REFUSED, refusal) if refusal else self._send(op, dry_run=False)
                if outcome.result not in (StepResult.APPLIED, StepResult.ALREADY):
                    out.steps.append(outcome)
                    self._record(op, outcome)
                    self._hook(RestartEvent.FAILED, op, outcome.message)
                    failed = True
                    done += 1
                    if progress:
                        progress(offset + done, total, outcome)
                    continue
                self._record(op, StepOutcome(op, outcome.result, "patched; waiting for the rollout"))
                started.append(op)
            for op in started:
                api = self.apis[op.cluster]
                began = time.monotonic()
                self._status(f"waiting for {op.object_ref} to roll out")
                ok, message = self.wait_rollout(api, op, self.rollout_timeout, control)
                took = time.monotonic() - began
                result = StepResult.APPLIED if ok else StepResult.ABORTED if control.aborted else StepResult.FAILED
                outcome = StepOutcome(op, result, f"rolled out ({took:.1f}s)" if ok else message)
                out.steps.append(outcome)
                self._record(op, outcome)
                self._hook(RestartEvent.ROLLED_OUT if ok else RestartEvent.FAILED, op, outcome.message)
                failed |= not ok
                done += 1
                if progress:
                    progress(offset + done, total, outcome)
            if failed:
                return False
        return True

    def _hook(self, event: RestartEvent, op: Operation, message: str) -> None:
        if self.on_restart is not None:
            self.on_restart(event, op, message)

    def _refusal(self, op: Operation) -> str:
        """Why a workload must not be restarted now (a paused Deployment), read fresh."""
        if op.kind != "Deployment" or op.verb != "patch":
            return ""
        obj = get(self.apis[op.cluster], op.path)
        if obj is None:
            return f"{op.object_ref} no longer exists"
        if (obj.get("spec") or {}).get("paused"):
            return "can't restart paused deployment (run rollout resume first)"
        return ""

    def _pdb_gate(self, batch: list[Operation], control: RunControl) -> dict[int, str]:
        """Wait until no PodDisruptionBudget over the batch's pods forbids a disruption (up to the timeout).

        Budgets that forbid disruption by their spec (maxUnavailable 0) were dealt with when planning:
        only the ones that forbid it for now (too few healthy pods) are waited for.
        """
        from meshtui.engine.planners.common import blocking_pdb

        deadline = time.monotonic() + self._remaining(self.rollout_timeout)
        while True:
            blocked: dict[int, str] = {}
            for index, op in enumerate(batch):
                if op.namespace is None or op.kind not in ("Deployment", "StatefulSet", "DaemonSet", "Rollout"):
                    continue
                api = self.apis[op.cluster]
                obj = get(api, op.path)
                if obj is None:
                    continue
                tpl_labels = ((obj.get("spec") or {}).get("template") or {}).get("metadata", {}).get("labels") or {}
                pdbs = list_all(api, f"/apis/policy/v1/namespaces/{op.namespace}/poddisruptionbudgets")
                if blocking_pdb(pdbs, op.namespace, tpl_labels, permanent=True) is not None:
                    continue  # restarted on purpose with --ignore-pdb
                found = blocking_pdb(pdbs, op.namespace, tpl_labels, permanent=False)
                if found is not None:
                    blocked[index] = f"PodDisruptionBudget {op.namespace}/{found[0]} allows no disruption ({found[1]})"
            if not blocked:
                return {}
            if time.monotonic() >= deadline or control.aborted:
                return {i: f"{why}; waited {self.rollout_timeout:g}s, not restarted" for i, why in blocked.items()}
            self._status(f"waiting before the batch: {next(iter(blocked.values()))}")
            control.sleep(1.0)

    def wait_rollout(
        self, api: RawApi, op: Operation, timeout: float, control: RunControl, *, appear: bool = False
    ) -> tuple[bool, str]:
        """Watch one workload (fieldSelector on its name, as `kubectl rollout status`) until it rolled out.

        `appear`: the object may not exist yet (an installer is creating it).
        """
        deadline = time.monotonic() + self._remaining(timeout)
        last = "not observed yet"
        while True:
            if control.aborted:
                return False, "aborted by the operator"
            try:
                obj = retrying(lambda: _get_or_none(api, op.path))
            except ClusterError as exc:
                return False, exc.message
            if obj is None:
                if not appear:
                    return False, f"{op.object_ref} was deleted while rolling out"
                last = f"{op.object_ref} does not exist yet"
            else:
                state = _rollout(op.kind, obj)
                if state[0]:
                    return True, state[2]
                if state[1]:
                    return False, state[2]
                last = state[2]
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False, f"timed out after {timeout:g}s: {last}"
            rv = str(((obj or {}).get("metadata") or {}).get("resourceVersion") or "")
            query: list[tuple[str, str | int]] = [
                ("watch", "1"),
                ("fieldSelector", f"metadata.name={op.name}"),
                ("timeoutSeconds", max(1, min(WATCH_WINDOW, int(remaining) + 1))),
                ("allowWatchBookmarks", "true"),
            ]
            if rv:
                query.append(("resourceVersion", rv))
            try:
                stream = api.stream(
                    op.api_path,
                    query=query,
                    timeout=(10.0, WATCH_WINDOW + 10.0),
                    what=f"watching {op.object_ref} roll out",
                )
            except ClusterError as exc:
                if not is_transient(exc) and not isinstance(exc, NotFound):
                    return False, exc.message
                control.sleep(0.5)
                continue
            try:
                for line in stream:
                    event = orjson.loads(line)
                    kind = event.get("type")
                    if kind == "ERROR":
                        break  # 410 Gone and friends: read the object again
                    if kind == "DELETED" and not appear:
                        return False, f"{op.object_ref} was deleted while rolling out"
                    if kind in ("ADDED", "MODIFIED"):
                        state = _rollout(op.kind, event.get("object") or {})
                        if state[0]:
                            return True, state[2]
                        if state[1]:
                            return False, state[2]
                        last = state[2]
                    if control.aborted or time.monotonic() >= deadline:
                        break
            except ClusterError:
                control.sleep(0.2)
            except orjson.JSONDecodeError:
                pass
            finally:
                stream.close()


def _get_or_none(api: RawApi, path: str) -> dict[str, Any] | None:
    try:
        result: dict[str, Any] = api.request("GET", path, what=f"reading {path}")
    except NotFound:
        return None
    return result


def _rollout(kind: str, obj: dict[str, Any]) -> tuple[bool, bool, str]:
    """(done, failed, message) of a workload's rollout; Argo Rollouts by their phase."""
    if kind == "Rollout":
        status = obj.get("status") or {}
        gen = int((obj.get("metadata") or {}).get("generation") or 0)
        observed = str(status.get("observedGeneration") or "")
        phase = status.get("phase")
        if observed and observed.isdigit() and int(observed) < gen:
            return False, False, "waiting for the rollout controller"
        if phase == "Healthy":
            return True, False, "healthy"
        if phase == "Degraded":
            return False, True, f"degraded: {status.get('message', '')}"
        return False, False, f"phase {phase or 'unknown'}"
    state = rollout_state(kind, obj)
    return state.done, state.failed, state.message
