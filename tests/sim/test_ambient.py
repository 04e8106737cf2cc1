"""The simulator's ambient data plane: ztunnel and istio-cni in place, enrolment, waypoints, tag Services, stripPod."""

from __future__ import annotations

import json
from typing import Any

import pytest

from meshtui.sim import ambient, istio, scenarios
from meshtui.sim.controllers import settle
from meshtui.sim.controllers.base import is_ready, is_terminating
from meshtui.sim.settings import SimSettings
from meshtui.sim.store import Obj, Store

OLD, NEW = scenarios.AMBIENT_OLD, scenarios.AMBIENT_NEW
OLD_V, NEW_V = scenarios.AMBIENT_OLD_VERSION, scenarios.AMBIENT_NEW_VERSION


@pytest.fixture
def mesh() -> tuple[Store, SimSettings]:
    store, settings = Store(), SimSettings()
    scenarios.build("ambient", store, settings)
    return store, settings


def env(pod: Obj, name: str) -> str | None:
    for e in pod["spec"]["containers"][0].get("env") or []:
        if e["name"] == name:
            return str(e.get("value"))
    return None


def live(store: Store, ns: str, selector: str) -> list[Obj]:
    return [p for p in store.list("pods", ns, label_selector=selector) if not is_terminating(p)]


def revision_of(pod: Obj) -> str | None:
    raw = (pod["metadata"].get("annotations") or {}).get("sidecar.istio.io/status")
    return json.loads(raw)["revision"] if raw else None


def test_ztunnel_and_cni_run_on_every_node_against_the_source_revision(mesh: tuple[Store, SimSettings]) -> None:
    store, _ = mesh
    nodes = sorted(n["metadata"]["name"] for n in store.list("nodes"))
    zt = live(store, "istio-system", "app=ztunnel")
    cni = live(store, "istio-system", "k8s-app=istio-cni-node")
    assert sorted(p["spec"]["nodeName"] for p in zt) == nodes == sorted(p["spec"]["nodeName"] for p in cni)
    for pod in zt:
        container = pod["spec"]["containers"][0]
        assert container["name"] == "istio-proxy" and container["image"] == f"docker.io/istio/ztunnel:{OLD_V}"
        assert env(pod, "XDS_ADDRESS") == env(pod, "CA_ADDRESS") == f"istiod-{OLD}.istio-system.svc:15012"
        assert pod["metadata"]["annotations"]["istio.io/rev"] == OLD
        assert "sidecar.istio.io/status" not in pod["metadata"]["annotations"]
    ds = store.require("apps/daemonsets", "istio-system", "ztunnel")
    assert ds["spec"]["updateStrategy"]["rollingUpdate"] == {"maxSurge": 1, "maxUnavailable": 0}
    cni_ds = store.require("apps/daemonsets", "istio-system", "istio-cni-node")
    assert cni_ds["metadata"]["labels"]["istio.io/rev"] == "default"  # istio-cni talks to no istiod


def test_istio_cni_marks_ambient_pods_and_never_pods_with_a_sidecar(mesh: tuple[Store, SimSettings]) -> None:
    store, settings = mesh

    def marked(ns: str) -> set[str | None]:
        return {
            (p["metadata"].get("annotations") or {}).get(ambient.REDIRECTION)
            for p in live(store, ns, "app")
            if p["metadata"]["labels"].get("app") != "waypoint"
            and "gateway.networking.k8s.io/gateway-name" not in p["metadata"]["labels"]
        }

    assert marked("shop") == marked("payments") == {"enabled"}
    assert marked("catalog") == marked("orders") == marked("tools") == {None}
    # The waypoint itself is `istio.io/dataplane-mode: none`: never enrolled.
    wp = live(store, "shop", "gateway.networking.k8s.io/gateway-name=waypoint")
    assert wp and all(ambient.REDIRECTION not in (p["metadata"].get("annotations") or {}) for p in wp)
    # `reviews` is ambient and also labelled istio.io/rev: its pods take a sidecar on restart and leave ambient.
    assert marked("reviews") == {"enabled"}
    scenarios.restart(store, "apps/deployments", "reviews", "reviews", at="2026-12-06T00:00:00Z")
    settle(store, settings)
    pods = live(store, "reviews", "app=reviews")
    assert {revision_of(p) for p in pods} == {OLD}
    assert all(ambient.REDIRECTION not in p["metadata"]["annotations"] for p in pods)
    # Labelling a namespace ambient enrols its running pods; removing the label releases them.
    scenarios.relabel(store, "tools", {ambient.DATAPLANE_MODE: "ambient"})
    settle(store, settings)
    assert marked("tools") == {"enabled"}
    scenarios.relabel(store, "tools", {}, remove=(ambient.DATAPLANE_MODE,))
    settle(store, settings)
    assert marked("tools") == {None}


