"""Every action's planner, by action id: the one table `EngineSession.plan` looks a plan up in."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from meshtui.domain.actions import ActionId
from meshtui.domain.plan import Plan
from meshtui.engine.params import (
    ActionParams,
    AmbientParams,
    DeletePodsParams,
    DeployParams,
    FinishParams,
    GatewaysBackParams,
    GatewaysParams,
    MoveTagParams,
    RestartParams,
    RollbackParams,
    SkipVerifyParams,
    StartParams,
    SwitchBackParams,
    SwitchParams,
    UpgradeParams,
    VerifyParams,
)
from meshtui.engine.planners.ambient import plan_ambient_step
from meshtui.engine.planners.choice import plan_rollback, plan_upgrade
from meshtui.engine.planners.common import PlanRequest
from meshtui.engine.planners.delete_pods import plan_delete_pods_step
from meshtui.engine.planners.deploy import plan_deploy_step
from meshtui.engine.planners.finish import plan_finish
from meshtui.engine.planners.gateways import plan_gateways
from meshtui.engine.planners.move_tag import plan_move_tag
from meshtui.engine.planners.restart import plan_restart
from meshtui.engine.planners.start import plan_start
from meshtui.engine.planners.switch import plan_switch, plan_switch_back
from meshtui.engine.planners.verify import plan_skip_verify, plan_verify

P = TypeVar("P", bound=ActionParams)


@dataclass(frozen=True, slots=True)
class Planner(Generic[P]):
    """One action's planner and the parameters class it takes."""

    params: type[P]
    build: Callable[[PlanRequest, P], Plan]

    @property
    def action(self) -> ActionId:
        """The action it plans."""
        return self.params.ACTION


def _planner(params: type[P], build: Callable[[PlanRequest, P], Plan]) -> Planner[Any]:
    """A registry entry; mypy checks that `build` takes `params`."""
    return Planner(params, build)


PLANNERS: dict[ActionId, Planner[Any]] = {
    p.action: p
    for p in (
        _planner(StartParams, plan_start),
        _planner(DeployParams, plan_deploy_step),
        _planner(SwitchParams, plan_switch),
        _planner(SwitchBackParams, plan_switch_back),
        _planner(MoveTagParams, plan_move_tag),
        _planner(RestartParams, plan_restart),
        _planner(DeletePodsParams, plan_delete_pods_step),
        _planner(GatewaysParams, plan_gateways),
        _planner(GatewaysBackParams, plan_gateways),
        _planner(AmbientParams, plan_ambient_step),
        _planner(VerifyParams, plan_verify),
        _planner(SkipVerifyParams, plan_skip_verify),
        _planner(UpgradeParams, plan_upgrade),
        _planner(RollbackParams, plan_rollback),
        _planner(FinishParams, plan_finish),
    )
}


def build_plan(request: PlanRequest, params: ActionParams) -> Plan:
    """The plan of the action `params` names, by its registered planner."""
    planner = PLANNERS[params.ACTION]
    if not isinstance(params, planner.params):
        raise TypeError(f"{planner.action} is planned from {planner.params.__name__}, not {type(params).__name__}")
    return planner.build(request, params)
