"""The plan that deletes pods no restart can replace: bare pods, and pods of Jobs.

A bare pod with an old sidecar blocks the Upgrade (and Rollback) gate for ever, since nothing recreates it;
the operator decides to delete it (and re-create it from its manifest if it is still needed). Each delete is
conditional on the pod's uid and resourceVersion, so a pod replaced meanwhile is never the one deleted.
"""

from __future__ import annotations

from meshtui.domain.actions import ActionId
from meshtui.domain.inventory import InventoryView
from meshtui.domain.plan import Operation, Plan
from meshtui.domain.pods import PodRow
from meshtui.engine.kube import get, meta
from meshtui.engine.params import DeletePodsParams
from meshtui.engine.planners.common import PlanContext, PlanRequest

ACTION = ActionId.DELETE_PODS
TITLE = "Delete pods that no restart can replace"
UID = "metadata.uid"


def _controller(raw: dict[str, object]) -> tuple[str, str] | None:
    refs = meta(raw).get("ownerReferences") or []
    for ref in refs if isinstance(refs, list) else []:
        if isinstance(ref, dict) and ref.get("controller"):
            return str(ref.get("kind") or "?"), str(ref.get("name") or "?")
    return None


def _find(ctx: PlanContext, view: InventoryView, ref: str) -> list[PodRow]:
    """Pods by `ns/name` (in every cluster) or `cluster/ns/name`."""
    parts = ref.split("/")
    if len(parts) == 2:
        clusters = list(ctx.apis)
        namespace, name = parts
    elif len(parts) == 3:
        clusters, namespace, name = [parts[0]], parts[1], parts[2]
    else:
        return []
    return [row for c in clusters for row in view.pods(c, namespace) if row.name == name]


def plan_delete_pods_step(req: PlanRequest, params: DeletePodsParams) -> Plan:
    """Delete the pods `params.pods` names."""
    return plan_delete_pods(req.ctx, req.view, params.pods)


def plan_delete_pods(ctx: PlanContext, view: InventoryView, refs: tuple[str, ...]) -> Plan:
    """Delete the named pods, refusing any that a workload owns (restart that instead)."""
    if not refs:
        return Plan(ACTION, TITLE, refusals=("name the pods to delete (namespace/name)",))
    ops: list[Operation] = []
    skipped: list[str] = []
    refusals: list[str] = []
    notes: list[str] = []
    for ref in dict.fromkeys(refs):
        rows = _find(ctx, view, ref)
        if not rows:
            refusals.append(f"pod {ref} does not exist (give it as namespace/name)")
            continue
        for row in rows:
            where = ctx.where(row.cluster, row.namespace, row.name)
            path = f"/api/v1/namespaces/{row.namespace}/pods"
            raw = get(ctx.apis[row.cluster], f"{path}/{row.name}")
            if raw is None:
                skipped.append(f"{where}: already gone")
                continue
            owner = _controller(raw)
            if owner is not None and owner[0] != "Job":
                refusals.append(
                    f"{where} belongs to {owner[0]} {owner[1]}: restart its workload instead, which replaces its "
                    "pods within their disruption limits"
                )
                continue
            sidecar = "no sidecar"
            if row.has_sidecar:
                sidecar = f"a {row.revision} sidecar" if row.revision else "a sidecar"
            if owner is None:
                summary = f"bare pod with {sidecar}: nothing recreates it; apply its manifest again if it is needed"
            else:
                summary = f"pod of Job {owner[1]} with {sidecar}: the Job creates a replacement"
                notes.append(f"{where}: a deleted Job pod may count as a failed attempt against the Job's backoffLimit")
            m = meta(raw)
            ops.append(
                Operation(
                    cluster=row.cluster,
                    verb="delete",
                    api_path=path,
                    kind="Pod",
                    namespace=row.namespace,
                    name=row.name,
                    expect_rv=str(m.get("resourceVersion") or ""),
                    summary=summary,
                    # Status updates move the resourceVersion; the same uid means the same pod, still ours to delete.
                    before={UID: m.get("uid")},
                )
            )
    return Plan(ACTION, TITLE, tuple(ops), tuple(skipped), tuple(refusals), tuple(notes))
