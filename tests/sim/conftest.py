"""Fixtures for the simulated API server tests: a running `SimCluster` and an official-client `ApiClient`."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest
from kubernetes import client, config

from meshtui.sim.runtime import SimCluster
from meshtui.sim.settings import SimSettings
from meshtui.sim.store import Store
from tests.helpers import read_events

#: Settings that keep the tests quick: short bookmark interval, small history.
FAST = {"pod_ready_delay": 0.05, "pod_termination_delay": 0.05, "bookmark_interval": 0.2,
        "history_window": 1000}


def fast_settings(**overrides: Any) -> SimSettings:
    """SimSettings with the fast test timings, plus overrides."""
    return SimSettings(**{**FAST, **overrides})


def pod(name: str, namespace: str, labels: dict[str, str] | None = None, phase: str = "Running",
        containers: tuple[str, ...] = ("app",)) -> dict[str, Any]:
    """A small pod manifest with Ready containers."""
    return {
        "metadata": {"name": name, "namespace": namespace, "labels": labels or {}},
        "spec": {"containers": [{"name": c, "image": f"example/{c}:1"} for c in containers]},
        "status": {
            "phase": phase,
            "containerStatuses": [{"name": c, "ready": phase == "Running", "restartCount": 0,
                                   "image": f"example/{c}:1", "imageID": "",
                                   "state": {"running": {}} if phase == "Running" else {"waiting": {}}}
                                  for c in containers],
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
    store.create("pods", pod("cart-1", "shop", {"app": "cart", "tier": "back"},
                             containers=("app", "istio-proxy")))
    store.create("pods", pod("pay-1", "payments", {"app": "pay"}))
    store.create("pods", pod("job-1", "tools", {}, phase="Succeeded"))
    store.create("configmaps", {"metadata": {"name": "settings", "namespace": "shop"}, "data": {"a": "1"}})
    store.create("apps/deployments", {
        "metadata": {"name": "web", "namespace": "shop"},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}, "annotations": {"keep": "me"}},
                "spec": {"containers": [
                    {"name": "app", "image": "example/app:1", "env": [{"name": "A", "value": "1"}]},
                    {"name": "helper", "image": "example/helper:1"},
                ]},
            },
        },
    })


@dataclass
class Sim:
    """A running simulated cluster, its kubeconfig and an ApiClient built from that kubeconfig."""

    cluster: SimCluster
    api: client.ApiClient
    kubeconfig: Path

    @property
    def core(self) -> client.CoreV1Api:
        """The core/v1 API on this cluster."""
        return client.CoreV1Api(self.api)

    @property
    def apps(self) -> client.AppsV1Api:
        """The apps/v1 API on this cluster."""
        return client.AppsV1Api(self.api)

    def store_call(self, fn: Callable[[Store], Any]) -> Any:
        """Run fn(store) on the simulator's loop."""
        cluster = self.cluster
        return cluster.call(lambda: fn(cluster.store))  # type: ignore[arg-type]

    @property
    def rv(self) -> int:
        """The store's current resourceVersion."""
        return int(self.store_call(lambda s: s.rv))


@pytest.fixture(autouse=True)
def _no_developer_kubeconfig(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Never let a test read the developer's own kubeconfig."""
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "kubeconfig-not-used"))


@pytest.fixture
def sim_factory(tmp_path: Path) -> Iterator[Callable[..., Sim]]:
    """Start simulated clusters on free ports (any setup/settings); all are stopped after the test."""
    started: list[Sim] = []

    def make(setup: Callable[[Store], None] | None = basic_setup, settings: SimSettings | None = None,
             **kwargs: Any) -> Sim:
        cluster = SimCluster(settings or fast_settings(), setup=setup, **kwargs).start()
        kubeconfig = cluster.kubeconfig(tmp_path / f"sim-kubeconfig-{len(started)}.yaml")
        api = config.new_client_from_config(config_file=str(kubeconfig))
        sim = Sim(cluster, api, kubeconfig)
        started.append(sim)
        return sim

    yield make
    for sim in started:
        sim.api.close()
        sim.cluster.stop()


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
