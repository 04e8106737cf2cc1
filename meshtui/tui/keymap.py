"""The one registry of keys and commands: it feeds the bindings, the key bar, the help screen and the palette.

Every command says where it applies (its scopes), so the key bar shows only what a key does here and
the help screen can list every key with the same words.
"""

from __future__ import annotations

from dataclasses import dataclass

from textual.binding import Binding

from meshtui.domain.actions import ACTIONS, ActionId

#: Each engine action's title by id (string keys: key bindings name actions as text; an ActionId finds its own).
ENGINE_TITLES: dict[str, str] = {action.value: title for action, title in ACTIONS}


def action_name(action_id: ActionId | str) -> str:
    """The action's one name on every surface (`Switch back`), from its engine title."""
    return ENGINE_TITLES[action_id].partition(":")[0]


def action_description(action_id: ActionId | str) -> str:
    """What the action does, after its name (`restore the selected namespaces' labels for the source`)."""
    return ENGINE_TITLES[action_id].partition(":")[2].strip()


# Scopes: where a command applies.
GLOBAL = "global"
TABLE = "table"  # any tab with a filterable table
NAMESPACES = "namespaces"
PODS = "pods"
GATEWAYS = "gateways"
AGENTS = "agents"
JOURNAL = "journal"
RUNNING = "running"  # while long work runs
LOCKED = "locked"  # while another operator holds the upgrade lock
DIALOG = "dialog"  # inside the plan and "disabled" dialogs (their own bindings; listed for help)
SCOPE_TITLES = {
    GLOBAL: "Anywhere",
    TABLE: "In tables",
    NAMESPACES: "Namespaces",
    PODS: "Pods",
    GATEWAYS: "Gateways",
    AGENTS: "Node agents",
    JOURNAL: "Journal",
    RUNNING: "While work runs",
    LOCKED: "While another operator holds the upgrade lock",
    DIALOG: "In dialogs",
}


@dataclass(frozen=True, slots=True)
class Command:
    """One key and what it does, worded once for the key bar, the help screen and the palette."""

    action: str  # the App action it runs, e.g. "engine('switch')"
    key: str  # Textual key name(s), comma-separated
    display: str  # how the key is shown
    label: str  # the key bar's short word
    description: str  # the help screen's and palette's sentence
    scopes: tuple[str, ...] = (GLOBAL,)
    engine: ActionId | None = None  # the engine action, for the enabled/disabled state
    bound: bool = True  # False when a widget owns the key (table navigation): listed in help only
    bar: int = 0  # key bar priority; 0 keeps it out of the key bar
    palette: bool = True
    priority: bool = False  # runs as the key arrives, before the keys typed after it are routed

    @property
    def id(self) -> str:
        """A stable id for keymaps and tests."""
        return self.engine or self.action.split("(")[0]


def _engine(action_id: ActionId, key: str, scopes: tuple[str, ...], bar: int) -> Command:
    description = action_description(action_id)
    return Command(
        action=f"engine('{action_id}')",
        key=key,
        display=key,
        label=action_name(action_id),
        description=description[0].upper() + description[1:],
        scopes=scopes,
        engine=action_id,
        bar=bar,
    )


NS_OR_PODS = (NAMESPACES, PODS)

