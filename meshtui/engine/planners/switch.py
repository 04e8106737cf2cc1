"""Switch and Switch back: label namespaces for the target (or a tag of it), or restore them for the source.

Workloads whose pod template pins `istio.io/rev` follow in the same plan: their label decides their pods'
revision whatever the namespace says.
"""

from __future__ import annotations

from typing import Any

from meshtui.domain.actions import ActionId
from meshtui.domain.inventory import InventoryView
from meshtui.domain.namespaces import NamespaceRow
from meshtui.domain.objects import INJECT_KEY, INJECTION_LABEL, REV_LABEL
from meshtui.domain.plan import MERGE_PATCH, STRATEGIC_MERGE_PATCH, Operation, Plan
from meshtui.domain.revisions import ControlPlane
from meshtui.domain.templates import PINNED
from meshtui.engine.kube import KINDS, get, labels, list_all, meta
from meshtui.engine.params import SwitchBackParams, SwitchParams
from meshtui.engine.planners.common import (
    NS_INJECTION,
    NS_REV,
    RESTARTABLE,
    TEMPLATE_REV,
    PlanContext,
    PlanRequest,
    control_plane,
    select_namespaces,
    workload_path,
)
from meshtui.engine.record import SwitchMark, UpgradeRecord


def plan_switch(req: PlanRequest, params: SwitchParams) -> Plan:
    """Label namespaces for the target, or the revision or tag `params.to`."""
    return _switch(req, params.namespaces, params.to, back=False)


def plan_switch_back(req: PlanRequest, params: SwitchBackParams) -> Plan:
    """Restore the namespaces' labels for the source (those before the upgrade, where they still fit)."""
    return _switch(req, params.namespaces, None, back=True)


def _switch(req: PlanRequest, namespaces: tuple[str, ...] | None, to: str | None, *, back: bool) -> Plan:
    ctx, view, source, target, record = req.ctx, req.view, req.source, req.target, req.record
    value = source if back else (to or target)
    refusals: list[str] = []
    dest: dict[str, str] = {}
    for plane in view.control_planes:
        rev = plane.resolve(value)
        if rev is None:
            refusals.append(
                f"{value} is neither a revision nor a tag in cluster {plane.cluster}: pods created under "
                "it would get no sidecar"
            )
            continue
        found = plane.revision(rev)
        if found is None or not found.ready:
            refusals.append(f"revision {rev} is not Ready in cluster {plane.cluster}")
        dest[plane.cluster] = rev
    rows, missing = select_namespaces(
        ctx,
        view,
        namespaces,
        lambda ns: ns.injection.asks and ns.injection.revision != dest.get(ns.cluster),
    )
    refusals += missing
    ops: list[Operation] = []
    skipped: list[str] = []
    notes: list[str] = []
    fresh: dict[str, dict[str, dict[str, Any]]] = {}
    for cluster in {r.cluster for r in rows}:
        fresh[cluster] = {meta(o).get("name", ""): o for o in list_all(ctx.apis[cluster], "/api/v1/namespaces")}
    for row in rows:
        raw = fresh.get(row.cluster, {}).get(row.name)
        where = ctx.where(row.cluster, row.name)
        if raw is None:
            skipped.append(f"{where}: the namespace no longer exists")
            continue
        current = labels(raw)
        before = {INJECTION_LABEL: current.get(INJECTION_LABEL), REV_LABEL: current.get(REV_LABEL)}
        after: dict[str, str | None] = {INJECTION_LABEL: None, REV_LABEL: value}
        if back and row.injection.asks and row.injection.revision == dest.get(row.cluster):
            skipped.append(f"{where}: already resolves to {row.injection.revision}; nothing to switch back")
            continue
        if back and record is not None:
            plane = control_plane(view, row.cluster)
            after = _restored(record, f"{row.cluster}/{row.name}", plane, source) or after
        if before == after:
            skipped.append(f"{where}: already labelled {after[REV_LABEL] or after[INJECTION_LABEL]}")
            continue
        if not row.injection.asks:
            why = _not_switchable(row, control_plane(view, row.cluster))
            if why:
                skipped.append(f"{where}: {why}")
                continue
        if not row.injection.asks:
            notes.append(f"{where} did not ask for injection: its pods get a sidecar on their next restart")
        elif row.injection.revision is None:
            notes.append(
                f"{where} asks for {row.injection.value}, which nothing serves: its pods get a "
                f"sidecar from {dest.get(row.cluster)} on their next restart"
            )
        ops.append(
            Operation(
                cluster=row.cluster,
                verb="patch",
                api_path="/api/v1/namespaces",
                kind="Namespace",
                namespace=None,
                name=row.name,
                body={"metadata": {"labels": {INJECTION_LABEL: after[INJECTION_LABEL], REV_LABEL: after[REV_LABEL]}}},
                content_type=MERGE_PATCH,
                expect_rv=str(meta(raw).get("resourceVersion") or ""),
                summary=_labels_summary(before, after),
                before={NS_INJECTION: before[INJECTION_LABEL], NS_REV: before[REV_LABEL]},
                after={NS_INJECTION: after[INJECTION_LABEL], NS_REV: after[REV_LABEL]},
            )
        )
    scope = None if namespaces is None else {(r.cluster, r.name) for r in rows}
    pinned_ops, pinned_notes = _pinned(ctx, view, scope, dest, value, back, source, record)
    ops += pinned_ops
    notes += pinned_notes
    where_to = f"back to {source}" if back else f"to {value}"
    return Plan(
        ActionId.SWITCH_BACK if back else ActionId.SWITCH,
        f"Switch namespaces {where_to}",
        tuple(ops),
        tuple(skipped),
        tuple(dict.fromkeys(refusals)),
        tuple(dict.fromkeys(notes)),
    )


