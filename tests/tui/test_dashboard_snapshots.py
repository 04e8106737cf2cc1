"""Snapshots of every tab and dialog of the demo (seed 1) at 80x24 and 200x50, and without colour.

The mesh is read once and served by a StaticMesh, the clock is fixed and the session is the test fake,
so nothing changes between the first snapshot and the screenshot.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from textual.command import CommandPalette
from textual.pilot import Pilot
from textual.widgets import OptionList

from meshtui.domain.inventory import Inventory
from meshtui.engine.api import CheckResult, JournalLine
from meshtui.tui.screens.plan import PlanScreen

from .conftest import static_app
from .fakes import FakeSession

SIZES = {"80x24": (80, 24), "200x50": (200, 50)}
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


def after(*keys: str, plan: bool = False) -> Callable[[Pilot[Any]], Awaitable[None]]:
    """Wait for the first snapshot, then press keys (and, for a plan, wait for its dry run)."""

    async def run_before(pilot: Pilot[Any]) -> None:
        dashboard = pilot.app.dashboard  # type: ignore[attr-defined]
        for _ in range(200):
            if dashboard.snapshot is not None:
                break
            await pilot.pause(0.01)
        await pilot.press(*keys)
        await pilot.pause()
        if isinstance(pilot.app.screen, CommandPalette):
            # The palette gathers its commands in a worker: wait until the list stops growing.
            options = pilot.app.screen.query_one(OptionList)
            count = -1
            while options.option_count != count or count < 10:
                count = options.option_count
                await pilot.pause(0.05)
        if plan:
            for _ in range(500):
                screen = pilot.app.screen
                if (
                    isinstance(screen, PlanScreen)
                    and screen.plan is not None
                    and (screen.outcome or (screen.applicable is False and str(screen.verdict.render())))
                ):
                    break
                await pilot.pause(0.01)
            await pilot.pause()

    return run_before


TABS = {
    "control_plane": ("1",),
    "namespaces": (),
    "pods": ("j", "j", "j", "enter"),
    "all_pods": ("P",),
    "gateways": ("w",),
    "verify": ("3",),
    "finish": ("4",),
    "journal": ("5",),
}
DIALOGS = {
    "help": ("question_mark",),
    "help_end": ("question_mark", "end"),
    "upgrade_disabled": ("U",),
    "namespace_detail": ("j", "j", "e"),
    "pod_detail": ("j", "j", "j", "enter", "enter"),
    "gateway_detail": ("w", "enter"),
    "journal_detail": ("5", "enter"),
    "palette": ("colon",),
}
PLANS = {"plan_restart": ("a", "r")}
SCREENS = {**TABS, **DIALOGS, **PLANS}


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("screen", SCREENS)
def test_screen(snap_compare: Any, demo_inventory: Inventory, screen: str, size: str) -> None:
    app = static_app(demo_inventory, session=session())
    assert snap_compare(app, terminal_size=SIZES[size], run_before=after(*SCREENS[screen], plan=screen in PLANS))


@pytest.mark.parametrize("screen", SCREENS)
def test_screen_without_colour(
    snap_compare: Any, demo_inventory: Inventory, screen: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    app = static_app(demo_inventory, session=session())
    assert snap_compare(app, terminal_size=(80, 24), run_before=after(*SCREENS[screen], plan=screen in PLANS))


def test_too_small(snap_compare: Any, demo_inventory: Inventory) -> None:
    app = static_app(demo_inventory, session=session())
    assert snap_compare(app, terminal_size=(60, 20), run_before=after())
