"""An API server that accepts connections and never answers: `meshtui status` gives up within its timeout with
one sentence and exit 3, and the dashboard shows the cluster as not answering while it still waits."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from textual.widgets import Static

from meshtui.cluster.kubeconfig import connect
from meshtui.tui.factory import build_app

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def silent_server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A socket that accepts every connection and never sends a byte; yields (its URL, a kubeconfig)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    listener.settimeout(0.2)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                continue
            held.append(conn)

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{listener.getsockname()[1]}"
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "silent", "cluster": {"server": url}}],
                "users": [{"name": "u", "user": {"token": "t"}}],
                "contexts": [{"name": "silent", "context": {"cluster": "silent", "user": "u"}}],
                "current-context": "silent",
            }
        )
    )
    try:
        yield url, kubeconfig
    finally:
        stop.set()
        thread.join(5)
        for conn in held:
            conn.close()
        listener.close()


def test_status_gives_up_with_one_sentence_and_exit_3(silent_server: tuple[str, Path]) -> None:
    url, kubeconfig = silent_server
    proc = subprocess.run(
        [sys.executable, "-m", "meshtui", "status", "--kubeconfig", str(kubeconfig), "--request-timeout", "2"],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        timeout=60,
        check=False,
    )
    assert proc.returncode == 3, proc.stderr
    assert f"No answer from the API server of cluster 'silent' ({url}) in 2 s" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


async def test_dashboard_shows_the_cluster_not_answering(silent_server: tuple[str, Path]) -> None:
    _, kubeconfig = silent_server
    targets = connect(str(kubeconfig))
    app = build_app(targets, None)
    try:
        async with app.run_test(size=(160, 30)) as pilot:
            await pilot.pause()
            header = app.screen.query_one("#header-where", Static)
            deadline = time.monotonic() + 15
            while "no answer from the API server" not in str(header.render()):
                assert time.monotonic() < deadline, f"header still says {header.render()!s}"
                await pilot.pause(0.1)
            assert "silent ✗ error" in str(header.render())
    finally:
        app.mesh.stop()  # type: ignore[attr-defined]
