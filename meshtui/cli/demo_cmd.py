"""`meshtui demo`: start the embedded simulated cluster and open the dashboard on it."""

from __future__ import annotations

import argparse
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

from meshtui.cli import exitcodes
from meshtui.cli.dashboard_cmd import open_dashboard, settings_from_args
from meshtui.cluster.errors import ClusterError
from meshtui.cluster.kubeconfig import connect
from meshtui.sim import istio, scenarios
from meshtui.sim.launch import SimLaunchError, launch, parse_params
from meshtui.sim.render import write_manifests
from meshtui.tui.logfile import setup_logging

#: Seconds a restarted pod takes to become Ready in the demo: long enough to watch pods roll.
DEMO_READY_DELAY = 1.5


def _render(tmp: Path, scenario: str = "demo") -> tuple[tuple[str, str], ...]:
    """Render both revisions of the scenario with the istioctl gateway (and, for `ambient`, istio-cni and
    ztunnel), as an operator would with istioctl or helm.

    The dashboard offers these folders when a plan asks for manifests (deploying the target, moving the
    istioctl-rendered gateway), so the whole upgrade and its rollback can be done from the keyboard.
    """
    found = []
    for version, revision in scenarios.PAIRS.get(scenario, scenarios.DEFAULT_PAIR):
        folder = tmp / "manifests" / revision
        write_manifests(
            folder,
            version,
            revision,
            gateways=[(istio.ISTIO_NAMESPACE, "istio-ingressgateway")],
            with_ambient=scenario == "ambient",
        )
        found.append((revision, str(folder)))
    return tuple(found)


def run(args: argparse.Namespace) -> int:
    """Run the simulator in this process, write its kubeconfig if asked, and open the dashboard on it."""
    setup_logging()
    # A large scenario takes seconds to build before the dashboard can draw: say so at once.
    print(f"meshtui demo: building the {args.scenario!r} scenario...", file=sys.stderr, flush=True)
    try:
        sim = launch(args.scenario, seed=args.seed, params=parse_params(args.param), ready_delay=DEMO_READY_DELAY)
    except SimLaunchError as exc:
        print(f"meshtui demo: {exc}", file=sys.stderr)
        return exitcodes.USAGE
    try:
        with tempfile.TemporaryDirectory(prefix="meshtui-demo-") as tmp:
            kubeconfig = Path(args.kubeconfig_out) if args.kubeconfig_out else Path(tmp) / "kubeconfig"
            try:
                sim.kubeconfig(kubeconfig)
            except OSError as exc:
                print(f"meshtui demo: cannot write the kubeconfig to {kubeconfig} ({exc.strerror}).", file=sys.stderr)
                return exitcodes.USAGE
            try:
                targets = connect(str(kubeconfig), None, read_only=bool(args.read_only))
            except ClusterError as exc:
                print(f"meshtui demo: {exc.message}", file=sys.stderr)
                return exc.exit_code
            settings = replace(
                settings_from_args(args), title="meshtui demo", manifests=_render(Path(tmp), args.scenario)
            )
            code = open_dashboard(targets, settings)
            if args.kubeconfig_out:
                print(f"meshtui demo: the simulator stopped; {kubeconfig} no longer reaches it.", file=sys.stderr)
            return code
    finally:
        sim.stop()
