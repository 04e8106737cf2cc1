"""An API server that cannot be connected to is one sentence naming the probe's short connect bound, for the
dashboard and for `status`; a server that connects but answers slowly is still waited for (the probe's read
timeout is the client's, not its connect bound)."""

from __future__ import annotations

import contextlib
import os
import pty
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from meshtui.cli import exitcodes
from meshtui.cluster.kubeconfig import connect
from meshtui.cluster.probe import PROBE_CONNECT_S, probe
from tests.helpers import read_terminal, start_sim


def kubeconfig_for(tmp_path: Path, url: str) -> Path:
    path = tmp_path / "kubeconfig"
    path.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "current-context": "far",
                "clusters": [{"name": "far", "cluster": {"server": url}}],
                "users": [{"name": "far", "user": {"token": "x"}}],
                "contexts": [{"name": "far", "context": {"cluster": "far", "user": "far"}}],
            }
        )
    )
    return path


@pytest.fixture
def blackhole() -> Iterator[str]:
    """A listening socket whose accept queue is full and never drained: the kernel drops further SYNs, as a
    firewall that drops packets does; yields its URL."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    fillers = []
    for _ in range(4):
        s = socket.socket()
        s.setblocking(False)
        with contextlib.suppress(BlockingIOError):  # non-blocking: the handshake completes in the kernel
            s.connect(("127.0.0.1", port))
        fillers.append(s)
    # Is it really a blackhole here? A fresh blocking connect must time out.
    probe_socket = socket.socket()
    probe_socket.settimeout(0.5)
    try:
        probe_socket.connect(("127.0.0.1", port))
    except TimeoutError:
        pass
    else:
        pytest.skip("this kernel accepted a connection beyond a full accept queue: no local blackhole")
    finally:
        probe_socket.close()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        for s in fillers:
            s.close()
        listener.close()


def meshtui(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "meshtui", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "TEXTUAL_DRIVER": "textual.drivers.headless_driver:HeadlessDriver"},
        check=False,
    )


@pytest.mark.parametrize("command", [(), ("status",)], ids=["dashboard", "status"])
def test_a_server_that_drops_connections_is_one_sentence_naming_the_short_connect_bound(
    blackhole: str, tmp_path: Path, command: tuple[str, ...]
) -> None:
    done = meshtui(*command, "--kubeconfig", str(kubeconfig_for(tmp_path, blackhole)))
    assert done.returncode == exitcodes.UNREACHABLE, done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, done.stderr
    assert "Traceback" not in done.stderr
    assert f"Cannot connect to the API server of cluster 'far' ({blackhole}): no connection in 3 s" in lines[0]
    assert "while checking that it answers" in lines[0]  # the probe, before any list
    assert "--request-timeout" not in lines[0]  # that flag bounds answers, not connections


@pytest.mark.parametrize("command", [(), ("status",)], ids=["dashboard", "status"])
def test_a_port_nobody_listens_on_is_one_sentence(tmp_path: Path, command: tuple[str, ...]) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again before the CLI connects: refused
    done = meshtui(*command, "--kubeconfig", str(kubeconfig_for(tmp_path, f"http://127.0.0.1:{port}")))
    assert done.returncode == exitcodes.UNREACHABLE, done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "is unreachable while checking that it answers" in lines[0], done.stderr
    assert "(Connection refused);" in lines[0]  # the cause, not urllib3's wrapping of it
    assert "HTTPConnection(" not in lines[0] and "Errno" not in lines[0]


def test_a_server_slower_to_answer_than_the_connect_bound_is_still_waited_for(tmp_path: Path) -> None:
    sim = start_sim("demo")
    try:
        targets = connect(str(sim.kubeconfig(tmp_path / "kubeconfig")), None)
        sim.faults.delay(int((PROBE_CONNECT_S + 1) * 1000))  # every answer comes a second after the bound
        probe(targets)  # raises when the bound were applied to the answer too
        for t in targets:
            t.close()
    finally:
        sim.stop()


def test_on_a_terminal_the_dashboard_says_whom_it_connects_to_while_the_probe_waits(
    blackhole: str, tmp_path: Path
) -> None:
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "meshtui", "--kubeconfig", str(kubeconfig_for(tmp_path, blackhole))],
        stdout=subprocess.PIPE,
        stderr=slave,
        stdin=subprocess.DEVNULL,
    )
    os.close(slave)
    seen = read_terminal(master)
    os.close(master)
    assert proc.wait(timeout=60) == exitcodes.UNREACHABLE
    terminal = seen.decode(errors="replace")
    assert "meshtui: connecting to 'far'…" in terminal
    # The waiting line is erased before the sentence, which stands alone on its line.
    assert "\r\x1b[2K" in terminal and "Cannot connect" in terminal
    assert terminal.rindex("\x1b[2K") < terminal.index("Cannot connect")
