"""Start a simulated cluster with a scenario and the controllers: the one place the CLI, demo and tests use."""

from __future__ import annotations

import gc
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from meshtui.sim.settings import SimSettings

if TYPE_CHECKING:
    from meshtui.sim.runtime import SimCluster
    from meshtui.sim.store import Store


class SimLaunchError(Exception):
    """A scenario name or parameter is wrong; the message says which and what is allowed."""


@dataclass(frozen=True, slots=True)
class Param:
    """A scenario parameter: whole number or seconds, its smallest meaningful value, what it sets."""

    whole: bool
    least: float
    help: str


#: Every `--param` the simulator reads; a key not here is a typo, not a silently ignored setting.
PARAMS: dict[str, Param] = {
    "namespaces": Param(True, 1, "application namespaces of the large scenario (default 2000)"),
    "pods_per_namespace": Param(True, 0, "pods in each of them (default 25)"),
    "seed": Param(True, 0, "the scenario's random seed (as --seed)"),
    "job_run_seconds": Param(False, 0, "seconds a Job's pod runs before it completes"),
    "crashloop_period": Param(False, 0.01, "seconds between the restarts of a crash-looping pod"),
}
PARAM_HELP = "scenario parameter, repeatable: " + ", ".join(f"{k} ({p.help})" for k, p in PARAMS.items())


def parse_params(items: list[str]) -> dict[str, int | str]:
    """Parse `KEY=VALUE` scenario parameters, each checked against PARAMS; numbers of seconds stay text."""
    params: dict[str, int | str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        key, value = key.strip(), value.strip()
        if not sep or not key:
            raise SimLaunchError(f"parameter {item!r} is not KEY=VALUE")
        spec = PARAMS.get(key)
        if spec is None:
            raise SimLaunchError(f"unknown parameter {key!r} in {item!r}; known: {', '.join(PARAMS)}")
        params[key] = _value(item, key, value, spec)
    return params


def _value(item: str, key: str, value: str, spec: Param) -> int | str:
    kind = "a whole number" if spec.whole else "a number of seconds"
    least = f"{spec.least:g}"
    try:
        number: float = int(value) if spec.whole else float(value)
    except ValueError:
        raise SimLaunchError(f"parameter {item!r}: {key} must be {kind} of at least {least}.") from None
    if not math.isfinite(number) or number < spec.least:
        raise SimLaunchError(f"parameter {item!r}: {key} must be {kind} of at least {least}.")
    return int(number) if spec.whole else value


def launch(
    scenario: str,
    *,
    seed: int = 1,
    params: dict[str, int | str] | None = None,
    port: int = 0,
    ready_delay: float = 1.0,
    churn: float = 0.0,
    settings: SimSettings | None = None,
    progress: Callable[[str], None] | None = None,
) -> SimCluster:
    """Build and start a SimCluster serving `scenario`; the caller stops it.

    `progress` is told how far the build has come, now and then (a large scenario takes seconds).
    """
    from meshtui.sim import scenarios
    from meshtui.sim.controllers import Controllers
    from meshtui.sim.runtime import SimCluster

    if scenario not in scenarios.NAMES:
        raise SimLaunchError(f"unknown scenario {scenario!r}; choose one of {', '.join(scenarios.NAMES)}")
    settings = settings or SimSettings(pod_ready_delay=ready_delay)
    settings.params.update(params or {})
    settings.params.setdefault("seed", seed)
    if progress is not None:
        settings.progress = progress

    def setup(store: Store) -> None:
        scenarios.build(scenario, store, settings, seed=seed)
        if progress is not None:
            progress("objects built; starting the API server and its controllers")
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
