"""A Gateway API gateway follows its `istio.io/rev` label: the serving revision renders its Deployment again."""

from __future__ import annotations

from meshtui.sim import istio, scenarios
from meshtui.sim.controllers import settle
from meshtui.sim.settings import SimSettings
from meshtui.sim.store import Store

OLD, NEW = scenarios.OLD, scenarios.NEW
SELECTOR = "gateway.networking.k8s.io/gateway-name=web-gateway"


def gateway_pods(store: Store) -> list[tuple[str, str]]:
    """(served-by annotation, proxy image) of the gateway's live pods."""
    pods = store.list("pods", "gateways", label_selector=SELECTOR)
    return sorted(
        (p["metadata"]["annotations"]["istio.io/rev"], p["spec"]["containers"][0]["image"])
        for p in pods
        if not p["metadata"].get("deletionTimestamp")
    )


def relabel(store: Store, value: str | None) -> None:
    def apply(obj: dict) -> dict:  # type: ignore[type-arg]
        labels = obj["metadata"].setdefault("labels", {})
        if value is None:
            labels.pop("istio.io/rev", None)
        else:
            labels["istio.io/rev"] = value
        return obj

    store.update(istio.GATEWAYS, "gateways", "web-gateway", apply)


def test_relabelling_a_gateway_rolls_its_deployment_to_the_revision_named() -> None:
    store = Store()
    settings = SimSettings()
    scenarios.build("demo", store, settings)
    assert gateway_pods(store) == [(NEW, "docker.io/istio/proxyv2:1.23.1")]

    relabel(store, OLD)
    settle(store, settings)
    dep = store.require("apps/deployments", "gateways", "web-gateway-istio")
    assert dep["metadata"]["annotations"]["istio.io/rev"] == OLD
    assert dep["spec"]["template"]["metadata"]["labels"]["istio.io/rev"] == OLD
    assert gateway_pods(store) == [(OLD, "docker.io/istio/proxyv2:1.22.3")]

    # Through a tag: prod-canary points at the new revision.
    relabel(store, "prod-canary")
    settle(store, settings)
    assert gateway_pods(store) == [(NEW, "docker.io/istio/proxyv2:1.23.1")]

    # A label nothing serves leaves the Deployment as it was (istiod would not render it).
    relabel(store, "1-99-0")
    settle(store, settings)
    assert gateway_pods(store) == [(NEW, "docker.io/istio/proxyv2:1.23.1")]
