"""`meshtui plan ACTION`: print the exact operations of an action (and optionally dry-run them); never applies."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

from meshtui.cli import exitcodes
from meshtui.cli.args import non_negative_seconds, positive_int
from meshtui.domain.actions import ActionId

if TYPE_CHECKING:
    from meshtui.engine.params import ActionParams

#: The actions `meshtui plan` previews (deleting pods and skipping verify are planned by their own steps).
ACTION_IDS = tuple(a for a in ActionId if a not in (ActionId.DELETE_PODS, ActionId.SKIP_VERIFY))


def add_parser(sub: Any, cluster_args: Callable[[argparse.ArgumentParser], None]) -> None:
    """Register `meshtui plan`."""
    p = sub.add_parser(
        "plan",
        help="print the plan of an action (the operations it would send)",
        epilog=exitcodes.DOC,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    cluster_args(p)
    names = [a.value for a in ACTION_IDS]
    p.add_argument("action", choices=names, metavar="ACTION", help=", ".join(names))
    # A default makes argparse treat the list as optional (it would name it in a "required" error otherwise).
    p.add_argument("namespaces", nargs="*", default=[], metavar="NAMESPACE", help="for switch, switch-back and restart")
    p.add_argument("--all", action="store_true", help="every namespace the action applies to")
    p.add_argument("--to", metavar="REV_OR_TAG", help="switch: label value; move-tag, ambient: the revision")
    p.add_argument("--tag", metavar="TAG", help="move-tag: the tag")
    p.add_argument(
        "--batch",
        type=positive_int,
        default=5,
        metavar="N",
        help="restart: workloads restarted at once (default: 5)",
    )
    p.add_argument(
        "--pause",
        type=non_negative_seconds,
        default=0.0,
        metavar="SECONDS",
        help="restart: pause between batches (default: 0)",
    )
    p.add_argument(
        "--ignore-pdb",
        action="store_true",
        help="restart: also restart workloads whose PodDisruptionBudget never allows a disruption",
    )
    p.add_argument("--manifests", metavar="DIR", help="deploy, ambient or gateways: rendered manifests")
    p.add_argument("--istioctl", metavar="PATH", help="deploy or ambient: with istioctl")
    p.add_argument("--helm", metavar="PATH", help="deploy or ambient: with Helm")
    p.add_argument(
        "--choice",
        choices=(ActionId.UPGRADE.value, ActionId.ROLLBACK.value),
        help="finish: preview the offline plan of this choice even before it is made",
    )
    p.add_argument("--dry-run", action="store_true", help="also run the plan as a server-side dry run")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Print the plan; the exit code says whether it would be refused."""
    from meshtui.cli.upgrade_run import Refused, dry_run, open_run, plan_or_refuse, print_plan, refusal_code
    from meshtui.cluster.errors import ClusterError
    from meshtui.engine.planners.finish import offline_pair, plan_offline
    from meshtui.engine.record import RecordError

    args.take_over = False
    args.yes = False
    args.timeout = None
    params = params_of(args)
    action = ActionId(args.action)
    ctx = None
    try:
        ctx = open_run(args, [action])
        if action is ActionId.FINISH and args.choice:
            choice = ActionId(args.choice)
            state = ctx.session.state(ctx.view)
            if state.gates is None or state.source is None or state.target is None:
                raise Refused("no source and target revision: name them with --source and --target", exitcodes.REFUSED)
            away, keep = offline_pair(choice, state.source, state.target)
            verdict = state.gates.verdict(choice)
            plan = plan_offline(ctx.session.ctx, ctx.view, away, keep, verdict, choice.capitalize())
            print_plan(ctx, plan)
            if plan.refused:
                raise Refused(f"refused: {plan.refusals[0]}.", refusal_code(plan.refusal_reasons))
        else:
            plan = plan_or_refuse(ctx, params)
        if args.dry_run and plan.operations:
            return dry_run(ctx, plan)
        return exitcodes.OK
    except Refused as exc:
        print(f"meshtui plan: {exc}", file=sys.stderr)
        return exc.code
    except RecordError as exc:
        print(f"meshtui plan: {exc}", file=sys.stderr)
        return exitcodes.USAGE
    except ClusterError as exc:
        print(f"meshtui plan: {exc.message}", file=sys.stderr)
        return exc.exit_code
    finally:
        if ctx is not None:
            ctx.session.close()
            for t in ctx.targets:
                cast(Any, t.api_client).close()


def params_of(args: argparse.Namespace) -> ActionParams:
    """The typed parameters of the action `meshtui plan` names, from the flags that apply to it."""
    from meshtui.engine import params as p
    from meshtui.engine.installers import InstallerSpec

    action = ActionId(args.action)
    namespaces = None if args.all or not args.namespaces else tuple(args.namespaces)
    installer = None
    if args.istioctl:
        installer = InstallerSpec("istioctl", args.istioctl, kubeconfig=args.kubeconfig)
    elif args.helm:
        installer = InstallerSpec("helm", args.helm, kubeconfig=args.kubeconfig)
    elif args.manifests:
        installer = InstallerSpec("manifests", args.manifests)
    if action is ActionId.DEPLOY:
        return p.DeployParams(installer=installer)
    if action is ActionId.AMBIENT:
        return p.AmbientParams(installer=installer, to=args.to)
    if action is ActionId.SWITCH:
        return p.SwitchParams(namespaces=namespaces, to=args.to)
    if action is ActionId.SWITCH_BACK:
        return p.SwitchBackParams(namespaces=namespaces)
    if action is ActionId.MOVE_TAG:
        return p.MoveTagParams(tag=args.tag or "", to=args.to)
    if action is ActionId.RESTART:
        return p.RestartParams(namespaces=namespaces, batch=args.batch, pause=args.pause, ignore_pdb=args.ignore_pdb)
    if action is ActionId.GATEWAYS:
        return p.GatewaysParams(manifests=args.manifests, batch=args.batch, pause=args.pause)
    if action is ActionId.GATEWAYS_BACK:
        return p.GatewaysBackParams(manifests=args.manifests, batch=args.batch, pause=args.pause)
    return p.PARAMS[action]()