COMMANDS: tuple[Command, ...] = (
    # -- going places
    Command("show_tab('control-plane')", "1", "1", "Control plane tab", "Show the Control plane tab", bar=0),
    Command(
        "show_tab('data-plane')", "2", "2", "Data plane tab", "Show the Data plane tab (namespaces, pods, gateways)"
    ),
    Command("show_tab('verify')", "3", "3", "Verify tab", "Show the Verify tab"),
    Command("show_tab('finish')", "4", "4", "Finish tab", "Show the Finish tab (Upgrade, Rollback, Finish)"),
    Command("show_tab('journal')", "5", "5", "Journal tab", "Show the Journal: every action taken or refused"),
    Command("show_view('namespaces')", "n", "n", "Namespaces view", "Show the namespaces (Data plane)"),
    Command("show_view('gateways')", "w", "w", "Gateways view", "Show the gateways (Data plane)"),
    Command("show_view('pods')", "P", "P", "All pods view", "Show every pod of the mesh (Data plane)"),
    Command(
        "show_view('agents')",
        "N",
        "N",
        "Node agents view",
        "Show the ambient node agents: each ztunnel and istio-cni pod, node by node (Data plane)",
    ),
    Command("help", "question_mark", "?", "Help", "Show every key", bar=99),
    Command(
        "command_palette", "colon", ":", "Commands", "Open the command palette (also ctrl+p)", bar=40, palette=False
    ),
    Command(
        "back", "escape", "esc", "Back", "Go back: close the pods, clear the filter, close a dialog", palette=False
    ),
    Command("quit", "q", "q", "Quit", "Quit (asks first while work runs); ctrl+c does the same", bar=60),
    Command("refresh", "ctrl+l", "ctrl+l", "Refresh", "Re-read the upgrade record, the lock and permissions"),
    # -- tables
    Command(
        "filter",
        "slash",
        "/",
        "Filter",
        "Filter the table: words match any column; rev:NAME, risk, todo, !word negates",
        scopes=(TABLE,),
        bar=90,
        palette=False,
        priority=True,  # the letters typed right after `/` belong to the filter it opens
    ),
    Command(
        "open",
        "enter",
        "enter",
        "Pods",
        "Open the pods of the namespace under the cursor (e shows its fields whole)",
        scopes=(NAMESPACES,),
        bound=False,
        bar=94,
        palette=False,
    ),
    Command(
        "toggle",
        "space",
        "space",
        "Select",
        "Select or deselect the row under the cursor",
        scopes=(NAMESPACES,),
        bound=False,
        bar=96,
        palette=False,
    ),
    Command(
        "detail",
        "enter",
        "enter",
        "Details",
        "Show the row under the cursor whole (pods, gateways, node agents, journal)",
        scopes=(PODS, GATEWAYS, AGENTS, JOURNAL),
        bound=False,
        bar=94,
        palette=False,
    ),
    Command("select_all", "a", "a", "All", "Select every row the filter shows", scopes=(NAMESPACES,), bar=70),
    Command("clear_selection", "c", "c", "Clear", "Deselect every row", scopes=(NAMESPACES,)),
    Command(
        "explain",
        "e",
        "e",
        "Explain",
        "Explain the revision the pod gets on restart; on a namespace, every field whole and its labels",
        scopes=(NAMESPACES, PODS),
        bar=85,
    ),
    Command("cursor", "up,k,down,j", "↑↓ j k", "Move", "Move the cursor", scopes=(TABLE,), bound=False, palette=False),
    Command("page", "pageup,pagedown", "pgup pgdn", "Page", "Move a page", scopes=(TABLE,), bound=False, palette=False),
    Command("ends", "home,g,end,G", "g G", "Ends", "First row, last row", scopes=(TABLE,), bound=False, palette=False),
    # -- engine actions (always visible; a disabled one says why when pressed)
    _engine(ActionId.START, "b", (GLOBAL,), 30),
    _engine(ActionId.DEPLOY, "d", (GLOBAL,), 29),
    _engine(ActionId.SWITCH, "s", NS_OR_PODS, 95),
    _engine(ActionId.SWITCH_BACK, "S", NS_OR_PODS, 20),
    _engine(ActionId.MOVE_TAG, "t", (GLOBAL,), 21),
    _engine(ActionId.RESTART, "r", NS_OR_PODS, 93),
    _engine(ActionId.DELETE_PODS, "ctrl+d", NS_OR_PODS, 60),
    _engine(ActionId.GATEWAYS, "m", (GATEWAYS,), 95),
    _engine(ActionId.GATEWAYS_BACK, "M", (GATEWAYS,), 93),
    _engine(ActionId.AMBIENT, "z", (GLOBAL,), 0),
    _engine(ActionId.VERIFY, "v", (GLOBAL,), 45),
    _engine(ActionId.UPGRADE, "U", (GLOBAL,), 91),
    _engine(ActionId.ROLLBACK, "R", (GLOBAL,), 50),
    _engine(ActionId.FINISH, "F", (GLOBAL,), 49),
    Command(
        "take_over",
        "T",
        "T",
        "Take over",
        "Take over the upgrade lock from another operator (asks first)",
        scopes=(LOCKED,),
        bar=97,
    ),
    # -- dialogs (bound by the dialogs themselves)
    Command(
        "dialog_apply",
        "enter,y",
        "enter y",
        "Apply",
        "Plan: apply it (after the dry run passed)",
        scopes=(DIALOG,),
        bound=False,
        palette=False,
    ),
    Command(
        "dialog_cancel",
        "escape,n",
        "esc n",
        "Cancel",
        "Plan: cancel; any other dialog: close",
        scopes=(DIALOG,),
        bound=False,
        palette=False,
    ),
    Command(
        "dialog_offenders",
        "o",
        "o",
        "Offenders",
        "Disabled action: show the offenders that hold it back",
        scopes=(DIALOG,),
        bound=False,
        palette=False,
    ),
    Command(
        "dialog_ignore_pdb",
        "i",
        "i",
        "Ignore PDBs",
        "Restart or Gateways plan: plan again ignoring PodDisruptionBudgets; Deploy plan: run istioctl",
        scopes=(DIALOG,),
        bound=False,
        palette=False,
    ),
    Command(
        "dialog_folder",
        "f",
        "f",
        "Folder",
        "Deploy or Gateways plan: give the folder of rendered manifests",
        scopes=(DIALOG,),
        bound=False,
        palette=False,
    ),
    Command(
        "dialog_helm",
        "h",
        "h",
        "Helm",
        "Deploy plan: run helm upgrade --install",
        scopes=(DIALOG,),
        bound=False,
        palette=False,
    ),
    # -- long work
    Command("pause", "p", "p", "Pause/resume", "Pause or resume the work in progress", scopes=(RUNNING,), bar=100),
    Command(
        "abort",
        "x",
        "x",
        "Abort",
        "Abort the work in progress after the current step (asks first)",
        scopes=(RUNNING,),
        bar=100,
    ),
)


def bindings() -> list[Binding]:
    """The App's bindings, one per bound command."""
    return [
        Binding(c.key, c.action, c.label, show=False, key_display=c.display, id=c.id, priority=c.priority)
        for c in COMMANDS
        if c.bound and c.key
    ]


def in_scope(command: Command, scopes: set[str]) -> bool:
    """True when the command applies in one of the active scopes."""
    return any(s in scopes for s in command.scopes)


def by_engine_action(action_id: ActionId | str) -> Command:
    """The command that runs an engine action."""
    return next(c for c in COMMANDS if c.engine == action_id)


def check_unique() -> None:
    """Raise if two bound commands share a key (a key must never do two things)."""
    seen: dict[str, str] = {}
    for c in COMMANDS:
        if not c.bound or not c.key:
            continue
        for key in c.key.split(","):
            if key in seen:
                raise ValueError(f"key {key!r} bound to both {seen[key]} and {c.id}")
            seen[key] = c.id


check_unique()
