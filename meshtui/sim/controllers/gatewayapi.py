"""istiod's Gateway API deployment controller: re-render a Gateway's Deployment when its revision changes.

Moving a Gateway to another control plane is done by its `istio.io/rev` label (or by moving the default
tag); the revision that now serves it renders the Deployment again, which rolls its pods.
"""

from __future__ import annotations

from meshtui.sim import istio
from meshtui.sim.controllers.base import DEPLOYMENTS, Runtime

GATEWAYS = istio.GATEWAYS


def sync_gateway(rt: Runtime, namespace: str, name: str) -> None:
    """Render the Deployment of an `istio`-class Gateway again when it names another revision."""
    gw = rt.store.get(GATEWAYS, namespace, name)
    if gw is None or (gw.get("spec") or {}).get("gatewayClassName") != "istio":
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
