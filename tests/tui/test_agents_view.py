"""The Data plane tab's Node agents view (N): each ztunnel and istio-cni pod node by node (issue 13, item 4).

Snapshots of the ambient demo at 80x24, 200x50 and without colour; a live dashboard follows a ztunnel pod
replaced in the simulator; a sidecar-only mesh says it has no node agent.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from kubernetes import client as k8s
from rich.console import Console

from meshtui.cluster.kubeconfig import connect
from meshtui.domain.inventory import Inventory
from meshtui.sim.settings import SimSettings
from meshtui.tui.agent_rows import AGENT_COLUMNS, agent_rows
from meshtui.tui.keymap import COMMANDS
from meshtui.tui.rows import Revisions, restart_progress
from meshtui.tui.screens.help import help_table
from meshtui.tui.views.agents import AgentsView
from meshtui.tui.widgets.virtual_table import cell_plain
from tests.domain.test_ambient import SOURCE, TARGET, ambient_mesh
from tests.domain.test_ambient import view_of as ambient_view
from tests.helpers import read_inventory, start_sim

from .conftest import Live, Waiter, static_app
from .test_dashboard_snapshots import after, session


@pytest.fixture(scope="module")
def ambient_inventory(tmp_path_factory: pytest.TempPathFactory) -> Inventory:
    """The ambient scenario read once (seed 1): the same rows in every snapshot."""
    sim = start_sim("ambient", settings=SimSettings(pod_ready_delay=0.05))
    try:
        path = sim.kubeconfig(tmp_path_factory.mktemp("ambient") / "kubeconfig")
        targets = connect(str(path), None)
        inventory = read_inventory(targets)
        for target in targets:
            target.api_client.close()
    finally:
        sim.stop()
    return inventory


@pytest.mark.parametrize("size", [(80, 24), (200, 50)], ids=["80x24", "200x50"])
def test_node_agents_view(snap_compare: Any, ambient_inventory: Inventory, size: tuple[int, int]) -> None:
    app = static_app(ambient_inventory, session=session())
    assert snap_compare(app, terminal_size=size, run_before=after("N"))


def test_node_agents_view_without_colour(
    snap_compare: Any, ambient_inventory: Inventory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    app = static_app(ambient_inventory, session=session())
    assert snap_compare(app, terminal_size=(80, 24), run_before=after("N"))


def rows_of(view: AgentsView) -> dict[Any, tuple[str, ...]]:
    table = view.table
    return {key: tuple(cell_plain(c) for c in table.get_row(key) or ()) for key in table.visible_keys()}


async def test_every_node_has_its_ztunnel_and_istio_cni_with_the_ambient_pods_there(
    ambient_inventory: Inventory,
) -> None:
    app = static_app(ambient_inventory, session=session())
    async with app.run_test(size=(200, 50)) as pilot:
        await after("N")(pilot)
        view = app.dashboard.data_plane.agents  # type: ignore[attr-defined]
        assert app.dashboard.data_plane.current == "agents"  # type: ignore[attr-defined]
        rows = list(rows_of(view).values())
    expected = {}
    for r in ambient_inventory.view().pods():
        if r.pod.ambient and r.pod.node_name and not r.pod.terminating:
            expected[r.pod.node_name] = expected.get(r.pod.node_name, 0) + 1
    titles = [c.title for c in AGENT_COLUMNS]
    by_node: dict[str, set[str]] = {}
    for row in rows:
        cells = dict(zip(titles, row, strict=True))
        by_node.setdefault(cells["NODE"], set()).add(cells["AGENT"])
        assert cells["AMBIENT"] == str(expected.get(cells["NODE"], 0))
        assert cells["ISTIOD"] == ("1-29-6" if cells["AGENT"] == "ztunnel" else "-")
        assert (cells["READY"], cells["TEMPLATE"]) == ("ready", "current")
    assert by_node and all(agents == {"ztunnel", "istio-cni"} for agents in by_node.values())
    assert sum(expected.values()) > 0


async def test_a_sidecar_only_mesh_says_it_has_no_node_agent(demo_inventory: Inventory) -> None:
    app = static_app(demo_inventory, session=session())
    async with app.run_test(size=(100, 30)) as pilot:
        await after("N")(pilot)
        view = app.dashboard.data_plane.agents  # type: ignore[attr-defined]
        assert view.table.row_count == 0
        screen = app.export_screenshot().replace("&#160;", " ")
    assert "this mesh has no ambient data plane" in screen


def test_help_lists_the_key_and_explains_every_column() -> None:
    assert any(c.key == "N" and c.action == "show_view('agents')" for c in COMMANDS)
    console = Console(width=120, record=True, color_system=None)
    console.print(help_table())
    text = console.export_text()
    assert "Node agents" in text
    for title in ("AGENT", "ISTIOD", "TEMPLATE", "AMBIENT"):
        assert any(line.strip().startswith(title) for line in text.splitlines()), title


async def test_the_view_follows_a_ztunnel_pod_replaced_in_the_cluster(
    live_app: Callable[..., Live], waiter: Waiter
) -> None:
    live = live_app("ambient")
    app = live.app
    async with app.run_test(size=(200, 50), message_hook=waiter.hook) as pilot:
        view = app.dashboard.data_plane.agents  # type: ignore[attr-defined]
        await pilot.press("N")

        def ztunnels() -> dict[str, str]:
            return {row[2]: row[0] for row in rows_of(view).values() if row[1] == "ztunnel" and row[5] == "ready"}

        await waiter.until(pilot, lambda: len(ztunnels()) == 3, what="three ready ztunnel pods")
        before = ztunnels()
        victim, node = sorted(before.items())[0]
        core = k8s.CoreV1Api(live.cluster.targets[0].api_client)
        core.delete_namespaced_pod(victim, "istio-system")
        await waiter.until(
            pilot,
            lambda: victim not in ztunnels() and node in ztunnels().values() and len(ztunnels()) == 3,
            what="a new ready ztunnel on the node of the deleted one",
        )

        # The ambient pods beside each agent follow the application pods: shop/frontend (4 pods) scaled to 0.
        def ambient_total() -> int:
            return sum(int(row[7]) for row in rows_of(view).values() if row[1] == "ztunnel")

        total = ambient_total()
        apps = k8s.AppsV1Api(live.cluster.targets[0].api_client)
        apps.patch_namespaced_deployment("frontend", "shop", {"spec": {"replicas": 0}})
        await waiter.until(pilot, lambda: ambient_total() == total - 4, what="four fewer ambient pods")


def test_a_ztunnel_rollout_half_way_shows_each_node_on_its_own_template_and_istiod() -> None:
    # ztunnel moved to the target on two of three nodes: worker-3 still runs the source pod and its istiod.
    view = ambient_view(
        ("prod", ambient_mesh(ztunnel_rev=TARGET, ztunnel_version="1.23.1", updated=2)), source=SOURCE, target=TARGET
    )
    rows = agent_rows(view.components, {("prod", "worker-3"): 2}, Revisions(SOURCE, TARGET), multi_cluster=False)
    titles = [c.title for c in AGENT_COLUMNS]
    cells = {
        (r["NODE"], r["AGENT"]): r
        for r in (dict(zip(titles, (cell_plain(c) for c in row), strict=True)) for row in rows.values())
    }
    old = cells[("worker-3", "ztunnel")]
    assert (old["VERSION"], old["ISTIOD"], old["TEMPLATE"], old["AMBIENT"]) == ("1.22.3", SOURCE, "older", "2")
    new = cells[("worker-1", "ztunnel")]
    assert (new["VERSION"], new["ISTIOD"], new["TEMPLATE"], new["AMBIENT"]) == ("1.23.1", TARGET, "current", "0")
    assert cells[("worker-1", "istio-cni")]["ISTIOD"] == "-"


def test_istio_system_has_nothing_left_to_restart_on_the_ambient_demo(ambient_inventory: Inventory) -> None:
    # Its ztunnel pods were read as rendered sidecars ("none -> 1-29-6"): the RESTART column said "3 left".
    view = ambient_inventory.view()
    agents = [r for r in view.pods() if r.namespace == "istio-system" and r.pod.component is not None]
    assert agents and restart_progress(agents) == (0, 0)
    assert all(r.revision_on_restart is None and not r.restartable for r in agents)
