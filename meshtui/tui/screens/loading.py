"""The first frame while the dashboard is prepared: what is being done, and that keys wait for it."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen

from meshtui.domain.text import inert
from meshtui.tui.inert import InertStatic

#: The keys that act here; every other key is answered with "still starting" (never acted on later: the
#: operator has not seen the screen it would act on).
QUIT_KEYS = ("q", "ctrl+c")


class LoadingScreen(Screen[None]):
    """Each stage of the start with a mark (done or in progress); q quits, other keys say it is still starting."""

    DEFAULT_CSS = """
    LoadingScreen { align: center middle; }
    LoadingScreen > InertStatic { width: 76; height: auto; padding: 1 2; border: round $primary; }
    """

    BINDINGS: ClassVar[list[BindingType]] = [Binding("q", "app.quit_now", "Quit")]

    def __init__(self, title: str) -> None:
        super().__init__()
        self.title_text = title
        self.stages: list[str] = []
        self.current_detail = ""
        self.body = InertStatic(self._text(), id="loading-body")

    def compose(self) -> ComposeResult:
        yield self.body

    def stage(self, line: str) -> None:
        """A new stage has begun (the previous one is done)."""
        self.stages.append(line)
        self.current_detail = ""
        self.body.update(self._text())

    def detail(self, text: str) -> None:
        """How far the current stage has come, under it."""
        self.current_detail = text
        self.body.update(self._text())

    def _text(self) -> Text:
        text = Text()
        text.append(inert(self.title_text), style="bold")
        text.append(" is starting; the dashboard opens when this is done.\n\n")
        for i, line in enumerate(self.stages):
            done = i < len(self.stages) - 1
            text.append("✓ " if done else "… ", style="green" if done else "bold")
            text.append(f"{inert(line)}\n", style="" if done else "bold")
            if not done and self.current_detail:
                text.append(f"  {inert(self.current_detail)}\n", style="dim")
        text.append("\nUntil the dashboard shows, keys other than q (quit) do nothing.", style="dim")
        return text

    def on_key(self, event: events.Key) -> None:
        if event.key in QUIT_KEYS:
            return
        event.stop()
        event.prevent_default()
        doing = self.stages[-1] if self.stages else "starting"
        self.notify(
            f"Still starting ({doing[:1].lower()}{doing[1:]}): that key did nothing. Keys work once the "
            "dashboard shows; q quits.",
            timeout=4,
        )
