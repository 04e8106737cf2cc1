"""The Control plane tab shows the ambient node agents, one line a node (issue 13, item 4)."""

from __future__ import annotations

from rich.console import Console

from meshtui.tui.views.control_plane import render_ambient
from tests.domain.test_ambient import SOURCE, TARGET, ambient_mesh, view_of
from tests.domain.test_gates import mesh_objects


def text_of(renderable: object) -> list[str]:
    console = Console(width=100, record=True, color_system=None)
    console.print(renderable)
    return [line.rstrip() for line in console.export_text().splitlines()]


def test_node_agents_are_listed_node_by_node_with_their_istiod() -> None:
    view = view_of(
        ("prod", ambient_mesh(ztunnel_rev=TARGET, ztunnel_version="1.23.1", updated=2)), source=SOURCE, target=TARGET
    )
    lines = text_of(render_ambient(view))
    assert lines[0] == "Ambient node agents (upgraded in place, node by node)"
    assert "  ztunnel  istio-system/ztunnel  version 1.23.1  istiod 1-23-1  2/3 nodes updated  rolling" in lines
    rows = [line.split() for line in lines]
    assert ["worker-3", "ztunnel-2abcd", "version", "1.22.3", "ready", "older", "template"] in rows
    assert ["worker-1", "ztunnel-0abcd", "version", "1.23.1", "ready", "current", "template"] in rows
    assert any(line.startswith("  istio-cni  istio-system/istio-cni-node  version 1.22.3") for line in lines)


def test_a_sidecar_only_mesh_shows_no_ambient_section() -> None:
    assert render_ambient(view_of(("prod", mesh_objects(TARGET)), source=SOURCE, target=TARGET)) is None
