"""How a test session gets the real API server's binaries: built with live progress, else skipped or failed.

Without Go and without cached binaries the realapi tests skip, so a machine with only Python still
passes; with MESHTUI_REQUIRE_REALAPI=1 (what .ci/run sets) that is a failure instead, so CI cannot
pass without the real-server half of the conformance tier.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from .apiserver import RealApiUnavailable, available_binaries

REQUIRE_ENV = "MESHTUI_REQUIRE_REALAPI"


def required() -> bool:
    """True when the environment says the realapi tier must run."""
    return os.environ.get(REQUIRE_ENV, "") not in ("", "0")


def binaries(config: pytest.Config) -> tuple[Path, Path]:
    """`(kube_apiserver, etcd)` for a fixture; skips the test (fails it, when required) if unavailable.

    The build script's progress is written straight to the terminal, past pytest's capture, so a first
    build shows how far it got instead of minutes of silence.
    """
    try:
        return available_binaries(progress=_terminal(config))
    except RealApiUnavailable as exc:
        if required():
            pytest.fail(f"{REQUIRE_ENV}=1 but the real API server cannot run here: {exc}", pytrace=False)
        pytest.skip(str(exc))


def _terminal(config: pytest.Config) -> Callable[[str], None]:
    capture = config.pluginmanager.getplugin("capturemanager")
    reporter = config.pluginmanager.getplugin("terminalreporter")

    def write(line: str) -> None:
        if capture is None or reporter is None:
            print(line, file=sys.__stderr__, flush=True)
            return
        with capture.global_and_fixture_disabled():
            reporter.write_line(line)
            reporter.flush()

    return write
