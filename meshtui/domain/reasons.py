"""Why an action may not run: a typed reason (kind, code, message, offenders) instead of a sentence.

Decisions (what blocks a plan, which exit code a refusal ends with, what the dashboard offers) are made
on `kind` and `code` only; `message` is for people and may be reworded freely.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum


class ReasonKind(Enum):
    """What sort of obstacle a reason is."""

    #: A condition of the upgrade's state machine or of the plan itself does not hold.
    GATE = "gate"
    #: The operator lacks an RBAC permission the action needs.
    PERMISSION = "permission"
    #: Another operator holds the upgrade lock (or this session lost it).
    LOCK = "lock"
    #: meshtui runs read-only: no write request at all.
    READ_ONLY = "read-only"
    #: The cluster already matches what the action would do.
    NOTHING_TO_DO = "nothing-to-do"
    #: The gate held on the view the plan was made from, but not on a fresh read of the cluster.
    STALE_VIEW = "stale-view"


#: Kinds that forbid writing at all rather than this plan (the plan can still be shown).
WRITE_BLOCKERS = frozenset({ReasonKind.READ_ONLY, ReasonKind.LOCK})


@dataclass(frozen=True, slots=True)
class Reason:
    """One reason an action is disabled or a run was refused."""

    kind: ReasonKind
    #: A stable identifier of the condition (a gate condition's code, `missing-permission`, `lock-held`...).
    code: str
    message: str
    offenders: tuple[str, ...] = ()

    def __str__(self) -> str:
        return self.message


def messages(reasons: Iterable[Reason]) -> tuple[str, ...]:
    """The sentences of some reasons, each once, in order."""
    return tuple(dict.fromkeys(r.message for r in reasons))


def gate(message: str, code: str = "plan", offenders: tuple[str, ...] = ()) -> Reason:
    """A gate reason (the default kind of a planner's refusal)."""
    return Reason(ReasonKind.GATE, code, message, offenders)
