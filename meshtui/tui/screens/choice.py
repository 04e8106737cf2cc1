"""A question with a few answers, each on its own key (resume or discard a recorded restart)."""

from __future__ import annotations

from rich.text import Text
from textual import events

from meshtui.tui.screens.dialog import Dialog


class ChoiceScreen(Dialog[str | None]):
    """Answers the key of the chosen option; esc answers None (nothing happens)."""

    def __init__(self, title: str, question: str, options: dict[str, str]) -> None:
        keys = " · ".join(f"{key} {label}" for key, label in options.items())
        super().__init__(title, Text(question), f"{keys} · esc cancel")
        self.options = dict(options)

    def on_key(self, event: events.Key) -> None:
        if event.key in self.options:
            event.stop()
            self.dismiss(event.key)
