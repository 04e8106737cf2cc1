"""Core events mirrored into `events.k8s.io/v1`, as the API server serves one event through both groups.

The API server keeps a single event and converts it per group; the simulator stores the two forms apart,
so this mirror writes the `events.k8s.io` form of every core event (same namespace and name) and removes
it with the core one. Events written through `events.k8s.io` directly are not copied back.
"""

from __future__ import annotations

from typing import Any

from meshtui.sim.controllers.base import Runtime
from meshtui.sim.store import Obj

CORE = "events"
NEW = "events.k8s.io/events"
WORK = "event-mirror"


def converted(core: Obj) -> Obj:
    """The `events.k8s.io/v1` form of a core event (the field mapping of the API server's conversion)."""
    meta = core["metadata"]
    out: dict[str, Any] = {
        "metadata": {k: v for k, v in meta.items() if k in ("name", "namespace", "labels", "annotations")},
        "eventTime": core.get("eventTime"),
        "reportingController": core.get("reportingComponent") or (core.get("source") or {}).get("component", ""),
        "reportingInstance": core.get("reportingInstance") or (core.get("source") or {}).get("host", ""),
        "action": core.get("action", ""),
        "reason": core.get("reason", ""),
        "regarding": core.get("involvedObject") or {},
        "note": core.get("message", ""),
        "type": core.get("type", ""),
        "deprecatedSource": core.get("source") or {},
        "deprecatedFirstTimestamp": core.get("firstTimestamp"),
        "deprecatedLastTimestamp": core.get("lastTimestamp"),
        "deprecatedCount": core.get("count", 0),
    }
    if core.get("related"):
        out["related"] = core["related"]
    if core.get("series"):
        out["series"] = core["series"]
    return {k: v for k, v in out.items() if v not in (None, "", 0, {})}


def sync_event(rt: Runtime, namespace: str, name: str) -> None:
    """Write (or remove) the mirror of one core event."""
    core = rt.store.get(CORE, namespace, name)
    mirror = rt.store.get(NEW, namespace, name)
    if core is None:
        if mirror is not None:
            rt.store.remove(NEW, namespace, name)
        return
    wanted = converted(core)
    if mirror is None:
        rt.store.create(NEW, wanted)
        return

    def apply(obj: Obj) -> Obj | None:
        body = {k: v for k, v in obj.items() if k not in ("apiVersion", "kind", "metadata")}
        if body == {k: v for k, v in wanted.items() if k != "metadata"}:
            return None
        return {**wanted, "metadata": obj["metadata"]}

    rt.store.update(NEW, namespace, name, apply)
