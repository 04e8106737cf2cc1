"""Bring the `fresh` simulator to the moment the Upgrade gate holds, with the real engine (in-process).

Start, install 1-23-1, switch every namespace, move both tags, restart everything, move the gateways,
delete the bare pod nothing recreates and run verify: what an operator does before Finish. Shared by the
stale-view tests of the engine, the CLI and the dashboard.
"""

from __future__ import annotations

from pathlib import Path

from meshtui.engine.executor import RunControl
from meshtui.engine.params import (
    ActionParams,
    DeployParams,
    GatewaysParams,
    MoveTagParams,
    RestartParams,
    StartParams,
    SwitchParams,
)
from meshtui.engine.session import EngineSession
from tests.engine.support import Mesh, open_session, render
from tests.helpers import wait_until

OLD, NEW = "1-22-3", "1-23-1"
GATEWAY = "istio-system/istio-ingressgateway"


def _run(session: EngineSession, mesh: Mesh, params: ActionParams) -> None:
    view = session_view(session, mesh)
    plan = session.plan(view, params)
    assert not plan.refused, (params, plan.refusals)
    outcome = session.run(plan, RunControl(), lambda p: None)
    assert outcome.ok, (params, [(s.operation.describe(), s.result, s.message) for s in outcome.steps])


def session_view(session: EngineSession, mesh: Mesh):  # type: ignore[no-untyped-def]
    """A fresh view of the mesh for the session's source and target."""
    source, target, _ = session.pair(mesh.view())
    return mesh.view(source, target)


def upgrade_enabled(mesh: Mesh, tmp_path: Path) -> None:
    """Run every step up to an enabled Upgrade; the session is closed (the lock released) afterwards."""
    manifests = render("1.23.1", tmp_path / "m123", GATEWAY)
    session, view = open_session(mesh, target=NEW)
    try:
        outcome = session.run(session.plan(view, StartParams()), RunControl(), lambda p: None)
        assert outcome.ok, outcome.steps
        _run(session, mesh, DeployParams(installer=_manifests(manifests)))
        _run(session, mesh, SwitchParams())
        _run(session, mesh, MoveTagParams(tag="default", to=NEW))
        _run(session, mesh, MoveTagParams(tag="prod-stable", to=NEW))
        _run(session, mesh, RestartParams(batch=20, ignore_pdb=True))
        _run(session, mesh, GatewaysParams(manifests=str(manifests), batch=5))
        mesh.core.delete_namespaced_pod("debug-shell", "batch")

        def enabled() -> bool:
            return session.state(session_view(session, mesh)).action("upgrade").enabled

        wait_until(enabled, timeout=60, what="the Upgrade gate to hold")
        checks = session.verify(session_view(session, mesh))  # Finish needs a passing verify run
        assert all(c.result == "pass" for c in checks), checks
    finally:
        session.close()


def _manifests(path: Path):  # type: ignore[no-untyped-def]
    from meshtui.engine.installers import InstallerSpec

    return InstallerSpec("manifests", str(path))
