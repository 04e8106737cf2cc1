"""A small modal with a title, a scrollable body and a line of keys: the shape of every simple dialog."""

from __future__ import annotations

from typing import ClassVar, TypeVar

from rich.console import RenderableType
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static

from meshtui.tui.inert import InertStatic
from meshtui.tui.screens.more import SCROLL_BINDINGS, MoreLine, MoreScroll, scroll_body

T = TypeVar("T")


class Dialog(ModalScreen[T]):
    """Title, body and keys; esc closes with `None`-like `default`."""

    DEFAULT_CSS = """
    Dialog { align: center middle; }
    Dialog > Vertical { width: 100%; max-width: 110; height: auto; max-height: 100%; border: thick $accent;
                        background: $surface; padding: 0 1; }
    Dialog .title { text-style: bold; height: auto; }
    Dialog VerticalScroll { height: auto; max-height: 16; }
    Dialog .keys { height: 1; color: $text-muted; margin-top: 1; }
    """

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,q", "close", "Close"), *SCROLL_BINDINGS]

    def __init__(self, title: str, body: RenderableType, keys: str = "esc close") -> None:
        super().__init__()
        self.heading = title
        self.content_body = body
        self.key_line = keys
        self.scroll = MoreScroll()
        self.more = MoreLine(self.scroll)

    def compose(self) -> ComposeResult:
        with Vertical():
            yield InertStatic(Text(self.heading), classes="title")
            with self.scroll:
                yield InertStatic(self.content_body, classes="body")
            yield self.more
            yield Static(Text(self.key_line), markup=False, classes="keys")

    def action_scroll_body(self, how: str) -> None:
        """PageDown/PageUp and the arrows scroll the body, whichever widget has focus."""
        scroll_body(self.scroll, how)

    def action_close(self) -> None:
        """Close the dialog."""
        self.dismiss(self.default_result())

    def default_result(self) -> T:
        """What closing with esc answers."""
        return None  # type: ignore[return-value]
