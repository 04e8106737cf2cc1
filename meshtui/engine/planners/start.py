"""Start: the upgrade record created (or a finished one replaced), with every namespace's labels as they are."""

from __future__ import annotations

from typing import Any

from meshtui.domain.actions import ActionId
from meshtui.domain.objects import INJECTION_LABEL, REV_LABEL
from meshtui.domain.plan import Operation, Plan
from meshtui.engine.kube import labels, list_all, meta
from meshtui.engine.params import StartParams
from meshtui.engine.planners.common import PlanContext, PlanRequest, rfc3339
from meshtui.engine.record import RECORD_NAME, OriginalLabels, UpgradeRecord


def plan_start(req: PlanRequest, params: StartParams) -> Plan:
    """Create the upgrade record (the lock is taken beside it); a finished one is replaced."""
    ctx, view, source, target, me = req.ctx, req.view, req.source, req.target, req.me
    previous, previous_rv = req.record, req.record_rv
    cluster = ctx.first
    cp = ctx.cp[cluster]
    refusals = []
    for plane in view.control_planes:
        if plane.revision(source) is None:
            refusals.append(f"revision {source} does not exist in cluster {plane.cluster}")
    if source == target:
        refusals.append("the source and the target are the same revision")
    now = rfc3339(ctx.now())
    record = UpgradeRecord(
        source=source,
        target=target,
        started=now,
        updated=now,
        started_by=me,
        clusters=list(ctx.apis),
        original=_original_labels(ctx),
    )
    metadata: dict[str, Any] = {
        "name": RECORD_NAME,
        "namespace": cp,
        "labels": {"app.kubernetes.io/managed-by": "meshtui"},
    }
    body: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": metadata,
        "data": record.to_configmap_data(),
    }
    if previous is not None:
        if previous.phase not in ("completed", "cancelled"):
            refusals.append(f"an upgrade from {previous.source} to {previous.target} is already recorded")
        record.journal_dropped = previous.journal_dropped + len(previous.journal)
        body["data"] = record.to_configmap_data()
        metadata["resourceVersion"] = previous_rv
    op = Operation(
        cluster=cluster,
        verb="create" if previous is None else "replace",
        api_path=f"/api/v1/namespaces/{cp}/configmaps",
        kind="ConfigMap",
        namespace=cp,
        name=RECORD_NAME,
        body=body,
        summary=f"the upgrade record: {source} -> {target}"
        + (f" (replacing the finished {previous.source} -> {previous.target})" if previous else ""),
        expect_rv=previous_rv if previous is not None else None,
        after={"source": source, "target": target},
    )
    return Plan(
        ActionId.START,
        f"Start the upgrade {source} -> {target}",
        (op,),
        refusals=tuple(refusals),
        notes=(f"takes the upgrade lock (Lease {cp}/meshtui-upgrade-lock) as {me}",),
    )


def _original_labels(ctx: PlanContext) -> dict[str, OriginalLabels]:
    """Every namespace's injection labels as they are now, read fresh: what a switch back restores."""
    out: dict[str, OriginalLabels] = {}
    for cluster, api in ctx.apis.items():
        for raw in list_all(api, "/api/v1/namespaces"):
            found = labels(raw)
            injection, rev = found.get(INJECTION_LABEL), found.get(REV_LABEL)
            if injection is not None or rev is not None:
                out[f"{cluster}/{meta(raw).get('name', '')}"] = OriginalLabels(injection=injection, rev=rev)
    return out
