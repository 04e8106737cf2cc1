"""The engine's headless runs, upgrade and rollback, on the simulator and on a real kube-apiserver.

Each run drives `meshtui upgrade ...` as a subprocess, as an operator or a pipeline does, against a
cluster of its own (`dedicated_backend`). The engine cannot be scoped to some namespaces: the upgrade
commands have no namespace filter (`--namespace-filter` only filters the dashboard's view), `--all` means
every namespace, and the gates, the tags, the default revision and the webhook configurations are
cluster-wide. On the shared backends the other tests' Istio installs (another `default` tag) and
injected namespaces would be part of the mesh and block Upgrade/Rollback.

The mesh is set up through the API the same way on both backends: revision 1-22-3 installed (istiod,
its webhooks, the tags `default` and `prod-stable`), namespaces asking for it three ways
(`istio-injection=enabled`, `istio.io/rev=1-22-3`, `istio.io/rev=prod-stable`) with a Deployment, a
StatefulSet and a DaemonSet, and an injected gateway pinned to 1-22-3 by its pod template. The target is
installed by the `manifests` installer from `meshtui sim render-revision` output (on the real server its
injector webhooks are pointed at the test's webhook server, which stands in for istiod). Every
assertion reads the cluster afresh with the official client.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kubernetes import client
from realapi.harness import await_list, await_object, is_ready

from meshtui.engine.record import UpgradeRecord
from meshtui.sim import istio
from tests.engine.support import IDENTITY, cli, render
from tests.helpers import wait_until

from .backends import NODES, Backend, node_names
from .istio_setup import control_plane_objects, injected_revision

OLD_VERSION, OLD = "1.22.3", "1-22-3"
NEW_VERSION, NEW = "1.23.1", "1-23-1"
ISTIO_NS = istio.ISTIO_NAMESPACE
REV = "istio.io/rev"
INJECTION = "istio-injection"
#: Result words of journal entries that mean something went wrong.
BAD_RESULTS = ("conflict", "denied", "failed", "aborted", "refused")

Obj = dict[str, Any]


def source(store: Any) -> None:
    """istioctl install of 1-22-3, then `istioctl tag set default|prod-stable --revision 1-22-3`."""
    istio.install_revision(store, OLD, OLD_VERSION, set_default_tag=False)
    istio.set_tag(store, "default", OLD)
    istio.set_tag(store, "prod-stable", OLD)


# -- the mesh ---------------------------------------------------------------------------------------------


def _template(name: str, labels: dict[str, str] | None = None, annotations: dict[str, str] | None = None) -> Obj:
    meta: Obj = {"labels": {"app": name, **(labels or {})}}
    if annotations:
        meta["annotations"] = annotations
    image = "auto" if name == "ingress" else f"registry.example.com/{name}:1.0"
    container = "istio-proxy" if name == "ingress" else name
    return {"metadata": meta, "spec": {"containers": [{"name": container, "image": image}]}}


def deployment(name: str, replicas: int, **template: Any) -> Obj:
    return {
        "metadata": {"name": name, "labels": {"app": name}},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": _template(name, **template),
        },
    }


def statefulset(name: str, replicas: int) -> Obj:
    return {
        "metadata": {"name": name, "labels": {"app": name}},
        "spec": {
            "replicas": replicas,
            "serviceName": name,
            "selector": {"matchLabels": {"app": name}},
            "template": _template(name),
            "updateStrategy": {"type": "RollingUpdate"},
        },
    }


def daemonset(name: str) -> Obj:
    return {
        "metadata": {"name": name, "labels": {"app": name}},
        "spec": {
            "selector": {"matchLabels": {"app": name}},
            "template": _template(name),
            "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1}},
        },
    }


@dataclass
class Mesh:
    """The test's mesh: its namespaces (by role), their first labels and how many pods each runs."""

    backend: Backend
    api: client.ApiClient
    ns: dict[str, str] = field(default_factory=dict)
    labels: dict[str, dict[str, str]] = field(default_factory=dict)
    pods: dict[str, int] = field(default_factory=dict)
    uids: dict[str, set[str]] = field(default_factory=dict)

    @property
    def core(self) -> client.CoreV1Api:
        return client.CoreV1Api(self.api)

    @property
    def apps(self) -> client.AppsV1Api:
        return client.AppsV1Api(self.api)

    def upgrade(self, *args: str) -> subprocess.CompletedProcess[str]:
        """`meshtui upgrade ARGS --kubeconfig K` as a subprocess; must exit 0."""
        done = cli("upgrade", *args, kubeconfig=self.backend.kubeconfig, timeout=180)
        assert done.returncode == 0, (
            f"meshtui upgrade {' '.join(args)}: exit {done.returncode}\nSTDOUT:\n{done.stdout}\nSTDERR:\n{done.stderr}"
        )
        assert "Traceback" not in done.stderr, done.stderr
        return done

    def list_pods(self, namespace: str) -> list[Obj]:
        resp = self.core.list_namespaced_pod(namespace, _preload_content=False)
        return list(json.loads(resp.data)["items"])

    def settled(self, role: str, revision: str) -> list[Obj]:
        """The pods of a namespace once there are as many as planned, all Ready, injected by ``revision``,
        none terminating (waking on watch events)."""

        def done(pods: list[Obj]) -> bool:
            return len(pods) == self.pods[role] and all(
                is_ready(p) and not p["metadata"].get("deletionTimestamp") and injected_revision(p) == revision
                for p in pods
            )

        return await_list(self.core.list_namespaced_pod, self.ns[role], done, timeout=60)

    def record(self) -> UpgradeRecord:
        cm = self.core.read_namespaced_config_map("meshtui-upgrade", ISTIO_NS)
        return UpgradeRecord.from_configmap_data(dict(cm.data or {}))


