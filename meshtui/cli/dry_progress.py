"""Progress of a server-side dry run on the terminal: thousands of operations take seconds, and silence
meanwhile reads as a hang.

The line goes to stderr, and only when stderr is a terminal, so a pipe, a file or `--json` on stdout stay
exactly what they were; it is erased once the dry run ends, leaving the outcome's own lines.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, TextIO

from meshtui.cli.tty_line import TtyLine

if TYPE_CHECKING:
    from meshtui.domain.plan import Plan
    from meshtui.engine.executor import RunOutcome
    from meshtui.engine.session import EngineSession

#: Redraws a second at most (a fast dry run would otherwise spend its time writing to the terminal).
REDRAW_HZ = 10.0


class DryRunProgress:
    """`checked(done, total)` for a dry run: one rewritten line `server-side dry run: 120 of 6,765 operations`."""

    def __init__(self, out: TextIO | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self.line = TtyLine(out if out is not None else sys.stderr)
        self.clock = clock
        self._last = float("-inf")

    def __call__(self, done: int, total: int) -> None:
        if not self.line.tty:
            return
        now = self.clock()
        if done < total and now - self._last < 1 / REDRAW_HZ:
            return
        self._last = now
        self.line.show(f"  server-side dry run: {done:,} of {total:,} operations checked")

    def close(self) -> None:
        """Erase the progress line (the outcome is printed after it)."""
        self.line.clear()


def dry_run_shown(session: EngineSession, plan: Plan, out: TextIO | None = None) -> RunOutcome:
    """`session.dry_run(plan)`, with its progress on the terminal (see the module's docstring)."""
    progress = DryRunProgress(out)
    try:
        return session.dry_run(plan, progress)
    finally:
        progress.close()
