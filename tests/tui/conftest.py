"""Fixtures for the dashboard tests: simulated clusters, the fake session, a fixed clock, and event waits.

The developer's kubeconfig, log file and colour settings never leak in; waits follow the dashboard's own
messages (snapshots, runner reports) instead of sleeping.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import Any

import pytest
from textual.message import Message
from textual.pilot import Pilot

from meshtui.cli.demo_cmd import _render
from meshtui.cluster.kubeconfig import ClusterTarget, connect
from meshtui.domain.inventory import Inventory
from meshtui.engine.session import EngineSession
from meshtui.sim import admission, istio, scenarios
from meshtui.sim.controllers import settle
from meshtui.sim.runtime import SimCluster
from meshtui.sim.settings import SimSettings
from meshtui.sim.store import Store
from meshtui.tui.app import MeshApp
from meshtui.tui.factory import build_app, watch_targets
from meshtui.tui.feed import StaticMesh, WatchedMesh
from meshtui.tui.settings import DashboardSettings
from meshtui.tui.widgets.action_runner import ActionRunner
from meshtui.tui.widgets.live_feed import LiveFeed
from tests.conftest import RunningSim, StartSims
from tests.helpers import read_inventory, start_sim

from .fakes import FakeSession

FIXED_NOW = datetime(2026, 3, 2, 10, 30, tzinfo=UTC)
OLD, NEW = "1-22-3", "1-23-1"


def fixed_clock() -> datetime:
    """The same instant every time, so snapshots do not depend on the wall clock."""
    return FIXED_NOW


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No log file, theme or colour setting of the developer's reaches a test (tests/conftest.py: no kubeconfig)."""
    monkeypatch.setenv("MESHTUI_LOG", str(tmp_path / "meshtui.log"))
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.delenv("MESHTUI_THEME", raising=False)
    monkeypatch.delenv("TEXTUAL_THEME", raising=False)
    monkeypatch.setenv("TEXTUAL_ANIMATIONS", "none")


class Cluster(RunningSim):
    """A running simulated cluster and the kube targets that reach it."""

    @property
    def sim(self) -> SimCluster:
        """The simulated cluster."""
        return self.cluster

    @cached_property
    def targets(self) -> list[ClusterTarget]:
        """The product's cluster targets from the kubeconfig's current context."""
        return connect(str(self.kubeconfig), None)

    def get(self, kind: str, namespace: str | None, name: str) -> dict[str, Any]:
        """One object as the simulator stores it."""
        return dict(self.store_call(lambda store: store.require(kind, namespace, name)))

    def stop(self) -> None:
        """Close the targets' clients, then stop the cluster."""
        for target in self.__dict__.get("targets", []):
            target.api_client.close()
        super().stop()


@pytest.fixture
def start_cluster(sims: StartSims) -> Callable[..., Cluster]:
    """Start simulated clusters: a scenario, or a store setup with the controllers (stopped after the test)."""

    def start(scenario: str | None = "demo", setup: Callable[[Store], None] | None = None) -> Cluster:
        if scenario is not None:
            cluster: Cluster = sims(scenario, as_type=Cluster)
        else:
            cluster = sims(setup=setup, controllers=True, as_type=Cluster)
        return cluster

    return start


def last_namespace_setup(store: Store) -> None:
    """Two namespaces: `shop` already on the target with restarted pods, `cart` still on the source."""
    rng = random.Random(3)
    settings = SimSettings()
    admission.install(store)
    for ns in ("default", "kube-system"):
        istio.ensure_namespace(store, ns)
    istio.ensure_namespace(store, istio.ISTIO_NAMESPACE)
    istio.install_revision(store, OLD, "1.22.3", set_default_tag=False)
    istio.set_tag(store, "default", OLD)
    settle(store, settings, rng=rng)
    app = scenarios.Workload
    scenarios.add_namespace(store, scenarios.AppNamespace("shop", {"istio.io/rev": OLD}, [app("web", 2)]))
    scenarios.add_namespace(store, scenarios.AppNamespace("cart", {"istio.io/rev": OLD}, [app("api", 2)]))
    settle(store, settings, rng=rng)
    istio.install_target(store, "1.23.1")
    istio.set_tag(store, "default", NEW)
    settle(store, settings, rng=rng)
    scenarios.relabel(store, "shop", {"istio.io/rev": NEW})
    scenarios.restart(store, "apps/deployments", "shop", "web")
    settle(store, settings, rng=rng)


@dataclass
class Live:
    """A dashboard over a live cluster, with the real engine session and the watch."""

    app: MeshApp
    session: EngineSession
    mesh: WatchedMesh
    cluster: Cluster


