"""Ambient: istio-cni then ztunnel upgraded in place with the chosen installer, awaited node by node.

The operations are rendered by `engine/ambient.py`, beside the node waits that check the same
DaemonSet changes while the plan runs.
"""

from __future__ import annotations

from meshtui.domain.actions import ActionId
from meshtui.domain.plan import Plan
from meshtui.engine.ambient import plan_ambient
from meshtui.engine.installers import InstallerSpec, load_manifests
from meshtui.engine.params import AMBIENT_COMPONENTS, AmbientParams
from meshtui.engine.planners.common import PlanRequest

TITLE = "Upgrade istio-cni and ztunnel in place"


def plan_ambient_step(req: PlanRequest, params: AmbientParams) -> Plan:
    """The ambient step against `params.to` (the revision to configure ztunnel against and whose version to
    install; default the target, the source to roll back), with the rendered manifests read first."""
    spec = params.installer or InstallerSpec("external")
    components = params.components or AMBIENT_COMPONENTS
    manifests = None
    if spec.kind == "manifests":
        found = load_manifests(spec.path or "")
        if found.problems:
            return Plan(ActionId.AMBIENT, TITLE, refusals=tuple(found.problems))
        manifests = found.objects
    return plan_ambient(req.ctx, req.view, params.to or req.target, spec, components=components, manifests=manifests)
