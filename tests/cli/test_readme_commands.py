"""The README's shell commands, run as written (only the venv prefix and the temporary paths are replaced).

The README is what a new user types first; running its commands here keeps it from drifting away from the
product. Lines that open the dashboard are parsed, not run (the key sequences are run by
tests/tui/test_engine_walkthrough.py).
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from meshtui.cli.main import build_parser
from tests.helpers import wait_until

README = Path(__file__).resolve().parents[2] / "README.md"
SIM_KUBECONFIG = "/tmp/meshtui-sim.kubeconfig"
KUBECTL = shutil.which("kubectl", path=str(Path(sys.executable).parent))


def sh_blocks() -> list[list[str]]:
    """Each ```sh block of the README as its command lines (comments and continuation lines dropped)."""
    blocks = re.findall(r"^```sh\n(.*?)^```$", README.read_text(), flags=re.S | re.M)
    out = []
    for block in blocks:
        lines = []
        for raw in block.splitlines():
            line = raw.split(" #", 1)[0].strip() if not raw.lstrip().startswith("#") else ""
            if line:
                lines.append(line)
        out.append(lines)
    return out


def block_with(word: str) -> list[str]:
    """The one README block whose lines contain `word`."""
    found = [b for b in sh_blocks() if any(word in line for line in b)]
    assert len(found) == 1, f"expected one README block with {word!r}, found {len(found)}"
    return found[0]


def argv(line: str, kubeconfig: Path) -> list[str]:
    """A README line as an argv: the venv's meshtui runs as this interpreter, the temporary path is ours."""
    words = shlex.split(line.replace(SIM_KUBECONFIG, str(kubeconfig)))
    if words[0] in (".venv/bin/meshtui", "meshtui"):
        return [sys.executable, "-m", "meshtui", *words[1:]]
    if words[0] == "kubectl":
        assert KUBECTL is not None
        return [KUBECTL, *words[1:]]
    raise AssertionError(f"unexpected README command {line!r}")


@pytest.fixture
def readme_sim(tmp_path: Path) -> Iterator[Path]:
    """`meshtui sim --scenario demo --kubeconfig-out ...` started exactly as the README says; its kubeconfig."""
    kubeconfig = tmp_path / "meshtui-sim.kubeconfig"
    start = next(line for line in block_with("meshtui sim") if " sim " in line)
    proc = subprocess.Popen(
        argv(start, kubeconfig), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
    )
    try:
        wait_until(
            lambda: (kubeconfig.exists() and kubeconfig.stat().st_size > 0) or proc.poll() is not None,
            timeout=60,
            what="the simulator's kubeconfig",
        )
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
        yield kubeconfig
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)


def run(words: list[str], **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(words, capture_output=True, text=True, timeout=300, env={**os.environ, **env})


def test_the_simulator_block_runs_as_written(readme_sim: Path) -> None:
    assert oct(readme_sim.stat().st_mode & 0o777) == "0o600", "the kubeconfig holds the simulator's token"
    lines = [line for line in block_with("meshtui sim") if " sim " not in line]
    assert [line.split()[0] for line in lines] == ["kubectl", ".venv/bin/meshtui"]
    if KUBECTL is not None:
        pods = run(argv(lines[0], readme_sim))
        assert pods.returncode == 0, pods.stderr
        assert "istio-system" in pods.stdout and "Running" in pods.stdout
    status = run(argv(lines[1], readme_sim))
    assert status.returncode == 0, status.stderr
    assert "1-22-3" in status.stdout and "1-23-1" in status.stdout


def test_the_real_cluster_block_runs_as_written(readme_sim: Path, tmp_path: Path) -> None:
    """`meshtui status`, `--json` and `--from-file dump/` on the current context; the dashboard lines parse."""
    lines = block_with("meshtui status --json")
    dump = tmp_path / "dump"
    dump.mkdir()
    if KUBECTL is not None:
        kinds = "namespaces,pods,deployments,services,configmaps,mutatingwebhookconfigurations"
        got = run([KUBECTL, "--kubeconfig", str(readme_sim), "get", kinds, "-A", "-o", "yaml"])
        assert got.returncode == 0, got.stderr
        (dump / "cluster.yaml").write_text(got.stdout)
    ran = 0
    for line in lines:
        words = shlex.split(line)
        if len(words) < 2 or words[1] != "status":
            # The dashboard: the arguments must mean what the README says (two contexts, read-only).
            parsed = build_parser().parse_args(words[1:])
            assert parsed.command is None
            if "--context" in words:
                assert parsed.context == ["east", "west"]
            assert parsed.read_only == ("--read-only" in words)
            continue
        if "--from-file" in words and KUBECTL is None:
            continue
        # Run where the dump is: the README's `dump/` is relative.
        result = subprocess.run(
            argv(line, readme_sim),
            capture_output=True,
            text=True,
            timeout=300,
            cwd=tmp_path,
            env={**os.environ, "KUBECONFIG": str(readme_sim)},
        )
        assert result.returncode == 0, (line, result.stderr)
        assert "1-23-1" in result.stdout, line
        ran += 1
    assert ran >= 2
