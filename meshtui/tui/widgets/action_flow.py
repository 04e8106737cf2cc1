"""The engine actions of the dashboard: plan dialog, dry run, re-plans, run, progress and take-over.

A component, not a base class: it owns the ActionRunner (whose messages bubble through it) and reaches
the screen it serves only through `FlowHost`, so it reads and tests alone and never talks to a cluster.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from textual import on
from textual.app import ComposeResult
from textual.widget import Widget

from meshtui.domain.actions import ActionId
from meshtui.domain.reasons import ReasonKind
from meshtui.engine.api import ActionState, EngineState, Session
from meshtui.engine.executor import StepResult
from meshtui.engine.session import refusal_sentence
from meshtui.engine.verifystate import SKIP_WORDS
from meshtui.tui import keymap
from meshtui.tui.loading_gate import still_loading
from meshtui.tui.offenders import Offenders, keep_of, offenders, offline_revision
from meshtui.tui.replan import Replan, replans
from meshtui.tui.screens.ask import AskScreen
from meshtui.tui.screens.choice import ChoiceScreen
from meshtui.tui.screens.confirm import ConfirmScreen
from meshtui.tui.screens.disabled import DisabledScreen
from meshtui.tui.screens.message import MessageScreen
from meshtui.tui.screens.plan import APPLY, PlanScreen
from meshtui.tui.screens.tag import TagScreen
from meshtui.tui.widgets.action_runner import ActionRunner

if TYPE_CHECKING:
    from meshtui.domain.plan import Plan
    from meshtui.tui.feed import Snapshot
    from meshtui.tui.settings import DashboardSettings
    from meshtui.tui.widgets.progress_panel import ProgressPanel

NAMESPACE_ACTIONS = (ActionId.SWITCH, ActionId.SWITCH_BACK, ActionId.RESTART)
GATEWAY_ACTIONS = (ActionId.GATEWAYS, ActionId.GATEWAYS_BACK)
#: Namespaces named in a plan dialog's subtitle; a bulk selection of thousands would bury the plan.
SUBTITLE_NAMES = 8

NsKey = tuple[str, str]
PodKey = tuple[str, str, str]


@dataclass(frozen=True, slots=True)
class Chosen:
    """What the operator pointed at when the key was pressed: the scope every namespace or pod action takes."""

    #: The Data plane view shown (namespaces, pods, gateways, agents).
    view: str
    #: The selected namespaces, else the one under the cursor (or the pods view's one namespace); may be empty.
    namespaces: tuple[NsKey, ...]
    #: True when `namespaces` is a selection, not the cursor.
    selected: bool = False
    #: Selected namespaces the filter hides.
    hidden: int = 0
    #: The pod under the cursor of the pods view.
    pod: PodKey | None = None
    #: The namespace under the cursor of the namespaces view (ctrl+d there opens its pods).
    cursor_namespace: NsKey | None = None


class FlowHost(Protocol):
    """The narrow face of the screen the flow serves."""

    snapshot: Snapshot | None

    def chosen(self) -> Chosen:
        """What the operator points at now."""
        ...

    def open_namespace(self, key: NsKey) -> None:
        """Show the pods of one namespace."""
        ...

    def show_offenders(self, action: ActionState, found: Offenders | None) -> None:
        """Narrow the tables to what holds `action` back."""
        ...

    def run_ended(self, plan: Plan, keep_selection: bool) -> None:
        """A run ended: drop the selection unless it is kept for the next step."""
        ...

    def flow_changed(self) -> None:
        """The flow's state (running, idle) changed: redraw what depends on it (the key bar)."""
        ...

    def ask_snapshot(self) -> int:
        """Ask for a snapshot now; the ticket to ask `has_snapshot` about."""
        ...

    def has_snapshot(self, ticket: int) -> bool:
        """True once a snapshot built after `ask_snapshot` returned `ticket` has been shown."""
        ...

    def session_problem(self, message: str) -> None:
        """Re-reading the upgrade record failed (the header says so)."""
        ...


