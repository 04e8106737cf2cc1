"""Verify is a step: Finish needs a fresh passing verify run of the kept revision, or a typed skip.

Pure: the scenario's view and a record in, the Finish gate and the stepper's verify state out.
"""

from __future__ import annotations

from typing import Any

import pytest

from meshtui.domain.inventory import InventoryView
from meshtui.engine.record import CheckRecord, VerifyRun, VerifySkip
from meshtui.engine.verifystate import VerifyState, data_plane_state
from meshtui.sim.scenarios import relabel
from meshtui.sim.store import Store

from .test_phase import judge, record, view_of

OLD, NEW = "1-22-3", "1-23-1"


def settled(store: Store) -> None:
    """`fresh` with its one namespace on a revision nothing serves relabelled, so the Rollback gate holds."""
    relabel(store, "legacy-billing", {"istio.io/rev": OLD})


def crash_one_pod(store: Store) -> None:
    settled(store)
    pod = next(p for p in store.list("pods") if p["metadata"]["namespace"] == "shop")

    def crash(obj: dict[str, Any]) -> dict[str, Any]:
        obj["status"]["containerStatuses"][0]["restartCount"] = 3
        return obj

    store.update("pods", "shop", pod["metadata"]["name"], crash, subresource="status")


@pytest.fixture(scope="module")
def view() -> InventoryView:
    return view_of("fresh", settled, source=OLD, target=NEW)


def chose_rollback(**fields: Any):  # type: ignore[no-untyped-def]
    return record(finish_choice="rollback", offline_plan_shown=True, **fields)


def run_of(view: InventoryView, revision: str = OLD, result: str = "passed") -> VerifyRun:
    return VerifyRun(at="2026-03-02T11:00:00Z", revision=revision, result=result,  # type: ignore[arg-type]
                     fingerprint=data_plane_state(view).fingerprint)


def test_finish_waits_for_a_verify_run(view: InventoryView) -> None:
    state = judge(view, chose_rollback())
    assert state.gates is not None and state.gates.rollback.enabled, state.gates.rollback.reasons
    finish = state.action("finish")
    assert not finish.enabled
    assert finish.reasons == (f"verify of {OLD} has not run: press v (`meshtui upgrade verify`), or type "
                              "`skip verify` with a reason",)
    assert state.verify is not None and state.verify.state is VerifyState.NOT_RUN


def test_a_fresh_passing_run_of_the_kept_revision_opens_finish(view: InventoryView) -> None:
    state = judge(view, chose_rollback(verify_run=run_of(view)))
    assert state.action("finish").enabled, state.action("finish").reasons
    assert state.verify is not None and state.verify.state is VerifyState.PASSED


def test_a_run_of_the_other_revision_does_not_count(view: InventoryView) -> None:
    state = judge(view, chose_rollback(verify_run=run_of(view, revision=NEW)))
    assert not state.action("finish").enabled
    assert state.verify is not None and state.verify.state is VerifyState.NOT_RUN


def test_any_later_data_plane_change_makes_it_stale(view: InventoryView) -> None:
    run = run_of(view)
    for change in (crash_one_pod, lambda s: (settled(s), relabel(s, "shop", {"istio.io/rev": OLD},
                                                                     remove=("istio-injection",)))):
        later = view_of("fresh", change, source=OLD, target=NEW)
        state = judge(later, chose_rollback(verify_run=run))
        assert state.verify is not None and state.verify.state is VerifyState.STALE
        assert not state.action("finish").enabled
        assert any("the data plane changed since verify ran at 2026-03-02T11:00:00Z" in r
                   for r in state.action("finish").reasons)


@pytest.mark.parametrize(("result", "state"), [("failed", VerifyState.FAILED), ("unknown", VerifyState.UNKNOWN)])
def test_failed_or_unknown_checks_are_not_passed(view: InventoryView, result: str, state: VerifyState) -> None:
    checks = [CheckRecord(name="proxy-sync", result="fail" if result == "failed" else "unknown")]
    judged = judge(view, chose_rollback(verify_run=run_of(view, result=result), checks=checks))
    assert judged.verify is not None and judged.verify.state is state
    assert not judged.action("finish").enabled


def test_a_typed_skip_opens_finish_until_the_data_plane_changes(view: InventoryView) -> None:
    skip = VerifySkip(at="2026-03-02T11:05:00Z", by="alice", revision=OLD, reason="syncz blocked by policy",
                      fingerprint=data_plane_state(view).fingerprint)
    unknown = run_of(view, result="unknown")
    state = judge(view, chose_rollback(verify_run=unknown, verify_skip=skip))
    assert state.verify is not None and state.verify.state is VerifyState.SKIPPED
    assert state.action("finish").enabled
    later = view_of("fresh", crash_one_pod, source=OLD, target=NEW)
    state = judge(later, chose_rollback(verify_run=unknown, verify_skip=skip))
    assert not state.action("finish").enabled


def test_verify_follows_the_goal_before_a_choice(view: InventoryView) -> None:
    assert judge(view, record()).verify.revision == NEW  # type: ignore[union-attr]
    assert judge(view, record(goal="rollback")).verify.revision == OLD  # type: ignore[union-attr]
