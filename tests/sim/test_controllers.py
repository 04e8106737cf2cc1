"""The simulated controllers: rollouts with re-injection, StatefulSets, DaemonSets, PDBs, deletion."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from meshtui.sim import deletion, istio
from meshtui.sim.controllers import Controllers, PodChurn, settle
from meshtui.sim.resources import Resource
from meshtui.sim.settings import SimSettings
from meshtui.sim.store import Store
from tests.helpers import eventually, wait_until

OLD, NEW = "1-22-3", "1-23-1"
DEPLOY, RS, STS, DS = "apps/deployments", "apps/replicasets", "apps/statefulsets", "apps/daemonsets"
FAST = SimSettings(pod_ready_delay=0.03, pod_termination_delay=0.02, nodes=3)


def revision_of(pod: dict[str, Any]) -> str | None:
    """The injected revision (None: no sidecar)."""
    raw = (pod["metadata"].get("annotations") or {}).get("sidecar.istio.io/status")
    return json.loads(raw)["revision"] if raw else None


def is_ready(pod: dict[str, Any]) -> bool:
    """Ready condition True and not Terminating."""
    if pod["metadata"].get("deletionTimestamp"):
        return False
    return any(c["type"] == "Ready" and c["status"] == "True" for c in (pod.get("status") or {}).get("conditions", []))


def deployment(
    name: str,
    ns: str,
    replicas: int,
    strategy: dict[str, Any] | None = None,
    annotations: dict[str, str] | None = None,
) -> dict[str, Any]:
    """A Deployment manifest with one app container."""
    tpl: dict[str, Any] = {
        "metadata": {"labels": {"app": name}},
        "spec": {"containers": [{"name": name, "image": f"example/{name}:1"}]},
    }
    if annotations:
        tpl["metadata"]["annotations"] = annotations
    spec: dict[str, Any] = {"replicas": replicas, "selector": {"matchLabels": {"app": name}}, "template": tpl}
    if strategy is not None:
        spec["strategy"] = strategy
    return {"metadata": {"name": name, "namespace": ns}, "spec": spec}


def restart(store: Store, key: str, ns: str, name: str) -> None:
    """`kubectl rollout restart`: stamp the template."""
    stamp = datetime.now(UTC).isoformat()

    def apply(obj: dict[str, Any]) -> dict[str, Any]:
        obj["spec"]["template"]["metadata"].setdefault("annotations", {})["kubectl.kubernetes.io/restartedAt"] = stamp
        return obj

    store.update(key, ns, name, apply)


def rolled_out(store: Store, ns: str, name: str) -> bool:
    """Deployment status says the rollout is complete for the current generation."""
    d = store.get(DEPLOY, ns, name)
    if d is None:
        return False
    st, replicas = d.get("status") or {}, d["spec"]["replicas"]
    return (
        st.get("observedGeneration") == d["metadata"]["generation"]
        and st.get("updatedReplicas") == st.get("readyReplicas") == st.get("availableReplicas") == replicas
        and st.get("replicas") == replicas
    )


@pytest.fixture
async def cluster() -> AsyncIterator[Store]:
    """Two revisions with tags, settled; live controllers on the test's loop."""
    store = Store()
    istio.install_revision(store, OLD, "1.22.3", set_default_tag=False)
    istio.install_revision(store, NEW, "1.23.1", set_default_tag=False)
    istio.set_tag(store, "default", OLD)
    istio.set_tag(store, "prod-stable", OLD)
    settle(store, FAST)
    controllers = Controllers(store, FAST, asyncio.get_running_loop(), seed=3)
    controllers.start()
    yield store
    controllers.stop()


