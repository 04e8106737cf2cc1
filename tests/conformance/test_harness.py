"""The realapi harness controller (tests/realapi/harness.py) on the real server.

A Deployment becomes available (ReplicaSet, Running/Ready pods, Deployment and PDB status), and a
rollout restart after a namespace moved to the canary revision yields new pods injected by the real
webhook with the new revision, the old pods gone.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from kubernetes import client
from realapi.harness import HarnessController, await_list, await_object, is_ready

from .backends import RealBackend
from .istio_setup import KEY, NEW, OLD, canary, injected_revision

pytestmark = pytest.mark.realapi


@pytest.fixture
def harness(real_backend: RealBackend) -> Iterator[HarnessController]:
    controller = HarnessController(real_backend.api_client()).start()
    try:
        yield controller
    finally:
        controller.stop()
    assert controller.errors == []


def deployment(name: str, replicas: int = 2) -> dict[str, Any]:
    labels = {"app": name}
    return {
        "metadata": {"name": name, "labels": labels},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": "app", "image": "example/app:1"}]},
            },
        },
    }


def available(replicas: int, generation: int) -> Any:
    def check(dep: dict[str, Any]) -> bool:
        status = dep.get("status") or {}
        return (
            status.get("observedGeneration") == generation == dep["metadata"]["generation"]
            and status.get("replicas") == replicas
            and status.get("updatedReplicas") == replicas
            and status.get("availableReplicas") == replicas
            and status.get("readyReplicas") == replicas
        )

    return check


def test_deployment_becomes_available_with_ready_pods_and_pdb_headroom(
    real_backend: RealBackend, harness: HarnessController
) -> None:
    api = real_backend.api_client()
    core, apps, policy = client.CoreV1Api(api), client.AppsV1Api(api), client.PolicyV1Api(api)
    ns = real_backend.unique_namespace("harness")
    harness.manage(ns)
    apps.create_namespaced_deployment(ns, deployment("web", 3))
    policy.create_namespaced_pod_disruption_budget(
        ns,
        {
            "metadata": {"name": "web"},
            "spec": {"minAvailable": 2, "selector": {"matchLabels": {"app": "web"}}},
        },
    )

    dep = await_object(apps.list_namespaced_deployment, ns, "web", available(3, 1))
    conditions = {c["type"]: (c["status"], c["reason"]) for c in dep["status"]["conditions"]}
    assert conditions == {
        "Available": ("True", "MinimumReplicasAvailable"),
        "Progressing": ("True", "NewReplicaSetAvailable"),
    }

    replicasets = apps.list_namespaced_replica_set(ns).items
    assert len(replicasets) == 1
    rs = replicasets[0]
    pod_hash = rs.metadata.labels["pod-template-hash"]
    assert rs.metadata.name == f"web-{pod_hash}"
    assert rs.metadata.owner_references[0].kind == "Deployment"
    assert (rs.spec.replicas, rs.status.ready_replicas) == (3, 3)

    pods = core.list_namespaced_pod(ns).items
    assert len(pods) == 3
    for pod in pods:
        assert pod.status.phase == "Running"
        assert is_ready(client.ApiClient().sanitize_for_serialization(pod))
        assert pod.metadata.owner_references[0].name == rs.metadata.name
        assert pod.metadata.labels == {"app": "web", "pod-template-hash": pod_hash}
        assert [c.name for c in pod.spec.containers] == ["app"]  # no Istio label: not injected

    pdb = await_object(
        policy.list_namespaced_pod_disruption_budget,
        ns,
        "web",
        lambda p: (p.get("status") or {}).get("expectedPods") == 3,
    )
    assert {k: pdb["status"][k] for k in ("currentHealthy", "desiredHealthy", "disruptionsAllowed")} == {
        "currentHealthy": 3,
        "desiredHealthy": 2,
        "disruptionsAllowed": 1,
    }


def test_rollout_restart_reinjects_with_the_namespace_revision(
    real_backend: RealBackend, harness: HarnessController
) -> None:
    real_backend.install_istio(KEY, canary)
    api = real_backend.api_client()
    core, apps = client.CoreV1Api(api), client.AppsV1Api(api)
    ns = real_backend.unique_namespace("rollout", {"istio.io/rev": OLD})
    harness.manage(ns)
    apps.create_namespaced_deployment(ns, deployment("shop", 2))
    await_object(apps.list_namespaced_deployment, ns, "shop", available(2, 1))
    before = core.list_namespaced_pod(ns, _preload_content=False)
    old_pods = json.loads(before.data)["items"]
    assert sorted(injected_revision(p) for p in old_pods) == [OLD, OLD]
    old_hash = old_pods[0]["metadata"]["labels"]["pod-template-hash"]

    # Move the namespace to the canary revision, then `kubectl rollout restart`.
    core.patch_namespace(ns, {"metadata": {"labels": {"istio.io/rev": NEW}}})
    apps.patch_namespaced_deployment(
        "shop",
        ns,
        {
            "spec": {
                "template": {
                    "metadata": {"annotations": {"kubectl.kubernetes.io/restartedAt": "2026-11-29T12:00:00Z"}}
                }
            }
        },
    )

    await_object(apps.list_namespaced_deployment, ns, "shop", available(2, 2))
    pods = await_list(
        core.list_namespaced_pod,
        ns,
        lambda items: (
            len(items) == 2
            and all(p["metadata"]["labels"]["pod-template-hash"] != old_hash and is_ready(p) for p in items)
        ),
    )
    assert sorted(injected_revision(p) for p in pods) == [NEW, NEW]
    assert {p["metadata"]["name"] for p in pods}.isdisjoint({p["metadata"]["name"] for p in old_pods})
    for pod in pods:
        statuses = {s["name"]: s["ready"] for s in pod["status"]["containerStatuses"]}
        assert statuses == {"app": True, "istio-proxy": True}
        assert pod["spec"]["serviceAccountName"] == "default"

    replicasets = {
        rs.metadata.labels["pod-template-hash"]: rs for rs in apps.list_namespaced_replica_set(ns).items
    }
    assert set(replicasets) == {old_hash, pods[0]["metadata"]["labels"]["pod-template-hash"]}
    assert replicasets[old_hash].spec.replicas == 0
    new_rs = replicasets[pods[0]["metadata"]["labels"]["pod-template-hash"]]
    assert new_rs.metadata.annotations["deployment.kubernetes.io/revision"] == "2"
