"""Decisions follow a reason's kind and code, never its wording: reword every message, nothing else changes."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from meshtui.cli import exitcodes
from meshtui.cli.upgrade_run import refusal_code
from meshtui.domain.actions import ActionId
from meshtui.domain.plan import Plan
from meshtui.domain.reasons import Reason, ReasonKind
from meshtui.engine import phase
from meshtui.engine.api import EngineState
from meshtui.engine.params import ActionParams, DeployParams, FinishParams, RestartParams, SwitchParams
from meshtui.engine.session import EngineSession
from tests.engine.support import Mesh, open_session
from tests.engine.test_engine import NEW, started, with_target


def reworded(real: Any) -> Any:
    """phase.evaluate with every reason's sentence replaced by a meaningless one."""

    def evaluate(*args: Any, **kwargs: Any) -> EngineState:
        state: EngineState = real(*args, **kwargs)
        actions = []
        for a in state.actions:
            why = tuple(replace(r, message=f"zz {a.id} {i}") for i, r in enumerate(a.why))
            actions.append(replace(a, reasons=tuple(r.message for r in why), why=why))
        return replace(state, actions=tuple(actions))

    return evaluate


def shape(plan: Plan) -> tuple[Any, ...]:
    return (plan.refused, len(plan.refusals), len(plan.notes), [op.describe() for op in plan.operations])


def plans(session: EngineSession, mesh: Mesh, *actions: ActionParams) -> list[tuple[Any, ...]]:
    source, target, _ = session.pair(mesh.view())
    view = mesh.view(source, target)
    return [shape(session.plan(view, params)) for params in actions]


def test_rewording_every_reason_changes_no_plan(fresh: Mesh, monkeypatch: pytest.MonkeyPatch) -> None:
    with_target(fresh)
    cases = [SwitchParams(namespaces=("shop",)), RestartParams(), DeployParams(), FinishParams()]
    blank, _ = open_session(fresh, target=NEW)  # nothing recorded: every action refused by a gate
    session = started(fresh)  # recorded: deploy and restart have nothing to do
    monkeypatch.setenv("MESHTUI_IDENTITY", "bob@jump-2")
    second, _ = open_session(fresh)  # another operator: the lock blocks writing, not planning
    reader, _ = open_session(fresh, read_only=True)
    sessions = (blank, session, second, reader)
    original = [plans(s, fresh, *cases) for s in sessions]
    assert original[0][0][0] and not original[1][0][0], original
    assert not original[2][0][0] and original[2][0][2] > original[1][0][2], "the lock is a note, not a refusal"

    monkeypatch.setattr(phase, "evaluate", reworded(phase.evaluate))
    assert [plans(s, fresh, *cases) for s in sessions] == original
    for s in sessions:
        s.close()


@pytest.mark.parametrize(
    ("kind", "code"),
    [
        (ReasonKind.PERMISSION, exitcodes.PERMISSION),
        (ReasonKind.LOCK, exitcodes.CONFLICT),
        (ReasonKind.GATE, exitcodes.REFUSED),
        (ReasonKind.STALE_VIEW, exitcodes.REFUSED),
        (ReasonKind.READ_ONLY, exitcodes.REFUSED),
    ],
)
def test_exit_codes_follow_the_kind_whatever_the_words(kind: ReasonKind, code: int) -> None:
    for words in ("missing permission: patch namespaces", "the upgrade lock is held by bob", "anything at all"):
        assert refusal_code([Reason(kind, "x", words)]) == code
    plan = Plan(
        ActionId.SWITCH, "t", refusals=("missing permission: x",), why=(Reason(kind, "c", "missing permission: x"),)
    )
    assert refusal_code(plan.refusal_reasons) == code
