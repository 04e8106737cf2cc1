"""`meshtui upgrade complete` and `cancel`: choose Upgrade or Rollback, then take a revision offline.

Cancel first moves everything back to the source (tags, namespaces, restarts, gateways) and verifies it."""

from __future__ import annotations

import time

from meshtui.cli import exitcodes
from meshtui.cli.dry_progress import dry_run_shown
from meshtui.cli.upgrade_run import (
    Refused,
    Run,
    apply_plan,
    confirm_revision,
    dry_run,
    err,
    outcome_code,
    plan_or_refuse,
    print_outcome,
    print_plan,
    refusal_code,
    refusal_sentence,
    take_lock,
)
from meshtui.domain.actions import ActionId


def _finish(ctx: Run, choice: ActionId) -> int:
    """Choose Upgrade or Rollback (gate-checked), show the offline plan, confirm, take the revision offline."""
    from meshtui.engine.params import PARAMS, FinishParams
    from meshtui.engine.planners.finish import offline_pair, plan_offline

    session = ctx.session
    _settle(ctx, choice)
    state = session.state(ctx.view)
    source, target = state.source, state.target
    if session.record is None:
        raise Refused("refused: no upgrade has been started (meshtui upgrade start records it).", exitcodes.REFUSED)
    if source is None or target is None or state.gates is None:
        raise Refused("refused: no source and target revision.", exitcodes.REFUSED)
    away, keep = offline_pair(choice, source, target)
    _verified(ctx, keep)
    choose = session.plan(ctx.view, PARAMS[choice]())
    gates = state.gates
    verdict = gates.verdict(choice)
    plan = plan_offline(session.ctx, ctx.view, away, keep, verdict, choice.capitalize())
    print_plan(ctx, plan)
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
        return dry_run(ctx, plan)
    if not ctx.args.yes:
        ctx.say("\nNot applied: add --yes (and --confirm-revision) to take it offline, or --dry-run to check it.")
        return exitcodes.OK
    confirm_revision(ctx, away)
    take_lock(ctx)
    check = dry_run_shown(session, plan)
    if outcome_code(check):
        print_outcome(ctx, check, "\nServer-side dry run:")
        return outcome_code(check)
    record = session.record
    if record is None or record.finish_choice != choice:
        from meshtui.engine.executor import RunControl

        chosen = session.run(choose, RunControl(), lambda p: None)
        if chosen.refusal:
            raise Refused(refusal_sentence(chosen), outcome_code(chosen))
    session.mark_plan_shown()
    view = ctx.reload()
    final = session.plan(view, FinishParams())
    if final.refused:
        print_plan(ctx, final)
        raise Refused(f"refused: {final.refusals[0]}.", refusal_code(final.refusal_reasons))
    code = apply_plan(ctx, final)
    if code == exitcodes.OK:
        word = "completed" if choice is ActionId.UPGRADE else "cancelled (rolled back)"
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


def _settle(ctx: Run, choice: ActionId, seconds: float = 30.0) -> None:
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
    return _finish(ctx, ActionId.UPGRADE)


def step_cancel(ctx: Run) -> int:
    """Tags, namespaces and gateways back to the source, restart, then take the target offline."""
    from meshtui.engine.params import GatewaysBackParams, MoveTagParams, RestartParams, SwitchBackParams

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
        plan = plan_or_refuse(ctx, MoveTagParams(tag=tag, to=source))
        code = apply_plan(ctx, plan)
        if code or not a.yes or a.dry_run or a.read_only:
            return code
        ctx.reload()
    code = apply_plan(ctx, plan_or_refuse(ctx, SwitchBackParams()))
    if code or not a.yes or a.dry_run or a.read_only:
        return code
    ctx.reload()
    # Every namespace is restarted back: an unfinished restart recorded earlier is superseded (journalled).
    code = apply_plan(
        ctx, plan_or_refuse(ctx, RestartParams(batch=a.batch, pause=a.pause, ignore_pdb=a.ignore_pdb, discard=True))
    )
    if code:
        return code
    ctx.reload()
    code = apply_plan(ctx, plan_or_refuse(ctx, GatewaysBackParams(manifests=a.manifests, batch=a.batch, pause=a.pause)))
    if code:
        return code
    ctx.reload()
    if not a.skip_verify:
        _settle(ctx, ActionId.ROLLBACK)
        ctx.say(f"\nVerify of {source}:")
        checks = session.verify(ctx.view, revision=source)
        for c in checks:
            ctx.say(f"{c.result.upper():<8} {c.name}: {c.detail}")
            for o in c.offenders:
                ctx.say(f"         - {o}")
        bad = [c.name for c in checks if c.result != "pass"]
        if bad:
            err(
                ctx.name,
                f"verify of {source} did not pass ({', '.join(bad)}): fix it and run `meshtui upgrade verify` then "
                "`meshtui upgrade rollback` again, or pass --skip-verify REASON.",
            )
            return exitcodes.FAILED
    return _finish(ctx, ActionId.ROLLBACK)
