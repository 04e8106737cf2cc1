"""`meshtui upgrade complete` waits at its "type the revision" prompt while another operator undoes the upgrade.

The CLI is a subprocess whose stdin is a terminal (a pty), as an operator's is; the relabel and restart
are made with the official client while it waits; then the revision is typed.
"""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from tests.engine.finishing import OLD, upgrade_enabled
from tests.engine.support import IDENTITY, Mesh, _isolated, mesh_factory
from tests.engine.test_safety import istiod_exists, relabel_and_restart_shop, webhooks_of

__all__ = ["_isolated", "mesh_factory"]

PROMPT = "Type the revision name to confirm:"


def read_until(fd: int, text: str, timeout: float = 60.0) -> str:
    """Read a pipe until `text` appears (waking on data, bounded by a deadline)."""
    seen = b""
    deadline = time.monotonic() + timeout
    while text.encode() not in seen:
        remaining = deadline - time.monotonic()
        assert remaining > 0, f"no {text!r} in:\n{seen.decode(errors='replace')}"
        ready, _, _ = select.select([fd], [], [], remaining)
        if ready:
            chunk = os.read(fd, 65536)
            assert chunk, f"the command ended before {text!r}:\n{seen.decode(errors='replace')}"
            seen += chunk
    return seen.decode(errors="replace")


def test_complete_confirmed_after_a_relabel_deletes_nothing(mesh_factory: Callable[..., Mesh], tmp_path: Path) -> None:
    mesh = mesh_factory("fresh")
    upgrade_enabled(mesh, tmp_path)
    controller, terminal = pty.openpty()
    env = {**os.environ, "NO_COLOR": "1", "MESHTUI_IDENTITY": IDENTITY}
    args = [sys.executable, "-m", "meshtui", "upgrade", "complete", "--yes", "--kubeconfig", str(mesh.kubeconfig)]
    proc = subprocess.Popen(args, stdin=terminal, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    os.close(terminal)
    try:
        assert proc.stdout is not None and proc.stderr is not None
        shown = read_until(proc.stdout.fileno(), PROMPT)
        assert "Take revision 1-22-3 offline (irreversible)" in shown and "refused" not in shown

        relabel_and_restart_shop(mesh)  # while the operator reads the plan
        os.write(controller, f"{OLD}\n".encode())
        code = proc.wait(timeout=120)
        stderr = proc.stderr.read().decode()
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(controller)

    assert code == 1, stderr
    assert "no longer holds on a fresh read" in stderr and "shop" in stderr, stderr
    assert stderr.count("\n") == 1 and "Traceback" not in stderr, stderr
    assert istiod_exists(mesh) and webhooks_of(mesh, OLD)
    record = mesh.record()
    assert record is not None
    assert record.finish_choice is None, "the Upgrade choice was recorded on a stale view"
    assert record.phase != "completed"
    last = record.journal[-1]
    assert (last.action, last.result) == ("upgrade", "refused") and "fresh read" in last.message