@pytest.mark.parametrize(
    ("strategy", "surge", "unavailable"),
    [
        (None, 1, 1),  # defaults 25%/25% of 4
        ({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 0, "maxUnavailable": 1}}, 0, 1),
        ({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 2, "maxUnavailable": 0}}, 2, 0),
    ],
)
async def test_rollout_restart_reinjects_with_the_new_revision(
    cluster: Store, strategy: dict[str, Any] | None, surge: int, unavailable: int
) -> None:
    store = cluster
    store.create("namespaces", {"metadata": {"name": "shop", "labels": {"istio.io/rev": OLD}}})
    store.create(DEPLOY, deployment("web", "shop", 4, strategy))
    await eventually(lambda: rolled_out(store, "shop", "web"), what="first rollout")
    old_pods = {p["metadata"]["name"] for p in store.list("pods", "shop")}
    assert {revision_of(p) for p in store.list("pods", "shop")} == {OLD}

    ready_seen: list[int] = []
    live_seen: list[int] = []

    def record(kind: str, res: Resource, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
        if res.plural == "pods" and obj["metadata"].get("namespace") == "shop":
            pods = store.list("pods", "shop")
            ready_seen.append(sum(1 for p in pods if is_ready(p)))
            live_seen.append(sum(1 for p in pods if not p["metadata"].get("deletionTimestamp")))

    store.add_listener(record)
    store.update(
        "namespaces",
        None,
        "shop",
        lambda ns: {**ns, "metadata": {**ns["metadata"], "labels": {"istio.io/rev": NEW}}},
    )
    restart(store, DEPLOY, "shop", "web")
    await eventually(
        lambda: rolled_out(store, "shop", "web") and len(store.list("pods", "shop")) == 4,
        what="restart rollout",
    )
    store.remove_listener(record)

    pods = store.list("pods", "shop")
    assert {revision_of(p) for p in pods} == {NEW}
    assert not old_pods & {p["metadata"]["name"] for p in pods}
    assert all(p["spec"]["containers"][1]["image"] == "docker.io/istio/proxyv2:1.23.1" for p in pods)
    assert min(ready_seen) >= 4 - unavailable
    assert max(live_seen) <= 4 + surge
    d = store.require(DEPLOY, "shop", "web")
    assert d["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "2"
    assert d["status"]["observedGeneration"] == d["metadata"]["generation"] == 2
    conds = {c["type"]: c for c in d["status"]["conditions"]}
    assert (conds["Available"]["status"], conds["Available"]["reason"]) == (
        "True",
        "MinimumReplicasAvailable",
    )
    assert conds["Progressing"]["reason"] == "NewReplicaSetAvailable"
    rss = sorted(
        store.list(RS, "shop"),
        key=lambda r: r["metadata"]["annotations"]["deployment.kubernetes.io/revision"],
    )
    assert [r["spec"]["replicas"] for r in rss] == [0, 4]
    assert rss[1]["metadata"]["name"] == f"web-{rss[1]['metadata']['labels']['pod-template-hash']}"
    assert all(p["metadata"]["name"].startswith(rss[1]["metadata"]["name"] + "-") for p in pods)


async def test_paused_deployment_does_not_roll_until_resumed(cluster: Store) -> None:
    store = cluster
    store.create("namespaces", {"metadata": {"name": "shop", "labels": {"istio.io/rev": OLD}}})
    store.create(DEPLOY, deployment("web", "shop", 2))
    await eventually(lambda: rolled_out(store, "shop", "web"))
    before = {p["metadata"]["name"] for p in store.list("pods", "shop")}
    store.update(DEPLOY, "shop", "web", lambda d: {**d, "spec": {**d["spec"], "paused": True}})
    restart(store, DEPLOY, "shop", "web")

    def paused_observed() -> bool:
        d = store.require(DEPLOY, "shop", "web")
        conds = {c["type"]: c for c in d["status"].get("conditions", [])}
        return (
            d["status"].get("observedGeneration") == d["metadata"]["generation"]
            and conds.get("Progressing", {}).get("reason") == "DeploymentPaused"
        )

    await eventually(paused_observed, what="paused condition")
    assert len(store.list(RS, "shop")) == 1
    assert {p["metadata"]["name"] for p in store.list("pods", "shop")} == before
    store.update(DEPLOY, "shop", "web", lambda d: {**d, "spec": {**d["spec"], "paused": False}})
    await eventually(
        lambda: (
            rolled_out(store, "shop", "web")
            and len(store.list(RS, "shop")) == 2
            and not before & {p["metadata"]["name"] for p in store.list("pods", "shop")}
        )
    )


async def test_statefulset_replaces_from_the_highest_ordinal(cluster: Store) -> None:
    store = cluster
    store.create("namespaces", {"metadata": {"name": "db", "labels": {"istio.io/rev": OLD}}})
    store.create(
        STS,
        {
            "metadata": {"name": "ledger", "namespace": "db"},
            "spec": {
                "replicas": 3,
                "serviceName": "ledger",
                "selector": {"matchLabels": {"app": "ledger"}},
                "template": {
                    "metadata": {"labels": {"app": "ledger"}},
                    "spec": {"containers": [{"name": "db", "image": "example/db:1"}]},
                },
            },
        },
    )

    def settled_sts() -> bool:
        st = store.require(STS, "db", "ledger").get("status") or {}
        return (
            st.get("readyReplicas") == 3
            and st.get("currentRevision") == st.get("updateRevision")
            and st.get("updatedReplicas") == 3
        )

    await eventually(settled_sts, what="statefulset ready")
    assert sorted(p["metadata"]["name"] for p in store.list("pods", "db")) == [
        "ledger-0",
        "ledger-1",
        "ledger-2",
    ]
    order: list[str] = []

    def record(kind: str, res: Resource, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
        if (
            res.plural == "pods"
            and obj["metadata"].get("deletionTimestamp")
            and not (old and old["metadata"].get("deletionTimestamp"))
        ):
            order.append(obj["metadata"]["name"])

    store.add_listener(record)
    store.update(
        "namespaces",
        None,
        "db",
        lambda ns: {**ns, "metadata": {**ns["metadata"], "labels": {"istio.io/rev": NEW}}},
    )
    restart(store, STS, "db", "ledger")
    await eventually(
        lambda: settled_sts() and {revision_of(p) for p in store.list("pods", "db")} == {NEW},
        what="statefulset rolled",
    )
    store.remove_listener(record)
    assert order == ["ledger-2", "ledger-1", "ledger-0"]
    st = store.require(STS, "db", "ledger")["status"]
    assert st["currentRevision"].startswith("ledger-") and st["currentReplicas"] == 3


async def test_statefulset_partition_is_honoured(cluster: Store) -> None:
    store = cluster
    store.create("namespaces", {"metadata": {"name": "db", "labels": {"istio.io/rev": NEW}}})
    store.create(
        STS,
        {
            "metadata": {"name": "kv", "namespace": "db"},
            "spec": {
                "replicas": 3,
                "selector": {"matchLabels": {"app": "kv"}},
                "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 2}},
                "template": {
                    "metadata": {"labels": {"app": "kv"}},
                    "spec": {"containers": [{"name": "kv", "image": "example/kv:1"}]},
                },
            },
        },
    )
    await eventually(lambda: (store.require(STS, "db", "kv").get("status") or {}).get("readyReplicas") == 3)
    first = {p["metadata"]["name"]: p["metadata"]["uid"] for p in store.list("pods", "db")}
    restart(store, STS, "db", "kv")

    def kv2_replaced() -> bool:
        pods = {p["metadata"]["name"]: p for p in store.list("pods", "db")}
        st = store.require(STS, "db", "kv")["status"]
        return (
            "kv-2" in pods
            and pods["kv-2"]["metadata"]["uid"] != first["kv-2"]
            and is_ready(pods["kv-2"])
            and st.get("updatedReplicas") == 1
        )

    await eventually(kv2_replaced, what="ordinal 2 updated")
    pods = {p["metadata"]["name"]: p["metadata"]["uid"] for p in store.list("pods", "db")}
    assert pods["kv-0"] == first["kv-0"] and pods["kv-1"] == first["kv-1"]
    st = store.require(STS, "db", "kv")["status"]
    assert st["currentRevision"] != st["updateRevision"]


async def test_daemonset_runs_one_pod_per_node(cluster: Store) -> None:
    store = cluster
    store.create("namespaces", {"metadata": {"name": "mon", "labels": {"istio-injection": "disabled"}}})
    store.create(
        DS,
        {
            "metadata": {"name": "exporter", "namespace": "mon"},
            "spec": {
                "selector": {"matchLabels": {"app": "exporter"}},
                "template": {
                    "metadata": {"labels": {"app": "exporter"}},
                    "spec": {"containers": [{"name": "exp", "image": "example/exp:1"}]},
                },
            },
        },
    )
    await eventually(lambda: (store.require(DS, "mon", "exporter").get("status") or {}).get("numberReady") == 3)
    pods = store.list("pods", "mon")
    assert sorted(p["spec"]["nodeName"] for p in pods) == ["sim-node-1", "sim-node-2", "sim-node-3"]
    assert sorted(n["metadata"]["name"] for n in store.list("nodes")) == [
        "sim-node-1",
        "sim-node-2",
        "sim-node-3",
    ]
    st = store.require(DS, "mon", "exporter")["status"]
    assert (
        st["desiredNumberScheduled"],
        st["currentNumberScheduled"],
        st["updatedNumberScheduled"],
        st["numberAvailable"],
    ) == (3, 3, 3, 3)
    restart(store, DS, "mon", "exporter")
    await eventually(
        lambda: (
            store.require(DS, "mon", "exporter")["status"].get("updatedNumberScheduled") == 3
            and store.require(DS, "mon", "exporter")["status"].get("numberReady") == 3
            and not {p["metadata"]["uid"] for p in pods} & {p["metadata"]["uid"] for p in store.list("pods", "mon")}
        ),
        what="ds rolled",
    )


async def test_pdb_status_counts_healthy_pods(cluster: Store) -> None:
    store = cluster
    store.create("namespaces", {"metadata": {"name": "shop"}})
    store.create(DEPLOY, deployment("web", "shop", 3))
    store.create(
        "policy/poddisruptionbudgets",
        {
            "metadata": {"name": "web", "namespace": "shop"},
            "spec": {"minAvailable": 2, "selector": {"matchLabels": {"app": "web"}}},
        },
    )
    store.create(
        "policy/poddisruptionbudgets",
        {
            "metadata": {"name": "strict", "namespace": "shop"},
            "spec": {"maxUnavailable": 0, "selector": {"matchLabels": {"app": "web"}}},
        },
    )
    await eventually(
        lambda: (
            (store.require("policy/poddisruptionbudgets", "shop", "web").get("status") or {}).get("currentHealthy") == 3
        ),
        what="pdb status",
    )
    web = store.require("policy/poddisruptionbudgets", "shop", "web")["status"]
    assert (web["currentHealthy"], web["desiredHealthy"], web["expectedPods"], web["disruptionsAllowed"]) == (
        3,
        2,
        3,
        1,
    )
    assert web["observedGeneration"] == 1
    strict = await eventually(
        lambda: (
            (store.require("policy/poddisruptionbudgets", "shop", "strict").get("status") or {}).get("expectedPods")
            == 3
            and store.require("policy/poddisruptionbudgets", "shop", "strict")["status"]
        )
    )
    assert (strict["desiredHealthy"], strict["disruptionsAllowed"]) == (3, 0)
    assert {c["type"]: c["reason"] for c in strict["conditions"]} == {"DisruptionAllowed": "InsufficientPods"}


async def test_rejected_pods_give_replica_failure_then_recover(cluster: Store) -> None:
    store = cluster
    store.update(DEPLOY, "istio-system", f"istiod-{OLD}", lambda d: {**d, "spec": {**d["spec"], "replicas": 0}})
    await eventually(
        lambda: (
            not [p for p in store.list("pods", "istio-system") if p["metadata"]["labels"].get("istio.io/rev") == OLD]
        ),
        what="istiod gone",
    )
    store.create("namespaces", {"metadata": {"name": "orders", "labels": {"istio.io/rev": "prod-stable"}}})
    store.create(DEPLOY, deployment("orders", "orders", 2))

    def failure() -> dict[str, Any] | None:
        d = store.require(DEPLOY, "orders", "orders")
        return next((c for c in (d.get("status") or {}).get("conditions", []) if c["type"] == "ReplicaFailure"), None)

    cond = await eventually(failure, what="ReplicaFailure on the Deployment")
    assert cond["reason"] == "FailedCreate"
    assert cond["message"].startswith(
        'Internal error occurred: failed calling webhook "rev.namespace.sidecar-injector.istio.io"'
    )
    assert f'no endpoints available for service "istiod-{OLD}"' in cond["message"]
    rs = store.list(RS, "orders")[0]
    assert any(c["type"] == "ReplicaFailure" and c["status"] == "True" for c in rs["status"]["conditions"])
    assert store.list("pods", "orders") == []
    store.update(DEPLOY, "istio-system", f"istiod-{OLD}", lambda d: {**d, "spec": {**d["spec"], "replicas": 1}})
    await eventually(lambda: rolled_out(store, "orders", "orders") and failure() is None, what="recovery")
    assert {revision_of(p) for p in store.list("pods", "orders")} == {OLD}


async def test_deleting_a_deployment_collects_its_replicasets_and_pods(cluster: Store) -> None:
    store = cluster
    store.create("namespaces", {"metadata": {"name": "shop"}})
    store.create(DEPLOY, deployment("web", "shop", 2))
    await eventually(lambda: rolled_out(store, "shop", "web"))
    result = deletion.delete(store, DEPLOY, "shop", "web")
    assert result["kind"] == "Status" and result["status"] == "Success"
    assert store.list(RS, "shop") == []
    assert all(p["metadata"].get("deletionTimestamp") for p in store.list("pods", "shop"))
    await eventually(lambda: store.list("pods", "shop") == [], what="pods removed")


async def test_pod_deletion_goes_through_terminating(cluster: Store) -> None:
    store = cluster
    store.create("namespaces", {"metadata": {"name": "shop"}})
    store.create(DEPLOY, deployment("web", "shop", 1))
    await eventually(lambda: rolled_out(store, "shop", "web"))
    name = store.list("pods", "shop")[0]["metadata"]["name"]
    returned = deletion.delete(store, "pods", "shop", name)
    assert returned["metadata"]["deletionTimestamp"] and returned["metadata"]["deletionGracePeriodSeconds"] == 30
    assert deletion.delete(store, "pods", "shop", name, dry_run=True)["metadata"]["name"] == name
    await eventually(lambda: store.get("pods", "shop", name) is None, what="pod removed")
    await eventually(lambda: rolled_out(store, "shop", "web") and len(store.list("pods", "shop")) == 1)


async def test_orphan_propagation_keeps_dependents(cluster: Store) -> None:
    store = cluster
    store.create("namespaces", {"metadata": {"name": "shop"}})
    store.create(DEPLOY, deployment("web", "shop", 1))
    await eventually(lambda: rolled_out(store, "shop", "web"))
    deletion.delete(store, DEPLOY, "shop", "web", propagation="Orphan")
    rs = store.list(RS, "shop")
    assert len(rs) == 1 and "ownerReferences" not in rs[0]["metadata"]


async def test_namespace_deletion_removes_its_contents(cluster: Store) -> None:
    store = cluster
    store.create("namespaces", {"metadata": {"name": "shop", "labels": {"istio.io/rev": OLD}}})
    store.create(DEPLOY, deployment("web", "shop", 2))
    store.create("configmaps", {"metadata": {"name": "cfg", "namespace": "shop"}, "data": {"a": "1"}})
    await eventually(lambda: rolled_out(store, "shop", "web"))
    ns = deletion.delete(store, "namespaces", None, "shop")
    assert ns["status"]["phase"] == "Terminating"
    await eventually(lambda: store.get("namespaces", None, "shop") is None, what="namespace removed")
    for key in ("pods", RS, DEPLOY, "configmaps"):
        assert store.list(key, "shop") == []


async def test_crashloop_annotation(cluster: Store) -> None:
    store = cluster
    store.create("namespaces", {"metadata": {"name": "shop"}})
    store.create(DEPLOY, deployment("web", "shop", 1, annotations={"sim.meshtui.io/crashloop": "true"}))

    def restarts() -> int:
        pods = store.list("pods", "shop")
        if not pods or pods[0]["status"].get("phase") != "Running":
            return 0
        st = pods[0]["status"]["containerStatuses"][0]
        assert st["state"]["waiting"]["reason"] == "CrashLoopBackOff" and st["ready"] is False
        assert not is_ready(pods[0])
        return int(st["restartCount"])

    await eventually(lambda: restarts() >= 3, what="restartCount rising")
    d = store.require(DEPLOY, "shop", "web")["status"]
    assert d.get("readyReplicas", 0) == 0 and d["unavailableReplicas"] == 1


async def test_job_pods_succeed_and_the_job_completes(cluster: Store) -> None:
    store = cluster
    store.create("namespaces", {"metadata": {"name": "batch", "labels": {"istio.io/rev": OLD}}})
    store.create(
        "batch/jobs",
        {
            "metadata": {"name": "report", "namespace": "batch"},
            "spec": {
                "completions": 2,
                "template": {
                    "metadata": {"labels": {"app": "report"}},
                    "spec": {
                        "restartPolicy": "Never",
                        "containers": [{"name": "report", "image": "example/report:1"}],
                    },
                },
            },
        },
    )
    job = await eventually(
        lambda: (
            (store.require("batch/jobs", "batch", "report").get("status") or {}).get("succeeded") == 2
            and store.require("batch/jobs", "batch", "report")
        )
    )
    assert {c["type"] for c in job["status"]["conditions"]} >= {"Complete"}
    pods = store.list("pods", "batch")
    assert [p["status"]["phase"] for p in pods] == ["Succeeded", "Succeeded"]
    assert {revision_of(p) for p in pods} == {OLD}


async def test_pod_churn_changes_pods_and_the_controllers_ignore_it(cluster: Store) -> None:
    """What churn changes; its rate and cost per change are measured by benchmarks/churn.py."""
    store = cluster
    store.create("namespaces", {"metadata": {"name": "shop"}})
    store.create(DEPLOY, deployment("web", "shop", 5))
    await eventually(lambda: rolled_out(store, "shop", "web"))
    rs_rv = store.list(RS, "shop")[0]["metadata"]["resourceVersion"]
    churn = PodChurn(store, 1000)
    churn.start()
    await eventually(lambda: churn.changes >= 300, what="churn")
    await churn.stop()
    assert store.list(RS, "shop")[0]["metadata"]["resourceVersion"] == rs_rv  # controllers ignored it
    assert all("sim.meshtui.io/churn" in p["metadata"]["annotations"] for p in store.list("pods", "shop"))


def test_rollout_restart_through_the_api(sim_factory: Callable[..., Any]) -> None:
    """The same restart, driven by the official client against SimCluster (what the product does)."""
    settings = SimSettings(pod_ready_delay=0.03, pod_termination_delay=0.02)

    def setup(store: Store) -> None:
        istio.install_revision(store, OLD, "1.22.3", set_default_tag=False)
        istio.install_revision(store, NEW, "1.23.1", set_default_tag=False)
        store.create("namespaces", {"metadata": {"name": "shop", "labels": {"istio.io/rev": OLD}}})
        store.create(DEPLOY, deployment("web", "shop", 3))
        settle(store, settings)

    sim = sim_factory(setup=setup, settings=settings, controllers=True)
    from kubernetes import client

    core = client.CoreV1Api(sim.api)
    apps = client.AppsV1Api(sim.api)

    def revisions() -> set[str | None]:
        pods = core.list_namespaced_pod("shop").items
        return {json.loads(p.metadata.annotations["sidecar.istio.io/status"])["revision"] for p in pods}

    assert revisions() == {OLD}
    core.patch_namespace("shop", {"metadata": {"labels": {"istio.io/rev": NEW}}})
    apps.patch_namespaced_deployment(
        "web",
        "shop",
        {
            "spec": {
                "template": {
                    "metadata": {"annotations": {"kubectl.kubernetes.io/restartedAt": datetime.now(UTC).isoformat()}}
                }
            }
        },
    )

    def rolled_out() -> bool:
        d = apps.read_namespaced_deployment("web", "shop")
        st = d.status
        return bool(
            st.observed_generation == d.metadata.generation
            and st.updated_replicas == st.ready_replicas == st.available_replicas == st.replicas == 3
            and revisions() == {NEW}
        )

    wait_until(rolled_out, timeout=15, what="the rollout through the API")
    assert len(core.list_namespaced_pod("shop").items) == 3
