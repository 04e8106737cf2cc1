"""Cluster and file data cannot drive the terminal: control characters are shown escaped on every surface.

A Lease holder and object names carrying ESC sequences (an OSC title change, a CSI colour and clear,
a C1 CSI, a right-to-left override) are printed by the CLI (text, JSON, stderr), written to the log and
shown by the dashboard; none of them may reach the output raw.
"""

from __future__ import annotations

import json
import logging
import os
import re
import stat
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client, config

from meshtui.domain.lock import LEASE_NAME
from meshtui.domain.text import inert, inert_json
from meshtui.sim.runtime import SimCluster
from tests.helpers import start_sim

#: A Lease holder that would retitle the terminal, clear the screen, and reorder the rest of the line.
HOSTILE_HOLDER = "mallory\x1b]2;pwned\x07\x1b[2J\x1b[31m\x9b1m\u202eevil"
#: A name with an OSC title change (file dumps are not validated by an API server).
HOSTILE_NAME = "shop\x1b]0;owned\x07"
#: Any C0 control but newline and tab, DEL, C1 controls, bidi overrides: none may be printed raw.
RAW_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def meshtui(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, "NO_COLOR": "1", "MESHTUI_IDENTITY": "inert@test", **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "meshtui", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=full_env,
        check=False,
        stdin=subprocess.DEVNULL,
    )


def no_raw_control(text: str) -> None:
    found = RAW_CONTROL.findall(text)
    assert not found, f"raw control characters {found!r} in:\n{text!r}"


@pytest.fixture(scope="module")
def locked(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[SimCluster, Path]]:
    """The demo scenario with the upgrade lock held by a hostile holder."""
    sim = start_sim("demo")
    path = sim.kubeconfig(tmp_path_factory.mktemp("inert") / "kubeconfig")
    api = config.new_client_from_config(config_file=str(path))
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    client.CoordinationV1Api(api).create_namespaced_lease(
        "istio-system",
        {
            "metadata": {"name": LEASE_NAME},
            "spec": {
                "holderIdentity": HOSTILE_HOLDER,
                "leaseDurationSeconds": 3600,
                "acquireTime": now,
                "renewTime": now,
            },
        },
    )
    api.close()
    yield sim, path
    sim.stop()


def test_upgrade_status_shows_a_hostile_lock_holder_escaped(locked: tuple[SimCluster, Path]) -> None:
    _, path = locked
    done = meshtui("upgrade", "status", "--kubeconfig", str(path))
    assert done.returncode == 0, done.stderr
    no_raw_control(done.stdout + done.stderr)
    assert inert(HOSTILE_HOLDER) in done.stdout


def test_json_keeps_the_holder_exact_and_escaped(locked: tuple[SimCluster, Path]) -> None:
    _, path = locked
    done = meshtui("upgrade", "status", "--json", "--kubeconfig", str(path))
    assert done.returncode == 0, done.stderr
    no_raw_control(done.stdout)
    assert json.loads(done.stdout)["lock"]["holder"] == HOSTILE_HOLDER, "JSON escapes, it does not alter"


def test_a_refusal_naming_the_hostile_holder_is_escaped_on_stderr(locked: tuple[SimCluster, Path]) -> None:
    _, path = locked
    done = meshtui("upgrade", "start", "--target", "1-23-1", "--yes", "--kubeconfig", str(path))
    assert done.returncode != 0
    assert "mallory" in done.stdout + done.stderr
    no_raw_control(done.stdout + done.stderr)


def hostile_dump(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    docs: list[dict[str, Any]] = [
        {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {"name": HOSTILE_NAME, "labels": {"istio-injection": "enabled"}},
        },
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "web\x1b[2J", "namespace": HOSTILE_NAME, "labels": {"app": "web"}},
            "spec": {"containers": [{"name": "web", "image": "web:1"}]},
            "status": {"phase": "Running"},
        },
        # Malformed: skipped with a sentence on stderr that names it.
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "bad\x1b]2;x\x07", "namespace": "a"},
            "spec": 7,
        },
    ]
    path = folder / "dump.yaml"
    path.write_text(yaml.safe_dump_all(docs, allow_unicode=True))
    return path


@pytest.mark.parametrize("json_out", [False, True], ids=["text", "json"])
@pytest.mark.parametrize("command", ["status", "check"])
def test_hostile_names_in_a_dump_are_escaped(tmp_path: Path, command: str, json_out: bool) -> None:
    dump = hostile_dump(tmp_path / "dump")
    done = meshtui(command, "--from-file", str(dump), *(["--json"] if json_out else []))
    assert "Traceback" not in done.stderr
    assert done.returncode in (0, 1), done.stderr
    no_raw_control(done.stdout + done.stderr)
    if command == "status":
        shown = done.stdout if json_out else done.stdout + done.stderr
        assert ("shop\\u001b]0;owned\\u0007" if json_out else "shop\\x1b]0;o") in shown


def test_json_escapes_c1_controls_and_bidi_overrides() -> None:
    raw = json.dumps({"a": "x\x9b1m\u202ey"}, ensure_ascii=False).encode()
    escaped = inert_json(raw)
    assert b"\xc2\x9b" not in escaped and "\u202e".encode() not in escaped
    assert json.loads(escaped) == {"a": "x\x9b1m\u202ey"}


def test_json_keeps_printable_characters_beside_the_escaped_ones() -> None:
    doc = {"why": "ns → rev 1-23-1; …", "name": "a\u061cb", "c1": "\x85", "bidi": "\u2066x\u2069", "ü": "é€"}
    raw = json.dumps(doc, ensure_ascii=False).encode()
    escaped = inert_json(raw)
    assert json.loads(escaped) == doc
    assert "→ rev 1-23-1; …".encode() in escaped and "é€".encode() in escaped
    assert b"\\u061c" in escaped and b"\\u0085" in escaped and b"\\u2066" in escaped and b"\\u2069" in escaped
    printable = json.dumps({"why": "ns → rev; …", "ü": "é"}, ensure_ascii=False).encode()
    assert inert_json(printable) == printable


def test_the_log_is_private_and_inert(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from meshtui.tui.logfile import setup_logging

    monkeypatch.setenv("MESHTUI_LOG", str(tmp_path / "meshtui.log"))
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    try:
        path = setup_logging()
        assert path is not None
        logging.getLogger("meshtui.test").warning("lock held by %s", HOSTILE_HOLDER)
        for handler in root.handlers:
            handler.flush()
        text = path.read_text(encoding="utf-8")
        mode = stat.S_IMODE(path.stat().st_mode)
    finally:
        for handler in list(root.handlers):
            root.removeHandler(handler)
            handler.close()
        for handler in saved[0]:
            root.addHandler(handler)
        root.setLevel(saved[1])
    assert inert(HOSTILE_HOLDER) in text
    no_raw_control(text)
    assert mode == 0o600, oct(mode)
