"""No irreversible write on a stale view, and no write by a holder that lost the lock (in-process engine).

The cluster is changed behind the session with the official client, as a second operator with kubectl
would; what the session then writes is read back from the simulator's request log and objects.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from kubernetes import client

from meshtui.cluster import lease as lease_module
from meshtui.domain.reasons import ReasonKind
from meshtui.engine.api import Progress
from meshtui.engine.executor import RunControl, StepResult
from meshtui.engine.params import FinishParams, RestartParams, StartParams, SwitchParams, UpgradeParams
from meshtui.engine.session import EngineSession
from tests.engine.finishing import NEW, OLD, session_view, upgrade_enabled
from tests.engine.support import Mesh, open_session
from tests.helpers import wait_until

ISTIOD = f"istiod-{OLD}"


def relabel_and_restart_shop(mesh: Mesh) -> None:
    """What the issue's second operator does: `kubectl label ns shop istio.io/rev=1-22-3 --overwrite` and a
    rollout restart of shop's Deployments."""
    mesh.core.patch_namespace("shop", {"metadata": {"labels": {"istio.io/rev": OLD}}})
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    for d in mesh.apps.list_namespaced_deployment("shop").items:
        body = {"spec": {"template": {"metadata": {"annotations": {"kubectl.kubernetes.io/restartedAt": stamp}}}}}
        mesh.apps.patch_namespaced_deployment(d.metadata.name, "shop", body)


def istiod_exists(mesh: Mesh) -> bool:
    try:
        mesh.apps.read_namespaced_deployment(ISTIOD, "istio-system")
    except client.exceptions.ApiException as exc:
        if exc.status == 404:
            return False
        raise
    return True


def webhooks_of(mesh: Mesh, revision: str) -> list[str]:
    adm = client.AdmissionregistrationV1Api(mesh.api)
    found = adm.list_mutating_webhook_configuration(label_selector=f"istio.io/rev={revision}").items
    return [m.metadata.name for m in found]


def chosen_upgrade(mesh: Mesh, tmp_path: Path) -> EngineSession:
    """The mesh ready to finish, Upgrade chosen, in a session that holds the lock."""
    upgrade_enabled(mesh, tmp_path)
    session, view = open_session(mesh)
    choose = session.plan(view, UpgradeParams())
    assert session.run(choose, RunControl(), lambda p: None).ok
    return session


def test_finish_planned_before_a_relabel_writes_nothing(fresh: Mesh, tmp_path: Path) -> None:
    session = chosen_upgrade(fresh, tmp_path)
    plan = session.plan(session_view(session, fresh), FinishParams())
    assert not plan.refused and plan.operations
    relabel_and_restart_shop(fresh)
    fresh.sim.faults.clear_log()

    outcome = session.run(plan, RunControl(), lambda p: None)

    assert not outcome.ok and outcome.steps == []
    assert outcome.refusal and {r.kind for r in outcome.refusal} == {ReasonKind.STALE_VIEW}
    namespaces = next(r for r in outcome.refusal if r.code == "namespaces")
    assert namespaces.offenders == ("shop",), namespaces
    writes = [w for w in fresh.sim.faults.writes() if w.resource != "configmaps"]
    assert writes == [], "only the journal entry of the refusal is written"
    assert istiod_exists(fresh) and webhooks_of(fresh, OLD)
    record = fresh.record()
    assert record is not None and record.phase != "completed"
    entry = record.journal[-1]
    assert (entry.action, entry.result) == ("finish", "refused") and "no longer holds on a fresh read" in entry.message
    session.close()


def test_finish_rechecks_the_gate_between_its_own_deletions(fresh: Mesh, tmp_path: Path) -> None:
    session = chosen_upgrade(fresh, tmp_path)
    plan = session.plan(session_view(session, fresh), FinishParams())
    first = plan.operations[0]
    assert first.kind == "MutatingWebhookConfiguration", plan.lines()
    changed = threading.Event()
    fresh.sim.faults.clear_log()

    def progress(p: Progress) -> None:
        if p.done == 1 and not changed.is_set():  # the first webhook is gone: now the operator relabels
            changed.set()
            relabel_and_restart_shop(fresh)

    outcome = session.run(plan, RunControl(), progress)

    assert changed.is_set()
    assert [s.result for s in outcome.steps] == [StepResult.APPLIED, StepResult.REFUSED]
    assert outcome.refusal and all(r.kind is ReasonKind.STALE_VIEW for r in outcome.refusal)
    assert istiod_exists(fresh), "istiod is never deleted once the gate fails"
    deleted = [w for w in fresh.sim.faults.writes(include_dry_run=False) if w.verb == "delete"]
    assert [w.name for w in deleted] == [first.name]
    session.close()


