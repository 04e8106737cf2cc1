"""The header: clusters and their connection state, source -> target, the phase stepper and the badges."""

from __future__ import annotations

from datetime import datetime

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical

from meshtui.cluster.live import ClusterHealth
from meshtui.cluster.reflector import ConnState
from meshtui.domain.text import inert
from meshtui.engine.api import EngineState
from meshtui.engine.verifystate import VerifyState
from meshtui.tui.inert import InertStatic

STEPS = ("Control plane", "Data plane", "Verify", "Finish")
VERIFY_STEP = 2
#: The step each engine phase is on; past the last step every step is done.
PHASE_STEP = {
    "control-plane": 0,
    "data-plane": 1,
    "verify": 2,
    "finishing-upgrade": 3,
    "finishing-rollback": 3,
    "completed": 4,
    "cancelled": 4,
}
PHASE_WORDS = {
    "control-plane": "deploying the target",
    "data-plane": "moving the data plane",
    "verify": "verifying",
    "finishing-upgrade": "finishing: upgrade chosen",
    "finishing-rollback": "finishing: rollback chosen",
    "completed": "upgrade completed",
    "cancelled": "upgrade cancelled (rolled back)",
}
_STATE_MARK = {
    ConnState.SYNCED: ("●", "green"),
    ConnState.CONNECTING: ("○", "yellow"),
    ConnState.LAGGING: ("◐", "yellow"),
    ConnState.ERROR: ("✗", "bold red"),
}


def health_text(health: tuple[ClusterHealth, ...]) -> Text:
    """Each cluster with a mark and a word for its state (never colour alone)."""
    text = Text()
    for i, h in enumerate(health):
        if i:
            text.append("  ")
        mark, style = _STATE_MARK.get(h.state, ("?", ""))
        text.append(inert(h.cluster), style="bold")
        text.append(f" {mark} {h.state.value}", style=style)
        if h.state is ConnState.CONNECTING and h.total_kinds and not h.loading:
            # A reconnect after the first load (the loading line says more during the first one).
            text.append(f" {h.synced_kinds}/{h.total_kinds} kinds", style=style)
        if h.state in (ConnState.ERROR, ConnState.LAGGING) and h.reason:
            text.append(f": {inert(h.reason)}", style=style)
    return text


#: Kinds named in the loading line before "and N more" (it must stay readable at 80 columns).
PENDING_NAMED = 3


def loading_text(health: tuple[ClusterHealth, ...]) -> Text | None:
    """Per cluster still on its first load: kinds listed of all, objects so far, and what is still coming.

    Until then a table can lack rows or counts that exist (a namespace listed before its pods shows none):
    this line says the picture is partial. None once every cluster has listed every kind once.
    """
    loading = [h for h in health if h.loading]
    if not loading:
        return None
    text = Text()
    for i, h in enumerate(loading):
        if i:
            text.append("\n")
        text.append("Loading ", style="bold")
        if len(health) > 1:
            text.append(f"{inert(h.cluster)}: ", style="bold")
        listed = h.total_kinds - len(h.pending_kinds)
        text.append(f"{listed} of {h.total_kinds} kinds listed, {h.listed_objects:,} objects so far")
        named = ", ".join(inert(k) for k in h.pending_kinds[:PENDING_NAMED])
        more = len(h.pending_kinds) - PENDING_NAMED
        text.append(f"; listing {named}" + (f" and {more} more" if more > 0 else ""), style="dim")
    return text