def install_source(backend: Backend) -> None:
    """Install the source control plane (1-22-3 with its tags) and wait until its istiod is available."""
    backend.install_control_plane(control_plane_objects(source))
    await_object(
        client.AppsV1Api(backend.api_client()).list_namespaced_deployment,
        ISTIO_NS,
        f"istiod-{OLD}",
        lambda d: (d.get("status") or {}).get("availableReplicas") == 1,
    )


def build_mesh(backend: Backend) -> Mesh:
    """Install 1-22-3 and the applications, and wait until every pod runs a 1-22-3 sidecar."""
    mesh = Mesh(backend, backend.api_client())
    install_source(backend)
    layout = {
        "shop": ({INJECTION: "enabled"}, [deployment("web", 2)], 2),
        "payments": ({REV: OLD}, [deployment("api", 2), statefulset("ledger", 2)], 4),
        "ops": ({REV: "prod-stable"}, [daemonset("agent"), deployment("worker", 1)], NODES + 1),
        "gateways": (
            {},
            [
                deployment(
                    "ingress",
                    1,
                    labels={"istio": "ingress", REV: OLD},
                    annotations={"inject.istio.io/templates": "gateway"},
                )
            ],
            1,
        ),
    }
    policy = client.PolicyV1Api(mesh.api)
    for role, (labels, workloads, pods) in layout.items():
        name = backend.unique_namespace(role, labels)
        backend.manage(name)
        mesh.ns[role], mesh.labels[role], mesh.pods[role] = name, labels, pods
        for obj in workloads:
            spec = obj["spec"]
            if "serviceName" in spec:
                mesh.apps.create_namespaced_stateful_set(name, obj)
            elif "replicas" not in spec:
                mesh.apps.create_namespaced_daemon_set(name, obj)
            else:
                mesh.apps.create_namespaced_deployment(name, obj)
    policy.create_namespaced_pod_disruption_budget(
        mesh.ns["shop"],
        {"metadata": {"name": "web"}, "spec": {"minAvailable": 1, "selector": {"matchLabels": {"app": "web"}}}},
    )
    for role in layout:
        mesh.uids[role] = {p["metadata"]["uid"] for p in mesh.settled(role, OLD)}
    return mesh


