"""A restart never moves a workload out of ambient mode on the way: the pods of an ambient namespace that
injection would give a sidecar (it also asks for a revision) are skipped, saying why (simulator)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from meshtui.engine.executor import RunControl
from meshtui.engine.params import GatewaysParams, MoveTagParams, RestartParams, StartParams
from meshtui.sim import scenarios
from tests.engine.support import Mesh, open_session

OLD, NEW = scenarios.AMBIENT_OLD, scenarios.AMBIENT_NEW


@pytest.fixture
def mesh(mesh_factory: Callable[..., Mesh]) -> Mesh:
    return mesh_factory("ambient")


def test_restart_skips_ambient_pods_that_would_leave_ambient(mesh: Mesh) -> None:
    session, view = open_session(mesh, source=OLD, target=NEW)
    assert session.run(session.plan(view, StartParams()), RunControl(), lambda p: None).ok
    view = mesh.view(OLD, NEW)
    leaving = {(r.namespace, r.workload_name) for r in view.pods() if r.live and r.leaves_ambient}
    assert leaving, "the ambient scenario has pods in an ambient namespace that also asks for a revision"
    plan = session.plan(view, RestartParams())
    rolled = {(op.namespace, op.name) for op in plan.operations}
    assert not rolled & leaving, [op.describe() for op in plan.operations]
    for ns, name in leaving:
        assert any(f"{ns}/{name}" in s and "leave ambient" in s for s in plan.skipped), plan.skipped
    session.close()


def test_a_tag_move_counts_one_namespace_in_the_singular(mesh_factory: Callable[..., Mesh]) -> None:
    demo = mesh_factory("demo")
    session, view = open_session(demo, source="1-22-3", target="1-23-1")
    assert session.run(session.plan(view, StartParams()), RunControl(), lambda p: None).ok
    plan = session.plan(demo.view("1-22-3", "1-23-1"), MoveTagParams(tag="prod-canary", to="1-22-3"))
    assert any(n.startswith("1 namespace follows tag prod-canary (reviews)") for n in plan.notes), plan.notes
    session.close()


def test_gateways_labelled_with_a_tag_are_left_to_the_tag_move(mesh: Mesh) -> None:
    """Relabelling `istio.io/rev: prod-stable` to a revision would replace the operator's tag: the step skips
    such Gateways (waypoints included) and says to move the tag, as Istio's upgrade guide does."""
    session, view = open_session(mesh, source=OLD, target=NEW)
    assert session.run(session.plan(view, StartParams()), RunControl(), lambda p: None).ok
    plan = session.plan(mesh.view(OLD, NEW), GatewaysParams())
    relabelled = {(op.namespace, op.name) for op in plan.operations if op.kind == "Gateway"}
    assert ("shop", "waypoint") not in relabelled and ("gateways", "web-gateway") not in relabelled, plan.lines()
    for ref in ("shop/waypoint", "gateways/web-gateway"):
        assert any(ref in s and "tag prod-stable" in s and "move the tag" in s for s in plan.skipped), plan.skipped
    session.close()
