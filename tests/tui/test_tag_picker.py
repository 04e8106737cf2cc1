"""The tag picker keeps the meaning of keys typed in one burst: `j enter enter` picks a tag, then a revision."""

from __future__ import annotations

from typing import Any

from textual.app import App

from meshtui.tui.screens.tag import TagScreen

from .test_typed_ahead import burst, settled

TAGS = [("default", "1-22-3"), ("prod-canary", "1-23-1"), ("prod-stable", "1-22-3")]
REVISIONS = ["1-22-3", "1-23-1"]


class Host(App[None]):
    def __init__(self) -> None:
        super().__init__()
        self.answers: list[dict[str, Any] | None] = []

    def on_mount(self) -> None:
        self.push_screen(TagScreen(TAGS, REVISIONS), self.answers.append)


async def test_j_enter_enter_in_one_burst_picks_the_tag_then_its_revision() -> None:
    app = Host()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        burst(app, ("j", "j"), ("enter", None), ("enter", None), ("enter", None))  # one enter too many
        await settled(pilot, lambda: bool(app.answers))
        await pilot.pause()
    assert app.answers == [{"tag": "prod-canary", "to": "1-22-3"}], "the second enter chose from the revisions"


async def test_keys_one_at_a_time_pick_the_same() -> None:
    app = Host()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("j", "j", "enter", "enter")
        await settled(pilot, lambda: bool(app.answers))
    assert app.answers == [{"tag": "prod-stable", "to": "1-23-1"}]
