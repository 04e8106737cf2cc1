"""Deletion as the API server and garbage collector perform it: grace periods, Terminating, dependents."""

from __future__ import annotations

from meshtui.sim.store import Obj, Store


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

    Pods (and namespaces) go Terminating first and are removed later by a controller; other objects
    go at once, and their dependents (ownerReferences) are collected unless propagation is Orphan.
    """
    raise NotImplementedError  # implemented by the controllers work
