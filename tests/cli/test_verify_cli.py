"""`meshtui upgrade verify`: a check that cannot run is not a pass (exit 6), and the record says so."""

from __future__ import annotations

import json
from collections.abc import Callable

from tests.engine.support import Mesh, _isolated, cli, mesh_factory

__all__ = ["_isolated", "mesh_factory"]

NEW = "1-23-1"


def test_an_unknown_check_is_not_a_pass(mesh_factory: Callable[..., Mesh]) -> None:
    mesh = mesh_factory("demo")
    assert cli("upgrade", "start", "--yes", kubeconfig=mesh.kubeconfig).returncode == 0
    mesh.sim.faults.deny("get", "services/proxy")  # istiod's /debug/syncz cannot be read
    done = cli("upgrade", "verify", kubeconfig=mesh.kubeconfig)
    assert "UNKNOWN  proxy-sync" in done.stdout, done.stdout
    assert done.returncode == 6, (done.stdout, done.stderr)
    assert "could not run (proxy-sync): not passed" in done.stderr, done.stderr
    status = json.loads(cli("upgrade", "status", "--json", kubeconfig=mesh.kubeconfig).stdout)
    assert status["verify"]["revision"] == NEW
    assert status["verify"]["state"] in ("unknown", "failed"), status["verify"]
    record = mesh.record()
    assert record is not None and record.verify_run is not None and record.verify_run.result != "passed"
