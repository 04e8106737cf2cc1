"""The whole demo upgrade, and its rollback, through the keyboard alone with the real engine session.

These are the issue's "done when" walkthroughs as tests: `meshtui demo`'s scenario, the production
factory (watch, EngineSession, app), and only key presses; the simulator's objects are checked after.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot

from meshtui.cli.demo_cmd import _render
from meshtui.engine.session import EngineSession
from meshtui.tui.app import MeshApp
from meshtui.tui.factory import build_app, watch_targets
from meshtui.tui.screens.ask import AskScreen
from meshtui.tui.screens.dashboard import DashboardScreen
from meshtui.tui.screens.disabled import DisabledScreen
from meshtui.tui.screens.plan import PlanScreen
from meshtui.tui.screens.tag import TagScreen
from meshtui.tui.settings import DashboardSettings
from meshtui.tui.widgets.action_runner import ActionRunner

from .conftest import NEW, OLD, Cluster, Waiter

CLUSTER = "meshtui-sim"


@pytest.fixture
def demo_app(
    start_cluster: Callable[..., Cluster], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[[], tuple[MeshApp, Cluster]]]:
    """The dashboard as `meshtui demo` builds it: real engine session, rendered manifests offered."""
    monkeypatch.setenv("MESHTUI_IDENTITY", "sre@jump-1")
    made: list[Any] = []

    def make() -> tuple[MeshApp, Cluster]:
        cluster = start_cluster("demo")
        mesh = watch_targets(cluster.targets)
        session = EngineSession(cluster.targets, None)
        settings = replace(DashboardSettings(), title="meshtui demo", manifests=_render(tmp_path))
        app = build_app(mesh, session, settings=settings)
        made.append((mesh, session))
        return app, cluster

    yield make
    for mesh, session in made:
        session.close()
        mesh.stop()


class Driver:
    """Key presses plus the waits a person does by looking at the screen."""

    def __init__(self, app: MeshApp, pilot: Pilot[Any], waiter: Waiter) -> None:
        self.app, self.pilot, self.waiter = app, pilot, waiter

    @property
    def dash(self) -> DashboardScreen:
        return self.app.dashboard

    async def until(self, predicate: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
        await self.waiter.until(self.pilot, predicate, what=what, timeout=timeout)

    async def plan(self, *keys: str) -> PlanScreen:
        """Press keys that open a plan; wait for its dry run."""
        before = len(self.waiter.seen(ActionRunner.DryRunDone))
        await self.pilot.press(*keys)
        await self.until(lambda: len(self.waiter.seen(ActionRunner.DryRunDone)) > before, f"the dry run of {keys}")
        screen = self.app.screen
        assert isinstance(screen, PlanScreen), screen
        return screen

    async def apply(self, *keys: str, word: str = "") -> None:
        """Confirm the open plan (typing `word` first when asked) and wait for the run to finish."""
        screen = self.app.screen
        assert isinstance(screen, PlanScreen) and screen.applicable, screen.verdict.render()
        before = len(self.waiter.seen(ActionRunner.Finished))
        await self.pilot.press(*word, *keys, "enter")
        await self.until(lambda: len(self.waiter.seen(ActionRunner.Finished)) > before, "the run", timeout=60)
        finished = self.waiter.seen(ActionRunner.Finished)[-1]
        assert finished.outcome.ok, [(s.operation.describe(), s.result, s.message) for s in finished.outcome.steps]

    async def begin(self) -> None:
        """Wait for the first synced screen and an enabled Begin, then record the upgrade (b, enter)."""
        await self.until(lambda: self.dash.snapshot is not None and self.dash.snapshot.synced, "the first sync")
        await self.until(lambda: self.dash.snapshot.state is not None and self.enabled("start"), "Begin enabled")
        await self.plan("b")
        await self.apply()

    async def finish(self, choice: str, key: str, offline: str) -> None:
        """Once the choice is enabled: choose it, then Finish, typing the revision that goes offline."""
        await self.until(lambda: self.enabled(choice), f"{choice} to become enabled", timeout=60)
        await self.plan(key)
        await self.apply()
        await self.until(lambda: self.phase() == f"finishing-{choice}", "the stepper to show Finish")
        await self.plan("F")
        await self.apply(word=offline)
        plane = lambda: self.dash.snapshot.view.control_plane(CLUSTER)  # noqa: E731
        await self.until(lambda: plane().revision(offline) is None, f"{offline} offline")

    def labelled(self, names: list[str], revision: str) -> bool:
        """Every named namespace that asks for injection shows `revision` in the table's snapshot."""
        snap = self.dash.snapshot
        rows = [ns for ns in snap.view.namespaces if ns.name in names] if snap else []
        return bool(rows) and all(ns.injection.revision == revision for ns in rows if ns.injection.asks)

    def phase(self) -> str | None:
        snap = self.dash.snapshot
        return snap.state.phase if snap and snap.state else None

    def enabled(self, action: str) -> bool:
        snap = self.dash.snapshot
        return bool(snap and snap.state and snap.state.action(action).enabled)


