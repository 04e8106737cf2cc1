"""`meshtui upgrade ...`: the whole canary upgrade from the command line, on the dashboard's state machine.

Every command prints its plan and applies it only with `--yes` (after a server-side dry run); long work
returns when done or failed, with a progress line on a terminal and a line per step otherwise.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TextIO, cast

from meshtui.cli import exitcodes
from meshtui.cli.args import non_negative_seconds, positive_int, positive_seconds
from meshtui.cli.dry_progress import dry_run_shown
from meshtui.cli.output import raw

if TYPE_CHECKING:
    from meshtui.cluster.kubeconfig import ClusterTarget
    from meshtui.domain.inventory import Inventory, InventoryView
    from meshtui.domain.plan import Plan
    from meshtui.domain.reasons import Reason
    from meshtui.engine.api import EngineState, Progress
    from meshtui.engine.executor import RunOutcome
    from meshtui.engine.session import EngineSession


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


# ---------------------------------------------------------------------------------------------- plumbing


class Refused(Exception):
    """A command stops with this exit code after printing why."""

    def __init__(self, message: str, code: int):
        super().__init__(message)
        self.code = code


@dataclass
class Run:
    """One command's connection, mesh view and session."""

    args: argparse.Namespace
    targets: list[ClusterTarget]
    inventory: Inventory
    session: EngineSession
    view: InventoryView
    out: TextIO = field(default_factory=lambda: sys.stdout)

    @property
    def name(self) -> str:
        """`meshtui upgrade STEP` (or `meshtui plan`), as messages start."""
        step = getattr(self.args, "step", None)
        return f"meshtui upgrade {step}" if step else f"meshtui {self.args.command}"

    def reload(self) -> InventoryView:
        """Read the mesh again (after a step changed it)."""
        from meshtui.cluster.oneshot import load_once
        from meshtui.domain.inventory import Inventory

        inventory = Inventory()
        for t in self.targets:
            inventory.add_cluster(t.name, t.server)
        load_once(self.targets, cast(Any, inventory))
        self.inventory = inventory
        self.session.refresh([])
        self.view = _view(inventory, self.session)
        return self.view

    def say(self, text: str = "") -> None:
        """A line on stdout."""
        print(text, file=self.out, flush=True)


def _view(inventory: Inventory, session: EngineSession) -> InventoryView:
    base = inventory.view(session.source_flag, session.target_flag)
    source, target, _ = session.pair(base)
    record = session.record
    chosen = record.finish_choice if record is not None else None
    shown = record.offline_plan_shown if record is not None else False
    return inventory.view(source, target, chosen, shown)


def _err(name: str, message: str) -> None:
    print(f"{name}: {message}", file=sys.stderr, flush=True)


def refusal_code(reasons: Iterable[Reason]) -> int:
    """The exit code a refusal ends with, from the kinds of its reasons (never their wording)."""
    from meshtui.domain.reasons import ReasonKind

    kinds = {r.kind for r in reasons}
    if ReasonKind.PERMISSION in kinds:
        return exitcodes.PERMISSION
    if ReasonKind.LOCK in kinds:
        return exitcodes.CONFLICT
    return exitcodes.REFUSED


def outcome_code(outcome: RunOutcome) -> int:
    """The exit code of an applied (or dry-run) plan."""
    from meshtui.engine.executor import StepResult

    if outcome.refusal:
        return refusal_code(outcome.refusal)
    stopped = outcome.stopped_by
    if stopped is None:
        return exitcodes.OK
    return {
        StepResult.CONFLICT: exitcodes.CONFLICT,
        StepResult.DENIED: exitcodes.PERMISSION,
        StepResult.REFUSED: exitcodes.REFUSED,
        StepResult.ABORTED: exitcodes.FAILED,
    }.get(stopped.result, exitcodes.FAILED)


def refusal_sentence(outcome: RunOutcome) -> str:
    """The sentence a run refused before or between its steps ends with (a stale view, a lost lock)."""
    from meshtui.engine.session import refusal_sentence as sentence

    return sentence(outcome)


