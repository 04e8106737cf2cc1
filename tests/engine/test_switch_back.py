"""A switch back restores the labels each namespace had when the upgrade began, and leaves alone what is back.

The engine session against the simulator's `demo` (an upgrade already under way before `start`).
"""

from __future__ import annotations

from collections.abc import Callable

from meshtui.domain.objects import INJECTION_LABEL, REV_LABEL
from meshtui.engine.executor import RunControl
from meshtui.engine.params import ActionParams, StartParams, SwitchBackParams, SwitchParams
from meshtui.engine.record import OriginalLabels
from meshtui.engine.session import EngineSession
from meshtui.sim.scenarios import relabel
from tests.engine.support import Mesh, open_session

OLD, NEW = "1-22-3", "1-23-1"


def run(session: EngineSession, mesh: Mesh, params: ActionParams) -> None:
    plan = session.plan(mesh.view(OLD, NEW), params)
    assert not plan.refused, plan.refusals
    outcome = session.run(plan, RunControl(), lambda p: None)
    assert outcome.ok, [(s.operation.describe(), s.message) for s in outcome.steps]


def labels(mesh: Mesh, name: str) -> dict[str, str | None]:
    found = mesh.core.read_namespace(name).metadata.labels or {}
    return {INJECTION_LABEL: found.get(INJECTION_LABEL), REV_LABEL: found.get(REV_LABEL)}


def test_start_records_every_namespace_s_injection_labels(mesh_factory: Callable[..., Mesh]) -> None:
    mesh = mesh_factory("demo")
    session, _ = open_session(mesh)
    run(session, mesh, StartParams())
    record = mesh.record()
    assert record is not None
    assert record.original["meshtui-sim/accounts"] == OriginalLabels(rev="prod-stable")
    assert record.original["meshtui-sim/inventory"] == OriginalLabels(injection="enabled", rev=NEW)
    assert record.original["meshtui-sim/shop"] == OriginalLabels(injection="enabled")
    assert "meshtui-sim/kube-system" not in record.original
    session.close()


def test_a_switch_back_restores_exactly_the_labels_at_start(mesh_factory: Callable[..., Mesh]) -> None:
    mesh = mesh_factory("demo")
    session, _ = open_session(mesh)
    run(session, mesh, StartParams())
    run(session, mesh, SwitchParams(namespaces=("accounts", "inventory")))
    # Someone relabels shop by hand: meshtui never switched it, yet the record knows its labels at start.
    mesh.store(lambda s: relabel(s, "shop", {REV_LABEL: NEW}, remove=(INJECTION_LABEL,)))
    assert labels(mesh, "accounts") == {INJECTION_LABEL: None, REV_LABEL: NEW}

    run(session, mesh, SwitchBackParams(namespaces=("accounts", "inventory", "shop")))
    assert labels(mesh, "accounts") == {INJECTION_LABEL: None, REV_LABEL: "prod-stable"}, "a tag stays a tag"
    assert labels(mesh, "inventory") == {INJECTION_LABEL: "enabled", REV_LABEL: NEW}
    assert labels(mesh, "shop") == {INJECTION_LABEL: "enabled", REV_LABEL: None}
    session.close()


def test_a_namespace_that_resolves_to_the_source_is_not_proposed(mesh_factory: Callable[..., Mesh]) -> None:
    mesh = mesh_factory("demo")
    session, _ = open_session(mesh)
    run(session, mesh, StartParams())
    plan = session.plan(mesh.view(OLD, NEW), SwitchBackParams(namespaces=("accounts", "inventory", "catalog")))
    assert [op.name for op in plan.operations] == ["catalog"], plan.lines()
    assert "accounts: already resolves to 1-22-3; nothing to switch back" in plan.skipped
    assert "inventory: already resolves to 1-22-3; nothing to switch back" in plan.skipped
    session.close()
