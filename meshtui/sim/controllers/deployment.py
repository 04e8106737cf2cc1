"""The Deployment controller: ReplicaSets per template, rolling updates by maxSurge/maxUnavailable, status.

It follows kube-controller-manager's `rolling.go`/`sync.go`/`progress.go`: the new ReplicaSet is found by
template (ignoring pod-template-hash), scaled up within maxSurge, old ones scaled down within
maxUnavailable, revisions numbered by `deployment.kubernetes.io/revision`, and `spec.paused` honoured.
"""

from __future__ import annotations

from typing import Any

from meshtui.sim import deletion, errors
from meshtui.sim.controllers.base import (
    DEPLOYMENTS,
    PODS,
    REPLICASETS,
    Runtime,
    owner_ref,
    scaled_value,
    set_condition,
    strip_hash,
    template_hash,
    write_status,
)
from meshtui.sim.store import Obj

REVISION = "deployment.kubernetes.io/revision"
DESIRED = "deployment.kubernetes.io/desired-replicas"
MAX_REPLICAS = "deployment.kubernetes.io/max-replicas"


def resolve_fenceposts(d: Obj) -> tuple[int, int]:
    """(maxSurge, maxUnavailable) for a RollingUpdate Deployment; both zero becomes unavailable=1."""
    spec = d["spec"]
    replicas = int(spec.get("replicas", 1))
    strategy = spec.get("strategy") or {}
    if strategy.get("type", "RollingUpdate") != "RollingUpdate":
        return 0, 0
    ru = strategy.get("rollingUpdate") or {}
    surge = scaled_value(ru.get("maxSurge", "25%"), replicas, True)
    unavailable = scaled_value(ru.get("maxUnavailable", "25%"), replicas, False)
    if surge == 0 and unavailable == 0:
        unavailable = 1
    return surge, unavailable


def max_unavailable(d: Obj) -> int:
    """`MaxUnavailable`: the resolved value, capped at replicas; 0 for Recreate or zero replicas."""
    replicas = int(d["spec"].get("replicas", 1))
    if (d["spec"].get("strategy") or {}).get("type", "RollingUpdate") != "RollingUpdate" or replicas == 0:
        return 0
    return min(resolve_fenceposts(d)[1], replicas)


def _replicas(rs: Obj) -> int:
    return int(rs["spec"].get("replicas", 1))


def _status(rs: Obj, field: str) -> int:
    return int((rs.get("status") or {}).get(field, 0))


def _revision(rs: Obj) -> int:
    try:
        return int((rs["metadata"].get("annotations") or {}).get(REVISION, "0"))
    except ValueError:
        return 0


