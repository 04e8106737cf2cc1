"""Ask for one line of text (a folder, a binary path) before re-planning an action."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static

from meshtui.tui.inert import InertStatic


class AskScreen(ModalScreen[str | None]):
    """A prompt and an input; Enter answers the text, esc None."""

    DEFAULT_CSS = """
    AskScreen { align: center middle; }
    AskScreen > Vertical { width: 100%; max-width: 100; height: auto; border: thick $accent; background: $surface;
                           padding: 0 1; }
    AskScreen .keys { color: $text-muted; }
    """

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, title: str, prompt: str, value: str = "") -> None:
        super().__init__()
        self.heading = title
        self.prompt = prompt
        self.input = Input(value=value, placeholder=prompt)

    def compose(self) -> ComposeResult:
        with Vertical():
            yield InertStatic(Text(self.heading, style="bold"))
            yield InertStatic(Text(self.prompt))
            yield self.input
            yield Static(Text("enter continue · esc cancel"), markup=False, classes="keys")

    def on_mount(self) -> None:
        self.input.focus()

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        value = event.value.strip()
        if value:
            self.dismiss(value)

    def action_cancel(self) -> None:
        """Close without an answer."""
        self.dismiss(None)
