"""The dashboard shows a hostile Lease holder and a hostile namespace name escaped, and sends no raw control byte.

The Lease (holder with an OSC title change, a screen clear, a C1 CSI and a right-to-left override) goes
into the simulator's store and the dashboard reads it through the real engine session; the namespace (a
title change in its name, which only a dump or a broken server could have: the simulator validates
names) is shown from a fixed inventory. The rendered screen must hold the visible escapes and no raw
control character at all.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from meshtui.domain.inventory import Inventory
from meshtui.domain.lock import LEASE_NAME
from meshtui.domain.objects import parse_object
from meshtui.domain.text import inert
from meshtui.engine.session import EngineSession
from meshtui.tui.factory import build_app, watch_targets
from meshtui.tui.settings import DashboardSettings

from .conftest import Cluster, Waiter, static_app

HOSTILE_HOLDER = "mallory\x1b]2;pwned\x07\x1b[2J\x9b1m\u202eevil"
HOSTILE_NAMESPACE = "zz\x1b]0;owned\x07"
RAW_CONTROL = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def plant(cluster: Cluster) -> None:
    store: Any = cluster.sim.store
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")

    def write() -> None:
        store.create(
            "coordination.k8s.io/leases",
            {
                "metadata": {"name": LEASE_NAME, "namespace": "istio-system"},
                "spec": {
                    "holderIdentity": HOSTILE_HOLDER,
                    "leaseDurationSeconds": 3600,
                    "acquireTime": now,
                    "renewTime": now,
                },
            },
        )

    cluster.sim.call(write)


async def test_a_hostile_lock_holder_is_shown_escaped(start_cluster: Callable[..., Cluster], waiter: Waiter) -> None:
    cluster = start_cluster("demo")
    plant(cluster)
    mesh = watch_targets(cluster.targets)
    session = EngineSession(cluster.targets, None)
    app = build_app(mesh, session, settings=DashboardSettings())
    try:
        async with app.run_test(size=(200, 50), message_hook=waiter.hook) as pilot:

            def screen() -> str:
                return str(app.export_screenshot()).replace("&#160;", " ")

            await waiter.until(pilot, lambda: "mallory" in screen(), what="the lock holder in the header")
            assert inert(HOSTILE_HOLDER)[:40] in screen(), "the holder is shown with its controls escaped"
            screenshot = app.export_screenshot()
            assert not RAW_CONTROL.findall(screenshot.replace("\n", "")), "a raw control character reached the screen"
    finally:
        mesh.stop()
        session.close()


async def test_a_hostile_namespace_name_is_shown_escaped() -> None:
    inventory = Inventory()
    inventory.add_cluster("dump")
    raw = {"kind": "Namespace", "metadata": {"name": HOSTILE_NAMESPACE, "labels": {"istio-injection": "enabled"}}}
    model = parse_object("dump", raw)
    assert model is not None
    inventory.replace("dump", "Namespace", [model])
    app = static_app(inventory)
    async with app.run_test(size=(120, 30)) as pilot:
        await pilot.pause()
        screenshot = app.export_screenshot().replace("&#160;", " ")
        assert inert(HOSTILE_NAMESPACE) in screenshot
        assert not RAW_CONTROL.findall(screenshot.replace("\n", "")), "a raw control character reached the screen"
