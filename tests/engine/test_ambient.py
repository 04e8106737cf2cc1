"""The ambient step against the simulator: istio-cni then ztunnel in place, node by node; tags with their Services."""

from __future__ import annotations

import json
import stat
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from meshtui.engine import ambient
from meshtui.engine.api import Progress
from meshtui.engine.executor import RunControl, StepResult
from meshtui.engine.installers import InstallerSpec
from meshtui.engine.params import AmbientParams, DeployParams, MoveTagParams, RestartParams, StartParams
from meshtui.engine.session import EngineSession
from meshtui.sim import ambient as sim_ambient
from meshtui.sim import scenarios
from meshtui.sim.render import write_manifests
from tests.engine.support import Mesh, open_session
from tests.helpers import wait_until

OLD, NEW = scenarios.AMBIENT_OLD, scenarios.AMBIENT_NEW
OLD_V, NEW_V = scenarios.AMBIENT_OLD_VERSION, scenarios.AMBIENT_NEW_VERSION
NODES = ["sim-node-1", "sim-node-2", "sim-node-3"]


@pytest.fixture
def mesh(mesh_factory: Callable[..., Mesh]) -> Mesh:
    return mesh_factory("ambient")


def started(mesh: Mesh) -> EngineSession:
    session, view = open_session(mesh, source=OLD, target=NEW)
    outcome = session.run(session.plan(view, StartParams()), RunControl(), lambda p: None)
    assert outcome.ok, outcome.steps
    return session


def ztunnels(mesh: Mesh) -> dict[str, str]:
    """node -> XDS_ADDRESS of the live ztunnel pods (several on a node while one surges)."""
    out: dict[str, str] = {}
    for pod in mesh.core.list_namespaced_pod("istio-system", label_selector="app=ztunnel").items:
        if pod.metadata.deletion_timestamp:
            continue
        env = {e.name: e.value for e in pod.spec.containers[0].env if e.value is not None}
        out[pod.spec.node_name] = env["XDS_ADDRESS"]
    return out


def enrolled_per_node(mesh: Mesh) -> dict[str, int]:
    counts = dict.fromkeys(NODES, 0)
    for pod in mesh.core.list_pod_for_all_namespaces().items:
        if (pod.metadata.annotations or {}).get(sim_ambient.REDIRECTION) == "enabled":
            counts[pod.spec.node_name] += 1
    return counts


def test_manifests_upgrade_istio_cni_then_ztunnel_node_by_node(mesh: Mesh, tmp_path: Path) -> None:
    folder = tmp_path / "manifests"
    write_manifests(folder, NEW_V, NEW, with_ambient=True)
    session = started(mesh)
    view = mesh.view(OLD, NEW)
    spec = InstallerSpec("manifests", str(folder), timeout=60)

    # Deploying the target from the same folder leaves istio-cni and ztunnel to the ambient step.
    deploy = session.plan(view, DeployParams(installer=spec))
    assert not [op for op in deploy.operations if op.kind == "DaemonSet"]
    assert any("the ambient step upgrades them in place" in s for s in deploy.skipped)

    plan = session.plan(view, AmbientParams(installer=spec))
    assert not plan.refused, plan.refusals
    shape = [
        (op.verb, op.kind, op.name, (op.body or {}).get("node") if op.verb == "wait" else None)
        for op in plan.operations
    ]
    assert shape == [
        ("apply", "ServiceAccount", "istio-cni", None),
        ("apply", "ConfigMap", "istio-cni-config", None),
        ("apply", "DaemonSet", "istio-cni-node", None),
        *[("wait", "DaemonSet", "istio-cni-node", n) for n in NODES],
        ("apply", "ServiceAccount", "ztunnel", None),
        ("apply", "DaemonSet", "ztunnel", None),
        *[("wait", "DaemonSet", "ztunnel", n) for n in NODES],
    ]
    risk = enrolled_per_node(mesh)
    assert sum(risk.values()) > 0
    for op in plan.operations:
        if op.verb == "wait" and op.name == "ztunnel":
            n = risk[op.body["node"]]
            assert f"{n} ambient pod{'s' if n != 1 else ''}' connections at risk" in op.summary
    assert ambient.RESET_WARNING in plan.notes and ambient.PAUSE_NOTE in plan.notes

    dry = session.dry_run(plan)
    assert {s.result for s in dry.steps if s.operation.verb == "apply"} == {StepResult.DRY_RUN}
    assert {s.result for s in dry.steps if s.operation.verb == "wait"} == {StepResult.NOT_CHECKED}
    assert set(ztunnels(mesh).values()) == {f"istiod-{OLD}.istio-system.svc:15012"}, "a dry run changes nothing"

    seen: list[Progress] = []
    outcome = session.run(plan, RunControl(), seen.append)
    assert outcome.ok, outcome.stopped_by
    assert ztunnels(mesh) == dict.fromkeys(NODES, f"istiod-{NEW}.istio-system.svc:15012")
    images = {
        p.spec.containers[0].image
        for p in mesh.core.list_namespaced_pod("istio-system", label_selector="k8s-app=istio-cni-node").items
        if not p.metadata.deletion_timestamp
    }
    assert images == {f"docker.io/istio/install-cni:{NEW_V}"}
    record = mesh.record()
    assert record is not None
    waits = [e for e in record.journal if e.action == "ambient" and e.objects == ["DaemonSet istio-system/ztunnel"]]
    assert len([e for e in waits if e.result == "applied"]) >= len(NODES) + 1  # the apply and a wait per node
    session.close()


