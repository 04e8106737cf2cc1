"""Every key, grouped by where it applies, from the one registry; plus the filter words."""

from __future__ import annotations

from typing import ClassVar

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.binding import BindingType

from meshtui.tui.keymap import COMMANDS, SCOPE_TITLES
from meshtui.tui.screens.dialog import Dialog

FILTER_HELP = (
    "Filter words (/): any word matches any column, case-insensitive; all words must match.\n"
    "  rev:1-22-3   the revision column is exactly 1-22-3\n"
    "  risk         rows with pods at risk\n"
    "  todo         namespaces (or pods) not yet fully on their revision on restart or on the target\n"
    "  !word        negates a word, e.g. !rev:1-23-1\n"
    "Namespace columns: ON SRC / ON TGT count live sidecar pods by their current revision; RISK counts "
    "pods whose replacement would differ from what the namespace asks; RESTART is done/total: pods "
    "already running what their replacement would get, of those a restart would give a sidecar.\n"
    "Ctrl+p also opens the command palette; the mouse works but nothing needs it."
)


def help_table() -> Group:
    """The keys of every scope, in registry order."""
    parts = []
    groups = [
        (title, [c for c in COMMANDS if c.key and not c.engine and c.scopes[0] == scope])
        for scope, title in SCOPE_TITLES.items()
    ]
    groups.insert(-1, ("Upgrade actions (a disabled one says why)", [c for c in COMMANDS if c.engine]))
    for title, rows in groups:
        table = Table(box=None, show_header=False, pad_edge=False, expand=True)
        table.add_column(width=12, no_wrap=True)
        table.add_column(ratio=1)
        if not rows:
            continue
        for c in rows:
            table.add_row(Text(c.display, style="bold"), Text(c.description))
        parts += [Text(title, style="bold underline"), table, Text("")]
    parts.append(Text(FILTER_HELP))
    return Group(*parts)


class HelpScreen(Dialog[None]):
    """The help dialog; scrolls with the arrow keys."""

    DEFAULT_CSS = """
    HelpScreen > Vertical { height: 100%; }
    HelpScreen VerticalScroll { height: 1fr; max-height: 100%; }
    """

    BINDINGS: ClassVar[list[BindingType]] = [("question_mark", "close", "Close")]

    def __init__(self) -> None:
        super().__init__("Keys", help_table(), "↑↓ scroll · esc/? close")

    def on_mount(self) -> None:
        self.query_one("VerticalScroll").focus()
