"""Gateways and Gateways back: every gateway moved to the target (or back), each the way its kind is upgraded.

A gateway injected as a workload is restarted (its pod-template label changed if it pins one), a Gateway
API gateway is relabelled (istiod re-renders it), and an istioctl-rendered one is applied from its
rendered manifests.
"""

from __future__ import annotations

from typing import Any

from meshtui.domain.actions import TITLES, ActionId
from meshtui.domain.gateways import UPGRADE_INSTALLER, UPGRADE_REINJECT, UPGRADE_RELABEL, UPGRADE_SWITCH
from meshtui.domain.inventory import InventoryView
from meshtui.domain.objects import REV_LABEL
from meshtui.domain.plan import MERGE_PATCH, REMEDY_MANIFESTS, STRATEGIC_MERGE_PATCH, Operation, Plan
from meshtui.engine.installers import load_manifests
from meshtui.engine.kube import KINDS, get, labels, meta
from meshtui.engine.params import GatewaysBackParams, GatewaysParams
from meshtui.engine.planners.common import (
    COMPONENT_LABEL,
    DEFAULT_BATCH,
    GATEWAY_COMPONENTS,
    NS_REV,
    RESTARTABLE,
    RESTARTED_AT,
    TEMPLATE_RESTARTED,
    TEMPLATE_REV,
    PlanContext,
    PlanRequest,
    control_plane,
    fmt,
    rfc3339,
    workload_path,
)
from meshtui.engine.record import UpgradeRecord


def plan_gateways(req: PlanRequest, params: GatewaysParams | GatewaysBackParams) -> Plan:
    """Gateways (or Gateways back, by the type of `params`), with the rendered manifests read first."""
    back = isinstance(params, GatewaysBackParams)
    manifests = None
    if params.manifests:
        found = load_manifests(params.manifests)
        if found.problems:
            return Plan(params.ACTION, TITLES[params.ACTION], refusals=tuple(found.problems))
        manifests = found.objects
    return gateways(
        req.ctx,
        req.view,
        back=back,
        source=req.source,
        target=req.target,
        record=req.record,
        manifests=manifests,
        batch=params.batch or DEFAULT_BATCH,
        pause=params.pause,
    )