def test_an_external_upgrade_is_awaited_node_by_node_and_can_be_paused(mesh: Mesh) -> None:
    session = started(mesh)
    plan = session.plan(
        mesh.view(OLD, NEW), AmbientParams(installer=InstallerSpec("external", timeout=60), components=("ztunnel",))
    )
    assert [op.verb for op in plan.operations] == ["wait"] * len(NODES)
    control = RunControl()
    done: list[int] = []
    statuses: list[str] = []

    def progress(p: Progress) -> None:
        if p.done < 0:
            if p.message.startswith("ztunnel"):
                statuses.append(p.message)  # what the current node's wait is waiting for
            return
        done.append(p.done)
        if p.done == 1:
            control.pause()  # after the first node

    result: dict[str, object] = {}
    runner = threading.Thread(
        target=lambda: result.setdefault("out", session.run(plan, control, progress)), daemon=True
    )
    runner.start()
    try:
        # Nothing upgraded yet: the first node's wait says so and holds until the installer has run.
        wait_until(lambda: bool(statuses), what="the first node's wait reporting")
        mesh.store(lambda s: sim_ambient.install_ambient(s, NEW_V, NEW))
        wait_until(lambda: control.paused, what="paused after the first node")
        assert runner.is_alive() and done == [1], (done, statuses)
        assert "ztunnel on sim-node-1: the DaemonSet is not upgraded yet" in statuses[0]
        assert any(m.startswith("ztunnel on sim-node-1: upgraded") for m in statuses)
        control.resume()
        runner.join(timeout=60)
    finally:
        control.abort()
        runner.join(timeout=10)
    outcome = result["out"]
    assert outcome.ok, outcome.stopped_by  # type: ignore[attr-defined]
    assert done == [1, 2, 3]
    assert ztunnels(mesh) == dict.fromkeys(NODES, f"istiod-{NEW}.istio-system.svc:15012")
    session.close()


def test_refused_before_the_target_is_ready_and_without_an_ambient_data_plane(mesh: Mesh, fresh: Mesh) -> None:
    session, view = open_session(fresh, target="1-23-1")
    plan = session.plan(view, AmbientParams())
    assert plan.refused
    session2 = started(mesh)
    mesh.apps.patch_namespaced_deployment(f"istiod-{NEW}", "istio-system", {"spec": {"replicas": 0}})
    wait_until(lambda: not any(r.name == NEW and r.ready for r in mesh.view(OLD, NEW).revisions), what="not Ready")
    refused = session2.plan(mesh.view(OLD, NEW), AmbientParams())
    assert any("the control plane is upgraded before istio-cni and ztunnel" in r for r in refused.refusals)
    session.close()
    session2.close()


def test_helm_upgrades_each_chart_in_place_and_ztunnel_against_the_target(mesh: Mesh) -> None:
    session = started(mesh)
    spec = InstallerSpec("helm", "/opt/bin/helm", chart_version=NEW_V)
    plan = session.plan(mesh.view(OLD, NEW), AmbientParams(installer=spec))
    execs = [op.body for op in plan.operations if op.verb == "exec"]
    assert execs == [
        [
            "/opt/bin/helm",
            "upgrade",
            "istio-cni",
            "istio/cni",
            "--namespace",
            "istio-system",
            "--set",
            "profile=ambient",
            "--version",
            NEW_V,
            "--kube-context",
            "meshtui-sim",
        ],
        [
            "/opt/bin/helm",
            "upgrade",
            "ztunnel",
            "istio/ztunnel",
            "--namespace",
            "istio-system",
            "--set",
            f"revision={NEW}",
            "--version",
            NEW_V,
            "--kube-context",
            "meshtui-sim",
        ],
    ]
    assert any("without --reuse-values" in n for n in plan.notes)
    session.close()


