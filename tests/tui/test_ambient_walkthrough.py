"""The ambient demo's whole upgrade (1.29 -> 1.30) through the keyboard alone, with the real engine session.

`meshtui demo --scenario ambient`'s scenario and manifests: Begin, the ambient step from the offered
folder (istio-cni then ztunnel, node by node), both tags, a restart of what still runs the source, then
Upgrade and Finish. The simulator's objects are checked after.
"""

from __future__ import annotations

from collections.abc import Callable

from meshtui.sim import scenarios
from meshtui.tui.app import MeshApp
from meshtui.tui.screens.ask import AskScreen
from meshtui.tui.screens.plan import PlanScreen
from meshtui.tui.screens.tag import TagScreen

from .conftest import Cluster, Waiter
from .test_engine_walkthrough import Driver

OLD, NEW = scenarios.AMBIENT_OLD, scenarios.AMBIENT_NEW


def ztunnel_istiods(cluster: Cluster) -> set[str]:
    found = set()
    for pod in cluster.sim.call(lambda: cluster.sim.store.list("pods", "istio-system", label_selector="app=ztunnel")):
        if pod["metadata"].get("deletionTimestamp"):
            continue
        env = {e["name"]: e.get("value") for e in pod["spec"]["containers"][0]["env"]}
        found.add(str(env["XDS_ADDRESS"]))
    return found


async def test_the_ambient_demo_upgrade_from_the_keyboard_alone(
    demo_app: Callable[..., tuple[MeshApp, Cluster]], waiter: Waiter
) -> None:
    app, cluster = demo_app("ambient")
    async with app.run_test(size=(120, 40), message_hook=waiter.hook) as pilot:
        d = Driver(app, pilot, waiter)
        await d.begin()

        def ztunnel_blocks_upgrade() -> bool:
            reasons = d.dash.snapshot.state.action("upgrade").reasons if d.dash.snapshot.state else ()
            return any("ztunnel" in r for r in reasons)

        assert ztunnel_blocks_upgrade()
        await d.until(lambda: d.enabled("ambient"), "the ambient step enabled once the upgrade is recorded")
        # The ambient step: the plan waits node by node; the offered folder installs istio-cni and ztunnel.
        ambient = await d.plan("z")
        assert [op.body["node"] for op in ambient.plan.operations if op.name == "ztunnel"] == [
            "sim-node-1",
            "sim-node-2",
            "sim-node-3",
        ]
        assert "f" in ambient.options
        await pilot.press("f")
        assert isinstance(app.screen, AskScreen)
        await pilot.press("enter")  # the offered folder
        await d.until(lambda: isinstance(app.screen, PlanScreen) and app.screen.outcome is not None, "ambient plan")
        assert any(op.verb == "apply" and op.name == "ztunnel" for op in app.screen.plan.operations)
        await d.apply()
        await d.until(lambda: not ztunnel_blocks_upgrade(), "ztunnel on the target in the gates")

        # Tags default and prod-stable (with their tag Services) to the target: waypoints follow.
        for tag in ("default", "prod-stable"):
            await pilot.press("t")
            assert isinstance(app.screen, TagScreen)
            picker = app.screen.options
            options = [str(picker.get_option_at_index(i).id) for i in range(picker.option_count)]
            await pilot.press(*["j"] * options.index(tag), "enter", "enter")
            await d.until(lambda: isinstance(app.screen, PlanScreen) and app.screen.outcome is not None, "tag plan")
            assert any(op.kind == "Service" for op in app.screen.plan.operations), app.screen.plan.lines()
            await d.apply()

        # Restart what still runs the source (the sidecar namespaces); ztunnel and istio-cni are not restarted.
        await pilot.press("a")
        restart = await d.plan("r")
        assert not [op for op in restart.plan.operations if op.namespace == "istio-system"]
        await d.apply()

        # Verify, then Upgrade and Finish.
        await d.until(lambda: d.enabled("verify"), "Verify enabled")
        await d.plan("v")
        await d.apply()
        await d.finish("upgrade", "U", OLD)

    assert ztunnel_istiods(cluster) == {f"istiod-{NEW}.istio-system.svc:15012"}
    waypoints = cluster.sim.call(
        lambda: cluster.sim.store.list("pods", "shop", label_selector="gateway.networking.k8s.io/gateway-name=waypoint")
    )
    assert {
        p["metadata"]["annotations"]["istio.io/rev"] for p in waypoints if not p["metadata"].get("deletionTimestamp")
    } == {NEW}
