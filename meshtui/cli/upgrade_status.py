"""`meshtui upgrade status`: the phase, the lock, the gates and every action's state (reads only)."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from meshtui.cli import exitcodes
from meshtui.cli.upgrade_run import Run

if TYPE_CHECKING:
    from meshtui.engine.api import EngineState


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
                a.id.value: {
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
            f"Restart  {word}: {len(r.done):,} of {len(r.workloads):,} workloads done "
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
