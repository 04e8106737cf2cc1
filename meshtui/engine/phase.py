"""The phase controller: (record, mesh view, permissions, lock, read-only, time) -> phase, gates, actions.

Pure (no I/O, no clock: `now` is passed in), so the dashboard, every CLI command and the tests judge
the upgrade with the same rules. Every disabled action carries every reason it is disabled: a gate's
unmet conditions, read-only mode, a missing permission, the lock held by someone else.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta

from meshtui.domain.actions import ACTIONS, ActionId
from meshtui.domain.gates import Condition, Gates, GateVerdict, detect_source_target, evaluate_gates
from meshtui.domain.inventory import InventoryView
from meshtui.domain.reasons import Reason, ReasonKind, gate, messages
from meshtui.domain.revisions import Revision
from meshtui.engine.api import ActionState, CheckResult, EngineState, JournalLine, LockState
from meshtui.engine.record import UpgradeRecord
from meshtui.engine.verifystate import VerifyStatus, kept_revision, verify_status

CONTROL_PLANE = "control-plane"
DATA_PLANE = "data-plane"
VERIFY = "verify"
FINISHING_UPGRADE = "finishing-upgrade"
FINISHING_ROLLBACK = "finishing-rollback"
COMPLETED = "completed"
CANCELLED = "cancelled"
DONE_PHASES = (COMPLETED, CANCELLED)

#: Actions that only read (they stay available in read-only mode and to a second operator).
READ_ONLY_ACTIONS = frozenset({ActionId.VERIFY})
#: A restart whose progress was not written for this long is reported as interrupted (its meshtui died).
STALE_PROGRESS = timedelta(minutes=2)


def choose_pair(
    record: UpgradeRecord | None,
    source_flag: str | None,
    target_flag: str | None,
    revisions: Iterable[Revision],
) -> tuple[str | None, str | None, str]:
    """Source and target: from the record, else the flags, else detected from the mesh; with the origin.

    Before the target is installed the mesh has one revision: it is the source.
    """
    if record is not None and not (record.phase in DONE_PHASES and (source_flag or target_flag)):
        return record.source, record.target, "record"
    source, target = source_flag, target_flag
    origin = "flags" if source or target else "detected"
    revs = list(revisions)
    if source is None or target is None:
        detected = detect_source_target(revs)
        names = sorted({r.name for r in revs})
        if detected is not None:
            source = source or (detected[0] if detected[0] != target else detected[1])
            target = target or (detected[1] if detected[1] != source else detected[0])
        elif source is None:
            others = [n for n in names if n != target]
            defaults = sorted({r.name for r in revs if r.is_default and r.name != target})
            if len(others) == 1:
                source = others[0]
            elif len(defaults) == 1:
                source = defaults[0]
    return source, target, origin


def _ready_everywhere(
    view: InventoryView, revision: str | None, unreachable: Mapping[tuple[str, str], str] | None = None
) -> tuple[bool, list[str]]:
    """Whether a revision exists and is Ready in every cluster, and the clusters where it is not.

    `unreachable` holds (cluster, revision) pairs served from outside whose webhooks cannot be called
    (a Service without ready endpoints), which the inventory alone cannot see.
    """
    if revision is None:
        return False, []
    bad = []
    for cp in view.control_planes:
        rev = cp.revision(revision)
        if rev is None or not rev.ready or (cp.cluster, revision) in (unreachable or {}):
            bad.append(cp.cluster)
    return not bad, bad


def with_unreachable(gates: Gates, unreachable: Mapping[tuple[str, str], str], chosen: str | None) -> Gates:
    """Upgrade, Rollback and Finish also need the kept revision's webhooks to answer (external control planes)."""
    if not unreachable:
        return gates

    def add(verdict: GateVerdict, keep: str | None) -> GateVerdict:
        why = [reason for (_, rev), reason in sorted(unreachable.items()) if rev == keep]
        if not why:
            return verdict
        condition = Condition("revision_not_ready", len(why), (), f"revision {keep} is not Ready: {why[0]}")
        return GateVerdict(verdict.action, False, (*verdict.conditions, condition))

    finish = gates.finish
    if chosen in ("upgrade", "rollback"):
        finish = add(finish, gates.target if chosen == "upgrade" else gates.source)
    upgrade, rollback = add(gates.upgrade, gates.target), add(gates.rollback, gates.source)
    return Gates(gates.source, gates.target, upgrade, rollback, finish)


