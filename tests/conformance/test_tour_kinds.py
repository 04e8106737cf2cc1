"""What kubectl and k9s read on a tour, the same on the simulator and the real kube-apiserver: discovery
entries of the tour's kinds and pod subresources, eviction's 429/201 answers under a PodDisruptionBudget,
and EndpointSlice/Endpoints as the simulator's endpoints controller writes them (the real server takes
them unchanged)."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from kubernetes import client

from meshtui.sim.controllers import endpoints as endpoints_controller

from .backends import Backend

_ALL_VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]

#: (group/version, resource) -> the discovery entry a client reads (storageVersionHash left out).
EXPECTED: dict[tuple[str, str], dict[str, Any]] = {
    ("v1", "endpoints"): {"singularName": "endpoints", "namespaced": True, "kind": "Endpoints",
                          "verbs": _ALL_VERBS, "shortNames": ["ep"]},
    ("v1", "persistentvolumeclaims"): {"singularName": "persistentvolumeclaim", "namespaced": True,
                                       "kind": "PersistentVolumeClaim", "verbs": _ALL_VERBS, "shortNames": ["pvc"]},
    ("v1", "persistentvolumes"): {"singularName": "persistentvolume", "namespaced": False,
                                  "kind": "PersistentVolume", "verbs": _ALL_VERBS, "shortNames": ["pv"]},
    ("v1", "pods/eviction"): {"singularName": "", "namespaced": True, "group": "policy", "version": "v1",
                              "kind": "Eviction", "verbs": ["create"]},
    ("v1", "pods/log"): {"singularName": "", "namespaced": True, "kind": "Pod", "verbs": ["get"]},
    ("discovery.k8s.io/v1", "endpointslices"): {"singularName": "endpointslice", "namespaced": True,
                                                "kind": "EndpointSlice", "verbs": _ALL_VERBS},
    ("events.k8s.io/v1", "events"): {"singularName": "event", "namespaced": True, "kind": "Event",
                                     "verbs": _ALL_VERBS, "shortNames": ["ev"]},
    ("networking.k8s.io/v1", "ingresses"): {"singularName": "ingress", "namespaced": True, "kind": "Ingress",
                                            "verbs": _ALL_VERBS, "shortNames": ["ing"]},
    ("networking.k8s.io/v1", "ingresses/status"): {"singularName": "", "namespaced": True, "kind": "Ingress",
                                                   "verbs": ["get", "patch", "update"]},
    ("networking.k8s.io/v1", "networkpolicies"): {"singularName": "networkpolicy", "namespaced": True,
                                                  "kind": "NetworkPolicy", "verbs": _ALL_VERBS,
                                                  "shortNames": ["netpol"]},
    ("apiextensions.k8s.io/v1", "customresourcedefinitions"): {
        "singularName": "customresourcedefinition", "namespaced": False, "kind": "CustomResourceDefinition",
        "verbs": _ALL_VERBS, "shortNames": ["crd", "crds"], "categories": ["api-extensions"]},
}


def _get(backend: Backend, path: str) -> Any:
    api = backend.api_client()
    resp = api.call_api(*api.param_serialize(method="GET", resource_path=path, auth_settings=["BearerToken"]))
    resp.read()
    return orjson.loads(resp.data)


def _post(backend: Backend, path: str, body: dict[str, Any], query: str = "") -> tuple[int, Any]:
    api = backend.api_client()
    method, url, headers, _, _ = api.param_serialize(
        method="POST", resource_path=path, header_params={"Content-Type": "application/json"},
        auth_settings=["BearerToken"])
    resp = api.rest_client.pool_manager.request(method, url + query, headers=headers, body=orjson.dumps(body),
                                                preload_content=True, timeout=30)
    return resp.status, orjson.loads(resp.data)


@pytest.mark.parametrize(("group_version", "resource"), sorted(EXPECTED))
def test_discovery_entry(backend: Backend, group_version: str, resource: str) -> None:
    path = f"/api/{group_version}" if group_version == "v1" else f"/apis/{group_version}"
    entries = {e["name"]: e for e in _get(backend, path)["resources"]}
    assert resource in entries, sorted(entries)
    entry = {k: v for k, v in entries[resource].items() if k != "storageVersionHash"}
    entry["verbs"] = sorted(entry["verbs"])
    assert entry == {"name": resource, **EXPECTED[(group_version, resource)]}


def _running_pod(backend: Backend, ns: str, name: str, labels: dict[str, str], ready: bool = True) -> dict[str, Any]:
    core = client.CoreV1Api(backend.api_client())
    core.create_namespaced_pod(ns, {
        "metadata": {"name": name, "labels": labels},
        "spec": {"containers": [{"name": "web", "image": "example/web:1", "ports": [
            {"name": "http", "containerPort": 8080}]}]},
    })
    pod = backend.api_client().sanitize_for_serialization(core.read_namespaced_pod(name, ns))
    pod["status"] = {
        "phase": "Running",
        "podIP": "10.244.1.7",
        "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
    }
    core.replace_namespaced_pod_status(name, ns, pod)
    out: dict[str, Any] = backend.api_client().sanitize_for_serialization(core.read_namespaced_pod(name, ns))
    return out


def _budget(backend: Backend, ns: str, allowed: int) -> None:
    policy = client.PolicyV1Api(backend.api_client())
    try:
        pdb = policy.read_namespaced_pod_disruption_budget("web", ns)
    except client.ApiException:
        policy.create_namespaced_pod_disruption_budget(ns, {
            "metadata": {"name": "web"}, "spec": {"minAvailable": 1, "selector": {"matchLabels": {"app": "web"}}}})
        pdb = policy.read_namespaced_pod_disruption_budget("web", ns)
    body = backend.api_client().sanitize_for_serialization(pdb)
    body["status"] = {"observedGeneration": body["metadata"]["generation"], "disruptionsAllowed": allowed,
                      "currentHealthy": 1 + allowed, "desiredHealthy": 1, "expectedPods": 1 + allowed}
    policy.replace_namespaced_pod_disruption_budget_status("web", ns, body)


def _evict(backend: Backend, ns: str, name: str, query: str = "") -> tuple[int, Any]:
    body = {"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": name, "namespace": ns}}
    return _post(backend, f"/api/v1/namespaces/{ns}/pods/{name}/eviction", body, query)


def test_eviction_answers_429_while_the_budget_allows_no_disruption_then_201(backend: Backend) -> None:
    ns = backend.unique_namespace("evict")
    _running_pod(backend, ns, "web-1", {"app": "web"})
    _budget(backend, ns, allowed=0)
    code, body = _evict(backend, ns, "web-1")
    assert (code, body) == (429, {
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": "Cannot evict pod as it would violate the pod's disruption budget.",
        "reason": "TooManyRequests",
        "details": {"causes": [{"reason": "DisruptionBudget",
                                "message": "The disruption budget web needs 1 healthy pods and has 1 currently"}]},
        "code": 429})
    _budget(backend, ns, allowed=1)
    success = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}
    assert _evict(backend, ns, "web-1", "?dryRun=All") == (201, success)
    policy = client.PolicyV1Api(backend.api_client())
    assert policy.read_namespaced_pod_disruption_budget("web", ns).status.disruptions_allowed == 1
    assert _evict(backend, ns, "web-1") == (201, success)
    status = policy.read_namespaced_pod_disruption_budget("web", ns).status
    assert status.disruptions_allowed == 0 and list(status.disrupted_pods or {}) == ["web-1"]


def test_eviction_of_a_pod_without_a_budget_or_not_there(backend: Backend) -> None:
    ns = backend.unique_namespace("evict")
    _running_pod(backend, ns, "lone", {"app": "lone"})
    assert _evict(backend, ns, "lone")[0] == 201
    code, body = _evict(backend, ns, "ghost")
    assert (code, body["reason"], body["message"]) == (404, "NotFound", 'pods "ghost" not found')


def _strip(obj: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in obj.items() if k not in ("metadata", "apiVersion", "kind")}


def test_endpointslice_and_endpoints_as_the_controller_writes_them_are_taken_unchanged(backend: Backend) -> None:
    ns = backend.unique_namespace("eps")
    api = backend.api_client()
    core = client.CoreV1Api(api)
    svc = api.sanitize_for_serialization(core.create_namespaced_service(ns, {
        "metadata": {"name": "web", "labels": {"app": "web"}},
        "spec": {"selector": {"app": "web"}, "ports": [{"name": "http", "port": 80, "targetPort": "http"}]},
    }))
    pod = _running_pod(backend, ns, "web-1", {"app": "web"})
    pod["spec"]["nodeName"] = "sim-node-1"
    body = endpoints_controller.slice_body(svc, [pod])
    body["metadata"].update({"name": "web-abcde", "ownerReferences": [{
        "apiVersion": "v1", "kind": "Service", "name": "web", "uid": svc["metadata"]["uid"],
        "controller": True, "blockOwnerDeletion": True}]})
    discovery = client.DiscoveryV1Api(api)
    stored = api.sanitize_for_serialization(discovery.create_namespaced_endpoint_slice(ns, dict(body)))
    assert _strip(stored) == _strip(body)
    assert stored["metadata"]["labels"] == body["metadata"]["labels"]
    subsets = endpoints_controller.endpoints_subsets(svc, [pod])
    created = core.create_namespaced_endpoints(ns, {"metadata": {"name": "web"}, "subsets": subsets})
    assert api.sanitize_for_serialization(created)["subsets"] == subsets
