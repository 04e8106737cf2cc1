"""The engine's Session: one operator's upgrade over one mesh, from a plan to the record of its run.

The dashboard and every `meshtui upgrade` command drive this one class, so both follow the same
state machine (`phase.evaluate`) and write the same record. It orchestrates: plans come from the
planners' registry (`planners/registry.py`), record changes from `recordchanges.py` and `restarts.py`,
the lock from `upgradelock.py`. Network calls happen in `refresh`, `plan`, `dry_run` and `run` only;
`state` is cheap and pure.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, cast

from meshtui.cluster.kubeconfig import ClusterTarget
from meshtui.cluster.oneshot import load_once
from meshtui.cluster.rawapi import RawApi
from meshtui.domain.actions import ACTIONS, CHOICES, GOALS, RESTART_ACTIONS, TITLES, ActionId
from meshtui.domain.inventory import Inventory, InventoryView
from meshtui.domain.plan import Operation, Plan
from meshtui.domain.reasons import WRITE_BLOCKERS, Reason, ReasonKind, messages
from meshtui.engine import phase as phases
from meshtui.engine import recordchanges, restarts
from meshtui.engine.api import ActionState, CheckResult, EngineState, LockState, Progress
from meshtui.engine.controlplanes import control_plane_namespaces, record_namespaces
from meshtui.engine.executor import Executor, RestartEvent, RunControl, RunOutcome, StepOutcome, StepResult
from meshtui.engine.installers import refuse_program, run_program, unreachable_revisions
from meshtui.engine.params import ActionParams, FinishParams, RestartParams, SkipVerifyParams
from meshtui.engine.permissions import PermissionCache
from meshtui.engine.planners.common import PlanContext, PlanRequest, rfc3339
from meshtui.engine.planners.finish import offline_pair
from meshtui.engine.planners.registry import build_plan
from meshtui.engine.record import RECORD_NAME, JournalEntry, UpgradeRecord, VerifySkip
from meshtui.engine.recordstore import RecordStore
from meshtui.engine.upgradelock import LockLost, UpgradeLock, identity
from meshtui.engine.verify import run_checks
from meshtui.engine.verifystate import SKIP_WORDS, data_plane_state, kept_revision

#: Kinds whose deletion by Finish is preceded by a fresh gate check (the webhooks and istiod): see docs/reliability.md.
RECHECKED_KINDS = frozenset({"MutatingWebhookConfiguration", "ValidatingWebhookConfiguration", "Deployment"})
#: The Finish gate's condition "the offline plan has not been shown yet" (planning Finish shows it).
PLAN_NOT_SHOWN = "plan_not_shown"


class EngineSession:
    """One operator's session over a mesh (one or more clusters)."""

    def __init__(
        self,
        targets: list[ClusterTarget],
        view: InventoryView | None = None,
        *,
        read_only: bool = False,
        source: str | None = None,
        target: str | None = None,
        clock: Callable[[], datetime] | None = None,
        runner: Callable[[list[str], float], tuple[int, str]] | None = None,
        rollout_timeout: float = 300.0,
    ):
        if not targets:
            raise ValueError("a session needs at least one cluster")
        self.targets = targets
        self.apis = {t.name: RawApi(t.api_client, t.name) for t in targets}
        self.clusters = list(self.apis)
        # A read-only connection makes the whole session read-only, installers included.
        self.read_only = read_only or any(t.read_only for t in targets)
        self.source_flag = source
        self.target_flag = target
        self.clock = clock or (lambda: datetime.now(UTC))
        self.runner = refuse_program if self.read_only else (runner or run_program)
        self.rollout_timeout = rollout_timeout
        self.me = identity()
        self.permissions = PermissionCache(self.apis, enabled=not self.read_only)
        self.missing: dict[ActionId, tuple[str, ...]] = {}
        self.deadline: float | None = None
        self.status_line = ""
        self._control: RunControl | None = None
        self._last_view: InventoryView | None = None
        #: The last view judged, and the (cluster, revision) served from outside whose webhooks cannot be
        #: called, with why (read in `refresh`: the inventory does not hold endpoints).
        self._seen_view: InventoryView | None = view
        self.unreachable: dict[tuple[str, str], str] = {}
        self._action: ActionId | None = None  # the action of the plan being run, as its journal entries name it
        self._pending_skip: tuple[Plan, str] | None = None  # the skip-verify plan last shown, with its reason
        self._discarding: Plan | None = None  # the restart plan that discards the recorded unfinished one
        self.cp: dict[str, str] = control_plane_namespaces(view, self.clusters, source)
        self.store = RecordStore(self.apis[self.clusters[0]], self.cp[self.clusters[0]])
        self.lock = UpgradeLock(self.apis[self.clusters[0]], self.cp[self.clusters[0]], self.me, self.clock)
        self.lock_state = LockState(holder=None, mine=False)
        self._find_record(view)
        self.store.fence = self._fence
        #: Where the planners read from (the clusters, their control-plane namespaces, the clock).
        self.ctx = PlanContext(self.apis, self.cp, self.clock)
        self._plan: Plan | None = None  # the plan being run
        self._guarded = 0  # operations of that plan the guard has let through
        self._offline: tuple[Plan, str] | None = None  # the last Finish plan and the revision it takes offline

    # ------------------------------------------------------------------------------------------ setup

    def _find_record(self, view: InventoryView | None) -> None:
        """Read the record where it lives: istio-system, else the namespace of any istiod of the first cluster."""
        first = self.clusters[0]
        for ns in record_namespaces(view, first, self.cp[first]):
            store = RecordStore(self.apis[first], ns)
            if store.read() is not None:
                self.store = store
                self.lock = UpgradeLock(self.apis[first], ns, self.me, self.clock)
                assert store.record is not None
                self.cp = control_plane_namespaces(view, self.clusters, store.record.source)
                self.cp[first] = ns
                return
        self.store.read()

    @property
    def record(self) -> UpgradeRecord | None:
        """The upgrade record as last read or written."""
        return self.store.record

    def now(self) -> str:
        """The time as the record writes it."""
        return rfc3339(self.clock())

    def pair(self, view: InventoryView) -> tuple[str | None, str | None, str]:
        """Source, target and where they came from."""
        return phases.choose_pair(self.record, self.source_flag, self.target_flag, view.revisions)

    # ------------------------------------------------------------------------------------------ Session protocol

    def state(self, view: InventoryView) -> EngineState:
        """The phase and every action's state (no network)."""
        self._seen_view = view
        return phases.evaluate(
            self.record,
            view,
            permissions=self.missing,
            lock=self.lock_state,
            read_only=self.read_only,
            read_only_reason="read-only mode (--read-only): meshtui sends no write request",
            now=self.clock(),
            source_flag=self.source_flag,
            target_flag=self.target_flag,
            unreachable=self.unreachable,
        )

    def refresh(self, actions: list[ActionId] | None = None) -> None:
        """Re-read the record and the lock, and check permissions (once per session) for the actions."""
        self.store.read()
        state = self.lock.state()
        if self.lock.held and not state.mine:
            # Taken over since the renewer last ran: stop writing now, not at the next renewal.
            self._lost(f"the upgrade lock was taken over by {state.holder}")
        self.lock_state = state
        wanted = actions if actions is not None else [a for a, _ in ACTIONS]
        self.missing.update(self.permissions.all_missing(wanted, self.cp))
        self.unreachable = unreachable_revisions(self.apis, self._seen_view)

    def acquire(self, *, take_over: bool = False) -> tuple[bool, str]:
        """Take the upgrade lock for writing (journalling a take-over); (held, why not)."""
        refusal = self.take_lock(take_over=take_over)
        return refusal is None, refusal.message if refusal is not None else ""

    def take_lock(self, *, take_over: bool = False) -> Reason | None:
        """Take the upgrade lock for writing (journalling a take-over); None, or why it was not taken."""
        if self.read_only:
            return Reason(ReasonKind.READ_ONLY, "read-only", "read-only mode")
        if self.lock.held:
            return None
        refusal = self.lock.acquire(take_over=take_over)
        self.lock_state = self.lock.last if refusal is None else self.lock.state()
        if refusal is not None:
            return refusal
        self.lock.start_renewing(self._lost)
        previous = self.lock.took_over_from
        if previous and self.record is not None:
            self.journal_entry("take-over", [self.lock.ref], "applied", f"took over the upgrade lock from {previous}")
        return None

    def _fence(self) -> None:
        """Before a write of the record: this session must still hold the lock (see `_guard`)."""
        refusal = self._lock_refusal()
        if refusal is not None:
            raise LockLost(f"{refusal.message}: nothing more is written by this session")

    def _lock_refusal(self) -> Reason | None:
        """Why this session may not write now (it lost the lock), reading the Lease; None while it holds it."""
        known = bool(self.lock.lost)
        refusal = self.lock.write_refusal()
        if refusal is not None and not known:
            self._lost(refusal.message)
        return refusal

    def _lost(self, reason: str) -> None:
        self.lock_state = self.lock.lose(reason, stop=self._stop_run)

    def _stop_run(self) -> None:
        control = self._control
        if control is not None:
            control.abort()

    @property
    def lost_lock(self) -> str:
        """Why this session stopped holding the upgrade lock (taken over); empty while it may write."""
        return self.lock.lost

    def plan(self, view: InventoryView, params: ActionParams) -> Plan:
        """The operations of the action `params` names; a plan the state machine refuses carries the reasons."""
        action = params.ACTION
        self._last_view = view
        state = self.state(view)
        disabled = state.action(action) if action in TITLES else None
        plan = self._build(view, state, params)
        reasons: list[Reason] = []
        blockers: list[Reason] = []
        if (
            disabled is not None
            and not disabled.enabled
            and not (action is ActionId.FINISH and _only_unshown(disabled))
        ):
            for reason in disabled.why:
                if reason.kind in WRITE_BLOCKERS:
                    blockers.append(reason)  # the plan can be shown; applying it is what is refused
                elif reason.kind is not ReasonKind.NOTHING_TO_DO:
                    reasons.append(reason)
        if reasons or blockers:
            why = tuple({_identity(r): r for r in (*reasons, *plan.refusal_reasons)}.values())
            plan = replace(
                plan,
                refusals=messages(why),
                why=why,
                notes=(*plan.notes, *(f"not applicable now: {b.message}" for b in blockers)),
            )
        return plan

    def _build(self, view: InventoryView, state: EngineState, params: ActionParams) -> Plan:
        """The registered planner's plan, remembering what running that very plan needs later."""
        action = params.ACTION
        source, target = state.source, state.target
        if source is None or target is None:
            return Plan(
                action,
                TITLES.get(action, action.value),
                refusals=("no source and target revision: name them with --source and --target",),
            )
        request = PlanRequest(
            self.ctx,
            view,
            source,
            target,
            record=self.record,
            me=self.me,
            record_rv=self.store.resource_version,
            gates=state.gates,
        )
        plan = build_plan(request, params)
        if isinstance(params, SkipVerifyParams):
            self._pending_skip = (plan, params.reason.strip())
        elif isinstance(params, RestartParams):
            if params.discard and not params.resume and restarts.unfinished_restart(request.record) is not None:
                self._discarding = plan  # running it drops the recorded restart (journalled)
        elif isinstance(params, FinishParams):
            choice = request.record.finish_choice if request.record is not None else None
            if choice is not None:
                self._offline = (plan, offline_pair(choice, source, target)[0])
                if not plan.refused:
                    self.mark_plan_shown()
        return plan

    def dry_run(self, plan: Plan, checked: Callable[[int, int], None] | None = None) -> RunOutcome:
        """Server-side dry run of every operation (nothing in read-only mode); `checked(done, total)` reports."""
        return self._executor().dry_run(plan, checked)

    def mark_plan_shown(self) -> None:
        """Record that the offline plan was shown (the Finish gate requires it)."""
        if self.record is not None and not self.record.offline_plan_shown and self._writable():
            self._write(lambda r: setattr(r, "offline_plan_shown", True))

    def journal_refusal(self, plan: Plan) -> None:
        """Journal a refused attempt (when this session may write: the lock is free or ours)."""
        if not plan.refused or self.read_only or self.record is None:
            return
        held, _ = self.acquire()
        if held:
            self.journal_entry(plan.action, [], "refused", "; ".join(plan.refusals))

    def run(self, plan: Plan, control: RunControl, progress: Callable[[Progress], None]) -> RunOutcome:
        """Apply a confirmed plan, reporting progress; the record and journal follow every step.

        The one way a plan is applied: the lock is taken, the action's gate is judged again on a fresh read
        of the cluster, and every write of the run passes `_guard` (see docs/reliability.md).
        """
        if plan.refused:
            self.journal_refusal(plan)
            return RunOutcome(plan, refusal=plan.refusal_reasons)
        if self.read_only:
            return RunOutcome(plan, refusal=(Reason(ReasonKind.READ_ONLY, "read-only", "read-only mode"),))
        refusal = self.take_lock()
        if refusal is not None:
            steps = [StepOutcome(op, StepResult.REFUSED, refusal.message) for op in plan.operations[:1]]
            return RunOutcome(plan, steps, refusal=(refusal,))
        self._control = control
        self._action = plan.action
        self._plan, self._guarded = plan, 0
        try:
            if _rechecked(plan.action):
                message = "reading the cluster afresh to check the gate before writing"
                progress(Progress(plan.action, -1, len(plan.operations), message=message))
            stale = self._recheck(plan)
            if stale:
                self._refuse(plan, stale)
                return RunOutcome(plan, refusal=stale)
            return self._run(plan, control, progress)
        finally:
            self._control = None
            self._action = None
            self._plan = None

    def fresh_state(self) -> tuple[InventoryView, EngineState]:
        """One fresh read of every cluster and of the record (as `meshtui status` reads), and the state on it."""
        inventory = Inventory()
        for t in self.targets:
            inventory.add_cluster(t.name, t.server)
        load_once(self.targets, cast(Any, inventory))
        record = self.store.read()
        base = inventory.view(self.source_flag, self.target_flag)
        source, target, _ = self.pair(base)
        chosen = record.finish_choice if record is not None else None
        shown = record.offline_plan_shown if record is not None else False
        view = inventory.view(source, target, chosen, shown)
        return view, self.state(view)

    def _recheck(self, plan: Plan) -> tuple[Reason, ...]:
        """The gate of the plan's action judged on a fresh read: the stale-view reasons, empty when it holds."""
        if not _rechecked(plan.action):
            return ()
        if plan.action == ActionId.FINISH:
            self.mark_plan_shown()  # the operator confirmed this very plan: it was shown
        _, state = self.fresh_state()
        reasons = [r for r in state.action(plan.action).why if r.kind is ReasonKind.GATE]
        offline = self._offline
        if (
            plan.action == ActionId.FINISH
            and offline is not None
            and offline[0] is plan
            and state.source
            and state.target
        ):
            record = self.record
            choice = record.finish_choice if record is not None else None
            going = state.source if choice == "upgrade" else state.target if choice == "rollback" else None
            if going != offline[1]:
                message = f"the plan takes {offline[1]} offline, but the recorded choice now takes {going} offline"
                reasons.append(Reason(ReasonKind.GATE, "choice-changed", message))
        return tuple(replace(r, kind=ReasonKind.STALE_VIEW) for r in reasons)

    def _refuse(self, plan: Plan, stale: tuple[Reason, ...]) -> None:
        """Journal a run refused on a fresh read (nothing else was written)."""
        self.journal_entry(plan.action, [], "refused", stale_sentence(plan, stale))

    def _guard(self, op: Operation) -> tuple[Reason, ...]:
        """Before each write of a run: the lock is still this session's (the Lease is read), and before each
        irreversible deletion after the first the gate is judged again on a fresh read."""
        refusal = self._lock_refusal()
        if refusal is not None:
            return (refusal,)
        plan = self._plan
        first = self._guarded == 0
        self._guarded += 1
        if plan is not None and not first and plan.action == ActionId.FINISH and op.kind in RECHECKED_KINDS:
            return self._recheck(plan)
        return ()

    def _run(self, plan: Plan, control: RunControl, progress: Callable[[Progress], None]) -> RunOutcome:
        action = plan.action
        total = len(plan.operations)

        def report(index: int, count: int, outcome: StepOutcome) -> None:
            op = outcome.operation
            progress(
                Progress(
                    action,
                    index,
                    count,
                    current=f"{op.namespace or op.cluster}: {op.kind} {op.name}",
                    message=outcome.message,
                    paused=control.paused,
                )
            )

        def status(message: str) -> None:
            self.status_line = message
            progress(Progress(action, -1, total, message=message, paused=control.paused))

        if action in CHOICES:
            if not self._write(lambda r: recordchanges.choose(r, action)):
                return RunOutcome(plan, refusal=(Reason(ReasonKind.LOCK, "lock-lost", self.lost_lock),))
            self.journal_entry(action, [self.store.ref], "applied", f"chose {action}")
            return RunOutcome(plan)
        if action == ActionId.VERIFY:
            # The checks and the data-plane fingerprint the run is kept with are those of the cluster now, not of
            # the view the plan was made on (pods that became Ready since would make the run stale at once).
            view, _ = self.fresh_state()
            self.verify(view)
            return RunOutcome(plan)
        if action == ActionId.SKIP_VERIFY:
            pending, self._pending_skip = self._pending_skip, None
            if pending is not None and pending[0] is plan and self._last_view is not None:
                self.skip_verify(self._last_view, pending[1])
            return RunOutcome(plan)
        if action in RESTART_ACTIONS:
            self._start_restart(plan)
        executor = self._executor(on_status=status)
        outcome = executor.apply(plan, control=control, progress=report)
        if self.lost_lock and not outcome.refusal:
            # The run was cut short (a wait aborted) because the lock was lost: say so, typed.
            outcome.refusal = (Reason(ReasonKind.LOCK, "lock-lost", self.lost_lock),)
        if action in GOALS and any(s.result is StepResult.APPLIED for s in outcome.steps) and self.record is not None:
            goal = GOALS[action]
            if self.record.goal != goal:
                self._write(lambda r: setattr(r, "goal", goal))
        if action == ActionId.START and outcome.ok:
            self.store.read()
        elif action == ActionId.FINISH and outcome.ok and self.record is not None:
            done = "completed" if self.record.finish_choice == "upgrade" else "cancelled"
            self._write(lambda r: recordchanges.finish(r, done, self.now()))
            self.journal_entry(ActionId.FINISH, [], "applied", f"the upgrade is {done}")
        restart = self.record.restart if self.record is not None else None
        if action in RESTART_ACTIONS and restart is not None and not restart.remaining:
            self._write(lambda r: setattr(r, "restart", None))
        return outcome

    def verify(self, view: InventoryView, revision: str | None = None) -> tuple[CheckResult, ...]:
        """Run the verify checks of the kept revision and record the run (time, verdict, data-plane state)."""
        source, target, _ = self.pair(view)
        kept = revision or kept_revision(self.record, source, target)
        if kept is None:
            return (CheckResult("target", "unknown", "no target revision"),)
        checks = run_checks(view, self.record, kept, self.apis, self.cp)
        if self.record is not None and self._writable():
            when = self.now()
            stored, run, after = recordchanges.verify_run(checks, data_plane_state(view), kept, self.me, when)
            self._write(lambda r: recordchanges.store_checks(r, stored, when, run))
            summary = ", ".join(f"{c.name} {c.result}" for c in checks)
            self.journal_entry(ActionId.VERIFY, [], "applied", f"verify of {kept} {run.result}: {summary}", after=after)
        return checks

    def skip_verify(self, view: InventoryView, reason: str) -> tuple[bool, str]:
        """Record the operator's typed decision to finish without a passing verify run; (recorded, why not)."""
        reason = reason.strip()
        if not reason:
            return False, f"type `{SKIP_WORDS}` followed by the reason"
        if self.record is None:
            return False, "no upgrade has been started"
        held, why = self.acquire()
        if not held:
            return False, why
        source, target, _ = self.pair(view)
        kept = kept_revision(self.record, source, target)
        if kept is None:
            return False, "no revision to keep"
        skip = VerifySkip(
            at=self.now(), by=self.me, revision=kept, reason=reason, fingerprint=data_plane_state(view).fingerprint
        )
        self._write(lambda r: setattr(r, "verify_skip", skip))
        self.journal_entry(
            ActionId.SKIP_VERIFY,
            [],
            "applied",
            f"verify of {kept} skipped: {reason}",
            after={"fingerprint": skip.fingerprint},
        )
        return True, ""

    def close(self) -> None:
        """Release the lock if held and stop background renewal."""
        self.lock.release()

    # ------------------------------------------------------------------------------------------ internals

    def _writable(self) -> bool:
        return not self.read_only and self.lock.held and not self.lost_lock

    def _executor(self, on_status: Callable[[str], None] | None = None) -> Executor:
        return Executor(
            self.apis,
            guard=self._guard,
            journal=self._journal_step,
            read_only=self.read_only,
            runner=self.runner,
            on_restart=self._restart_event,
            on_status=on_status,
            rollout_timeout=self.rollout_timeout,
            deadline=self.deadline,
        )

    def journal_entry(
        self,
        action: str,
        objects: list[str],
        result: str,
        message: str,
        cluster: str = "",
        before: dict[str, Any] | None = None,
        after: dict[str, Any] | None = None,
    ) -> None:
        """Append one entry to the journal (conditionally: a concurrent writer's entries are kept)."""
        if self.record is None or not self._writable():
            return
        entry = JournalEntry(
            time=self.now(),
            identity=self.me,
            cluster=cluster or self.clusters[0],
            action=str(action),
            objects=objects,
            before=before or {},
            after=after or {},
            result=result,
            message=message,
        )
        self._write(lambda r: recordchanges.journal(r, entry))

    def _write(self, change: Callable[[UpgradeRecord], None]) -> bool:
        """Change the record (fenced by the lock); False when this session lost the lock instead."""
        try:
            self.store.update(change)
        except LockLost:
            return False
        return True

    def _journal_step(self, op: Operation, result: StepResult, message: str) -> None:
        if op.kind == "ConfigMap" and op.name == RECORD_NAME and op.verb in ("create", "replace"):
            self.store.read()
        record = self.record
        if record is None or not self._writable():
            return
        entry = recordchanges.step_entry(op, result, message, str(self._action or op.verb), self.me, self.now())
        self._write(lambda r: recordchanges.journal_step(r, entry, op, result))

    def _start_restart(self, plan: Plan) -> None:
        """Record the restart a plan starts (a resumed one stays as recorded); drop a discarded one first."""
        if plan is self._discarding:
            self._discard_restart()
        record = self.record
        if record is None or not self._writable():
            return
        progress = restarts.progress_for(plan, record, self.now())
        if progress is not None:
            self._write(lambda r: setattr(r, "restart", progress))

    def _discard_restart(self) -> None:
        """Drop the recorded unfinished restart the operator chose to discard (journalled)."""
        self._discarding = None
        record = self.record
        if record is None or record.restart is None or not self._writable():
            return
        left, what = list(record.restart.remaining), record.restart.action
        if not self._write(lambda r: setattr(r, "restart", None)):
            return
        self.journal_entry(
            ActionId.RESTART,
            [],
            "applied",
            f"discarded the recorded {what}: {len(left)} workloads left as they are",
            before={"remaining": ", ".join(left[:20])},
        )

    def _restart_event(self, event: RestartEvent, op: Operation, message: str) -> None:
        if event is RestartEvent.BATCH or self.record is None or not self._writable():
            return
        when = self.now()
        self._write(lambda r: restarts.note_event(r, event, op, message, when))