@pytest.fixture
def live_app(start_cluster: Callable[..., Cluster], monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., Live]]:
    """Build a dashboard on a simulated cluster through the production factory, with the real engine session."""
    monkeypatch.setenv("MESHTUI_IDENTITY", "tester@jump-1")
    made: list[Live] = []

    def make(
        scenario: str | None = "demo",
        setup: Callable[[Store], None] | None = None,
        settings: DashboardSettings | None = None,
        read_only: bool = False,
    ) -> Live:
        cluster = start_cluster(scenario, setup)
        mesh = watch_targets(cluster.targets)
        session = EngineSession(cluster.targets, None, read_only=read_only)
        app = build_app(mesh, session, clock=fixed_clock, settings=settings or DashboardSettings())
        live = Live(app, session, mesh, cluster)
        made.append(live)
        return live

    yield make
    for live in made:
        live.session.close()
        live.mesh.stop()


@pytest.fixture
def demo_app(
    start_cluster: Callable[..., Cluster], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[..., tuple[MeshApp, Cluster]]]:
    """The dashboard as `meshtui demo [--scenario NAME]` builds it: real engine session, rendered manifests."""
    monkeypatch.setenv("MESHTUI_IDENTITY", "sre@jump-1")
    made: list[tuple[WatchedMesh, EngineSession]] = []

    def make(scenario: str = "demo") -> tuple[MeshApp, Cluster]:
        cluster = start_cluster(scenario)
        mesh = watch_targets(cluster.targets)
        session = EngineSession(cluster.targets, None)
        manifests = _render(tmp_path / scenario, scenario)
        settings = replace(DashboardSettings(), title="meshtui demo", manifests=manifests)
        app = build_app(mesh, session, settings=settings)
        made.append((mesh, session))
        return app, cluster

    yield make
    for mesh, session in made:
        session.close()
        mesh.stop()


@pytest.fixture(scope="session")
def demo_inventory(tmp_path_factory: pytest.TempPathFactory) -> Inventory:
    """The demo scenario read once (seed 1): the same rows in every snapshot test."""
    sim = start_sim("demo", settings=SimSettings(pod_ready_delay=0.05))
    try:
        path = sim.kubeconfig(tmp_path_factory.mktemp("demo") / "kubeconfig")
        targets = connect(str(path), None)
        inventory = read_inventory(targets)
        for target in targets:
            target.api_client.close()
    finally:
        sim.stop()
    return inventory


def static_app(
    inventory: Inventory, *, settings: DashboardSettings | None = None, session: FakeSession | None = None
) -> MeshApp:
    """A dashboard over a fixed inventory (snapshots): no watch, no timers with work to do."""
    return build_app(
        StaticMesh(inventory),
        session or FakeSession(clock=fixed_clock),
        clock=fixed_clock,
        settings=settings or DashboardSettings(),
    )


class Waiter:
    """Records the dashboard's snapshot and runner messages; `until` waits for the next ones, never sleeps."""

    KINDS = (
        LiveFeed.Updated,
        LiveFeed.Unchanged,
        LiveFeed.Failed,
        ActionRunner.Planned,
        ActionRunner.DryRunDone,
        ActionRunner.Progressed,
        ActionRunner.Finished,
        ActionRunner.Failed,
    )

    def __init__(self) -> None:
        self.event = asyncio.Event()
        self.messages: list[Message] = []
        self._ids: set[int] = set()

    def hook(self, message: Message) -> None:
        """The `message_hook` of `run_test` (a bubbling message is recorded once)."""
        if isinstance(message, self.KINDS) and id(message) not in self._ids:
            self._ids.add(id(message))
            self.messages.append(message)
            self.event.set()

    def seen(self, kind: type[Message]) -> list[Any]:
        """Messages of one kind, in order."""
        return [m for m in self.messages if isinstance(m, kind)]

    async def until(
        self, pilot: Pilot[Any], predicate: Callable[[], bool], *, timeout: float = 20.0, what: str = "condition"
    ) -> None:
        """Wait for dashboard messages until `predicate()` holds."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            await pilot.pause()
            if predicate():
                return
            self.event.clear()
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise AssertionError(f"timed out after {timeout}s waiting for {what}")
            try:
                await asyncio.wait_for(self.event.wait(), remaining)
            except TimeoutError:
                raise AssertionError(f"timed out after {timeout}s waiting for {what}") from None


@pytest.fixture
def waiter() -> Waiter:
    """A fresh message recorder."""
    return Waiter()
