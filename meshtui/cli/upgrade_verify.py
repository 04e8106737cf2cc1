"""`meshtui upgrade verify`: run the verify checks (kept in the record when this meshtui may write)."""

from __future__ import annotations

from meshtui.cli import exitcodes
from meshtui.cli.upgrade_run import Run, err


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
        err(ctx.name, f"{len(failed)} checks failed: {', '.join(c.name for c in failed)}.")
        return exitcodes.FAILED
    unknown = [c for c in checks if c.result == "unknown"]
    if unknown:
        # A check that could not run is not a pass: a pipeline must not read this as "verified".
        err(
            ctx.name,
            f"{len(unknown)} checks could not run ({', '.join(c.name for c in unknown)}): not passed; fix what "
            "keeps them from running, or finish with --skip-verify REASON.",
        )
        return exitcodes.FAILED
    return exitcodes.OK