def _rechecked(action: ActionId) -> bool:
    """Actions whose gate is judged again on a fresh read before they write (not the read-only ones, nor
    record-only steps outside the state machine's actions)."""
    return action not in phases.READ_ONLY_ACTIONS and action in TITLES


def stale_sentence(plan: Plan, stale: tuple[Reason, ...]) -> str:
    """The one sentence a stale-view refusal is told with."""
    conditions = "; ".join(r.message for r in stale)
    return (
        f"refused: the cluster changed since this plan was made and {plan.action} no longer holds on a fresh "
        f"read ({conditions}); nothing more was written"
    )


def refusal_sentence(outcome: RunOutcome) -> str:
    """The sentence a run refused before or between its steps is told with (a stale view, a lost lock)."""
    stale = tuple(r for r in outcome.refusal if r.kind is ReasonKind.STALE_VIEW)
    if stale:
        return stale_sentence(outcome.plan, stale)
    return f"refused: {'; '.join(r.message for r in outcome.refusal)}; nothing more was written"


def _identity(reason: Reason) -> tuple[object, ...]:
    """What makes two reasons the same one (a planner's own refusals have no code of their own)."""
    return (reason.kind, reason.code, reason.offenders, reason.message if reason.code == "plan" else "")


def _only_unshown(action: ActionState) -> bool:
    """True when the Finish gate fails only because the offline plan was not shown yet (showing it now)."""
    return all(r.code == PLAN_NOT_SHOWN for r in action.why)