class Reporter:
    """Progress of long work: one rewritten line on a terminal, a line per step otherwise."""

    def __init__(self, out: TextIO):
        self.out = out
        self.tty = out.isatty()
        self.last_status = ""
        self.dirty = False

    def __call__(self, p: Progress) -> None:
        if p.done < 0:
            if p.message == self.last_status:
                return
            self.last_status = p.message
            self._line(f"  ... {p.message}", final=False)
            return
        mark = "" if not p.message else f": {p.message}"
        self._line(f"  [{p.done}/{p.total}] {p.current}{mark}", final=True)

    def _line(self, text: str, *, final: bool) -> None:
        if self.tty:
            raw(self.out).write("\r\x1b[2K")  # the only terminal control meshtui itself writes
            self.out.write(text[:200])
            if final:
                self.out.write("\n")
            self.dirty = not final
        else:
            self.out.write(text + "\n")
        self.out.flush()

    def close(self) -> None:
        """End a pending terminal line."""
        if self.tty and self.dirty:
            self.out.write("\n")
            self.out.flush()


#: How the command line offers a plan's remedies (the dashboard offers the same as keys in its plan dialog).
REMEDY_FLAGS = {
    "ignore-pdb": "  to include them: add --ignore-pdb (their own rolling-update settings still apply)",
    "manifests": "  to include them: add --manifests DIR (the folder of the rendered gateway manifests)",
}


def _print_plan(ctx: Run, plan: Plan) -> None:
    for line in plan.lines():
        ctx.say(line)
    for remedy in plan.remedies:
        if remedy in REMEDY_FLAGS:
            ctx.say(REMEDY_FLAGS[remedy])


def _print_outcome(ctx: Run, outcome: RunOutcome, heading: str) -> None:
    from meshtui.engine.executor import GOOD

    ctx.say(heading)
    for step in outcome.steps:
        word = "ok" if step.result in GOOD else step.result.value.upper()
        msg = f" ({step.message})" if step.message else ""
        ctx.say(f"  {word:<9} {step.operation.describe()}{msg}")


WANTED: dict[str, list[str] | None] = {
    "start": ["start"],
    "deploy": ["deploy"],
    "switch": ["switch", "switch-back"],
    "move-tag": ["move-tag"],
    "restart": ["restart"],
    "delete-pods": ["delete-pods"],
    "gateways": ["gateways", "gateways-back"],
    "ambient": ["ambient"],
    "verify": [],
    "complete": ["upgrade", "finish"],
    "cancel": ["move-tag", "switch-back", "restart", "gateways-back", "rollback", "finish"],
    "status": None,
}


def open_run(args: argparse.Namespace, wanted: list[str] | None) -> Run:
    """Connect, read the mesh once, open the engine session and check the permissions of `wanted` actions."""
    from meshtui.cluster.kubeconfig import connect
    from meshtui.cluster.oneshot import load_once
    from meshtui.domain.inventory import Inventory
    from meshtui.engine.precheck import pair_problem
    from meshtui.engine.session import EngineSession

    targets = connect(args.kubeconfig, args.context or None, read_only=bool(args.read_only))
    inventory = Inventory()
    for t in targets:
        inventory.add_cluster(t.name, t.server)
    load_once(targets, cast(Any, inventory))
    first = inventory.view(args.source, args.target)
    installs = wanted is not None and set(wanted) <= {"start", "deploy"}
    wrong = pair_problem((r.name for r in first.revisions), args.source, args.target, target_may_be_missing=installs)
    if wrong:
        for t in targets:
            cast(Any, t.api_client).close()
        raise Refused(wrong, exitcodes.USAGE)
    session = EngineSession(
        targets,
        first,
        read_only=args.read_only,
        source=args.source,
        target=args.target,
        rollout_timeout=getattr(args, "rollout_timeout", 300.0),
    )
    if getattr(args, "timeout", None):
        session.deadline = time.monotonic() + float(args.timeout)
    session.refresh(wanted)
    record = session.record
    if (
        record is not None
        and (args.source or args.target)
        and ((args.source and args.source != record.source) or (args.target and args.target != record.target))
    ):
        _err(
            f"meshtui upgrade {args.step}",
            f"note: the recorded upgrade is {record.source} -> {record.target}; --source/--target are ignored",
        )
    ctx = Run(args, targets, inventory, session, _view(inventory, session))
    return ctx


