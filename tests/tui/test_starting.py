"""The first frame comes at once: while the demo cluster is built or the record read, a loading screen names
each stage, and keys pressed meanwhile are answered ("still starting"), never acted on later unseen."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any

from textual.pilot import Pilot

from meshtui.domain.inventory import Inventory
from meshtui.tui.app import MeshApp
from meshtui.tui.factory import build_app, build_starting_app
from meshtui.tui.feed import StaticMesh
from meshtui.tui.screens.dashboard import DashboardScreen
from meshtui.tui.screens.loading import LoadingScreen
from meshtui.tui.settings import DashboardSettings
from meshtui.tui.startup import Closer, Report, Started, StartFailed

from .conftest import Waiter, fixed_clock
from .fakes import FakeSession


async def poll(pilot: Pilot[Any], done: Callable[[], bool], what: str, timeout: float = 20) -> None:
    """Let the app run until `done()` holds; fail after a deadline, saying what never came."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not done():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await pilot.pause(0.02)


def notices(app: MeshApp) -> list[str]:
    return [str(n.message) for n in app._notifications]


async def test_the_loading_screen_shows_before_the_starter_is_done_and_keys_say_still_starting(
    demo_inventory: Inventory,
) -> None:
    release = threading.Event()
    starter_thread: list[str] = []

    def starter(report: Report) -> Started:
        starter_thread.append(threading.current_thread().name)
        report("Building and serving the 'large' scenario")
        report.detail("600 of 2,000 namespaces (25 pods each) built")
        assert release.wait(30), "the test never released the starter"
        report("Connecting and reading the upgrade record")
        inventory = Inventory.from_snapshot(demo_inventory.snapshot())
        return Started(StaticMesh(inventory), FakeSession(clock=fixed_clock), DashboardSettings(title="meshtui demo"))

    app = build_starting_app(starter, DashboardSettings(title="meshtui demo"), clock=fixed_clock)
    async with app.run_test(size=(80, 24)) as pilot:
        loading = app.screen
        assert isinstance(loading, LoadingScreen)
        await poll(pilot, lambda: bool(loading.current_detail), "the first stage's progress")
        body = str(loading.body.render())
        assert "meshtui demo is starting" in body
        assert "… Building and serving the 'large' scenario\n  600 of 2,000 namespaces (25 pods each) built" in body
        assert not app.started
        # The starter works off the UI loop: the app answers keys while it is blocked.
        assert starter_thread and starter_thread[0] != threading.current_thread().name
        await pilot.press("s")
        await poll(pilot, lambda: any("Still starting" in n for n in notices(app)), "the still-starting notice")
        assert any("that key did nothing" in n for n in notices(app))
        release.set()
        await poll(pilot, lambda: isinstance(app.screen, DashboardScreen), "the dashboard")
        dash = app.dashboard
        await poll(pilot, lambda: dash.snapshot is not None, "the first snapshot")
        # The `s` typed while starting was not replayed on a screen the operator had not seen: no plan opened.
        assert app.screen is dash and dash.runner.running is False
        assert dash.settings.title == "meshtui demo"


async def test_a_starter_that_cannot_reach_the_cluster_ends_the_app_with_its_sentence_and_code() -> None:
    def starter(report: Report) -> Started:
        report("Connecting")
        raise StartFailed("the cluster 'far' is unreachable", 3)

    app = build_starting_app(starter, DashboardSettings())
    async with app.run_test(size=(80, 24)) as pilot:
        await poll(pilot, lambda: app.start_failure is not None, "the failure")
    assert app.return_code == 3
    assert app.start_failure is not None and app.start_failure.message == "the cluster 'far' is unreachable"


async def test_q_while_starting_quits_and_what_the_starter_opens_afterwards_is_closed_at_once() -> None:
    release = threading.Event()
    finished = threading.Event()
    closed: list[str] = []
    closer = Closer()
    closer.add(lambda: closed.append("tmp"))

    def starter(report: Report) -> Started:
        report("Building")
        release.wait(30)
        if not closer.add(lambda: closed.append("sim")):
            finished.set()
            raise StartFailed("quit before the simulator was ready", 0)
        raise AssertionError("the closer should have been closed")

    app = build_starting_app(starter, DashboardSettings())
    async with app.run_test(size=(80, 24)) as pilot:
        await poll(pilot, lambda: isinstance(app.screen, LoadingScreen) and bool(app.screen.stages), "loading")
        await pilot.press("q")
        await poll(pilot, lambda: not app.is_running, "the app to exit")
    closer.close()
    assert closed == ["tmp"]
    release.set()
    assert finished.wait(10)
    assert closed == ["tmp", "sim"]


