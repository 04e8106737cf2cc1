"""Deletion as the API server and garbage collector perform it: grace periods, Terminating, dependents."""

from __future__ import annotations

from meshtui.sim import errors
from meshtui.sim.resources import BY_KEY
from meshtui.sim.store import Obj, Store, now_rfc3339

#: Kinds whose registry sets ReturnDeletedObject: DELETE answers with the object, the others with a Status.
RETURNS_OBJECT = frozenset({"pods", "serviceaccounts", "services", "namespaces"})
DEFAULT_POD_GRACE = 30
#: The finalizer a foreground DELETE adds; the garbage collector removes it once the dependents are gone.
FOREGROUND = "foregroundDeletion"


def delete(
    store: Store,
    key: str,
    namespace: str | None,
    name: str,
    *,
    grace_seconds: int | None = None,
    propagation: str | None = None,
    dry_run: bool = False,
) -> Obj:
    """Delete one object the way DELETE does; returns the object as the API server returns it.

    Pods (and namespaces) go Terminating first and are removed later by a controller. Other objects go
    at once, and their dependents (ownerReferences) are collected unless propagation is Orphan; but one
    with finalizers, or deleted with propagation Foreground (which adds the `foregroundDeletion`
    finalizer), stays with a deletionTimestamp until its finalizers are removed (the garbage collector,
    `controllers.garbage`, removes `foregroundDeletion` once the dependents are gone).
    """
    res = BY_KEY[key]
    if propagation not in (None, "", "Background", "Foreground", "Orphan"):
        raise errors.bad_request(f"unsupported propagationPolicy {propagation!r}")
    obj = store.require(key, namespace, name)
    meta = obj["metadata"]
    if key == "pods":
        grace = pod_grace(obj, grace_seconds)
        if dry_run:
            if grace > 0:
                meta.setdefault("deletionTimestamp", now_rfc3339())
                meta.setdefault("deletionGracePeriodSeconds", grace)
            return obj
        if propagation == "Orphan":
            orphan_dependents(store, meta["uid"])
        if grace == 0:
            return finalize(store, key, namespace, name)
        return store.mark_deleting(key, namespace, name, grace)
    if key == "namespaces":
        if dry_run:
            meta.setdefault("deletionTimestamp", now_rfc3339())
            obj["status"] = {"phase": "Terminating"}
            return obj
        return store.mark_deleting(key, namespace, name, 0)
    finalizers = list(meta.get("finalizers") or [])
    if propagation == "Foreground" and FOREGROUND not in finalizers:
        finalizers.append(FOREGROUND)
    if finalizers or meta.get("deletionTimestamp"):
        if propagation == "Orphan" and not dry_run:
            orphan_dependents(store, meta["uid"])
        return store.mark_finalizing(key, namespace, name, finalizers, dry_run=dry_run)
    if dry_run:
        return obj if key in RETURNS_OBJECT else _success(res.plural, res.group, name, meta.get("uid", ""))
    if propagation == "Orphan":
        orphan_dependents(store, meta["uid"])
    removed = finalize(store, key, namespace, name)
    if key in RETURNS_OBJECT:
        return removed
    return _success(res.plural, res.group, name, meta.get("uid", ""))


def pod_grace(pod: Obj, requested: int | None) -> int:
    """The grace period of a pod DELETE: 0 for unscheduled or finished pods, else requested or the spec's."""
    spec = pod.get("spec") or {}
    phase = (pod.get("status") or {}).get("phase")
    if not spec.get("nodeName") or phase in ("Succeeded", "Failed"):
        return 0
    if requested is not None:
        return max(0, int(requested))
    value = spec.get("terminationGracePeriodSeconds")
    return DEFAULT_POD_GRACE if value is None else max(0, int(value))


def finalize(store: Store, key: str, namespace: str | None, name: str) -> Obj:
    """Remove an object now and garbage-collect its dependents (Background propagation)."""
    removed = store.remove(key, namespace, name)
    collect_dependents(store, removed["metadata"].get("uid", ""))
    return removed


def collect_dependents(store: Store, owner_uid: str) -> None:
    """Delete dependents whose every owner is gone; drop the dangling reference where another owner lives."""
    if not owner_uid:
        return
    for dep_key, entry in store.dependents(owner_uid):
        dep = store.get(dep_key, entry.namespace or None, entry.name)
        if dep is None:
            continue
        refs = dep["metadata"].get("ownerReferences") or []
        living = [r for r in refs if r.get("uid") != owner_uid and _owner_exists(store, dep, r)]
        if living:
            _drop_refs(store, dep_key, entry.namespace or None, entry.name, owner_uid)
            continue
        if dep["metadata"].get("deletionTimestamp"):
            continue
        try:
            delete(store, dep_key, entry.namespace or None, entry.name)
        except errors.ApiError as exc:
            if exc.code != 404:
                raise


def orphan_dependents(store: Store, owner_uid: str) -> None:
    """Remove ownerReferences to this owner from its dependents (propagationPolicy Orphan)."""
    for dep_key, entry in store.dependents(owner_uid):
        _drop_refs(store, dep_key, entry.namespace or None, entry.name, owner_uid)


def _drop_refs(store: Store, key: str, namespace: str | None, name: str, owner_uid: str) -> None:
    def drop(obj: Obj) -> Obj:
        refs = [r for r in obj["metadata"].get("ownerReferences") or [] if r.get("uid") != owner_uid]
        if refs:
            obj["metadata"]["ownerReferences"] = refs
        else:
            obj["metadata"].pop("ownerReferences", None)
        return obj

    store.update(key, namespace, name, drop, admit=False)


def _owner_exists(store: Store, dependent: Obj, ref: dict[str, str]) -> bool:
    from meshtui.sim.resources import BY_KIND

    res = BY_KIND.get(ref.get("kind", ""))
    if res is None:
        return False
    ns = dependent["metadata"].get("namespace") if res.namespaced else None
    owner = store.entry(res.key, ns, ref.get("name", ""))
    return owner is not None and owner.uid == ref.get("uid")


def _success(plural: str, group: str, name: str, uid: str) -> Obj:
    details: dict[str, str] = {"name": name, "kind": plural, "uid": uid}
    if group:
        details["group"] = group
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "details": details}