class ActionFlow(Widget):
    """Invisible: from an action's key to its plan, dry run, confirmation, run and outcome."""

    DEFAULT_CSS = """
    ActionFlow { display: none; }
    """

    def __init__(
        self, host: FlowHost, session: Session | None, settings: DashboardSettings, progress: ProgressPanel
    ) -> None:
        super().__init__()
        self.host = host
        self.settings = settings
        self.progress = progress
        self.runner = ActionRunner(session)
        self.multi_cluster = False
        self.plan_screen: PlanScreen | None = None
        self.pending: tuple[str, dict[str, Any]] | None = None
        self.replans: list[Replan] = []
        #: The snapshot that must be shown before the next action: the one after the last run.
        self._settle_ticket: int | None = None

    def compose(self) -> ComposeResult:
        yield self.runner

    @property
    def busy(self) -> bool:
        """An action is planned, running, or its result not yet in the tables (a key now would act on old state)."""
        return self.runner.running or self.runner.preparing or self.settling

    @property
    def settling(self) -> bool:
        """A run ended and the snapshot showing its result has not arrived yet."""
        ticket = self._settle_ticket
        if ticket is not None and self.host.has_snapshot(ticket):
            self._settle_ticket = ticket = None
        return ticket is not None

    # -- engine actions -----------------------------------------------------------------------------

    def engine(self, action_id: ActionId, *, back: bool = False) -> None:
        """Open the plan of an engine action, or say why it is disabled; `back` aims it at the source (ambient)."""
        snap = self.host.snapshot
        waiting = still_loading(snap.health if snap is not None else None)
        if snap is None or waiting is not None:
            self.notify(waiting or "Still reading the cluster: try again in a moment.", timeout=6)
            return
        if self.runner.running or self.runner.preparing:
            self.notify(
                "Another action is in progress: wait for it, or pause (p) or abort (x) it.",
                severity="warning",
                timeout=5,
            )
            return
        if self.settling:
            self.notify("Reading the result of the last action: press the key again in a moment.", timeout=4)
            return
        state = snap.state
        if state is None:
            self.app.push_screen(
                MessageScreen(
                    "The upgrade engine is not available",
                    snap.state_error or "No upgrade session is connected.",
                    "The tables still update; restart meshtui once the cause is fixed.",
                )
            )
            return
        action = state.action(action_id)
        if not action.enabled and _waits_for_verify(action, state):
            self._offer_verify_skip(state)
            return
        if not action.enabled and not _plan_would_enable(action, state) and not _read_only_only(action):
            self._explain_disabled(action, state, snap)
            return
        if action_id is ActionId.MOVE_TAG:
            self._choose_tag(snap)
            return
        chosen = self.host.chosen()
        params = self._params(action_id, chosen)
        if params is None:
            return
        if back:
            params["to"] = snap.view.source
        if action_id is ActionId.RESTART and state.restart_pending:
            self._offer_recorded_restart(state, params)
            return
        self._prepare(action_id, params, chosen)

    def _offer_recorded_restart(self, state: EngineState, params: dict[str, Any]) -> None:
        """A recorded, unfinished restart is offered as what it is: resume it, or discard it for the choice."""
        pending = state.restart_pending
        namespaces = list(dict.fromkeys(key.split("|", 3)[2] for key in pending if key.count("|") >= 3))
        chosen = ", ".join(map(str, params.get("namespaces") or [])) or "the chosen namespaces"
        word = "was interrupted" if state.restart_interrupted else "is recorded unfinished"
        question = (
            f"A restart of {len(pending):,} workloads {word}, in {', '.join(namespaces[:SUBTITLE_NAMES])}"
            f"{' and more' if len(namespaces) > SUBTITLE_NAMES else ''}.\n\n"
            f"Resume it (those workloads, with their recorded timestamp), or discard it and plan a restart of "
            f"{chosen} instead. Discarding leaves its remaining workloads as they are (journalled)."
        )
        scope = self.host.chosen()

        def answered(key: str | None) -> None:
            if key == "r":
                self._prepare(ActionId.RESTART, {"resume": True}, scope)
            elif key == "d":
                self._prepare(ActionId.RESTART, {**params, "discard": True}, scope)

        self.app.push_screen(
            ChoiceScreen(
                "An unfinished restart is recorded",
                question,
                {"r": "resume it", "d": f"discard it, restart {chosen}"},
            ),
            answered,
        )

    def _offer_verify_skip(self, state: EngineState) -> None:
        """Say why Finish waits for verify; typing `skip verify` and a reason records the skip (after its plan)."""
        verify = state.verify
        why = verify.reason if verify is not None else "verify has not run"

        def answered(text: str | None) -> None:
            if text is None:
                return
            words, _, reason = text.strip().partition(SKIP_WORDS)
            if words.strip() or not reason.strip(" :-"):
                self.notify(
                    f"Nothing was recorded: type `{SKIP_WORDS}` followed by the reason, or press v to verify.",
                    severity="warning",
                    timeout=8,
                )
                return
            self._prepare(ActionId.SKIP_VERIFY, {"reason": reason.strip(" :-")}, self.host.chosen())

        self.app.push_screen(
            AskScreen(
                "Finish waits for verify",
                f"{why}.\nTo finish without it, type `{SKIP_WORDS}` and the reason (it is journalled); esc cancels.",
            ),
            answered,
        )

    def _prepare(self, action_id: ActionId, params: dict[str, Any], chosen: Chosen) -> None:
        snap = self.host.snapshot
        assert snap is not None
        state = snap.state
        self.pending = (action_id, params)
        title = keymap.ENGINE_TITLES.get(action_id, "Skip verify")
        if action_id is ActionId.AMBIENT and params.get("to"):
            title = f"Ambient back: put istio-cni and ztunnel back on {params['to']}, node by node"
        confirm_word = None
        if action_id is ActionId.FINISH:
            phase = state.phase if state is not None else None
            confirm_word = offline_revision(phase, snap.view.source, snap.view.target) or snap.view.source
        elif action_id is ActionId.DELETE_PODS:
            confirm_word = "delete"  # nothing brings a bare pod back
        subtitle = _subtitle(action_id, params, chosen)
        read_only = self.settings.read_only or bool(state and state.read_only)
        self.plan_screen = PlanScreen(title, subtitle=subtitle, confirm_word=confirm_word, read_only=read_only)
        # A toast from the last action would sit on the plan's key line; it said what it had to.
        self.app.clear_notifications()

        def answered(answer: str | None) -> None:
            screen, self.plan_screen = self.plan_screen, None
            if answer == APPLY and screen is not None and screen.plan is not None:
                self.progress.start(screen.plan.title)
                self.runner.run(screen.plan)
                self.host.flow_changed()
            elif answer is not None:
                self._replan(action_id, params, answer, chosen)

        self.app.push_screen(self.plan_screen, answered)
        self.runner.prepare(action_id, snap.view, params)

    def _replan(self, action_id: ActionId, params: dict[str, Any], key: str, chosen: Chosen) -> None:
        """Plan the action again with the parameters of the alternative chosen in the plan dialog."""
        option = next((r for r in self.replans if r.key == key), None)
        if option is None:
            return
        if option.answer is None:
            self._prepare(action_id, {**params, **option.params}, chosen)
            return
        build = option.answer

        def answered(text: str | None) -> None:
            if text:
                self._prepare(action_id, {**params, **option.params, **build(text)}, chosen)

        self.app.push_screen(AskScreen(option.label.capitalize(), option.question, option.default), answered)

    def _namespace_param(self, keys: tuple[NsKey, ...]) -> list[str]:
        """Namespaces as the engine names them: `name`, or `cluster/name` in a multi-cluster mesh."""
        return [f"{c}/{n}" if self.multi_cluster else n for c, n in keys]

    def _params(self, action_id: ActionId, chosen: Chosen) -> dict[str, Any] | None:
        if action_id is ActionId.DELETE_PODS:
            return self._pod_param(chosen)
        if action_id in NAMESPACE_ACTIONS:
            if not chosen.namespaces:
                self.notify(
                    "Select namespaces first: space selects, a selects all the filter shows.",
                    severity="warning",
                    timeout=5,
                )
                return None
            params: dict[str, Any] = {"namespaces": self._namespace_param(chosen.namespaces)}
            if action_id is ActionId.RESTART:
                params.update(batch=self.settings.batch_size, pause=self.settings.batch_pause_s)
            return params
        return {}

    def _pod_param(self, chosen: Chosen) -> dict[str, Any] | None:
        """The pod under the cursor of the pods view, as the engine names it."""
        if chosen.pod is None:
            if chosen.cursor_namespace is not None:
                # Deleting is about one pod: open the namespace's pods rather than guess which.
                self.host.open_namespace(chosen.cursor_namespace)
                self.notify("Put the cursor on the pod to delete, then press ctrl+d again.", timeout=6)
            else:
                self.notify("Put the cursor on a pod first: enter opens a namespace's pods.", severity="warning")
            return None
        cluster, namespace, name = chosen.pod
        return {"pods": [f"{cluster}/{namespace}/{name}" if self.multi_cluster else f"{namespace}/{name}"]}

    def _choose_tag(self, snap: Snapshot) -> None:
        tags = sorted({(t.name, t.revision) for t in snap.view.tags})
        revisions = sorted({r.name for r in snap.view.revisions})
        if not tags:
            self.app.push_screen(MessageScreen("No tag to move", "This mesh has no revision tags."))
            return
        chosen = self.host.chosen()

        def picked(params: dict[str, Any] | None) -> None:
            if params:
                self._prepare(ActionId.MOVE_TAG, params, chosen)

        self.app.push_screen(TagScreen(tags, revisions), picked)

    def _explain_disabled(self, action: ActionState, state: EngineState, snap: Snapshot) -> None:
        view = snap.view
        keep = keep_of(action.id, state.phase, view.source, view.target, state.goal)
        away = view.source if keep == view.target else view.target
        found = offenders(view, keep, away) if keep else None
        if action.id == ActionId.FINISH and not action.offenders:
            found = None  # Finish waits for a choice, a plan or a verify run here, not for namespaces or pods
        can_jump = bool(action.offenders) or (found is not None and not found.empty)
        key = keymap.by_engine_action(action.id).display

        def answered(jump: bool | None) -> None:
            if jump:
                self.host.show_offenders(action, found)

        self.app.push_screen(DisabledScreen(action, key, can_jump), answered)

    def take_over(self) -> None:
        """Take the upgrade lock from another operator, after a confirmation."""
        snap = self.host.snapshot
        state = snap.state if snap is not None else None
        holder = state.lock.holder if state is not None else None

        def answered(yes: bool | None) -> None:
            if yes:
                self.runner.take_over()

        expired = state is not None and state.lock.expired
        self.app.push_screen(
            ConfirmScreen(
                "Take over the upgrade lock?",
                f"The lock is held by {holder}{' (its lease has expired)' if expired else ''}. Taking it over lets "
                "you write; if that operator is still working, two people will be changing the mesh. The take-over "
                "is recorded in the journal.",
            ),
            answered,
        )

    # -- runner messages ----------------------------------------------------------------------------

    @on(ActionRunner.Planned)
    def _planned(self, event: ActionRunner.Planned) -> None:
        if self.plan_screen is not None:
            self.plan_screen.show_plan(event.plan)
            params = self.pending[1] if self.pending is not None else {}
            snap = self.host.snapshot
            view = snap.view if snap is not None else None
            moving_to = params.get("to")
            if view is not None and moving_to is None:
                moving_to = view.source if event.plan.action is ActionId.GATEWAYS_BACK else view.target
            self.replans = replans(event.plan, params, self.settings.manifests_of(moving_to))
            self.plan_screen.show_options({r.key: r.label for r in self.replans})

    @on(ActionRunner.DryRunDone)
    def _dry_run(self, event: ActionRunner.DryRunDone) -> None:
        if self.plan_screen is not None and self.plan_screen.plan is event.plan:
            self.plan_screen.show_dry_run(event.outcome)

    @on(ActionRunner.DryRunChecked)
    def _dry_run_checked(self, event: ActionRunner.DryRunChecked) -> None:
        if self.plan_screen is not None and self.plan_screen.plan is event.plan:
            self.plan_screen.show_checked(event.done, event.total)

    @on(ActionRunner.Progressed)
    def _progressed(self, event: ActionRunner.Progressed) -> None:
        self.progress.update_progress(event.progress)

    @on(ActionRunner.Finished)
    def _finished(self, event: ActionRunner.Finished) -> None:
        self.progress.stop()
        # The next action key must act on a snapshot that shows this run (the record's phase, the labels).
        self._settle_ticket = self.host.ask_snapshot()
        self.host.flow_changed()
        self.runner.refresh_session()
        outcome = event.outcome
        applied = sum(1 for s in outcome.steps if s.result in (StepResult.APPLIED, StepResult.ALREADY))
        total = len(event.plan.operations)
        if outcome.refusal:
            # Refused on a fresh read (the cluster changed behind the dialog) or after the lock was lost.
            self.app.push_screen(
                MessageScreen(
                    f"{event.plan.title}: refused",
                    f"Applied {applied:,} of {total:,} steps; {refusal_sentence(outcome)}.",
                    "Nothing was overwritten and the refusal is in the journal. Review the tables: the plan is made "
                    "again from the current state when you run the action again.",
                )
            )
        elif event.aborted:
            aborted = f"{event.plan.title}: aborted after {applied:,} of {total:,} steps."
            self.notify(aborted, severity="warning", timeout=8)
        elif outcome.ok:
            if not total and event.plan.action is ActionId.VERIFY:
                done = "Verify: the checks ran; the Verify tab (3) shows the results."
            elif not total:
                done = f"{event.plan.title}: done (recorded; no object changed)."
            else:
                steps = "step" if total == 1 else "steps"
                done = f"{event.plan.title}: done ({applied:,} of {total:,} {steps} applied)."
            keep = event.plan.action in (ActionId.SWITCH, ActionId.SWITCH_BACK) and self.host.chosen().selected
            if keep:
                # Switching is followed by restarting the same namespaces: keep them selected for `r`.
                self.notify(f"{done} They stay selected: press r to restart them.", timeout=8)
            else:
                self.notify(done, timeout=6)
            self.host.run_ended(event.plan, keep)
        else:
            stopped = outcome.stopped_by
            detail = f"{stopped.operation.object_ref}: {stopped.message}" if stopped else "no step was applied"
            self.app.push_screen(
                MessageScreen(
                    f"{event.plan.title}: stopped",
                    f"Applied {applied:,} of {total:,} steps, then: {detail}.",
                    "Nothing was overwritten. Review the tables, then run the action again: it re-plans from the "
                    "current state and skips what is already done.",
                )
            )

    @on(ActionRunner.Refreshed)
    def _refreshed(self, _event: ActionRunner.Refreshed) -> None:
        self.host.ask_snapshot()

    @on(ActionRunner.TookOver)
    def _took_over(self, event: ActionRunner.TookOver) -> None:
        if event.held:
            self.notify("You hold the upgrade lock now.", timeout=5)
        else:
            self.app.push_screen(MessageScreen("The lock was not taken over", event.why or "no reason given"))
        self.runner.refresh_session()
        self.host.ask_snapshot()

    @on(ActionRunner.Failed)
    def _failed(self, event: ActionRunner.Failed) -> None:
        if event.stage == "refresh":
            self.host.session_problem(f"re-reading the upgrade record failed: {event.message}")
            return
        if event.stage in ("plan", "dry-run") and self.plan_screen is not None:
            self.plan_screen.show_failure(f"The engine could not {event.stage} this action: {event.message}")
            return
        self.progress.stop()
        self.host.flow_changed()
        self.app.push_screen(
            MessageScreen(
                f"{event.action}: {event.stage} failed",
                event.message,
                "Check the connection state in the header; the journal shows what was applied.",
            )
        )