def test_namespace_counts_read_loading_until_the_clusters_pods_have_listed_never_zero(
    demo_inventory: Inventory,
) -> None:
    from meshtui.cluster.live import ClusterHealth
    from meshtui.cluster.reflector import ConnState
    from meshtui.tui.feed import SnapshotBuilder
    from meshtui.tui.rows import LOADING, NAMESPACE_COLUMNS

    inventory = Inventory.from_snapshot(demo_inventory.snapshot())
    (cluster,) = inventory.clusters
    loading = ClusterHealth(cluster, "", ConnState.CONNECTING, "", 11, 12, 900, ("Pod",))
    mesh = StaticMesh(inventory, health=(loading,))
    builder = SnapshotBuilder(mesh, None, clock=fixed_clock)
    counts = [i for i, c in enumerate(NAMESPACE_COLUMNS) if c.key in ("live", "source", "target", "at_risk")]
    first = builder.build()
    assert first is not None and first.namespaces.reset
    for row in first.namespaces.reset.values():
        assert all(row[i] == (LOADING, "dim") for i in counts), row
    # The pods have listed: every namespace row is sent again, now with its counts.
    mesh._health = (ClusterHealth(cluster, "", ConnState.SYNCED, "", 12, 12, 5000),)
    second = builder.build()
    assert second is not None and second.namespaces.reset is not None
    rows = list(second.namespaces.reset.values())
    assert len(rows) == len(first.namespaces.reset)
    assert all(isinstance(row[counts[0]], str) and row[counts[0]].isdigit() for row in rows)
    assert any(row[counts[0]] != "0" for row in rows)


def test_keys_that_plan_are_told_to_wait_until_every_cluster_listed_every_kind() -> None:
    from meshtui.cluster.live import ClusterHealth
    from meshtui.cluster.reflector import ConnState
    from meshtui.tui.loading_gate import still_loading

    a = ClusterHealth("a", "", ConnState.SYNCED, "", 15, 15, 100)
    b = ClusterHealth("b", "", ConnState.CONNECTING, "", 14, 15, 34_023, ("Pod",))
    connecting = still_loading(None)
    assert connecting is not None and connecting.startswith("Still connecting")
    said = still_loading((a, b))
    assert said is not None and said.startswith("Still loading (29 of 30 kinds listed, 34,123 objects so far)")
    assert still_loading((a,)) is None


async def test_while_the_mesh_lists_the_namespace_count_says_so_far_then_the_whole_count(
    demo_inventory: Inventory,
) -> None:
    from meshtui.cluster.live import ClusterHealth
    from meshtui.cluster.reflector import ConnState
    from meshtui.tui.factory import build_app

    inventory = Inventory.from_snapshot(demo_inventory.snapshot())
    (cluster,) = inventory.clusters
    mesh = StaticMesh(inventory, health=(ClusterHealth(cluster, "", ConnState.CONNECTING, "", 14, 15, 900, ("Pod",)),))
    app = build_app(mesh, FakeSession(clock=fixed_clock), clock=fixed_clock)
    async with app.run_test(size=(80, 24)) as pilot:
        dash = app.dashboard
        namespaces = dash.data_plane.namespaces
        await poll(pilot, lambda: dash.snapshot is not None, "the first snapshot")
        count = len(inventory.view().namespaces)
        assert str(namespaces.summary.render()).startswith(f"{count} namespaces so far, still listing · 0 selected")
        mesh._health = (ClusterHealth(cluster, "", ConnState.SYNCED, "", 15, 15, 5000),)
        mesh.changed()
        await poll(pilot, lambda: not namespaces.listing, "the complete list")
        assert str(namespaces.summary.render()).startswith(f"{count} namespaces · 0 selected")


async def test_the_size_guard_covers_the_loading_screen_and_then_the_dashboard_until_the_terminal_is_big_enough(
    demo_inventory: Inventory,
) -> None:
    from meshtui.tui.screens.too_small import TooSmallScreen

    release = threading.Event()

    def starter(report: Report) -> Started:
        report("Building")
        release.wait(30)
        inventory = Inventory.from_snapshot(demo_inventory.snapshot())
        return Started(StaticMesh(inventory), FakeSession(clock=fixed_clock), DashboardSettings())

    app = build_starting_app(starter, DashboardSettings(), clock=fixed_clock)
    async with app.run_test(size=(60, 20)) as pilot:
        await poll(pilot, lambda: isinstance(app.screen, TooSmallScreen) and len(app.screen_stack) == 3, "the guard")
        assert isinstance(app.screen_stack[1], LoadingScreen)
        release.set()
        await poll(pilot, lambda: app.started, "the dashboard")
        await pilot.pause()
        assert [type(s) for s in app.screen_stack[1:]] == [DashboardScreen, TooSmallScreen]
        await pilot.resize_terminal(80, 24)
        await poll(pilot, lambda: isinstance(app.screen, DashboardScreen), "the guard to go")


async def test_b_while_pods_still_list_opens_no_plan(demo_inventory: Inventory, waiter: Waiter) -> None:
    from meshtui.cluster.live import ClusterHealth
    from meshtui.cluster.reflector import ConnState

    loading = (ClusterHealth("meshtui-sim", "", ConnState.CONNECTING, "", 14, 15, 27_519, ("Pod",)),)
    app = build_app(
        StaticMesh(Inventory.from_snapshot(demo_inventory.snapshot()), loading),
        FakeSession(clock=fixed_clock),
        clock=fixed_clock,
        settings=DashboardSettings(),
    )
    async with app.run_test(size=(80, 24), message_hook=waiter.hook) as pilot:
        await waiter.until(pilot, lambda: app.dashboard.snapshot is not None, what="the first snapshot")
        await pilot.press("b")
        await pilot.pause()
        assert app.screen is app.dashboard, f"{app.screen} opened while pods are still listing"
        assert any(n.message.startswith("Still loading (14 of 15 kinds listed") for n in app._notifications)
