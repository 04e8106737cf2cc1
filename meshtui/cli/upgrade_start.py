"""`meshtui upgrade start`: record the upgrade (source, target) in the cluster and take the lock."""

from __future__ import annotations

from meshtui.cli import exitcodes
from meshtui.cli.upgrade_run import Run, apply_plan, plan_or_refuse


def step_start(ctx: Run) -> int:
    """Record the upgrade and take the lock."""
    from meshtui.engine.params import StartParams

    plan = plan_or_refuse(ctx, StartParams())
    code = apply_plan(ctx, plan)
    if code == exitcodes.OK and ctx.args.yes and not ctx.args.dry_run:
        record = ctx.session.record
        if record is not None:
            ctx.say(f"Upgrade {record.source} -> {record.target} recorded in {ctx.session.store.ref}.")
    return code
