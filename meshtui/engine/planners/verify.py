"""Verify and Skip verify: plans that change no object (the session runs the checks, or records the skip)."""

from __future__ import annotations

from meshtui.domain.actions import ActionId
from meshtui.domain.plan import Plan
from meshtui.engine.params import SkipVerifyParams, VerifyParams
from meshtui.engine.planners.common import PlanRequest
from meshtui.engine.verifystate import SKIP_WORDS, kept_revision


def plan_verify(req: PlanRequest, params: VerifyParams) -> Plan:
    """Run the verify checks of the revision Finish keeps; the results are kept in the record."""
    return Plan(
        ActionId.VERIFY,
        f"Run the verify checks for {kept_revision(req.record, req.source, req.target)}",
        notes=("reads only; the results are kept in the upgrade record",),
    )


def plan_skip_verify(req: PlanRequest, params: SkipVerifyParams) -> Plan:
    """Finish without a passing verify run of the kept revision: refused without a reason."""
    kept = kept_revision(req.record, req.source, req.target)
    reason = params.reason.strip()
    refusals = () if reason else (f"type `{SKIP_WORDS}` followed by the reason",)
    return Plan(
        ActionId.SKIP_VERIFY,
        f"Finish without a passing verify of {kept}",
        refusals=refusals,
        notes=(
            f"reason: {reason}",
            "recorded in the upgrade record and the journal; any later data-plane change needs a new one",
        ),
    )