def _plan_would_enable(action: ActionState, state: EngineState) -> bool:
    """Finish waits only for its offline plan to be shown: showing it is what planning does."""
    if action.id != "finish" or state.gates is None:
        return False
    codes = {c.code for c in state.gates.finish.conditions}
    return codes == {"plan_not_shown"} and len(action.reasons) == len(state.gates.finish.conditions)


def _read_only_only(action: ActionState) -> bool:
    """Read-only mode is all that holds the action: it shows its plan, and nothing can be applied."""
    return bool(action.why) and all(r.kind is ReasonKind.READ_ONLY for r in action.why)


def _waits_for_verify(action: ActionState, state: EngineState) -> bool:
    """Finish holds but for verify (and its plan, which planning shows): the operator may verify or skip."""
    if action.id != "finish" or state.gates is None:
        return False
    codes = {c.code for c in state.gates.finish.conditions}
    only = "verify" in codes and codes <= {"verify", "plan_not_shown"}
    return only and len(action.reasons) == len(state.gates.finish.conditions)


def _subtitle(action_id: ActionId, params: dict[str, Any], chosen: Chosen) -> str:
    """The plan dialog's line under its title: what the action was asked to act on."""
    if params.get("resume"):
        return "The recorded, unfinished restart (resumed as recorded)"
    if "pods" in params:
        return f"Pod under the cursor: {', '.join(map(str, params['pods']))}"
    names = params.get("namespaces")
    if names is not None:
        picked = "selected" if chosen.selected else "under the cursor"
        if chosen.hidden:
            picked += f", {chosen.hidden} of them hidden by the filter"
        shown = ", ".join(map(str, names[:SUBTITLE_NAMES]))
        extra = len(names) - SUBTITLE_NAMES
        more = f" and {extra} more (the plan lists them)" if extra > 0 else ""
        return f"Namespaces ({picked}): {shown}{more}"
    if action_id in GATEWAY_ACTIONS:
        return "Every gateway, each the way its kind is upgraded"
    if "tag" in params:
        return f"Tag {params['tag']} -> {params.get('to')}"
    if action_id is ActionId.AMBIENT:
        return f"istio-cni, then ztunnel node by node, configured against {params.get('to') or 'the target'}"
    return ""
