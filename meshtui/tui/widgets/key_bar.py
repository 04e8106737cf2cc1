"""The key bar: the keys that apply here, most useful first; a disabled action stays, greyed, without reverse video."""

from __future__ import annotations

from collections.abc import Iterable

from rich.cells import cell_len
from rich.text import Text
from textual.widget import Widget

from meshtui.engine.api import EngineState
from meshtui.tui.keymap import COMMANDS, Command, in_scope


def _entry(command: Command, enabled: bool) -> Text:
    text = Text()
    text.append(f" {command.display} ", style="reverse bold" if enabled else "bold")
    text.append(f"{command.label}", style="" if enabled else "dim")
    return text


def key_bar_text(
    scopes: set[str], state: EngineState | None, width: int, commands: Iterable[Command] = COMMANDS
) -> Text:
    """Fit the highest-priority commands of the active scopes into `width` cells, in registry order."""
    candidates = [c for c in commands if c.bar and in_scope(c, scopes)]
    chosen: set[str] = set()
    used = 0
    for c in sorted(candidates, key=lambda c: -c.bar):
        need = cell_len(c.display) + 2 + cell_len(c.label) + 1
        if used + need > width:
            continue
        chosen.add(c.action)
        used += need
    text = Text(no_wrap=True, overflow="crop")
    for c in candidates:
        if c.action not in chosen:
            continue
        enabled = True
        if c.engine is not None and state is not None:
            enabled = state.action(c.engine).enabled
        if text:
            text.append(" ")
        text.append_text(_entry(c, enabled))
    return text


class KeyBar(Widget):
    """One line of keys, recomputed when the scopes or the engine state change."""

    DEFAULT_CSS = """
    KeyBar { height: 1; background: $panel; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.scopes: set[str] = set()
        self.state: EngineState | None = None

    def show(self, scopes: set[str], state: EngineState | None) -> None:
        """Set what applies here (attributes down); repaints only on a change."""
        if scopes != self.scopes or state is not self.state:
            self.scopes = set(scopes)
            self.state = state
            self.refresh()

    def render(self) -> Text:
        return key_bar_text(self.scopes, self.state, self.size.width)
