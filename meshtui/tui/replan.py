"""Second thoughts offered in the plan dialog: re-plan an action with one more parameter.

A restart held back by a PodDisruptionBudget, an istioctl gateway that needs its rendered manifests, a
target to deploy through an installer: the plan says so, and the dialog offers a key for it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from meshtui.domain.actions import ActionId
from meshtui.domain.plan import REMEDY_IGNORE_PDB, REMEDY_MANIFESTS, Plan


@dataclass(frozen=True, slots=True)
class Replan:
    """One alternative: its key, what it does, and the parameters it adds (or the question it asks first)."""

    key: str
    label: str
    params: dict[str, Any] = field(default_factory=dict)
    #: When set, the operator is asked for one line (a folder, a path); `answer` turns it into parameters.
    question: str = ""
    default: str = ""
    answer: Callable[[str], dict[str, Any]] | None = None


def _installer(kind: str) -> Callable[[str], dict[str, Any]]:
    def build(path: str) -> dict[str, Any]:
        from meshtui.engine.installers import InstallerSpec

        return {"installer": InstallerSpec(kind, path)}

    return build


def replans(plan: Plan, params: dict[str, Any], folder: str = "") -> list[Replan]:
    """The alternatives that fit this plan (none when it already uses them).

    `folder` is the rendered manifests of the revision the plan moves to, when known (the demo renders them).
    """
    out: list[Replan] = []
    if REMEDY_IGNORE_PDB in plan.remedies and not params.get("ignore_pdb"):
        out.append(Replan("i", "ignore PodDisruptionBudgets", {"ignore_pdb": True}))
    if REMEDY_MANIFESTS in plan.remedies:
        out.append(
            Replan(
                "f",
                "give the folder of rendered gateway manifests",
                question="Folder of the rendered manifests of the gateways (YAML or JSON files)",
                default=folder,
                answer=lambda path: {"manifests": path},
            )
        )
    if plan.action in (ActionId.DEPLOY, ActionId.AMBIENT):
        out += [
            Replan(
                "f",
                "install from a folder of rendered manifests",
                question="Folder of the target's rendered manifests (server-side applied)",
                default=folder,
                answer=_installer("manifests"),
            ),
            Replan(
                "i",
                "run istioctl install",
                question="The istioctl binary to run",
                default="istioctl",
                answer=_installer("istioctl"),
            ),
            Replan(
                "h",
                "run helm upgrade --install",
                question="The helm binary to run",
                default="helm",
                answer=_installer("helm"),
            ),
        ]
    return out
