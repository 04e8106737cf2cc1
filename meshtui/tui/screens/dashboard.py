"""The dashboard: header, the tabs of the four phases plus the journal, progress and the key bar.

It receives snapshots from the LiveFeed and hands each view its part (attributes down); key presses
become engine calls through the ActionRunner, whose messages drive the plan dialog and the progress.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any, ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.screen import Screen
from textual.widgets import TabbedContent, TabPane

from meshtui.domain.report import observed_phase
from meshtui.engine.api import ActionState, EngineState, Session
from meshtui.engine.executor import StepResult
from meshtui.tui import keymap, memory
from meshtui.tui.commands import MeshCommands
from meshtui.tui.feed import MeshSource, Snapshot, SnapshotBuilder
from meshtui.tui.offenders import keep_of, offenders, offline_revision
from meshtui.tui.replan import Replan, replans
from meshtui.tui.screens.ask import AskScreen
from meshtui.tui.screens.confirm import ConfirmScreen
from meshtui.tui.screens.disabled import DisabledScreen
from meshtui.tui.screens.explain import ExplainScreen
from meshtui.tui.screens.help import HelpScreen
from meshtui.tui.screens.message import MessageScreen
from meshtui.tui.screens.plan import APPLY, PlanScreen
from meshtui.tui.screens.tag import TagScreen
from meshtui.tui.settings import Clock, DashboardSettings
from meshtui.tui.views.control_plane import ControlPlaneView
from meshtui.tui.views.data_plane import DataPlaneView
from meshtui.tui.views.finish import FinishView
from meshtui.tui.views.journal import JournalView
from meshtui.tui.views.namespaces import NamespacesView
from meshtui.tui.views.table_view import TableView
from meshtui.tui.views.verify import VerifyView
from meshtui.tui.widgets.action_runner import ActionRunner
from meshtui.tui.widgets.key_bar import KeyBar
from meshtui.tui.widgets.live_feed import LiveFeed
from meshtui.tui.widgets.mesh_header import MeshHeader
from meshtui.tui.widgets.progress_panel import ProgressPanel

TABS = ("control-plane", "data-plane", "verify", "finish", "journal")
NAMESPACE_ACTIONS = ("switch", "switch-back", "restart")
GATEWAY_ACTIONS = ("gateways", "gateways-back")
_COMMAND_BY_ACTION = {c.action: c for c in keymap.COMMANDS}
#: A snapshot bringing more rows than this (a relist, the first load) is frozen out of the collector's scans.
FREEZE_AFTER_ROWS = 5_000


#: Namespaces named in a plan dialog's subtitle; a bulk selection of thousands would bury the plan.
SUBTITLE_NAMES = 8


class DashboardScreen(Screen[None]):
    """The one main screen; every key of the registry is bound here (dialogs shadow them)."""

    BINDINGS: ClassVar[list[BindingType]] = keymap.bindings()  # type: ignore[assignment]
    COMMANDS: ClassVar = {MeshCommands}

    DEFAULT_CSS = """
    DashboardScreen { layout: vertical; }
    DashboardScreen > TabbedContent { height: 1fr; }
    DashboardScreen TabPane { padding: 0; height: 1fr; }
    """

    def __init__(
        self,
        mesh: MeshSource,
        session: Session | None,
        settings: DashboardSettings,
        clock: Clock,
        *,
        session_problem: str = "",
    ) -> None:
        super().__init__()
        self.mesh = mesh
        self.session = session
        self.settings = settings
        self.clock = clock
        self.multi_cluster = len(mesh.clusters) > 1
        self.header = MeshHeader(settings.title)
        self.control_plane = ControlPlaneView(id="control-plane-view")
        self.data_plane = DataPlaneView(multi_cluster=self.multi_cluster, id="data-plane-view")
        self.verify = VerifyView(id="verify-view")
        self.finish = FinishView(id="finish-view")
        self.journal = JournalView(id="journal-view")
        self.progress = ProgressPanel(id="progress")
        self.key_bar = KeyBar(id="key-bar")
        builder = SnapshotBuilder(
            mesh, session, source=settings.source, target=settings.target, clock=clock, no_session=session_problem
        )
        self.feed = LiveFeed(mesh, builder, hz=settings.refresh_hz)
        self.runner = ActionRunner(session)
        self.snapshot: Snapshot | None = None
        self.plan_screen: PlanScreen | None = None
        self.note = ""
        self.session_note = ""
        self.pending: tuple[str, dict[str, Any]] | None = None
        self.synced_once = False
        self.replans: list[Replan] = []

    # -- layout -------------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield self.header
        with TabbedContent(initial="data-plane", id="tabs"):
            with TabPane("1 Control plane", id="control-plane"):
                yield self.control_plane
            with TabPane("2 Data plane", id="data-plane"):
                yield self.data_plane
            with TabPane("3 Verify", id="verify"):
                yield self.verify
            with TabPane("4 Finish", id="finish"):
                yield self.finish
            with TabPane("5 Journal", id="journal"):
                yield self.journal
        yield self.progress
        yield self.key_bar
        yield self.feed
        yield self.runner

    def on_mount(self) -> None:
        if self.settings.namespace_filter:
            self.data_plane.namespaces.set_filter(self.settings.namespace_filter)
        self.data_plane.namespaces.table.focus()
        self._update_key_bar()
        # The record, the lock and permissions change without a watch event (another operator).
        self.runner.refresh_session()
        self.set_interval(self.settings.session_refresh_s, self.runner.refresh_session, name="session-refresh")

    def on_screen_resume(self) -> None:
        # A key typed right after a dialog closed may have opened the filter before focus came back here.
        view = self._table_view()
        if view is not None and view.filtering:
            view.filter_input.focus()

    @property
    def tabs(self) -> TabbedContent:
        """The tab container."""
        return self.query_one("#tabs", TabbedContent)

    @property
    def engine_state(self) -> EngineState | None:
        """The engine state of the latest snapshot."""
        return self.snapshot.state if self.snapshot is not None else None

    def scopes(self) -> set[str]:
        """Where the operator is: the key bar and `check_action` read this."""
        scopes = {keymap.GLOBAL}
        active = self.tabs.active
        if active == "data-plane":
            scopes |= {keymap.TABLE, self.data_plane.current}
        elif active == "journal":
            scopes.add(keymap.TABLE)
        if self.runner.running:
            scopes.add(keymap.RUNNING)
        state = self.engine_state
        if state is not None and state.lock.holder and not state.lock.mine:
            scopes.add(keymap.LOCKED)
        return scopes

    def _update_key_bar(self) -> None:
        self.key_bar.show(self.scopes(), self.engine_state)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """A key works only where its command applies (the key bar shows the same)."""
        name = f"{action}({', '.join(repr(p) for p in parameters)})" if parameters else action
        command = _COMMAND_BY_ACTION.get(name)
        if command is None:
            return True
        return keymap.in_scope(command, self.scopes())

    # -- snapshots ----------------------------------------------------------------------------------

    @on(LiveFeed.Updated)
    def _snapshot(self, event: LiveFeed.Updated) -> None:
        snap = event.snapshot
        first = self.snapshot is None
        self.snapshot = snap
        view, state = snap.view, snap.state
        phase = state.phase if state is not None else observed_phase(view)
        self.note = snap.state_error if state is None else self.session_note
        if state is not None and not state.recorded and not self.note:
            self.note = "press b to begin" if state.action("start").enabled else "not started"
        if state is not None and state.restart_interrupted and not self.note:
            self.note = "restart interrupted: r resumes"
        self.header.show(
            health=snap.health,
            source=view.source,
            target=view.target,
            state=state,
            phase=phase,
            read_only=self.settings.read_only,
            taken_at=snap.taken_at,
            note=self.note,
        )
        dp = self.data_plane
        dp.namespaces.set_revisions(snap.revisions)
        dp.namespaces.apply_delta(snap.namespaces)
        dp.pods.apply_delta(snap.pods)
        dp.gateways.apply_delta(snap.gateways)
        self.journal.apply_delta(snap.journal)
        self.control_plane.show(view)
        self.verify.show(state)
        self.finish.show(view, state)
        loaded = snap.pods.reset is not None or len(snap.pods.upserts) > FREEZE_AFTER_ROWS
        if snap.synced and (not self.synced_once or loaded):
            # What was just loaded lives as long as the session: keep it out of the collector's scans.
            self.synced_once = True
            memory.freeze_loaded()
        if first or snap.synced:
            self._set_empty_messages(snap.synced)
        self._update_key_bar()

    def _set_empty_messages(self, synced: bool) -> None:
        if not synced:
            return
        dp = self.data_plane
        dp.namespaces.set_empty_message("No namespace matches: esc clears the filter.")
        dp.pods.set_empty_message("No pod here matches.")
        dp.gateways.set_empty_message("No gateway found.")

    @on(LiveFeed.Failed)
    def _feed_failed(self, event: LiveFeed.Failed) -> None:
        self.notify(
            f"Reading the mesh failed: {event.message}. Retrying on the next change.", severity="error", timeout=8
        )

    @on(TabbedContent.TabActivated)
    def _tab_changed(self, event: TabbedContent.TabActivated) -> None:
        self._focus_tab(event.pane.id or "")
        self._update_key_bar()

    def _focus_tab(self, tab: str) -> None:
        widget = {
            "control-plane": self.control_plane,
            "verify": self.verify,
            "finish": self.finish,
            "journal": self.journal.table,
        }.get(tab)
        if tab == "data-plane":
            widget = self.data_plane.active.table
        if widget is not None:
            widget.focus()

    # -- navigation ---------------------------------------------------------------------------------

    def action_show_tab(self, tab: str) -> None:
        """Show one of the five tabs."""
        if tab in TABS:
            self.tabs.active = tab
            self._focus_tab(tab)
            self._update_key_bar()

    def action_show_view(self, view: str) -> None:
        """Show namespaces, gateways, or every pod, in the Data plane tab."""
        if view == "pods":
            self.data_plane.pods.show_namespaces(None, "every namespace")
            self.data_plane.set_pods_title("All pods")
        self.tabs.active = "data-plane"
        self.data_plane.show(view)
        self._update_key_bar()

    def open_namespace(self, key: Hashable) -> None:
        """Show the pods of one namespace."""
        cluster, name = key  # type: ignore[misc]
        where = f"{cluster}/{name}" if self.multi_cluster else name
        self.data_plane.pods.show_namespaces({(cluster, name)}, f"namespace {where}")
        self.data_plane.set_pods_title(f"Pods of {where}")
        self.tabs.active = "data-plane"
        self.data_plane.show("pods")
        self._update_key_bar()

    @on(NamespacesView.Opened)
    def _opened(self, event: NamespacesView.Opened) -> None:
        self.open_namespace(event.key)

    def namespace_keys(self) -> list[tuple[str, str]]:
        """Every namespace of the latest snapshot (for the palette)."""
        if self.snapshot is None:
            return []
        return [(n.cluster, n.name) for n in self.snapshot.view.namespaces]

    def _table_view(self) -> TableView | None:
        if self.tabs.active == "data-plane":
            return self.data_plane.active
        if self.tabs.active == "journal":
            return self.journal
        return None

    def action_filter(self) -> None:
        """Open the filter of the table shown."""
        view = self._table_view()
        if view is not None:
            view.start_filter()

    def action_back(self) -> None:
        """Undo the last narrowing: filter input, pods, offender scope, filter text."""
        view = self._table_view()
        if view is not None and view.filtering:
            view.close_filter(clear=True)
            return
        if self.tabs.active == "data-plane" and self.data_plane.current == "pods":
            self.data_plane.show("namespaces")
            self._update_key_bar()
            return
        if view is not None and view._scope_note and view is self.data_plane.namespaces:
            self.data_plane.namespaces.show_only(None)
            return
        if view is not None and view.filter_text:
            view.set_filter("")

    def action_select_all(self) -> None:
        """Select every row the filter shows."""
        self.data_plane.active.table.select_all()

    def action_clear_selection(self) -> None:
        """Deselect every row."""
        self.data_plane.active.table.clear_selection()

    def action_explain(self) -> None:
        """Explain the namespace or pod under the cursor."""
        if self.snapshot is None:
            return
        view = self.snapshot.view
        key = self.data_plane.active.table.cursor_key
        if key is None:
            return
        if self.data_plane.current == "namespaces":
            row = view.namespace(*key)  # type: ignore[misc]
            if row is not None:
                self.app.push_screen(ExplainScreen(row))
            return
        cluster, namespace, name = key  # type: ignore[misc]
        pod = next((p for p in view.pods(cluster, namespace) if p.name == name), None)
        if pod is not None:
            self.app.push_screen(ExplainScreen(pod))

    def action_help(self) -> None:
        """Show every key."""
        self.app.push_screen(HelpScreen())

    def action_command_palette(self) -> None:
        """Open the command palette."""
        self.app.action_command_palette()

    def action_refresh(self) -> None:
        """Re-read the upgrade record, the lock and permissions, then redraw."""
        self.runner.refresh_session()
        self.feed.refresh_now()
        self.notify("Re-reading the upgrade record, the lock and permissions…", timeout=3)

    def action_quit(self) -> None:
        """Quit, asking first while work runs."""
        if not self.runner.running:
            self.app.exit()
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self.runner.abort()
                self.app.exit()

        self.app.push_screen(
            ConfirmScreen(
                "Work is running",
                "Quit anyway? The run stops after its current step; every step so far is in the journal, and "
                "running the same action again finishes it.",
            ),
            answered,
        )

    # -- long work ----------------------------------------------------------------------------------

    def action_pause(self) -> None:
        """Pause or resume the run in progress."""
        paused = self.runner.toggle_pause()
        self.progress.set_paused(paused)
        self.notify("Paused before the next step: p resumes." if paused else "Resumed.", timeout=3)

    def action_abort(self) -> None:
        """Abort the run in progress after its current step (asks first)."""

        def answered(yes: bool | None) -> None:
            if yes:
                self.runner.abort()
                self.progress.set_paused(False)
                self.notify("Aborting after the current step…", timeout=4)

        self.app.push_screen(
            ConfirmScreen(
                "Abort?", "Stop after the current step? Steps already applied stay applied and are in the journal."
            ),
            answered,
        )

    # -- engine actions -----------------------------------------------------------------------------

    def action_engine(self, action_id: str) -> None:
        """Open the plan of an engine action, or say why it is disabled."""
        snap = self.snapshot
        if snap is None:
            self.notify("Still reading the cluster: try again in a moment.", timeout=4)
            return
        if self.runner.running or self.runner.preparing:
            self.notify(
                "Another action is in progress: wait for it, or pause (p) or abort (x) it.",
                severity="warning",
                timeout=5,
            )
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
        if not action.enabled and not self._plan_would_enable(action, state):
            self._explain_disabled(action, state)
            return
        if action_id == "move-tag":
            self._choose_tag()
            return
        params = self._params(action_id)
        if params is None:
            return
        self._prepare(action_id, params)

    @staticmethod
    def _plan_would_enable(action: ActionState, state: EngineState) -> bool:
        """Finish waits only for its offline plan to be shown: showing it is what planning does."""
        if action.id != "finish" or state.gates is None:
            return False
        codes = {c.code for c in state.gates.finish.conditions}
        return codes == {"plan_not_shown"} and len(action.reasons) == len(state.gates.finish.conditions)

    def _prepare(self, action_id: str, params: dict[str, Any]) -> None:
        snap = self.snapshot
        assert snap is not None
        state = snap.state
        self.pending = (action_id, params)
        title = keymap.ENGINE_TITLES[action_id]
        confirm_word = None
        if action_id == "finish":
            phase = state.phase if state is not None else None
            confirm_word = offline_revision(phase, snap.view.source, snap.view.target) or snap.view.source
        elif action_id == "delete-pods":
            confirm_word = "delete"  # nothing brings a bare pod back
        subtitle = self._subtitle(action_id, params)
        read_only = self.settings.read_only or bool(state and state.read_only)
        self.plan_screen = PlanScreen(title, subtitle=subtitle, confirm_word=confirm_word, read_only=read_only)
        # A toast from the last action would sit on the plan's key line; it said what it had to.
        self.app.clear_notifications()

        def answered(answer: str | None) -> None:
            screen, self.plan_screen = self.plan_screen, None
            if answer == APPLY and screen is not None and screen.plan is not None:
                self.progress.start(screen.plan.title)
                self.runner.run(screen.plan)
                self._update_key_bar()
            elif answer is not None:
                self._replan(action_id, params, answer)

        self.app.push_screen(self.plan_screen, answered)
        self.runner.prepare(action_id, snap.view, params)

    def _replan(self, action_id: str, params: dict[str, Any], key: str) -> None:
        """Plan the action again with the parameters of the alternative chosen in the plan dialog."""
        option = next((r for r in self.replans if r.key == key), None)
        if option is None:
            return
        if option.answer is None:
            self._prepare(action_id, {**params, **option.params})
            return
        build = option.answer

        def answered(text: str | None) -> None:
            if text:
                self._prepare(action_id, {**params, **option.params, **build(text)})

        self.app.push_screen(AskScreen(option.label.capitalize(), option.question, option.default), answered)

    def _subtitle(self, action_id: str, params: dict[str, Any]) -> str:
        if "pods" in params:
            return f"Pod under the cursor: {', '.join(map(str, params['pods']))}"
        names = params.get("namespaces")
        if names is not None:
            picked = "selected" if self.data_plane.namespaces.table.selected_keys else "under the cursor"
            shown = ", ".join(map(str, names[:SUBTITLE_NAMES]))
            extra = len(names) - SUBTITLE_NAMES
            more = f" and {extra} more (the plan lists them)" if extra > 0 else ""
            return f"Namespaces ({picked}): {shown}{more}"
        if action_id in GATEWAY_ACTIONS:
            return "Every gateway, each the way its kind is upgraded"
        if "tag" in params:
            return f"Tag {params['tag']} -> {params.get('to')}"
        return ""

    def _namespace_param(self, keys: list[Hashable]) -> list[str]:
        """Namespaces as the engine names them: `name`, or `cluster/name` in a multi-cluster mesh."""
        return [f"{c}/{n}" if self.multi_cluster else n for c, n in keys]  # type: ignore[misc]

    def _params(self, action_id: str) -> dict[str, Any] | None:
        if action_id == "delete-pods":
            return self._pod_param()
        if action_id in NAMESPACE_ACTIONS:
            keys: list[Hashable] = self.data_plane.namespaces.selected
            if not keys:
                cursor = self._cursor_namespace()
                if cursor is None:
                    self.notify(
                        "Select namespaces first: space selects, a selects all the filter shows.",
                        severity="warning",
                        timeout=5,
                    )
                    return None
                keys = [cursor]
            params: dict[str, Any] = {"namespaces": self._namespace_param(keys)}
            if action_id == "restart":
                params.update(batch=self.settings.batch_size, pause=self.settings.batch_pause_s)
            return params
        return {}

    def _pod_param(self) -> dict[str, Any] | None:
        """The pod under the cursor of the pods view, as the engine names it."""
        key = self.data_plane.pods.table.cursor_key if self.data_plane.current == "pods" else None
        if key is None:
            self.notify(
                "Put the cursor on a pod first: enter opens a namespace's pods.", severity="warning", timeout=5
            )
            return None
        cluster, namespace, name = key  # type: ignore[misc]
        return {"pods": [f"{cluster}/{namespace}/{name}" if self.multi_cluster else f"{namespace}/{name}"]}

    def _cursor_namespace(self) -> Hashable | None:
        if self.data_plane.current == "pods":
            scope = self.data_plane.pods.namespaces
            if scope is not None and len(scope) == 1:
                return next(iter(scope))
            key = self.data_plane.pods.table.cursor_key
            return (key[0], key[1]) if key is not None else None  # type: ignore[index]
        return self.data_plane.namespaces.table.cursor_key

    def _choose_tag(self) -> None:
        snap = self.snapshot
        assert snap is not None
        tags = sorted({(t.name, t.revision) for t in snap.view.tags})
        revisions = sorted({r.name for r in snap.view.revisions})
        if not tags:
            self.app.push_screen(MessageScreen("No tag to move", "This mesh has no revision tags."))
            return

        def chosen(params: dict[str, Any] | None) -> None:
            if params:
                self._prepare("move-tag", params)

        self.app.push_screen(TagScreen(tags, revisions), chosen)

    def _explain_disabled(self, action: ActionState, state: EngineState) -> None:
        snap = self.snapshot
        assert snap is not None
        view = snap.view
        keep = keep_of(action.id, state.phase, view.source, view.target)
        away = view.source if keep == view.target else view.target
        found = offenders(view, keep, away) if keep else None
        can_jump = bool(action.offenders) or (found is not None and not found.empty)
        key = keymap.by_engine_action(action.id).display

        def answered(jump: bool | None) -> None:
            if jump:
                self._jump_to_offenders(action, found)

        self.app.push_screen(DisabledScreen(action, key, can_jump), answered)

    def _jump_to_offenders(self, action: ActionState, found: Any) -> None:
        dp = self.data_plane
        note = f"holding back {keymap.by_engine_action(action.id).label}"
        if found is not None and found.namespaces:
            dp.namespaces.set_filter("")
            dp.namespaces.show_only(set(found.namespaces), note + " (esc shows all)")
            self.action_show_view("namespaces")
        elif found is not None and found.gateways:
            dp.gateways.set_filter("")
            self.action_show_view("gateways")
        elif found is not None and found.tags:
            self.action_show_tab("control-plane")
        elif action.offenders:
            kind, names = action.offenders
            cluster = self.mesh.clusters[0] if self.mesh.clusters else ""
            if kind == "pods":
                keys = {(cluster, *n.split("/", 1)) for n in names if "/" in n}
                dp.pods.show_keys(keys, note)  # type: ignore[arg-type]
                dp.set_pods_title("Offending pods")
                self.action_show_view("pods")
            else:
                dp.namespaces.show_only({(cluster, n) for n in names}, note + " (esc shows all)")
                self.action_show_view("namespaces")

    # -- runner messages ----------------------------------------------------------------------------

    @on(ActionRunner.Planned)
    def _planned(self, event: ActionRunner.Planned) -> None:
        if self.plan_screen is not None:
            self.plan_screen.show_plan(event.plan)
            params = self.pending[1] if self.pending is not None else {}
            view = self.snapshot.view if self.snapshot is not None else None
            moving_to = None
            if view is not None:
                moving_to = view.source if event.plan.action == "gateways-back" else view.target
            self.replans = replans(event.plan, params, self.settings.manifests_of(moving_to))
            if self.replans:
                self.plan_screen.show_options({r.key: r.label for r in self.replans})

    @on(ActionRunner.DryRunDone)
    def _dry_run(self, event: ActionRunner.DryRunDone) -> None:
        if self.plan_screen is not None and self.plan_screen.plan is event.plan:
            self.plan_screen.show_dry_run(event.outcome)

    @on(ActionRunner.Progressed)
    def _progressed(self, event: ActionRunner.Progressed) -> None:
        self.progress.update_progress(event.progress)

    @on(ActionRunner.Finished)
    def _finished(self, event: ActionRunner.Finished) -> None:
        self.progress.stop()
        self._update_key_bar()
        self.runner.refresh_session()
        self.feed.refresh_now()
        outcome = event.outcome
        applied = sum(1 for s in outcome.steps if s.result in (StepResult.APPLIED, StepResult.ALREADY))
        total = len(event.plan.operations)
        if event.aborted:
            self.notify(f"{event.plan.title}: aborted after {applied} of {total} steps.", severity="warning", timeout=8)
        elif outcome.ok:
            done = f"{event.plan.title}: done ({applied} of {total} steps applied)."
            if event.plan.action in ("switch", "switch-back") and self.data_plane.namespaces.table.selected_keys:
                # Switching is followed by restarting the same namespaces: keep them selected for `r`.
                self.notify(f"{done} They stay selected: press r to restart them.", timeout=8)
            else:
                self.notify(done, timeout=6)
                self.data_plane.namespaces.table.clear_selection()
        else:
            stopped = outcome.stopped_by
            detail = f"{stopped.operation.object_ref}: {stopped.message}" if stopped else "no step was applied"
            self.app.push_screen(
                MessageScreen(
                    f"{event.plan.title}: stopped",
                    f"Applied {applied} of {total} steps, then: {detail}.",
                    "Nothing was overwritten. Review the tables, then run the action again: it re-plans from the "
                    "current state and skips what is already done.",
                )
            )

    @on(ActionRunner.Refreshed)
    def _refreshed(self, _event: ActionRunner.Refreshed) -> None:
        self.feed.refresh_now()

    def action_take_over(self) -> None:
        """Take the upgrade lock from another operator, after a confirmation."""
        state = self.engine_state
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

    @on(ActionRunner.TookOver)
    def _took_over(self, event: ActionRunner.TookOver) -> None:
        if event.held:
            self.notify("You hold the upgrade lock now.", timeout=5)
        else:
            self.app.push_screen(MessageScreen("The lock was not taken over", event.why or "no reason given"))
        self.runner.refresh_session()
        self.feed.refresh_now()

    @on(ActionRunner.Failed)
    def _failed(self, event: ActionRunner.Failed) -> None:
        if event.stage == "refresh":
            self.session_note = f"re-reading the upgrade record failed: {event.message}"
            return
        if event.stage in ("plan", "dry-run") and self.plan_screen is not None:
            self.plan_screen.show_failure(f"The engine could not {event.stage} this action: {event.message}")
            return
        self.progress.stop()
        self._update_key_bar()
        self.app.push_screen(
            MessageScreen(
                f"{event.action}: {event.stage} failed",
                event.message,
                "Check the connection state in the header; the journal shows what was applied.",
            )
        )
