"""Scenarios: the demo covers every injection case, builds are deterministic, `large` scales."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from typing import Any

import pytest

from meshtui.sim import admission, istio, scenarios
from meshtui.sim.controllers import Controllers
from meshtui.sim.settings import SimSettings
from meshtui.sim.store import Store
from tests.helpers import eventually

OLD, NEW = "1-22-3", "1-23-1"


def revision_of(pod: dict[str, Any]) -> str | None:
    """The injected revision (None: no sidecar)."""
    raw = (pod["metadata"].get("annotations") or {}).get("sidecar.istio.io/status")
    return json.loads(raw)["revision"] if raw else None


def by_workload(store: Store, ns: str) -> dict[str, set[str | None]]:
    """Injected revisions per workload (app label) of a namespace."""
    out: dict[str, set[str | None]] = {}
    for pod in store.list("pods", ns):
        out.setdefault(pod["metadata"]["labels"].get("app", pod["metadata"]["name"]), set()).add(revision_of(pod))
    return out


def on_restart(store: Store, ns: str, pod_labels: dict[str, str]) -> str | None:
    """The revision a replacement pod would get now, evaluating the live webhooks as the API server would."""
    adm = admission.install(store)
    ns_labels = store.require("namespaces", None, ns)["metadata"]["labels"]
    pod = {
        "metadata": {"name": "probe", "namespace": ns, "labels": pod_labels},
        "spec": {"containers": [{"name": "app", "image": "x"}]},
    }
    return revision_of(adm.admit(pod, ns_labels))


@pytest.fixture(scope="module")
def demo() -> Store:
    store = Store()
    scenarios.build("demo", store, SimSettings())
    return store


def test_demo_size_and_revisions(demo: Store) -> None:
    pods = demo.list("pods")
    assert 140 <= len(pods) <= 160
    assert istio.revisions(demo) == [
        "1-22-3",
        "1-23-1",
        "default",
    ]  # "default": the leftover, deactivated MWC
    tags = {
        m["metadata"]["labels"]["istio.io/tag"]: m["metadata"]["labels"]["istio.io/rev"]
        for m in demo.list(istio.MWC, label_selector="istio.io/tag")
    }
    assert tags == {"default": OLD, "prod-stable": OLD, "prod-canary": NEW}
    assert istio.default_revision(demo) == OLD
    leftover = demo.require(istio.MWC, None, "istio-sidecar-injector")
    assert all(h["namespaceSelector"] == istio.NEVER_MATCH for h in leftover["webhooks"])
    for rev in (OLD, NEW):
        d = demo.require("apps/deployments", "istio-system", f"istiod-{rev}")
        assert d["status"]["readyReplicas"] == 1
    # Every workload finished rolling out.
    for d in demo.list("apps/deployments"):
        assert d["status"].get("availableReplicas", 0) == d["spec"]["replicas"], d["metadata"]["name"]
    phases = Counter(p["status"]["phase"] for p in pods)
    assert set(phases) == {"Running", "Succeeded"}


def test_demo_injection_cases(demo: Store) -> None:
    # 1. istio-injection=enabled -> the default tag -> 1-22-3; a pod-level opt-out has no sidecar.
    assert by_workload(demo, "shop") == {
        "frontend": {OLD},
        "cart": {OLD},
        "checkout": {OLD},
        "metrics-exporter": {None},
    }
    # 2. istio-injection=disabled with a pod-level rev label: never injected.
    assert by_workload(demo, "monitoring") == {"node-exporter": {None}, "prometheus": {None}}
    assert demo.require("namespaces", None, "monitoring")["metadata"]["labels"]["istio-injection"] == "disabled"
    # 3. istio.io/rev=1-22-3 directly, and through the prod-stable tag.
    assert by_workload(demo, "payments") == {"payments-api": {OLD}, "fraud-worker": {OLD}, "ledger": {OLD}}
    assert set().union(*by_workload(demo, "orders").values()) == {OLD}
    # Switched to 1-23-1: `search` restarted onto it, the others not yet.
    catalog = by_workload(demo, "catalog")
    assert catalog == {"search": {NEW}, "catalog-api": {OLD}, "images": {OLD}}
    assert demo.require("namespaces", None, "catalog")["metadata"]["labels"]["istio.io/rev"] == NEW
    assert on_restart(demo, "catalog", {"app": "images"}) == NEW
    # prod-canary tag: every pod restarted onto 1-23-1, recording the revision, not the tag.
    assert set().union(*by_workload(demo, "reviews").values()) == {NEW}
    # Both labels: istio-injection wins, so 1-22-3 (not the 1-23-1 in istio.io/rev).
    inventory = demo.require("namespaces", None, "inventory")["metadata"]["labels"]
    assert inventory["istio-injection"] == "enabled" and inventory["istio.io/rev"] == NEW
    assert set().union(*by_workload(demo, "inventory").values()) == {OLD}
    # A revision nothing serves: created without sidecars, silently.
    assert by_workload(demo, "legacy-billing") == {"invoices": {None}}
    # No namespace label: the pod label decides.
    assert by_workload(demo, "edge") == {"edge-proxy": {OLD}, "edge-cache": {OLD}, "edge-tools": {None}}
    # The seed's caveat: injected by 1-22-3, then injection turned off; a restart would drop the sidecar
    # unless the pod itself asks for injection.
    analytics = demo.require("namespaces", None, "analytics")["metadata"]["labels"]
    assert "istio-injection" not in analytics and "istio.io/rev" not in analytics
    assert by_workload(demo, "analytics") == {"collector": {OLD}, "dashboards": {OLD}, "aggregator": {OLD}}
    assert on_restart(demo, "analytics", {"app": "collector"}) is None
    assert on_restart(demo, "analytics", {"app": "aggregator", "sidecar.istio.io/inject": "true"}) == OLD


def test_demo_workload_kinds(demo: Store) -> None:
    job = demo.require("batch/jobs", "batch", "report-nightly")
    assert job["status"]["succeeded"] == 3
    job_pods = [p for p in demo.list("pods", "batch") if p["metadata"]["labels"].get("job-name")]
    assert len(job_pods) == 3 and {p["status"]["phase"] for p in job_pods} == {"Succeeded"}
    bare = demo.require("pods", "batch", "debug-shell")
    assert "ownerReferences" not in bare["metadata"] and revision_of(bare) == OLD
    sts = demo.require("apps/statefulsets", "payments", "ledger")
    assert sts["status"]["readyReplicas"] == 3
    assert sorted(
        p["metadata"]["name"] for p in demo.list("pods", "payments") if p["metadata"]["name"].startswith("ledger-")
    ) == ["ledger-0", "ledger-1", "ledger-2"]
    ds = demo.require("apps/daemonsets", "monitoring", "node-exporter")
    assert ds["status"]["numberReady"] == 3
    pdbs = {
        (p["metadata"]["namespace"], p["metadata"]["name"]): p["status"]["disruptionsAllowed"]
        for p in demo.list("policy/poddisruptionbudgets")
    }
    assert pdbs[("orders", "orders")] == 0 and pdbs[("payments", "ledger")] == 0
    assert pdbs[("shop", "frontend")] == 4


def test_demo_gateways(demo: Store) -> None:
    ingress = demo.require("apps/deployments", "istio-system", "istio-ingressgateway")
    assert ingress["metadata"]["labels"]["operator.istio.io/component"] == "IngressGateways"
    pod = demo.list("pods", "istio-system", label_selector="app=istio-ingressgateway")[0]
    assert pod["metadata"]["labels"]["istio.io/rev"] == OLD and pod["metadata"]["annotations"]["istio.io/rev"] == OLD
    assert pod["metadata"]["labels"]["sidecar.istio.io/inject"] == "false" and revision_of(pod) is None
    assert pod["spec"]["containers"][0]["image"] == "docker.io/istio/proxyv2:1.22.3"
    injected = demo.list("pods", "gateways", label_selector="app=ingress-public")
    assert len(injected) == 2 and {revision_of(p) for p in injected} == {OLD}
    assert {p["spec"]["containers"][0]["image"] for p in injected} == {"docker.io/istio/proxyv2:1.22.3"}
    gw = demo.require("gateway.networking.k8s.io/gateways", "gateways", "web-gateway")
    assert gw["metadata"]["labels"]["istio.io/rev"] == NEW
    gw_pod = demo.list("pods", "gateways", label_selector="gateway.networking.k8s.io/gateway-name=web-gateway")[0]
    assert gw_pod["metadata"]["annotations"]["istio.io/rev"] == NEW and revision_of(gw_pod) is None
    assert gw_pod["metadata"]["labels"]["gateway.istio.io/managed"] == "istio.io-gateway-controller"
    assert gw_pod["spec"]["containers"][0]["image"] == "docker.io/istio/proxyv2:1.23.1"


def _fingerprint(store: Store) -> list[tuple[Any, ...]]:
    """Names, labels and injected revisions of the objects (uids, which may differ, left out)."""
    out = []
    for key in ("namespaces", "pods", "apps/replicasets", "apps/deployments", istio.MWC, "configmaps"):
        for obj in store.list(key):
            meta = obj["metadata"]
            labels = {k: v for k, v in (meta.get("labels") or {}).items() if not k.endswith("controller-uid")}
            out.append(
                (
                    key,
                    meta.get("namespace"),
                    meta["name"],
                    tuple(sorted(labels.items())),
                    revision_of(obj) if key == "pods" else None,
                )
            )
    return out


def test_builds_are_deterministic(demo: Store) -> None:
    again = Store()
    scenarios.build("demo", again, SimSettings())
    assert _fingerprint(again) == _fingerprint(demo)
    other = Store()
    scenarios.build("demo", other, SimSettings(), seed=99)
    assert [f[2] for f in _fingerprint(other)] != [f[2] for f in _fingerprint(demo)]  # pod names differ


def test_fresh_is_the_demo_before_the_upgrade() -> None:
    store = Store()
    scenarios.build("fresh", store, SimSettings())
    assert istio.revisions(store) == [OLD]
    assert {revision_of(p) for p in store.list("pods") if revision_of(p)} == {OLD}
    assert store.require("namespaces", None, "catalog")["metadata"]["labels"]["istio.io/rev"] == OLD
    assert istio.default_revision(store) == OLD
    revision = istio.install_target(store, "1.23.1")
    assert revision == NEW and store.get("apps/deployments", "istio-system", f"istiod-{NEW}") is not None
    assert istio.default_revision(store) == OLD  # installing the target does not move the default


@pytest.mark.parametrize(("namespaces", "per_ns"), [(7, 11), (12, 5)])
def test_large_builds_exact_counts(namespaces: int, per_ns: int) -> None:
    store = Store()
    scenarios.build("large", store, SimSettings(params={"namespaces": namespaces, "pods_per_namespace": per_ns}))
    app_pods = [p for p in store.list("pods") if p["metadata"]["namespace"].startswith("app-")]
    assert len(app_pods) == namespaces * per_ns
    assert len({p["metadata"]["namespace"] for p in app_pods}) == namespaces
    assert all(p["status"]["phase"] == "Running" for p in app_pods)
    revisions = Counter(revision_of(p) for p in app_pods)
    assert set(revisions) <= {OLD, NEW, None}


async def test_large_leaves_the_controllers_nothing_to_do() -> None:
    settings = SimSettings(
        pod_ready_delay=0.01, pod_termination_delay=0.01, params={"namespaces": 20, "pods_per_namespace": 10}
    )
    store = Store()
    scenarios.build("large", store, settings)
    rv = store.rv
    controllers = Controllers(store, settings, asyncio.get_running_loop())
    controllers.start()
    await eventually(lambda: controllers.idle, what="the controllers to go idle")
    controllers.stop()
    assert store.rv == rv  # every status already matched what the controllers compute


def test_unknown_scenario() -> None:
    with pytest.raises(ValueError, match="unknown scenario"):
        scenarios.build("nope", Store())