def target_manifests(backend: Backend, out: Path) -> Path:
    """1-23-1 rendered by `meshtui sim render-revision`, made installable on the backend."""
    render(NEW_VERSION, out)
    backend.prepare_manifests(out)
    return out


# -- what the cluster looks like afterwards ------------------------------------------------------------


def leftovers(api: client.ApiClient, revision: str) -> list[str]:
    """Every control-plane object of ``revision`` still in the cluster (by label, or named like it)."""
    core, apps = client.CoreV1Api(api), client.AppsV1Api(api)
    adm = client.AdmissionregistrationV1Api(api)
    rbac = client.RbacAuthorizationV1Api(api)
    policy = client.PolicyV1Api(api)
    sel = f"{REV}={revision}"
    found: list[str] = []
    for kind, items in (
        ("Deployment", apps.list_namespaced_deployment(ISTIO_NS, label_selector=sel).items),
        ("ReplicaSet", apps.list_namespaced_replica_set(ISTIO_NS, label_selector=sel).items),
        ("Pod", core.list_namespaced_pod(ISTIO_NS, label_selector=sel).items),
        ("Service", core.list_namespaced_service(ISTIO_NS, label_selector=sel).items),
        ("ConfigMap", core.list_namespaced_config_map(ISTIO_NS, label_selector=sel).items),
        ("ServiceAccount", core.list_namespaced_service_account(ISTIO_NS, label_selector=sel).items),
        ("PodDisruptionBudget", policy.list_namespaced_pod_disruption_budget(ISTIO_NS, label_selector=sel).items),
        ("MutatingWebhookConfiguration", adm.list_mutating_webhook_configuration(label_selector=sel).items),
        ("ValidatingWebhookConfiguration", adm.list_validating_webhook_configuration(label_selector=sel).items),
        ("ClusterRole", rbac.list_cluster_role().items),
        ("ClusterRoleBinding", rbac.list_cluster_role_binding().items),
        ("Role", rbac.list_namespaced_role(ISTIO_NS).items),
        ("RoleBinding", rbac.list_namespaced_role_binding(ISTIO_NS).items),
    ):
        for item in items:
            name = item.metadata.name
            if kind.endswith(("Role", "RoleBinding")) and f"-{revision}" not in name:
                continue
            found.append(f"{kind} {name}")
    return sorted(found)


def tags(api: client.ApiClient) -> dict[str, str]:
    """Tag -> the revision its MutatingWebhookConfiguration resolves to."""
    adm = client.AdmissionregistrationV1Api(api)
    return {
        m.metadata.labels["istio.io/tag"]: m.metadata.labels[REV]
        for m in adm.list_mutating_webhook_configuration(label_selector="istio.io/tag").items
    }


def namespace_labels(mesh: Mesh, role: str) -> dict[str, str]:
    labels = mesh.core.read_namespace(mesh.ns[role]).metadata.labels or {}
    return {k: v for k, v in labels.items() if k in (REV, INJECTION)}


