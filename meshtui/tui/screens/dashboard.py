"""The dashboard: header, the tabs of the four phases plus the journal, progress and the key bar.

It receives snapshots from the LiveFeed and hands each view its part (attributes down); key presses
become engine calls through the ActionRunner, whose messages drive the plan dialog and the progress.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import ClassVar, cast

from textual import on
from textual.actions import SkipAction
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.screen import Screen
from textual.widgets import Input, TabbedContent, TabPane

from meshtui.domain.actions import ActionId
from meshtui.domain.plan import Plan
from meshtui.domain.report import observed_phase
from meshtui.engine.api import ActionState, EngineState, Session
from meshtui.tui import keymap, memory
from meshtui.tui.commands import MeshCommands
from meshtui.tui.detail_text import journal_extra
from meshtui.tui.feed import MeshSource, Snapshot, SnapshotBuilder
from meshtui.tui.offenders import Offenders, keep_of, offenders
from meshtui.tui.screens.confirm import ConfirmScreen
from meshtui.tui.screens.detail import DetailScreen
from meshtui.tui.screens.explain import ExplainScreen, namespace_explanation, pod_explanation
from meshtui.tui.screens.help import HelpScreen
from meshtui.tui.settings import Clock, DashboardSettings
from meshtui.tui.views.control_plane import ControlPlaneView
from meshtui.tui.views.data_plane import DataPlaneView
from meshtui.tui.views.finish import FinishView
from meshtui.tui.views.journal import JournalView
from meshtui.tui.views.namespaces import NamespacesView
from meshtui.tui.views.table_view import TableView
from meshtui.tui.views.verify import VerifyView
from meshtui.tui.widgets.action_flow import ActionFlow, Chosen, NsKey, PodKey
from meshtui.tui.widgets.action_runner import ActionRunner
from meshtui.tui.widgets.key_bar import KeyBar
from meshtui.tui.widgets.live_feed import LiveFeed
from meshtui.tui.widgets.mesh_header import MeshHeader
from meshtui.tui.widgets.progress_panel import ProgressPanel

TABS = ("control-plane", "data-plane", "verify", "finish", "journal")
_COMMAND_BY_ACTION = {c.action: c for c in keymap.COMMANDS}
#: A snapshot bringing more rows than this (a relist, the first load) is frozen out of the collector's scans.
FREEZE_AFTER_ROWS = 5_000


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
        self.flow = ActionFlow(self, session, settings, self.progress)
        self.flow.multi_cluster = self.multi_cluster
        self.snapshot: Snapshot | None = None
        self.note = ""
        self.session_note = ""
        self.synced_once = False
        self.quit_asked = False
        #: The latest feed request this screen has taken the answer of (see `has_snapshot`).
        self._answered = 0
        #: The action whose offenders the namespaces view is narrowed to (o in a "disabled" dialog), if any.
        self.offender_scope: str | None = None

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
        yield self.flow

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
    def runner(self) -> ActionRunner:
        """The action flow's runner (running, preparing, pause and abort)."""
        return self.flow.runner

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
            scopes |= {keymap.TABLE, keymap.JOURNAL}
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
        self._answered = max(self._answered, event.ticket)
        snap = event.snapshot
        first = self.snapshot is None
        self.snapshot = snap
        view, state = snap.view, snap.state
        phase = state.phase if state is not None else observed_phase(view)
        self.note = snap.state_error if state is None else self.session_note
        if state is not None and not state.recorded and not self.note:
            self.note = "b starts the upgrade" if state.action("start").enabled else "not started"
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
        dp.agents.apply_delta(snap.agents)
        self.journal.apply_delta(snap.journal)
        if state is not None:
            self.journal.show_archive(state.journal_total, state.journal_archive)
        self._refresh_offender_scope()
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

    def _refresh_offender_scope(self) -> None:
        """Keep "holding back X" to what still holds X back; drop it, and say so, once nothing does."""
        action, snap = self.offender_scope, self.snapshot
        namespaces = self.data_plane.namespaces
        if action is None or snap is None:
            return
        if not namespaces.scope_note:
            self.offender_scope = None  # esc showed everything again
            return
        view, state = snap.view, snap.state
        keep = keep_of(action, state.phase if state is not None else None, view.source, view.target)
        away = view.source if keep == view.target else view.target
        found = offenders(view, keep, away) if keep else None
        name = keymap.action_name(action)
        if found is None or not found.namespaces:
            self.offender_scope = None
            namespaces.show_only(None)
            self.notify(f"No namespace holds {name} back any more: showing every namespace.", timeout=6)
            return
        if found.namespaces != namespaces.scope_keys:
            namespaces.show_only(set(found.namespaces), namespaces.scope_note)

    def _set_empty_messages(self, synced: bool) -> None:
        if not synced:
            return
        dp = self.data_plane
        dp.namespaces.set_empty_message("No namespace matches: esc clears the filter.")
        dp.pods.set_empty_message("No pod here matches.")
        dp.gateways.set_empty_message("No gateway found.")
        dp.agents.set_empty_message("No ambient node agent (ztunnel, istio-cni): this mesh has no ambient data plane.")

    @on(LiveFeed.Unchanged)
    def _unchanged(self, event: LiveFeed.Unchanged) -> None:
        self._answered = max(self._answered, event.ticket)
        self._update_key_bar()

    @on(LiveFeed.Failed)
    def _feed_failed(self, event: LiveFeed.Failed) -> None:
        self._answered = max(self._answered, event.ticket)
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
        """Show namespaces, gateways, node agents or every pod, in the Data plane tab."""
        if view == "pods":
            self.data_plane.pods.show_namespaces(None, "every namespace")
            self.data_plane.set_pods_title("All pods")
        self._show_data_view(view)

    def _show_data_view(self, view: str) -> None:
        self.tabs.active = "data-plane"
        self.data_plane.show(view)
        self._update_key_bar()

    def open_namespace(self, key: Hashable) -> None:
        """Show the pods of one namespace."""
        cluster, name = cast(NsKey, key)
        where = f"{cluster}/{name}" if self.multi_cluster else name
        self.data_plane.pods.show_namespaces({(cluster, name)}, f"namespace {where}")
        self.data_plane.set_pods_title(f"Pods of {where}")
        self.tabs.active = "data-plane"
        self.data_plane.show("pods")
        self._update_key_bar()

    @on(NamespacesView.Opened)
    def _opened(self, event: NamespacesView.Opened) -> None:
        self.open_namespace(event.key)

    @on(TableView.RowOpened)
    def _row_opened(self, event: TableView.RowOpened) -> None:
        self.show_detail(event.view, event.key)

    def show_detail(self, view: TableView, key: Hashable) -> None:
        """The row under the cursor whole, with what explains it (a pod's revisions, a journal entry's changes)."""
        row = view.table.get_row(key)
        if row is None or self.snapshot is None:
            return
        columns = view.table.columns
        extra = None
        title = "Row"
        if view is self.data_plane.pods:
            cluster, namespace, name = cast(PodKey, key)
            pod = next((p for p in self.snapshot.view.pods(cluster, namespace) if p.name == name), None)
            extra = pod_explanation(pod) if pod is not None else None
            title = f"Pod {namespace}/{name}"
        elif view is self.data_plane.namespaces:
            cluster, name = cast(NsKey, key)
            ns = self.snapshot.view.namespace(cluster, name)
            extra = namespace_explanation(ns) if ns is not None else None
            title = f"Namespace {name}"
        elif view is self.data_plane.gateways:
            title = f"Gateway {key[1]}/{key[2]}"  # type: ignore[index]
        elif view is self.data_plane.agents:
            title = f"Node agent {key[3]}/{key[4]}"  # type: ignore[index]
        elif view is self.journal:
            state = self.snapshot.state
            lines = state.journal if state is not None else ()
            index = int(key)  # type: ignore[call-overload]
            if 0 <= index < len(lines):
                extra = journal_extra(lines[index])
            title = f"Journal entry {index + 1} of {len(lines)}"
        self.app.push_screen(DetailScreen(title, columns, row, extra))

    # -- engine actions (the ActionFlow does the work; this is its host) ------------------------------

    def action_engine(self, action_id: str) -> None:
        """Open the plan of an engine action, or say why it is disabled."""
        self.flow.engine(ActionId(action_id))  # the key map's action strings name ActionId values

    def action_engine_back(self, action_id: str) -> None:
        """Open the plan of an engine action towards the source (ambient back)."""
        self.flow.engine(ActionId(action_id), back=True)

    def action_take_over(self) -> None:
        """Take the upgrade lock from another operator, after a confirmation."""
        self.flow.take_over()

    def chosen(self) -> Chosen:
        """What the operator points at: the selected namespaces, else the one under the cursor; the pod under it."""
        dp = self.data_plane
        table = dp.namespaces.table
        selected: tuple[NsKey, ...] = tuple(dp.namespaces.selected)  # type: ignore[arg-type]
        namespaces = selected
        if not namespaces:
            cursor = self._cursor_namespace()
            namespaces = (cursor,) if cursor is not None else ()
        pod: PodKey | None = dp.pods.table.cursor_key if dp.current == "pods" else None  # type: ignore[assignment]
        under: NsKey | None = table.cursor_key if dp.current == "namespaces" else None  # type: ignore[assignment]
        return Chosen(
            view=dp.current,
            namespaces=namespaces,
            selected=bool(selected),
            hidden=table.hidden_selected_count() if selected else 0,
            pod=pod,
            cursor_namespace=under,
        )

    def _cursor_namespace(self) -> NsKey | None:
        dp = self.data_plane
        if dp.current == "pods":
            scope = dp.pods.namespaces
            if scope is not None and len(scope) == 1:
                return next(iter(scope))
            key = dp.pods.table.cursor_key
            return (key[0], key[1]) if key is not None else None  # type: ignore[index]
        return dp.namespaces.table.cursor_key  # type: ignore[return-value]

    def show_offenders(self, action: ActionState, found: Offenders | None) -> None:
        """Narrow the tables to what holds `action` back (o in a "disabled" dialog)."""
        dp = self.data_plane
        note = f"holding back {keymap.by_engine_action(action.id).label}"
        if found is not None and found.namespaces:
            dp.namespaces.set_filter("")
            dp.namespaces.show_only(set(found.namespaces), note + " (esc shows all)")
            self.offender_scope = action.id  # kept current as namespaces finish (_refresh_offender_scope)
            self.action_show_view("namespaces")
        elif found is not None and found.gateways:
            dp.gateways.set_filter("")
            self.action_show_view("gateways")
        elif found is not None and found.tags:
            self.action_show_tab("control-plane")
        elif action.offenders:
            kind, names = action.offenders
            if kind == "pods":
                pods = {key for n in names if len(key := self._offender_key(n)) == 3}
                dp.pods.show_keys(pods, note)  # type: ignore[arg-type]
                dp.set_pods_title("Offending pods")
                self._show_data_view("pods")  # not action_show_view: that shows every pod again
            else:
                spaces = {key for n in names if len(key := self._offender_key(n)) == 2}
                dp.namespaces.show_only(spaces, note + " (esc shows all)")  # type: ignore[arg-type]
                self.action_show_view("namespaces")

    def _offender_key(self, name: str) -> tuple[str, ...]:
        """A gate's offender name as a table key: `ns` or `ns/pod`, led by `cluster/` in a multi-cluster mesh."""
        if self.multi_cluster:
            cluster, _, rest = name.partition("/")
        else:
            cluster, rest = (self.mesh.clusters[0] if self.mesh.clusters else ""), name
        return (cluster, *rest.split("/", 1)) if rest else ()

    def run_ended(self, plan: Plan, keep_selection: bool) -> None:
        """A run ended well: the selection goes unless the next step (restart after switch) takes it."""
        if not keep_selection:
            self.data_plane.namespaces.table.clear_selection()

    def flow_changed(self) -> None:
        """The flow started or stopped running: the key bar follows."""
        self._update_key_bar()

    def ask_snapshot(self) -> int:
        """Ask the feed for a snapshot now."""
        return self.feed.refresh_now()

    def has_snapshot(self, ticket: int) -> bool:
        """True once this screen has taken the feed's answer to request `ticket` (a snapshot, or nothing new)."""
        return self._answered >= ticket

    def session_problem(self, message: str) -> None:
        """Re-reading the record failed: the header's note says so until the next snapshot with a state."""
        self.session_note = message

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
        if isinstance(self.focused, Input):
            raise SkipAction  # `/` is bound ahead of every widget (see keymap): here it is text to type
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
        if view is not None and view.scope_note and view is self.data_plane.namespaces:
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
            self.show_detail(self.data_plane.namespaces, key)
            return
        cluster, namespace, name = cast(PodKey, key)
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
        self.ask_snapshot()
        self.notify("Re-reading the upgrade record, the lock and permissions…", timeout=3)

    def action_quit(self) -> None:
        """Quit, asking first while work runs."""
        if not self.runner.running:
            self.app.exit()
            return
        if self.quit_asked:
            return  # one question at a time (q then ctrl+c, or ctrl+c twice)
        self.quit_asked = True

        def answered(yes: bool | None) -> None:
            self.quit_asked = False
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
