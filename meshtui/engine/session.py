"""The engine's Session: the record, the lock, permissions, plans and runs over one mesh.

The dashboard and every `meshtui upgrade` command drive this one class, so both follow the same
state machine (`phase.evaluate`) and write the same record. Network calls happen in `refresh`, `plan`,
`dry_run` and `run` only; `state` is cheap and pure.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, Literal, cast

from meshtui.cluster.errors import ClusterError
from meshtui.cluster.kubeconfig import ClusterTarget
from meshtui.cluster.oneshot import load_once
from meshtui.cluster.rawapi import RawApi
from meshtui.domain.inventory import Inventory, InventoryView
from meshtui.domain.objects import REV_LABEL, TAG_LABEL
from meshtui.domain.plan import Operation, Plan
from meshtui.domain.reasons import WRITE_BLOCKERS, Reason, ReasonKind, messages
from meshtui.engine import phase as phases
from meshtui.engine.ambient import plan_step as plan_ambient_step
from meshtui.engine.api import ACTIONS, ActionState, CheckResult, EngineState, LockState, Progress
from meshtui.engine.executor import Executor, RunControl, RunOutcome, StepOutcome, StepResult
from meshtui.engine.installers import (
    InstallerSpec,
    external_readiness,
    load_manifests,
    plan_deploy,
    refuse_program,
    run_program,
)
from meshtui.engine.offline import plan_offline
from meshtui.engine.permissions import PermissionCache
from meshtui.engine.planner import (
    NS_INJECTION,
    NS_REV,
    TEMPLATE_RESTARTED,
    TEMPLATE_REV,
    PlanContext,
    Planner,
    rfc3339,
    workload_key,
)
from meshtui.engine.podplan import plan_delete_pods
from meshtui.engine.record import (
    RECORD_NAME,
    CheckRecord,
    JournalEntry,
    RestartProgress,
    SwitchMark,
    UpgradeRecord,
    VerifyRun,
    VerifySkip,
)
from meshtui.engine.recordstore import RecordStore
from meshtui.engine.upgradelock import LockLost, UpgradeLock, identity
from meshtui.engine.verify import run_checks
from meshtui.engine.verifystate import SKIP_WORDS, data_plane_state, kept_revision

ISTIO_NAMESPACE = "istio-system"
RESTART_ACTIONS = ("restart", "gateways", "gateways-back")
#: Kinds whose deletion by Finish is preceded by a fresh gate check (the webhooks and istiod): see docs/reliability.md.
RECHECKED_KINDS = frozenset({"MutatingWebhookConfiguration", "ValidatingWebhookConfiguration", "Deployment"})
#: The Finish gate's condition "the offline plan has not been shown yet" (planning Finish shows it).
PLAN_NOT_SHOWN = "plan_not_shown"
#: The Finish gate's condition "choose Upgrade or Rollback first".
NOT_CHOSEN = "not_chosen"
#: The direction each action works in: what `todo`, the offenders and verify follow until a choice is made.
GOALS = {"switch": "upgrade", "gateways": "upgrade", "switch-back": "rollback", "gateways-back": "rollback"}


def control_plane_namespaces(view: InventoryView | None, clusters: list[str], source: str | None) -> dict[str, str]:
    """Each cluster's control-plane namespace: the source istiod's namespace, else istio-system."""
    out: dict[str, str] = {}
    for cluster in clusters:
        ns = ISTIO_NAMESPACE
        plane = view.control_plane(cluster) if view is not None else None
        if plane is not None:
            rev = plane.revision(source) if source else None
            candidates = [rev] if rev is not None else list(plane.revisions)
            for r in candidates:
                if r is not None and r.istiod:
                    ns = r.istiod.split("/", 1)[0]
                    break
        out[cluster] = ns
    return out


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
        self.missing: dict[str, tuple[str, ...]] = {}
        self.deadline: float | None = None
        self.status_line = ""
        self.lost_lock = ""
        self._control: RunControl | None = None
        self._last_view: InventoryView | None = None
        #: The last view judged, and the (cluster, revision) served from outside whose webhooks cannot be
        #: called, with why (read in `refresh`: the inventory does not hold endpoints).
        self._seen_view: InventoryView | None = view
        self.unreachable: dict[tuple[str, str], str] = {}
        self._action = ""  # the action of the plan being run, as its journal entries name it
        self._pending_skip: tuple[Plan, str] | None = None  # the skip-verify plan last shown, with its reason
        self._discarding: Plan | None = None  # the restart plan that discards the recorded unfinished one
        self._lock = threading.RLock()
        self.cp: dict[str, str] = control_plane_namespaces(view, self.clusters, source)
        self.store = RecordStore(self.apis[self.clusters[0]], self.cp[self.clusters[0]])
        self.lock = UpgradeLock(self.apis[self.clusters[0]], self.cp[self.clusters[0]], self.me, self.clock)
        self.lock_state = LockState(holder=None, mine=False)
        self._find_record(view)
        self.store.fence = self._fence
        self.planner = Planner(PlanContext(self.apis, self.cp, self.clock))
        self._plan: Plan | None = None  # the plan being run
        self._guarded = 0  # operations of that plan the guard has let through
        self._offline: tuple[Plan, str] | None = None  # the last Finish plan and the revision it takes offline

    # ------------------------------------------------------------------------------------------ setup

    def _find_record(self, view: InventoryView | None) -> None:
        """Read the record where it lives: istio-system, else the namespace of any istiod of the first cluster."""
        first = self.clusters[0]
        candidates = [self.cp[first], ISTIO_NAMESPACE]
        plane = view.control_plane(first) if view is not None else None
        if plane is not None:
            candidates += [r.istiod.split("/", 1)[0] for r in plane.revisions if r.istiod]
        for ns in dict.fromkeys(candidates):
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

    def refresh(self, actions: list[str] | None = None) -> None:
        """Re-read the record and the lock, and check permissions (once per session) for the actions."""
        self.store.read()
        state = self.lock.state()
        if self.lock.held and not state.mine:
            # Taken over since the renewer last ran: stop writing now, not at the next renewal.
            self._lost(f"the upgrade lock was taken over by {state.holder}")
        self.lock_state = state
        wanted = actions if actions is not None else [a for a, _ in ACTIONS]
        self.missing.update(self.permissions.all_missing(wanted, self.cp))
        self.unreachable = self._external_readiness(self._seen_view)

    def _external_readiness(self, view: InventoryView | None) -> dict[tuple[str, str], str]:
        """Revisions served from outside whose webhooks cannot be called here (a Service with no endpoints)."""
        out: dict[tuple[str, str], str] = {}
        if view is None:
            return out
        for plane in view.control_planes:
            api = self.apis.get(plane.cluster)
            for rev in plane.revisions:
                if api is None or not rev.managed or not rev.ready:
                    continue
                try:
                    ready, why = external_readiness(api, rev.name)
                except ClusterError:
                    continue  # the connection state says why; the view's own readiness stands
                if not ready:
                    out[(plane.cluster, rev.name)] = why
        return out

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
        self.lost_lock = ""
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
        if self.lost_lock:
            return Reason(ReasonKind.LOCK, "lock-lost", self.lost_lock)
        refusal = self.lock.verify()
        if refusal is not None:
            self._lost(refusal.message)
        return refusal

    def _lost(self, reason: str) -> None:
        self.lost_lock = reason
        control = self._control
        if control is not None:
            control.abort()
        # The lease is the new holder's: stop renewing it without writing, so taking it back is a real take-over.
        self.lock.forget()
        try:
            self.lock_state = self.lock.state()
        except ClusterError:
            self.lock_state = LockState(holder=None, mine=False, detail=reason)

    def plan(self, action: str, view: InventoryView, **params: Any) -> Plan:
        """The operations of an action; a plan the state machine refuses carries the reasons."""
        self._last_view = view
        state = self.state(view)
        source, target = state.source, state.target
        disabled = state.action(action) if action in dict(ACTIONS) else None
        plan = self._build(action, view, source, target, params)
        reasons: list[Reason] = []
        blockers: list[Reason] = []
        if disabled is not None and not disabled.enabled and not (action == "finish" and _only_unshown(disabled)):
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

    def _build(
        self, action: str, view: InventoryView, source: str | None, target: str | None, params: dict[str, Any]
    ) -> Plan:
        title = dict(ACTIONS).get(action, action)
        if source is None or target is None:
            return Plan(
                action, title, refusals=("no source and target revision: name them with --source and --target",)
            )
        namespaces = params.get("namespaces")
        if params.get("all"):
            namespaces = None
        elif namespaces is not None:
            namespaces = list(namespaces)
        if action == "start":
            return self.planner.start(source, target, self.me, view, self.record, self.store.resource_version)
        if action == "deploy":
            spec = params.get("installer") or InstallerSpec("external")
            return plan_deploy(self.planner.ctx, view, target, spec)
        if action in ("switch", "switch-back"):
            return self.planner.switch(
                view,
                namespaces=namespaces,
                to=params.get("to"),
                back=action == "switch-back",
                source=source,
                target=target,
                record=self.record,
            )
        if action == "move-tag":
            tag = params.get("tag")
            if not tag:
                return Plan(action, title, refusals=("name the tag to move",))
            return self.planner.move_tag(view, str(tag), str(params.get("to") or target))
        if action == "restart":
            return self._restart_plan(view, namespaces, params)
        if action == "delete-pods":
            return plan_delete_pods(self.planner.ctx, view, [str(p) for p in params.get("pods") or []])
        if action in ("gateways", "gateways-back"):
            manifests = None
            if params.get("manifests"):
                found = load_manifests(str(params["manifests"]))
                if found.problems:
                    return Plan(action, title, refusals=tuple(found.problems))
                manifests = found.objects
            plan = self.planner.gateways(
                view,
                back=action == "gateways-back",
                source=source,
                target=target,
                record=self.record,
                manifests=manifests,
                batch=int(params.get("batch") or 5),
                pause=float(params.get("pause") or 0),
            )
            wanted = params.get("gateways")
            if wanted:
                keep = {str(g) for g in wanted}
                ops = tuple(op for op in plan.operations if f"{op.namespace}/{op.name}" in keep)
                plan = replace(plan, operations=ops)
            return plan
        if action == "ambient":
            return plan_ambient_step(self.planner.ctx, view, target, params)
        if action == "skip-verify":
            kept = kept_revision(self.record, source, target)
            reason = str(params.get("reason") or "").strip()
            refusals = () if reason else (f"type `{SKIP_WORDS}` followed by the reason",)
            plan = Plan(
                action,
                f"Finish without a passing verify of {kept}",
                refusals=refusals,
                notes=(
                    f"reason: {reason}",
                    "recorded in the upgrade record and the journal; any later data-plane change needs a new one",
                ),
            )
            self._pending_skip = (plan, reason)
            return plan
        if action == "verify":
            return Plan(
                action,
                f"Run the verify checks for {kept_revision(self.record, source, target)}",
                notes=("reads only; the results are kept in the upgrade record",),
            )
        if action in ("upgrade", "rollback"):
            away = source if action == "upgrade" else target
            return Plan(
                action,
                f"{action.capitalize()}: choose to take {away} offline",
                notes=(f"records the choice; Finish then takes {away} offline",),
            )
        if action == "finish":
            record = self.record
            choice = record.finish_choice if record is not None else None
            if choice is None:
                unchosen = Reason(ReasonKind.GATE, NOT_CHOSEN, "choose Upgrade or Rollback first")
                return Plan(action, title, refusals=(unchosen.message,), why=(unchosen,))
            gates = self.state(view).gates
            assert gates is not None
            revision, kept = (source, target) if choice == "upgrade" else (target, source)
            verdict = gates.upgrade if choice == "upgrade" else gates.rollback
            plan = plan_offline(self.planner.ctx, view, revision, kept, verdict, choice.capitalize())
            self._offline = (plan, revision)
            if not plan.refused:
                self.mark_plan_shown()
            return plan
        return Plan(action, title, refusals=(f"unknown action {action!r}",))

    def _restart_plan(self, view: InventoryView, namespaces: list[str] | None, params: dict[str, Any]) -> Plan:
        """A recorded, unfinished restart is resumed or discarded only when the operator says which."""
        record = self.record
        recorded = record.restart if record is not None and record.restart is not None else None
        if recorded is not None and not recorded.remaining:
            recorded = None
        if params.get("resume"):
            if recorded is None:
                nothing = ("no unfinished restart is recorded",)
                return Plan("restart", "Resume the interrupted restart", refusals=nothing)
            return self.planner.resume_restart(
                recorded.remaining,
                recorded.restarted_at,
                recorded.batch_size,
                recorded.pause_seconds,
                recorded.action,
            )
        discard = bool(params.get("discard") or params.get("new"))
        if recorded is not None and not discard:
            return Plan(
                "restart",
                "Restart workloads",
                refusals=(
                    f"a {recorded.action} of {len(recorded.workloads)} workloads is recorded unfinished "
                    f"({len(recorded.remaining)} left, in {', '.join(restart_namespaces(recorded.remaining))}): "
                    "resume it, or discard it and plan the namespaces you chose",
                ),
            )
        plan = self.planner.restart(
            view,
            namespaces=namespaces,
            batch=int(params.get("batch") or 5),
            pause=float(params.get("pause") or 0.0),
            ignore_pdb=bool(params.get("ignore_pdb")),
        )
        if recorded is None:
            return plan
        note = (
            f"discards the recorded {recorded.action}: {len(recorded.remaining)} workloads in "
            f"{', '.join(restart_namespaces(recorded.remaining))} are left as they are"
        )
        plan = replace(plan, notes=(*plan.notes, note))  # keeps every other field (remedies)
        self._discarding = plan
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
            self._action = ""
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
        if plan.action == "finish":
            self.mark_plan_shown()  # the operator confirmed this very plan: it was shown
        _, state = self.fresh_state()
        reasons = [r for r in state.action(plan.action).why if r.kind is ReasonKind.GATE]
        offline = self._offline
        if plan.action == "finish" and offline is not None and offline[0] is plan and state.source and state.target:
            record = self.record
            choice = record.finish_choice if record is not None else None
            going = state.source if choice == "upgrade" else state.target if choice == "rollback" else None
            if going != offline[1]:
                message = f"the plan takes {offline[1]} offline, but the recorded choice now takes {going} offline"
                reasons.append(Reason(ReasonKind.GATE, "choice-changed", message))
        return tuple(Reason(ReasonKind.STALE_VIEW, r.code, r.message, r.offenders) for r in reasons)

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
        if plan is not None and not first and plan.action == "finish" and op.kind in RECHECKED_KINDS:
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

        if action in ("upgrade", "rollback"):
            if not self._write(lambda r: _choose(r, action)):
                return RunOutcome(plan, refusal=(Reason(ReasonKind.LOCK, "lock-lost", self.lost_lock),))
            self.journal_entry(action, [self.store.ref], "applied", f"chose {action}")
            return RunOutcome(plan)
        if action == "verify":
            # The checks and the data-plane fingerprint the run is kept with are those of the cluster now, not of
            # the view the plan was made on (pods that became Ready since would make the run stale at once).
            view, _ = self.fresh_state()
            self.verify(view)
            return RunOutcome(plan)
        if action == "skip-verify":
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
        if action == "start" and outcome.ok:
            self.store.read()
        elif action == "finish" and outcome.ok and self.record is not None:
            done = "completed" if self.record.finish_choice == "upgrade" else "cancelled"
            self._write(lambda r: _finish(r, done, self.now()))
            self.journal_entry("finish", [], "applied", f"the upgrade is {done}")
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
            stored = [
                CheckRecord(name=c.name, result=c.result, detail=c.detail, offenders=list(c.offenders)) for c in checks
            ]
            when = self.now()
            dp = data_plane_state(view)
            results = {c.result for c in checks}
            verdict: Literal["passed", "failed", "unknown"] = (
                "failed" if "fail" in results else "unknown" if "unknown" in results else "passed"
            )
            run = VerifyRun(
                at=when,
                by=self.me,
                revision=kept,
                result=verdict,
                fingerprint=dp.fingerprint,
                namespaces=dp.namespaces,
                pods=dp.pods,
                restarts=dp.restarts,
                not_ready=dp.not_ready,
            )
            self._write(lambda r: _store_checks(r, stored, when, run))
            summary = ", ".join(f"{c.name} {c.result}" for c in checks)
            self.journal_entry(
                "verify",
                [],
                "applied",
                f"verify of {kept} {verdict}: {summary}",
                after={
                    "fingerprint": dp.fingerprint,
                    "namespaces": dp.namespaces,
                    "pods": dp.pods,
                    "restarts": dp.restarts,
                    "not_ready": dp.not_ready,
                },
            )
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
            "skip-verify", [], "applied", f"verify of {kept} skipped: {reason}", after={"fingerprint": skip.fingerprint}
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
            action=action,
            objects=objects,
            before=before or {},
            after=after or {},
            result=result,
            message=message,
        )

        def change(r: UpgradeRecord) -> None:
            r.append(entry)
            r.updated = entry.time

        self._write(change)

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
        entry = JournalEntry(
            time=self.now(),
            identity=self.me,
            cluster=op.cluster,
            action=self._action or op.verb,
            objects=[op.object_ref],
            before=_jsonable(op.before),
            after=_jsonable(op.after),
            result=result.value,
            message=message or op.summary,
        )
        applied = result in (StepResult.APPLIED, StepResult.ALREADY)
        when = entry.time

        def change(r: UpgradeRecord) -> None:
            r.append(entry)
            r.updated = when
            if applied:
                _bookkeep(r, op, when)

        self._write(change)

    def _start_restart(self, plan: Plan) -> None:
        keys = [
            workload_key(op.cluster, op.kind, op.namespace or "", op.name) for op in plan.operations if op.await_rollout
        ]
        if plan is self._discarding:
            self._discard_restart()
        record = self.record
        if record is None or not keys or not self._writable():
            return
        if record.restart is not None and record.restart.remaining and set(record.restart.remaining) >= set(keys):
            return  # resuming: the recorded batch stays as it is
        stamps = [op.after.get(k) for op in plan.operations for k in (TEMPLATE_RESTARTED, "spec.restartAt")]
        stamp = next((str(v) for v in stamps if v), self.now())
        progress = RestartProgress(
            batch_id=f"{plan.action}-{self.now()}",
            workloads=keys,
            restarted_at=stamp,
            batch_size=plan.batch_size or 5,
            pause_seconds=plan.pause_seconds,
            action=plan.action,
            updated=self.now(),
        )
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
            "restart",
            [],
            "applied",
            f"discarded the recorded {what}: {len(left)} workloads left as they are",
            before={"remaining": ", ".join(left[:20])},
        )

    def _restart_event(self, event: str, op: Operation, message: str) -> None:
        if event == "batch" or self.record is None or not self._writable():
            return
        key = workload_key(op.cluster, op.kind, op.namespace or "", op.name)
        when = self.now()

        def change(r: UpgradeRecord) -> None:
            if r.restart is None:
                return
            r.restart.updated = when
            if event == "rolled-out" and key not in r.restart.done:
                r.restart.done.append(key)
            elif event == "failed":
                r.restart.failed.append(f"{key}: {message}")

        self._write(change)


def restart_namespaces(workloads: list[str]) -> list[str]:
    """The namespaces of recorded workload keys (`cluster|Kind|ns|name`), in order."""
    return list(dict.fromkeys(key.split("|", 3)[2] for key in workloads if key.count("|") >= 3))


def _rechecked(action: str) -> bool:
    """Actions whose gate is judged again on a fresh read before they write (not the read-only ones, nor
    record-only steps outside the state machine's actions)."""
    return action not in phases.READ_ONLY_ACTIONS and action in dict(ACTIONS)


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


def _choose(record: UpgradeRecord, action: str) -> None:
    record.finish_choice = "upgrade" if action == "upgrade" else "rollback"
    record.phase = "finishing-upgrade" if action == "upgrade" else "finishing-rollback"


def _finish(record: UpgradeRecord, phase: str, when: str) -> None:
    record.phase = "completed" if phase == "completed" else "cancelled"
    record.finished = when


def _store_checks(record: UpgradeRecord, checks: list[CheckRecord], when: str, run: VerifyRun) -> None:
    record.checks = checks
    record.verify_at = when
    record.verify_run = run


def _jsonable(values: dict[str, Any]) -> dict[str, Any]:
    return {k: v if isinstance(v, str | int | float | bool | type(None)) else str(v) for k, v in values.items()}


def _bookkeep(record: UpgradeRecord, op: Operation, when: str) -> None:
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
