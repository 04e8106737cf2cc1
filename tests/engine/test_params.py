"""Each action's typed parameters: every action has a planner, and the dashboard's choices are checked at the door."""

from __future__ import annotations

import pytest

from meshtui.domain.actions import ActionId
from meshtui.engine.params import PARAMS, ParamsError, RestartParams, SwitchBackParams, params_for
from meshtui.engine.planners.registry import PLANNERS


def test_every_action_has_one_planner_taking_its_own_parameters() -> None:
    assert set(PLANNERS) == set(ActionId) == set(PARAMS)
    for action, planner in PLANNERS.items():
        assert planner.action is action and planner.params.ACTION is action


def test_the_dashboard_choices_become_typed_parameters() -> None:
    params = params_for("restart", {"namespaces": ["shop", "batch"], "batch": 3, "pause": 1, "discard": True})
    assert params == RestartParams(namespaces=("shop", "batch"), batch=3, pause=1.0, discard=True)
    assert params_for(ActionId.SWITCH_BACK, {}) == SwitchBackParams()


@pytest.mark.parametrize(
    ("action", "values", "words"),
    [
        ("switch-back", {"namespaces": ["shop"], "to": "1-23-1"}, "takes no parameter to"),
        ("restart", {"new": True}, "takes no parameter new"),
        ("restart", {"batch": "5"}, "batch must be int"),
        ("restart", {"ignore_pdb": 1}, "ignore_pdb must be bool"),
        ("restart", {"batch": True}, "batch must be int"),
        ("restart", {"pause": None}, "pause must be float"),
        ("promote", {}, "is not an action"),
    ],
)
def test_a_choice_the_action_does_not_take_is_refused_not_ignored(
    action: str, values: dict[str, object], words: str
) -> None:
    with pytest.raises(ParamsError, match=words):
        params_for(action, values)