def pod_revisions(cluster: Cluster) -> dict[str, set[str | None]]:
    """Each namespace's live pods' injecting revisions, read from the simulator's store."""
    found: dict[str, set[str | None]] = {}
    for pod in cluster.sim.call(lambda: cluster.sim.store.list("pods")):
        if (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
            continue
        status = (pod["metadata"].get("annotations") or {}).get("sidecar.istio.io/status")
        rev = None
        if status:
            rev = json.loads(status).get("revision")
        found.setdefault(pod["metadata"]["namespace"], set()).add(rev)
    return found


async def test_the_demo_upgrade_from_the_keyboard_alone(
    demo_app: Callable[[], tuple[MeshApp, Cluster]], waiter: Waiter
) -> None:
    app, cluster = demo_app()
    async with app.run_test(size=(80, 24), message_hook=waiter.hook) as pilot:
        d = Driver(app, pilot, waiter)
        await d.begin()

        # Find what is not done, select it all, switch and (the selection kept) restart, ignoring the PDBs.
        await pilot.press("slash", *"todo", "enter", "a")
        chosen = [name for _, name in d.dash.data_plane.namespaces.selected]
        await d.plan("s")
        await d.apply()
        # As a person would, restart once the table shows the switch (a plan from an older view is refused).
        await d.until(lambda: d.labelled(chosen, NEW), "the switched labels in the table")
        restart = await d.plan("r")
        assert any("PodDisruptionBudget" in s for s in restart.plan.skipped), (restart.subtitle, restart.plan.lines())
        await d.plan("i")
        await d.apply()
        assert not d.enabled("upgrade")

        # Upgrade says what holds it back; its namespace, then its pods; the bare pod nothing recreates goes.
        def blocked_by_the_bare_pod_only() -> bool:
            snap = d.dash.snapshot
            reasons = snap.state.action("upgrade").reasons if snap and snap.state else ()
            return any(r.startswith("1 pod still on 1-22-3") for r in reasons)

        await d.until(blocked_by_the_bare_pod_only, "the restarted pods to move", timeout=60)
        await pilot.press("U")
        assert isinstance(app.screen, DisabledScreen)
        assert "1 pod still on 1-22-3: batch/debug-shell" in str(app.screen.content_body)
        await pilot.press("o")
        assert [k[1] for k in d.dash.data_plane.namespaces.table.visible_keys()] == ["batch"]
        await pilot.press("ctrl+d")
        assert d.dash.data_plane.current == "pods"
        assert d.dash.data_plane.pods.table.cursor_key == (CLUSTER, "batch", "debug-shell")
        await d.plan("ctrl+d")
        await d.apply(word="delete")

        # Tags default and prod-stable to the target.
        for tag in ("default", "prod-stable"):
            await pilot.press("t")
            assert isinstance(app.screen, TagScreen)
            picker = app.screen.options
            options = [str(picker.get_option_at_index(i).id) for i in range(picker.option_count)]
            await pilot.press(*["j"] * options.index(tag), "enter", "enter")
            await d.until(lambda: isinstance(app.screen, PlanScreen) and app.screen.outcome is not None, "tag plan")
            await d.apply()

        # Gateways: the istioctl one needs the rendered manifests the demo offers.
        await pilot.press("w")
        gateways = await d.plan("m")
        assert "f" in gateways.options
        await pilot.press("f")
        assert isinstance(app.screen, AskScreen)
        await pilot.press("enter")  # the offered folder
        await d.until(lambda: isinstance(app.screen, PlanScreen) and app.screen.outcome is not None, "gateway plan")
        await d.apply()

        await d.finish("upgrade", "U", OLD)

    revisions = pod_revisions(cluster)
    on_old = {ns for ns, revs in revisions.items() if OLD in revs}
    assert not on_old, f"pods still on {OLD} in {sorted(on_old)}"
    assert revisions["shop"] == {NEW, None}, "shop's pods on the target, metrics-exporter opted out"


async def test_the_demo_rollback_from_the_keyboard_alone(
    demo_app: Callable[[], tuple[MeshApp, Cluster]], waiter: Waiter
) -> None:
    app, cluster = demo_app()
    async with app.run_test(size=(200, 50), message_hook=waiter.hook) as pilot:
        d = Driver(app, pilot, waiter)
        await d.begin()

        # Everything not on the source goes back; the namespaces that must stay unlabelled are skipped.
        await pilot.press("slash", *"!rev:1-22-3", "enter", "a")
        chosen = [name for _, name in d.dash.data_plane.namespaces.selected]
        back = await d.plan("S")
        skipped = "\n".join(back.plan.skipped)
        assert "istio-system: it runs the control plane" in skipped and "kube-system" in skipped
        await d.apply()
        await d.until(lambda: d.labelled(chosen, OLD), "the switched-back labels in the table")
        # They left the filter (and so the selection): restart whatever would come back elsewhere, everywhere.
        await pilot.press("escape", "a")
        restart = await d.plan("r")
        assert {op.namespace for op in restart.plan.operations} >= {"catalog", "reviews"}, restart.plan.lines()
        await d.apply()

        # The canary tag back on the source, and the gateways.
        await pilot.press("t")
        picker = app.screen.options  # type: ignore[attr-defined]
        options = [str(picker.get_option_at_index(i).id) for i in range(picker.option_count)]
        await pilot.press(*["j"] * options.index("prod-canary"), "enter", "enter")
        await d.until(lambda: isinstance(app.screen, PlanScreen) and app.screen.outcome is not None, "tag plan")
        await d.apply()
        await pilot.press("w")
        await d.plan("M")
        await d.apply()

        await d.finish("rollback", "R", NEW)

    revisions = pod_revisions(cluster)
    on_new = {ns for ns, revs in revisions.items() if NEW in revs}
    assert not on_new, f"pods still on {NEW} in {sorted(on_new)}"
    labels = cluster.get("namespaces", None, "kube-system")["metadata"].get("labels") or {}
    assert "istio.io/rev" not in labels
