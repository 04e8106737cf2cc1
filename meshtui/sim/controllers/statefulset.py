"""The StatefulSet controller: ordinal pods created in order, rolling updates from the highest ordinal.

OrderedReady management: each ordinal waits for the previous one to be Ready. RollingUpdate replaces
one pod at a time from the highest ordinal down to `partition`, each waiting for Ready; OnDelete only
recreates pods that were deleted. Revisions are ControllerRevisions named `<set>-<hash>`.
"""

from __future__ import annotations

from typing import Any

from meshtui.sim import deletion, errors
from meshtui.sim.controllers.base import (
    PODS,
    REVISIONS,
    STATEFULSETS,
    Runtime,
    is_ready,
    is_terminating,
    omit_zero,
    owner_ref,
    pod_from_template,
    strip_hash,
    template_hash,
    write_status,
)
from meshtui.sim.store import Obj

HASH_LABEL = "controller-revision-hash"


def ensure_revision(rt: Runtime, owner: Obj, template: Obj) -> tuple[str, Obj]:
    """The ControllerRevision for a template (created if missing): (name, stored template)."""
    ns = owner["metadata"]["namespace"]
    name = f"{owner['metadata']['name']}-{template_hash(template)}"
    existing = rt.store.get(REVISIONS, ns, name)
    if existing is not None:
        return name, existing["data"]["spec"]["template"]
    number = 1 + max((int(r.get("revision", 0)) for r in rt.owned(REVISIONS, ns, owner["metadata"]["uid"])), default=0)
    tpl = strip_hash(template)
    rt.store.create(
        REVISIONS,
        {
            "metadata": {
                "name": name,
                "namespace": ns,
                "ownerReferences": [owner_ref(owner)],
                "labels": {
                    **((tpl.get("metadata") or {}).get("labels") or {}),
                    HASH_LABEL: name.rsplit("-", 1)[-1],
                },
            },
            "data": {"spec": {"template": {**tpl, "$patch": "replace"}}},
            "revision": number,
        },
    )
    return name, tpl


def sync_statefulset(rt: Runtime, namespace: str, name: str) -> None:
    """Create, replace or remove ordinal pods one at a time, then write the status."""
    sts = rt.store.get(STATEFULSETS, namespace, name)
    if sts is None or is_terminating(sts):
        return
    spec = sts["spec"]
    replicas = int(spec.get("replicas", 1))
    strategy = spec.get("updateStrategy") or {"type": "RollingUpdate"}
    partition = int((strategy.get("rollingUpdate") or {}).get("partition", 0))
    update_rev, update_tpl = ensure_revision(rt, sts, spec.get("template") or {})
    status = sts.get("status") or {}
    current_rev = status.get("currentRevision") or update_rev
    current_tpl = update_tpl
    if current_rev != update_rev:
        cr = rt.store.get(REVISIONS, namespace, current_rev)
        if cr is not None:
            current_tpl = {k: v for k, v in cr["data"]["spec"]["template"].items() if k != "$patch"}
    pods: dict[int, Obj] = {}
    for pod in rt.owned(PODS, namespace, sts["metadata"]["uid"]):
        ordinal = _ordinal(name, pod["metadata"]["name"])
        if ordinal is not None:
            pods[ordinal] = pod
    _step(rt, sts, pods, replicas, strategy, partition, current_rev, current_tpl, update_rev, update_tpl)
    pods = {}
    for pod in rt.owned(PODS, namespace, sts["metadata"]["uid"]):
        ordinal = _ordinal(name, pod["metadata"]["name"])
        if ordinal is not None:
            pods[ordinal] = pod
    live = [p for p in pods.values() if not is_terminating(p)]
    ready = sum(1 for p in live if is_ready(p))
    updated = sum(1 for p in live if _rev(p) == update_rev)
    current = sum(1 for p in live if _rev(p) == current_rev)
    if strategy.get("type", "RollingUpdate") == "RollingUpdate" and updated == len(live) == replicas == ready:
        current_rev, current = update_rev, updated
    new_status: dict[str, Any] = omit_zero(
        {
            "observedGeneration": sts["metadata"].get("generation", 1),
            "replicas": len(live),
            "readyReplicas": ready,
            "currentReplicas": current,
            "updatedReplicas": updated,
            "availableReplicas": ready,
        }
    )
    new_status.update(
        {
            "replicas": len(live),
            "currentRevision": current_rev,
            "updateRevision": update_rev,
            "collisionCount": 0,
            "availableReplicas": ready,
        }
    )
    write_status(rt, STATEFULSETS, namespace, name, new_status)


def _step(
    rt: Runtime,
    sts: Obj,
    pods: dict[int, Obj],
    replicas: int,
    strategy: dict[str, Any],
    partition: int,
    current_rev: str,
    current_tpl: Obj,
    update_rev: str,
    update_tpl: Obj,
) -> None:
    namespace = sts["metadata"]["namespace"]
    name = sts["metadata"]["name"]
    rolling = strategy.get("type", "RollingUpdate") == "RollingUpdate"
    for ordinal in range(replicas):
        pod = pods.get(ordinal)
        if pod is None:
            use_current = rolling and ordinal < partition
            rev, tpl = (current_rev, current_tpl) if use_current else (update_rev, update_tpl)
            pod_name = f"{name}-{ordinal}"
            new = pod_from_template(
                tpl,
                namespace,
                pod_name,
                sts,
                {
                    HASH_LABEL: rev,
                    "statefulset.kubernetes.io/pod-name": pod_name,
                    "apps.kubernetes.io/pod-index": str(ordinal),
                },
                hostname=pod_name,
                subdomain=sts["spec"].get("serviceName") or None,
            )
            try:
                rt.store.create(PODS, new)
            except errors.ApiError as exc:
                if exc.code == 409:
                    return
                rt.retry(("statefulset", namespace, name))
                return
            return  # OrderedReady: wait for this pod before the next ordinal
        if is_terminating(pod) or not is_ready(pod):
            return
    extra = sorted((o for o in pods if o >= replicas), reverse=True)
    if extra:
        victim = pods[extra[0]]
        if not is_terminating(victim):
            _delete(rt, victim)
        return
    if not rolling:
        return
    for ordinal in range(replicas - 1, partition - 1, -1):
        pod = pods.get(ordinal)
        if pod is not None and _rev(pod) != update_rev:
            _delete(rt, pod)
            return


def _delete(rt: Runtime, pod: Obj) -> None:
    try:
        deletion.delete(rt.store, PODS, pod["metadata"]["namespace"], pod["metadata"]["name"])
    except errors.ApiError as exc:
        if exc.code != 404:
            raise


def _rev(pod: Obj) -> str:
    return str((pod["metadata"].get("labels") or {}).get(HASH_LABEL, ""))


def _ordinal(set_name: str, pod_name: str) -> int | None:
    prefix = f"{set_name}-"
    if not pod_name.startswith(prefix) or not pod_name[len(prefix) :].isdigit():
        return None
    return int(pod_name[len(prefix) :])
