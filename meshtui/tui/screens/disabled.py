"""Why an action is disabled: every unmet condition, and a key that shows the offenders."""

from __future__ import annotations

from typing import ClassVar

from textual.binding import BindingType

from meshtui.engine.api import ActionState
from meshtui.tui.keymap import action_name
from meshtui.tui.plan_text import HangingLines
from meshtui.tui.rows import RISK_STYLE
from meshtui.tui.screens.dialog import Dialog


class DisabledScreen(Dialog[bool]):
    """Lists the reasons; o answers True (show the offenders), esc False."""

    BINDINGS: ClassVar[list[BindingType]] = [("o,enter", "offenders", "Offenders")]

    def __init__(self, action: ActionState, key: str, can_jump: bool) -> None:
        # Each reason wraps under its own text, so a long list of offenders still reads as one reason.
        body = HangingLines([("x ", reason) for reason in action.reasons or ("no reason given",)], RISK_STYLE)
        keys = "o show the offenders · esc close" if can_jump else "esc close"
        super().__init__(f"{action_name(action.id)} ({key}) is disabled", body, keys)
        self.can_jump = can_jump

    def default_result(self) -> bool:
        """Esc: stay where you are."""
        return False

    def action_offenders(self) -> None:
        """Close and show the offenders."""
        self.dismiss(self.can_jump)
