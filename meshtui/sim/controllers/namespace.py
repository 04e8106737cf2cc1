"""The namespace controller: empty a Terminating namespace (pods gracefully), then remove it."""

from __future__ import annotations

from meshtui.sim import deletion, errors
from meshtui.sim.controllers.base import Runtime
from meshtui.sim.resources import RESOURCES


def sync_namespace(rt: Runtime, namespace: str, name: str) -> None:
    """Delete everything in a Terminating namespace; remove the namespace once nothing is left."""
    del namespace
    ns = rt.store.get("namespaces", None, name)
    if ns is None or (ns.get("status") or {}).get("phase") != "Terminating":
        return
    remaining = 0
    for res in RESOURCES:
        if not res.namespaced or res.plural == "namespaces" or "delete" not in res.verbs:
            continue
        if res.key in rt.by_ns:
            names = sorted(rt.names(res.key, name))
        else:
            names = sorted(e.name for e in rt.store.entries(res.key, name))
        for obj_name in names:
            remaining += 1
            obj = rt.store.get(res.key, name, obj_name)
            if obj is None or obj["metadata"].get("deletionTimestamp"):
                continue
            try:
                deletion.delete(rt.store, res.key, name, obj_name)
            except errors.ApiError as exc:
                if exc.code != 404:
                    raise
    if remaining == 0:
        rt.store.remove("namespaces", None, name)
    else:
        rt.after(max(0.01, rt.settings.pod_termination_delay / 2), lambda: rt.enqueue(("namespace", "", name)))
