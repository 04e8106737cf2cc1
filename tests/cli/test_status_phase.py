"""`meshtui status --json` and `meshtui upgrade status --json` report the same phase for the same record."""

from __future__ import annotations

import json
from collections.abc import Callable

from meshtui.engine.executor import RunControl
from meshtui.engine.params import SwitchParams
from tests.engine.support import Mesh, _isolated, cli, mesh_factory
from tests.engine.test_engine import fresh_view, started, with_target

__all__ = ["_isolated", "mesh_factory"]


def phases(mesh: Mesh) -> tuple[str, str]:
    status = cli("status", "--json", kubeconfig=mesh.kubeconfig)
    upgrade = cli("upgrade", "status", "--json", kubeconfig=mesh.kubeconfig)
    assert status.returncode == 0 and upgrade.returncode == 0, (status.stderr, upgrade.stderr)
    return json.loads(status.stdout)["upgrade"]["phase"], json.loads(upgrade.stdout)["phase"]


def test_both_status_commands_agree_on_the_phase(mesh_factory: Callable[..., Mesh]) -> None:
    mesh = mesh_factory("fresh")
    with_target(mesh)
    session = started(mesh)  # the record stores phase control-plane; the target is Ready already
    record = mesh.record()
    assert record is not None and record.phase == "control-plane"
    assert phases(mesh) == ("data-plane", "data-plane")

    switch = session.plan(fresh_view(mesh, session), SwitchParams(namespaces=("shop",)))
    assert session.run(switch, RunControl(), lambda p: None).ok
    session.close()
    assert phases(mesh) == ("data-plane", "data-plane")
