"""Fixtures every suite shares: no developer kubeconfig, and simulated clusters started and stopped for a test."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import cached_property
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client, config

from meshtui.sim.runtime import SimCluster
from meshtui.sim.store import Store
from tests.helpers import start_sim


@pytest.fixture(autouse=True)
def _no_developer_kubeconfig(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Never let a test read the developer's own kubeconfig."""
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "kubeconfig-not-used"))


class RunningSim:
    """A started simulated cluster, its kubeconfig, and clients built from that kubeconfig as a user's would be."""

    def __init__(self, cluster: SimCluster, kubeconfig: Path) -> None:
        self.cluster = cluster
        self.kubeconfig = kubeconfig

    @cached_property
    def api(self) -> client.ApiClient:
        """An official-client ApiClient from the kubeconfig."""
        return config.new_client_from_config(config_file=str(self.kubeconfig))

    def store_call(self, fn: Callable[[Store], Any]) -> Any:
        """Run fn(store) on the simulator's loop."""
        cluster = self.cluster
        return cluster.call(lambda: fn(cluster.store))  # type: ignore[arg-type]

    def stop(self) -> None:
        """Close the clients made so far and stop the cluster."""
        if "api" in self.__dict__:
            self.api.close()
        self.cluster.stop()


#: `sims(...)` takes `tests.helpers.start_sim`'s arguments, plus `as_type` (a RunningSim subclass to return).
StartSims = Callable[..., Any]


@pytest.fixture
def sims(tmp_path: Path) -> Iterator[StartSims]:
    """Start simulated clusters (`tests.helpers.start_sim` arguments), each with a kubeconfig; all stop after."""
    started: list[RunningSim] = []

    def start(*args: Any, as_type: type[RunningSim] = RunningSim, **kwargs: Any) -> RunningSim:
        cluster = start_sim(*args, **kwargs)
        running = as_type(cluster, cluster.kubeconfig(tmp_path / f"kubeconfig-{len(started)}.yaml"))
        started.append(running)
        return running

    yield start
    for running in started:
        running.stop()
