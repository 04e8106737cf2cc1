"""The phase controller, pure: scenario states in, phase, gates and every action's reasons out (no I/O, no clock)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from meshtui.domain.actions import ACTIONS
from meshtui.domain.gates import PLAN_NOT_SHOWN
from meshtui.domain.inventory import InventoryView, build_view
from meshtui.domain.snapshot import ClusterSnapshot, MeshSnapshot
from meshtui.engine.api import LockState
from meshtui.engine.phase import choose_pair, evaluate, interrupted
from meshtui.engine.record import RestartProgress, UpgradeRecord
from meshtui.sim import istio, scenarios
from meshtui.sim.controllers import settle
from meshtui.sim.resources import BY_KEY
from meshtui.sim.settings import SimSettings
from meshtui.sim.store import Store

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
FREE = LockState(holder=None, mine=False)
MINE = LockState(holder="alice@jump-1", mine=True)
WATCHED = (
    "namespaces",
    "pods",
    "services",
    "configmaps",
    "apps/deployments",
    "apps/replicasets",
    "apps/statefulsets",
    "apps/daemonsets",
    "batch/jobs",
    "batch/cronjobs",
    "policy/poddisruptionbudgets",
    "admissionregistration.k8s.io/mutatingwebhookconfigurations",
    "admissionregistration.k8s.io/validatingwebhookconfigurations",
    "gateway.networking.k8s.io/gateways",
)


def view_of(
    scenario: str, change: Callable[[Store], None] | None = None, source: str | None = None, target: str | None = None
) -> InventoryView:
    """The inventory view of a scenario built in memory (no server), optionally changed first."""
    store = Store()
    scenarios.build(scenario, store, SimSettings())
    if change is not None:
        change(store)
    objects = [o for key in WATCHED if key in BY_KEY for o in store.list(key)]
    return build_view(MeshSnapshot((ClusterSnapshot.from_raw("c1", objects),)), source, target)


def record(**fields: object) -> UpgradeRecord:
    base: dict[str, object] = {
        "source": "1-22-3",
        "target": "1-23-1",
        "started": "2026-03-02T10:00:00Z",
        "updated": "2026-03-02T10:00:00Z",
        "started_by": "alice@jump-1",
    }
    return UpgradeRecord.model_validate({**base, **fields})


def judge(view: InventoryView, rec: UpgradeRecord | None, **kwargs: object):  # type: ignore[no-untyped-def]
    args: dict[str, object] = {"permissions": {}, "lock": MINE, "read_only": False, "read_only_reason": "", "now": NOW}
    args.update(kwargs)
    return evaluate(rec, view, **args)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def fresh() -> InventoryView:
    return view_of("fresh")


@pytest.fixture(scope="module")
def demo() -> InventoryView:
    return view_of("demo")


def test_every_action_is_judged_in_order(demo: InventoryView) -> None:
    state = judge(demo, record())
    assert [a.id for a in state.actions] == [a for a, _ in ACTIONS]
    for action in state.actions:
        assert action.enabled or action.reasons, f"{action.id} is disabled without a reason"


def test_pair_comes_from_the_record_then_flags_then_detection(fresh: InventoryView, demo: InventoryView) -> None:
    assert choose_pair(record(), "x", "y", demo.revisions)[:2] == ("1-22-3", "1-23-1")
    assert choose_pair(None, None, "1-23-1", fresh.revisions) == ("1-22-3", "1-23-1", "flags")
    assert choose_pair(None, None, None, fresh.revisions)[:2] == ("1-22-3", None)
    assert choose_pair(None, None, None, demo.revisions) == ("1-22-3", "1-23-1", "detected")


def test_phases_follow_the_mesh_and_the_record(fresh: InventoryView, demo: InventoryView) -> None:
    assert judge(fresh, None, target_flag="1-23-1").phase == "control-plane"
    assert judge(demo, record()).phase == "data-plane"
    assert judge(demo, record(finish_choice="upgrade")).phase == "finishing-upgrade"
    assert judge(demo, record(finish_choice="rollback")).phase == "finishing-rollback"
    assert judge(demo, record(phase="completed")).phase == "completed"
    assert judge(demo, record(phase="cancelled")).phase == "cancelled"

    def all_on_target(store: Store) -> None:
        # Every namespace labelled for 1-23-1 and the tags moved, but nothing restarted yet.
        istio.install_target(store, "1.23.1")
        settle(store)
        istio.set_tag(store, "default", "1-23-1")
        istio.set_tag(store, "prod-stable", "1-23-1")
        for ns in (
            "shop",
            "notifications",
            "payments",
            "catalog",
            "orders",
            "accounts",
            "reviews",
            "inventory",
            "legacy-billing",
            "analytics",
            "batch",
        ):
            scenarios.relabel(store, ns, {"istio.io/rev": "1-23-1"}, remove=("istio-injection",))

    moved = view_of("fresh", all_on_target)
    state = judge(moved, record())
    assert state.phase == "data-plane", "pods still run 1-22-3 until restarted"
    assert any("pods still on 1-22-3" in r for r in state.action("upgrade").reasons)


def test_start_is_refused_with_reasons(fresh: InventoryView, demo: InventoryView) -> None:
    no_target = judge(fresh, None).action("start")
    assert not no_target.enabled and "no target revision: name it with --target" in no_target.reasons
    ok = judge(fresh, None, target_flag="1-23-1", lock=FREE).action("start")
    assert ok.enabled, ok.reasons
    again = judge(demo, record()).action("start")
    assert not again.enabled and any("already recorded" in r for r in again.reasons)
    same = judge(fresh, None, source_flag="1-22-3", target_flag="1-22-3").action("start")
    assert "the source and the target are the same revision" in same.reasons


def test_actions_need_a_record_and_a_ready_target(fresh: InventoryView) -> None:
    state = judge(fresh, record())
    for action in ("switch", "restart", "gateways", "move-tag"):
        assert "revision 1-23-1 is not deployed and Ready" in state.action(action).reasons
    assert state.action("deploy").enabled
    none = judge(fresh, None, target_flag="1-23-1")
    assert any("no upgrade has been started" in r for r in none.action("deploy").reasons)


def test_gate_reasons_name_counts_and_offenders(demo: InventoryView) -> None:
    up = judge(demo, record()).action("upgrade")
    assert not up.enabled
    assert any(r.startswith("tag") or "tags still resolve to 1-22-3" in r for r in up.reasons)
    pods = next(r for r in up.reasons if "still on 1-22-3:" in r and "pod" in r)
    assert "/" in pods.split(":", 1)[1], "the first offending pods are named"
    assert up.offenders is not None and up.offenders[0] in ("namespaces", "pods", "gateways")
    finish = judge(demo, record()).action("finish")
    assert "choose Upgrade or Rollback first" in finish.reasons
    assert PLAN_NOT_SHOWN in finish.reasons


def test_read_only_lock_and_permissions_disable_writes_but_not_verify(demo: InventoryView) -> None:
    ro = judge(demo, record(), read_only=True, read_only_reason="read-only mode (--read-only)")
    assert ro.read_only
    for action in ro.actions:
        if action.id == "verify":
            assert action.enabled, action.reasons
        else:
            assert not action.enabled and "read-only mode (--read-only)" in action.reasons
    held = judge(demo, record(), lock=LockState("bob@jump-2", mine=False, detail="renewed 3s ago"))
    switch = held.action("switch")
    assert not switch.enabled
    assert any("held by bob@jump-2 (renewed 3s ago)" in r for r in switch.reasons)
    expired = judge(demo, record(), lock=LockState("bob@jump-2", mine=False, expired=True))
    assert any("expired: take it over" in r for r in expired.action("switch").reasons)
    denied = judge(demo, record(), permissions={"switch": ("patch namespaces",)})
    assert "missing permission: patch namespaces" in denied.action("switch").reasons
    assert denied.action("restart").enabled


def test_a_finished_upgrade_is_history_once_a_new_target_is_named(demo: InventoryView) -> None:
    done = record(phase="completed")
    assert judge(demo, done).phase == "completed"
    for action in ("upgrade", "rollback", "finish"):
        # Only the one fact that matters: no gate counts ("126 pods still on 1-23-1") beside it.
        assert judge(demo, done).action(action).reasons == ("the upgrade is completed",)
    fresh_start = judge(demo, done, source_flag="1-23-1", target_flag="1-22-3")
    assert fresh_start.phase != "completed" and not fresh_start.recorded
    assert (fresh_start.source, fresh_start.target) == ("1-23-1", "1-22-3")


def test_the_clock_is_passed_in_to_tell_an_interrupted_restart(demo: InventoryView) -> None:
    progress = RestartProgress(
        batch_id="b",
        workloads=["c1|Deployment|shop|cart", "c1|Deployment|shop|web"],
        done=["c1|Deployment|shop|cart"],
        updated="2026-03-02T11:59:30Z",
    )
    rec = record(restart=progress.model_dump())
    assert judge(demo, rec).restart_in_progress
    assert not interrupted(rec, NOW)
    assert interrupted(rec, NOW + timedelta(minutes=5))
    assert judge(demo, rec, now=NOW + timedelta(minutes=5)).restart_interrupted
