"""Shared test helpers: simulated clusters from scenarios, kubeconfigs for several, and bounded waits."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import yaml
from kubernetes.watch.watch import iter_resp_lines

from meshtui.cluster.oneshot import load_once
from meshtui.domain.inventory import Inventory
from meshtui.sim.controllers import Controllers
from meshtui.sim.launch import launch
from meshtui.sim.runtime import SimCluster
from meshtui.sim.settings import SimSettings
from meshtui.sim.store import Store


def fast_settings(**overrides: Any) -> SimSettings:
    """Simulator timings that keep tests quick (pods ready and gone in 50 ms, frequent bookmarks), plus overrides."""
    base: dict[str, Any] = {"pod_ready_delay": 0.05, "pod_termination_delay": 0.05, "bookmark_interval": 0.2}
    return SimSettings(**{**base, **overrides})


def start_sim(
    scenario: str | None = None,
    *,
    setup: Callable[[Store], None] | None = None,
    settings: SimSettings | None = None,
    controllers: bool = False,
    seed: int = 1,
    params: dict[str, int | str] | None = None,
    **cluster_options: Any,
) -> SimCluster:
    """Start a simulated cluster on a free port: a named scenario (with its controllers), or a store `setup`.

    With a `setup`, controllers run only when asked for, and `cluster_options` go to SimCluster. The
    caller stops it; the `sims` fixture (tests/conftest.py) does that after the test.
    """
    settings = settings or fast_settings()
    if scenario is not None:
        if setup is not None or cluster_options:
            raise ValueError("a scenario takes neither a setup nor SimCluster options")
        return launch(scenario, seed=seed, params=params, settings=settings)
    factory = Controllers if controllers else None
    return SimCluster(settings, setup=setup, controllers_factory=factory, **cluster_options).start()


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
    """Poll a condition the server gives no event for; fail after `timeout` seconds.

    The one poll-until helper of the tests: a deadline, never a fixed sleep.
    """
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return
        time.sleep(0.02)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


async def eventually(check: Callable[[], Any], timeout: float = 10.0, what: str = "condition") -> Any:
    """`wait_until` for code on an event loop: poll `check` without blocking the loop; return its truthy result."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        result = check()
        if result:
            return result
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(0.005)


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


def read_inventory(targets: list[Any]) -> Inventory:
    """Every cluster of `targets` read once into a fresh inventory (the one-shot read the CLI does)."""
    inventory = Inventory()
    for target in targets:
        inventory.add_cluster(target.name, target.server)
    load_once(targets, inventory)
    return inventory


def read_terminal(master: int) -> bytes:
    """Everything a child writes to a pseudo-terminal until it closes it."""
    seen = b""
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        seen += chunk
    return seen
