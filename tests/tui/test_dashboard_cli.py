"""`meshtui` and `meshtui demo` as subprocesses: one sentence and the documented exit code on bad input."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import yaml

from meshtui.cli import exitcodes

HEADLESS = "textual.drivers.headless_driver:HeadlessDriver"


def meshtui(*args: str, env: dict[str, str] | None = None, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run the CLI the way a user does (the developer's kubeconfig is already hidden by the fixtures)."""
    return subprocess.run(
        [sys.executable, "-m", "meshtui", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
        check=False,
    )


def one_sentence(stderr: str) -> None:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert lines[0].startswith("meshtui: ")
    assert "Traceback" not in stderr


def test_missing_kubeconfig(tmp_path: Path) -> None:
    done = meshtui("--kubeconfig", str(tmp_path / "absent"))
    assert done.returncode == exitcodes.USAGE
    one_sentence(done.stderr)
    assert "meshtui demo" in done.stderr


def test_broken_kubeconfig(tmp_path: Path) -> None:
    path = tmp_path / "kubeconfig"
    path.write_text("clusters: [\n")
    done = meshtui("--kubeconfig", str(path))
    assert done.returncode == exitcodes.USAGE
    one_sentence(done.stderr)


def unreachable_kubeconfig(tmp_path: Path) -> Path:
    path = tmp_path / "kubeconfig"
    path.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "current-context": "far",
                "clusters": [{"name": "far", "cluster": {"server": "http://127.0.0.1:9"}}],
                "users": [{"name": "far", "user": {"token": "x"}}],
                "contexts": [{"name": "far", "context": {"cluster": "far", "user": "far"}}],
            }
        )
    )
    return path


def test_unreachable_cluster(tmp_path: Path) -> None:
    done = meshtui("--kubeconfig", str(unreachable_kubeconfig(tmp_path)))
    assert done.returncode == exitcodes.UNREACHABLE
    one_sentence(done.stderr)
    assert "unreachable" in done.stderr


def test_unknown_context(tmp_path: Path) -> None:
    done = meshtui("--kubeconfig", str(unreachable_kubeconfig(tmp_path)), "--context", "nope")
    assert done.returncode == exitcodes.USAGE
    one_sentence(done.stderr)
    assert "'nope'" in done.stderr


def test_demo_unknown_scenario() -> None:
    done = meshtui("demo", "--scenario", "nope")
    assert done.returncode == exitcodes.USAGE
    assert "unknown scenario 'nope'" in done.stderr


def test_demo_writes_its_kubeconfig_and_quits_cleanly(tmp_path: Path) -> None:
    out = tmp_path / "demo.kubeconfig"
    log = tmp_path / "meshtui.log"
    done = meshtui(
        "demo",
        "--kubeconfig-out",
        str(out),
        env={"TEXTUAL_DRIVER": HEADLESS, "TEXTUAL_PRESS": "wait:5000,q", "MESHTUI_LOG": str(log)},
    )
    assert done.returncode == exitcodes.OK, done.stderr
    assert "Traceback" not in done.stderr + done.stdout
    config = yaml.safe_load(out.read_text())
    assert config["current-context"] == "meshtui-sim"
    assert config["clusters"][0]["cluster"]["server"].startswith("http://127.0.0.1:")
    assert log.exists()  # library logging went to the file, not the terminal


def test_theme_flag_beats_the_environment_and_rejects_unknown_themes(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from meshtui.cli.dashboard_cmd import settings_from_args
    from meshtui.cli.main import build_parser

    monkeypatch.setenv("MESHTUI_THEME", "textual-light")
    args = build_parser().parse_args(["demo", "--theme", "ansi-dark"])
    assert settings_from_args(args).theme == "ansi-dark"
    done = meshtui("demo", "--theme", "solarized")
    assert done.returncode == exitcodes.USAGE
    assert "invalid choice: 'solarized'" in done.stderr
