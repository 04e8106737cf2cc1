"""NO_COLOR: the rendered screen holds no colour with a hue, and each state still reads without one."""

from __future__ import annotations

import re

import pytest

from meshtui.domain.inventory import Inventory

from .conftest import static_app
from .test_dashboard_snapshots import PLANS, SCREENS, after, session

HEX = re.compile(r"#([0-9a-fA-F]{6})\b")
#: The window decoration Textual draws around its SVG (three coloured buttons) is not the screen.
CHROME = re.compile(r"<circle[^>]*>")
#: The largest channel spread that still counts as a grey (Textual's own "grey" foreground is #c5c8c6).
GREY_SPREAD = 8


def chromatic(svg: str) -> set[str]:
    """Every colour in the rendered SVG whose channels differ by more than a grey's."""
    found = set()
    for code in HEX.findall(CHROME.sub("", svg)):
        r, g, b = (int(code[i : i + 2], 16) for i in (0, 2, 4))
        if max(r, g, b) - min(r, g, b) > GREY_SPREAD:
            found.add(f"#{code}")
    return found


def test_the_check_itself_finds_colour() -> None:
    assert chromatic('<rect fill="#98e024"/><text style="fill: #c5c8c6"><circle fill="#ff5f57"/>') == {"#98e024"}


@pytest.mark.parametrize("screen", SCREENS)
async def test_no_chromatic_colour_under_no_color(
    demo_inventory: Inventory, screen: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    app = static_app(demo_inventory, session=session())
    async with app.run_test(size=(80, 24)) as pilot:
        await after(*SCREENS[screen], plan=screen in PLANS)(pilot)
        svg = app.export_screenshot()
    assert chromatic(svg) == set()


@pytest.mark.parametrize("screen", ["namespaces", "finish"])
async def test_with_colour_the_same_screens_do_have_colour(demo_inventory: Inventory, screen: str) -> None:
    app = static_app(demo_inventory, session=session())
    async with app.run_test(size=(80, 24)) as pilot:
        await after(*SCREENS[screen])(pilot)
        svg = app.export_screenshot()
    assert chromatic(svg)
