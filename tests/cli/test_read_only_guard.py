"""Read-only is enforced where every request passes: a read-only connection refuses any write unsent.

Whatever code path asks (the product's RawApi, the official client's typed APIs, the record and lock
stores, an access review, a dry run, an installer program), nothing but GET reaches the server; the
simulator's request log is the witness.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from kubernetes import client

from meshtui.cluster.errors import ReadOnlyViolation
from meshtui.cluster.kubeconfig import ClusterTarget, connect
from meshtui.cluster.rawapi import RawApi
from meshtui.engine.session import EngineSession
from meshtui.sim.runtime import SimCluster
from tests.helpers import start_sim


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[tuple[SimCluster, list[ClusterTarget]]]:
    sim = start_sim("demo")
    targets = connect(str(sim.kubeconfig(tmp_path / "kubeconfig")), None, read_only=True)
    try:
        yield sim, targets
    finally:
        for t in targets:
            t.api_client.close()
        sim.stop()


def sent_writes(sim: SimCluster) -> list[str]:
    return [f"{r.method} {r.path}" for r in sim.faults.requests() if r.method not in ("GET", "HEAD")]


@pytest.mark.parametrize(
    ("method", "path", "query"),
    [
        ("PATCH", "/api/v1/namespaces/shop", []),
        ("PATCH", "/api/v1/namespaces/shop", [("dryRun", "All")]),
        ("POST", "/api/v1/namespaces/istio-system/configmaps", []),
        ("PUT", "/apis/coordination.k8s.io/v1/namespaces/istio-system/leases/meshtui-upgrade-lock", []),
        ("DELETE", "/api/v1/namespaces/batch/pods/debug-shell", []),
        ("POST", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", []),
    ],
)
def test_raw_writes_are_refused_unsent(
    demo: tuple[SimCluster, list[ClusterTarget]], method: str, path: str, query: list[tuple[str, str]]
) -> None:
    sim, targets = demo
    api = RawApi(targets[0].api_client, targets[0].name)
    sim.faults.clear_log()
    with pytest.raises(ReadOnlyViolation) as refused:
        api.request(method, path, query=list(query), body={"metadata": {"labels": {"x": "y"}}})
    assert refused.value.exit_code == 1
    assert sent_writes(sim) == []
    assert api.request("GET", "/api/v1/namespaces/shop")["metadata"]["name"] == "shop", "reads still work"


def test_the_official_clients_typed_apis_are_refused_too(demo: tuple[SimCluster, list[ClusterTarget]]) -> None:
    sim, targets = demo
    core = client.CoreV1Api(targets[0].api_client)
    sim.faults.clear_log()
    with pytest.raises(ReadOnlyViolation):
        core.patch_namespace("shop", {"metadata": {"labels": {"istio.io/rev": "1-23-1"}}})
    with pytest.raises(ReadOnlyViolation):
        core.delete_namespaced_pod("debug-shell", "batch")
    assert sent_writes(sim) == []


def test_a_session_on_a_read_only_connection_is_read_only_and_starts_no_installer(
    demo: tuple[SimCluster, list[ClusterTarget]], tmp_path: Path
) -> None:
    sim, targets = demo
    marker = tmp_path / "installer-ran"
    session = EngineSession(targets, None)  # read_only not passed: the connection decides
    try:
        assert session.read_only
        code, why = session.runner(["/bin/sh", "-c", f"touch {marker}"], 5.0)
        assert code != 0 and "read-only" in why
        assert not marker.exists()
        sim.faults.clear_log()
        session.refresh()
        assert sent_writes(sim) == []
    finally:
        session.close()
