"""The exact document `meshtui status --json` prints (docs/status-json.md), built from an inventory view.

Other tools parse it: keys are only ever added, never renamed or moved; every list is in (cluster,
namespace, name) order so two runs over the same state print the same bytes.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from meshtui.domain.ambient import AMBIENT
from meshtui.domain.gates import Condition, GateVerdict, evaluate_gates
from meshtui.domain.inventory import InventoryView

#: What the dashboard says first while no upgrade is recorded (Upgrade, Rollback and Finish wait for Start).
NOT_STARTED = Condition(
    "not_started", 0, (), "no upgrade has been started: start it first (it records the upgrade and takes the lock)"
)


def _verdict(verdict: GateVerdict | None, started: bool | None) -> dict[str, Any]:
    first = [NOT_STARTED] if started is False else []
    conditions = first + list(verdict.conditions if verdict is not None else ())
    return {
        "enabled": bool(verdict is not None and verdict.enabled and not first),
        "reasons": [c.message for c in conditions],
        "conditions": [
            {
                "code": c.code,
                "count": c.count,
                "offenders": list(c.first_offenders),
                "message": c.message,
                "remedy": c.remedy,
            }
            for c in conditions
        ],
    }


def observed_phase(view: InventoryView) -> str | None:
    """The phase the cluster state suggests when no upgrade record says otherwise.

    `control-plane` until the target is Ready everywhere, `data-plane` until the Upgrade gate holds, then
    `verify`; None without a source and target.
    """
    if not view.source or not view.target or view.gates is None:
        return None
    target = view.target
    for cp in view.control_planes:
        rev = cp.revision(target)
        if rev is None or not rev.ready:
            return "control-plane"
    return "verify" if view.gates.upgrade.enabled else "data-plane"


def status_document(
    view: InventoryView,
    phase: str | None = None,
    all_pods: bool = False,
    started: bool | None = None,
    with_pods: bool = True,
) -> dict[str, Any]:
    """The `status --json` dict; `phase` comes from the upgrade record, else it is inferred from the state.

    Each condition lists every offender (its message names the first five). `started` False says, as the
    dashboard does, that no upgrade has been started; None (not known, e.g. offline dumps) says nothing.
    `with_pods` False leaves `pods` empty, for a writer that adds them from `pod_entries` as it goes.
    """
    multi = len(view.clusters) > 1
    revisions = []
    for r in sorted(view.revisions, key=lambda r: (r.cluster, r.name)):
        revisions.append(
            {
                "name": r.name,
                "version": r.version,
                "ready": r.ready,
                "default": r.is_default,
                "tags": list(r.tags),
                "istiod": r.istiod,
                "cluster": r.cluster,
                "managed": r.managed,
                "proxy_image": r.proxy_image,
            }
        )
    tags = [
        {
            "name": t.name,
            "revision": t.revision,
            "cluster": t.cluster,
            "dangling": t.dangling,
            "service": t.service,
            "service_revision": t.service_revision,
        }
        for t in sorted(view.tags, key=lambda t: (t.cluster, t.name))
    ]
    namespaces = []
    for ns in view.namespaces:
        inj = ns.injection
        namespaces.append(
            {
                "cluster": ns.cluster,
                "name": ns.name,
                "injection": {"label": inj.label, "value": inj.value} if inj.label is not None else None,
                "revision": inj.revision,
                "pods": {
                    "live": ns.live,
                    "by_revision": dict(ns.by_revision),
                    "no_sidecar": ns.no_sidecar,
                    "at_risk": ns.at_risk,
                    "terminal": ns.terminal,
                },
                "label_conflict": inj.conflict,
                "problem": inj.problem,
                "dataplane_mode": ns.dataplane_mode,
                "use_waypoint": ns.use_waypoint,
            }
        )
    pods = list(pod_entries(view, all_pods)) if with_pods else []
    gateways = [
        {
            "cluster": g.cluster,
            "namespace": g.namespace,
            "name": g.name,
            "kind": g.kind,
            "revision": g.revision,
            "revision_on_restart": g.revision_on_restart,
            "upgrade": g.upgrade,
        }
        for g in view.gateways
    ]
    templates = [
        {
            "cluster": t.cluster,
            "namespace": t.namespace,
            "name": t.name,
            "kind": t.kind,
            "replicas": t.replicas,
            "revision_on_restart": t.revision_on_restart,
            "gateway": t.gateway,
            "awaits_injection": t.awaits_injection,
            "live_pods": t.live_pods,
            "at_risk": t.at_risk,
            "reason": t.reason,
            "explain": t.injection.explain(),
        }
        for t in view.templates
    ]
    components = [
        {
            "cluster": c.cluster,
            "namespace": c.namespace,
            "name": c.name,
            "kind": c.kind,
            "version": c.version,
            "revision": c.revision,
            "configured": c.configured,
            "revision_source": c.revision_source,
            "nodes": {"desired": c.desired, "updated": c.updated, "ready": c.ready},
            "rolling": c.rolling,
            "pods": [
                {"node": p.node, "name": p.pod, "version": p.version, "ready": p.ready, "current": p.current}
                for p in c.pods
            ],
            "problems": list(c.problems),
        }
        for c in view.components
    ]
    gates = view.gates
    if view.source and view.target and view.source != view.target:
        gates = evaluate_gates(view, view.source, view.target, limit=None)
    problems: list[dict[str, str | None]] = [
        {"cluster": cp.cluster, "code": p.code, "message": p.message} for cp in view.control_planes for p in cp.problems
    ]
    problems += [{"cluster": None, "code": "malformed_object", "message": m} for m in view.problems]
    return {
        "clusters": [{"name": c.name, "server": c.server} for c in view.clusters],
        "revisions": revisions,
        "tags": tags,
        "namespaces": namespaces,
        "pods": pods,
        "gateways": gateways,
        "templates": templates,
        "data_plane_components": components,
        "upgrade": {
            "source": view.source,
            "target": view.target,
            "phase": phase if phase is not None else observed_phase(view),
            "actions": {
                "upgrade": _verdict(gates.upgrade if gates else None, started),
                "rollback": _verdict(gates.rollback if gates else None, started),
                "finish": _verdict(gates.finish if gates else None, started),
            },
        },
        "skew": [{"code": w.code, "message": w.message, "count": w.count} for w in view.skew],
        "problems": problems,
        "multi_cluster": multi,
    }


def pod_entries(view: InventoryView, all_pods: bool = False) -> Iterator[dict[str, Any]]:
    """The document's `pods` entries, one at a time (`status --json` writes them without holding them all)."""
    for row in view.pods():
        if row.pod.component is not None:
            continue  # ztunnel and istio-cni are listed under data_plane_components, never as pods
        if not (all_pods or row.has_sidecar or row.at_risk or row.pod.ambient):
            continue
        yield {
            "cluster": row.cluster,
            "namespace": row.namespace,
            "name": row.name,
            "revision": row.revision,
            "proxy_version": row.proxy_version,
            "revision_on_restart": row.revision_on_restart,
            "at_risk": row.at_risk,
            "reason": row.reason,
            "phase": row.pod.phase,
            "ready": row.pod.ready,
            "workload": f"{row.workload_kind}/{row.workload_name}" if row.workload_kind else None,
            "restartable": row.restartable,
            "explain": row.explain(),
            "problems": list(row.pod.problems),
            "dataplane": "sidecar" if row.has_sidecar else AMBIENT if row.pod.ambient else None,
        }
