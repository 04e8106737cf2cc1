"""The command palette (`:` or ctrl+p): every command of the registry, Theme, and a jump to any namespace."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING

from textual.command import DiscoveryHit, Hit, Hits, Provider

from meshtui.tui.keymap import COMMANDS, Command

if TYPE_CHECKING:
    from meshtui.tui.screens.dashboard import DashboardScreen

_MAX_NAMESPACE_HITS = 50


def _title(command: Command, state_note: str) -> str:
    """The command's one name and its key (`Switch  s`); what it does goes in the help line under it."""
    key = f"  {command.display}" if command.key else ""
    return f"{command.label}{key}{state_note}"


class MeshCommands(Provider):
    """Registry commands (disabled ones say so) and `namespace NAME` jumps."""

    def _dashboard(self) -> DashboardScreen | None:
        from meshtui.tui.screens.dashboard import DashboardScreen

        screen = self.screen
        return screen if isinstance(screen, DashboardScreen) else None

    def _commands(self) -> list[tuple[str, str, Callable[[], object]]]:
        dashboard = self._dashboard()
        if dashboard is None:
            return []
        state = dashboard.engine_state
        out = []
        for c in COMMANDS:
            if not c.palette:
                continue
            note = ""
            if c.engine and state is not None and not state.action(c.engine).enabled:
                note = "  (disabled: choose it to see why)"
            out.append((_title(c, note), c.description, partial(dashboard.run_action, c.action)))
        out.append(("Theme", "Change the colours (NO_COLOR is always honoured)", self.app.action_change_theme))
        return out

    async def discover(self) -> Hits:
        """Every command, in registry order."""
        for title, help_text, run in self._commands():
            yield DiscoveryHit(title, run, text=title, help=help_text)

    async def search(self, query: str) -> Hits:
        """Commands matching the query, and namespaces whose name matches it."""
        matcher = self.matcher(query)
        for title, help_text, run in self._commands():
            score = matcher.match(title)
            if score > 0:
                yield Hit(score, matcher.highlight(title), run, text=title, help=help_text)
        dashboard = self._dashboard()
        if dashboard is None:
            return
        found = 0
        for key in dashboard.namespace_keys():
            label = f"namespace {key[1]}" + (f" ({key[0]})" if dashboard.multi_cluster else "")
            score = matcher.match(label)
            if score > 0:
                yield Hit(
                    score,
                    matcher.highlight(label),
                    partial(dashboard.open_namespace, key),
                    text=label,
                    help="Show this namespace's pods",
                )
                found += 1
                if found >= _MAX_NAMESPACE_HITS:
                    return
