"""istiod's Gateway API deployment controller: render a Gateway's Deployment for the revision that owns it.

Moving a Gateway to another control plane is done by its `istio.io/rev` label (or by moving the tag it
names, or the default tag); the revision that now owns it renders the Deployment again, which rolls its
pods. Waypoints (class `istio-waypoint`) are rendered as `files/waypoint.yaml` does; their owner is the
Gateway's `istio.io/rev`, else the namespace's, else the default (`IsMine`).
"""

from __future__ import annotations

from meshtui.sim import ambient, istio
from meshtui.sim.controllers.base import DEPLOYMENTS, Runtime
from meshtui.sim.store import Obj

GATEWAYS = istio.GATEWAYS


def sync_gateway(rt: Runtime, namespace: str, name: str) -> None:
    """Render the Deployment of an `istio` or `istio-waypoint` Gateway again when another revision owns it."""
    gw = rt.store.get(GATEWAYS, namespace, name)
    if gw is None or gw["metadata"].get("deletionTimestamp"):
        return
    cls = (gw.get("spec") or {}).get("gatewayClassName")
    if cls == ambient.WAYPOINT_CLASS:
        _sync_waypoint(rt, gw)
        return
    if cls != "istio":
        return
    wanted = (gw["metadata"].get("labels") or {}).get("istio.io/rev")
    actual = istio.resolve(rt.store, wanted) if wanted else istio.default_revision(rt.store)
    if actual is None:
        return  # no control plane serves it: istiod leaves the Deployment as it is
    dep = rt.store.get(DEPLOYMENTS, namespace, f"{name}-istio")
    if dep is not None and (dep["metadata"].get("annotations") or {}).get("istio.io/rev") == istio.rev_label(actual):
        return
    replicas = int(((dep or {}).get("spec") or {}).get("replicas") or 1)
    istio.add_gateway(rt.store, namespace, name, "gateway-api", wanted, replicas=replicas)


def _sync_waypoint(rt: Runtime, gw: Obj) -> None:
    owners = ambient.waypoint_owners(rt.store, gw)
    if not owners:
        return  # no control plane serves it: the Deployment stays as it is
    meta = gw["metadata"]
    dep = rt.store.get(DEPLOYMENTS, meta["namespace"], meta["name"])
    tpl_ann = ((((dep or {}).get("spec") or {}).get("template") or {}).get("metadata") or {}).get("annotations") or {}
    if dep is not None and tpl_ann.get("istio.io/rev") in owners:
        return  # its istiod still claims it (a stale tag Service keeps a waypoint where it is)
    owner = owners[0]
    info = istio.revision_info(rt.store, owner)
    if info is None:
        return
    for key, obj in ambient.waypoint_objects(gw, owner, info):
        if key == DEPLOYMENTS and dep is not None:
            obj["spec"]["replicas"] = (dep.get("spec") or {}).get("replicas", 1)
        istio._put(rt.store, key, obj)