def test_a_restart_planned_before_the_target_broke_is_refused(fresh: Mesh) -> None:
    from tests.engine.test_engine import started, with_target

    with_target(fresh)
    session = started(fresh)
    switch = session.plan(session_view(session, fresh), SwitchParams(namespaces=("shop",)))
    assert session.run(switch, RunControl(), lambda p: None).ok
    plan = session.plan(session_view(session, fresh), RestartParams(namespaces=("shop",)))
    assert plan.operations, plan.lines()
    # The target's istiod goes away (scaled to 0 by someone): nothing may be restarted onto it.
    fresh.apps.patch_namespaced_deployment(f"istiod-{NEW}", "istio-system", {"spec": {"replicas": 0}})
    wait_until(lambda: not session.state(session_view(session, fresh)).action("restart").enabled, what="1-23-1 down")
    fresh.sim.faults.clear_log()
    outcome = session.run(plan, RunControl(), lambda p: None)
    assert outcome.refusal and {r.kind for r in outcome.refusal} == {ReasonKind.STALE_VIEW}
    assert {r.code for r in outcome.refusal} == {"target-not-ready"}
    assert [w for w in fresh.sim.faults.writes() if w.resource == "apps/deployments"] == []
    session.close()


@pytest.fixture
def two_operators(fresh: Mesh, monkeypatch: pytest.MonkeyPatch) -> Callable[[], tuple[EngineSession, EngineSession]]:
    def make() -> tuple[EngineSession, EngineSession]:
        alice, view = open_session(fresh, target=NEW)
        assert alice.run(alice.plan(view, StartParams()), RunControl(), lambda p: None).ok
        monkeypatch.setenv("MESHTUI_IDENTITY", "bob@jump-2")
        bob, _ = open_session(fresh)
        monkeypatch.setenv("MESHTUI_IDENTITY", "alice@jump-1")
        return alice, bob

    return make


def test_a_holder_taken_over_mid_restart_writes_nothing_more(
    fresh: Mesh, two_operators: Callable[[], tuple[EngineSession, EngineSession]]
) -> None:
    from tests.engine.test_engine import with_target

    with_target(fresh)
    alice, bob = two_operators()
    assert alice.run(alice.plan(session_view(alice, fresh), SwitchParams()), RunControl(), lambda p: None).ok
    plan = alice.plan(session_view(alice, fresh), RestartParams(batch=1, ignore_pdb=True))
    assert len(plan.operations) >= 10, plan.lines()
    taken: list[int] = []

    def progress(p: Progress) -> None:
        if p.done >= 1 and not taken:  # one workload rolled out: bob takes the lock over
            assert bob.acquire(take_over=True) == (True, "")
            taken.append(len(fresh.sim.faults.requests()))

    outcome = alice.run(plan, RunControl(), progress)

    assert taken, "bob took over during alice's restart"
    after = fresh.sim.faults.requests()[taken[0] :]
    patched = [r for r in after if r.verb == "patch" and r.resource == "apps/deployments" and not r.dry_run]
    assert patched == [], f"alice patched {len(patched)} workloads after losing the lock"
    assert [r.kind for r in outcome.refusal] == [ReasonKind.LOCK]
    assert "taken over by bob@jump-2" in outcome.refusal[0].message
    restarted = sum(1 for s in outcome.steps if s.result is StepResult.APPLIED)
    assert restarted == 1 and len(outcome.steps) == 2, [(s.operation.name, s.result) for s in outcome.steps]
    record = fresh.record()
    assert record is not None
    take_over = max(i for i, e in enumerate(record.journal) if e.action == "take-over")
    assert [e for e in record.journal[take_over:] if e.identity == "alice@jump-1"] == []
    bob.close()
    alice.close()


