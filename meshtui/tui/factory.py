"""The one place the dashboard is built, the same way for production, the demo and the tests."""

from __future__ import annotations

from collections.abc import Sequence

from meshtui.cluster.kubeconfig import ClusterTarget
from meshtui.cluster.live import MeshWatch
from meshtui.domain.inventory import Inventory
from meshtui.engine.api import Session
from meshtui.tui.app import MeshApp
from meshtui.tui.feed import MeshSource, WatchedMesh, describe_error
from meshtui.tui.settings import Clock, DashboardSettings, system_clock
from meshtui.tui.startup import Starter


def watch_targets(targets: Sequence[ClusterTarget]) -> WatchedMesh:
    """A MeshWatch over the targets, feeding a fresh inventory; started by the app, stopped by the caller."""
    inventory = Inventory()
    for target in targets:
        inventory.add_cluster(target.name, target.server)
    watch = MeshWatch(list(targets), inventory)
    return WatchedMesh(watch, inventory, owned=True)


def build_app(
    mesh: MeshSource | MeshWatch | Sequence[ClusterTarget],
    session: Session | None,
    *,
    clock: Clock = system_clock,
    settings: DashboardSettings | None = None,
    inventory: Inventory | None = None,
    session_problem: str = "",
) -> MeshApp:
    """The dashboard over a mesh source, a MeshWatch (with its `inventory`) or kube targets.

    A MeshWatch passed in stays the caller's to start and stop; one built from targets is started by
    the app on mount and must be stopped by the caller (`app.mesh.stop()`).
    """
    settings = settings or DashboardSettings()
    source: MeshSource
    if isinstance(mesh, MeshWatch):
        if inventory is None:
            raise ValueError("a MeshWatch needs its inventory")
        source = WatchedMesh(mesh, inventory, owned=False)
    elif isinstance(mesh, (list, tuple)):
        source = watch_targets(mesh)
    else:
        source = mesh  # type: ignore[assignment]
    return MeshApp(source, session, settings, clock, session_problem=session_problem)


def make_session(
    targets: list[ClusterTarget], settings: DashboardSettings, clock: Clock = system_clock
) -> tuple[Session | None, str]:
    """The engine's session over the targets (reads the upgrade record: blocking), or None and why not."""
    from meshtui.engine.session import EngineSession

    try:
        session = EngineSession(
            targets, None, read_only=settings.read_only, source=settings.source, target=settings.target, clock=clock
        )
    except Exception as exc:
        return None, f"the upgrade engine could not start: {describe_error(exc)}"
    return session, ""


def build_starting_app(starter: Starter, settings: DashboardSettings, *, clock: Clock = system_clock) -> MeshApp:
    """The dashboard drawn at once over a starter that prepares its mesh and session on a thread.

    Until the starter is done a loading screen names each stage; `settings` give the theme, mouse and title
    until then, the starter's own settings the dashboard's.
    """
    return MeshApp(None, None, settings, clock, starter=starter)
