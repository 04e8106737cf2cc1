"""Fixtures for cluster-layer tests: simulated clusters reached through a kubeconfig, as in production."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from meshtui.sim.runtime import SimCluster
from meshtui.sim.settings import SimSettings
from meshtui.sim.store import Store


def fast_settings(**overrides: Any) -> SimSettings:
    """Quick timings and a small watch history, so faults and 410s are easy to provoke."""
    base: dict[str, Any] = {
        "pod_ready_delay": 0.05,
        "pod_termination_delay": 0.05,
        "bookmark_interval": 0.2,
        "history_window": 50,
    }
    return SimSettings(**{**base, **overrides})


@pytest.fixture(autouse=True)
def _no_developer_kubeconfig(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Never let a test read the developer's own kubeconfig."""
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "kubeconfig-not-used"))


@pytest.fixture
def start_sim(tmp_path: Path) -> Iterator[Callable[..., tuple[SimCluster, Path]]]:
    """Start simulated clusters (stopped after the test); returns (cluster, kubeconfig path)."""
    started: list[SimCluster] = []

    def start(
        setup: Callable[[Store], None] | None = None, settings: SimSettings | None = None, **kwargs: Any
    ) -> tuple[SimCluster, Path]:
        sim = SimCluster(settings or fast_settings(), setup=setup, **kwargs)
        sim.start()
        started.append(sim)
        return sim, sim.kubeconfig(tmp_path / f"kubeconfig-{len(started)}.yaml")

    yield start
    for sim in started:
        sim.stop()


def wait_until(predicate: Callable[[], bool], timeout: float = 10.0, what: str = "condition") -> None:
    """Poll a condition the server gives no event for, failing the test after `timeout` seconds."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return
        time.sleep(0.01)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")
