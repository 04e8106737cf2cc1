"""Shared test helpers: simulated clusters from scenarios, kubeconfigs for several, and bounded waits."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import yaml
from kubernetes.watch.watch import iter_resp_lines

from meshtui.sim.launch import launch
from meshtui.sim.runtime import SimCluster
from meshtui.sim.settings import SimSettings


def start_scenario(
    scenario: str = "demo",
    *,
    seed: int = 1,
    ready_delay: float = 0.05,
    params: dict[str, int | str] | None = None,
) -> SimCluster:
    """A running simulated cluster with a scenario and fast controllers."""
    settings = SimSettings(pod_ready_delay=ready_delay, pod_termination_delay=0.05, bookmark_interval=0.5)
    return launch(scenario, seed=seed, params=params, settings=settings)  # type: ignore[no-any-return]


def multi_kubeconfig(path: Path, clusters: dict[str, SimCluster], current: str) -> Path:
    """One kubeconfig with a context per simulated cluster, named as given."""
    config: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Config",
        "preferences": {},
        "current-context": current,
        "clusters": [{"name": n, "cluster": {"server": c.url}} for n, c in clusters.items()],
        "users": [{"name": n, "user": {"token": c.token}} for n, c in clusters.items()],
        "contexts": [{"name": n, "context": {"cluster": n, "user": n}} for n in clusters],
    }
    path.write_text(yaml.safe_dump(config))
    return path


def wait_until(predicate: Callable[[], bool], timeout: float = 15.0, what: str = "condition") -> None:
    """Poll a condition the server gives no event for; fail after `timeout` seconds."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return
        time.sleep(0.02)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def read_events(
    resp: Any,
    count: int | None = None,
    *,
    deadline: float = 20.0,
    until: Callable[[dict[str, Any]], bool] | None = None,
) -> list[dict[str, Any]]:
    """Decoded watch events from a raw (`_preload_content=False`) response.

    Reads until `count` events, until `until(event)` holds, or until the server ends the stream
    (timeoutSeconds). The request must carry a `_request_timeout`, so a missing event cannot hang.
    """
    events: list[dict[str, Any]] = []
    end = time.monotonic() + deadline
    try:
        for line in iter_resp_lines(resp):
            if not line:
                continue
            ev = orjson.loads(line)
            events.append(ev)
            if (count is not None and len(events) >= count) or (until is not None and until(ev)):
                break
            if time.monotonic() > end:
                break
    finally:
        resp.close()
    return events
