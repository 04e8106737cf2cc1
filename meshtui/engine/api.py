"""The engine's face: the actions it offers, their state, and the session the dashboard and CLI drive.

The dashboard and the `meshtui upgrade` commands use only what is declared here, so both run the
same state machine; everything that blocks on the network is called from a worker thread.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from meshtui.domain.actions import ActionId
from meshtui.domain.gates import Gates
from meshtui.domain.inventory import InventoryView
from meshtui.domain.plan import Plan
from meshtui.domain.reasons import Reason, ReasonKind
from meshtui.engine.executor import RunControl, RunOutcome
from meshtui.engine.params import ActionParams
from meshtui.engine.verifystate import VerifyStatus


@dataclass(frozen=True, slots=True)
class ActionState:
    """Whether an action may run now and, when not, every reason (gate, read-only, permission, lock)."""

    id: ActionId
    title: str
    enabled: bool
    reasons: tuple[str, ...] = ()
    #: What "jump to the offenders" shows: ("namespaces", names) or ("pods", "ns/name" keys), if any.
    offenders: tuple[str, tuple[str, ...]] | None = None
    #: The reasons typed (kind, code, offenders), one per sentence of `reasons`; decisions use these.
    why: tuple[Reason, ...] = ()

    def blocked_by(self, *kinds: ReasonKind) -> tuple[Reason, ...]:
        """The reasons of the given kinds."""
        return tuple(r for r in self.why if r.kind in kinds)


@dataclass(frozen=True, slots=True)
class LockState:
    """Who holds the upgrade lock, and whether it is this operator."""

    holder: str | None
    mine: bool
    expired: bool = False
    detail: str = ""  # e.g. "renewed 4s ago"


@dataclass(frozen=True, slots=True)
class JournalLine:
    """One journal entry as the Journal view shows it."""

    time: str
    identity: str
    cluster: str
    action: str
    objects: tuple[str, ...]
    result: str
    message: str = ""
    before: dict[str, Any] = field(default_factory=dict)
    after: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class CheckResult:
    """One verify check: pass, fail or unknown, with the offenders."""

    name: str
    result: str  # pass, fail, unknown
    detail: str = ""
    offenders: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class EngineState:
    """Everything the header, the Finish tab and the action keys need, computed purely from the record,
    the inventory view and the time."""

    source: str | None
    target: str | None
    phase: str  # control-plane, data-plane, verify, finishing-upgrade, finishing-rollback, completed, cancelled
    read_only: bool
    read_only_reason: str
    lock: LockState
    actions: tuple[ActionState, ...]
    journal: tuple[JournalLine, ...] = ()
    checks: tuple[CheckResult, ...] = ()
    restart_in_progress: bool = False
    #: A restart is recorded as in flight but its meshtui stopped writing progress (it died): resume it.
    restart_interrupted: bool = False
    #: The Upgrade/Rollback/Finish verdicts the actions were judged on (None without a source and target).
    gates: Gates | None = None
    #: True once `start` recorded the upgrade in the cluster.
    recorded: bool = False
    #: Where the source and target came from: "record", "flags" or "detected".
    pair_origin: str = ""
    #: How many journal entries the upgrade has in all (`journal` holds the record's own: the newest, the
    #: begin and the irreversible ones), and the archive ConfigMaps ("ns/name") holding the older ones.
    journal_total: int = 0
    journal_archive: tuple[str, ...] = ()
    #: The verify step of the revision Finish keeps (not run, passed, failed, unknown, stale, skipped).
    verify: VerifyStatus | None = None
    #: The workloads of a recorded, unfinished restart (`cluster|Kind|ns|name`): resume or discard it.
    restart_pending: tuple[str, ...] = ()
    #: The direction the operator chose or last worked in: "upgrade", "rollback", or None.
    goal: str | None = None

    def action(self, action_id: ActionId | str) -> ActionState:
        """The state of one action by id (an `ActionId`, or its string as a key binding names it)."""
        return next(a for a in self.actions if a.id == action_id)


@dataclass(frozen=True, slots=True)
class Progress:
    """Progress of long work, reported per step: overall and for the current namespace."""

    action: ActionId
    done: int
    total: int
    current: str = ""  # e.g. "shop: Deployment web (2/5)"
    message: str = ""
    paused: bool = False


class Session(Protocol):
    """An upgrade session over one mesh; the dashboard and the CLI both drive one."""

    def state(self, view: InventoryView) -> EngineState:
        """The phase and every action's state for the given inventory view (cheap; no network)."""

    def plan(self, view: InventoryView, params: ActionParams) -> Plan:
        """The concrete operations of the action `params` names (its class: `engine/params.py`)."""

    def dry_run(self, plan: Plan, checked: Callable[[int, int], None] | None = None) -> RunOutcome:
        """Server-side dry run of every operation (blocking); `checked(done, total)` after each one."""

    def run(self, plan: Plan, control: RunControl, progress: Callable[[Progress], None]) -> RunOutcome:
        """Apply a confirmed plan, reporting progress (blocking; call from a worker thread)."""

    def refresh(self) -> None:
        """Re-read the upgrade record, the lock and permissions (blocking)."""

    def close(self) -> None:
        """Release the lock if held and stop background renewal."""