def test_moving_a_tag_moves_its_tag_service_and_the_waypoints_it_owns(mesh: Mesh) -> None:
    session = started(mesh)
    plan = session.plan(mesh.view(OLD, NEW), MoveTagParams(tag="prod-stable", to=NEW))
    assert any(op.kind == "Service" and op.name == "istiod-revision-tag-prod-stable" for op in plan.operations)
    assert session.run(plan, RunControl(), lambda p: None).ok
    svc = mesh.core.read_namespaced_service("istiod-revision-tag-prod-stable", "istio-system")
    assert svc.metadata.labels["istio.io/rev"] == NEW
    assert svc.spec.selector == {"app": "istiod", "istio.io/rev": NEW}

    def waypoint_revisions() -> set[str]:
        pods = mesh.core.list_namespaced_pod("shop", label_selector="gateway.networking.k8s.io/gateway-name=waypoint")
        return {p.metadata.annotations["istio.io/rev"] for p in pods.items if not p.metadata.deletion_timestamp}

    wait_until(lambda: waypoint_revisions() == {NEW}, what="the shop waypoint on the new revision")
    session.close()


def test_restart_never_rolls_ztunnel_or_istio_cni(mesh: Mesh) -> None:
    session = started(mesh)
    plan = session.plan(mesh.view(OLD, NEW), RestartParams())
    assert not [op for op in plan.operations if op.namespace == "istio-system"], [o.describe() for o in plan.operations]
    assert any("DaemonSet istio-system/ztunnel: a node agent" in s for s in plan.skipped), plan.skipped
    session.close()


def test_refused_when_a_daemonset_would_never_roll_by_itself(mesh: Mesh) -> None:
    mesh.apps.patch_namespaced_daemon_set(
        "ztunnel", "istio-system", {"spec": {"updateStrategy": {"type": "OnDelete", "rollingUpdate": None}}}
    )
    session = started(mesh)
    plan = session.plan(mesh.view(OLD, NEW), AmbientParams(installer=InstallerSpec("external")))
    assert any("uses updateStrategy OnDelete" in r for r in plan.refusals), plan.refusals
    session.close()


FAKE_HELM = """#!{python}
# A stand-in for helm: `helm upgrade RELEASE CHART ... --kubeconfig PATH` replaces that release's DaemonSet
# with the rendered chart of the version and revision it is given, as `helm upgrade` would.
import json, sys
from kubernetes import client, config
from meshtui.sim.render import render_ambient

argv = sys.argv[1:]
json.dump(argv, open({log!r}, "a")); open({log!r}, "a").write("\\n")
release = argv[1]
kubeconfig = argv[argv.index("--kubeconfig") + 1]
version = argv[argv.index("--version") + 1]
revision = {new!r}
for i, a in enumerate(argv):
    if a == "--set" and argv[i + 1].startswith("revision="):
        revision = argv[i + 1].split("=", 1)[1]
apps = client.AppsV1Api(config.new_client_from_config(config_file=kubeconfig))
wanted = {{"istio-cni": "istio-cni-node", "ztunnel": "ztunnel"}}[release]
for obj in render_ambient(version, revision):
    if obj["kind"] == "DaemonSet" and obj["metadata"]["name"] == wanted:
        apps.patch_namespaced_daemon_set(wanted, "istio-system", {{"spec": {{"template": obj["spec"]["template"]}}}})
print("Release " + release + " has been upgraded. Happy Helming!")
"""


def test_helm_adapter_runs_each_release_then_waits_node_by_node(mesh: Mesh, tmp_path: Path) -> None:
    log = tmp_path / "helm.log"
    fake = tmp_path / "helm"
    fake.write_text(FAKE_HELM.format(python=sys.executable, log=str(log), new=NEW))
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    session = started(mesh)
    spec = InstallerSpec("helm", str(fake), chart_version=NEW_V, kubeconfig=str(mesh.kubeconfig), timeout=60)
    plan = session.plan(mesh.view(OLD, NEW), AmbientParams(installer=spec))
    assert [op.verb for op in plan.operations] == ["exec", *["wait"] * 3, "exec", *["wait"] * 3]
    outcome = session.run(plan, RunControl(), lambda p: None)
    assert outcome.ok, outcome.stopped_by
    releases = [json.loads(line)[1] for line in log.read_text().splitlines()]
    assert releases == ["istio-cni", "ztunnel"]
    assert ztunnels(mesh) == dict.fromkeys(NODES, f"istiod-{NEW}.istio-system.svc:15012")
    session.close()


def test_waiting_for_components_that_already_run_the_revision_is_nothing_to_do(mesh: Mesh) -> None:
    session = started(mesh)
    # Back to the source right after Begin: every istio-cni and ztunnel pod already runs it.
    back = session.plan(mesh.view(OLD, NEW), AmbientParams(installer=InstallerSpec("external"), to=OLD))
    assert back.operations == () and not back.refused, back.lines()
    assert sorted(back.skipped) == [
        f"istio-system/istio-cni-node: every istio-cni pod already runs {OLD_V}",
        f"istio-system/ztunnel: every ztunnel pod already runs {OLD_V}",
    ]
    # Towards the target, nothing runs it yet: one wait per node and component.
    forward = session.plan(mesh.view(OLD, NEW), AmbientParams(installer=InstallerSpec("external")))
    assert [op.verb for op in forward.operations] == ["wait"] * 2 * len(NODES)
    session.close()
