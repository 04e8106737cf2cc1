"""Two operators on the command line: bob takes the lock over while alice's restart runs.

Alice's `meshtui upgrade restart` must stop before its next write and say why; her meshtui must not
take the lock back when bob's command ends (the issue's take-over case, as two processes).
"""

from __future__ import annotations

from collections.abc import Callable

from kubernetes import client

from meshtui.engine.executor import RunControl
from meshtui.engine.params import SwitchParams
from tests.engine.support import Mesh, _isolated, cli, mesh_factory, popen
from tests.engine.test_engine import fresh_view, started, with_target

__all__ = ["_isolated", "mesh_factory"]


def test_a_restart_taken_over_stops_before_its_next_write(mesh_factory: Callable[..., Mesh]) -> None:
    mesh = mesh_factory("fresh", ready_delay=0.5)  # each rollout takes a moment: the run lasts
    with_target(mesh)
    session = started(mesh)
    assert session.run(session.plan(fresh_view(mesh, session), SwitchParams()), RunControl(), lambda p: None).ok
    session.close()

    alice = popen("upgrade", "restart", "--all", "--batch", "1", "--ignore-pdb", "--yes", kubeconfig=mesh.kubeconfig)
    assert alice.stdout is not None and alice.stderr is not None
    try:
        for line in alice.stdout:
            if "[1/" in line:  # alice's first workload rolled out
                break
        else:
            raise AssertionError(f"alice's restart ended early: {alice.stderr.read()}")
        bob = cli(
            "upgrade",
            "switch",
            "shop",
            "--back",
            "--take-over",
            "--yes",
            kubeconfig=mesh.kubeconfig,
            identity="bob@jump-2",
        )
        assert bob.returncode == 0, bob.stderr
        assert "Took over the upgrade lock from alice@jump-1" in bob.stdout
        after_bob = len(mesh.sim.faults.requests())
        code = alice.wait(timeout=120)
        err = alice.stderr.read()
    finally:
        if alice.poll() is None:
            alice.kill()

    assert code == 5, err
    assert "taken over by bob@jump-2" in err or "released" in err, err
    late = [
        r
        for r in mesh.sim.faults.requests()[after_bob:]
        if r.verb in ("patch", "update", "create", "delete") and not r.dry_run
    ]
    assert late == [], f"alice wrote after bob's take-over: {[(r.verb, r.resource, r.name) for r in late]}"
    lease = client.CoordinationV1Api(mesh.api).read_namespaced_lease("meshtui-upgrade-lock", "istio-system")
    assert lease.spec.holder_identity != "alice@jump-1", "alice's meshtui took the lock back"