def observed_phase(
    record: UpgradeRecord | None,
    view: InventoryView,
    gates: Gates | None,
    target: str | None,
    unreachable: Mapping[tuple[str, str], str] | None = None,
) -> str:
    """The phase: recorded ends and choices win, otherwise what the mesh shows."""
    if record is not None:
        if record.phase in DONE_PHASES:
            return record.phase
        if record.finish_choice == "upgrade":
            return FINISHING_UPGRADE
        if record.finish_choice == "rollback":
            return FINISHING_ROLLBACK
    ready, _ = _ready_everywhere(view, target, unreachable)
    if not ready:
        return CONTROL_PLANE
    if gates is not None and gates.upgrade.enabled:
        return VERIFY
    return DATA_PLANE


def _where(view: InventoryView, clusters: Sequence[str]) -> str:
    if len(view.clusters) <= 1 or not clusters:
        return ""
    return f" in cluster {', '.join(clusters)}"


def _offenders(verdict: GateVerdict) -> tuple[str, tuple[str, ...]] | None:
    for c in verdict.conditions:
        if not c.first_offenders:
            continue
        if c.jump is not None:
            return c.jump
        if c.code == "namespaces":
            return ("namespaces", c.first_offenders)
        if c.code in ("pods", "pods_on_restart"):
            return ("pods", c.first_offenders)
        if c.code == "gateways":
            return ("gateways", c.first_offenders)
    return None


def gate_reasons(verdict: GateVerdict) -> list[str]:
    """A gate's unmet conditions as sentences, each naming its first offenders when its message does not."""
    return [r.message for r in gate_why(verdict)]


def gate_why(verdict: GateVerdict) -> list[Reason]:
    """A gate's unmet conditions as typed reasons (code: the condition's code)."""
    out = []
    for c in verdict.conditions:
        message = c.message
        if c.code in ("pods", "pods_on_restart") and c.first_offenders:
            more = ", …" if c.count > len(c.first_offenders) else ""
            message = f"{c.message}: {', '.join(c.first_offenders)}{more}"
        out.append(Reason(ReasonKind.GATE, c.code, message, tuple(c.first_offenders)))
    return out


