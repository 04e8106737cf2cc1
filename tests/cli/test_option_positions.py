"""Every global option means the same before and after the subcommand, for every subcommand (subprocess runs).

Two simulated clusters: `a` (the current context of the kubeconfig in $KUBECONFIG) and `b`. An option
works when the run reaches the cluster it names (`--kubeconfig`, `--context`), sends no write at all
(`--read-only`, with `--yes`), or prints what the other position prints (`--source`/`--target`).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from meshtui.cli import exitcodes
from meshtui.sim.runtime import SimCluster
from tests.helpers import multi_kubeconfig, start_sim

#: One invocation of every subcommand that reads a cluster; `--yes` where it would otherwise write.
SUBCOMMANDS: dict[str, list[str]] = {
    "status": ["status"],
    "check": ["check"],
    "plan": ["plan", "switch", "--all", "--dry-run"],
    "upgrade start": ["upgrade", "start", "--yes"],
    "upgrade install": ["upgrade", "install", "--external", "--yes"],
    "upgrade switch": ["upgrade", "switch", "--all", "--yes"],
    "upgrade move-tag": ["upgrade", "move-tag", "default", "--to", "1-23-1", "--yes"],
    "upgrade restart": ["upgrade", "restart", "--all", "--yes"],
    "upgrade delete-pods": ["upgrade", "delete-pods", "batch/debug-shell", "--yes"],
    "upgrade gateways": ["upgrade", "gateways", "--yes"],
    "upgrade verify": ["upgrade", "verify"],
    "upgrade complete": ["upgrade", "complete", "--yes", "--confirm-revision", "1-22-3"],
    "upgrade rollback": ["upgrade", "rollback", "--yes", "--confirm-revision", "1-23-1"],
    "upgrade status": ["upgrade", "status"],
}
#: The subcommands whose output shows the source and target (the others print a plan or refusal without them).
SHOWS_PAIR = {
    "status",
    "check",
    "plan",
    "upgrade start",
    "upgrade install",
    "upgrade switch",
    "upgrade gateways",
    "upgrade verify",
    "upgrade status",
}
REVERSED = ["--source", "1-23-1", "--target", "1-22-3"]


@dataclass
class Clusters:
    a: SimCluster
    b: SimCluster
    both: Path  # contexts a (current) and b
    only_b: Path  # the simulator's own kubeconfig for b
    home: Path


@pytest.fixture(scope="module")
def clusters(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Clusters]:
    tmp = tmp_path_factory.mktemp("positions")
    a, b = start_sim("demo"), start_sim("demo")
    try:
        both = multi_kubeconfig(tmp / "both.yaml", {"a": a, "b": b}, current="a")
        only_b = b.kubeconfig(tmp / "b.yaml")
        home = tmp / "home"
        home.mkdir()
        yield Clusters(a, b, both, only_b, home)
    finally:
        a.stop()
        b.stop()


def run(c: Clusters, argv: list[str], *, kubeconfig_env: Path | None) -> subprocess.CompletedProcess[str]:
    """`meshtui ARGV` with $KUBECONFIG set (or pointing nowhere) and no developer configuration."""
    env = {
        **os.environ,
        "NO_COLOR": "1",
        "HOME": str(c.home),
        "MESHTUI_LOG": str(c.home / "meshtui.log"),
        "MESHTUI_IDENTITY": "positions@test",
        "KUBECONFIG": str(kubeconfig_env or c.home / "no-kubeconfig"),
    }
    for sim in (c.a, c.b):
        sim.faults.clear_log()
    return subprocess.run(
        [sys.executable, "-m", "meshtui", *argv],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
        stdin=subprocess.DEVNULL,
    )


def place(sub: str, option: list[str], position: str) -> list[str]:
    """The subcommand's argv with `option` before the subcommand or after it."""
    argv = SUBCOMMANDS[sub]
    return [*option, *argv] if position == "before" else [*argv, *option]


def writes(sim: SimCluster) -> list[str]:
    return [f"{r.method} {r.path}" for r in sim.faults.requests() if r.method not in ("GET", "HEAD")]


def reached(sim: SimCluster) -> int:
    return len(sim.faults.requests())


