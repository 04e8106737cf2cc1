"""No irreversible write on a stale view, on the simulator and on a real kube-apiserver.

The mesh of `test_engine_runs` is taken to the point where the Upgrade gate holds; `meshtui upgrade
complete` then waits at its "type the revision" prompt (its stdin is a pty) while the operator's colleague
relabels a namespace back to the source and restarts its workload with the official client. Typing the
revision must delete nothing: the command judges the gate again on a fresh read and refuses.
"""

from __future__ import annotations

import os
import pty
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from meshtui.engine.record import UpgradeRecord
from tests.cli.test_stale_view_cli import PROMPT, read_until
from tests.engine.support import IDENTITY

from .backends import Backend
from .test_engine_runs import (
    ISTIO_NS,
    OLD,
    REV,
    accept_unknown_sync,
    build_mesh,
    leftovers,
    prepare,
    target_manifests,
)


def test_complete_confirmed_after_a_relabel_deletes_nothing(dedicated_backend: Backend, tmp_path: Path) -> None:
    mesh = build_mesh(dedicated_backend)
    prepare(mesh, target_manifests(dedicated_backend, tmp_path / "m123"))
    mesh.upgrade("gateways", "--yes")
    mesh.upgrade("verify")
    before = leftovers(mesh.api, OLD)
    assert any(name.startswith("MutatingWebhookConfiguration") for name in before), before

    controller, terminal = pty.openpty()
    env = {**os.environ, "NO_COLOR": "1", "MESHTUI_IDENTITY": IDENTITY}
    kubeconfig = str(dedicated_backend.kubeconfig)
    args = [sys.executable, "-m", "meshtui", "upgrade", "complete", "--yes", "--kubeconfig", kubeconfig]
    args += accept_unknown_sync(dedicated_backend)
    proc = subprocess.Popen(args, stdin=terminal, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    os.close(terminal)
    shop = mesh.ns["shop"]
    try:
        assert proc.stdout is not None and proc.stderr is not None
        shown = read_until(proc.stdout.fileno(), PROMPT, timeout=120)
        assert f"Take revision {OLD} offline (irreversible)" in shown

        mesh.core.patch_namespace(shop, {"metadata": {"labels": {REV: OLD}}})
        stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        restart = {"spec": {"template": {"metadata": {"annotations": {"kubectl.kubernetes.io/restartedAt": stamp}}}}}
        mesh.apps.patch_namespaced_deployment("web", shop, restart)
        os.write(controller, f"{OLD}\n".encode())
        code = proc.wait(timeout=180)
        stderr = proc.stderr.read().decode()
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(controller)

    assert code == 1, stderr
    assert "no longer holds on a fresh read" in stderr and shop in stderr, stderr
    assert "Traceback" not in stderr
    assert leftovers(mesh.api, OLD) == before, "objects of the source were deleted on a stale view"
    cm = mesh.core.read_namespaced_config_map("meshtui-upgrade", ISTIO_NS)
    record = UpgradeRecord.from_configmap_data(dict(cm.data or {}))
    assert record.finish_choice is None and record.phase != "completed"
    assert (record.journal[-1].action, record.journal[-1].result) == ("upgrade", "refused")
