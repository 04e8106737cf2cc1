"""What a dialog's scroll area hides: a "N more lines below" line, and keys that scroll it whatever has focus.

At 80x24 a plan of eight operations does not fit; nothing irreversible may hide below the fold, and the
confirmation box holding focus must not stop PageDown from reaching the plan.
"""

from __future__ import annotations

from rich.text import Text
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.widgets import Static


def hidden_below(scroll: VerticalScroll) -> int:
    """Rows of the scroll area below what is on screen."""
    return max(0, round(scroll.max_scroll_y - scroll.scroll_y))


def hidden_above(scroll: VerticalScroll) -> int:
    """Rows of the scroll area above what is on screen."""
    return max(0, round(scroll.scroll_y))


class MoreScroll(VerticalScroll):
    """A scroll area that tells its MoreLine when its size changes (the count depends on it too)."""

    def __init__(self) -> None:
        super().__init__()
        self.more: MoreLine | None = None

    def on_resize(self) -> None:
        if self.more is not None:
            self.call_after_refresh(self.more.recount)


class MoreLine(Static):
    """One dim line under a scroll area saying how much of it is out of sight, and which keys show it."""

    DEFAULT_CSS = """
    MoreLine { height: 1; color: $text-muted; }
    """

    def __init__(self, scroll: MoreScroll) -> None:
        super().__init__(Text(""), markup=False)
        self.scroll = scroll
        scroll.more = self
        self.display = False

    def on_mount(self) -> None:
        self.watch(self.scroll, "scroll_y", self.recount, init=False)
        self.watch(self.scroll, "virtual_size", self.recount, init=False)

    def recount(self, *_: object) -> None:
        """Say how many lines are above and below the visible part."""
        below, above = hidden_below(self.scroll), hidden_above(self.scroll)
        if below:
            line = "s" if below != 1 else ""
            self.update(Text(f"▼ {below} more line{line} below · PgDn/↓ scroll" + (" · PgUp/↑ back" if above else "")))
        elif above:
            self.update(Text("(end) · PgUp/↑ scroll back"))
        # Hidden when everything fits, so a short dialog keeps its height.
        shown = bool(below or above)
        if shown != self.display:
            self.display = shown
            # Showing or hiding this line resizes the scroll area without changing its content or offset,
            # which no watcher sees: count again once that layout is done.
            self.call_after_refresh(self.recount)


#: Screen-level keys, so they scroll the plan even while a text box has focus.
SCROLL_BINDINGS: list[BindingType] = [
    Binding("pagedown", "scroll_body('page_down')", "Page down", show=False),
    Binding("pageup", "scroll_body('page_up')", "Page up", show=False),
    Binding("down", "scroll_body('down')", "Down", show=False),
    Binding("up", "scroll_body('up')", "Up", show=False),
]


def scroll_body(scroll: VerticalScroll, how: str) -> None:
    """Scroll by a page or a line, without animation (a slow link shows the result, not the motion)."""
    if how == "page_down":
        scroll.scroll_page_down(animate=False)
    elif how == "page_up":
        scroll.scroll_page_up(animate=False)
    elif how == "down":
        scroll.scroll_relative(y=1, animate=False)
    elif how == "up":
        scroll.scroll_relative(y=-1, animate=False)
