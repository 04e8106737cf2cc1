"""Small inputs: every `--param` of `meshtui sim` and `meshtui demo` is checked (one sentence, exit 2, before
anything starts), and `meshtui upgrade move-tag TAG` without `--to` plans the move to the target revision."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable

import pytest

from meshtui.cli import exitcodes
from meshtui.sim.launch import PARAMS, SimLaunchError, parse_params
from tests.engine.support import Mesh, _isolated, cli, mesh_factory

__all__ = ["_isolated", "mesh_factory"]


def meshtui(*args: str) -> subprocess.CompletedProcess[str]:
    # A parameter that were accepted would start a simulator that serves until killed: the timeout fails it.
    return subprocess.run(
        [sys.executable, "-m", "meshtui", *args],
        capture_output=True,
        text=True,
        timeout=30,
        env={**os.environ, "TEXTUAL_DRIVER": "textual.drivers.headless_driver:HeadlessDriver"},
        check=False,
    )


def bad(param: str, rule: str) -> tuple[str, str]:
    return param, f"parameter {param!r}: {rule}"


@pytest.mark.parametrize(
    ("param", "sentence"),
    [
        bad("namespaces=-5", "namespaces must be a whole number of at least 1."),
        bad("namespaces=0", "namespaces must be a whole number of at least 1."),
        bad("namespaces=1.5", "namespaces must be a whole number of at least 1."),
        bad("pods_per_namespace=-1", "pods_per_namespace must be a whole number of at least 0."),
        bad("seed=x", "seed must be a whole number of at least 0."),
        bad("crashloop_period=-1", "crashloop_period must be a number of seconds of at least 0.01."),
        bad("job_run_seconds=nan", "job_run_seconds must be a number of seconds of at least 0."),
        (
            "namespace=20",
            "unknown parameter 'namespace' in 'namespace=20'; known: namespaces, pods_per_namespace, seed, "
            "job_run_seconds, crashloop_period",
        ),
    ],
)
@pytest.mark.parametrize("command", ["sim", "demo"])
def test_a_meaningless_param_is_one_sentence_and_exit_2(command: str, param: str, sentence: str) -> None:
    done = meshtui(command, "--scenario", "large", "--param", param)
    assert done.returncode == exitcodes.USAGE, done.stdout + done.stderr
    assert [line for line in done.stderr.splitlines() if line.strip()] == [f"meshtui {command}: {sentence}"]
    assert "serving on" not in done.stdout


def test_meaningful_params_are_parsed_and_every_known_one_is_in_the_help() -> None:
    assert parse_params(["namespaces=20", "pods_per_namespace=0", "crashloop_period=0.5", "seed=3"]) == {
        "namespaces": 20,
        "pods_per_namespace": 0,
        "crashloop_period": "0.5",
        "seed": 3,
    }
    with pytest.raises(SimLaunchError, match="is not KEY=VALUE"):
        parse_params(["namespaces"])
    helps = meshtui("sim", "--help").stdout + meshtui("demo", "--help").stdout
    flat = " ".join(helps.split())
    for key in PARAMS:
        assert flat.count(key) >= 2, key


def test_move_tag_without_to_plans_the_move_to_the_target_and_says_so_in_its_help(
    mesh_factory: Callable[..., Mesh],
) -> None:
    mesh = mesh_factory("demo")
    assert cli("upgrade", "start", "--yes", kubeconfig=mesh.kubeconfig).returncode == 0
    done = cli("upgrade", "move-tag", "prod-stable", kubeconfig=mesh.kubeconfig)
    assert done.returncode == exitcodes.OK, done.stderr
    assert "Plan: Move tag prod-stable to 1-23-1" in done.stdout
    assert "Not applied: add --yes" in done.stdout
    helped = " ".join(cli("upgrade", "move-tag", "--help").stdout.split())
    assert "the revision the tag should resolve to (default: the target)" in helped
