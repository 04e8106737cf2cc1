"""The realapi harness controller (tests/realapi/harness.py) on the real server.

A Deployment becomes available (ReplicaSet, Running/Ready pods, Deployment and PDB status), and a
rollout restart after a namespace moved to the canary revision yields new pods injected by the real
webhook with the new revision, the old pods gone. StatefulSets come up in ordinal order and roll from
the highest ordinal, DaemonSets run a pod per node and roll within maxUnavailable, and deleted owners'
dependents (and foreground-deleted objects) are garbage-collected.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from kubernetes import client
from realapi.harness import HarnessController, await_list, await_object, is_ready

from tests.helpers import read_events

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
                "template": {"metadata": {"annotations": {"kubectl.kubernetes.io/restartedAt": "2026-11-29T12:00:00Z"}}}
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

    replicasets = {rs.metadata.labels["pod-template-hash"]: rs for rs in apps.list_namespaced_replica_set(ns).items}
    assert set(replicasets) == {old_hash, pods[0]["metadata"]["labels"]["pod-template-hash"]}
    assert replicasets[old_hash].spec.replicas == 0
    new_rs = replicasets[pods[0]["metadata"]["labels"]["pod-template-hash"]]
    assert new_rs.metadata.annotations["deployment.kubernetes.io/revision"] == "2"


def workload(kind: str, name: str, replicas: int | None = None) -> dict[str, Any]:
    labels = {"app": name}
    spec: dict[str, Any] = {
        "selector": {"matchLabels": labels},
        "template": {
            "metadata": {"labels": labels},
            "spec": {"containers": [{"name": "app", "image": "example/app:1"}]},
        },
    }
    if replicas is not None:
        spec["replicas"] = replicas
    if kind == "StatefulSet":
        spec["serviceName"] = name
    return {"metadata": {"name": name, "labels": labels}, "spec": spec}


RESTART = {
    "spec": {"template": {"metadata": {"annotations": {"kubectl.kubernetes.io/restartedAt": "2026-11-29T12:00:00Z"}}}}
}


def sts_rolled_out(replicas: int, generation: int) -> Any:
    def check(sts: dict[str, Any]) -> bool:
        status = sts.get("status") or {}
        return (
            status.get("observedGeneration") == generation
            and status.get("readyReplicas") == replicas
            and status.get("updatedReplicas") == replicas
            and status.get("currentRevision") == status.get("updateRevision")
        )

    return check


def test_statefulset_pods_come_in_order_and_are_replaced_from_the_highest_ordinal(
    real_backend: RealBackend, harness: HarnessController
) -> None:
    api = real_backend.api_client()
    core, apps = client.CoreV1Api(api), client.AppsV1Api(api)
    ns = real_backend.unique_namespace("harness-sts")
    harness.manage(ns)
    apps.create_namespaced_stateful_set(ns, workload("StatefulSet", "db", 3))
    sts = await_object(apps.list_namespaced_stateful_set, ns, "db", sts_rolled_out(3, 1))
    first = sts["status"]["updateRevision"]
    assert first.startswith("db-") and sts["status"]["currentReplicas"] == 3
    pods = json.loads(core.list_namespaced_pod(ns, _preload_content=False).data)["items"]
    assert [p["metadata"]["name"] for p in pods] == ["db-0", "db-1", "db-2"]
    created = [p["metadata"]["creationTimestamp"] for p in pods]
    assert created == sorted(created), "OrderedReady: each ordinal after the previous one"
    for i, pod in enumerate(pods):
        assert pod["metadata"]["labels"] == {
            "app": "db",
            "controller-revision-hash": first,
            "statefulset.kubernetes.io/pod-name": f"db-{i}",
            "apps.kubernetes.io/pod-index": str(i),
        }
        assert (pod["spec"]["hostname"], pod["spec"]["subdomain"]) == (f"db-{i}", "db")
        assert pod["metadata"]["ownerReferences"][0]["kind"] == "StatefulSet" and is_ready(pod)
    rv = core.list_namespaced_pod(ns).metadata.resource_version

    apps.patch_namespaced_stateful_set("db", ns, RESTART)
    sts = await_object(apps.list_namespaced_stateful_set, ns, "db", sts_rolled_out(3, 2))
    second = sts["status"]["updateRevision"]
    assert second != first and sts["status"]["currentRevision"] == second
    events = read_events(
        core.list_namespaced_pod(
            ns, watch=True, resource_version=rv, timeout_seconds=10, _preload_content=False, _request_timeout=(5, 30)
        ),
        until=lambda ev: ev["type"] == "DELETED" and ev["object"]["metadata"]["name"] == "db-0",
    )
    deleted = [e["object"]["metadata"]["name"] for e in events if e["type"] == "DELETED"]
    assert deleted == ["db-2", "db-1", "db-0"], "one at a time, from the highest ordinal"
    pods = json.loads(core.list_namespaced_pod(ns, _preload_content=False).data)["items"]
    assert [(p["metadata"]["name"], p["metadata"]["labels"]["controller-revision-hash"]) for p in pods] == [
        ("db-0", second),
        ("db-1", second),
        ("db-2", second),
    ]
    revisions = {r.metadata.name: r.revision for r in apps.list_namespaced_controller_revision(ns).items}
    assert revisions == {first: 1, second: 2}


def test_daemonset_runs_one_pod_per_node_and_rolls_them(real_backend: RealBackend, harness: HarnessController) -> None:
    api = real_backend.api_client()
    core, apps = client.CoreV1Api(api), client.AppsV1Api(api)
    ns = real_backend.unique_namespace("harness-ds")
    harness.manage(ns)
    apps.create_namespaced_daemon_set(ns, workload("DaemonSet", "agent"))

    def rolled(generation: int) -> Any:
        def check(ds: dict[str, Any]) -> bool:
            status = ds.get("status") or {}
            return status.get("observedGeneration") == generation and all(
                status.get(k) == len(harness.nodes)
                for k in ("desiredNumberScheduled", "numberReady", "updatedNumberScheduled", "numberAvailable")
            )

        return check

    await_object(apps.list_namespaced_daemon_set, ns, "agent", rolled(1))
    before = json.loads(core.list_namespaced_pod(ns, _preload_content=False).data)["items"]
    assert sorted(p["spec"]["nodeName"] for p in before) == sorted(harness.nodes)
    hashes = {p["metadata"]["labels"]["controller-revision-hash"] for p in before}
    assert len(hashes) == 1 and {p["metadata"]["labels"]["pod-template-generation"] for p in before} == {"1"}

    apps.patch_namespaced_daemon_set("agent", ns, RESTART)
    await_object(apps.list_namespaced_daemon_set, ns, "agent", rolled(2))
    after = await_list(core.list_namespaced_pod, ns, lambda pods: len(pods) == len(harness.nodes))
    assert sorted(p["spec"]["nodeName"] for p in after) == sorted(harness.nodes)
    assert {p["metadata"]["name"] for p in after}.isdisjoint(p["metadata"]["name"] for p in before)
    assert {p["metadata"]["labels"]["controller-revision-hash"] for p in after}.isdisjoint(hashes)
    assert {p["metadata"]["labels"]["pod-template-generation"] for p in after} == {"2"}
    assert len(apps.list_namespaced_controller_revision(ns).items) == 2


def test_foreground_and_background_deletion_are_finished_by_the_garbage_collector(
    real_backend: RealBackend, harness: HarnessController
) -> None:
    api = real_backend.api_client()
    core, apps = client.CoreV1Api(api), client.AppsV1Api(api)
    rbac = client.RbacAuthorizationV1Api(api)
    ns = real_backend.unique_namespace("harness-gc")
    harness.manage(ns)
    harness.manage_cluster_scoped()
    apps.create_namespaced_deployment(ns, deployment("web", 2))
    apps.create_namespaced_stateful_set(ns, workload("StatefulSet", "db", 2))
    core.create_namespaced_config_map(ns, {"metadata": {"name": "config"}})
    role = f"harness-gc-{ns}"
    rbac.create_cluster_role({"metadata": {"name": role}, "rules": []})
    await_object(apps.list_namespaced_deployment, ns, "web", available(2, 1))
    await_object(apps.list_namespaced_stateful_set, ns, "db", sts_rolled_out(2, 1))

    # The API server keeps a foreground-deleted object, finalizer and all, until a garbage collector is done.
    kept = json.loads(
        apps.delete_namespaced_deployment("web", ns, propagation_policy="Foreground", _preload_content=False).data
    )
    assert kept["kind"] == "Deployment" and kept["metadata"]["finalizers"] == ["foregroundDeletion"]
    assert kept["metadata"]["deletionTimestamp"]
    core.delete_namespaced_config_map("config", ns, propagation_policy="Foreground")
    rbac.delete_cluster_role(role, propagation_policy="Foreground")
    apps.delete_namespaced_stateful_set("db", ns, propagation_policy="Background")

    await_list(apps.list_namespaced_deployment, ns, lambda items: not items)
    await_list(apps.list_namespaced_replica_set, ns, lambda items: not items)
    await_list(apps.list_namespaced_stateful_set, ns, lambda items: not items)
    await_list(apps.list_namespaced_controller_revision, ns, lambda items: not items)
    await_list(core.list_namespaced_pod, ns, lambda items: not items)
    await_list(
        core.list_namespaced_config_map, ns, lambda items: not [c for c in items if c["metadata"]["name"] == "config"]
    )
    with pytest.raises(client.exceptions.ApiException) as gone:
        rbac.read_cluster_role(role)
    assert gone.value.status == 404
