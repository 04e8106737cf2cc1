"""`meshtui upgrade ...`: the whole canary upgrade from the command line, on the dashboard's state machine.

Every command prints its plan and applies it only with `--yes` (after a server-side dry run); long work
returns when done or failed, with a progress line on a terminal and a line per step otherwise. This module
holds the arguments and the dispatch; each step is in an `upgrade_*` module of its own, and what they share
(the run, printing, exit codes) in `upgrade_run.py`.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from typing import Any, cast

from meshtui.cli import (
    exitcodes,
    upgrade_dataplane,
    upgrade_finish,
    upgrade_install,
    upgrade_start,
    upgrade_status,
    upgrade_verify,
)
from meshtui.cli.args import non_negative_seconds, positive_int, positive_seconds
from meshtui.cli.upgrade_run import Refused, Run, err, open_run
from meshtui.domain.actions import ActionId

# ---------------------------------------------------------------------------------------------- parser


def _common(p: argparse.ArgumentParser, cluster_args: Callable[[argparse.ArgumentParser], None]) -> None:
    cluster_args(p)
    p.add_argument("--yes", action="store_true", help="apply the plan (without it the plan is only printed)")
    p.add_argument("--dry-run", action="store_true", help="stop after the server-side dry run of the plan")
    p.add_argument(
        "--take-over",
        action="store_true",
        help="take the upgrade lock from another operator even if their lease is live (journalled)",
    )
    p.add_argument("--timeout", type=positive_seconds, metavar="SECONDS", help="give up on long work after this long")


def add_parser(sub: Any, cluster_args: Callable[[argparse.ArgumentParser], None]) -> None:
    """Register `meshtui upgrade` and its subcommands."""
    up = sub.add_parser(
        "upgrade",
        help="run the canary upgrade step by step: start, deploy, switch, move-tag, restart, delete-pods, gateways, "
        "ambient, verify, then complete (Upgrade + Finish) or cancel (everything back + Rollback + Finish); status",
        description="Run the canary upgrade step by step, with the dashboard's state machine and names "
        "(docs/vocabulary.md). Each step prints its plan; --yes applies it.",
        epilog=exitcodes.DOC,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    steps = up.add_subparsers(dest="step", metavar="STEP", required=True)

    def step(name: str, help_text: str, aliases: tuple[str, ...] = ()) -> argparse.ArgumentParser:
        p: argparse.ArgumentParser = steps.add_parser(
            name,
            aliases=list(aliases),
            help=help_text,
            epilog=exitcodes.DOC,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        _common(p, cluster_args)
        # argparse stores the name as typed: the default makes an alias run its step under the one name.
        p.set_defaults(run=run, step=name)
        return p

    step("start", "Start: record the upgrade (source, target) in the cluster and take the lock")
    inst = step("deploy", "Deploy: install the target revision and wait until it is Ready", aliases=("install",))
    how = inst.add_mutually_exclusive_group(required=True)
    how.add_argument("--manifests", metavar="DIR", help="apply the rendered manifests in DIR server-side")
    how.add_argument("--istioctl", metavar="PATH", help="run PATH install --set revision=TARGET")
    how.add_argument("--helm", metavar="PATH", help="run PATH upgrade --install istiod-TARGET CHART")
    how.add_argument("--external", action="store_true", help="wait for an install made by other means")
    inst.add_argument("--chart", default="istio/istiod", help="Helm chart (default: istio/istiod)")
    inst.add_argument("--chart-version", metavar="VERSION", help="Helm chart version")
    inst.add_argument(
        "--set", dest="sets", metavar="KEY=VALUE", action="append", default=[], help="extra --set for the installer"
    )
    sw = step("switch", "Switch: label namespaces for the target revision (or a tag); --back: Switch back")
    _namespaces(sw)
    to = sw.add_mutually_exclusive_group()
    to.add_argument("--to", metavar="REV_OR_TAG", help="revision or tag to label with (default: the target)")
    to.add_argument("--back", action="store_true", help="back to the source (restoring the original labels)")
    mt = step("move-tag", "Move tag: point a revision tag at another revision (creating it if missing)")
    mt.add_argument("tag", metavar="TAG", help="the tag to move, e.g. prod-stable")
    mt.add_argument("--to", metavar="REV", help="the revision the tag should resolve to (default: the target)")
    rs = step("restart", "Restart: restart workloads so their pods get the revision their namespace asks for")
    _namespaces(rs)
    _batches(rs)
    rs.add_argument(
        "--ignore-pdb",
        action="store_true",
        help="also restart workloads whose PodDisruptionBudget never allows a disruption",
    )
    recorded = rs.add_mutually_exclusive_group()
    recorded.add_argument(
        "--resume",
        action="store_true",
        help="resume the unfinished restart recorded in the cluster (no namespaces needed)",
    )
    recorded.add_argument(
        "--discard",
        "--new",
        dest="new",
        action="store_true",
        help="discard the unfinished restart recorded in the cluster and plan the namespaces given",
    )
    dp = step(
        "delete-pods", "Delete pods: delete bare pods (or Job pods) that no restart can replace, e.g. an old sidecar"
    )
    dp.add_argument(
        "pods", nargs="+", metavar="NAMESPACE/POD", help="the pods (CLUSTER/NAMESPACE/POD in a multi-cluster mesh)"
    )
    gw = step("gateways", "Gateways: move the gateways to the target; --back: Gateways back")
    gw.add_argument("--back", action="store_true", help="Gateways back: move them back to the source")
    gw.add_argument("--manifests", metavar="DIR", help="rendered manifests for istioctl-installed gateways")
    _batches(gw)
    amb = step(
        "ambient",
        "Ambient: upgrade istio-cni then ztunnel in place, node by node, ztunnel against the target (docs/ambient.md)",
    )
    how = amb.add_mutually_exclusive_group(required=True)
    how.add_argument("--manifests", metavar="DIR", help="apply the istio-cni and ztunnel manifests in DIR server-side")
    how.add_argument("--istioctl", metavar="PATH", help="run PATH install --set profile=ambient --set revision=TARGET")
    how.add_argument("--helm", metavar="PATH", help="run PATH upgrade istio-cni istio/cni, then ztunnel istio/ztunnel")
    how.add_argument("--external", action="store_true", help="wait for each node upgraded by other means")
    amb.add_argument(
        "--back", action="store_true", help="roll istio-cni and ztunnel back to the source (its version and istiod)"
    )
    amb.add_argument("--chart-version", metavar="VERSION", help="Helm chart version")
    amb.add_argument(
        "--component",
        dest="components",
        action="append",
        choices=("istio-cni", "ztunnel"),
        help="upgrade only this component (repeatable; default: istio-cni, then ztunnel)",
    )
    amb.add_argument(
        "--set", dest="sets", metavar="KEY=VALUE", action="append", default=[], help="extra --set for the installer"
    )
    step("verify", "Verify: run the verify checks on the namespaces on the target")
    done = step("complete", "Upgrade + Finish in one: keep the target, take the source offline (irreversible)")
    done.add_argument("--confirm-revision", metavar="REV", help="the revision going offline, typed to confirm")
    _skip_verify(done)
    rb = step(
        "cancel",
        "Cancel the upgrade: Move tag, Switch back, Restart, Gateways back for everything, Verify the source, "
        "then Rollback + Finish (take the target offline)",
        aliases=("rollback",),
    )
    rb.add_argument("--confirm-revision", metavar="REV", help="the revision going offline, typed to confirm")
    _skip_verify(rb)
    rb.add_argument("--manifests", metavar="DIR", help="rendered manifests of the source for istioctl gateways")
    _batches(rb)
    rb.add_argument(
        "--ignore-pdb",
        action="store_true",
        help="also restart workloads whose PodDisruptionBudget never allows a disruption",
    )
    st = step("status", "print the phase, the lock, the gates and the actions (reads only)")
    st.add_argument("--json", action="store_true", help="as JSON")


def _skip_verify(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--skip-verify",
        metavar="REASON",
        help="finish without a fresh passing verify run of the kept revision; the reason is journalled",
    )


def _namespaces(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "namespaces",
        nargs="*",
        default=[],
        metavar="NAMESPACE",
        help="namespaces (cluster/name in a multi-cluster mesh)",
    )
    p.add_argument("--all", action="store_true", help="every namespace it applies to")


def _batches(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--batch", type=positive_int, default=5, metavar="N", help="workloads restarted at once (default: 5)"
    )
    p.add_argument(
        "--pause", type=non_negative_seconds, default=0.0, metavar="SECONDS", help="pause between batches (default: 0)"
    )
    p.add_argument(
        "--rollout-timeout",
        type=positive_seconds,
        default=300.0,
        metavar="SECONDS",
        help="how long one workload may take to roll out (default: 300)",
    )


#: The actions whose permissions each step checks up front (None: every action's, for the status).
WANTED: dict[str, list[ActionId] | None] = {
    "start": [ActionId.START],
    "deploy": [ActionId.DEPLOY],
    "switch": [ActionId.SWITCH, ActionId.SWITCH_BACK],
    "move-tag": [ActionId.MOVE_TAG],
    "restart": [ActionId.RESTART],
    "delete-pods": [ActionId.DELETE_PODS],
    "gateways": [ActionId.GATEWAYS, ActionId.GATEWAYS_BACK],
    "ambient": [ActionId.AMBIENT],
    "verify": [],
    "complete": [ActionId.UPGRADE, ActionId.FINISH],
    "cancel": [
        ActionId.MOVE_TAG,
        ActionId.SWITCH_BACK,
        ActionId.RESTART,
        ActionId.GATEWAYS_BACK,
        ActionId.ROLLBACK,
        ActionId.FINISH,
    ],
    "status": None,
}


def run(args: argparse.Namespace) -> int:
    """Run one `meshtui upgrade` step; the documented exit code."""
    from meshtui.cluster.errors import ClusterError
    from meshtui.engine.record import RecordError

    name = f"meshtui upgrade {args.step}"
    resuming = bool(getattr(args, "resume", False))
    if getattr(args, "namespaces", None) is not None and not args.namespaces and not args.all and not resuming:
        err(name, "name the namespaces, or pass --all.")
        return exitcodes.USAGE
    if getattr(args, "namespaces", None) and getattr(args, "all", False):
        err(name, "pass namespaces or --all, not both.")
        return exitcodes.USAGE
    ctx: Run | None = None
    try:
        ctx = open_run(args, WANTED[args.step])
        return STEPS[args.step](ctx)
    except Refused as exc:
        err(name, str(exc))
        return exc.code
    except RecordError as exc:
        err(name, str(exc))
        return exitcodes.USAGE
    except ClusterError as exc:
        err(name, exc.message)
        return exc.exit_code
    except BrokenPipeError:
        return exitcodes.OK  # the reader (`| head`) went away
    except Exception as exc:
        if os.environ.get("MESHTUI_DEBUG"):
            raise
        err(
            name,
            f"internal error ({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}); "
            "set MESHTUI_DEBUG=1 to see where, and please report it",
        )
        return exitcodes.FAILED
    finally:
        if ctx is not None:
            ctx.session.close()
            for t in ctx.targets:
                cast(Any, t.api_client).close()


#: Each step's function, by the name `meshtui upgrade` takes.
STEPS: dict[str, Callable[[Run], int]] = {
    "start": upgrade_start.step_start,
    "deploy": upgrade_install.step_deploy,
    "switch": upgrade_dataplane.step_switch,
    "move-tag": upgrade_dataplane.step_move_tag,
    "restart": upgrade_dataplane.step_restart,
    "delete-pods": upgrade_dataplane.step_delete_pods,
    "gateways": upgrade_dataplane.step_gateways,
    "ambient": upgrade_install.step_ambient,
    "verify": upgrade_verify.step_verify,
    "complete": upgrade_finish.step_complete,
    "cancel": upgrade_finish.step_cancel,
    "status": upgrade_status.step_status,
}
