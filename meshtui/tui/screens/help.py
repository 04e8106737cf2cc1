"""Every key, grouped by where it applies, from the one registry; plus the filter words."""

from __future__ import annotations

from typing import ClassVar

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.binding import BindingType

from meshtui.tui.keymap import COMMANDS, SCOPE_TITLES
from meshtui.tui.screens.dialog import Dialog

FILTER_WORDS = (
    ("word", "any word matches any column, case-insensitive; all words must match"),
    ("rev:1-22-3", "the revision column is exactly 1-22-3"),
    ("risk", "rows with pods at risk"),
    ("todo", "namespaces (or pods) not yet fully on their revision on restart or on the target"),
    ("!word", "negates a word, e.g. !rev:1-23-1"),
)
FOOTNOTE = "Ctrl+p also opens the command palette; the mouse works but nothing needs it."

#: Every column of every table, in the words of the table's header.
COLUMNS_HELP: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = (
    (
        "Namespaces",
        (
            ("INJECTION", "the label that asks for injection: rev=R (istio.io/rev), injection=enabled|disabled"),
            ("REVISION", "the revision that label resolves to now (none: it asks for one that does not exist)"),
            ("LIVE", "pods not Succeeded or Failed"),
            ("ON SRC", "live pods whose sidecar came from the source revision"),
            ("ON TGT", "live pods whose sidecar came from the target revision"),
            ("NO SC", "live pods without a sidecar"),
            ("RISK", "pods whose replacement would differ from what the namespace asks (! in the pods' REASON)"),
            (
                "RESTART",
                "pods a restart would still change (N left); 0 left: restarting changes nothing now; - when "
                "no pod here gets a sidecar",
            ),
        ),
    ),
    (
        "Pods",
        (
            ("STATUS", "Running, NotReady, Terminating or the container's waiting reason"),
            ("REV", "the revision that injected the running sidecar (- no sidecar)"),
            ("PROXY", "the sidecar's proxy version"),
            ("ON RESTART", "the revision a replacement would get now (none: no sidecar)"),
            ("RST", "container restarts"),
            ("REASON", "why the pod is at risk (starts with !), or why it cannot be restarted"),
        ),
    ),
    (
        "Gateways",
        (
            ("REV / ON RESTART", "the running revision and the one a restart would give"),
            ("PODS", "the gateway's pods"),
            ("HOW IT IS UPGRADED", "what m (Gateways) does to it"),
        ),
    ),
    (
        "Node agents (N, ambient meshes)",
        (
            ("AGENT", "ztunnel or istio-cni: upgraded in place node by node by the ambient step (z), never restarted"),
            ("VERSION", "the version the pod runs"),
            ("ISTIOD", "the revision this ztunnel gets its configuration and certificates from (- for istio-cni)"),
            ("READY", "ready, NOT ready or terminating"),
            ("TEMPLATE", "current: runs the DaemonSet's template; older: not yet replaced on this node"),
            (
                "AMBIENT",
                "live ambient pods on the node: their connections are reset when its ztunnel is replaced",
            ),
        ),
    ),
    ("Journal", (("RESULT", "applied, refused, failed, conflict or denied"), ("WHAT", "objects and message"))),
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
            what = Text.assemble((c.label, "bold"), f": {c.description[0].lower()}{c.description[1:]}")
            table.add_row(Text(c.display, style="bold"), what if c.engine else Text(c.description))
        parts += [Text(title, style="bold underline"), table, Text("")]
    parts += [Text("Filter words (/)", style="bold underline"), _two_columns(FILTER_WORDS), Text("")]
    parts.append(Text("Columns", style="bold underline"))
    for title, columns in COLUMNS_HELP:
        parts += [Text(title, style="italic"), _two_columns(columns)]
    parts += [Text(""), Text(FOOTNOTE)]
    return Group(*parts)  # type: ignore[arg-type]  # rich types Text/Table as JupyterMixin here


def _two_columns(rows: tuple[tuple[str, str], ...]) -> Table:
    """Term and meaning; a long meaning wraps under itself, never under the term."""
    table = Table(box=None, show_header=False, pad_edge=False, expand=True)
    table.add_column(width=12)
    table.add_column(ratio=1)
    for term, meaning in rows:
        table.add_row(Text(term, style="bold"), Text(meaning))
    return table


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
