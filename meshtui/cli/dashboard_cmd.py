"""`meshtui` (no subcommand): open the dashboard on the current kubeconfig context(s)."""

from __future__ import annotations

import argparse
import sys

from meshtui.cli import exitcodes
from meshtui.cli.tty_line import while_showing
from meshtui.cluster.errors import ClusterError
from meshtui.cluster.kubeconfig import ClusterTarget, connect
from meshtui.cluster.probe import probe
from meshtui.tui.logfile import setup_logging
from meshtui.tui.settings import DashboardSettings, mouse_from_env, theme_from_env
from meshtui.tui.startup import Closer, Report, Started, Starter


def settings_from_args(args: argparse.Namespace) -> DashboardSettings:
    """The dashboard settings from the command line and the environment ($MESHTUI_THEME, $MESHTUI_MOUSE)."""
    return DashboardSettings(
        source=getattr(args, "source", None),
        target=getattr(args, "target", None),
        read_only=bool(getattr(args, "read_only", False)),
        namespace_filter=getattr(args, "namespace_filter", None) or "",
        theme=theme_from_env(getattr(args, "theme", None)),
        mouse=mouse_from_env(),
    )


#: The kinds that say which revisions exist (webhooks, injector ConfigMaps, istiod Services and Deployments).
REVISION_KINDS = (
    "MutatingWebhookConfiguration",
    "ValidatingWebhookConfiguration",
    "ConfigMap",
    "Service",
    "Deployment",
)


def pair_problem_of(targets: list[ClusterTarget], source: str | None, target: str | None) -> str | None:
    """Why --source/--target name no upgrade in these clusters (one light read of the control planes)."""
    if not source and not target:
        return None
    from meshtui.cluster.oneshot import load_once
    from meshtui.domain.inventory import Inventory
    from meshtui.engine.precheck import pair_problem

    inventory = Inventory()
    for t in targets:
        inventory.add_cluster(t.name, t.server)
    load_once(targets, inventory, kinds=REVISION_KINDS)
    return pair_problem((r.name for r in inventory.view().revisions), source, target)


def session_stage(targets: list[ClusterTarget], settings: DashboardSettings, closer: Closer) -> Started:
    """The watch over the targets and the engine's session (reads the upgrade record: blocking), both closed
    by `closer`; the last stage of every starter."""
    from meshtui.tui.factory import make_session, watch_targets

    mesh = watch_targets(targets)
    closer.add(mesh.stop)
    session, problem = make_session(targets, settings)
    if session is not None:
        closer.add(session.close)
    return Started(mesh, session, settings, problem)


def run_dashboard(starter: Starter, settings: DashboardSettings, closer: Closer, prog: str = "meshtui") -> int:
    """Draw the dashboard at once, let `starter` prepare it on a thread, run until the operator quits.

    What the starter opened is closed by `closer` afterwards, even when the operator quit before it was done;
    a starter's failure is printed as its one sentence once the screen is gone.
    """
    from meshtui.tui.factory import build_starting_app

    app = build_starting_app(starter, settings)
    try:
        app.run(mouse=settings.mouse)
    finally:
        closer.close()
    if app.start_failure is not None:
        print(f"{prog}: {app.start_failure.message}", file=sys.stderr)
        return app.start_failure.exit_code
    return app.return_code or exitcodes.OK


def open_dashboard(targets: list[ClusterTarget], settings: DashboardSettings) -> int:
    """Watch the targets, build the session and run the app until the operator quits."""
    closer = Closer()
    for target in targets:
        closer.add(target.close)

    def starter(report: Report) -> Started:
        report("Reading the upgrade record, the lock and permissions")
        return session_stage(targets, settings, closer)

    return run_dashboard(starter, settings, closer)


def run(args: argparse.Namespace) -> int:
    """Connect, probe, open the dashboard; a bad kubeconfig or an unreachable cluster is one sentence."""
    setup_logging()
    try:
        targets = connect(args.kubeconfig, args.context or None, read_only=bool(args.read_only))
        with while_showing(f"meshtui: connecting to {', '.join(repr(t.name) for t in targets)}…"):
            probe(targets)
        wrong = pair_problem_of(targets, args.source, args.target)
    except ClusterError as exc:
        print(f"meshtui: {exc.message}", file=sys.stderr)
        return exc.exit_code
    if wrong:
        print(f"meshtui: {wrong}", file=sys.stderr)
        for target in targets:
            target.close()
        return exitcodes.USAGE
    return open_dashboard(targets, settings_from_args(args))
