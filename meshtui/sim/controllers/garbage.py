"""The garbage collector's part in foreground deletion.

A DELETE with `propagationPolicy: Foreground` leaves the object in place with a deletionTimestamp and the
`foregroundDeletion` finalizer (`deletion.delete`). The garbage collector deletes its dependents (objects
whose ownerReferences name it) and, once none is left, removes the finalizer, which removes the object
(`Store._update`). Dependents of an object removed outright are collected by `deletion.finalize`.
"""

from __future__ import annotations

from meshtui.sim import deletion, errors
from meshtui.sim.controllers.base import Item, Runtime
from meshtui.sim.deletion import FOREGROUND
from meshtui.sim.store import Obj

WORK = "gc"


def item(key: str, namespace: str, name: str) -> Item:
    """The work item that finishes the foreground deletion of one object."""
    return (WORK, namespace, f"{key}|{name}")


def waiting(meta: dict[str, object]) -> bool:
    """True for an object being deleted in the foreground."""
    finalizers = meta.get("finalizers") or []
    return bool(meta.get("deletionTimestamp")) and isinstance(finalizers, list) and FOREGROUND in finalizers


def sync_foreground(rt: Runtime, namespace: str, ref: str) -> None:
    """Delete the dependents of an object being deleted in the foreground; drop the finalizer once they are
    gone (a dependent's removal brings the owner back here)."""
    key, _, name = ref.partition("|")
    obj = rt.store.get(key, namespace or None, name)
    if obj is None or not waiting(obj["metadata"]):
        return
    uid = str(obj["metadata"].get("uid") or "")
    deletion.collect_dependents(rt.store, uid)
    if rt.store.dependents(uid):
        return

    def drop(current: Obj) -> Obj:
        meta = current["metadata"]
        rest = [f for f in meta.get("finalizers") or [] if f != FOREGROUND]
        if rest:
            meta["finalizers"] = rest
        else:
            meta.pop("finalizers", None)
        return current

    try:
        rt.store.update(key, namespace or None, name, drop, admit=False)
    except errors.ApiError as exc:
        if exc.code != 404:
            raise
