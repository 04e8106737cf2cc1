"""Engine test support: simulated clusters from scenarios, a session over them, and the CLI as a subprocess.

The fixtures are re-exported by `tests/engine/conftest.py` and imported by `tests/cli/test_upgrade_cli.py`.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest
from kubernetes import client

from meshtui.cluster.kubeconfig import ClusterTarget, connect
from meshtui.cluster.oneshot import load_once
from meshtui.domain.inventory import Inventory, InventoryView
from meshtui.engine.record import UpgradeRecord
from meshtui.engine.session import EngineSession
from meshtui.sim.runtime import SimCluster
from meshtui.sim.store import Store
from tests.conftest import RunningSim, StartSims
from tests.helpers import fast_settings

IDENTITY = "alice@jump-1"


class Mesh(RunningSim):
    """A running simulated cluster with its kubeconfig and an official-client ApiClient."""

    @property
    def sim(self) -> SimCluster:
        """The simulated cluster."""
        return self.cluster

    @property
    def core(self) -> client.CoreV1Api:
        return client.CoreV1Api(self.api)

    @property
    def apps(self) -> client.AppsV1Api:
        return client.AppsV1Api(self.api)

    def store(self, fn: Callable[[Store], Any]) -> Any:
        """Run fn(store) on the simulator's loop."""
        return self.store_call(fn)

    def record(self) -> UpgradeRecord | None:
        """The upgrade record as stored (read with the official client)."""
        try:
            cm = self.core.read_namespaced_config_map("meshtui-upgrade", "istio-system")
        except client.exceptions.ApiException as exc:
            if exc.status == 404:
                return None
            raise
        return UpgradeRecord.from_configmap_data(dict(cm.data or {}))

    def targets(self) -> list[ClusterTarget]:
        return connect(str(self.kubeconfig))

    def view(self, source: str | None = None, target: str | None = None) -> InventoryView:
        targets = self.targets()
        inventory = Inventory()
        for t in targets:
            inventory.add_cluster(t.name, t.server)
        load_once(targets, inventory)
        return inventory.view(source, target)


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch) -> None:
    """A fixed operator identity (tests/conftest.py keeps the developer's kubeconfig out)."""
    monkeypatch.setenv("MESHTUI_IDENTITY", IDENTITY)


@pytest.fixture
def mesh_factory(sims: StartSims) -> Callable[..., Mesh]:
    """Start scenario clusters (stopped after the test)."""

    def make(scenario: str = "fresh", ready_delay: float = 0.05) -> Mesh:
        mesh: Mesh = sims(scenario, settings=fast_settings(pod_ready_delay=ready_delay), as_type=Mesh)
        return mesh

    return make


@pytest.fixture
def fresh(mesh_factory: Callable[..., Mesh]) -> Mesh:
    """The `fresh` scenario: only 1-22-3, tags default and prod-stable on it."""
    return mesh_factory("fresh")


def open_session(mesh: Mesh, **kwargs: Any) -> tuple[EngineSession, InventoryView]:
    """An engine session over a mesh, with permissions and the record read."""
    view = mesh.view(kwargs.get("source"), kwargs.get("target"))
    session = EngineSession(mesh.targets(), view, **kwargs)
    session.refresh()
    return session, view


def cli(
    *args: str,
    kubeconfig: Path | None = None,
    identity: str = IDENTITY,
    timeout: float = 120,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run `meshtui` as a user does (a subprocess), against the given kubeconfig."""
    full = [sys.executable, "-m", "meshtui", *args]
    if kubeconfig is not None and args and args[0] in ("upgrade", "plan", "check", "status"):
        full += ["--kubeconfig", str(kubeconfig)]
    environ = {**os.environ, "NO_COLOR": "1", "MESHTUI_IDENTITY": identity, **(env or {})}
    return subprocess.run(full, capture_output=True, text=True, timeout=timeout, env=environ, check=False)


def popen(*args: str, kubeconfig: Path, identity: str = IDENTITY) -> subprocess.Popen[str]:
    """Start `meshtui` in the background."""
    full = [sys.executable, "-m", "meshtui", *args, "--kubeconfig", str(kubeconfig)]
    environ = {**os.environ, "NO_COLOR": "1", "MESHTUI_IDENTITY": identity}
    return subprocess.Popen(full, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=environ)


def render(version: str, out: Path, *gateways: str) -> Path:
    """Rendered manifests of a revision, written by `meshtui sim render-revision` (the CLI)."""
    args = ["sim", "render-revision", "--version", version, "--out", str(out)]
    for g in gateways:
        args += ["--gateway", g]
    done = cli(*args)
    assert done.returncode == 0, done.stderr
    return out


def dump(obj: Any) -> str:
    return orjson.dumps(obj, option=orjson.OPT_INDENT_2).decode()
