"""Whether the mesh is complete enough to plan on: until every cluster has listed every kind once, a plan
would be made from part of the mesh (namespaces without their pods), so the keys that plan wait."""

from __future__ import annotations

from meshtui.cluster.live import ClusterHealth


def still_loading(health: tuple[ClusterHealth, ...] | None) -> str | None:
    """The sentence for a key that plans, pressed while the first load runs; None once everything listed.

    `health` None means no snapshot has come yet.
    """
    if not health:
        return "Still connecting: actions wait until the mesh is listed; the tables and help work meanwhile."
    loading = [h for h in health if h.loading]
    if not loading:
        return None
    listed = sum(h.total_kinds - len(h.pending_kinds) for h in health)
    total = sum(h.total_kinds for h in health)
    objects = sum(h.listed_objects for h in health)
    return (
        f"Still loading ({listed} of {total} kinds listed, {objects:,} objects so far): actions wait until "
        "every kind is listed, so no plan is made from part of the mesh; the tables and help work meanwhile."
    )
