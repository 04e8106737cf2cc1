"""The ambient step on the simulator and on a real kube-apiserver: istio-cni then ztunnel in place, node by node.

istio-cni and ztunnel of the source are created through the API as `helm install` would (the simulator's
chart-shaped rendering, `meshtui.sim.render.render_ambient`), the target istiod is deployed by the CLI
from rendered manifests, then the engine's `ambient` action applies the target's istio-cni and ztunnel
manifests and waits for each node. An ambient namespace's pods (marked as istio-cni marks them) are the
connections at risk. Every assertion reads the cluster afresh with the official client.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml
from kubernetes import client
from realapi.harness import await_object

from meshtui.cluster.kubeconfig import connect
from meshtui.cluster.oneshot import load_once
from meshtui.domain.inventory import Inventory
from meshtui.engine.executor import RunControl
from meshtui.engine.installers import InstallerSpec
from meshtui.engine.params import AmbientParams
from meshtui.engine.session import EngineSession
from meshtui.sim.render import render_ambient
from tests.engine.support import cli

from .backends import NODES, Backend, node_names
from .test_engine_runs import ISTIO_NS, NEW, NEW_VERSION, OLD, OLD_VERSION, install_source, target_manifests

REDIRECTION = "ambient.istio.io/redirection"


def create(api: client.ApiClient, obj: dict[str, Any]) -> None:
    """Create one typed istio-cni / ztunnel object (ServiceAccount, ConfigMap or DaemonSet) in its namespace."""
    core, apps = client.CoreV1Api(api), client.AppsV1Api(api)
    body = dict(obj)
    ns = obj["metadata"]["namespace"]
    if obj["kind"] == "ServiceAccount":
        core.create_namespaced_service_account(ns, body)
    elif obj["kind"] == "ConfigMap":
        core.create_namespaced_config_map(ns, body)
    elif obj["kind"] == "DaemonSet":
        apps.create_namespaced_daemon_set(ns, body)
    else:
        raise AssertionError(f"unexpected kind {obj['kind']}")


def ztunnel_pods(api: client.ApiClient) -> list[Any]:
    pods = client.CoreV1Api(api).list_namespaced_pod(ISTIO_NS, label_selector="app=ztunnel").items
    return [p for p in pods if not p.metadata.deletion_timestamp]


def env(pod: Any, name: str) -> str:
    return next(e.value for e in pod.spec.containers[0].env if e.name == name)


def session_on(backend: Backend) -> tuple[EngineSession, Any]:
    targets = connect(str(backend.kubeconfig))
    inventory = Inventory()
    for t in targets:
        inventory.add_cluster(t.name, t.server)
    load_once(targets, inventory)
    view = inventory.view(OLD, NEW)
    session = EngineSession(targets, view, source=OLD, target=NEW)
    session.refresh()
    return session, view


def run_cli(backend: Backend, *args: str) -> str:
    done = cli(*args, kubeconfig=backend.kubeconfig, timeout=180)
    assert done.returncode == 0, f"meshtui {' '.join(args)}: exit {done.returncode}\n{done.stdout}\n{done.stderr}"
    return done.stdout


def test_ambient_step_upgrades_istio_cni_then_ztunnel_node_by_node(dedicated_backend: Backend, tmp_path: Path) -> None:
    backend = dedicated_backend
    api = backend.api_client()
    apps, core = client.AppsV1Api(api), client.CoreV1Api(api)
    install_source(backend)
    for obj in render_ambient(OLD_VERSION, OLD):
        create(api, obj)
    # An ambient namespace whose pods istio-cni enrolled (the real server has no istio-cni: the template
    # carries the mark istio-cni would add).
    shop = backend.unique_namespace("shop", {"istio.io/dataplane-mode": "ambient"})
    backend.manage(shop)
    nodes = sorted(node_names(NODES))
    for i in range(3):  # bound to nodes directly: the real server here has no scheduler
        core.create_namespaced_pod(
            shop,
            {
                "metadata": {"name": f"web-{i}", "labels": {"app": "web"}, "annotations": {REDIRECTION: "enabled"}},
                "spec": {
                    "nodeName": nodes[i % len(nodes)],
                    "containers": [{"name": "web", "image": "registry.example.com/web:1.0"}],
                },
            },
        )
    await_object(
        apps.list_namespaced_daemon_set,
        ISTIO_NS,
        "ztunnel",
        lambda d: (d.get("status") or {}).get("numberReady") == NODES,
    )

    run_cli(backend, "upgrade", "start", "--target", NEW, "--yes")
    run_cli(backend, "upgrade", "install", "--manifests", str(target_manifests(backend, tmp_path / "m")), "--yes")
    folder = tmp_path / "ambient"
    folder.mkdir()
    (folder / "ambient.yaml").write_text(yaml.safe_dump_all(render_ambient(NEW_VERSION, NEW), sort_keys=False))

    def upgrade_conditions() -> set[str]:
        status = json.loads(run_cli(backend, "status", "--json", "--source", OLD, "--target", NEW))
        return {c["code"] for c in status["upgrade"]["actions"]["upgrade"]["conditions"]}

    assert "ztunnel" in upgrade_conditions(), "Upgrade waits for ztunnel to use the target"
    session, view = session_on(backend)
    try:
        plan = session.plan(view, AmbientParams(installer=InstallerSpec("manifests", str(folder), timeout=120)))
        assert not plan.refused, plan.refusals
        waits = [(op.name, op.body["node"]) for op in plan.operations if op.verb == "wait"]
        assert waits == [("istio-cni-node", n) for n in nodes] + [("ztunnel", n) for n in nodes]
        at_risk = dict.fromkeys(nodes, 0)
        for pod in core.list_namespaced_pod(shop).items:
            at_risk[pod.spec.node_name] += 1
        assert sorted(at_risk.values()) == [1, 2]
        for op in plan.operations:
            if op.verb == "wait" and op.name == "ztunnel":
                assert op.body["at_risk"] == at_risk[op.body["node"]]
        dry = session.dry_run(plan)
        assert dry.ok, [(s.operation.describe(), s.result, s.message) for s in dry.steps]
        assert {env(p, "XDS_ADDRESS") for p in ztunnel_pods(api)} == {f"istiod-{OLD}.{ISTIO_NS}.svc:15012"}

        app_pods = sorted(p.metadata.uid for p in core.list_namespaced_pod(shop).items)
        outcome = session.run(plan, RunControl(), lambda p: None)
        assert outcome.ok, outcome.stopped_by
    finally:
        session.close()
    pods = ztunnel_pods(api)
    assert sorted(p.spec.node_name for p in pods) == nodes
    assert {env(p, "XDS_ADDRESS") for p in pods} == {f"istiod-{NEW}.{ISTIO_NS}.svc:15012"}
    assert {p.spec.containers[0].image for p in pods} == {f"docker.io/istio/ztunnel:{NEW_VERSION}"}
    cni = [p for p in core.list_namespaced_pod(ISTIO_NS, label_selector="k8s-app=istio-cni-node").items]
    assert {p.spec.containers[0].image for p in cni if not p.metadata.deletion_timestamp} == {
        f"docker.io/istio/install-cni:{NEW_VERSION}"
    }
    assert "ztunnel" not in upgrade_conditions(), "ztunnel no longer holds Upgrade back"
    # Application pods are not restarted by an in-place ztunnel/istio-cni upgrade.
    assert sorted(p.metadata.uid for p in core.list_namespaced_pod(shop).items) == app_pods
