"""Snapshots of the first load at 80x24, with and without colour: the loading screen while the dashboard is
prepared, then the dashboard while a cluster's pods are still listing (the loading line, counts as `…`)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
from textual.pilot import Pilot

from meshtui.cluster.live import ClusterHealth
from meshtui.cluster.reflector import ConnState
from meshtui.domain.inventory import Inventory
from meshtui.tui.factory import build_app, build_starting_app
from meshtui.tui.feed import StaticMesh
from meshtui.tui.screens.loading import LoadingScreen
from meshtui.tui.settings import DashboardSettings
from meshtui.tui.startup import Report, Started

from .conftest import fixed_clock
from .fakes import FakeSession

COLOURS = ("colour", "no_colour")


@pytest.fixture
def release() -> Iterator[threading.Event]:
    event = threading.Event()
    yield event
    event.set()  # the starter's thread ends with the test


@pytest.mark.parametrize("colour", COLOURS)
def test_loading_screen(snap_compare: Any, release: threading.Event, colour: str, monkeypatch: Any) -> None:
    if colour == "no_colour":
        monkeypatch.setenv("NO_COLOR", "1")

    def starter(report: Report) -> Started:
        report("Building and serving the 'large' scenario (namespaces=2000)")
        report.detail("1,200 of 2,000 namespaces (25 pods each) built")
        release.wait(60)
        raise RuntimeError("released")

    app = build_starting_app(starter, DashboardSettings(title="meshtui demo"), clock=fixed_clock)

    async def run_before(pilot: Pilot[Any]) -> None:
        for _ in range(500):
            screen = pilot.app.screen
            if isinstance(screen, LoadingScreen) and screen.current_detail:
                break
            await pilot.pause(0.01)

    assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)


@pytest.mark.parametrize("colour", COLOURS)
def test_pods_still_listing(snap_compare: Any, demo_inventory: Inventory, colour: str, monkeypatch: Any) -> None:
    if colour == "no_colour":
        monkeypatch.setenv("NO_COLOR", "1")
    inventory = Inventory.from_snapshot(demo_inventory.snapshot())
    (cluster,) = inventory.clusters
    health = (ClusterHealth(cluster, "", ConnState.CONNECTING, "", 14, 15, 34_023, ("Pod",)),)
    app = build_app(StaticMesh(inventory, health=health), FakeSession(clock=fixed_clock), clock=fixed_clock)

    async def run_before(pilot: Pilot[Any]) -> None:
        dashboard = pilot.app.dashboard  # type: ignore[attr-defined]
        for _ in range(500):
            if dashboard.snapshot is not None:
                break
            await pilot.pause(0.01)
        await pilot.pause()

    assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)
