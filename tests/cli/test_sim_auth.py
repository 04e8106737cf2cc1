"""The simulator answers only its own user's processes or the holder of its per-run token.

The requests go over connections made as the simulator's own user and, when the tests run as root,
over a socket created as the unprivileged user `nobody`.
"""

from __future__ import annotations

import http.client
import os
import re
import socket
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from meshtui.sim.runtime import SimCluster
from tests.helpers import start_sim

NOBODY = 65534


@pytest.fixture(scope="module")
def sim() -> Iterator[SimCluster]:
    cluster = start_sim("fresh")
    try:
        yield cluster
    finally:
        cluster.stop()


def probe(sim: SimCluster, method: str, token: str | None = None, *, user: int | None = None) -> int:
    """One request on a connection whose socket is owned by `user` (the effective uid when it is made)."""
    host, port = sim.url.removeprefix("http://").split(":")
    if user is not None:
        os.seteuid(user)
    try:
        sock = socket.create_connection((host, int(port)), timeout=10)
    finally:
        if user is not None:
            os.seteuid(0)
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    conn.sock = sock
    try:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        conn.request(method, "/api/v1/namespaces", body=b"{}" if method == "POST" else None, headers=headers)
        return conn.getresponse().status
    finally:
        conn.close()


def test_the_owners_processes_are_answered(sim: SimCluster) -> None:
    assert probe(sim, "GET") == 200


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to run a probe as another user")
def test_another_local_user_needs_the_token(sim: SimCluster) -> None:
    assert probe(sim, "GET", user=NOBODY) == 401
    assert probe(sim, "POST", user=NOBODY) == 401
    assert probe(sim, "GET", "not-the-token", user=NOBODY) == 401
    assert probe(sim, "GET", sim.token, user=NOBODY) == 200


def test_meshtui_sim_writes_a_private_kubeconfig_with_a_fresh_token(tmp_path: Path) -> None:
    tokens = []
    for i in range(2):
        out = tmp_path / f"kubeconfig-{i}"
        proc = subprocess.Popen(
            [sys.executable, "-m", "meshtui", "sim", "--scenario", "fresh", "--kubeconfig-out", str(out)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            assert proc.stdout is not None
            for line in proc.stdout:
                if re.search(r"press Ctrl-C", line):
                    break
            assert stat.S_IMODE(out.stat().st_mode) == 0o600
            tokens.append(yaml.safe_load(out.read_text())["users"][0]["user"]["token"])
        finally:
            proc.terminate()
            proc.wait(30)
    assert len(set(tokens)) == 2 and all(len(t) >= 32 for t in tokens)


def test_the_kubeconfig_is_never_written_through_a_symlink(sim: SimCluster, tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_text("untouched")
    trap = tmp_path / "kubeconfig"
    trap.symlink_to(victim)
    with pytest.raises(OSError):
        sim.kubeconfig(trap)
    assert victim.read_text() == "untouched"


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to prepare a file owned by another user")
def test_the_kubeconfig_is_never_written_into_another_users_file(sim: SimCluster, tmp_path: Path) -> None:
    planted = tmp_path / "kubeconfig"
    planted.write_text("theirs")
    planted.chmod(0o666)
    os.chown(planted, NOBODY, NOBODY)
    with pytest.raises(PermissionError):
        sim.kubeconfig(planted)
    assert planted.read_text() == "theirs", "not even emptied"