def evaluate(
    record: UpgradeRecord | None,
    view: InventoryView,
    *,
    permissions: Mapping[ActionId, Sequence[str]],
    lock: LockState,
    read_only: bool,
    read_only_reason: str,
    now: datetime,
    source_flag: str | None = None,
    target_flag: str | None = None,
    unreachable: Mapping[tuple[str, str], str] | None = None,
) -> EngineState:
    """Judge the upgrade: the phase, the gates, and every action of `domain.actions.ACTIONS` with its reasons.

    `permissions` maps an action id to the permissions it lacks (empty when all were granted or not
    checked); `read_only_reason` explains read-only mode when it is on; `unreachable` names the
    (cluster, revision) pairs served from outside whose webhooks cannot be called, with why.
    """
    unreachable = unreachable or {}
    if record is not None and record.phase in DONE_PHASES and (source_flag or target_flag):
        record = None  # a finished upgrade is history: the flags start the next one
    source, target, origin = choose_pair(record, source_flag, target_flag, view.revisions)
    chosen = record.finish_choice if record is not None else None
    plan_shown = record.offline_plan_shown if record is not None else False
    gates = evaluate_gates(view, source, target, chosen, plan_shown) if source and target else None
    verified = verify_status(record, view, kept_revision(record, source, target)) if source and target else None
    if gates is not None and verified is not None and chosen is not None:
        gates = with_verify_gate(gates, verified)
    if gates is not None:
        gates = with_unreachable(gates, unreachable, chosen)
    phase = observed_phase(record, view, gates, target, unreachable)
    done = phase in DONE_PHASES
    target_ready, target_bad = _ready_everywhere(view, target, unreachable)
    source_ready, source_bad = _ready_everywhere(view, source, unreachable)

    # Why no write may happen at all (every action but the read-only ones).
    write_blockers: list[Reason] = []
    if read_only:
        message = read_only_reason or "read-only mode: meshtui makes no change to the cluster"
        write_blockers.append(Reason(ReasonKind.READ_ONLY, "read-only", message))
    if lock.holder is not None and not lock.mine:
        if lock.expired:
            message = f"the upgrade lock is held by {lock.holder}, whose lease has expired: take it over to continue"
            write_blockers.append(Reason(ReasonKind.LOCK, "lock-expired", message))
        else:
            detail = f" ({lock.detail})" if lock.detail else ""
            message = (
                f"the upgrade lock is held by {lock.holder}{detail}: meshtui stays read-only unless you take it over"
            )
            write_blockers.append(Reason(ReasonKind.LOCK, "lock-held", message))

    no_record = "no upgrade has been started: start it first (it records the upgrade and takes the lock)"
    finished = f"the upgrade is {phase}" if done else ""

    def state(
        action_id: ActionId, title: str, reasons: list[Reason], offenders: tuple[str, tuple[str, ...]] | None = None
    ) -> ActionState:
        all_reasons = list(reasons)
        if action_id not in READ_ONLY_ACTIONS:
            all_reasons += write_blockers
            all_reasons += [
                Reason(ReasonKind.PERMISSION, "missing-permission", f"missing permission: {p}", (p,))
                for p in permissions.get(action_id, ())
            ]
        unique = tuple({r.message: r for r in all_reasons}.values())
        return ActionState(action_id, title, not unique, messages(unique), offenders if unique else None, unique)

    def needs_record() -> list[Reason]:
        if record is None:
            return [gate(no_record, "no-record")]
        return [gate(finished, "finished")] if finished else []

    def needs_ready(revision: str | None, bad: list[str], ready: bool, what: str) -> list[Reason]:
        if revision is None:
            return [gate(f"no {what} revision: name it with --{what}", f"no-{what}")]
        if not ready:
            why = next((r for (c, rev), r in sorted(unreachable.items()) if rev == revision and c in bad), "")
            message = f"revision {revision} is not deployed and Ready{_where(view, bad)}" + (f": {why}" if why else "")
            return [gate(message, f"{what}-not-ready")]
        return []

    def nothing(message: str) -> Reason:
        return Reason(ReasonKind.NOTHING_TO_DO, "nothing-to-do", message)

    mesh_ns = [ns for ns in view.namespaces if ns.injection.asks]
    not_on_target = [ns for ns in mesh_ns if ns.injection.revision != target]
    not_on_source = [ns for ns in mesh_ns if ns.injection.revision != source]
    outdated = sum(
        n for ns in view.namespaces for (cur, nxt), n in ns.mesh_pods.items() if nxt is not None and cur != nxt
    )
    gateways_off_target = [g for g in view.gateways if g.revision != target or g.revision_on_restart != target]
    gateways_off_source = [g for g in view.gateways if g.revision != source or g.revision_on_restart != source]
    restart = record.restart if record is not None else None
    restart_running = restart is not None and bool(restart.remaining)

    actions: list[ActionState] = []
    for action_id, title in ACTIONS:
        reasons: list[Reason] = []
        offenders = None
        if action_id is ActionId.START:
            if record is not None and not done:
                message = f"an upgrade from {record.source} to {record.target} is already recorded ({phase})"
                reasons.append(gate(message, "already-recorded"))
            if source is None:
                reasons.append(gate("no source revision: name it with --source", "no-source"))
            if target is None:
                reasons.append(gate("no target revision: name it with --target", "no-target"))
            if source is not None and source == target:
                reasons.append(gate("the source and the target are the same revision", "same-revision"))
            if source is not None:
                missing = [cp.cluster for cp in view.control_planes if cp.revision(source) is None]
                if missing:
                    reasons.append(gate(f"revision {source} does not exist{_where(view, missing)}", "no-source"))
        elif action_id is ActionId.DEPLOY:
            reasons += needs_record()
            if target is not None and target_ready and record is not None:
                reasons.append(nothing(f"revision {target} is already deployed and Ready"))
        elif action_id in (ActionId.SWITCH, ActionId.MOVE_TAG, ActionId.RESTART, ActionId.GATEWAYS, ActionId.AMBIENT):
            reasons += needs_record()
            reasons += needs_ready(target, target_bad, target_ready, "target")
            if action_id is ActionId.SWITCH and not reasons and not not_on_target:
                reasons.append(nothing(f"every namespace that asks for injection already resolves to {target}"))
            if action_id is ActionId.RESTART and not reasons and not outdated and not restart_running:
                reasons.append(nothing("no pod needs a restart: each runs the revision its replacement would get"))
            if action_id is ActionId.GATEWAYS and not reasons and not gateways_off_target:
                reasons.append(nothing(f"every gateway already runs {target}"))
        elif action_id in (ActionId.SWITCH_BACK, ActionId.GATEWAYS_BACK):
            reasons += needs_record()
            reasons += needs_ready(source, source_bad, source_ready, "source")
            if action_id is ActionId.SWITCH_BACK and not reasons and not not_on_source:
                reasons.append(nothing(f"every namespace that asks for injection already resolves to {source}"))
            if action_id is ActionId.GATEWAYS_BACK and not reasons and not gateways_off_source:
                reasons.append(nothing(f"every gateway already runs {source}"))
        elif action_id is ActionId.DELETE_PODS:
            reasons += needs_record()
        elif action_id is ActionId.VERIFY:
            if kept_revision(record, source, target) == source and source != target:
                reasons += needs_ready(source, source_bad, source_ready, "source")
            else:
                reasons += needs_ready(target, target_bad, target_ready, "target")
        elif action_id in (ActionId.UPGRADE, ActionId.ROLLBACK, ActionId.FINISH) and finished:
            reasons.append(gate(finished, "finished"))  # the gates' remaining counts would only be noise beside it
        elif action_id in (ActionId.UPGRADE, ActionId.ROLLBACK):
            reasons += needs_record()
            if gates is None:
                reasons.append(gate("no source and target revision", "no-pair"))
            else:
                verdict = gates.upgrade if action_id is ActionId.UPGRADE else gates.rollback
                reasons += gate_why(verdict)
                offenders = _offenders(verdict)
        elif action_id is ActionId.FINISH:
            reasons += needs_record()
            if gates is None:
                reasons.append(gate("no source and target revision", "no-pair"))
            else:
                reasons += gate_why(gates.finish)
                offenders = _offenders(gates.finish)
        actions.append(state(action_id, title, reasons, offenders))

    journal = tuple(
        JournalLine(
            time=e.time,
            identity=e.identity,
            cluster=e.cluster,
            action=e.action,
            objects=tuple(e.objects),
            result=e.result,
            message=e.message,
            before=dict(e.before),
            after=dict(e.after),
        )
        for e in (record.entries() if record is not None else [])
    )
    checks = tuple(
        CheckResult(c.name, c.result, c.detail, tuple(c.offenders)) for c in (record.checks if record else [])
    )
    ro_reason = ""
    if read_only or write_blockers:
        ro_reason = "; ".join(r.message for r in write_blockers)
    return EngineState(
        source=source,
        target=target,
        phase=phase,
        read_only=bool(write_blockers),
        read_only_reason=ro_reason,
        lock=lock,
        actions=tuple(actions),
        journal=journal,
        checks=checks,
        restart_in_progress=restart_running,
        restart_interrupted=interrupted(record, now),
        gates=gates,
        recorded=record is not None,
        pair_origin=origin,
        journal_total=record.journal_total if record is not None else 0,
        journal_archive=tuple(p.name for p in record.journal_archive) if record is not None else (),
        verify=verified,
        restart_pending=tuple(restart.remaining) if restart is not None else (),
        goal=(record.finish_choice or record.goal) if record is not None else None,
    )


def with_verify_gate(gates: Gates, verified: VerifyStatus) -> Gates:
    """Finish also needs a fresh passing verify run of the kept revision, or the operator's typed skip."""
    if verified.state.satisfied:
        return gates
    condition = Condition("verify", 0, (), verified.reason)
    conditions = (*gates.finish.conditions, condition)
    finish = GateVerdict(gates.finish.action, False, conditions)
    return Gates(gates.source, gates.target, gates.upgrade, gates.rollback, finish)


def interrupted(record: UpgradeRecord | None, now: datetime) -> bool:
    """True when a restart is recorded as in flight but its progress has not moved for a while."""
    if record is None or record.restart is None or not record.restart.remaining:
        return False
    try:
        updated = datetime.fromisoformat(record.restart.updated.replace("Z", "+00:00"))
    except ValueError:
        return True
    return now - updated > STALE_PROGRESS
