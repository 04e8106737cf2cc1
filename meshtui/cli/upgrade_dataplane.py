"""`meshtui upgrade switch`, `move-tag`, `restart`, `delete-pods` and `gateways`: the data-plane steps."""

from __future__ import annotations

import argparse

from meshtui.cli.upgrade_run import Run, apply_plan, plan_or_refuse


def step_switch(ctx: Run) -> int:
    """Switch namespaces."""
    from meshtui.engine.params import SwitchBackParams, SwitchParams

    a = ctx.args
    namespaces = namespaces_of(a)
    params = SwitchBackParams(namespaces=namespaces) if a.back else SwitchParams(namespaces=namespaces, to=a.to)
    return apply_plan(ctx, plan_or_refuse(ctx, params))


def namespaces_of(a: argparse.Namespace) -> tuple[str, ...] | None:
    """The namespaces named on the command line; None (every one that applies) with --all or none named."""
    return None if a.all else (tuple(a.namespaces) or None)


def step_move_tag(ctx: Run) -> int:
    """Move a tag."""
    from meshtui.engine.params import MoveTagParams

    return apply_plan(ctx, plan_or_refuse(ctx, MoveTagParams(tag=ctx.args.tag, to=ctx.args.to)))


def step_restart(ctx: Run) -> int:
    """Restart workloads (or resume an interrupted restart)."""
    from meshtui.engine.params import RestartParams

    a = ctx.args
    record = ctx.session.record
    if record is not None and record.restart is not None and record.restart.remaining and a.resume:
        progress = record.restart
        ctx.say(
            f"Resuming the {progress.action} started at {progress.restarted_at}: {len(progress.done)} of "
            f"{len(progress.workloads):,} workloads done."
        )
    params = RestartParams(
        namespaces=namespaces_of(a),
        batch=a.batch,
        pause=a.pause,
        ignore_pdb=a.ignore_pdb,
        resume=a.resume,
        discard=a.new,
    )
    return apply_plan(ctx, plan_or_refuse(ctx, params))


def step_delete_pods(ctx: Run) -> int:
    """Delete pods nothing recreates (their owner re-creates them from their manifest)."""
    from meshtui.engine.params import DeletePodsParams

    return apply_plan(ctx, plan_or_refuse(ctx, DeletePodsParams(pods=tuple(ctx.args.pods))))


def step_gateways(ctx: Run) -> int:
    """Move the gateways."""
    from meshtui.engine.params import GatewaysBackParams, GatewaysParams

    a = ctx.args
    kind = GatewaysBackParams if a.back else GatewaysParams
    return apply_plan(ctx, plan_or_refuse(ctx, kind(manifests=a.manifests, batch=a.batch, pause=a.pause)))