def run(args: argparse.Namespace) -> int:
    """Run one `meshtui upgrade` step; the documented exit code."""
    from meshtui.cluster.errors import ClusterError
    from meshtui.engine.record import RecordError

    name = f"meshtui upgrade {args.step}"
    resuming = bool(getattr(args, "resume", False))
    if getattr(args, "namespaces", None) is not None and not args.namespaces and not args.all and not resuming:
        _err(name, "name the namespaces, or pass --all.")
        return exitcodes.USAGE
    if getattr(args, "namespaces", None) and getattr(args, "all", False):
        _err(name, "pass namespaces or --all, not both.")
        return exitcodes.USAGE
    ctx: Run | None = None
    try:
        ctx = open_run(args, WANTED[args.step])
        return STEPS[args.step](ctx)
    except Refused as exc:
        _err(name, str(exc))
        return exc.code
    except RecordError as exc:
        _err(name, str(exc))
        return exitcodes.USAGE
    except ClusterError as exc:
        _err(name, exc.message)
        return exc.exit_code
    except BrokenPipeError:
        return exitcodes.OK  # the reader (`| head`) went away
    except Exception as exc:
        if os.environ.get("MESHTUI_DEBUG"):
            raise
        _err(
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


# ---------------------------------------------------------------------------------------------- the flow


def _plan(ctx: Run, action: str, **params: Any) -> Plan:
    plan = ctx.session.plan(action, ctx.view, **params)
    _print_plan(ctx, plan)
    if plan.refused and getattr(ctx.args, "yes", False):
        ctx.session.journal_refusal(plan)
    if plan.refused:
        first = plan.refusals[0]
        more = f" (and {len(plan.refusals) - 1} more reasons above)" if len(plan.refusals) > 1 else ""
        raise Refused(f"refused: {first}{more}.", refusal_code(plan.refusal_reasons))
    return plan


def _lock(ctx: Run) -> None:
    refusal = ctx.session.take_lock(take_over=ctx.args.take_over)
    if refusal is not None:
        hint = "; pass --take-over to take it (journalled)" if refusal.code == "lock-held" else ""
        raise Refused(f"{refusal.message}{hint}.", refusal_code([refusal]))
    if ctx.session.lock.took_over_from:
        ctx.say(f"Took over the upgrade lock from {ctx.session.lock.took_over_from} (journalled).")


def _dry(ctx: Run, plan: Plan) -> int:
    if ctx.args.read_only:
        ctx.say("\nRead-only: no server-side dry run was sent.")
        return exitcodes.OK
    outcome = dry_run_shown(ctx.session, plan)
    _print_outcome(ctx, outcome, "\nServer-side dry run:")
    code = outcome_code(outcome)
    if code:
        stopped = outcome.stopped_by
        assert stopped is not None
        _err(ctx.name, f"the dry run refused {stopped.operation.object_ref}: {stopped.message}")
    return code


def _apply(ctx: Run, plan: Plan, *, gate: bool = True) -> int:
    """Print, then (with --yes) dry-run and apply a plan; the exit code."""
    from meshtui.engine.executor import RunControl

    if not plan.operations and plan.action not in ("upgrade", "rollback", "verify"):
        ctx.say(f"Nothing applied: {len(plan.skipped)} skipped (see why above)." if plan.skipped else "Nothing to do.")
        return exitcodes.OK
    if ctx.args.dry_run or ctx.args.read_only:
        return _dry(ctx, plan)
    if not ctx.args.yes:
        ctx.say("\nNot applied: add --yes to apply this plan, or --dry-run to check it server-side.")
        return exitcodes.OK
    _lock(ctx)
    if plan.operations:
        check = dry_run_shown(ctx.session, plan)
        if outcome_code(check):
            _print_outcome(ctx, check, "\nServer-side dry run:")
            stopped = check.stopped_by
            assert stopped is not None
            _err(ctx.name, f"the dry run refused {stopped.operation.object_ref}: {stopped.message}; nothing applied")
            return outcome_code(check)
    reporter = Reporter(ctx.out)
    ctx.say(f"\nApplying: {plan.title}")
    try:
        outcome = ctx.session.run(plan, RunControl(), reporter)
    finally:
        reporter.close()
    code = outcome_code(outcome)
    if outcome.refusal:
        _err(ctx.name, refusal_sentence(outcome))
    elif code:
        stopped = outcome.stopped_by
        assert stopped is not None
        _err(ctx.name, f"stopped at {stopped.operation.describe()}: {stopped.message}")
    else:
        steps = len(outcome.steps)
        ctx.say(f"Done: {steps} step{'' if steps == 1 else 's'}.")
    return code


def step_start(ctx: Run) -> int:
    """Record the upgrade and take the lock."""
    plan = _plan(ctx, "start")
    code = _apply(ctx, plan)
    if code == exitcodes.OK and ctx.args.yes and not ctx.args.dry_run:
        record = ctx.session.record
        if record is not None:
            ctx.say(f"Upgrade {record.source} -> {record.target} recorded in {ctx.session.store.ref}.")
    return code


def step_deploy(ctx: Run) -> int:
    """Deploy the target revision."""
    return _apply(ctx, _plan(ctx, "deploy", installer=_installer_spec(ctx.args)))


def step_ambient(ctx: Run) -> int:
    """Upgrade istio-cni and ztunnel in place."""
    components = ctx.args.components or ["istio-cni", "ztunnel"]
    to = ctx.session.pair(ctx.view)[0] if ctx.args.back else None
    return _apply(ctx, _plan(ctx, "ambient", installer=_installer_spec(ctx.args), components=components, to=to))


def _installer_spec(a: argparse.Namespace) -> Any:
    """The installer the step's flags name (--manifests, --istioctl, --helm or --external)."""
    from meshtui.engine.installers import InstallerSpec

    if a.manifests:
        spec = InstallerSpec("manifests", a.manifests)
    elif a.istioctl:
        spec = InstallerSpec("istioctl", a.istioctl, extra_args=_sets(a.sets), kubeconfig=a.kubeconfig)
    elif a.helm:
        spec = InstallerSpec(
            "helm",
            a.helm,
            chart=getattr(a, "chart", "istio/istiod"),
            chart_version=a.chart_version,
            extra_args=_sets(a.sets),
            kubeconfig=a.kubeconfig,
        )
    else:
        spec = InstallerSpec("external")
    if a.timeout:
        spec = InstallerSpec(
            spec.kind, spec.path, spec.chart, spec.chart_version, spec.extra_args, spec.kubeconfig, float(a.timeout)
        )
    return spec


def _sets(values: list[str]) -> tuple[str, ...]:
    out: list[str] = []
    for v in values:
        out += ["--set", v]
    return tuple(out)


def step_switch(ctx: Run) -> int:
    """Switch namespaces."""
    a = ctx.args
    action = "switch-back" if a.back else "switch"
    params: dict[str, Any] = {"all": a.all, "namespaces": a.namespaces or None, "to": a.to}
    return _apply(ctx, _plan(ctx, action, **params))


def step_move_tag(ctx: Run) -> int:
    """Move a tag."""
    return _apply(ctx, _plan(ctx, "move-tag", tag=ctx.args.tag, to=ctx.args.to))


def step_restart(ctx: Run) -> int:
    """Restart workloads (or resume an interrupted restart)."""
    a = ctx.args
    record = ctx.session.record
    if record is not None and record.restart is not None and record.restart.remaining and a.resume:
        progress = record.restart
        ctx.say(
            f"Resuming the {progress.action} started at {progress.restarted_at}: {len(progress.done)} of "
            f"{len(progress.workloads)} workloads done."
        )
    params = {
        "all": a.all,
        "namespaces": a.namespaces or None,
        "batch": a.batch,
        "pause": a.pause,
        "ignore_pdb": a.ignore_pdb,
        "resume": a.resume,
        "discard": a.new,
    }
    return _apply(ctx, _plan(ctx, "restart", **params))


def step_delete_pods(ctx: Run) -> int:
    """Delete pods nothing recreates (their owner re-creates them from their manifest)."""
    return _apply(ctx, _plan(ctx, "delete-pods", pods=ctx.args.pods))


def step_gateways(ctx: Run) -> int:
    """Move the gateways."""
    a = ctx.args
    action = "gateways-back" if a.back else "gateways"
    return _apply(ctx, _plan(ctx, action, manifests=a.manifests, batch=a.batch, pause=a.pause))


def step_verify(ctx: Run) -> int:
    """Run the verify checks (kept in the record when this meshtui may write)."""
    if ctx.session.record is not None and not ctx.args.read_only:
        ctx.session.acquire(take_over=False)
    checks = ctx.session.verify(ctx.view)
    failed = [c for c in checks if c.result == "fail"]
    for c in checks:
        ctx.say(f"{c.result.upper():<8} {c.name}: {c.detail}")
        for o in c.offenders:
            ctx.say(f"         - {o}")
    if failed:
        _err(ctx.name, f"{len(failed)} checks failed: {', '.join(c.name for c in failed)}.")
        return exitcodes.FAILED
    unknown = [c for c in checks if c.result == "unknown"]
    if unknown:
        # A check that could not run is not a pass: a pipeline must not read this as "verified".
        _err(
            ctx.name,
            f"{len(unknown)} checks could not run ({', '.join(c.name for c in unknown)}): not passed; fix what "
            "keeps them from running, or finish with --skip-verify REASON.",
        )
        return exitcodes.FAILED
    return exitcodes.OK


def _confirm(ctx: Run, revision: str) -> None:
    a = ctx.args
    if a.confirm_revision is not None:
        if a.confirm_revision != revision:
            raise Refused(
                f"--confirm-revision {a.confirm_revision} is not the revision going offline ({revision})",
                exitcodes.REFUSED,
            )
        return
    if sys.stdin.isatty():
        typed = input(f"Taking {revision} offline cannot be undone. Type the revision name to confirm: ").strip()
        if typed == revision:
            return
        raise Refused("the typed name does not match: nothing was taken offline", exitcodes.REFUSED)
    raise Refused(f"taking {revision} offline is irreversible: add --confirm-revision {revision}", exitcodes.REFUSED)


def _finish(ctx: Run, choice: str) -> int:
    """Choose Upgrade or Rollback (gate-checked), show the offline plan, confirm, take the revision offline."""
    from meshtui.engine.offline import plan_offline

    session = ctx.session
    _settle(ctx, choice)
    state = session.state(ctx.view)
    source, target = state.source, state.target
    if session.record is None:
        raise Refused("refused: no upgrade has been started (meshtui upgrade start records it).", exitcodes.REFUSED)
    if source is None or target is None or state.gates is None:
        raise Refused("refused: no source and target revision.", exitcodes.REFUSED)
    away, keep = (source, target) if choice == "upgrade" else (target, source)
    _verified(ctx, keep)
    choose = session.plan(choice, ctx.view)
    gates = state.gates
    verdict = gates.upgrade if choice == "upgrade" else gates.rollback
    plan = plan_offline(session.planner.ctx, ctx.view, away, keep, verdict, choice.capitalize())
    _print_plan(ctx, plan)
    refused = choose if choose.refused else plan
    reasons = list(refused.refusals)
    if reasons and ctx.args.yes:
        session.journal_refusal(refused)
    if reasons:
        raise Refused(
            f"refused: {reasons[0]}" + (f" (and {len(reasons) - 1} more above)" if len(reasons) > 1 else "") + ".",
            refusal_code(refused.refusal_reasons),
        )
    if ctx.args.dry_run or ctx.args.read_only:
        return _dry(ctx, plan)
    if not ctx.args.yes:
        ctx.say("\nNot applied: add --yes (and --confirm-revision) to take it offline, or --dry-run to check it.")
        return exitcodes.OK
    _confirm(ctx, away)
    _lock(ctx)
    check = dry_run_shown(session, plan)
    if outcome_code(check):
        _print_outcome(ctx, check, "\nServer-side dry run:")
        return outcome_code(check)
    record = session.record
    if record is None or record.finish_choice != choice:
        from meshtui.engine.executor import RunControl

        chosen = session.run(choose, RunControl(), lambda p: None)
        if chosen.refusal:
            raise Refused(refusal_sentence(chosen), outcome_code(chosen))
    session.mark_plan_shown()
    view = ctx.reload()
    final = session.plan("finish", view)
    if final.refused:
        _print_plan(ctx, final)
        raise Refused(f"refused: {final.refusals[0]}.", refusal_code(final.refusal_reasons))
    code = _apply(ctx, final)
    if code == exitcodes.OK:
        word = "completed" if choice == "upgrade" else "cancelled (rolled back)"
        ctx.say(f"Revision {away} is offline; the upgrade is {word}.")
    return code


def _verified(ctx: Run, keep: str) -> None:
    """Finish needs a fresh passing verify run of `keep`, or the operator's --skip-verify with a reason."""
    from meshtui.engine.verifystate import verify_status

    how = "run `meshtui upgrade verify`, or pass --skip-verify REASON"
    status = verify_status(ctx.session.record, ctx.view, keep, how)
    if status.state.satisfied:
        return
    reason = (ctx.args.skip_verify or "").strip()
    if not reason:
        raise Refused(f"refused: {status.reason}.", exitcodes.REFUSED)
    ctx.say(f"Verify of {keep}: {status.state.value}; finishing without it: {reason}")
    if ctx.args.yes and not ctx.args.dry_run and not ctx.args.read_only:
        done, why = ctx.session.skip_verify(ctx.view, reason)
        if not done:
            raise Refused(f"refused: the skip was not recorded ({why}).", exitcodes.CONFLICT)


def _settle(ctx: Run, choice: str, seconds: float = 30.0) -> None:
    """Give replaced pods that are still terminating (they count until gone) the time to go, before judging."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        state = ctx.session.state(ctx.view)
        if state.gates is None or state.gates.verdict(choice).enabled:
            return
        if not any(p.pod.terminating for p in ctx.view.pods()):
            return
        time.sleep(0.5)
        ctx.reload()


def step_complete(ctx: Run) -> int:
    """The Upgrade action, then taking the source offline."""
    return _finish(ctx, "upgrade")


def step_cancel(ctx: Run) -> int:
    """Tags, namespaces and gateways back to the source, restart, then take the target offline."""
    a = ctx.args
    session = ctx.session
    state = session.state(ctx.view)
    source, target = state.source, state.target
    if source is None or target is None or session.record is None:
        raise Refused("no upgrade has been started: nothing to roll back", exitcodes.REFUSED)
    if not a.yes or a.dry_run or a.read_only:
        ctx.say("Rollback runs these steps, each planned when the previous one is done:")
        ctx.say(f"  1. move every tag that resolves to {target} back to {source}")
        ctx.say(f"  2. switch every namespace back to {source} (original labels restored where they fit)")
        ctx.say("  3. restart the workloads")
        ctx.say(f"  4. move the gateways back to {source}")
        ctx.say(f"  5. verify {source} (or --skip-verify REASON)")
        ctx.say(f"  6. once the Rollback gate holds, take {target} offline")
        ctx.say("\nThe first step now:")
    for tag in sorted({t.name for t in ctx.view.tags if t.revision == target}):
        plan = _plan(ctx, "move-tag", tag=tag, to=source)
        code = _apply(ctx, plan)
        if code or not a.yes or a.dry_run or a.read_only:
            return code
        ctx.reload()
    code = _apply(ctx, _plan(ctx, "switch-back", all=True))
    if code or not a.yes or a.dry_run or a.read_only:
        return code
    ctx.reload()
    # Every namespace is restarted back: an unfinished restart recorded earlier is superseded (journalled).
    code = _apply(
        ctx, _plan(ctx, "restart", all=True, batch=a.batch, pause=a.pause, ignore_pdb=a.ignore_pdb, discard=True)
    )
    if code:
        return code
    ctx.reload()
    code = _apply(ctx, _plan(ctx, "gateways-back", manifests=a.manifests, batch=a.batch, pause=a.pause))
    if code:
        return code
    ctx.reload()
    if not a.skip_verify:
        _settle(ctx, "rollback")
        ctx.say(f"\nVerify of {source}:")
        checks = session.verify(ctx.view, revision=source)
        for c in checks:
            ctx.say(f"{c.result.upper():<8} {c.name}: {c.detail}")
            for o in c.offenders:
                ctx.say(f"         - {o}")
        bad = [c.name for c in checks if c.result != "pass"]
        if bad:
            _err(
                ctx.name,
                f"verify of {source} did not pass ({', '.join(bad)}): fix it and run `meshtui upgrade verify` then "
                "`meshtui upgrade rollback` again, or pass --skip-verify REASON.",
            )
            return exitcodes.FAILED
    return _finish(ctx, "rollback")


def step_status(ctx: Run) -> int:
    """Print the phase, the lock, the gates and every action's state."""
    import orjson

    from meshtui.domain.text import inert_json

    state: EngineState = ctx.session.state(ctx.view)
    if ctx.args.json:
        doc = {
            "source": state.source,
            "target": state.target,
            "phase": state.phase,
            "recorded": state.recorded,
            "read_only": state.read_only,
            "read_only_reason": state.read_only_reason,
            "lock": {"holder": state.lock.holder, "mine": state.lock.mine, "expired": state.lock.expired},
            "restart_in_progress": state.restart_in_progress,
            "restart_interrupted": state.restart_interrupted,
            "actions": {
                a.id: {
                    "enabled": a.enabled,
                    "reasons": list(a.reasons),
                    "why": [
                        {"kind": r.kind.value, "code": r.code, "message": r.message, "offenders": list(r.offenders)}
                        for r in a.why
                    ],
                }
                for a in state.actions
            },
            "journal": [
                {
                    "time": j.time,
                    "identity": j.identity,
                    "cluster": j.cluster,
                    "action": j.action,
                    "objects": list(j.objects),
                    "result": j.result,
                    "message": j.message,
                }
                for j in state.journal
            ],
            "journal_total": state.journal_total,
            "journal_archive": [f"{ctx.session.store.namespace}/{name}" for name in state.journal_archive],
            "checks": [{"name": c.name, "result": c.result, "detail": c.detail} for c in state.checks],
            "verify": None
            if state.verify is None
            else {
                "state": state.verify.state.value,
                "revision": state.verify.revision,
                "at": state.verify.at,
                "reason": state.verify.reason,
            },
        }
        sys.stdout.buffer.write(inert_json(orjson.dumps(doc, option=orjson.OPT_INDENT_2)) + b"\n")
        return exitcodes.OK
    where = "recorded" if state.recorded else f"not started ({state.pair_origin or 'detected'})"
    ctx.say(f"Upgrade  {state.source or '?'} -> {state.target or '?'}   phase: {state.phase}   [{where}]")
    lock = state.lock
    if lock.holder is None:
        ctx.say("Lock     free")
    else:
        who = "you" if lock.mine else lock.holder
        extra = ", expired" if lock.expired else (f", {lock.detail}" if lock.detail else "")
        ctx.say(f"Lock     held by {who}{extra}")
    if state.read_only:
        ctx.say(f"Mode     read-only: {state.read_only_reason}")
    record = ctx.session.record
    if record is not None and record.restart is not None and record.restart.remaining:
        r = record.restart
        word = "interrupted" if state.restart_interrupted else "in progress"
        ctx.say(
            f"Restart  {word}: {len(r.done)} of {len(r.workloads)} workloads done "
            "(`upgrade restart --resume` resumes it, `--discard` drops it)"
        )
    ctx.say("")
    ctx.say("ACTIONS")
    for a in state.actions:
        ctx.say(f"  {a.id:<14} {'enabled' if a.enabled else 'disabled'}")
        for reason in a.reasons:
            ctx.say(f"      - {reason}")
    if state.verify is not None:
        at = f" at {state.verify.at}" if state.verify.at else ""
        ctx.say(f"Verify   {state.verify.revision}: {state.verify.state.value}{at}")
    if state.checks:
        ctx.say("")
        ctx.say("VERIFY (last run)")
        for c in state.checks:
            ctx.say(f"  {c.result:<8} {c.name}: {c.detail}")
    if state.journal:
        ctx.say("")
        ctx.say(f"JOURNAL (last 10 of {state.journal_total} entries)")
        if state.journal_archive:
            ns = ctx.session.store.namespace
            ctx.say(
                f"  the record {ctx.session.store.ref} holds {len(state.journal)} of them (the newest, the begin and "
                f"the irreversible ones); the older ones are in ConfigMap {', '.join(state.journal_archive)} ({ns})"
            )
        for j in state.journal[-10:]:
            objects = ", ".join(j.objects[:2])
            ctx.say(f"  {j.time} {j.identity} [{j.cluster}] {j.action} {j.result}: {objects} {j.message}".rstrip())
    return exitcodes.OK


STEPS: dict[str, Callable[[Run], int]] = {
    "start": step_start,
    "deploy": step_deploy,
    "switch": step_switch,
    "move-tag": step_move_tag,
    "restart": step_restart,
    "delete-pods": step_delete_pods,
    "gateways": step_gateways,
    "ambient": step_ambient,
    "verify": step_verify,
    "complete": step_complete,
    "cancel": step_cancel,
    "status": step_status,
}
