"""In a mesh of two clusters, "jump to the offenders" shows the offending rows of the cluster each is in.

A gate names its offenders `cluster/namespace[/pod]` when the mesh spans clusters; the jump used to read
every name as belonging to the first cluster, so the offenders of the second showed as nothing.
"""

from __future__ import annotations

from pathlib import Path

from meshtui.cluster.kubeconfig import connect
from meshtui.domain.inventory import Inventory
from meshtui.engine.api import ActionState
from tests.conftest import StartSims
from tests.helpers import multi_kubeconfig, read_inventory

from .conftest import Waiter, static_app


def two_clusters(sims: StartSims, tmp_path: Path) -> Inventory:
    """East and west, each the demo scenario, read once."""
    east, west = sims("demo"), sims("demo")
    config = multi_kubeconfig(tmp_path / "both.yaml", {"east": east.cluster, "west": west.cluster}, "east")
    targets = connect(str(config), ["east", "west"])
    inventory = read_inventory(targets)
    for target in targets:
        target.api_client.close()
    return inventory


async def test_offending_pods_of_the_second_cluster_are_shown(sims: StartSims, tmp_path: Path, waiter: Waiter) -> None:
    inventory = two_clusters(sims, tmp_path)
    web = next(p for p in inventory.view().pods("west", "shop"))
    app = static_app(inventory)
    async with app.run_test(size=(160, 40), message_hook=waiter.hook) as pilot:
        dash = app.dashboard
        await waiter.until(pilot, lambda: dash.snapshot is not None, what="the first snapshot")
        upgrade = ActionState(
            "upgrade", "Upgrade", False, ("1 pod still on 1-22-3",), ("pods", (f"west/shop/{web.name}",))
        )
        dash.show_offenders(upgrade, None)
        await pilot.pause()
        pods = dash.data_plane.pods
        assert dash.data_plane.current == "pods"
        assert set(pods.table.visible_keys()) == {("west", "shop", web.name)}

        dash.show_offenders(ActionState("upgrade", "Upgrade", False, ("",), ("namespaces", ("west/batch",))), None)
        await pilot.pause()
        assert set(dash.data_plane.namespaces.table.visible_keys()) == {("west", "batch")}
