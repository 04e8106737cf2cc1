"""The Data plane tab: namespaces (with their pods one Enter away) and gateways, one shown at a time."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import ContentSwitcher

from meshtui.tui.inert import InertStatic
from meshtui.tui.views.gateways import GatewaysView
from meshtui.tui.views.namespaces import NamespacesView
from meshtui.tui.views.pods import PodsView
from meshtui.tui.views.table_view import TableView

VIEWS = ("namespaces", "pods", "gateways")


class DataPlaneView(Vertical):
    """A one-line switcher over the namespaces, pods and gateways tables."""

    DEFAULT_CSS = """
    DataPlaneView { height: 1fr; }
    DataPlaneView > .subnav { height: 1; padding: 0 1; }
    DataPlaneView > ContentSwitcher { height: 1fr; }
    """

    LABELS: ClassVar[dict[str, str]] = {"namespaces": "n Namespaces", "pods": "P All pods", "gateways": "w Gateways"}

    def __init__(self, *, multi_cluster: bool = False, id: str | None = None) -> None:
        super().__init__(id=id)
        self.namespaces = NamespacesView(multi_cluster=multi_cluster, id="namespaces")
        self.pods = PodsView(id="pods")
        self.gateways = GatewaysView(id="gateways")
        self.subnav = InertStatic("", classes="subnav")
        self.current = "namespaces"
        self.pods_title = "Pods"

    def compose(self) -> ComposeResult:
        yield self.subnav
        with ContentSwitcher(initial="namespaces"):
            yield self.namespaces
            yield self.pods
            yield self.gateways

    def on_mount(self) -> None:
        self._render_nav()

    @property
    def active(self) -> TableView:
        """The table view shown."""
        return {"namespaces": self.namespaces, "pods": self.pods, "gateways": self.gateways}[self.current]

    def show(self, name: str, *, focus: bool = True) -> None:
        """Switch to one of the three tables."""
        self.current = name
        self.query_one(ContentSwitcher).current = name
        self._render_nav()
        if focus:
            self.active.table.focus()

    def set_pods_title(self, title: str) -> None:
        """What the pods entry of the switcher says (`Pods of shop`)."""
        self.pods_title = title
        self._render_nav()

    def _render_nav(self) -> None:
        text = Text()
        for i, name in enumerate(VIEWS):
            if i:
                text.append("  ")
            # "Pods of shop" names the view only while it is shown; elsewhere the entry says how to get there.
            label = self.LABELS[name]
            if name == "pods" and self.current == "pods":
                label = f"{self.pods_title} (esc back)"
            text.append(f" {label} ", style="reverse bold" if name == self.current else "")
        self.subnav.update(text)
