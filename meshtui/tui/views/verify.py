"""The Verify tab: the health checks of the switched workloads with their results and offenders."""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll

from meshtui.engine.api import CheckResult, EngineState
from meshtui.engine.verifystate import VerifyState, VerifyStatus
from meshtui.tui.inert import InertStatic
from meshtui.tui.rows import GOOD_STYLE, RISK_STYLE, WARN_STYLE

_MARK = {"pass": ("ok  pass", GOOD_STYLE), "fail": ("x   FAIL", RISK_STYLE), "unknown": ("?   unknown", WARN_STYLE)}


def render_checks(checks: tuple[CheckResult, ...]) -> RenderableType:
    """The checks as a table; the offenders under each failing one."""
    table = Table(box=None, show_edge=False, pad_edge=False, header_style="bold", expand=True)
    table.add_column("CHECK", ratio=2, overflow="fold")  # wraps: a check's name is never cut
    table.add_column("RESULT", no_wrap=True, width=11)
    table.add_column("DETAIL", ratio=3, overflow="fold")
    for check in checks:
        label, style = _MARK.get(check.result, (check.result, ""))
        detail = check.detail
        if check.offenders:
            detail = f"{detail} ({', '.join(check.offenders[:5])}{', …' if len(check.offenders) > 5 else ''})"
        table.add_row(Text(check.name), Text(label, style=style), Text(detail))
    return table


def verify_line(verify: VerifyStatus) -> Text:
    """The verify step in one line: what Finish sees (a run goes stale with any later data-plane change)."""
    at = f" at {verify.at}" if verify.at else ""
    style = GOOD_STYLE if verify.state.satisfied else RISK_STYLE if verify.state is VerifyState.FAILED else WARN_STYLE
    text = Text(f"Verify of {verify.revision}: {verify.state.value}{at}", style=f"bold {style}")
    if verify.reason:
        text.append(f". {verify.reason}", style=style)
    return text


class VerifyView(VerticalScroll):
    """The verify checks, refreshed when the engine re-runs them."""

    DEFAULT_CSS = """
    VerifyView { padding: 0 1; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.body = InertStatic(Text("Waiting for the cluster…"))
        self._key: object = None

    def compose(self) -> ComposeResult:
        yield self.body

    def show(self, state: EngineState | None) -> None:
        """Render the checks (skipped when they did not change)."""
        checks = state.checks if state is not None else ()
        verify = state.verify if state is not None else None
        key = (checks, verify)
        if key == self._key:
            return
        self._key = key
        parts: list[RenderableType] = [
            Text(
                "Are the switched workloads healthy? Every pod Ready, no restarts since the switch, no "
                "CrashLoopBackOff or ImagePullBackOff, proxies on their revision's version, the target istiod "
                "Ready, every proxy SYNCED.",
                style="bold",
            ),
            Text(""),
        ]
        if verify is not None:
            parts += [verify_line(verify), Text("")]
        if checks:
            parts.append(render_checks(checks))
        else:
            parts.append(Text("No checks run yet: press v to run them."))
        self.body.update(Group(*parts))