def stepper_text(phase: str | None, verify: VerifyState | None = None, *, compact: bool = False) -> Text:
    """`Phase: Control plane ✓ › Data plane › Verify: not run › Finish`, the current step in reverse video.

    Unlike the tab bar under it, the steps carry no numbers and a done step a ✓; `compact` names only the
    current step (the others are ✓ or a dot), for a line that must also fit the phase words at 80 columns.
    Verify says what its last run says (not run, passed, failed, unknown, stale, skipped), never a bare ✓:
    a tick there would claim checks that may never have run.
    """
    current = PHASE_STEP.get(phase or "", -1)
    text = Text("Phase ", style="dim")
    for i, step in enumerate(STEPS):
        if i:
            text.append(" › ", style="dim")
        if i == VERIFY_STEP and verify is not None and current < len(STEPS):
            word = verify.value
            style = "green" if verify.satisfied else ("bold red" if verify is VerifyState.FAILED else "yellow")
            label = f"{step}: {word}"  # never the bare word: "not run" alone names no step
            text.append(f" {label} " if i == current else label, style="reverse bold" if i == current else style)
        elif i < current:
            text.append("✓" if compact else f"{step} ✓", style="green")
        elif i == current:
            text.append(f" {step} ", style="reverse bold")
        else:
            text.append("·" if compact else step)
    return text


class MeshHeader(Vertical):
    """Two lines: where (clusters, revisions, badges) and when (the phase); a third while the mesh first loads."""

    DEFAULT_CSS = """
    MeshHeader { height: auto; background: $panel; }
    MeshHeader > Static { height: 1; padding: 0 1; text-wrap: nowrap; text-overflow: ellipsis; }
    MeshHeader > #header-loading { height: auto; text-wrap: wrap; display: none; }
    """

    def __init__(self, title: str = "meshtui", *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.title = title
        self.where = InertStatic(Text(f"{title}  connecting…"), id="header-where")
        self.when = InertStatic(stepper_text(None), id="header-when")
        self.loading_line = InertStatic("", id="header-loading")
        self._when: tuple[str | None, VerifyState | None, str, datetime | None] | None = None

    def compose(self) -> ComposeResult:
        yield self.where
        yield self.when
        yield self.loading_line

    def show(
        self,
        *,
        health: tuple[ClusterHealth, ...],
        source: str | None,
        target: str | None,
        state: EngineState | None,
        phase: str | None,
        read_only: bool,
        taken_at: datetime | None,
        note: str = "",
    ) -> None:
        """Render both lines from the latest snapshot (attributes down from the screen)."""
        where = Text()
        where.append(self.title, style="bold")
        where.append("  ")
        where.append(f"{inert(source or '?')} -> {inert(target or '?')}", style="bold")
        where.append("  ")
        where.append_text(health_text(health))
        if read_only or (state is not None and state.read_only):
            where.append("  ")
            where.append(" READ-ONLY ", style="reverse bold")
            reason = state.read_only_reason if state is not None else ""
            if reason:
                where.append(f" {inert(reason)}")
        if state is not None and state.lock.holder:
            where.append("  ")
            if state.lock.mine:
                where.append(" LOCK: you ", style="reverse")
            else:
                expired = " (expired)" if state.lock.expired else ""
                where.append(f" LOCKED by {inert(state.lock.holder)}{expired} ", style="reverse bold red")
        self.where.update(where)
        loading = loading_text(health)
        self.loading_line.display = loading is not None
        if loading is not None:
            self.loading_line.update(loading)

        verify = state.verify.state if state is not None and state.verify is not None else None
        self._when = (phase, verify, note, taken_at)
        self._render_when()

    def on_resize(self) -> None:
        self._render_when()

    def _render_when(self) -> None:
        """The phase line, compact when the full one would not fit: the phase words are never cut."""
        if self._when is None:
            return
        phase, verify, note, taken_at = self._when
        tail = Text()
        if phase in ("completed", "cancelled", None):
            tail.append(f"   {PHASE_WORDS.get(phase or '', 'no upgrade found')}")
        if note:
            tail.append(f"   {inert(note)}", style="bold")
        if taken_at is not None and not note:
            tail.append(f"   as of {taken_at.strftime('%H:%M:%S')}", style="dim")
        width = (self.size.width or 200) - 2
        when = stepper_text(phase, verify)
        if when.cell_len + tail.cell_len > width:
            when = stepper_text(phase, verify, compact=True)
        when.append_text(tail)
        self.when.update(when)
