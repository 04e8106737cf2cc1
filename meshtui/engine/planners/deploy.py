"""Deploy: install the target revision with the chosen installer, then wait until it is Ready."""

from __future__ import annotations

from pathlib import Path

from meshtui.domain.actions import ActionId
from meshtui.domain.inventory import InventoryView
from meshtui.domain.objects import REV_LABEL
from meshtui.domain.plan import Operation, Plan
from meshtui.engine.ambient import is_ambient_object
from meshtui.engine.installers import (
    InstallerSpec,
    external_wait_operation,
    install_argv,
    is_gateway,
    load_manifests,
    wait_operation,
)
from meshtui.engine.kube import Discovery, apply_operation, labels, meta
from meshtui.engine.params import DeployParams
from meshtui.engine.planners.common import PlanContext, PlanRequest


def plan_deploy_step(req: PlanRequest, params: DeployParams) -> Plan:
    """Deploy the target with `params.installer` (by default: installed by other means, awaited)."""
    return plan_deploy(req.ctx, req.view, req.target, params.installer or InstallerSpec("external"))


def plan_deploy(ctx: PlanContext, view: InventoryView, target: str, spec: InstallerSpec) -> Plan:
    """The operations that deploy the target revision with the chosen installer, then wait for it."""
    ops: list[Operation] = []
    refusals: list[str] = []
    skipped: list[str] = []
    notes: list[str] = []
    title = f"Deploy revision {target}"
    if spec.kind == "manifests":
        found = load_manifests(spec.path or "")
        refusals += found.problems
        control_plane = [o for o in found.objects if not is_gateway(o) and not is_ambient_object(o)]
        for o in found.objects:
            if is_gateway(o):
                skipped.append(
                    f"{o['kind']} {meta(o).get('namespace', '')}/{meta(o)['name']} is a gateway: "
                    "the Gateways step applies it (given this folder)"
                )
            elif is_ambient_object(o):
                skipped.append(
                    f"{o['kind']} {meta(o).get('namespace', '')}/{meta(o)['name']} belongs to istio-cni or "
                    "ztunnel: the ambient step upgrades them in place once the target is Ready"
                )
        revisions = {labels(o).get(REV_LABEL) for o in control_plane} - {None}
        if revisions and revisions != {target}:
            refusals.append(
                f"the manifests in {spec.path} are for revision {', '.join(sorted(r for r in revisions if r))}, "
                f"not the target {target}"
            )
        for cluster, api in ctx.apis.items():
            discovery = Discovery(api)
            for obj in control_plane:
                info = discovery.lookup(str(obj["apiVersion"]), str(obj["kind"]))
                if info is None:
                    refusals.append(f"cluster {cluster} does not serve {obj['kind']} ({obj['apiVersion']})")
                    continue
                ops.append(apply_operation(cluster, info, obj, ctx.cp[cluster], "server-side apply"))
            ops.append(wait_operation(cluster, target, ctx.cp[cluster], spec.timeout))
        title += f" from the manifests in {spec.path}"
    elif spec.kind in ("istioctl", "helm"):
        if not spec.path:
            refusals.append(f"the path of the {spec.kind} binary is required")
        for cluster in ctx.apis:
            argv = install_argv(spec, target, cluster, ctx.cp[cluster])
            ops.append(
                Operation(
                    cluster=cluster,
                    verb="exec",
                    api_path="",
                    kind="Program",
                    namespace=None,
                    name=Path(spec.path or spec.kind).name,
                    body=argv,
                    summary=f"install revision {target} with {spec.kind}",
                )
            )
            ops.append(wait_operation(cluster, target, ctx.cp[cluster], spec.timeout))
        title += f" with {spec.kind}"
        notes.append(f"{spec.kind} is run without a shell; a server-side dry run does not cover it")
    elif spec.kind == "external":
        for cluster in ctx.apis:
            plane = view.control_plane(cluster)
            rev = plane.revision(target) if plane is not None else None
            if rev is not None and rev.istiod:
                ops.append(wait_operation(cluster, target, ctx.cp[cluster], spec.timeout))
            else:
                # No istiod Deployment here (managed, remote, or not there yet): the webhooks are the evidence.
                ops.append(external_wait_operation(cluster, target, spec.timeout))
        title += " (installed by other means: meshtui waits for it)"
    else:
        refusals.append(f"unknown installer {spec.kind!r}")
    for plane in view.control_planes:
        rev = plane.revision(target)
        if rev is not None and rev.ready:
            notes.append(f"revision {target} is already Ready in cluster {plane.cluster}: applying again is harmless")
    return Plan(ActionId.DEPLOY, title, tuple(ops), tuple(skipped), tuple(dict.fromkeys(refusals)), tuple(notes))
