"""The `meshtui` command: argument parsing and dispatch to one module per subcommand."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from meshtui import __version__
from meshtui.cli import collector, exitcodes, output
from meshtui.cli.args import (
    Parser,
    add_global_options,
    any_int,
    apply_connection_args,
    from_file_arg,
    non_negative_rate,
    non_negative_seconds,
    port_number,
)


def _cluster_args(p: argparse.ArgumentParser) -> None:
    """The global options after a subcommand that talks to a cluster (status, check, plan, upgrade STEP)."""
    add_global_options(p, "upgrade")


def build_parser() -> argparse.ArgumentParser:
    """The whole command line, so `--help` documents every subcommand and the exit codes."""
    from meshtui.sim.launch import PARAM_HELP

    parser = Parser(
        prog="meshtui",
        description="Take an Istio mesh through a canary (revision-based) control-plane upgrade.",
        epilog=exitcodes.DOC,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"meshtui {__version__}")
    parser.merges_positions = True
    add_global_options(parser)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    status = sub.add_parser(
        "status",
        help="print the revisions, namespaces and gates",
        epilog=exitcodes.DOC,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _cluster_args(status)
    status.add_argument("--json", action="store_true", help="print the JSON document (product contract)")
    from_file_arg(status)
    status.add_argument("--all-pods", action="store_true", help="list every pod in --json, not only sidecar/at-risk")

    from meshtui.cli import check_cmd, plan_cmd, upgrade_cmd

    for module in (check_cmd, plan_cmd, upgrade_cmd):
        module.add_parser(sub, _cluster_args)

    sim = sub.add_parser("sim", help="run the simulated cluster alone (for kubectl and meshtui)")
    sim.add_argument("--scenario", default="demo", help="demo, fresh, large or ambient (default: demo)")
    sim.add_argument("--port", type=port_number, default=0, help="port on 127.0.0.1 (default: a free one)")
    sim.add_argument("--kubeconfig-out", metavar="PATH", help="write a kubeconfig for the simulator here")
    sim.add_argument("--seed", type=any_int, default=1, help="scenario seed (default: 1)")
    sim.add_argument(
        "--param",
        metavar="KEY=VALUE",
        action="append",
        default=[],
        help=PARAM_HELP,
    )
    sim.add_argument(
        "--ready-delay", type=non_negative_seconds, default=1.0, help="seconds a new pod takes to become Ready"
    )
    sim.add_argument(
        "--churn", type=non_negative_rate, default=0.0, help="pod status changes per second (load testing)"
    )
    sim_sub = sim.add_subparsers(dest="sim_command", metavar="SUBCOMMAND")
    render = sim_sub.add_parser("render-revision", help="write the rendered manifests of a control-plane revision")
    render.add_argument("--version", required=True, metavar="X.Y.Z", help="Istio version, e.g. 1.23.1")
    render.add_argument("--revision", metavar="NAME", help="revision name (default: the version with dashes)")
    render.add_argument("--namespace", default="istio-system", help="control-plane namespace (default: istio-system)")
    render.add_argument(
        "--gateway",
        metavar="NAMESPACE/NAME",
        action="append",
        default=[],
        help="also render an istioctl-style ingress gateway of the revision; repeatable",
    )
    render.add_argument(
        "--ambient",
        action="store_true",
        help="also render istio-cni and ztunnel of the version (ztunnel configured against the revision)",
    )
    render.add_argument("--out", required=True, metavar="DIR", help="folder to write the YAML files into")

    demo = sub.add_parser("demo", help="open the dashboard on the embedded simulated cluster")
    demo.add_argument("--scenario", default="demo", help="demo, fresh, large or ambient (default: demo)")
    demo.add_argument("--kubeconfig-out", metavar="PATH", help="also write the simulator's kubeconfig here")
    demo.add_argument("--seed", type=any_int, default=1, help="scenario seed (default: 1)")
    demo.add_argument(
        "--param",
        metavar="KEY=VALUE",
        action="append",
        default=[],
        help=PARAM_HELP,
    )
    add_global_options(demo, "demo")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Parse and dispatch; every failure ends as one sentence on stderr and a documented exit code."""
    output.install()
    parser = build_parser()
    args = parser.parse_args(argv)
    apply_connection_args(args)
    try:
        if args.command in ("status", "check", "plan", "upgrade"):
            collector.one_shot()
        if args.command == "status":
            from meshtui.cli import status_cmd

            return status_cmd.run(args)
        if args.command in ("check", "plan", "upgrade"):
            return int(args.run(args))
        if args.command == "sim":
            from meshtui.cli import sim_cmd

            return sim_cmd.run(args)
        if args.command == "demo":
            from meshtui.cli import demo_cmd

            return demo_cmd.run(args)
        from meshtui.cli import dashboard_cmd

        return dashboard_cmd.run(args)
    except KeyboardInterrupt:
        print("meshtui: interrupted.", file=sys.stderr)
        return exitcodes.INTERRUPTED
