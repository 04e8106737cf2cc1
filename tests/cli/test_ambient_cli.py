"""`meshtui upgrade ambient` as an operator runs it: plan, dry run, apply; istio-cni and ztunnel move in place."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from kubernetes import client

from meshtui.sim import scenarios
from tests.engine.support import IDENTITY, Mesh, _isolated, cli, mesh_factory

__all__ = ["_isolated", "mesh_factory"]

OLD, NEW = scenarios.AMBIENT_OLD, scenarios.AMBIENT_NEW
NEW_V, OLD_V = scenarios.AMBIENT_NEW_VERSION, scenarios.AMBIENT_OLD_VERSION


def xds(mesh: Mesh) -> set[str]:
    pods = client.CoreV1Api(mesh.api).list_namespaced_pod("istio-system", label_selector="app=ztunnel").items
    return {
        next(e.value for e in p.spec.containers[0].env if e.name == "XDS_ADDRESS")
        for p in pods
        if not p.metadata.deletion_timestamp
    }


def test_upgrade_ambient_plans_then_applies_node_by_node(mesh_factory: Callable[..., Mesh], tmp_path: Path) -> None:
    mesh = mesh_factory("ambient")
    folder = tmp_path / "m"
    rendered = cli("sim", "render-revision", "--version", NEW_V, "--ambient", "--out", str(folder))
    assert rendered.returncode == 0 and f"ambient-{NEW}.yaml" in rendered.stdout, rendered.stderr
    start = cli("upgrade", "start", "--source", OLD, "--target", NEW, "--yes", kubeconfig=mesh.kubeconfig)
    assert start.returncode == 0, start.stdout + start.stderr

    shown = cli("upgrade", "ambient", "--manifests", str(folder), kubeconfig=mesh.kubeconfig)
    assert shown.returncode == 0, shown.stdout + shown.stderr
    assert "node sim-node-1: ztunnel replaced by 1.30.3" in shown.stdout
    assert "connections at risk" in shown.stdout and "resets long-lived connections" in shown.stdout
    assert "Not applied: add --yes" in shown.stdout
    assert xds(mesh) == {f"istiod-{OLD}.istio-system.svc:15012"}

    only = cli("upgrade", "ambient", "--external", "--component", "ztunnel", kubeconfig=mesh.kubeconfig)
    assert "istio-cni-node" not in only.stdout and "DaemonSet istio-system/ztunnel" in only.stdout

    done = cli("upgrade", "ambient", "--manifests", str(folder), "--yes", kubeconfig=mesh.kubeconfig)
    assert done.returncode == 0, done.stdout + done.stderr
    assert xds(mesh) == {f"istiod-{NEW}.istio-system.svc:15012"}
    record = mesh.record()
    assert record is not None
    nodes = [e for e in record.journal if e.action == "ambient" and e.message.startswith("node ")]
    assert len(nodes) == 6 and all(e.identity == IDENTITY and e.result == "applied" for e in nodes)

    # Rolling back: the source's istio-cni and ztunnel, ztunnel configured against the source again.
    old_folder = tmp_path / "old"
    rendered = cli("sim", "render-revision", "--version", OLD_V, "--ambient", "--out", str(old_folder))
    assert rendered.returncode == 0, rendered.stderr
    wrong = cli("upgrade", "ambient", "--back", "--manifests", str(folder), "--yes", kubeconfig=mesh.kubeconfig)
    assert wrong.returncode != 0 and f"is not for {OLD}" in wrong.stdout + wrong.stderr
    back = cli("upgrade", "ambient", "--back", "--manifests", str(old_folder), "--yes", kubeconfig=mesh.kubeconfig)
    assert back.returncode == 0, back.stdout + back.stderr
    assert xds(mesh) == {f"istiod-{OLD}.istio-system.svc:15012"}


def test_plan_ambient_prints_the_node_steps(mesh_factory: Callable[..., Mesh], tmp_path: Path) -> None:
    mesh = mesh_factory("ambient")
    folder = tmp_path / "m"
    assert cli("sim", "render-revision", "--version", NEW_V, "--ambient", "--out", str(folder)).returncode == 0
    unstarted = cli(
        "plan", "ambient", "--source", OLD, "--target", NEW, "--manifests", str(folder), kubeconfig=mesh.kubeconfig
    )
    assert unstarted.returncode != 0 and "no upgrade has been started" in unstarted.stdout + unstarted.stderr
    start = cli("upgrade", "start", "--source", OLD, "--target", NEW, "--yes", kubeconfig=mesh.kubeconfig)
    assert start.returncode == 0, start.stdout + start.stderr
    done = cli(
        "plan", "ambient", "--source", OLD, "--target", NEW, "--manifests", str(folder), kubeconfig=mesh.kubeconfig
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "apply DaemonSet istio-system/ztunnel" in done.stdout
    assert done.stdout.count("wait for DaemonSet istio-system/ztunnel: node") == 3