def _pinned(
    ctx: PlanContext,
    view: InventoryView,
    scope: set[tuple[str, str]] | None,
    dest: dict[str, str],
    value: str,
    back: bool,
    source: str,
    record: UpgradeRecord | None,
) -> tuple[list[Operation], list[str]]:
    """Workloads whose pod-template `istio.io/rev` decides their revision and names another revision."""
    found: dict[tuple[str, str, str, str], str] = {}
    follow_default: dict[tuple[str, str], int] = {}
    for row in view.pods():
        if scope is not None and (row.cluster, row.namespace) not in scope:
            continue
        if not row.live or row.gateway is not None or row.workload_kind not in RESTARTABLE:
            continue
        wanted = dest.get(row.cluster)
        if wanted is None or row.revision_on_restart == wanted:
            continue
        ns_row = view.namespace(row.cluster, row.namespace)
        if ns_row is not None and ns_row.injection.label is not None:
            continue  # the namespace's label decides (and a switch changes it)
        plane = control_plane(view, row.cluster)
        label = row.pod.labels.get(REV_LABEL)
        if label and plane.resolve(label) == row.revision_on_restart and row.revision_on_restart is not None:
            assert row.workload_name is not None
            found.setdefault((row.cluster, row.namespace, row.workload_kind, row.workload_name), label)
        elif not label and row.pod.labels.get(INJECT_KEY) == "true" and row.has_sidecar:
            key = (row.cluster, row.namespace)
            follow_default[key] = follow_default.get(key, 0) + 1
    # Templates decide the next pods whether or not pods run now (a Deployment at 0, a CronJob).
    for t in view.templates:
        if scope is not None and (t.cluster, t.namespace) not in scope:
            continue
        wanted = dest.get(t.cluster)
        if t.gateway is not None or t.driver != PINNED or wanted is None or t.revision_on_restart == wanted:
            continue
        if t.kind in (*RESTARTABLE, "CronJob", "ReplicaSet"):
            found.setdefault((t.cluster, t.namespace, t.kind, t.name), "")
    ops: list[Operation] = []
    notes = [
        f"{ctx.where(c, ns)}: {n} pods follow the default revision (pod label {INJECT_KEY}=true): "
        "move the default tag to switch them"
        for (c, ns), n in sorted(follow_default.items())
    ]
    for cluster, ns, kind, name in sorted(found):
        new = value
        if back and record is not None:
            mark = record.templates.get(f"{cluster}/{ns}/{kind}/{name}")
            if mark is not None and mark.rev and control_plane(view, cluster).resolve(mark.rev) == source:
                new = mark.rev
        raw = get(ctx.apis[cluster], workload_path(kind, ns, name))
        if raw is None:
            continue
        spec = raw.get("spec") or {}
        if kind == "CronJob":
            spec = (spec.get("jobTemplate") or {}).get("spec") or {}
        tpl_labels = (spec.get("template") or {}).get("metadata", {}).get("labels") or {}
        current = tpl_labels.get(REV_LABEL)
        if current == new:
            continue
        body: dict[str, Any] = {"spec": {"template": {"metadata": {"labels": {REV_LABEL: new}}}}}
        if kind == "CronJob":
            body = {"spec": {"jobTemplate": body}}
        ops.append(
            Operation(
                cluster=cluster,
                verb="patch",
                api_path=KINDS[kind].collection(ns),
                kind=kind,
                namespace=ns,
                name=name,
                body=body,
                content_type=MERGE_PATCH if kind == "Rollout" else STRATEGIC_MERGE_PATCH,
                expect_rv=str(meta(raw).get("resourceVersion") or ""),
                summary=f"pod-template label {REV_LABEL}: {current} -> {new} ("
                + (
                    "its pods roll out now: the pod label decides their revision)"
                    if kind in RESTARTABLE
                    else "the pods it creates from now on get it)"
                ),
                before={TEMPLATE_REV: current},
                after={TEMPLATE_REV: new},
            )
        )
    return ops, notes


