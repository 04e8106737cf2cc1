"""Finalizers and foreground deletion in the simulator, as the real API server and garbage collector do them.

A foreground DELETE leaves the object with a deletionTimestamp and the `foregroundDeletion` finalizer; the
controllers' garbage collector deletes its dependents and then the finalizer, and the object goes. Without
controllers (like a bare kube-apiserver) it stays. The contract test on both backends is
`tests/conformance/test_contract.py::test_a_foreground_delete_keeps_the_object_until_its_finalizer_is_removed`.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from meshtui.sim import deletion
from meshtui.sim.controllers import Controllers, settle
from meshtui.sim.settings import SimSettings
from meshtui.sim.store import Store
from tests.helpers import eventually

DEPLOY, RS = "apps/deployments", "apps/replicasets"
FAST = SimSettings(pod_ready_delay=0.02, pod_termination_delay=0.02, nodes=2)


def web(ns: str, replicas: int = 2) -> dict[str, object]:
    return {
        "metadata": {"name": "web", "namespace": ns},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "web", "image": "example/web:1"}]},
            },
        },
    }


@pytest.fixture
async def store() -> AsyncIterator[Store]:
    s = Store()
    s.create("namespaces", {"metadata": {"name": "shop"}})
    controllers = Controllers(s, FAST, asyncio.get_running_loop(), seed=1)
    controllers.start()
    yield s
    controllers.stop()


async def test_a_foreground_deleted_deployment_waits_for_its_replicasets(store: Store) -> None:
    store.create(DEPLOY, web("shop"))
    await eventually(lambda: len(store.list("pods", "shop")) == 2, what="two pods")
    kept = deletion.delete(store, DEPLOY, "shop", "web", propagation="Foreground")
    assert kept["metadata"]["finalizers"] == ["foregroundDeletion"] and kept["metadata"]["deletionTimestamp"]
    assert kept["metadata"]["generation"] == 2
    await eventually(lambda: store.get(DEPLOY, "shop", "web") is None, what="the Deployment to go")
    assert store.list(RS, "shop") == [], "its ReplicaSet went first"
    await eventually(lambda: store.list("pods", "shop") == [], what="the pods to go")


async def test_another_finalizer_holds_the_object_until_it_is_removed(store: Store) -> None:
    store.create("configmaps", {"metadata": {"name": "cfg", "namespace": "shop", "finalizers": ["x.io/hold"]}})
    held = deletion.delete(store, "configmaps", "shop", "cfg", propagation="Foreground")
    assert held["metadata"]["finalizers"] == ["x.io/hold", "foregroundDeletion"]
    await eventually(
        lambda: store.require("configmaps", "shop", "cfg")["metadata"]["finalizers"] == ["x.io/hold"],
        what="the garbage collector's finalizer to go",
    )

    def release(obj: dict[str, object]) -> dict[str, object]:
        obj["metadata"].pop("finalizers")  # type: ignore[union-attr]
        return obj

    store.update("configmaps", "shop", "cfg", release)
    assert store.get("configmaps", "shop", "cfg") is None


def test_without_a_garbage_collector_a_foreground_deleted_object_stays() -> None:
    s = Store()
    s.create("namespaces", {"metadata": {"name": "shop"}})
    s.create("configmaps", {"metadata": {"name": "cfg", "namespace": "shop"}})
    deletion.delete(s, "configmaps", "shop", "cfg", propagation="Foreground")
    assert s.require("configmaps", "shop", "cfg")["metadata"]["finalizers"] == ["foregroundDeletion"]
    settle(s, FAST)  # the controllers, run to completion, finish it
    assert s.get("configmaps", "shop", "cfg") is None
