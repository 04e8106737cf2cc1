"""The DaemonSet controller: one pod per node; RollingUpdate replaces within maxUnavailable, OnDelete waits.

Pods are bound to their node directly (`spec.nodeName`), as DaemonSets did before scheduling moved to
the default scheduler; the result seen through the API is the same.
"""

from __future__ import annotations

from typing import Any

from meshtui.sim import deletion, errors
from meshtui.sim.controllers.base import (
    DAEMONSETS,
    PODS,
    Runtime,
    is_ready,
    is_terminating,
    omit_zero,
    pod_from_template,
    scaled_value,
    template_hash,
    write_status,
)
from meshtui.sim.controllers.statefulset import ensure_revision
from meshtui.sim.store import Obj

HASH_LABEL = "controller-revision-hash"


def sync_daemonset(rt: Runtime, namespace: str, name: str) -> None:
    """Keep one pod per node at the current template and write the status."""
    ds = rt.store.get(DAEMONSETS, namespace, name)
    if ds is None or is_terminating(ds):
        return
    spec = ds["spec"]
    template = spec.get("template") or {}
    ensure_revision(rt, ds, template)
    current = template_hash(template)
    nodes = sorted(e.name for e in rt.store.entries("nodes"))
    by_node: dict[str, list[Obj]] = {}
    for pod in rt.owned(PODS, namespace, ds["metadata"]["uid"]):
        by_node.setdefault((pod.get("spec") or {}).get("nodeName") or "", []).append(pod)
    generation = str(ds["metadata"].get("generation", 1))
    for node in nodes:
        live = [p for p in by_node.get(node, []) if not is_terminating(p)]
        if not live and not any(is_terminating(p) for p in by_node.get(node, [])):
            pod = pod_from_template(
                template,
                namespace,
                rt.unique_pod_name(f"{name}-", namespace),
                ds,
                {HASH_LABEL: current, "pod-template-generation": generation},
                node=node,
            )
            try:
                created = rt.store.create(PODS, pod)
                by_node.setdefault(node, []).append(created)
            except errors.ApiError:
                rt.retry(("daemonset", namespace, name))
    for node, pods in by_node.items():
        if node not in nodes:
            for pod in pods:
                if not is_terminating(pod):
                    _delete(rt, pod)
    strategy = spec.get("updateStrategy") or {"type": "RollingUpdate"}
    if strategy.get("type", "RollingUpdate") == "RollingUpdate":
        rolling = strategy.get("rollingUpdate") or {}
        surge = scaled_value(rolling.get("maxSurge", 0), len(nodes), True)
        if surge > 0:
            _surge(rt, ds, template, current, nodes, by_node, surge, generation)
        else:
            _replace(rt, current, nodes, by_node, rolling)
    live = [p for n in nodes for p in by_node.get(n, []) if not is_terminating(p)]
    ready = sum(1 for p in live if is_ready(p))
    scheduled = sum(1 for n in nodes if any(not is_terminating(p) for p in by_node.get(n, [])))
    updated = sum(1 for p in live if _hash(p) == current)
    status: dict[str, Any] = omit_zero(
        {
            "observedGeneration": ds["metadata"].get("generation", 1),
            "numberReady": ready,
            "updatedNumberScheduled": updated,
            "numberAvailable": ready,
            "numberUnavailable": max(0, len(nodes) - ready),
        }
    )
    status.update(
        {
            "currentNumberScheduled": scheduled,
            "desiredNumberScheduled": len(nodes),
            "numberMisscheduled": 0,
            "numberReady": ready,
        }
    )
    write_status(rt, DAEMONSETS, namespace, name, status)


def _hash(pod: Obj) -> str:
    return str((pod["metadata"].get("labels") or {}).get(HASH_LABEL, ""))


def _delete(rt: Runtime, pod: Obj) -> None:
    try:
        deletion.delete(rt.store, PODS, pod["metadata"]["namespace"], pod["metadata"]["name"])
    except errors.ApiError as exc:
        if exc.code != 404:
            raise


def _replace(rt: Runtime, current: str, nodes: list[str], by_node: dict[str, list[Obj]], rolling: Obj) -> None:
    """maxUnavailable: delete old pods (node after node) while at most that many nodes lack a Ready pod."""
    limit = max(1, scaled_value(rolling.get("maxUnavailable", 1), len(nodes), True))
    unavailable = sum(1 for n in nodes if not any(is_ready(p) and not is_terminating(p) for p in by_node.get(n, [])))
    for node in nodes:
        if unavailable >= limit:
            break
        old = [p for p in by_node.get(node, []) if not is_terminating(p) and _hash(p) != current]
        if old:
            _delete(rt, old[0])
            unavailable += 1


def _surge(
    rt: Runtime,
    ds: Obj,
    template: Obj,
    current: str,
    nodes: list[str],
    by_node: dict[str, list[Obj]],
    surge: int,
    generation: str,
) -> None:
    """maxSurge (maxUnavailable 0): start the new pod beside the old one, delete the old once the new is Ready.

    At most `surge` nodes run two pods at once, so with ztunnel's `maxSurge: 1` the nodes go one by one.
    """
    meta = ds["metadata"]
    surging = 0
    for node in nodes:
        live = [p for p in by_node.get(node, []) if not is_terminating(p)]
        new = [p for p in live if _hash(p) == current]
        old = [p for p in live if _hash(p) != current]
        if not old:
            continue
        if new:
            if all(is_ready(p) for p in new):
                for pod in old:
                    _delete(rt, pod)
            else:
                surging += 1
    for node in nodes:
        if surging >= surge:
            break
        live = [p for p in by_node.get(node, []) if not is_terminating(p)]
        if any(_hash(p) != current for p in live) and not any(_hash(p) == current for p in live):
            pod = pod_from_template(
                template,
                meta["namespace"],
                rt.unique_pod_name(f"{meta['name']}-", meta["namespace"]),
                ds,
                {HASH_LABEL: current, "pod-template-generation": generation},
                node=node,
            )
            try:
                by_node.setdefault(node, []).append(rt.store.create(PODS, pod))
                surging += 1
            except errors.ApiError:
                rt.retry(("daemonset", meta["namespace"], meta["name"]))
                return
