"""The Textual application: theme, mouse, the size guard, and the dashboard screen (built by the factory)."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Sequence
from typing import Any, ClassVar

from textual import events
from textual.app import App
from textual.command import CommandPalette, SearchIcon
from textual.filter import LineFilter, Monochrome, NoColor
from textual.message import Message
from textual.notifications import SeverityLevel

from meshtui.domain.text import inert, inert_lines
from meshtui.engine.api import Session
from meshtui.tui import memory
from meshtui.tui.feed import MeshSource
from meshtui.tui.inert import InertFilter
from meshtui.tui.no_color import ReadableMonochrome
from meshtui.tui.screens.dashboard import DashboardScreen
from meshtui.tui.screens.loading import LoadingScreen
from meshtui.tui.screens.plan import PlanScreen
from meshtui.tui.screens.too_small import TooSmallScreen
from meshtui.tui.settings import MIN_HEIGHT, MIN_WIDTH, Clock, DashboardSettings
from meshtui.tui.startup import Started, Starter, StartFailed


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

    class StartStage(Message):
        """The starter began a stage (posted from its thread)."""

        def __init__(self, line: str) -> None:
            super().__init__()
            self.line = line

    class StartDetail(Message):
        """How far the starter's current stage has come (posted from its thread)."""

        def __init__(self, text: str) -> None:
            super().__init__()
            self.text = text

    class StartDone(Message):
        """The starter finished: what to show, or why nothing can be (posted from its thread)."""

        def __init__(self, started: Started | None, failure: StartFailed | None) -> None:
            super().__init__()
            self.started = started
            self.failure = failure

    def __init__(
        self,
        mesh: MeshSource | None,
        session: Session | None,
        settings: DashboardSettings,
        clock: Clock,
        *,
        session_problem: str = "",
        starter: Starter | None = None,
    ) -> None:
        super().__init__()
        self.settings = settings
        self.clock = clock
        self._dashboard: DashboardScreen | None = None
        if mesh is not None:
            self._dashboard = DashboardScreen(mesh, session, settings, clock, session_problem=session_problem)
        elif starter is None:
            raise ValueError("the dashboard needs a mesh or a starter")
        self.starter = starter
        self.loading_screen: LoadingScreen | None = None
        #: Why the starter could not open the dashboard (the CLI prints it after the app exits).
        self.start_failure: StartFailed | None = None
        self._too_small: TooSmallScreen | None = None
        self._readable = ReadableMonochrome()
        self._inert = InertFilter()

    @property
    def dashboard(self) -> DashboardScreen:
        """The dashboard screen (with a starter, only once it has finished: see `started`)."""
        if self._dashboard is None:
            raise RuntimeError("the dashboard is still starting")
        return self._dashboard

    @property
    def started(self) -> bool:
        """True once the dashboard exists (at once without a starter)."""
        return self._dashboard is not None

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
        if self._dashboard is not None:
            self.push_screen(self._dashboard)
        else:
            self.loading_screen = LoadingScreen(self.settings.title)
            self.push_screen(self.loading_screen)
            # A daemon thread, not a worker: quitting must not wait for a build nobody will see.
            threading.Thread(target=self._start, name="dashboard-starter", daemon=True).start()
        self._guard_size(self.size.width, self.size.height)

    def _start(self) -> None:
        """Run the starter (on its own thread) and post the outcome to the UI loop."""
        assert self.starter is not None
        started: Started | None = None
        failure: StartFailed | None = None
        try:
            started = self.starter(_Reporter(self))
        except StartFailed as exc:
            failure = exc
        except Exception as exc:  # whatever it is, the operator gets one sentence, not a hung screen
            failure = StartFailed(f"the dashboard could not start: {exc}", 1)
        self._post(self.StartDone(started, failure))

    def _post(self, message: Message) -> None:
        """Post from the starter's thread; once the app has gone (the operator quit) there is nobody to tell."""
        with contextlib.suppress(RuntimeError):  # the loop closed between the check and the post
            self.post_message(message)

    def on_mesh_app_start_stage(self, event: StartStage) -> None:
        if self.loading_screen is not None:
            self.loading_screen.stage(event.line)

    def on_mesh_app_start_detail(self, event: StartDetail) -> None:
        if self.loading_screen is not None:
            self.loading_screen.detail(event.text)

    def on_mesh_app_start_done(self, event: StartDone) -> None:
        if event.started is None:
            self.start_failure = event.failure
            self.exit(return_code=event.failure.exit_code if event.failure is not None else 1)
            return
        s = event.started
        self.settings = s.settings
        self._dashboard = DashboardScreen(s.mesh, s.session, s.settings, self.clock, session_problem=s.session_problem)
        loading, self.loading_screen = self.loading_screen, None
        # The size guard may cover the loading screen: the dashboard takes the loading screen's place under it.
        covering = self._too_small if self.screen is self._too_small else None
        if covering is not None:
            self.pop_screen()
        if loading is not None and self.screen is loading:
            self.switch_screen(self._dashboard)
        else:
            self.push_screen(self._dashboard)
        if covering is not None:
            self.push_screen(covering)

    def on_resize(self, event: events.Resize) -> None:
        # Only once the main screen is up (a Resize comes before the mount): the guard must cover it.
        main = self._dashboard or self.loading_screen
        if main is not None and main.is_attached:
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
        self.action_quit_now()

    def action_quit_now(self) -> None:
        """Quit from the size guard or while starting (the dashboard's q asks first while work runs)."""
        if self._dashboard is None:
            self.exit()
        else:
            self._dashboard.action_quit()


class _Reporter:
    """The starter's `Report`: each call becomes a message to the app (from the starter's thread)."""

    def __init__(self, app: MeshApp) -> None:
        self.app = app

    def __call__(self, line: str) -> None:
        self.app._post(MeshApp.StartStage(line))

    def detail(self, text: str) -> None:
        self.app._post(MeshApp.StartDetail(text))
