"""A server-side dry run shows its progress on a terminal's stderr (done of total, erased at the end) and
writes nothing of it when stderr is a pipe, so pipelines and files stay clean."""

from __future__ import annotations

import io
import os
import pty
import subprocess
import sys
from collections.abc import Callable

from meshtui.cli.dry_progress import DryRunProgress
from tests.engine.support import IDENTITY, Mesh, _isolated, cli, mesh_factory
from tests.helpers import read_terminal

__all__ = ["_isolated", "mesh_factory"]

PROGRESS = "server-side dry run:"


def run_with_tty_stderr(*args: str, mesh: Mesh) -> tuple[int, str, str]:
    """Run the CLI with stderr on a pseudo-terminal (stdout a pipe); (exit code, stdout, the terminal's bytes)."""
    master, slave = pty.openpty()
    env = {**os.environ, "NO_COLOR": "1", "MESHTUI_IDENTITY": IDENTITY}
    proc = subprocess.Popen(
        [sys.executable, "-m", "meshtui", *args, "--kubeconfig", str(mesh.kubeconfig)],
        stdout=subprocess.PIPE,
        stderr=slave,
        stdin=subprocess.DEVNULL,
        env=env,
    )
    os.close(slave)
    assert proc.stdout is not None
    stdout = proc.stdout.read().decode()
    seen = read_terminal(master)
    os.close(master)
    return proc.wait(timeout=120), stdout, seen.decode(errors="replace")


def test_the_dry_run_shows_done_of_total_on_a_terminal_and_nothing_in_a_pipe(
    mesh_factory: Callable[..., Mesh],
) -> None:
    mesh = mesh_factory("demo")
    started = cli("upgrade", "start", "--yes", kubeconfig=mesh.kubeconfig)
    assert started.returncode == 0, started.stderr
    code, stdout, terminal = run_with_tty_stderr("plan", "switch", "--all", "--dry-run", mesh=mesh)
    assert code == 0, stdout + terminal
    assert "Server-side dry run:" in stdout
    total = terminal.split(" operations checked")[0].rsplit(" of ", 1)[-1]
    assert total.replace(",", "").isdigit() and int(total.replace(",", "")) > 1, terminal
    assert f"{PROGRESS} {total} of {total} operations checked" in terminal  # it ends at done = total
    assert PROGRESS not in terminal.rsplit("\x1b[2K", 1)[-1]  # erased before the outcome's lines
    assert PROGRESS not in stdout
    piped = cli("plan", "switch", "--all", "--dry-run", kubeconfig=mesh.kubeconfig)
    assert piped.returncode == 0, piped.stderr
    assert PROGRESS not in piped.stderr and "\x1b" not in piped.stderr + piped.stdout


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_the_line_is_redrawn_at_most_ten_times_a_second_but_always_at_the_end_then_erased() -> None:
    now = [0.0]
    out = Tty()
    progress = DryRunProgress(out, clock=lambda: now[0])
    for done in range(1, 1001):
        now[0] += 0.001  # a thousand operations in one second
        progress(done, 1000)
    progress.close()
    lines = [part for part in out.getvalue().split("\r\x1b[2K") if part]
    assert len(lines) <= 12
    assert lines[0] == f"  {PROGRESS} 1 of 1,000 operations checked"
    assert lines[-1] == f"  {PROGRESS} 1,000 of 1,000 operations checked"
    assert out.getvalue().endswith("\r\x1b[2K")  # erased: the outcome's lines start on a clean line
    piped = io.StringIO()
    quiet = DryRunProgress(piped)
    quiet(1, 2)
    quiet.close()
    assert piped.getvalue() == ""