def waypoint_revision(store: Store, ns: str) -> set[str]:
    return {
        p["metadata"]["annotations"]["istio.io/rev"]
        for p in live(store, ns, "gateway.networking.k8s.io/gateway-name=waypoint")
    }


def test_waypoints_follow_their_owner_revision_as_istiod_renders_them(mesh: tuple[Store, SimSettings]) -> None:
    store, settings = mesh
    dep = store.require("apps/deployments", "shop", "waypoint")
    assert dep["metadata"]["labels"]["gateway.istio.io/managed"] == "istio.io-mesh-controller"
    assert dep["metadata"]["labels"]["gateway.networking.k8s.io/gateway-class-name"] == "istio-waypoint"
    tpl = dep["spec"]["template"]["metadata"]
    assert tpl["labels"]["istio.io/dataplane-mode"] == "none" and tpl["labels"]["sidecar.istio.io/inject"] == "false"
    assert waypoint_revision(store, "shop") == {OLD}  # via the prod-stable tag
    assert waypoint_revision(store, "payments") == {OLD}  # via the default tag
    # Moving the tag the istioctl way (webhook and Service together) moves the waypoint.
    istio.set_tag(store, "prod-stable", NEW)
    settle(store, settings)
    assert waypoint_revision(store, "shop") == {NEW}
    assert waypoint_revision(store, "payments") == {OLD}
    assert all(
        p["spec"]["containers"][0]["image"] == f"docker.io/istio/proxyv2:{NEW_V}-distroless"
        for p in live(store, "shop", "gateway.networking.k8s.io/gateway-name=waypoint")
    )


def test_a_tag_moved_by_its_webhook_only_leaves_the_tag_service_claiming_the_waypoint(
    mesh: tuple[Store, SimSettings],
) -> None:
    store, settings = mesh

    def to_new(obj: Obj) -> Obj:
        obj["metadata"]["labels"]["istio.io/rev"] = NEW
        for hook in obj["webhooks"]:
            hook["clientConfig"]["service"]["name"] = f"istiod-{NEW}"
        return obj

    # `helm template ... -s templates/revision-tags-mwc.yaml | kubectl apply`: only the MWC moves.
    store.update(istio.MWC, None, "istio-revision-tag-prod-stable", to_new)
    settle(store, settings)
    assert istio.tag_claimants(store, "prod-stable") == [NEW, OLD]
    assert waypoint_revision(store, "shop") == {OLD}


def test_tag_services_are_rendered_from_1_28_with_revision_tags() -> None:
    store = Store()
    istio.install_revision(store, "1-27-9", "1.27.9", installer="helm", set_default_tag=False, revision_tags=("a",))
    assert store.get("services", "istio-system", "istiod-revision-tag-a") is None
    assert store.get(istio.MWC, None, "istio-revision-tag-a") is not None
    istio.install_revision(store, "1-28-1", "1.28.1", installer="helm", set_default_tag=False, revision_tags=("b",))
    svc = store.require("services", "istio-system", "istiod-revision-tag-b")
    labels = svc["metadata"]["labels"]
    assert (labels["istio.io/rev"], labels["istio.io/tag"], labels["app"], labels["istio"]) == (
        "1-28-1",
        "b",
        "istiod",
        "pilot",
    )
    assert labels["operator.istio.io/component"] == "Pilot" and labels["helm.sh/chart"] == "istiod-1.28.1"
    assert svc["spec"]["selector"] == {"app": "istiod", "istio.io/rev": "1-28-1"}