def sync_deployment(rt: Runtime, namespace: str, name: str) -> None:
    """Reconcile one Deployment: find or create its new ReplicaSet, roll, clean up, write status."""
    d = rt.store.get(DEPLOYMENTS, namespace, name)
    if d is None or d["metadata"].get("deletionTimestamp"):
        return
    spec = d["spec"]
    replicas = int(spec.get("replicas", 1))
    rss = [
        rs
        for rs in rt.owned(REPLICASETS, namespace, d["metadata"]["uid"])
        if not rs["metadata"].get("deletionTimestamp")
    ]
    template = spec.get("template") or {}
    wanted = strip_hash(template)
    new_rs = next((rs for rs in rss if strip_hash(rs["spec"].get("template") or {}) == wanted), None)
    old_rss = [rs for rs in rss if rs is not new_rs]
    status = dict(d.get("status") or {})
    conditions: list[dict[str, Any]] = list(status.get("conditions") or [])
    paused = bool(spec.get("paused"))
    max_old = max((_revision(rs) for rs in old_rss), default=0)
    surge, _ = resolve_fenceposts(d)

    if new_rs is None and not paused:
        new_rs = _create_new_rs(rt, d, old_rss, max_old + 1, surge)
        conditions = set_condition(
            conditions,
            "Progressing",
            "True",
            "NewReplicaSetCreated",
            f'Created new replica set "{new_rs["metadata"]["name"]}"',
            update_time=True,
        )
    elif new_rs is not None:
        if _revision(new_rs) <= max_old:
            new_rs = _annotate(rt, new_rs, {REVISION: str(max_old + 1)})
        if not any(c.get("type") == "Progressing" for c in conditions):
            conditions = set_condition(
                conditions,
                "Progressing",
                "True",
                "FoundNewReplicaSet",
                f'Found new replica set "{new_rs["metadata"]["name"]}"',
                update_time=True,
            )
    if new_rs is not None:
        _set_deployment_revision(rt, d, str(_revision(new_rs)))

    current = next((c for c in conditions if c.get("type") == "Progressing"), None)
    if paused:
        if current is None or current.get("reason") != "DeploymentPaused":
            conditions = set_condition(
                conditions,
                "Progressing",
                "Unknown",
                "DeploymentPaused",
                "Deployment is paused",
                update_time=True,
            )
        _scale_paused(rt, d, new_rs, old_rss)
    else:
        if current is not None and current.get("reason") == "DeploymentPaused":
            conditions = set_condition(
                conditions,
                "Progressing",
                "Unknown",
                "DeploymentResumed",
                "Deployment is resumed",
                update_time=True,
            )
        if new_rs is not None:
            strategy = (spec.get("strategy") or {}).get("type", "RollingUpdate")
            if strategy == "Recreate":
                _recreate(rt, d, new_rs, old_rss)
            elif not _reconcile_new(rt, d, new_rs, old_rss, surge):
                _reconcile_old(rt, d, new_rs, old_rss)
    _cleanup(rt, d, old_rss)

    all_rss = [
        rs
        for rs in rt.owned(REPLICASETS, namespace, d["metadata"]["uid"])
        if not rs["metadata"].get("deletionTimestamp")
    ]
    new_now = next(
        (rs for rs in all_rss if new_rs is not None and rs["metadata"]["uid"] == new_rs["metadata"]["uid"]),
        None,
    )
    available = sum(_status(rs, "availableReplicas") for rs in all_rss)
    total_spec = sum(_replicas(rs) for rs in all_rss)
    new_status: dict[str, Any] = {
        "observedGeneration": d["metadata"].get("generation", 1),
        "replicas": sum(_status(rs, "replicas") for rs in all_rss),
        "updatedReplicas": _status(new_now, "replicas") if new_now else 0,
        "readyReplicas": sum(_status(rs, "readyReplicas") for rs in all_rss),
        "availableReplicas": available,
        "unavailableReplicas": max(0, total_spec - available),
    }
    if replicas == 0 or available >= replicas - max_unavailable(d):
        conditions = set_condition(
            conditions,
            "Available",
            "True",
            "MinimumReplicasAvailable",
            "Deployment has minimum availability.",
            update_time=True,
        )
    else:
        conditions = set_condition(
            conditions,
            "Available",
            "False",
            "MinimumReplicasUnavailable",
            "Deployment does not have minimum availability.",
            update_time=True,
        )
    if not paused:
        conditions = _progress(d, new_now, new_status, conditions)
    failure = _replica_failure(new_now, all_rss)
    conditions = [c for c in conditions if c.get("type") != "ReplicaFailure"]
    if failure is not None:
        conditions.append(failure)
    new_status["conditions"] = conditions
    if status.get("collisionCount"):
        new_status["collisionCount"] = status["collisionCount"]
    new_status = {k: v for k, v in new_status.items() if v not in (0, None, []) or k == "observedGeneration"}
    write_status(rt, DEPLOYMENTS, namespace, name, new_status)