def assert_workloads_on(mesh: Mesh, revision: str) -> None:
    """Every pod of the mesh was replaced and runs ``revision``'s sidecar; the workloads' rollouts are done."""
    for role in mesh.ns:
        pods = mesh.settled(role, revision)
        assert not {p["metadata"]["uid"] for p in pods} & mesh.uids[role], f"{role}: pods were not replaced"
        for pod in pods:
            status = json.loads(pod["metadata"]["annotations"]["sidecar.istio.io/status"])
            assert status["revision"] == revision
            proxy = next(c for c in pod["spec"]["containers"] if c["name"] == "istio-proxy")
            version = OLD_VERSION if revision == OLD else NEW_VERSION
            assert proxy["image"].endswith(f"/proxyv2:{version}"), proxy["image"]
    ledger = sorted(
        p["metadata"]["name"] for p in mesh.list_pods(mesh.ns["payments"]) if p["metadata"]["name"].startswith("ledger")
    )
    assert ledger == ["ledger-0", "ledger-1"], "a StatefulSet keeps its pods' names"
    sts = mesh.apps.read_namespaced_stateful_set("ledger", mesh.ns["payments"])
    assert sts.status.current_revision == sts.status.update_revision and sts.status.ready_replicas == 2
    agents = [p for p in mesh.list_pods(mesh.ns["ops"]) if p["metadata"]["name"].startswith("agent-")]
    assert sorted(p["spec"]["nodeName"] for p in agents) == sorted(node_names(NODES)), "one agent per node"
    ds = mesh.apps.read_namespaced_daemon_set("agent", mesh.ns["ops"])
    assert (ds.status.updated_number_scheduled, ds.status.number_ready) == (NODES, NODES)


def assert_journal(mesh: Mesh, record: UpgradeRecord, story: list[str]) -> None:
    """The journal tells the story in order, by the test's operator, with no failed or refused step, and
    names every workload the restarts rolled."""
    context = context_name(mesh.backend)
    actions = [e.action for e in record.journal]
    positions = [actions.index(a) for a in story]
    assert positions == sorted(positions), actions
    assert not [e for e in record.journal if e.result in BAD_RESULTS], [
        (e.action, e.result, e.message) for e in record.journal if e.result in BAD_RESULTS
    ]
    assert all(e.identity == IDENTITY and e.cluster == context for e in record.journal)
    restarted = {o for e in record.journal if e.action == "restart" and e.result == "applied" for o in e.objects}
    for kind, role, name in (
        ("Deployment", "shop", "web"),
        ("Deployment", "payments", "api"),
        ("StatefulSet", "payments", "ledger"),
        ("DaemonSet", "ops", "agent"),
        ("Deployment", "ops", "worker"),
    ):
        assert f"{kind} {mesh.ns[role]}/{name}" in restarted, (kind, role, restarted)


def context_name(backend: Backend) -> str:
    from kubernetes.config.kube_config import list_kube_config_contexts

    _, current = list_kube_config_contexts(str(backend.kubeconfig))
    return str(current["name"])


# -- the runs --------------------------------------------------------------------------------------------


def accept_unknown_sync(backend: Backend) -> list[str]:
    """On the real API server no istiod runs behind the Service, so proxy-sync is unknown: the operator accepts it."""
    if backend.name == "sim":
        return []
    return ["--skip-verify", "proxy-sync cannot be reached: no istiod process runs in the conformance harness"]


def prepare(mesh: Mesh, manifests: Path) -> None:
    """start, install, switch every namespace, move both tags, restart every workload."""
    started = mesh.upgrade("start", "--target", NEW, "--yes")
    assert f"Upgrade {OLD} -> {NEW} recorded" in started.stdout
    mesh.upgrade("install", "--manifests", str(manifests), "--yes")
    mesh.upgrade("switch", "--all", "--yes")
    for role in ("shop", "payments", "ops"):
        assert namespace_labels(mesh, role) == {REV: NEW}, role
    mesh.upgrade("move-tag", "default", "--to", NEW, "--yes")
    mesh.upgrade("move-tag", "prod-stable", "--to", NEW, "--yes")
    mesh.upgrade("restart", "--all", "--batch", "3", "--yes")


