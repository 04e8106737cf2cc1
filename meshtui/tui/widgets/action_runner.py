"""Runs engine calls in thread workers and reports back by messages: plan, dry run, progress, outcome.

Blocking calls never run on the UI loop and never touch widgets; an exception becomes a `Failed`
message with one sentence, never a crash.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from textual import work
from textual.message import Message
from textual.widget import Widget

from meshtui.domain.actions import ActionId
from meshtui.domain.inventory import InventoryView
from meshtui.domain.plan import Plan
from meshtui.engine.api import Progress, Session
from meshtui.engine.executor import RunControl, RunOutcome
from meshtui.engine.params import ParamsError, params_for
from meshtui.tui.feed import describe_error


class ActionRunner(Widget):
    """Invisible: one action at a time, from plan to outcome, with pause and abort."""

    DEFAULT_CSS = """
    ActionRunner { display: none; }
    """

    class Planned(Message):
        """Posted when the engine has planned an action (the dry run follows)."""

        def __init__(self, action: str, plan: Plan) -> None:
            super().__init__()
            self.action = action
            self.plan = plan

    class DryRunDone(Message):
        """Posted when the server-side dry run of a plan has finished."""

        def __init__(self, plan: Plan, outcome: RunOutcome) -> None:
            super().__init__()
            self.plan = plan
            self.outcome = outcome

    class DryRunChecked(Message):
        """Posted as the dry run goes: how many operations the API server has checked so far."""

        def __init__(self, plan: Plan, done: int, total: int) -> None:
            super().__init__()
            self.plan = plan
            self.done = done
            self.total = total

        def can_replace(self, message: Message) -> bool:
            return isinstance(message, ActionRunner.DryRunChecked)

    class Progressed(Message):
        """Posted after each step of a run; a newer report replaces an unread older one."""

        def __init__(self, progress: Progress) -> None:
            super().__init__()
            self.progress = progress

        def can_replace(self, message: Message) -> bool:
            return isinstance(message, ActionRunner.Progressed)

    class Finished(Message):
        """Posted when a run has ended: applied, stopped by a refusal, or aborted."""

        def __init__(self, plan: Plan, outcome: RunOutcome, aborted: bool) -> None:
            super().__init__()
            self.plan = plan
            self.outcome = outcome
            self.aborted = aborted

    class Failed(Message):
        """Posted when an engine call raised: `stage` is plan, dry-run, run or refresh."""

        def __init__(self, action: str, stage: str, message: str) -> None:
            super().__init__()
            self.action = action
            self.stage = stage
            self.message = message

    class Refreshed(Message):
        """Posted when the session has re-read the record, the lock and permissions."""

    class TookOver(Message):
        """Posted when an attempt to take over the upgrade lock has ended."""

        def __init__(self, held: bool, why: str) -> None:
            super().__init__()
            self.held = held
            self.why = why

    def __init__(self, session: Session | None) -> None:
        super().__init__()
        self.session = session
        self.control: RunControl | None = None
        self.running = False
        self.preparing = False
        self.refreshing = False

    @property
    def paused(self) -> bool:
        """True while the run in progress is paused."""
        return self.control is not None and self.control.paused

    def prepare(self, action: ActionId, view: InventoryView, params: Mapping[str, Any]) -> None:
        """Plan the action, then dry-run it; answers with Planned then DryRunDone (or Failed).

        `params` are the dashboard's choices by field name; they become the action's typed parameters
        here (`engine.params.params_for`), and a key the action does not take fails the plan.
        """
        self.preparing = True
        self._prepare(action, view, params)

    @work(thread=True, exit_on_error=False, group="engine", name="prepare")
    def _prepare(self, action: str, view: InventoryView, params: Mapping[str, Any]) -> None:
        session = self.session
        if session is None:
            self.post_message(self.Failed(action, "plan", "no upgrade session is connected"))
            return
        try:
            typed = params_for(action, params)
        except ParamsError as exc:
            self.post_message(self.Failed(action, "plan", str(exc)))
            return
        try:
            plan = session.plan(view, typed)
        except Exception as exc:
            self.post_message(self.Failed(action, "plan", describe_error(exc)))
            return
        self.post_message(self.Planned(action, plan))
        if plan.refused or not plan.operations:
            self.post_message(self.DryRunDone(plan, RunOutcome(plan)))
            return

        def checked(done: int, total: int) -> None:
            self.post_message(self.DryRunChecked(plan, done, total))

        try:
            outcome = session.dry_run(plan, checked)
        except Exception as exc:
            self.post_message(self.Failed(action, "dry-run", describe_error(exc)))
            return
        self.post_message(self.DryRunDone(plan, outcome))

    def on_action_runner_dry_run_done(self, _event: DryRunDone) -> None:
        self.preparing = False

    def run(self, plan: Plan) -> None:
        """Apply a confirmed plan; answers with Progressed reports then Finished (or Failed)."""
        self.control = RunControl()
        self.running = True
        self._run(plan, self.control)

    def _progressed(self, progress: Progress) -> None:
        self.post_message(self.Progressed(progress))

    @work(thread=True, exit_on_error=False, group="engine", name="run")
    def _run(self, plan: Plan, control: RunControl) -> None:
        session = self.session
        if session is None:
            self.post_message(self.Failed(plan.action, "run", "no upgrade session is connected"))
            return
        try:
            outcome = session.run(plan, control, self._progressed)
        except Exception as exc:
            self.post_message(self.Failed(plan.action, "run", describe_error(exc)))
            return
        self.post_message(self.Finished(plan, outcome, control.aborted))

    def on_action_runner_finished(self, _event: Finished) -> None:
        self.running = False
        self.control = None

    def on_action_runner_failed(self, event: Failed) -> None:
        if event.stage == "refresh":
            return
        self.running = False
        self.preparing = False
        self.control = None

    def toggle_pause(self) -> bool:
        """Pause or resume the run in progress; returns True when now paused."""
        control = self.control
        if control is None:
            return False
        if control.paused:
            control.resume()
        else:
            control.pause()
        return control.paused

    def abort(self) -> None:
        """Stop the run before its next step (a step in flight completes)."""
        if self.control is not None:
            self.control.abort()

    def refresh_session(self) -> None:
        """Re-read the upgrade record, the lock and permissions; skipped while an action is under way."""
        if self.session is None or self.refreshing or self.running or self.preparing:
            return
        self.refreshing = True
        self._refresh_session()

    @work(thread=True, exit_on_error=False, group="engine-refresh", name="refresh")
    def _refresh_session(self) -> None:
        try:
            assert self.session is not None
            self.session.refresh()
        except Exception as exc:
            self.post_message(self.Failed("refresh", "refresh", describe_error(exc)))
        self.post_message(self.Refreshed())

    def on_action_runner_refreshed(self, _event: Refreshed) -> None:
        self.refreshing = False

    def take_over(self) -> None:
        """Take the upgrade lock from another operator (answers TookOver)."""
        self._take_over()

    @work(thread=True, exit_on_error=False, group="engine", name="take-over")
    def _take_over(self) -> None:
        acquire = getattr(self.session, "acquire", None)
        if acquire is None:
            self.post_message(self.TookOver(False, "this session cannot take the lock over"))
            return
        try:
            held, why = acquire(take_over=True)
        except Exception as exc:
            self.post_message(self.TookOver(False, describe_error(exc)))
            return
        self.post_message(self.TookOver(bool(held), str(why)))
