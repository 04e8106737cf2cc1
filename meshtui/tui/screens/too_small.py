"""Shown instead of a broken layout when the terminal is smaller than 80x24."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import Static

from meshtui.tui.settings import MIN_HEIGHT, MIN_WIDTH


class TooSmallScreen(Screen[None]):
    """One sentence: the size needed and the size now; q still quits."""

    DEFAULT_CSS = """
    TooSmallScreen { align: center middle; }
    TooSmallScreen > Static { width: 100%; height: auto; text-align: center; }
    """

    BINDINGS: ClassVar[list[BindingType]] = [Binding("q", "app.quit_now", "Quit")]

    def __init__(self) -> None:
        super().__init__()
        self.message = Static("", markup=False)

    def compose(self) -> ComposeResult:
        yield self.message

    def on_mount(self) -> None:
        self.show_size(self.app.size.width, self.app.size.height)

    def show_size(self, width: int, height: int) -> None:
        """Say how big the terminal is and how big it must be."""
        self.message.update(
            Text(
                f"meshtui needs a terminal of at least {MIN_WIDTH}x{MIN_HEIGHT}; this one is {width}x{height}. "
                "Enlarge the window; q quits."
            )
        )