def _progress(
    d: Obj, new_rs: Obj | None, new_status: dict[str, Any], conditions: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """`syncRolloutStatus`: NewReplicaSetAvailable once complete, ReplicaSetUpdated while progressing."""
    old = d.get("status") or {}
    current = next((c for c in conditions if c.get("type") == "Progressing"), None)
    if (
        new_status.get("replicas", 0) == new_status.get("updatedReplicas", 0)
        and current is not None
        and current.get("reason") == "NewReplicaSetAvailable"
    ):
        return conditions
    replicas = int(d["spec"].get("replicas", 1))
    rs_name = new_rs["metadata"]["name"] if new_rs else ""
    complete = (
        new_status.get("updatedReplicas", 0) == replicas
        and new_status.get("replicas", 0) == replicas
        and new_status.get("availableReplicas", 0) == replicas
        and new_status["observedGeneration"] >= d["metadata"].get("generation", 1)
    )
    if complete:
        msg = (
            f'ReplicaSet "{rs_name}" has successfully progressed.'
            if new_rs
            else f'Deployment "{d["metadata"]["name"]}" has successfully progressed.'
        )
        return set_condition(conditions, "Progressing", "True", "NewReplicaSetAvailable", msg, update_time=True)
    old_old = old.get("replicas", 0) - old.get("updatedReplicas", 0)
    new_old = new_status.get("replicas", 0) - new_status.get("updatedReplicas", 0)
    progressing = (
        new_status.get("updatedReplicas", 0) > old.get("updatedReplicas", 0)
        or new_old < old_old
        or new_status.get("readyReplicas", 0) > old.get("readyReplicas", 0)
        or new_status.get("availableReplicas", 0) > old.get("availableReplicas", 0)
    )
    if progressing:
        msg = (
            f'ReplicaSet "{rs_name}" is progressing.'
            if new_rs
            else f'Deployment "{d["metadata"]["name"]}" is progressing.'
        )
        conditions = set_condition(conditions, "Progressing", "True", "ReplicaSetUpdated", msg, update_time=True)
        for cond in conditions:
            if cond["type"] == "Progressing" and cond["reason"] == "ReplicaSetUpdated" and cond["message"] != msg:
                cond["message"] = msg
    return conditions


def _replica_failure(new_rs: Obj | None, all_rss: list[Obj]) -> dict[str, Any] | None:
    ordered = ([new_rs] if new_rs else []) + [rs for rs in all_rss if new_rs is None or rs is not new_rs]
    for rs in ordered:
        for cond in (rs.get("status") or {}).get("conditions") or []:
            if cond.get("type") == "ReplicaFailure" and cond.get("status") == "True":
                ts = cond.get("lastTransitionTime")
                return {
                    "type": "ReplicaFailure",
                    "status": "True",
                    "lastUpdateTime": ts,
                    "lastTransitionTime": ts,
                    "reason": cond.get("reason", "FailedCreate"),
                    "message": cond.get("message", ""),
                }
    return None


def _create_new_rs(rt: Runtime, d: Obj, old_rss: list[Obj], revision: int, surge: int) -> Obj:
    spec = d["spec"]
    replicas = int(spec.get("replicas", 1))
    collision = int((d.get("status") or {}).get("collisionCount", 0))
    template = spec.get("template") or {}
    while True:
        h = template_hash(template, collision)
        name = f"{d['metadata']['name']}-{h}"
        if rt.store.entry(REPLICASETS, d["metadata"]["namespace"], name) is None:
            break
        collision += 1
    tpl = strip_hash(template)
    tpl.setdefault("metadata", {}).setdefault("labels", {})["pod-template-hash"] = h
    selector = dict(spec.get("selector") or {})
    selector["matchLabels"] = {**(selector.get("matchLabels") or {}), "pod-template-hash": h}
    if (spec.get("strategy") or {}).get("type") == "Recreate":
        count = replicas if not any(_replicas(rs) for rs in old_rss) else 0
    else:
        current = sum(_replicas(rs) for rs in old_rss)
        count = max(0, min(replicas + surge - current, replicas)) if current < replicas + surge else 0
    rs = {
        "metadata": {
            "name": name,
            "namespace": d["metadata"]["namespace"],
            "labels": dict(tpl["metadata"]["labels"]),
            "annotations": {
                REVISION: str(revision),
                DESIRED: str(replicas),
                MAX_REPLICAS: str(replicas + surge),
            },
            "ownerReferences": [owner_ref(d)],
        },
        "spec": {
            "replicas": count,
            "minReadySeconds": int(spec.get("minReadySeconds", 0)),
            "selector": selector,
            "template": tpl,
        },
    }
    return rt.store.create(REPLICASETS, rs)


def _annotate(rt: Runtime, rs: Obj, annotations: dict[str, str]) -> Obj:
    def apply(obj: Obj) -> Obj:
        obj["metadata"].setdefault("annotations", {}).update(annotations)
        return obj

    return rt.store.update(REPLICASETS, rs["metadata"]["namespace"], rs["metadata"]["name"], apply)


def _set_deployment_revision(rt: Runtime, d: Obj, revision: str) -> None:
    if (d["metadata"].get("annotations") or {}).get(REVISION) == revision:
        return

    def apply(obj: Obj) -> Obj:
        obj["metadata"].setdefault("annotations", {})[REVISION] = revision
        return obj

    rt.store.update(DEPLOYMENTS, d["metadata"]["namespace"], d["metadata"]["name"], apply, admit=False)


def _scale(rt: Runtime, d: Obj, rs: Obj, count: int) -> None:
    surge, _ = resolve_fenceposts(d)
    replicas = int(d["spec"].get("replicas", 1))

    def apply(obj: Obj) -> Obj:
        obj["spec"]["replicas"] = count
        ann = obj["metadata"].setdefault("annotations", {})
        ann[DESIRED] = str(replicas)
        ann[MAX_REPLICAS] = str(replicas + surge)
        return obj

    updated = rt.store.update(REPLICASETS, rs["metadata"]["namespace"], rs["metadata"]["name"], apply)
    rs["spec"] = updated["spec"]


def _reconcile_new(rt: Runtime, d: Obj, new_rs: Obj, old_rss: list[Obj], surge: int) -> bool:
    replicas = int(d["spec"].get("replicas", 1))
    have = _replicas(new_rs)
    if have == replicas:
        return False
    if have > replicas:
        _scale(rt, d, new_rs, replicas)
        return True
    current = sum(_replicas(rs) for rs in old_rss) + have
    max_total = replicas + surge
    if current >= max_total:
        return False
    count = min(max_total - current, replicas - have) + have
    _scale(rt, d, new_rs, count)
    return True


def _reconcile_old(rt: Runtime, d: Obj, new_rs: Obj, old_rss: list[Obj]) -> bool:
    old_count = sum(_replicas(rs) for rs in old_rss)
    if old_count == 0:
        return False
    replicas = int(d["spec"].get("replicas", 1))
    all_count = old_count + _replicas(new_rs)
    min_available = replicas - max_unavailable(d)
    new_unavailable = _replicas(new_rs) - _status(new_rs, "availableReplicas")
    max_scaled_down = all_count - min_available - new_unavailable
    if max_scaled_down <= 0:
        return False
    ordered = sorted(old_rss, key=lambda rs: (rs["metadata"].get("creationTimestamp", ""), rs["metadata"]["name"]))
    cleaned = 0
    for rs in ordered:  # cleanupUnhealthyReplicas
        if cleaned >= max_scaled_down:
            break
        unhealthy = _replicas(rs) - _status(rs, "availableReplicas")
        if _replicas(rs) == 0 or unhealthy <= 0:
            continue
        step = min(max_scaled_down - cleaned, unhealthy)
        _scale(rt, d, rs, _replicas(rs) - step)
        cleaned += step
    available = sum(_status(rs, "availableReplicas") for rs in [*old_rss, new_rs])
    scaled = 0
    if available > min_available:  # scaleDownOldReplicaSetsForRollingUpdate
        total = available - min_available
        for rs in ordered:
            if scaled >= total:
                break
            if _replicas(rs) == 0:
                continue
            step = min(_replicas(rs), total - scaled)
            _scale(rt, d, rs, _replicas(rs) - step)
            scaled += step
    return cleaned + scaled > 0


def _recreate(rt: Runtime, d: Obj, new_rs: Obj, old_rss: list[Obj]) -> None:
    for rs in old_rss:
        if _replicas(rs):
            _scale(rt, d, rs, 0)
    for rs in old_rss:
        if rt.owned(PODS, rs["metadata"]["namespace"], rs["metadata"]["uid"]):
            return  # wait until every old pod is gone
    replicas = int(d["spec"].get("replicas", 1))
    if _replicas(new_rs) != replicas:
        _scale(rt, d, new_rs, replicas)


def _scale_paused(rt: Runtime, d: Obj, new_rs: Obj | None, old_rss: list[Obj]) -> None:
    replicas = int(d["spec"].get("replicas", 1))
    active = [rs for rs in [*old_rss, *([new_rs] if new_rs else [])] if _replicas(rs) > 0]
    if len(active) == 1 and _replicas(active[0]) != replicas:
        _scale(rt, d, active[0], replicas)
    elif not active and new_rs is not None and _replicas(new_rs) != replicas:
        _scale(rt, d, new_rs, replicas)


def _cleanup(rt: Runtime, d: Obj, old_rss: list[Obj]) -> None:
    limit = int(d["spec"].get("revisionHistoryLimit", 10))
    idle = [rs for rs in old_rss if _replicas(rs) == 0 and _status(rs, "replicas") == 0]
    idle.sort(key=lambda rs: (_revision(rs), rs["metadata"].get("creationTimestamp", "")))
    for rs in idle[: max(0, len(idle) - limit)]:
        try:
            deletion.delete(rt.store, REPLICASETS, rs["metadata"]["namespace"], rs["metadata"]["name"])
        except errors.ApiError as exc:
            if exc.code != 404:
                raise
