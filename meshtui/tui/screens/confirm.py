"""A yes/no question (quit while work runs, abort a run)."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.binding import Binding, BindingType

from meshtui.tui.screens.dialog import Dialog


class ConfirmScreen(Dialog[bool]):
    """y answers yes; n or esc answers no."""

    # Yes only when pressed with the question on screen: a y typed ahead, before the question opened,
    # bubbles up with this dialog on top and would answer a plain binding.
    BINDINGS: ClassVar[list[BindingType]] = [("escape,n,q", "close", "No"), Binding("y", "yes", "Yes", priority=True)]

    def __init__(self, title: str, question: str) -> None:
        super().__init__(title, Text(question), "y yes · n/esc no")

    def default_result(self) -> bool:
        """Esc means no."""
        return False

    def action_yes(self) -> None:
        """Answer yes."""
        self.dismiss(True)
