"""Kubeconfigs as kubectl reads them: every $KUBECONFIG entry merged, credential plugins that work, private files.

Subprocess runs against two simulated clusters whose contexts live in two different files.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from meshtui.cluster.kubeconfig import default_kubeconfig, kubeconfig_paths
from meshtui.sim.runtime import SimCluster
from tests.helpers import start_sim


def one_context(path: Path, name: str, sim: SimCluster, user: dict[str, Any]) -> Path:
    path.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "current-context": name,
                "clusters": [{"name": name, "cluster": {"server": sim.url}}],
                "users": [{"name": name, "user": user}],
                "contexts": [{"name": name, "context": {"cluster": name, "user": name}}],
            }
        )
    )
    return path


@pytest.fixture(scope="module")
def two(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[SimCluster, SimCluster, Path]]:
    a, b = start_sim("fresh"), start_sim("demo")
    try:
        yield a, b, tmp_path_factory.mktemp("kubeconfigs")
    finally:
        a.stop()
        b.stop()


def meshtui(*args: str, kubeconfig: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NO_COLOR": "1", "KUBECONFIG": kubeconfig}
    return subprocess.run(
        [sys.executable, "-m", "meshtui", *args], capture_output=True, text=True, timeout=120, env=env, check=False
    )


def clusters_read(done: subprocess.CompletedProcess[str]) -> list[str]:
    assert done.returncode == 0, done.stderr
    return sorted(c["name"] for c in json.loads(done.stdout)["clusters"])


def test_every_kubeconfig_entry_is_merged(two: tuple[SimCluster, SimCluster, Path]) -> None:
    a, b, tmp = two
    first = one_context(tmp / "first.yaml", "east", a, {"token": a.token})
    second = one_context(tmp / "second.yaml", "west", b, {"token": b.token})
    env = f"{first}{os.pathsep}{tmp / 'absent.yaml'}{os.pathsep}{second}"
    assert clusters_read(meshtui("status", "--json", "--context", "west", kubeconfig=env)) == ["west"]
    both = meshtui("status", "--json", "--context", "east", "--context", "west", kubeconfig=env)
    assert clusters_read(both) == ["east", "west"]
    # The first file that sets current-context wins, as in kubectl.
    assert clusters_read(meshtui("status", "--json", kubeconfig=env)) == ["east"]


def test_default_kubeconfig_is_the_whole_list(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("KUBECONFIG", f"{tmp_path}/a{os.pathsep}{os.pathsep}{tmp_path}/b{os.pathsep}{tmp_path}/a")
    assert kubeconfig_paths() == [f"{tmp_path}/a", f"{tmp_path}/b"]
    assert default_kubeconfig() == f"{tmp_path}/a{os.pathsep}{tmp_path}/b"
    monkeypatch.delenv("KUBECONFIG")
    assert default_kubeconfig() == os.path.expanduser("~/.kube/config")


def test_a_credential_plugin_that_answers_is_used(two: tuple[SimCluster, SimCluster, Path]) -> None:
    _, b, tmp = two
    plugin = tmp / "login.sh"
    credential = {
        "apiVersion": "client.authentication.k8s.io/v1",
        "kind": "ExecCredential",
        "status": {"token": b.token},
    }
    plugin.write_text(f"#!/bin/sh\necho '{json.dumps(credential)}'\n")
    plugin.chmod(plugin.stat().st_mode | stat.S_IXUSR)
    user = {"exec": {"apiVersion": "client.authentication.k8s.io/v1", "command": str(plugin)}}
    path = one_context(tmp / "exec.yaml", "west", b, user)
    done = meshtui("status", "--json", kubeconfig=str(path))
    assert clusters_read(done) == ["west"]


def test_the_simulators_kubeconfig_is_private(tmp_path: Path) -> None:
    out = tmp_path / "sim.kubeconfig"
    out.write_text("was here, world-readable")
    out.chmod(0o644)
    sim = start_sim("fresh")
    try:
        sim.kubeconfig(out)
    finally:
        sim.stop()
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert yaml.safe_load(out.read_text())["users"][0]["user"]["token"] == sim.token