def test_headless_upgrade_takes_the_mesh_to_the_target(dedicated_backend: Backend, tmp_path: Path) -> None:
    mesh = build_mesh(dedicated_backend)
    prepare(mesh, target_manifests(dedicated_backend, tmp_path / "m123"))
    gateways = mesh.upgrade("gateways", "--yes")
    assert f"Deployment {mesh.ns['gateways']}/ingress" in gateways.stdout
    verify = cli("upgrade", "verify", kubeconfig=dedicated_backend.kubeconfig, timeout=180)
    # A check that cannot run is not a pass: exit 6 on the real API server (no istiod behind the Service).
    assert verify.returncode == (0 if dedicated_backend.name == "sim" else 6), verify.stderr
    for check in ("pods-ready", "no-restarts", "no-crashloop", "proxy-version", "istiod"):
        assert f"PASS     {check}" in verify.stdout, verify.stdout
    if dedicated_backend.name == "sim":
        assert "PASS     proxy-sync" in verify.stdout, verify.stdout
    else:  # no istiod process behind the Service: the service proxy cannot reach /debug/syncz
        assert "UNKNOWN  proxy-sync" in verify.stdout and "unreachable" in verify.stdout, verify.stdout
    done = mesh.upgrade("complete", "--yes", "--confirm-revision", OLD, *accept_unknown_sync(dedicated_backend))
    assert f"Revision {OLD} is offline; the upgrade is completed." in done.stdout

    for role in ("shop", "payments", "ops"):
        assert namespace_labels(mesh, role) == {REV: NEW}, role
    assert namespace_labels(mesh, "gateways") == {}
    assert_workloads_on(mesh, NEW)
    ingress = mesh.apps.read_namespaced_deployment("ingress", mesh.ns["gateways"])
    assert ingress.spec.template.metadata.labels[REV] == NEW
    assert tags(mesh.api) == {"default": NEW, "prod-stable": NEW}
    wait_until(lambda: not leftovers(mesh.api, OLD), timeout=20, what=f"every object of {OLD} to be gone")
    assert leftovers(mesh.api, NEW), "the target's control plane stays"
    record = mesh.record()
    assert record.phase == "completed" and record.finish_choice == "upgrade" and record.finished
    assert (record.source, record.target) == (OLD, NEW)
    story = ["start", "deploy", "switch", "move-tag", "restart", "gateways", "verify", "upgrade", "finish"]
    assert_journal(mesh, record, story)


def test_headless_rollback_brings_everything_back_to_the_source(dedicated_backend: Backend, tmp_path: Path) -> None:
    mesh = build_mesh(dedicated_backend)
    prepare(mesh, target_manifests(dedicated_backend, tmp_path / "m123"))
    mesh.upgrade("gateways", "--yes")
    assert_workloads_on(mesh, NEW)
    mesh.uids = {role: {p["metadata"]["uid"] for p in mesh.list_pods(mesh.ns[role])} for role in mesh.ns}
    done = mesh.upgrade("rollback", "--yes", "--confirm-revision", NEW, *accept_unknown_sync(dedicated_backend))
    assert f"Revision {NEW} is offline; the upgrade is cancelled (rolled back)." in done.stdout

    for role in mesh.ns:
        assert namespace_labels(mesh, role) == mesh.labels[role], role
    assert_workloads_on(mesh, OLD)
    ingress = mesh.apps.read_namespaced_deployment("ingress", mesh.ns["gateways"])
    assert ingress.spec.template.metadata.labels[REV] == OLD
    assert tags(mesh.api) == {"default": OLD, "prod-stable": OLD}
    wait_until(lambda: not leftovers(mesh.api, NEW), timeout=20, what=f"every object of {NEW} to be gone")
    assert leftovers(mesh.api, OLD), "the source's control plane stays"
    record = mesh.record()
    assert record.phase == "cancelled" and record.finish_choice == "rollback" and record.finished
    story = ["start", "deploy", "switch", "move-tag", "restart", "gateways", "switch-back", "gateways-back"]
    assert_journal(mesh, record, [*story, "rollback", "finish"])
    actions = [e.action for e in record.journal]
    back = actions.index("switch-back")
    assert "restart" in actions[back:] and actions.index("move-tag", actions.index("gateways")) < back, actions
