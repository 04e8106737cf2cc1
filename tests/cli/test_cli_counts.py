"""Counts the CLI prints say what they count, in the right number (a subprocess against the simulator)."""

from __future__ import annotations

from collections.abc import Callable

from tests.engine.support import Mesh, _isolated, cli, mesh_factory

__all__ = ["_isolated", "mesh_factory"]


def test_a_one_step_plan_says_done_1_step(mesh_factory: Callable[..., Mesh]) -> None:
    mesh = mesh_factory("fresh")
    done = cli("upgrade", "start", "--target", "1-23-1", "--yes", kubeconfig=mesh.kubeconfig)
    assert done.returncode == 0, done.stderr
    assert "Done: 1 step." in done.stdout, done.stdout
