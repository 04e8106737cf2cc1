"""Building the large scenario tells how far it has come (the demo's loading screen shows it), then that the
API server and controllers start."""

from __future__ import annotations

from meshtui.sim.launch import launch
from meshtui.sim.settings import SimSettings


def test_the_large_build_reports_namespaces_built_then_the_start() -> None:
    lines: list[str] = []
    sim = launch(
        "large",
        params={"namespaces": 250, "pods_per_namespace": 1},
        settings=SimSettings(pod_ready_delay=0.01),
        progress=lines.append,
    )
    try:
        assert lines == [
            "0 of 250 namespaces (1 pod each) built",
            "100 of 250 namespaces (1 pod each) built",
            "200 of 250 namespaces (1 pod each) built",
            "objects built; starting the API server and its controllers",
        ]
    finally:
        sim.stop()
