"""An error or notice in plain words with what to do next; never a traceback."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.binding import BindingType

from meshtui.tui.screens.dialog import Dialog


class MessageScreen(Dialog[None]):
    """A titled message; esc or enter closes it."""

    BINDINGS: ClassVar[list[BindingType]] = [("enter", "close", "Close")]

    def __init__(self, title: str, message: str, next_step: str = "") -> None:
        body = Text(message)
        if next_step:
            body.append("\n\n")
            body.append(next_step, style="bold")
        super().__init__(title, body, "enter/esc close")
