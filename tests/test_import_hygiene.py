"""The layers below the UI load without Textual, and the domain without any I/O library, in a fresh interpreter.

The import contracts (`lint-imports`) check the import statements; this checks what importing every module
of a layer really loads, dependencies' own imports included.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

PROBE = """
import importlib, json, pkgutil, sys
package = importlib.import_module(sys.argv[1])
for info in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
    importlib.import_module(info.name)
print(json.dumps(sorted(sys.modules)))
"""


def loaded_by(package: str) -> set[str]:
    """Every module a fresh interpreter holds after importing each module of `package`."""
    done = subprocess.run(
        [sys.executable, "-c", PROBE, package], capture_output=True, text=True, timeout=120, check=True
    )
    return set(json.loads(done.stdout))


def roots(modules: set[str]) -> set[str]:
    """Top-level packages, plus meshtui's layers (`meshtui.tui`, ...)."""
    out = set()
    for name in modules:
        parts = name.split(".")
        out.add(".".join(parts[:2]) if parts[0] == "meshtui" else parts[0])
    return out


@pytest.mark.parametrize(
    ("package", "never"),
    [
        (
            "meshtui.domain",
            {"textual", "rich", "kubernetes", "urllib3", "aiohttp", "meshtui.cluster", "meshtui.engine", "meshtui.sim"},
        ),
        ("meshtui.cluster", {"textual", "meshtui.tui", "meshtui.engine", "meshtui.cli", "meshtui.sim"}),
        ("meshtui.engine", {"textual", "meshtui.tui", "meshtui.cli", "meshtui.sim"}),
        ("meshtui.sim", {"textual", "meshtui.cluster", "meshtui.engine", "meshtui.tui", "meshtui.cli"}),
    ],
)
def test_a_layer_loads_nothing_it_must_not(package: str, never: set[str]) -> None:
    assert roots(loaded_by(package)) & never == set()
