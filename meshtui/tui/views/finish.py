"""The Finish tab: Upgrade, Rollback and Finish with every reason that keeps each of them disabled."""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.padding import Padding
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll

from meshtui.domain.actions import ActionId
from meshtui.domain.inventory import InventoryView
from meshtui.engine.api import ActionState, EngineState
from meshtui.tui.inert import InertStatic
from meshtui.tui.keymap import action_name, by_engine_action
from meshtui.tui.rows import GOOD_STYLE, RISK_STYLE

FINISHING = (ActionId.UPGRADE, ActionId.ROLLBACK, ActionId.FINISH)


def gate_states(view: InventoryView, state: EngineState | None) -> list[ActionState]:
    """The three finishing actions, from the engine when it answers, else from the view's gates."""
    if state is not None:
        return [state.action(a) for a in FINISHING]
    out = []
    for a in FINISHING:
        verdict = view.gates.verdict(a) if view.gates is not None else None
        out.append(
            ActionState(
                a,
                a.capitalize(),
                bool(verdict and verdict.enabled),
                verdict.reasons if verdict else ("waiting for the cluster",),
            )
        )
    return out


def explain_action(action: str, source: str | None, target: str | None) -> str:
    """What choosing the action leads to, in one sentence."""
    src, tgt = source or "the source", target or "the target"
    return {
        "upgrade": f"Keep {tgt}; Finish then takes {src} offline (irreversible).",
        "rollback": f"Keep {src}; Finish then takes {tgt} offline and cancels the upgrade.",
        "finish": "Take the chosen revision offline; you type its name to confirm.",
    }[action]


def render_action(action: ActionState, source: str | None, target: str | None) -> RenderableType:
    """One action's block: key, name, state, what it does and why it is disabled."""
    key = by_engine_action(action.id).display
    head = Text.assemble((f" {key} ", "reverse bold"), " ", (action_name(action.id), "bold"), "  ")
    if action.enabled:
        head.append("ENABLED", style=f"bold {GOOD_STYLE}")
    else:
        head.append("disabled", style="bold")
    lines: list[RenderableType] = [head, Padding(Text(explain_action(action.id, source, target)), (0, 0, 0, 4))]
    for reason in action.reasons:
        lines.append(Padding(Text(f"x {reason}", style=RISK_STYLE), (0, 0, 0, 4)))
    if not action.enabled and action.offenders:
        # Only where there is something to jump to (not "the upgrade is completed", not "choose first").
        lines.append(Padding(Text(f"press {key}, then o, to jump to what holds it back", style="dim"), (0, 0, 0, 4)))
    lines.append(Text(""))
    return Group(*lines)


class FinishView(VerticalScroll):
    """The finishing gates, live: a disabled action lists every unmet condition."""

    DEFAULT_CSS = """
    FinishView { padding: 0 1; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.body = InertStatic(Text("Waiting for the cluster…"))
        self._key: object = None

    def compose(self) -> ComposeResult:
        yield self.body

    def show(self, view: InventoryView, state: EngineState | None) -> None:
        """Render the three actions (skipped when nothing they show changed)."""
        actions = gate_states(view, state)
        phase = state.phase if state is not None else None
        key = (tuple(actions), view.source, view.target, phase)
        if key == self._key:
            return
        self._key = key
        parts: list[RenderableType] = [
            Text("Upgrade or roll back once every namespace, pod, gateway and tag is on one revision.", style="bold"),
            Text(""),
        ]
        parts += [render_action(a, view.source, view.target) for a in actions]
        if phase in ("completed", "cancelled"):
            parts.insert(0, Text(f"The upgrade is {phase}.", style=f"bold {GOOD_STYLE}"))
        self.body.update(Group(*parts))
