"""Snapshots of every tab of the demo (seed 1) at 80x24 and 160x48, and without colour.

The mesh is read once and served by a StaticMesh, the clock is fixed and the session is the test fake,
so nothing changes between the first snapshot and the screenshot.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from textual.pilot import Pilot

from meshtui.domain.inventory import Inventory
from meshtui.engine.api import CheckResult, JournalLine

from .conftest import static_app
from .fakes import FakeSession

SIZES = {"80x24": (80, 24), "160x48": (160, 48)}
CHECKS = (
    CheckResult("every pod Ready", "pass", "16 pods in catalog, reviews"),
    CheckResult(
        "no container restarted since the switch",
        "fail",
        "2 pods restarted",
        ("catalog/search-7559c9776d-6gvqc", "catalog/search-7559c9776d-7fx4z"),
    ),
    CheckResult("proxies SYNCED with istiod", "unknown", "istiod /debug/syncz not reachable through the API server"),
)
JOURNAL = (
    JournalLine(
        "2026-03-02T10:02:11",
        "alice@jump-1",
        "meshtui-sim",
        "start",
        ("ConfigMap istio-system/meshtui-upgrade",),
        "applied",
        "recorded 1-22-3 -> 1-23-1",
    ),
    JournalLine(
        "2026-03-02T10:05:40",
        "alice@jump-1",
        "meshtui-sim",
        "switch",
        ("Namespace catalog",),
        "applied",
        "labels istio.io/rev: 1-22-3 -> 1-23-1",
    ),
    JournalLine(
        "2026-03-02T10:06:02",
        "alice@jump-1",
        "meshtui-sim",
        "restart",
        ("Deployment catalog/search",),
        "applied",
        "restart (kubectl.kubernetes.io/restartedAt=2026-03-02T10:06:02Z)",
    ),
    JournalLine(
        "2026-03-02T10:09:17",
        "bob@jump-2",
        "meshtui-sim",
        "upgrade",
        (),
        "refused",
        "8 namespaces not on 1-23-1 [see the gates]",
    ),
)


def session() -> FakeSession:
    fake = FakeSession(checks=CHECKS)
    fake.journal.extend(JOURNAL)
    return fake


def after(*keys: str) -> Callable[[Pilot[Any]], Awaitable[None]]:
    """Wait for the first snapshot, then press keys."""

    async def run_before(pilot: Pilot[Any]) -> None:
        dashboard = pilot.app.dashboard  # type: ignore[attr-defined]
        for _ in range(200):
            if dashboard.snapshot is not None:
                break
            await pilot.pause(0.01)
        await pilot.press(*keys)
        await pilot.pause()

    return run_before


TABS = {
    "control_plane": ("1",),
    "namespaces": (),
    "pods": ("j", "j", "j", "enter"),
    "gateways": ("w",),
    "verify": ("3",),
    "finish": ("4",),
    "journal": ("5",),
}


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("tab", TABS)
def test_tab(snap_compare: Any, demo_inventory: Inventory, tab: str, size: str) -> None:
    app = static_app(demo_inventory, session=session())
    assert snap_compare(app, terminal_size=SIZES[size], run_before=after(*TABS[tab]))


@pytest.mark.parametrize("tab", TABS)
def test_tab_without_colour(
    snap_compare: Any, demo_inventory: Inventory, tab: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    app = static_app(demo_inventory, session=session())
    assert snap_compare(app, terminal_size=(80, 24), run_before=after(*TABS[tab]))


def test_upgrade_disabled_dialog(snap_compare: Any, demo_inventory: Inventory) -> None:
    app = static_app(demo_inventory, session=session())
    assert snap_compare(app, terminal_size=(80, 24), run_before=after("U"))


def test_help(snap_compare: Any, demo_inventory: Inventory) -> None:
    app = static_app(demo_inventory, session=session())
    assert snap_compare(app, terminal_size=(80, 24), run_before=after("question_mark"))


def test_too_small(snap_compare: Any, demo_inventory: Inventory) -> None:
    app = static_app(demo_inventory, session=session())
    assert snap_compare(app, terminal_size=(60, 20), run_before=after())
