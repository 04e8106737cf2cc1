"""Restart: roll the workloads whose pods would come back on another revision, in batches, PDBs respected.

A restart recorded unfinished in the upgrade record is resumed (its workloads, its timestamp) or
discarded only when the operator says which.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from meshtui.domain.actions import RESTART_ACTIONS, ActionId
from meshtui.domain.inventory import InventoryView
from meshtui.domain.namespaces import NamespaceRow
from meshtui.domain.objects import INJECT_KEY, INJECTION_LABEL, REV_LABEL
from meshtui.domain.plan import REMEDY_IGNORE_PDB, Operation, Plan
from meshtui.domain.pods import PodRow
from meshtui.engine.kube import KINDS, get, labels, list_all, meta
from meshtui.engine.params import RestartParams
from meshtui.engine.planners.common import (
    DEFAULT_BATCH,
    RESTARTABLE,
    PlanContext,
    PlanRequest,
    blocking_pdb,
    fmt,
    restart_operation,
    rfc3339,
    select_namespaces,
    workload_path,
)
from meshtui.engine.restarts import restart_namespaces, unfinished_restart


def plan_restart(req: PlanRequest, params: RestartParams) -> Plan:
    """The restart of the chosen namespaces, or the recorded unfinished one resumed."""
    recorded = unfinished_restart(req.record)
    if params.resume:
        if recorded is None:
            nothing = ("no unfinished restart is recorded",)
            return Plan(ActionId.RESTART, "Resume the interrupted restart", refusals=nothing)
        return resume_restart(
            req.ctx,
            recorded.remaining,
            recorded.restarted_at,
            recorded.batch_size,
            recorded.pause_seconds,
            _restart_action(recorded.action),
        )
    if recorded is not None and not params.discard:
        return Plan(
            ActionId.RESTART,
            "Restart workloads",
            refusals=(
                f"a {recorded.action} of {len(recorded.workloads)} workloads is recorded unfinished "
                f"({len(recorded.remaining)} left, in {', '.join(restart_namespaces(recorded.remaining))}): "
                "resume it, or discard it and plan the namespaces you chose",
            ),
        )
    plan = restart(
        req.ctx,
        req.view,
        namespaces=params.namespaces,
        batch=params.batch or DEFAULT_BATCH,
        pause=params.pause,
        ignore_pdb=params.ignore_pdb,
    )
    if recorded is None:
        return plan
    note = (
        f"discards the recorded {recorded.action}: {len(recorded.remaining)} workloads in "
        f"{', '.join(restart_namespaces(recorded.remaining))} are left as they are"
    )
    return replace(plan, notes=(*plan.notes, note))  # keeps every other field (remedies)


def _restart_action(recorded: str) -> ActionId:
    """The action a recorded restart was started by (anyone can edit the record: an unknown one is a restart)."""
    return next((a for a in RESTART_ACTIONS if a == recorded), ActionId.RESTART)


def restart(
    ctx: PlanContext,
    view: InventoryView,
    *,
    namespaces: tuple[str, ...] | None,
    batch: int,
    pause: float,
    ignore_pdb: bool,
) -> Plan:
    """Roll every workload whose pods would come back on another revision (or gain a sidecar)."""
    rows, refusals = select_namespaces(ctx, view, namespaces, lambda ns: True)
    refusals += _behind(ctx, rows)
    scope = {(r.cluster, r.name) for r in rows}
    stamp = rfc3339(ctx.now())
    workloads: dict[tuple[str, str, str, str], list[PodRow]] = {}
    skipped: list[str] = []
    lost: dict[tuple[str, str, str | None, str | None], tuple[int, str]] = {}
    leaving: dict[tuple[str, str, str | None, str | None], int] = {}
    blocked: dict[tuple[str, str, str | None, str | None], tuple[int, str]] = {}
    components: set[tuple[str, str, str | None, str | None]] = set()
    for row in view.pods():
        if (row.cluster, row.namespace) not in scope or not row.live or row.gateway is not None:
            continue
        if row.pod.component is not None:
            # ztunnel / istio-cni: upgraded in place by the ambient step; a restart only resets connections.
            components.add((row.cluster, row.namespace, row.workload_kind, row.workload_name))
            continue
        if row.revision == row.revision_on_restart:
            continue
        if row.has_sidecar and row.revision_on_restart is None:
            key = (row.cluster, row.namespace, row.workload_kind, row.workload_name)
            n, _ = lost.get(key, (0, ""))
            lost[key] = (n + 1, row.reason or row.injection.cause)
            continue
        if row.leaves_ambient:
            # Served by ztunnel, upgraded by the ambient step: a restart would only turn it into a sidecar pod.
            key = (row.cluster, row.namespace, row.workload_kind, row.workload_name)
            leaving[key] = leaving.get(key, 0) + 1
            continue
        if not row.restartable:
            key = (row.cluster, row.namespace, row.workload_kind or "Pod", row.workload_name or row.name)
            n, _ = blocked.get(key, (0, ""))
            blocked[key] = (n + 1, row.restart_blocker or "it cannot be restarted")
            continue
        assert row.workload_kind is not None and row.workload_name is not None
        workloads.setdefault((row.cluster, row.namespace, row.workload_kind, row.workload_name), []).append(row)
    for cluster, ns, kind, name in sorted(components, key=str):
        skipped.append(
            f"{_c(ctx, cluster)}{kind} {ns}/{name}: a node agent (ztunnel, istio-cni), upgraded in place by "
            "the ambient step, not restarted"
        )
    for (cluster, ns, kind, name), (n, why) in sorted(lost.items(), key=lambda kv: str(kv[0])):
        what = f"{kind} {ns}/{name}" if kind else f"pod(s) in {ns}"
        skipped.append(
            f"{_c(ctx, cluster)}{what}: {n} pods would lose their sidecar on restart ({why}); fix its labels first"
        )
    for (cluster, ns, kind, name), n in sorted(leaving.items(), key=lambda kv: str(kv[0])):
        what = f"{kind} {ns}/{name}" if kind else f"pod(s) in {ns}"
        skipped.append(
            f"{_c(ctx, cluster)}{what}: {n} ambient pod{'' if n == 1 else 's'} would leave ambient on restart (the "
            f"namespace also asks for injection, and a sidecar takes precedence); remove the namespace's "
            f"{REV_LABEL} / {INJECTION_LABEL} label, or label the pods {INJECT_KEY}=false, first"
        )
    for (cluster, ns, kind, name), (n, why) in sorted(blocked.items(), key=lambda kv: str(kv[0])):
        what = f"{kind} {ns}/{name}" if kind else f"pod(s) in {ns}"
        if kind == "Deployment" and "paused" in why:
            skipped.append(f"{_c(ctx, cluster)}{what}: can't restart paused deployment (run rollout resume first)")
        else:
            skipped.append(f"{_c(ctx, cluster)}{what} ({n} pods): {why}")
    remedies: set[str] = set()
    pdbs: dict[str, list[dict[str, Any]]] = {}
    for cluster in {k[0] for k in workloads}:
        pdbs[cluster] = list_all(ctx.apis[cluster], KINDS["PodDisruptionBudget"].collection(None))
    ops: list[Operation] = []
    notes: list[str] = []
    for (cluster, ns, kind, name), pods in sorted(workloads.items()):
        if kind == "Deployment" and _paused(ctx, cluster, ns, name):
            skipped.append(
                f"{_c(ctx, cluster)}Deployment {ns}/{name}: can't restart paused deployment (run rollout resume first)"
            )
            continue
        budget = blocking_pdb(pdbs.get(cluster, []), ns, pods[0].pod.labels, permanent=True)
        if budget is not None:
            msg = (
                f"{_c(ctx, cluster)}{kind} {ns}/{name}: PodDisruptionBudget {ns}/{budget[0]} allows no "
                f"disruption ever ({budget[1]})"
            )
            if not ignore_pdb:
                skipped.append(
                    msg + "; ignoring PodDisruptionBudgets rolls it anyway (its own rolling-update "
                    "settings still apply)"
                )
                remedies.add(REMEDY_IGNORE_PDB)
                continue
            notes.append(msg + "; restarting anyway (PodDisruptionBudgets ignored)")
        moves = sorted({f"{fmt(p.revision)} -> {fmt(p.revision_on_restart)}" for p in pods})
        ops.append(restart_operation(cluster, kind, ns, name, stamp, f"restart ({len(pods)} pods {', '.join(moves)})"))
        if sum(1 for p in pods if p.live) == 1:
            notes.append(f"{_c(ctx, cluster)}{kind} {ns}/{name} has a single pod: it is briefly unavailable")
    return Plan(
        ActionId.RESTART,
        f"Restart workloads ({len(ops)} in batches of {batch}, {pause:g}s apart)",
        tuple(ops),
        tuple(skipped),
        tuple(refusals),
        tuple(notes),
        batch_size=max(1, batch),
        pause_seconds=max(0.0, pause),
        remedies=tuple(sorted(remedies)),
    )


def _behind(ctx: PlanContext, rows: list[NamespaceRow]) -> list[str]:
    """Namespaces whose injection labels changed since the view was taken (a watch still catching up).

    A restart planned from such a view would miss the pods a switch just moved, or roll pods that no
    longer need it: refuse, and let the operator plan again once the tables show the change.
    """
    fresh: dict[tuple[str, str], dict[str, str]] = {}
    for cluster in sorted({r.cluster for r in rows}):
        for raw in list_all(ctx.apis[cluster], "/api/v1/namespaces"):
            fresh[(cluster, str(meta(raw).get("name") or ""))] = labels(raw)
    behind = []
    for row in rows:
        now = fresh.get((row.cluster, row.name))
        if now is None:
            continue
        label = INJECTION_LABEL if INJECTION_LABEL in now else REV_LABEL if REV_LABEL in now else None
        if (label, now.get(label) if label else None) != (row.injection.label, row.injection.value):
            behind.append(ctx.where(row.cluster, row.name))
    if not behind:
        return []
    return [
        f"the labels of {', '.join(behind[:5])}{' and others' if len(behind) > 5 else ''} changed since this "
        "view was read (the watch is catching up): plan the restart again in a moment"
    ]


def resume_restart(
    ctx: PlanContext, workloads: list[str], restarted_at: str, batch: int, pause: float, action: ActionId
) -> Plan:
    """The rest of a recorded restart, with its recorded timestamp: a workload already patched is unchanged
    by the same patch, so only its rollout is awaited."""
    ops = []
    for key in workloads:
        cluster, kind, ns, name = key.split("|", 3)
        if cluster in ctx.apis and kind in RESTARTABLE:
            ops.append(restart_operation(cluster, kind, ns, name, restarted_at, "resume the recorded restart"))
    return Plan(
        action,
        f"Resume the interrupted restart ({len(ops)} workloads left, batches of {batch})",
        tuple(ops),
        batch_size=max(1, batch),
        pause_seconds=max(0.0, pause),
    )


def _c(ctx: PlanContext, cluster: str) -> str:
    """The cluster prefix of a line in a multi-cluster mesh."""
    return f"[{cluster}] " if ctx.multi() else ""


def _paused(ctx: PlanContext, cluster: str, namespace: str, name: str) -> bool:
    raw = get(ctx.apis[cluster], workload_path("Deployment", namespace, name))
    return bool(raw and (raw.get("spec") or {}).get("paused"))
