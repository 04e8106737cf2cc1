"""The confirmation dialog: the plan, then the server's dry-run verdict, before anything is written."""

from __future__ import annotations

from time import monotonic
from typing import ClassVar

from rich.text import Text
from textual import events, on
from textual.actions import SkipAction
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.timer import Timer
from textual.widgets import Input, Static

from meshtui.domain.plan import Plan
from meshtui.engine.executor import RunOutcome, StepResult
from meshtui.tui.inert import InertStatic
from meshtui.tui.plan_text import plan_body
from meshtui.tui.rows import GOOD_STYLE, RISK_STYLE, WARN_STYLE
from meshtui.tui.screens.more import SCROLL_BINDINGS, MoreLine, MoreScroll, hidden_below, scroll_body


def dry_run_text(plan: Plan, outcome: RunOutcome | None, read_only: bool) -> tuple[Text, bool]:
    """The dry-run line and whether the plan may be applied."""
    if plan.refused:
        return Text("Refused: " + "; ".join(plan.refusals), style=RISK_STYLE), False
    if not plan.operations and plan.notes:
        return Text(
            "No object is changed by this step; it is recorded in the upgrade record.", style=GOOD_STYLE
        ), not read_only
    if not plan.operations and plan.skipped:
        return Text(
            f"Nothing to apply: every candidate was skipped ({len(plan.skipped)}), see why above.", style=WARN_STYLE
        ), False
    if not plan.operations:
        return Text("Nothing to do: the cluster already matches.", style=GOOD_STYLE), False
    if outcome is None:
        n = len(plan.operations)
        return Text(
            f"Dry run: the API server is checking {n:,} operation{'s' if n != 1 else ''}…", style=WARN_STYLE
        ), False
    if read_only or not outcome.steps:
        return Text("Read-only: no request is sent, not even a dry run; nothing will be written."), False
    stopped = outcome.stopped_by
    if stopped is not None:
        index = outcome.steps.index(stopped) + 1
        return Text(
            f"Dry run failed at step {index} ({stopped.operation.object_ref}): {stopped.result.value}: "
            f"{stopped.message}",
            style=RISK_STYLE,
        ), False
    already = sum(1 for s in outcome.steps if s.result is StepResult.ALREADY)
    unchecked = sum(1 for s in outcome.steps if s.result.value == "not-checked")
    notes = []
    if already:
        notes.append(f"{already} already in place")
    if unchecked:
        notes.append(f"{unchecked} cannot be dry-run: installers and waits run for real")
    note = f" ({'; '.join(notes)})" if notes else ""
    checked = len(outcome.steps) - unchecked
    return Text(
        f"Dry run passed: the API server accepts the {checked} checked operation{'' if checked == 1 else 's'}{note}.",
        style=GOOD_STYLE,
    ), True


APPLY = "apply"
#: Keys the dialog binds itself: they act at once, never wait for the plan's alternatives.
EARLY_BOUND = frozenset({"n", "y"})


