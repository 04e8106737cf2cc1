"""Choose a tag and the revision it should point at (for the move-tag action)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from meshtui.tui.inert import InertStatic


class PickList(OptionList):
    """An option list that also moves with j and k, and answers a pick at once, in key order.

    OptionList posts its selection as a message: with `enter enter` in one burst both would name an
    option of the first list. Calling `picked` from the key's own action lets the second enter see the
    list the first one made.
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("j", "cursor_down", "Down", show=False),
        Binding("k", "cursor_up", "Up", show=False),
    ]

    def __init__(self, *options: Option, picked: Callable[[str], None]) -> None:
        super().__init__(*options)
        self.picked = picked

    def action_select(self) -> None:
        """Answer the highlighted option now."""
        index = self.highlighted
        if index is not None:
            option_id = self.get_option_at_index(index).id
            if option_id is not None:
                self.picked(option_id)


class TagScreen(ModalScreen[dict[str, Any] | None]):
    """Two steps: pick the tag, then its new revision; answers {"tag": ..., "to": ...} or None."""

    DEFAULT_CSS = """
    TagScreen { align: center middle; }
    TagScreen > Vertical { width: 70; height: auto; max-height: 100%; border: thick $accent; background: $surface;
                           padding: 0 1; }
    TagScreen OptionList { height: auto; max-height: 14; }
    TagScreen .keys { color: $text-muted; }
    """

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, tags: list[tuple[str, str]], revisions: list[str]) -> None:
        super().__init__()
        self.tags = tags
        self.revisions = revisions
        self.tag: str | None = None
        self.answered = False
        self.prompt = InertStatic(Text("Which tag should move?", style="bold"))
        self.options = PickList(*[Option(Text(f"{name} -> {rev}"), id=name) for name, rev in tags], picked=self._chosen)

    def compose(self) -> ComposeResult:
        with Vertical():
            yield self.prompt
            yield self.options
            yield Static(Text("↑↓/j k choose · enter select · esc cancel"), markup=False, classes="keys")

    def on_mount(self) -> None:
        self.options.focus()

    def _chosen(self, option_id: str) -> None:
        if self.tag is None:
            self.tag = option_id
            current = dict(self.tags).get(self.tag or "")
            self.prompt.update(Text(f"Point tag {self.tag} (now {current}) at which revision?", style="bold"))
            self.options.clear_options()
            self.options.add_options([Option(Text(r), id=r) for r in self.revisions if r != current])
            self.options.highlighted = 0
            return
        if not self.answered:  # an enter more in the same burst finds the dialog already answered
            self.answered = True
            self.dismiss({"tag": self.tag, "to": option_id})

    def action_cancel(self) -> None:
        """Close without choosing."""
        self.dismiss(None)
