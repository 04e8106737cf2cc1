"""Inputs that cannot name an upgrade stop with one sentence and exit 2, instead of analysing nonsense."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from meshtui.sim.runtime import SimCluster
from tests.cli.test_status_cli import meshtui
from tests.helpers import start_sim

OLD, NEW = "1-22-3", "1-23-1"


@pytest.fixture(scope="module")
def kubeconfig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    sim: SimCluster = start_sim("demo")
    yield sim.kubeconfig(tmp_path_factory.mktemp("bad-input") / "kubeconfig")
    sim.stop()


def one_sentence_exit_2(result: object) -> str:
    assert result.returncode == 2, (result.returncode, result.stdout[-500:], result.stderr)  # type: ignore[attr-defined]
    err: str = result.stderr  # type: ignore[attr-defined]
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert not result.stdout.strip(), "no analysis is printed"  # type: ignore[attr-defined]
    return err


COMMANDS = [
    ("status",),
    ("status", "--json"),
    ("check",),
    ("plan", "switch", "--all"),
    ("upgrade", "status"),
    ("upgrade", "switch", "--all"),
]


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_the_same_revision_as_source_and_target(kubeconfig: Path, command: tuple[str, ...]) -> None:
    err = one_sentence_exit_2(meshtui(*command, "--kubeconfig", str(kubeconfig), "--source", NEW, "--target", NEW))
    assert f"both name {NEW}" in err and f"{OLD}, {NEW}" in err, err


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_a_revision_no_cluster_has(kubeconfig: Path, command: tuple[str, ...]) -> None:
    err = one_sentence_exit_2(meshtui(*command, "--kubeconfig", str(kubeconfig), "--target", "1-23-l"))
    assert "--target 1-23-l names no revision" in err and f"the mesh has {OLD}, {NEW}" in err, err
    err = one_sentence_exit_2(meshtui(*command, "--kubeconfig", str(kubeconfig), "--source", "1-21-0"))
    assert "--source 1-21-0 names no revision" in err, err


def test_the_dashboard_refuses_a_pair_before_opening(kubeconfig: Path) -> None:
    err = one_sentence_exit_2(meshtui("--kubeconfig", str(kubeconfig), "--source", OLD, "--target", "nope"))
    assert "--target nope names no revision" in err, err


def test_the_steps_that_install_the_target_accept_one_not_installed_yet(kubeconfig: Path) -> None:
    result = meshtui("plan", "start", "--kubeconfig", str(kubeconfig), "--source", OLD, "--target", "1-24-0")
    assert result.returncode == 0, result.stderr
    assert "1-22-3 -> 1-24-0" in result.stdout


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("empty.yaml", b""),
        ("binary.yaml", bytes(range(256)) * 4),
        ("notes.yaml", b"title: my notes\nitems: [1, 2, 3]\n"),
        ("list.json", b"[1, 2, 3]"),
        ("secret.yaml", b"apiVersion: v1\nkind: Secret\nmetadata: {name: s, namespace: a}\n"),
    ],
    ids=["empty", "binary", "not-kubernetes-yaml", "json-list", "nothing-meshtui-reads"],
)
@pytest.mark.parametrize("command", ["status", "check"])
def test_dumps_that_hold_no_kubernetes_object(tmp_path: Path, name: str, content: bytes, command: str) -> None:
    (tmp_path / name).write_bytes(content)
    err = one_sentence_exit_2(meshtui(command, "--from-file", str(tmp_path / name)))
    assert "no kubernetes object" in err.lower(), err


def test_a_dump_with_some_good_objects_is_still_analysed(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(
        "apiVersion: v1\nkind: Namespace\nmetadata: {name: shop, labels: {istio-injection: enabled}}\n"
        "---\njust some text\n"
    )
    result = meshtui("status", "--json", "--from-file", str(tmp_path / "a.yaml"))
    assert result.returncode == 0, result.stderr
    assert [ns["name"] for ns in json.loads(result.stdout)["namespaces"]] == ["shop"]
    assert "a document is not an object" in result.stderr
