"""Start a simulated cluster with a scenario and the controllers: the one place the CLI, demo and tests use."""

from __future__ import annotations

import gc
from typing import TYPE_CHECKING

from meshtui.sim.settings import SimSettings

if TYPE_CHECKING:
    from meshtui.sim.runtime import SimCluster
    from meshtui.sim.store import Store


class SimLaunchError(Exception):
    """A scenario name or parameter is wrong; the message says which and what is allowed."""


def parse_params(items: list[str]) -> dict[str, int | str]:
    """Parse `KEY=VALUE` scenario parameters; numbers become ints."""
    params: dict[str, int | str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise SimLaunchError(f"parameter {item!r} is not KEY=VALUE")
        params[key.strip()] = int(value) if value.strip().isdigit() else value.strip()
    return params


def launch(
    scenario: str,
    *,
    seed: int = 1,
    params: dict[str, int | str] | None = None,
    port: int = 0,
    ready_delay: float = 1.0,
    churn: float = 0.0,
    settings: SimSettings | None = None,
) -> SimCluster:
    """Build and start a SimCluster serving `scenario`; the caller stops it."""
    from meshtui.sim import scenarios
    from meshtui.sim.controllers import Controllers
    from meshtui.sim.runtime import SimCluster

    if scenario not in scenarios.NAMES:
        raise SimLaunchError(f"unknown scenario {scenario!r}; choose one of {', '.join(scenarios.NAMES)}")
    settings = settings or SimSettings(pod_ready_delay=ready_delay)
    settings.params.update(params or {})
    settings.params.setdefault("seed", seed)

    def setup(store: Store) -> None:
        scenarios.build(scenario, store, settings, seed=seed)
        # The scenario's objects live as long as the simulator: out of the cyclic collector's sight, its
        # full collections (hundreds of milliseconds on a 50,000-pod store) no longer stall the requests.
        gc.freeze()

    sim = SimCluster(settings, setup=setup, controllers_factory=Controllers, port=port)
    try:
        sim.start()
    except OSError as exc:
        raise SimLaunchError(
            f"cannot listen on 127.0.0.1:{port} ({exc.strerror or exc}); choose another --port, or 0 for a free one"
        ) from None
    if churn > 0:
        sim.start_churn(churn)
    return sim
