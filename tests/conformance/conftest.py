"""The conformance tier: each test runs on the simulator (`sim`) and on a real kube-apiserver (`realapi`).

`backend` is parametrized over both. The real server (tests/realapi/apiserver.py) is built once per
machine and started once per session; its `realapi` parameter is skipped, with the reason, when
`go` is not on PATH and no cached binaries exist, so a machine with only Python still passes, unless
MESHTUI_REQUIRE_REALAPI=1 (as in CI) makes that a failure (tests/realapi/tier.py).

Run only the real half: `pytest -m realapi tests/conformance`; only the simulator: `-m "not realapi"`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .backends import Backend, RealBackend, SimBackend

#: Resources served straight from etcd on the real server, so an etcd compaction shows as 410.
UNCACHED = ["configmaps"]

_REPORTED: dict[str, str] = {}


def pytest_report_header(config: pytest.Config) -> str | None:
    """Shown when this conftest is loaded up front (`pytest tests/conformance`); see the summary too."""
    version = os.environ.get("MESHTUI_K8S_VERSION", "v1.37.2")
    cache = Path(os.environ.get("MESHTUI_KUBE_CACHE", str(Path.home() / ".cache/meshtui/kube"))) / version
    binary = cache / "kube-apiserver"
    if binary.exists():
        out = subprocess.run([str(binary), "--version"], capture_output=True, text=True, check=False).stdout
        version_out = out.strip().removeprefix("Kubernetes ")
        return f"conformance: real kube-apiserver {version_out} (cached binary {binary})"
    if shutil.which("go") is None:
        return "conformance: realapi backend will be skipped (no go on PATH, no cached kube-apiserver)"
    return f"conformance: realapi backend will build kube-apiserver {version} first (several minutes)"


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Print the version the real server reported on /version, if it ran."""
    if "realapi" in _REPORTED:
        terminalreporter.write_sep("-", "conformance backends")
        terminalreporter.write_line(f"real kube-apiserver {_REPORTED['realapi']} (reported by its /version)")
    if "realapi-skipped" in _REPORTED:
        terminalreporter.write_line(f"realapi backend skipped: {_REPORTED['realapi-skipped']}")


def _binaries(config: pytest.Config) -> tuple[Path, Path]:
    """The real server's binaries (built with progress on the terminal); skip, or fail when required."""
    from realapi import tier

    try:
        return tier.binaries(config)
    except pytest.skip.Exception as exc:
        _REPORTED["realapi-skipped"] = str(exc)
        raise


@pytest.fixture(scope="session")
def sim_backend(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimBackend]:
    backend = SimBackend(tmp_path_factory.mktemp("sim"))
    try:
        yield backend
    finally:
        backend.stop()


@pytest.fixture(scope="session")
def real_backend(pytestconfig: pytest.Config) -> Iterator[RealBackend]:
    from realapi.apiserver import RealApiServer

    kube_apiserver, etcd = _binaries(pytestconfig)
    server = RealApiServer(kube_apiserver, etcd, uncached_resources=UNCACHED).start()
    _REPORTED["realapi"] = server.version
    print(f"\nreal kube-apiserver {server.version} at {server.server_url}")
    backend = RealBackend(server)
    try:
        yield backend
    finally:
        backend.stop()
        server.stop()


#: The two backends every conformance test runs on; the real one is marked `realapi`.
BACKENDS = ["sim", pytest.param("realapi", marks=pytest.mark.realapi)]


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> Iterator[Backend]:
    """The simulator or the real API server, both started once per session."""
    chosen: Backend = request.getfixturevalue(f"{'sim' if request.param == 'sim' else 'real'}_backend")
    try:
        yield chosen
    finally:
        chosen.reset()


@pytest.fixture(params=BACKENDS)
def dedicated_backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    """A cluster of the test's own, with controllers: the simulator (its controllers on) or a real server
    (its harness controller and injection webhook on), started for this test and stopped after it.

    For tests that own the whole cluster, like the engine's upgrade runs: the mesh is cluster-wide
    (webhook configurations, tags, the default revision, and gates over every namespace), so the
    shared backends' other Istio installs and namespaces would be part of it. A real server starts in
    about 4 seconds.
    """
    if request.param == "sim":
        sim = SimBackend(tmp_path, controllers=True)
        try:
            yield sim
        finally:
            sim.stop()
        return
    from realapi.apiserver import RealApiServer

    kube_apiserver, etcd = _binaries(request.config)
    server = RealApiServer(kube_apiserver, etcd).start()
    _REPORTED["realapi"] = server.version
    try:
        real = RealBackend(server, controllers=True)
        try:
            yield real
        finally:
            real.stop()
        assert real.harness.errors == [], real.harness.errors
        assert real.webhook is None or real.webhook.errors == [], real.webhook.errors
    finally:
        server.stop()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "sim_differs(reason): the simulator answers differently from the real server; the sim case is "
        "an xfail(strict) until the simulator is fixed",
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Turn `sim_differs(reason)` into `xfail(strict=True)` on the `sim` case only."""
    for item in items:
        callspec = getattr(item, "callspec", None)
        if callspec is None or "sim" not in (callspec.params.get("backend"), callspec.params.get("dedicated_backend")):
            continue
        for mark in item.iter_markers("sim_differs"):
            reason = mark.args[0] if mark.args else mark.kwargs.get("reason", "")
            item.add_marker(pytest.mark.xfail(reason=f"sim differs: {reason}", strict=True))
