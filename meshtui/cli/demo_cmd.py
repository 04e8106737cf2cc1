"""`meshtui demo`: start the embedded simulated cluster and open the dashboard on it."""

from __future__ import annotations

import argparse
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

from meshtui.cli import exitcodes
from meshtui.cli.dashboard_cmd import run_dashboard, session_stage, settings_from_args
from meshtui.cluster.errors import ClusterError
from meshtui.cluster.kubeconfig import connect
from meshtui.sim import istio, scenarios
from meshtui.sim.launch import SimLaunchError, launch, parse_params
from meshtui.sim.render import write_manifests
from meshtui.tui.logfile import setup_logging
from meshtui.tui.settings import DashboardSettings
from meshtui.tui.startup import Closer, Report, Started, StartFailed

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


def demo_settings(args: argparse.Namespace, manifests: tuple[tuple[str, str], ...]) -> DashboardSettings:
    """The dashboard settings of the demo: with only the old revision installed (`fresh`), the pair is the
    scenario's, so Start and Deploy (from the rendered folder) have a target to name."""
    settings = replace(settings_from_args(args), title="meshtui demo", manifests=manifests)
    if args.scenario == "fresh" and not settings.source and not settings.target:
        (_, old), (_, new) = scenarios.PAIRS.get(args.scenario, scenarios.DEFAULT_PAIR)
        settings = replace(settings, source=old, target=new)
    return settings


def scenario_names() -> tuple[str, ...]:
    """The scenarios the simulator can build."""
    from meshtui.sim.scenarios import NAMES

    return NAMES


def scenario_words(scenario: str, params: dict[str, int | str]) -> str:
    """`the 'large' scenario (namespaces=2000)`: what the loading screen says is being built."""
    given = ", ".join(f"{k}={v}" for k, v in params.items())
    return f"the {scenario!r} scenario" + (f" ({given})" if given else "")


def run(args: argparse.Namespace) -> int:
    """Run the simulator in this process, write its kubeconfig if asked, and open the dashboard on it.

    The dashboard draws at once; the scenario is built, served and connected on the starter's thread while
    the loading screen names each stage (a large scenario takes seconds).
    """
    setup_logging()
    try:
        params = parse_params(args.param)
        if args.scenario not in scenario_names():
            launch(args.scenario)  # raises the one sentence naming the scenarios
    except SimLaunchError as exc:
        print(f"meshtui demo: {exc}", file=sys.stderr)
        return exitcodes.USAGE
    closer = Closer()
    tmp = tempfile.TemporaryDirectory(prefix="meshtui-demo-")
    closer.add(tmp.cleanup)
    kubeconfig = Path(args.kubeconfig_out) if args.kubeconfig_out else Path(tmp.name) / "kubeconfig"
    served: list[bool] = []

    def starter(report: Report) -> Started:
        report(f"Building and serving {scenario_words(args.scenario, params)}")
        try:
            sim = launch(
                args.scenario, seed=args.seed, params=params, ready_delay=DEMO_READY_DELAY, progress=report.detail
            )
        except SimLaunchError as exc:
            raise StartFailed(str(exc), exitcodes.USAGE) from None
        if not closer.add(sim.stop):
            raise StartFailed("quit before the simulator was ready", exitcodes.OK)
        try:
            sim.kubeconfig(kubeconfig)
        except OSError as exc:
            message = f"cannot write the kubeconfig to {kubeconfig} ({exc.strerror})."
            raise StartFailed(message, exitcodes.USAGE) from None
        served.append(True)
        report("Connecting and reading the upgrade record")
        try:
            targets = connect(str(kubeconfig), None, read_only=bool(args.read_only))
        except ClusterError as exc:
            raise StartFailed(exc.message, exc.exit_code) from None
        for target in targets:
            closer.add(target.close)
        settings = demo_settings(args, _render(Path(tmp.name), args.scenario))
        return session_stage(targets, settings, closer)

    first = replace(settings_from_args(args), title="meshtui demo")
    code = run_dashboard(starter, first, closer, prog="meshtui demo")
    if args.kubeconfig_out and served:
        print(f"meshtui demo: the simulator stopped; {kubeconfig} no longer reaches it.", file=sys.stderr)
    return code
