"""One vocabulary on every surface: the help lists every key and column, the palette each action once."""

from __future__ import annotations

import re
from typing import Any

from rich.console import Console
from textual.command import CommandPalette
from textual.widgets import OptionList

from meshtui.domain.actions import ACTIONS
from meshtui.domain.inventory import Inventory
from meshtui.tui import keymap
from meshtui.tui.rows import NAMESPACE_COLUMNS, POD_COLUMNS
from meshtui.tui.screens.confirm import ConfirmScreen
from meshtui.tui.screens.help import help_table

from .conftest import static_app

EMOJI = re.compile("[\U0001f300-\U0001faff\u2600-\u27bf]")


def _help_text(width: int = 100) -> str:
    console = Console(width=width, record=True, color_system=None)
    console.print(help_table())
    return console.export_text()


def test_help_lists_every_key_that_works_anywhere() -> None:
    text = _help_text()
    keys = {line.split()[0] for line in text.splitlines() if line.strip()}
    for command in keymap.COMMANDS:
        if command.key:
            assert command.display.split()[0] in keys, command.id
    for dialog_key in ("o", "i", "f", "P"):
        assert dialog_key in keys


def test_help_explains_every_column() -> None:
    text = " ".join(_help_text().split())
    for column in (*NAMESPACE_COLUMNS, *POD_COLUMNS):
        if column.title not in ("NAMESPACE", "POD", "WORKLOAD"):
            assert column.title in text, column.title


def test_every_action_has_one_name_used_by_key_bar_and_palette() -> None:
    for action_id, title in ACTIONS:
        name = title.partition(":")[0]
        command = keymap.by_engine_action(action_id)
        assert command.label == name
        assert command.description and not command.description.startswith(name)


def _palette_rows(app: Any) -> list[tuple[str, str]]:
    options = app.screen.query_one(OptionList)
    rows = []
    for i in range(options.option_count):
        prompt = options.get_option_at_index(i).prompt
        lines = str(getattr(prompt, "plain", prompt)).split("\n")
        rows.append((lines[0].strip(), " ".join(lines[1:]).strip()))
    return rows


async def test_palette_lists_each_action_once_with_its_key_and_only_the_theme_of_textual(
    demo_inventory: Inventory,
) -> None:
    app = static_app(demo_inventory)
    async with app.run_test(size=(100, 40)) as pilot:
        await pilot.press("ctrl+p")
        await pilot.pause()
        assert isinstance(app.screen, CommandPalette)
        for _ in range(50):
            if app.screen.query_one(OptionList).option_count > 10:
                break
            await pilot.pause(0.02)
        rows = _palette_rows(app)
        titles = [title for title, _ in rows]
        assert "Theme" in titles
        for textual_only in ("Quit", "Keys", "Maximize", "Screenshot"):
            assert textual_only not in titles
        for action_id, _title in ACTIONS:
            command = keymap.by_engine_action(action_id)
            matching = [t for t in titles if t.startswith(f"{command.label}  {command.display}")]
            assert len(matching) == 1, (action_id, titles)
        for title, help_text in rows:
            assert title.split("  ")[0] != help_text
        assert not EMOJI.search(str(app.screen.query_one("SearchIcon").render()))


async def test_ctrl_c_while_work_runs_asks_once_with_meshtuis_question(demo_inventory: Inventory) -> None:
    app = static_app(demo_inventory)
    async with app.run_test(size=(100, 40)) as pilot:
        await pilot.pause()
        app.dashboard.runner.running = True
        await pilot.press("ctrl+c")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("ctrl+c")
        await pilot.pause()
        assert sum(isinstance(s, ConfirmScreen) for s in app.screen_stack) == 1
        assert not app._notifications  # no "Press q to quit" notice besides the dialog
        app.dashboard.runner.running = False