def test_a_pod_created_with_an_old_sidecar_is_stripped_and_injected_afresh(
    mesh: tuple[Store, SimSettings],
) -> None:
    store, _ = mesh
    exported = next(iter(live(store, "catalog", "app=search")))
    assert revision_of(exported) == OLD
    scenarios.relabel(store, "catalog", {"istio.io/rev": NEW})
    restored: Obj = {
        "metadata": {
            "name": "search-restored",
            "namespace": "catalog",
            "labels": dict(exported["metadata"]["labels"]),
            "annotations": dict(exported["metadata"]["annotations"]),
        },
        "spec": {k: v for k, v in exported["spec"].items() if k != "nodeName"},
    }
    pod = store.create("pods", restored)
    assert revision_of(pod) == NEW
    proxies = [c for c in pod["spec"]["initContainers"] + pod["spec"]["containers"] if c["name"] == "istio-proxy"]
    assert [c["image"] for c in proxies] == [f"docker.io/istio/proxyv2:{NEW_V}-distroless"]
    assert [c["name"] for c in pod["spec"]["initContainers"]] == ["istio-init", "istio-proxy"]
    assert pod["metadata"]["annotations"]["istio.io/rev"] == NEW


def rollout_trace(store: Store, settings: SimSettings, selector: str, upgrade: Any) -> list[tuple[int, int]]:
    """(nodes with a Ready pod, nodes running two pods) after every pod change while `upgrade` rolls out."""
    nodes = [n["metadata"]["name"] for n in store.list("nodes")]
    trace: list[tuple[int, int]] = []

    def on_change(kind: str, res: Any, obj: Obj, old: Obj | None) -> None:
        if res.key != "pods" or obj["metadata"].get("namespace") != "istio-system":
            return
        pods = live(store, "istio-system", selector)
        ready = sum(1 for n in nodes if any(is_ready(p) and p["spec"].get("nodeName") == n for p in pods))
        double = sum(1 for n in nodes if sum(1 for p in pods if p["spec"].get("nodeName") == n) > 1)
        trace.append((ready, double))

    store.add_listener(on_change)
    try:
        upgrade()
        settle(store, settings)
    finally:
        store.remove_listener(on_change)
    return trace


def test_ztunnel_upgrades_in_place_node_by_node_new_beside_old(mesh: tuple[Store, SimSettings]) -> None:
    store, settings = mesh
    trace = rollout_trace(store, settings, "app=ztunnel", lambda: ambient.install_ambient(store, NEW_V, NEW))
    assert trace and min(r for r, _ in trace) == 3  # maxUnavailable 0: every node always has a Ready ztunnel
    assert max(d for _, d in trace) == 1  # maxSurge 1: one node at a time runs old and new side by side
    zt = live(store, "istio-system", "app=ztunnel")
    assert len(zt) == 3 and {env(p, "XDS_ADDRESS") for p in zt} == {f"istiod-{NEW}.istio-system.svc:15012"}


def test_istio_cni_upgrades_in_place_one_node_unavailable_at_a_time(mesh: tuple[Store, SimSettings]) -> None:
    store, settings = mesh
    trace = rollout_trace(store, settings, "k8s-app=istio-cni-node", lambda: ambient.install_ambient(store, NEW_V, NEW))
    assert trace and min(r for r, _ in trace) == 2  # maxUnavailable 1
    assert max(d for _, d in trace) == 0
    images = {p["spec"]["containers"][0]["image"] for p in live(store, "istio-system", "k8s-app=istio-cni-node")}
    assert images == {f"docker.io/istio/install-cni:{NEW_V}"}


def test_sidecar_pods_of_the_1_29_mesh_get_native_sidecars_as_auto_gives_them(mesh: tuple[Store, SimSettings]) -> None:
    """ENABLE_NATIVE_SIDECARS=auto (1.27+) and every node's kubelet 1.33: istio-proxy is a native sidecar."""
    store, _ = mesh
    pods = live(store, "catalog", "app=search")
    assert pods
    for pod in pods:
        init = pod["spec"]["initContainers"]
        assert [c["name"] for c in init] == ["istio-init", "istio-proxy"] and init[1]["restartPolicy"] == "Always"
        assert "istio-proxy" not in [c["name"] for c in pod["spec"]["containers"]]
        status = json.loads(pod["metadata"]["annotations"]["sidecar.istio.io/status"])
        assert status["initContainers"] == ["istio-init", "istio-proxy"] and status["containers"] is None
    cm = store.require("configmaps", "istio-system", f"istio-sidecar-injector-{OLD}")
    assert json.loads(cm["data"]["values"])["pilot"]["env"]["ENABLE_NATIVE_SIDECARS"] == "auto"
