"""The simulator's ambient objects have the shape of Istio's charts (tests/domain/fixtures/ambient)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from meshtui.sim import ambient, istio, scenarios
from meshtui.sim.settings import SimSettings
from meshtui.sim.store import Store

FIXTURES = Path(__file__).parent.parent / "domain" / "fixtures" / "ambient"
VOLATILE_LABELS = {"controller-revision-hash", "pod-template-generation", "pod-template-hash"}


def fixture(name: str, kind: str, obj_name: str) -> dict[str, Any]:
    doc = yaml.safe_load((FIXTURES / name).read_text())
    return next(o for o in doc["items"] if o["kind"] == kind and o["metadata"]["name"] == obj_name)


def env_names(pod_spec: dict[str, Any], container: str) -> list[str]:
    c = next(c for c in pod_spec["containers"] if c["name"] == container)
    return [e["name"] for e in c.get("env") or []]


@pytest.fixture(scope="module")
def store() -> Store:
    s = Store()
    scenarios.build("ambient", s, SimSettings())
    return s


def test_ztunnel_daemonset_matches_the_chart(store: Store) -> None:
    chart = fixture("ztunnel.yaml", "DaemonSet", "ztunnel")
    sim = store.require("apps/daemonsets", "istio-system", "ztunnel")
    assert sim["metadata"]["labels"] == chart["metadata"]["labels"]
    assert sim["metadata"]["annotations"]["istio.io/rev"] == chart["metadata"]["annotations"]["istio.io/rev"]
    for key in ("selector", "updateStrategy"):
        assert sim["spec"][key] == chart["spec"][key]
    for part in ("labels", "annotations"):
        assert sim["spec"]["template"]["metadata"][part] == chart["spec"]["template"]["metadata"][part]
    sim_pod, chart_pod = sim["spec"]["template"]["spec"], chart["spec"]["template"]["spec"]
    assert [c["name"] for c in sim_pod["containers"]] == [c["name"] for c in chart_pod["containers"]] == ["istio-proxy"]
    assert sim_pod["containers"][0]["image"] == chart_pod["containers"][0]["image"]
    assert sim_pod["containers"][0]["args"] == chart_pod["containers"][0]["args"]
    assert set(env_names(sim_pod, "istio-proxy")) <= set(env_names(chart_pod, "istio-proxy"))
    for name in ("CA_ADDRESS", "XDS_ADDRESS", "TERMINATION_GRACE_PERIOD_SECONDS"):
        sim_env = {e["name"]: e.get("value") for e in sim_pod["containers"][0]["env"]}
        chart_env = {e["name"]: e.get("value") for e in chart_pod["containers"][0]["env"]}
        assert sim_env[name] == chart_env[name]
    for key in ("serviceAccountName", "priorityClassName", "terminationGracePeriodSeconds", "nodeSelector"):
        assert sim_pod[key] == chart_pod[key]


def test_unrevisioned_ztunnel_matches_the_chart() -> None:
    chart = fixture("ztunnel-default.yaml", "DaemonSet", "ztunnel")
    objs = dict(ambient.ztunnel_objects("1.30.3", None))
    sim = objs["apps/daemonsets"]
    assert "istio.io/rev" not in sim["metadata"]["annotations"]
    assert sim["spec"]["template"]["metadata"] == {
        k: v for k, v in chart["spec"]["template"]["metadata"].items() if k in ("labels", "annotations")
    }
    sim_env = {e["name"]: e.get("value") for e in sim["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert sim_env["XDS_ADDRESS"] == "istiod.istio-system.svc:15012"


def test_istio_cni_matches_the_chart(store: Store) -> None:
    chart = fixture("istio-cni.yaml", "DaemonSet", "istio-cni-node")
    sim = store.require("apps/daemonsets", "istio-system", "istio-cni-node")
    assert sim["metadata"]["labels"] == chart["metadata"]["labels"]
    assert sim["spec"]["selector"] == chart["spec"]["selector"]
    assert sim["spec"]["updateStrategy"]["rollingUpdate"]["maxUnavailable"] == 1
    for part in ("labels", "annotations"):
        assert sim["spec"]["template"]["metadata"][part] == chart["spec"]["template"]["metadata"][part]
    sim_pod, chart_pod = sim["spec"]["template"]["spec"], chart["spec"]["template"]["spec"]
    assert set(env_names(sim_pod, "install-cni")) <= set(env_names(chart_pod, "install-cni"))
    cm = fixture("istio-cni.yaml", "ConfigMap", "istio-cni-config")
    sim_cm = store.require("configmaps", "istio-system", "istio-cni-config")
    assert sim_cm["metadata"]["labels"] == cm["metadata"]["labels"]
    assert {k: v for k, v in sim_cm["data"].items()}.items() <= cm["data"].items()


def test_waypoint_matches_what_istiod_renders(store: Store) -> None:
    chart = fixture("waypoint.yaml", "Deployment", "waypoint")
    sim = store.require("apps/deployments", "shop", "waypoint")
    assert sim["metadata"]["labels"] == chart["metadata"]["labels"]
    assert sim["spec"]["selector"] == chart["spec"]["selector"]
    for part in ("labels", "annotations"):
        assert sim["spec"]["template"]["metadata"][part] == chart["spec"]["template"]["metadata"][part]
    gw = fixture("waypoint.yaml", "Gateway", "waypoint")
    sim_gw = store.require(istio.GATEWAYS, "shop", "waypoint")
    assert sim_gw["metadata"]["labels"] == gw["metadata"]["labels"]
    assert sim_gw["spec"] == gw["spec"]


def test_tag_webhook_and_service_match_the_chart(store: Store) -> None:
    chart_svc = fixture("revision-tags.yaml", "Service", "istiod-revision-tag-prod-stable")
    sim_svc = store.require("services", "istio-system", "istiod-revision-tag-prod-stable")
    assert sim_svc["metadata"]["labels"] == chart_svc["metadata"]["labels"]
    assert sim_svc["spec"]["selector"] == chart_svc["spec"]["selector"]
    assert sim_svc["spec"]["ports"] == chart_svc["spec"]["ports"]
    chart_mwc = fixture("revision-tags.yaml", "MutatingWebhookConfiguration", "istio-revision-tag-prod-stable")
    sim_mwc = store.require(istio.MWC, None, "istio-revision-tag-prod-stable")
    assert [h["name"] for h in sim_mwc["webhooks"]] == [h["name"] for h in chart_mwc["webhooks"]]
    for sim_hook, chart_hook in zip(sim_mwc["webhooks"], chart_mwc["webhooks"], strict=True):
        assert sim_hook["namespaceSelector"] == chart_hook["namespaceSelector"]
        assert sim_hook["objectSelector"] == chart_hook["objectSelector"]
        assert sim_hook["clientConfig"]["service"] == chart_hook["clientConfig"]["service"]
    for key in ("istio.io/rev", "istio.io/tag", "app", "operator.istio.io/component", "helm.sh/chart"):
        assert sim_mwc["metadata"]["labels"][key] == chart_mwc["metadata"]["labels"][key]


def test_istiod_with_the_ambient_profile_matches_the_chart(store: Store) -> None:
    chart = fixture("istiod-ambient.yaml", "Deployment", "istiod-1-30-3")
    sim = store.require("apps/deployments", "istio-system", "istiod-1-30-3")
    assert sim["metadata"]["labels"] == chart["metadata"]["labels"]
    assert sim["spec"]["selector"] == chart["spec"]["selector"]
    # The chart documents these pod-template labels; the simulator may add more, as the chart may.
    assert (
        chart["spec"]["template"]["metadata"]["labels"].items() <= sim["spec"]["template"]["metadata"]["labels"].items()
    )
    sim_c, chart_c = (
        sim["spec"]["template"]["spec"]["containers"][0],
        chart["spec"]["template"]["spec"]["containers"][0],
    )
    assert sim_c["image"] == chart_c["image"] == "docker.io/istio/pilot:1.30.3-distroless"
    chart_env = {e["name"]: e.get("value") for e in chart_c["env"]}
    sim_env = {e["name"]: e.get("value") for e in sim_c["env"]}
    assert {k: sim_env.get(k) for k in chart_env} == chart_env
    svc = fixture("istiod-ambient.yaml", "Service", "istiod-1-30-3")
    sim_svc = store.require("services", "istio-system", "istiod-1-30-3")
    assert sim_svc["metadata"]["labels"] == svc["metadata"]["labels"]
    assert sim_svc["spec"]["selector"] == svc["spec"]["selector"] and sim_svc["spec"]["ports"] == svc["spec"]["ports"]
