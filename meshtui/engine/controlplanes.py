"""Where each cluster's control plane lives: the namespace of the source istiod, else istio-system.

The record, the lock and every planner's control-plane objects are found there; a mesh installed into
another namespace keeps them beside its istiod.
"""

from __future__ import annotations

from meshtui.domain.inventory import InventoryView

ISTIO_NAMESPACE = "istio-system"


def control_plane_namespaces(view: InventoryView | None, clusters: list[str], source: str | None) -> dict[str, str]:
    """Each cluster's control-plane namespace: the source istiod's namespace, else istio-system."""
    out: dict[str, str] = {}
    for cluster in clusters:
        ns = ISTIO_NAMESPACE
        plane = view.control_plane(cluster) if view is not None else None
        if plane is not None:
            rev = plane.revision(source) if source else None
            candidates = [rev] if rev is not None else list(plane.revisions)
            for r in candidates:
                if r is not None and r.istiod:
                    ns = r.istiod.split("/", 1)[0]
                    break
        out[cluster] = ns
    return out


def record_namespaces(view: InventoryView | None, cluster: str, first_choice: str) -> list[str]:
    """Where the upgrade record may live in a cluster, in the order to look: the given namespace,
    istio-system, then the namespace of every istiod."""
    candidates = [first_choice, ISTIO_NAMESPACE]
    plane = view.control_plane(cluster) if view is not None else None
    if plane is not None:
        candidates += [r.istiod.split("/", 1)[0] for r in plane.revisions if r.istiod]
    return list(dict.fromkeys(candidates))