class PlanScreen(ModalScreen[str | None]):
    """Shows an action's plan and its dry run; Enter applies (after typing the revision for Finish).

    Answers APPLY, the key of a re-plan option (ignore PodDisruptionBudgets, a manifests folder...), or None.
    """

    DEFAULT_CSS = """
    PlanScreen { align: center middle; }
    PlanScreen > Vertical { width: 100%; max-width: 120; height: auto; max-height: 100%; border: thick $accent;
                            background: $surface; padding: 0 1; }
    PlanScreen .title { text-style: bold; height: auto; }
    PlanScreen VerticalScroll { height: auto; max-height: 55vh; }
    PlanScreen .dry-run { height: auto; margin-top: 1; }
    PlanScreen .keys { height: auto; color: $text-muted; }
    PlanScreen Input { display: none; height: 3; }
    PlanScreen Input.-needed { display: block; }
    """

    # Apply keys are priority bindings: they count only when pressed with this dialog on top. Keys typed
    # in one burst reach the screen that was on top when they arrived, then bubble to the app, which would
    # resolve a plain binding against this dialog: `t j enter enter enter` applied a plan never on screen.
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,n", "cancel", "Cancel"),
        Binding("enter", "confirm", "Apply", priority=True),
        Binding("y", "confirm_y", "Apply", show=False, priority=True),
        *SCROLL_BINDINGS,
    ]

    def __init__(
        self, title: str, *, subtitle: str = "", confirm_word: str | None = None, read_only: bool = False
    ) -> None:
        super().__init__()
        self.heading = title
        self.subtitle = subtitle
        self.confirm_word = confirm_word
        self.read_only = read_only
        self.plan: Plan | None = None
        self.outcome: RunOutcome | None = None
        self.applicable = False
        self.options: dict[str, str] = {}
        #: Keys typed before the plan's alternatives were known (a burst like `r i`); replayed once they are.
        self._early: list[str] | None = []
        self._dry_started: float | None = None
        self._checked = 0
        self._ticker: Timer | None = None
        self.body = InertStatic(Text("Planning…"))
        self.scroll = MoreScroll()
        self.more = MoreLine(self.scroll)
        #: An irreversible plan is confirmed only once its end has been on screen (or it fits).
        self.seen_end = False
        self._tracking = False
        self.verdict = InertStatic(Text(""), classes="dry-run")
        self.keys = Static(Text("esc cancel"), markup=False, classes="keys")
        # Shown only once the plan may be applied: a refused plan asks for no confirmation.
        self.word = Input(placeholder=f"type {confirm_word} to confirm" if confirm_word else "")

    def compose(self) -> ComposeResult:
        with Vertical():
            yield InertStatic(Text(self.heading), classes="title")
            if self.subtitle:
                yield InertStatic(Text(self.subtitle))
            with self.scroll:
                yield self.body
            yield self.more
            yield self.verdict
            yield self.word
            yield self.keys

    def on_mount(self) -> None:
        self.watch(self.scroll, "scroll_y", self._scrolled, init=False)
        self.watch(self.scroll, "virtual_size", self._scrolled, init=False)

    def show_plan(self, plan: Plan) -> None:
        """Show the plan's lines (the dry run follows)."""
        self.plan = plan
        self.seen_end = False
        self._tracking = False
        self.body.update(plan_body(plan))
        self._render_verdict()
        if plan.operations and not plan.refused and self.outcome is None:
            # The dry run of thousands of operations takes seconds: show that it is going on.
            self._dry_started = monotonic()
            self._ticker = self.set_interval(1.0, self._render_verdict)
        # Judge "seen to the end" only once the plan's own lines are laid out, not the placeholder's.
        self.call_after_refresh(self._start_tracking)

    def _start_tracking(self) -> None:
        self._tracking = True
        self._scrolled()

    def _scrolled(self, *_: object) -> None:
        self.more.recount()
        if self._tracking and self.plan is not None and not hidden_below(self.scroll) and self._laid_out():
            self.seen_end = True

    def _laid_out(self) -> bool:
        """The scroll area holds at least every line of the plan: the end judged is the plan's own end.

        Under load a layout pass can run while the area still holds less (a placeholder, a half-laid body);
        its "nothing below" must not count as having read an irreversible plan to its end.
        """
        assert self.plan is not None
        return self.scroll.virtual_size.height >= len(self.plan.lines()) + 1  # the totals line leads

    def action_scroll_body(self, how: str) -> None:
        """PageDown/PageUp and the arrows scroll the plan, whichever widget has focus."""
        scroll_body(self.scroll, how)

    def show_options(self, options: dict[str, str]) -> None:
        """Offer re-plans, each on its own key (e.g. {"i": "ignore PodDisruptionBudgets"}); {} when there are none.

        A key typed while the plan was still being made is taken now if it names an alternative (it only
        plans again); any other early key is dropped, and never an early enter applies anything.
        """
        self.options = dict(options)
        early, self._early = self._early or [], None
        self._render_verdict()
        chosen = next((key for key in early if key in self.options), None)
        if chosen is not None:
            self.dismiss(chosen)

    def on_key(self, event: events.Key) -> None:
        if self.focused is not self.word and event.is_printable and self.take_key(event.key):
            event.stop()

    def take_key(self, key: str) -> bool:
        """An alternative's key chooses it; before the alternatives are known, a key waits for them.

        Also called by the app for a key typed on the dashboard in the same burst as the key that opened
        this dialog (it reaches the app only once the dialog is on top).
        """
        if key in self.options:
            self.dismiss(key)
            return True
        if self._early is not None and key not in EARLY_BOUND:
            self._early.append(key)
            return True
        return False

    def show_checked(self, done: int, total: int) -> None:
        """The dry run's progress so far."""
        self._checked = done
        self._render_verdict()

    def show_dry_run(self, outcome: RunOutcome) -> None:
        """Show the dry-run verdict; Enter applies only when it passed."""
        self.outcome = outcome
        self._render_verdict()

    def show_failure(self, message: str) -> None:
        """The engine could not plan or dry-run: say so; only cancel remains."""
        self.applicable = False
        self.verdict.update(Text(message, style=RISK_STYLE))
        self.keys.update(Text("esc close"))

    def _render_verdict(self) -> None:
        if self.plan is None:
            return
        text, ok = dry_run_text(self.plan, self.outcome, self.read_only)
        if self.outcome is None and self._dry_started is not None:
            text.append(
                f" {self._checked:,} of {len(self.plan.operations):,} checked, {monotonic() - self._dry_started:.0f}s"
            )
        elif self._ticker is not None:
            self._ticker.stop()
            self._ticker = None
        self.applicable = ok
        self.verdict.update(text)
        self.word.set_class(bool(ok and self.confirm_word), "-needed")
        extra = "".join(f" · {key} {label}" for key, label in self.options.items())
        if len(self.plan.lines()) > 8:
            extra += " · ↑↓ pgup pgdn scroll the plan"
        if ok and self.confirm_word:
            self.keys.update(Text(f"type {self.confirm_word} and press enter to apply · esc cancel"))
            self.word.focus()
        elif ok:
            self.keys.update(Text(f"enter/y apply · esc/n cancel{extra}"))
        else:
            self.keys.update(Text(f"esc close{extra}"))

    def action_confirm_y(self) -> None:
        """y applies like enter, except in the confirmation field, where it is a letter of the word."""
        if self.focused is self.word:
            raise SkipAction
        self.action_confirm()

    def action_confirm(self) -> None:
        """Apply when the dry run passed (and the typed word matches)."""
        if not self.applicable:
            return
        if self.confirm_word and self.word.value.strip() != self.confirm_word:
            self.keys.update(Text(f"type exactly {self.confirm_word} to apply · esc cancel", style=WARN_STYLE))
            return
        if self.confirm_word:
            self._scrolled()
            if not self.seen_end:
                below = hidden_below(self.scroll)
                self.keys.update(
                    Text(
                        f"read the whole plan first: {below} more lines below (PgDn) · then enter · esc cancel",
                        style=WARN_STYLE,
                    )
                )
                return
        self.dismiss(APPLY)

    def action_cancel(self) -> None:
        """Close without applying."""
        self.dismiss(None)

    @on(Input.Submitted)
    def _typed(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_confirm()
