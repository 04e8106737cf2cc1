"""Fixtures for the simulated API server tests: a running `SimCluster` and an official-client `ApiClient`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
import pytest
from kubernetes import client

from meshtui.sim.settings import SimSettings
from meshtui.sim.store import Store
from tests import helpers
from tests.conftest import RunningSim, StartSims
from tests.helpers import read_events


def fast_settings(**overrides: Any) -> SimSettings:
    """The tests' quick simulator timings with a small watch history, plus overrides."""
    return helpers.fast_settings(**{"history_window": 1000, **overrides})


def pod(
    name: str,
    namespace: str,
    labels: dict[str, str] | None = None,
    phase: str = "Running",
    containers: tuple[str, ...] = ("app",),
) -> dict[str, Any]:
    """A small pod manifest with Ready containers."""
    return {
        "metadata": {"name": name, "namespace": namespace, "labels": labels or {}},
        "spec": {"containers": [{"name": c, "image": f"example/{c}:1"} for c in containers]},
        "status": {
            "phase": phase,
            "containerStatuses": [
                {
                    "name": c,
                    "ready": phase == "Running",
                    "restartCount": 0,
                    "image": f"example/{c}:1",
                    "imageID": "",
                    "state": {"running": {}} if phase == "Running" else {"waiting": {}},
                }
                for c in containers
            ],
        },
    }


def basic_setup(store: Store) -> None:
    """Namespaces with injection labels, a few pods in different phases, config maps and a deployment."""
    store.create("namespaces", {"metadata": {"name": "default"}})
    shop_labels = {"istio.io/rev": "1-26", "team": "web"}
    store.create("namespaces", {"metadata": {"name": "shop", "labels": shop_labels}})
    store.create("namespaces", {"metadata": {"name": "payments", "labels": {"istio-injection": "enabled"}}})
    store.create("namespaces", {"metadata": {"name": "tools", "labels": {"team": "ops"}}})
    store.create("pods", pod("web-1", "shop", {"app": "web", "tier": "front"}))
    store.create("pods", pod("web-2", "shop", {"app": "web", "tier": "front"}, phase="Pending"))
    store.create("pods", pod("cart-1", "shop", {"app": "cart", "tier": "back"}, containers=("app", "istio-proxy")))
    store.create("pods", pod("pay-1", "payments", {"app": "pay"}))
    store.create("pods", pod("job-1", "tools", {}, phase="Succeeded"))
    store.create("configmaps", {"metadata": {"name": "settings", "namespace": "shop"}, "data": {"a": "1"}})
    store.create(
        "apps/deployments",
        {
            "metadata": {"name": "web", "namespace": "shop"},
            "spec": {
                "replicas": 2,
                "selector": {"matchLabels": {"app": "web"}},
                "template": {
                    "metadata": {"labels": {"app": "web"}, "annotations": {"keep": "me"}},
                    "spec": {
                        "containers": [
                            {"name": "app", "image": "example/app:1", "env": [{"name": "A", "value": "1"}]},
                            {"name": "helper", "image": "example/helper:1"},
                        ]
                    },
                },
            },
        },
    )


class Sim(RunningSim):
    """A running simulated cluster, its kubeconfig and an ApiClient built from that kubeconfig."""

    @property
    def core(self) -> client.CoreV1Api:
        """The core/v1 API on this cluster."""
        return client.CoreV1Api(self.api)

    @property
    def apps(self) -> client.AppsV1Api:
        """The apps/v1 API on this cluster."""
        return client.AppsV1Api(self.api)

    @property
    def rv(self) -> int:
        """The store's current resourceVersion."""
        return int(self.store_call(lambda s: s.rv))


@pytest.fixture
def sim_factory(sims: StartSims) -> Callable[..., Sim]:
    """Start simulated clusters on free ports (any setup/settings); all are stopped after the test."""

    def make(
        setup: Callable[[Store], None] | None = basic_setup, settings: SimSettings | None = None, **kwargs: Any
    ) -> Sim:
        sim: Sim = sims(setup=setup, settings=settings or fast_settings(), as_type=Sim, **kwargs)
        return sim

    return make


@pytest.fixture
def sim(sim_factory: Callable[..., Sim]) -> Sim:
    """A simulated cluster with `basic_setup`."""
    return sim_factory()


def status_body(exc: Any) -> dict[str, Any]:
    """The decoded Status body of an ApiException."""
    body = orjson.loads(exc.body)
    assert body["kind"] == "Status", body
    return dict(body)


@pytest.fixture(name="read_events")
def _read_events_fixture() -> Callable[..., list[dict[str, Any]]]:
    """`read_events` as a fixture, so test modules need not import conftest."""
    return read_events


@pytest.fixture(name="make_pod")
def _make_pod_fixture() -> Callable[..., dict[str, Any]]:
    """`pod` as a fixture."""
    return pod


@pytest.fixture(name="status_of")
def _status_of_fixture() -> Callable[[Any], dict[str, Any]]:
    """`status_body` as a fixture."""
    return status_body


@pytest.fixture(name="fast_settings")
def _fast_settings_fixture() -> Callable[..., SimSettings]:
    """`fast_settings` as a fixture."""
    return fast_settings
