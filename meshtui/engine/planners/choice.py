"""Upgrade and Rollback: recording which revision Finish keeps (no object of the mesh changes)."""

from __future__ import annotations

from meshtui.domain.actions import ActionId
from meshtui.domain.plan import Plan
from meshtui.engine.params import RollbackParams, UpgradeParams
from meshtui.engine.planners.common import PlanRequest


def plan_upgrade(req: PlanRequest, params: UpgradeParams) -> Plan:
    """Choose to keep the target: Finish then takes the source offline."""
    return _choice(ActionId.UPGRADE, req.source)


def plan_rollback(req: PlanRequest, params: RollbackParams) -> Plan:
    """Choose to keep the source: Finish then takes the target offline."""
    return _choice(ActionId.ROLLBACK, req.target)


def _choice(action: ActionId, away: str) -> Plan:
    return Plan(
        action,
        f"{action.value.capitalize()}: choose to take {away} offline",
        notes=(f"records the choice; Finish then takes {away} offline",),
    )
