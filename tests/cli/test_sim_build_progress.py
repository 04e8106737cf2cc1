"""`meshtui sim` says how far a large scenario's build is on a terminal, erases it once serving, and keeps
pipes clean (the large scenario was silent for seconds before "serving on")."""

from __future__ import annotations

import os
import pty
import select
import signal
import subprocess
import sys
import time


def serve_with_tty_stderr(*args: str) -> tuple[str, str]:
    """Start `meshtui sim ARGS` with stderr on a pseudo-terminal, stop it once it serves; (stdout, terminal)."""
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "meshtui", "sim", *args],
        stdout=subprocess.PIPE,
        stderr=slave,
        stdin=subprocess.DEVNULL,
        env={**os.environ, "NO_COLOR": "1"},
    )
    os.close(slave)
    assert proc.stdout is not None
    terminal = b""
    first = proc.stdout.readline().decode()  # "serving on ..." once the build is done
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and select.select([master], [], [], 0.2)[0]:
        try:
            terminal += os.read(master, 65536)
        except OSError:
            break
    proc.send_signal(signal.SIGTERM)
    rest = proc.communicate(timeout=60)[0].decode()
    os.close(master)
    return first + rest, terminal.decode(errors="replace")


def test_a_large_build_shows_its_progress_on_a_terminal_then_erases_it() -> None:
    stdout, terminal = serve_with_tty_stderr("--scenario", "large", "--param", "namespaces=200", "--churn", "0")
    assert "serving on http://" in stdout, stdout
    assert "meshtui sim: building the 'large' scenario…" in terminal
    assert "100 of 200 namespaces" in terminal, terminal
    assert terminal.endswith("\x1b[2K"), "the line is erased before serving"


def test_a_pipe_gets_no_progress() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "meshtui", "sim", "--scenario", "large", "--param", "namespaces=200"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
    )
    assert proc.stdout is not None
    assert "serving on" in proc.stdout.readline().decode()
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=60)
    assert stderr.decode() == ""
