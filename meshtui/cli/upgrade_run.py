"""What every `meshtui upgrade` step (and `meshtui plan`) shares: the run, plans printed and applied, exit codes.

A step connects once (`open_run`), plans through the engine session, prints the plan, and applies it only
with `--yes` after a server-side dry run. Exit codes are derived from typed reasons and step results,
never from a message's words.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TextIO, cast

from meshtui.cli import exitcodes
from meshtui.cli.dry_progress import dry_run_shown
from meshtui.cli.output import raw
from meshtui.domain.actions import ActionId

if TYPE_CHECKING:
    from meshtui.cluster.kubeconfig import ClusterTarget
    from meshtui.domain.inventory import Inventory, InventoryView
    from meshtui.domain.plan import Plan
    from meshtui.domain.reasons import Reason
    from meshtui.engine.api import Progress
    from meshtui.engine.executor import RunOutcome
    from meshtui.engine.params import ActionParams
    from meshtui.engine.session import EngineSession


class Refused(Exception):
    """A command stops with this exit code after printing why."""

    def __init__(self, message: str, code: exitcodes.ExitCode):
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
        self.view = view_of(inventory, self.session)
        return self.view

    def say(self, text: str = "") -> None:
        """A line on stdout."""
        print(text, file=self.out, flush=True)


def view_of(inventory: Inventory, session: EngineSession) -> InventoryView:
    base = inventory.view(session.source_flag, session.target_flag)
    source, target, _ = session.pair(base)
    record = session.record
    chosen = record.finish_choice if record is not None else None
    shown = record.offline_plan_shown if record is not None else False
    return inventory.view(source, target, chosen, shown)


def err(name: str, message: str) -> None:
    print(f"{name}: {message}", file=sys.stderr, flush=True)


def refusal_code(reasons: Iterable[Reason]) -> exitcodes.ExitCode:
    """The exit code a refusal ends with, from the kinds of its reasons (never their wording)."""
    from meshtui.domain.reasons import ReasonKind

    kinds = {r.kind for r in reasons}
    if ReasonKind.PERMISSION in kinds:
        return exitcodes.PERMISSION
    if ReasonKind.LOCK in kinds:
        return exitcodes.CONFLICT
    return exitcodes.REFUSED


def outcome_code(outcome: RunOutcome) -> exitcodes.ExitCode:
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


def print_plan(ctx: Run, plan: Plan) -> None:
    for line in plan.lines():
        ctx.say(line)
    for remedy in plan.remedies:
        if remedy in REMEDY_FLAGS:
            ctx.say(REMEDY_FLAGS[remedy])


def print_outcome(ctx: Run, outcome: RunOutcome, heading: str) -> None:
    from meshtui.engine.executor import GOOD

    ctx.say(heading)
    for step in outcome.steps:
        word = "ok" if step.result in GOOD else step.result.value.upper()
        msg = f" ({step.message})" if step.message else ""
        ctx.say(f"  {word:<9} {step.operation.describe()}{msg}")


def open_run(args: argparse.Namespace, wanted: list[ActionId] | None) -> Run:
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
    installs = wanted is not None and set(wanted) <= {ActionId.START, ActionId.DEPLOY}
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
        err(
            f"meshtui upgrade {args.step}",
            f"note: the recorded upgrade is {record.source} -> {record.target}; --source/--target are ignored",
        )
    ctx = Run(args, targets, inventory, session, view_of(inventory, session))
    return ctx


def plan_or_refuse(ctx: Run, params: ActionParams) -> Plan:
    """Plan and print an action; a refused plan ends the command (journalled with --yes)."""
    plan = ctx.session.plan(ctx.view, params)
    print_plan(ctx, plan)
    if plan.refused and getattr(ctx.args, "yes", False):
        ctx.session.journal_refusal(plan)
    if plan.refused:
        first = plan.refusals[0]
        more = f" (and {len(plan.refusals) - 1} more reasons above)" if len(plan.refusals) > 1 else ""
        raise Refused(f"refused: {first}{more}.", refusal_code(plan.refusal_reasons))
    return plan


def take_lock(ctx: Run) -> None:
    refusal = ctx.session.take_lock(take_over=ctx.args.take_over)
    if refusal is not None:
        hint = "; pass --take-over to take it (journalled)" if refusal.code == "lock-held" else ""
        raise Refused(f"{refusal.message}{hint}.", refusal_code([refusal]))
    if ctx.session.lock.took_over_from:
        ctx.say(f"Took over the upgrade lock from {ctx.session.lock.took_over_from} (journalled).")


def dry_run(ctx: Run, plan: Plan) -> int:
    if ctx.args.read_only:
        ctx.say("\nRead-only: no server-side dry run was sent.")
        return exitcodes.OK
    outcome = dry_run_shown(ctx.session, plan)
    print_outcome(ctx, outcome, "\nServer-side dry run:")
    code = outcome_code(outcome)
    if code:
        stopped = outcome.stopped_by
        assert stopped is not None
        err(ctx.name, f"the dry run refused {stopped.operation.object_ref}: {stopped.message}")
    return code


def apply_plan(ctx: Run, plan: Plan) -> int:
    """Print, then (with --yes) dry-run and apply a plan; the exit code."""
    from meshtui.engine.executor import RunControl

    if not plan.operations and plan.action not in (ActionId.UPGRADE, ActionId.ROLLBACK, ActionId.VERIFY):
        ctx.say(f"Nothing applied: {len(plan.skipped)} skipped (see why above)." if plan.skipped else "Nothing to do.")
        return exitcodes.OK
    if ctx.args.dry_run or ctx.args.read_only:
        return dry_run(ctx, plan)
    if not ctx.args.yes:
        ctx.say("\nNot applied: add --yes to apply this plan, or --dry-run to check it server-side.")
        return exitcodes.OK
    take_lock(ctx)
    if plan.operations:
        check = dry_run_shown(ctx.session, plan)
        if outcome_code(check):
            print_outcome(ctx, check, "\nServer-side dry run:")
            stopped = check.stopped_by
            assert stopped is not None
            err(ctx.name, f"the dry run refused {stopped.operation.object_ref}: {stopped.message}; nothing applied")
            return outcome_code(check)
    reporter = Reporter(ctx.out)
    ctx.say(f"\nApplying: {plan.title}")
    try:
        outcome = ctx.session.run(plan, RunControl(), reporter)
    finally:
        reporter.close()
    code = outcome_code(outcome)
    if outcome.refusal:
        err(ctx.name, refusal_sentence(outcome))
    elif code:
        stopped = outcome.stopped_by
        assert stopped is not None
        err(ctx.name, f"stopped at {stopped.operation.describe()}: {stopped.message}")
    else:
        steps = len(outcome.steps)
        ctx.say(f"Done: {steps} step{'' if steps == 1 else 's'}.")
    return code


def confirm_revision(ctx: Run, revision: str) -> None:
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