def _labels_summary(before: dict[str, str | None], after: dict[str, str | None]) -> str:
    parts = []
    for key in before:
        old, new = before[key], after.get(key)
        if old == new:
            continue
        if new is None:
            parts.append(f"{key}={old} removed")
        elif old is None:
            parts.append(f"{key}={new} added")
        else:
            parts.append(f"{key}: {old} -> {new}")
    return "labels " + ", ".join(parts)


def _not_switchable(row: NamespaceRow, plane: ControlPlane) -> str | None:
    """Why a namespace that asks for no injection is left alone by a switch, or None to label it.

    Labelling such a namespace puts every workload in it into the mesh on its next restart: right for one
    whose sidecar pods would otherwise lose their sidecar, wrong for the control plane's own namespace or
    one that holds only gateways (they move with the gateways action) or no sidecar pod at all.
    """
    if any(r.istiod and r.istiod.split("/", 1)[0] == row.name for r in plane.revisions):
        return "it runs the control plane: meshtui never labels it for injection"
    if not sum(row.mesh_pods.values()):
        if any(row.by_revision.values()):
            return "it asks for no injection and its only sidecar pods are gateways: move them with the gateways action"
        return (
            "it asks for no injection and has no sidecar pod: labelling it would put it in the mesh; "
            "label it yourself if that is meant"
        )
    return None


def _restored(record: UpgradeRecord, key: str, plane: ControlPlane, source: str) -> dict[str, str | None] | None:
    """The labels a switch back restores: those at `start`, else those before meshtui's first switch.

    Only labels that lead to the source now qualify (a tag still on the target would not); None means
    the namespace is labelled with the source revision itself.
    """
    original = record.original.get(key)
    candidates: list[SwitchMark] = []
    if original is not None:
        candidates.append(SwitchMark(at=record.started, injection=original.injection, rev=original.rev))
    mark = record.switched.get(key)
    if mark is not None:
        candidates.append(mark)
    for c in candidates:
        if _original_resolves(c, plane, source):
            # istio-injection=enabled governs alone; a stale istio.io/rev beside it is kept as it was.
            return {INJECTION_LABEL: c.injection, REV_LABEL: c.rev}
    return None


def _original_resolves(mark: SwitchMark, plane: ControlPlane, source: str) -> bool:
    """Whether a namespace's labels from before the switch still lead to the source revision."""
    if mark.injection == "enabled":
        return plane.default_revision == source
    if mark.injection:
        return False
    return bool(mark.rev) and plane.resolve(mark.rev or "") == source
