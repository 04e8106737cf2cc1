"""`meshtui` (no subcommand): open the dashboard on the current kubeconfig context(s)."""

from __future__ import annotations

import argparse
import contextlib
import sys

from meshtui.cli import exitcodes
from meshtui.cluster.errors import ClusterError
from meshtui.cluster.kubeconfig import ClusterTarget, connect
from meshtui.cluster.rawapi import RawApi
from meshtui.tui.logfile import setup_logging
from meshtui.tui.settings import DashboardSettings, mouse_from_env, theme_from_env

PROBE_TIMEOUT = (5.0, 10.0)


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


def probe(targets: list[ClusterTarget]) -> None:
    """One quick request per cluster, so an unreachable or refusing cluster fails before the screen opens."""
    for target in targets:
        RawApi(target.api_client, target.name).request(
            "GET", "/version", timeout=PROBE_TIMEOUT, what="checking that it answers"
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


def open_dashboard(targets: list[ClusterTarget], settings: DashboardSettings) -> int:
    """Watch the targets, build the session and run the app until the operator quits."""
    from meshtui.tui.factory import build_app, make_session, watch_targets

    mesh = watch_targets(targets)
    session, problem = make_session(targets, settings)
    app = build_app(mesh, session, settings=settings, session_problem=problem)
    try:
        app.run(mouse=settings.mouse)
    finally:
        mesh.stop()
        if session is not None:
            # Closing must not hide the dashboard's own exit.
            with contextlib.suppress(Exception):
                session.close()
        for target in targets:
            target.close()
    return app.return_code or exitcodes.OK


def run(args: argparse.Namespace) -> int:
    """Connect, probe, open the dashboard; a bad kubeconfig or an unreachable cluster is one sentence."""
    setup_logging()
    try:
        targets = connect(args.kubeconfig, args.context or None, read_only=bool(args.read_only))
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
