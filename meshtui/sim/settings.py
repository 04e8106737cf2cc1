"""Knobs of the simulated cluster: timings, history, size; the demo, the tests and `meshtui sim` set them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(slots=True)
class SimSettings:
    """Timings are in seconds of wall time; tests shrink them, the demo keeps them human-paced."""

    #: How long a new pod takes from Pending to Running and Ready.
    pod_ready_delay: float = 1.0
    #: How long a deleted pod stays Terminating (bounded above by its grace period).
    pod_termination_delay: float = 0.5
    #: How often open watches get a BOOKMARK (only those that asked with allowWatchBookmarks).
    bookmark_interval: float = 5.0
    #: How many events the watch history keeps; older resourceVersions get 410 Gone.
    history_window: int = 100_000
    #: Simulated nodes (DaemonSets run one pod on each).
    nodes: int = 3
    #: Kubelet version the simulated nodes report (native sidecars need >= 1.33 with Istio >= 1.27 "auto").
    kubelet_version: str = "v1.33.2"
    #: Identity the simulator attributes to every request (RBAC denials and SelfSubjectAccessReview use it).
    user: str = "meshtui-sim-admin"
    #: Extra knobs scenarios understand (for example namespaces and pods per namespace for `large`).
    params: dict[str, int | str] = field(default_factory=dict)
    #: Told how far building a large scenario has come (one short line now and then), for a loading screen.
    progress: Callable[[str], None] | None = field(default=None, compare=False, repr=False)
