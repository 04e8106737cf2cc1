"""The ids of the upgrade's actions: what the state machine judges, the engine plans and the journal names.

A `StrEnum`, so an id is its string everywhere it is written (the record's journal, `status --json`, the
keymap) while every decision compares members, never spelled-out words.
"""

from __future__ import annotations

from enum import StrEnum


class ActionId(StrEnum):
    """One action of the upgrade (docs/vocabulary.md names each)."""

    START = "start"
    DEPLOY = "deploy"
    SWITCH = "switch"
    SWITCH_BACK = "switch-back"
    MOVE_TAG = "move-tag"
    RESTART = "restart"
    DELETE_PODS = "delete-pods"
    GATEWAYS = "gateways"
    GATEWAYS_BACK = "gateways-back"
    AMBIENT = "ambient"
    VERIFY = "verify"
    UPGRADE = "upgrade"
    ROLLBACK = "rollback"
    FINISH = "finish"
    #: Recording the operator's decision to finish without a passing verify run (not a gate of its own).
    SKIP_VERIFY = "skip-verify"


#: Every action, in the order the help screen and the palette list them: "Name: what it does" (docs/vocabulary.md).
ACTIONS: tuple[tuple[ActionId, str], ...] = (
    (ActionId.START, "Start: record the upgrade in the cluster and take the lock"),
    (ActionId.DEPLOY, "Deploy: install the target control plane and wait until it is Ready"),
    (ActionId.SWITCH, "Switch: label the selected namespaces for the target"),
    (ActionId.SWITCH_BACK, "Switch back: restore the selected namespaces' labels for the source"),
    (ActionId.MOVE_TAG, "Move tag: point a revision tag at another revision"),
    (ActionId.RESTART, "Restart: roll the selected namespaces' workloads so their pods get their revision"),
    (ActionId.DELETE_PODS, "Delete pods: delete a pod that no restart can replace (bare pods)"),
    (ActionId.GATEWAYS, "Gateways: move the gateways to the target"),
    (ActionId.GATEWAYS_BACK, "Gateways back: move the gateways back to the source"),
    (ActionId.AMBIENT, "Ambient: upgrade istio-cni and ztunnel in place, node by node"),
    (ActionId.VERIFY, "Verify: run the verify checks"),
    (ActionId.UPGRADE, "Upgrade: choose to keep the target (Finish then takes the source offline)"),
    (ActionId.ROLLBACK, "Rollback: choose to keep the source (Finish then takes the target offline)"),
    (ActionId.FINISH, "Finish: take the chosen revision offline (irreversible)"),
)
#: Each action's title ("Name: what it does").
TITLES: dict[ActionId, str] = dict(ACTIONS)

#: The actions that restart workloads and keep restart progress in the record.
RESTART_ACTIONS = frozenset({ActionId.RESTART, ActionId.GATEWAYS, ActionId.GATEWAYS_BACK})
#: The direction each action works in: what `todo`, the offenders and verify follow until a choice is made.
GOALS = {
    ActionId.SWITCH: "upgrade",
    ActionId.GATEWAYS: "upgrade",
    ActionId.SWITCH_BACK: "rollback",
    ActionId.GATEWAYS_BACK: "rollback",
}
#: The actions that only record the operator's choice of which revision Finish keeps.
CHOICES = frozenset({ActionId.UPGRADE, ActionId.ROLLBACK})