def no_traceback(done: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in done.stderr, done.stderr


@pytest.mark.parametrize("position", ["before", "after"])
@pytest.mark.parametrize("sub", list(SUBCOMMANDS))
def test_kubeconfig_is_used_in_either_position(clusters: Clusters, sub: str, position: str) -> None:
    argv = [*place(sub, ["--kubeconfig", str(clusters.only_b)], position), "--read-only"]
    done = run(clusters, argv, kubeconfig_env=None)
    no_traceback(done)
    assert "No kubeconfig" not in done.stderr, done.stderr
    assert reached(clusters.b) > 0, f"{sub}: --kubeconfig {position} the subcommand was ignored\n{done.stderr}"


@pytest.mark.parametrize("position", ["before", "after"])
@pytest.mark.parametrize("sub", list(SUBCOMMANDS))
def test_context_is_used_in_either_position(clusters: Clusters, sub: str, position: str) -> None:
    done = run(clusters, [*place(sub, ["--context", "b"], position), "--read-only"], kubeconfig_env=clusters.both)
    no_traceback(done)
    assert reached(clusters.b) > 0, f"{sub}: --context b {position} the subcommand did not reach b\n{done.stderr}"
    assert reached(clusters.a) == 0, f"{sub}: --context b {position} the subcommand read the current context a"


@pytest.mark.parametrize("position", ["before", "after"])
@pytest.mark.parametrize("sub", list(SUBCOMMANDS))
def test_read_only_sends_no_write_in_either_position(clusters: Clusters, sub: str, position: str) -> None:
    done = run(clusters, place(sub, ["--read-only"], position), kubeconfig_env=clusters.only_b)
    no_traceback(done)
    assert reached(clusters.b) > 0, done.stderr
    assert writes(clusters.b) == [], f"{sub} with --read-only {position} it wrote"


@pytest.fixture(scope="module")
def baseline(clusters: Clusters) -> dict[str, subprocess.CompletedProcess[str]]:
    """Each subcommand's output without --source/--target (computed on first use)."""
    return {}


@pytest.mark.parametrize("sub", list(SUBCOMMANDS))
def test_source_and_target_mean_the_same_in_either_position(
    clusters: Clusters, baseline: dict[str, subprocess.CompletedProcess[str]], sub: str
) -> None:
    if sub not in baseline:
        baseline[sub] = run(clusters, [*SUBCOMMANDS[sub], "--read-only"], kubeconfig_env=clusters.only_b)
    before = run(clusters, [*place(sub, REVERSED, "before"), "--read-only"], kubeconfig_env=clusters.only_b)
    after = run(clusters, [*place(sub, REVERSED, "after"), "--read-only"], kubeconfig_env=clusters.only_b)
    for done in (before, after):
        no_traceback(done)
    assert (before.returncode, before.stdout) == (after.returncode, after.stdout)
    if sub in SHOWS_PAIR:
        assert before.stdout != baseline[sub].stdout, f"{sub}: --source/--target before the subcommand had no effect"


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["--source", "1-23-1", "status", "--source", "1-22-3"], "--source is given twice"),
        (["--target", "1-23-1", "upgrade", "status", "--target", "1-22-3"], "--target is given twice"),
        (["--kubeconfig", "x.yaml", "check", "--kubeconfig", "y.yaml"], "--kubeconfig is given twice"),
        (["--theme", "ansi-dark", "status"], "--theme does not apply"),
        (["--kubeconfig", "x.yaml", "sim"], "--kubeconfig does not apply"),
        (["--read-only", "sim"], "--read-only does not apply"),
        (["--context", "b", "demo"], "--context does not apply"),
    ],
)
def test_conflicting_or_misplaced_options_are_usage_errors(clusters: Clusters, argv: list[str], words: str) -> None:
    done = run(clusters, argv, kubeconfig_env=clusters.only_b)
    assert done.returncode == exitcodes.USAGE
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and words in lines[0], done.stderr
    assert reached(clusters.b) == 0


def test_the_same_value_in_both_positions_and_contexts_from_both_accumulate(clusters: Clusters) -> None:
    same = run(clusters, [*REVERSED, "status", *REVERSED, "--json"], kubeconfig_env=clusters.only_b)
    assert same.returncode == 0, same.stderr
    mesh = run(clusters, ["--context", "a", "status", "--context", "b", "--json"], kubeconfig_env=clusters.both)
    assert mesh.returncode == 0, mesh.stderr
    assert '"a"' in mesh.stdout and '"b"' in mesh.stdout
    assert reached(clusters.a) > 0 and reached(clusters.b) > 0


@pytest.mark.parametrize(
    "option",
    [["--read-only"], ["--theme", "ansi-dark"], ["--namespace-filter", "risk"]],
    ids=["read-only", "theme", "namespace-filter"],
)
def test_demo_takes_the_dashboard_options_in_either_position(
    option: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from meshtui.cli.dashboard_cmd import settings_from_args
    from meshtui.cli.main import build_parser

    monkeypatch.setenv("MESHTUI_THEME", "textual-light")
    before = settings_from_args(build_parser().parse_args([*option, "demo"]))
    after = settings_from_args(build_parser().parse_args(["demo", *option]))
    plain = settings_from_args(build_parser().parse_args(["demo"]))
    assert before == after != plain