def gateways(
    ctx: PlanContext,
    view: InventoryView,
    *,
    back: bool,
    source: str,
    target: str,
    record: UpgradeRecord | None,
    manifests: list[dict[str, Any]] | None,
    batch: int,
    pause: float,
) -> Plan:
    """Move every gateway to the target (or back), each the way its kind is upgraded."""
    dest = source if back else target
    stamp = rfc3339(ctx.now())
    ops: list[Operation] = []
    skipped: list[str] = []
    notes: list[str] = []
    refusals: list[str] = []
    remedies: set[str] = set()
    for g in view.gateways:
        ref = ctx.where(g.cluster, g.namespace, g.name)
        if g.revision == dest and g.revision_on_restart == dest and set(g.revisions) <= {dest}:
            skipped.append(f"{ref}: already on {dest}")
            continue
        api = ctx.apis[g.cluster]
        plane = control_plane(view, g.cluster)
        if g.upgrade in (UPGRADE_SWITCH, UPGRADE_REINJECT) and g.workload:
            kind, _, name = g.workload.partition("/")
            if kind not in RESTARTABLE:
                skipped.append(f"{ref}: owned by {g.workload}, which meshtui cannot restart")
                continue
            raw = get(api, workload_path(kind, g.namespace, name))
            if raw is None:
                skipped.append(f"{ref}: {g.workload} no longer exists")
                continue
            tpl = ((raw.get("spec") or {}).get("template") or {}).get("metadata") or {}
            label = (tpl.get("labels") or {}).get(REV_LABEL)
            body: dict[str, Any] = {"spec": {"template": {"metadata": {"annotations": {RESTARTED_AT: stamp}}}}}
            before: dict[str, Any] = {}
            after: dict[str, Any] = {TEMPLATE_RESTARTED: stamp}
            summary = f"restart: re-injected by {dest}"
            expect = None
            if label:
                new = label
                if plane.resolve(label) != dest:
                    new = dest
                    if back and record is not None:
                        mark = record.templates.get(f"{g.cluster}/{g.namespace}/{kind}/{name}")
                        if mark is not None and mark.rev and plane.resolve(mark.rev) == dest:
                            new = mark.rev
                if new != label:
                    body["spec"]["template"]["metadata"]["labels"] = {REV_LABEL: new}
                    before[TEMPLATE_REV] = label
                    after[TEMPLATE_REV] = new
                    summary = f"pod-template label {REV_LABEL}: {label} -> {new}, and restart"
                    expect = str(meta(raw).get("resourceVersion") or "")
            elif g.revision_on_restart != dest:
                skipped.append(
                    f"{ref}: follows its namespace or the default revision (now {fmt(g.revision_on_restart)}): "
                    f"switch its namespace or move the default tag to {dest} first"
                )
                continue
            ops.append(
                Operation(
                    cluster=g.cluster,
                    verb="patch",
                    api_path=KINDS[kind].collection(g.namespace),
                    kind=kind,
                    namespace=g.namespace,
                    name=name,
                    body=body,
                    content_type=MERGE_PATCH if kind == "Rollout" else STRATEGIC_MERGE_PATCH,
                    expect_rv=expect,
                    summary=summary,
                    before=before,
                    after=after,
                    await_rollout=True,
                )
            )
        elif g.upgrade == UPGRADE_RELABEL:
            path = KINDS["Gateway"].collection(g.namespace)
            raw = get(api, f"{path}/{g.name}")
            if raw is None:
                skipped.append(f"{ref}: the Gateway no longer exists")
                continue
            old = labels(raw).get(REV_LABEL)
            if old and any(t.name == old for t in plane.tags):
                # Relabelling would replace the operator's tag with a revision: Istio's way is to move the tag.
                skipped.append(
                    f"{ref}: labelled with tag {old} (now {fmt(plane.resolve(old))}): move the tag to {dest} "
                    "instead of relabelling the Gateway"
                )
                continue
            new_value = dest
            if back and record is not None:
                mark = record.templates.get(f"{g.cluster}/{g.namespace}/Gateway/{g.name}")
                if mark is not None and mark.rev and plane.resolve(mark.rev) == dest:
                    new_value = mark.rev
            ops.append(
                Operation(
                    cluster=g.cluster,
                    verb="patch",
                    api_path=path,
                    kind="Gateway",
                    namespace=g.namespace,
                    name=g.name,
                    body={"metadata": {"labels": {REV_LABEL: new_value}}},
                    content_type=MERGE_PATCH,
                    expect_rv=str(meta(raw).get("resourceVersion") or ""),
                    summary=f"label {REV_LABEL}: {fmt(old)} -> {new_value} (istiod {dest} re-renders its Deployment)",
                    before={NS_REV: old},
                    after={NS_REV: new_value},
                )
            )
        elif g.upgrade == UPGRADE_INSTALLER:
            if manifests is None:
                skipped.append(
                    f"{ref}: rendered by istioctl, so it is upgraded in place through the installer: give "
                    f"the folder of the {dest} gateway manifests, or re-run istioctl install "
                    f"--set revision={dest} with its gateway components"
                )
                remedies.add(REMEDY_MANIFESTS)
                continue
            docs = [
                d
                for d in manifests
                if labels(d).get(COMPONENT_LABEL) in GATEWAY_COMPONENTS
                and meta(d).get("namespace") == g.namespace
                and (labels(d).get("app") == g.name or meta(d).get("name") == g.name)
            ]
            if not any(d.get("kind") == "Deployment" for d in docs):
                skipped.append(f"{ref}: the manifests hold no Deployment {g.namespace}/{g.name}")
                continue
            revs = {labels(d).get(REV_LABEL) for d in docs} - {None}
            if revs and plane.resolve(next(iter(revs)) or "") != dest:
                refusals.append(
                    f"the manifests of {ref} are for revision {', '.join(sorted(r for r in revs if r))}, not {dest}"
                )
                continue
            for d in docs:
                kind = str(d.get("kind"))
                info = KINDS.get(kind)
                if info is None:
                    continue
                ops.append(
                    Operation(
                        cluster=g.cluster,
                        verb="apply",
                        api_path=info.collection(g.namespace),
                        kind=kind,
                        namespace=g.namespace,
                        name=meta(d)["name"],
                        body=d,
                        summary=f"server-side apply of the {dest} gateway manifest",
                        after={f"metadata.labels[{REV_LABEL}]": labels(d).get(REV_LABEL)},
                        await_rollout=kind == "Deployment",
                    )
                )
        else:
            skipped.append(f"{ref}: no way to upgrade a {g.kind} is known")
    # Rollouts are batched together; the other writes go first so their gateways re-render meanwhile.
    ops.sort(key=lambda op: op.await_rollout)
    return Plan(
        ActionId.GATEWAYS_BACK if back else ActionId.GATEWAYS,
        f"Move gateways {'back to' if back else 'to'} {dest}",
        tuple(ops),
        tuple(skipped),
        tuple(refusals),
        tuple(notes),
        batch_size=max(1, batch),
        pause_seconds=max(0.0, pause),
        remedies=tuple(sorted(remedies)),
    )
