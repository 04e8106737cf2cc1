"""The Textual application: theme, mouse, the size guard, and the dashboard screen (built by the factory)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from textual import events
from textual.app import App
from textual.command import CommandPalette, SearchIcon
from textual.filter import LineFilter, Monochrome, NoColor
from textual.notifications import SeverityLevel

from meshtui.domain.text import inert, inert_lines
from meshtui.engine.api import Session
from meshtui.tui import memory
from meshtui.tui.feed import MeshSource
from meshtui.tui.inert import InertFilter
from meshtui.tui.no_color import ReadableMonochrome
from meshtui.tui.screens.dashboard import DashboardScreen
from meshtui.tui.screens.plan import PlanScreen
from meshtui.tui.screens.too_small import TooSmallScreen
from meshtui.tui.settings import MIN_HEIGHT, MIN_WIDTH, Clock, DashboardSettings


class MeshPalette(CommandPalette):
    """Textual's palette with a plain prompt instead of an emoji (it reads on any terminal)."""

    def on_mount(self) -> None:
        self.query_one(SearchIcon).icon = ">"


class MeshApp(App[None]):
    """meshtui's dashboard; construct it with `meshtui.tui.factory.build_app`."""

    TITLE = "meshtui"
    # Textual's system commands (Quit that would not ask, Keys that shadow `?`, Screenshot...) are left
    # out; the dashboard's provider lists meshtui's commands and Theme, in one deterministic order.
    COMMANDS: ClassVar[set[Any]] = set()
    # A highlighted choice looks like the tables' cursor (reverse video), in pickers and the palette alike,
    # so it stays visible without colour.
    CSS = """
    OptionList > .option-list--option-highlighted,
    OptionList:focus > .option-list--option-highlighted {
        background: $surface; color: $foreground; text-style: reverse bold;
    }
    """
    COMMAND_PALETTE_BINDING = "ctrl+p"
    ENABLE_COMMAND_PALETTE = True

    def __init__(
        self,
        mesh: MeshSource,
        session: Session | None,
        settings: DashboardSettings,
        clock: Clock,
        *,
        session_problem: str = "",
    ) -> None:
        super().__init__()
        self.settings = settings
        self.dashboard = DashboardScreen(mesh, session, settings, clock, session_problem=session_problem)
        self._too_small: TooSmallScreen | None = None
        self._readable = ReadableMonochrome()
        self._inert = InertFilter()

    @property
    def mesh(self) -> MeshSource:
        """The watched mesh the dashboard shows (the caller stops it after the app exits)."""
        mesh: MeshSource = self.dashboard.mesh
        return mesh

    def get_line_filters(self) -> Sequence[LineFilter]:
        """Textual's filters, with NO_COLOR's swapped for one that keeps emphasis and the terminal's colours."""
        filters = [self._readable if type(f) in (Monochrome, NoColor) else f for f in super().get_line_filters()]
        return [self._inert, *filters]

    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity: SeverityLevel = "information",
        timeout: float | None = None,
        markup: bool = True,
    ) -> None:
        """A notification whose text is made inert (it often quotes cluster data)."""
        super().notify(inert_lines(message), title=inert(title), severity=severity, timeout=timeout, markup=markup)

    def on_mount(self) -> None:
        memory.loading()
        if self.settings.theme in self.available_themes:
            self.theme = self.settings.theme
        self.push_screen(self.dashboard)
        self._guard_size(self.size.width, self.size.height)

    def on_resize(self, event: events.Resize) -> None:
        if self.dashboard.is_attached:
            self._guard_size(event.size.width, event.size.height)

    def _guard_size(self, width: int, height: int) -> None:
        """Cover everything with one sentence below 80x24; remove it once the terminal is big enough."""
        small = width < MIN_WIDTH or height < MIN_HEIGHT
        if small and self._too_small is None:
            self._too_small = TooSmallScreen()
            self.push_screen(self._too_small)
        elif small and self._too_small is not None:
            self._too_small.show_size(width, height)
        elif not small and self._too_small is not None:
            screen, self._too_small = self._too_small, None
            if self.screen is screen:
                self.pop_screen()

    def on_key(self, event: events.Key) -> None:
        # Keys typed in one burst (`r i`) are all routed to the dashboard before `r` opens its plan
        # dialog; the ones after it bubble up here with the dialog on top, and are the dialog's.
        screen = self.screen
        if isinstance(screen, PlanScreen) and event.is_printable:
            screen.take_key(event.key)

    def action_command_palette(self) -> None:
        """Open the palette (`:` or ctrl+p)."""
        if self.use_command_palette and not CommandPalette.is_open(self):  # type: ignore[arg-type]
            self.push_screen(MeshPalette(id="--command-palette", placeholder="Search actions, tabs, namespaces…"))

    def action_help_quit(self) -> None:
        """ctrl+c: the same as q (quit; asks first while work runs), never Textual's notice."""
        self.dashboard.action_quit()

    def action_quit_now(self) -> None:
        """Quit from the size guard (the dashboard's q asks first while work runs)."""
        self.dashboard.action_quit()