def test_a_renewer_never_takes_back_a_lease_it_lost(
    fresh: Mesh, two_operators: Callable[[], tuple[EngineSession, EngineSession]]
) -> None:
    alice, bob = two_operators()
    # Between two of alice's renewals (every 20 s) bob takes the lock over, runs his command and releases it.
    assert bob.acquire(take_over=True)[0]
    bob.close()
    coord = client.CoordinationV1Api(fresh.api)
    assert not coord.read_namespaced_lease("meshtui-upgrade-lock", "istio-system").spec.holder_identity

    held, why = alice.lock.lease.renew()  # alice's renewer's next tick

    assert not held and why == "the upgrade lock was released"
    lease = coord.read_namespaced_lease("meshtui-upgrade-lock", "istio-system")
    assert not lease.spec.holder_identity, f"the lease was taken back by {lease.spec.holder_identity}"
    refusal = alice.lock.verify()
    assert refusal is not None and refusal.kind is ReasonKind.LOCK
    alice.close()
    assert not coord.read_namespaced_lease("meshtui-upgrade-lock", "istio-system").spec.holder_identity


def test_the_renewer_stops_at_a_take_over(
    fresh: Mesh, two_operators: Callable[[], tuple[EngineSession, EngineSession]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(lease_module, "RENEW_EVERY", 0.1)
    alice, bob = two_operators()
    assert bob.acquire(take_over=True)[0]
    wait_until(lambda: bool(alice.lost_lock), what="alice's renewer to notice the take-over")
    assert alice.lost_lock == "the upgrade lock was taken over by bob@jump-2"
    renewer = alice.lock.lease._renewer
    assert renewer is not None
    renewer.join(timeout=5)
    assert not renewer.is_alive()
    bob.close()
    alice.close()


def test_a_take_over_that_loses_to_the_holders_renewal_tries_again(
    fresh: Mesh, two_operators: Callable[[], tuple[EngineSession, EngineSession]], monkeypatch: pytest.MonkeyPatch
) -> None:
    alice, bob = two_operators()
    lease = bob.lock.lease
    read = lease.verdict
    renewed: list[bool] = []

    def verdict_then_alice_renews():  # type: ignore[no-untyped-def]
        seen = read()
        if not renewed:  # between bob's read and bob's write, alice's renewer ticks (a 409 for bob)
            renewed.append(alice.lock.lease.renew()[0])
        return seen

    monkeypatch.setattr(lease, "verdict", verdict_then_alice_renews)
    held, _ = bob.acquire(take_over=True)

    assert renewed == [True] and held, "the take-over wrote again after losing to alice's renewal"
    coord = client.CoordinationV1Api(fresh.api)
    assert coord.read_namespaced_lease("meshtui-upgrade-lock", "istio-system").spec.holder_identity == "bob@jump-2"
    assert alice.lock.lease.holds() == (False, "the upgrade lock was taken over by bob@jump-2")
    bob.close()
    alice.close()


def test_a_take_over_that_loses_to_a_third_operator_stops(
    fresh: Mesh, two_operators: Callable[[], tuple[EngineSession, EngineSession]], monkeypatch: pytest.MonkeyPatch
) -> None:
    alice, bob = two_operators()
    monkeypatch.setenv("MESHTUI_IDENTITY", "carol@jump-3")
    carol, _ = open_session(fresh)
    lease = bob.lock.lease
    read = lease.verdict
    taken: list[bool] = []

    def verdict_then_carol_takes_over():  # type: ignore[no-untyped-def]
        seen = read()
        if not taken:
            taken.append(carol.lock.lease.acquire(take_over=True)[0])
        return seen

    monkeypatch.setattr(lease, "verdict", verdict_then_carol_takes_over)
    held, winner = bob.acquire(take_over=True)

    assert taken == [True] and not held, "bob chose to take the lock from alice, not from carol"
    assert "was just taken by carol@jump-3" in winner
    for session in (carol, bob, alice):
        session.close()


def test_a_read_only_session_takes_no_lock_over(
    fresh: Mesh, two_operators: Callable[[], tuple[EngineSession, EngineSession]], monkeypatch: pytest.MonkeyPatch
) -> None:
    alice, bob = two_operators()
    monkeypatch.setenv("MESHTUI_IDENTITY", "carol@jump-3")
    carol, _ = open_session(fresh, read_only=True)
    before = len(fresh.sim.faults.writes())

    held, why = carol.acquire(take_over=True)

    assert not held and why == "read-only mode"
    assert len(fresh.sim.faults.writes()) == before, "a read-only session wrote"
    coord = client.CoordinationV1Api(fresh.api)
    assert coord.read_namespaced_lease("meshtui-upgrade-lock", "istio-system").spec.holder_identity == "alice@jump-1"
    for session in (carol, bob, alice):
        session.close()
