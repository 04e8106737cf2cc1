"""What the dashboard needs before it can show a cluster, prepared off the UI loop while a first frame shows.

Building the demo's simulated cluster or reading the upgrade record takes seconds on a large mesh; a
`Starter` does that work on a thread and reports each stage, so the terminal never stays blank meanwhile.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from meshtui.tui.settings import DashboardSettings

if TYPE_CHECKING:  # the CLI imports this before it knows a dashboard will open: keep it light
    from meshtui.engine.api import Session
    from meshtui.tui.feed import MeshSource

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Started:
    """What the dashboard is built from once the starter is done."""

    mesh: MeshSource
    session: Session | None
    settings: DashboardSettings
    session_problem: str = ""


class StartFailed(Exception):
    """The starter could not reach a cluster; `message` is the operator's one sentence, `exit_code` the CLI's."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code


class Report(Protocol):
    """How a starter tells the loading screen where it is (callable from its thread)."""

    def __call__(self, line: str) -> None:
        """A new stage begins (the one before is done)."""

    def detail(self, text: str) -> None:
        """How far the current stage has come (replaces the previous detail)."""


#: Prepares the dashboard (blocking, on a thread), reporting each stage as it begins.
Starter = Callable[[Report], Started]


class Closer:
    """Closes what a starter opened, newest first, once the app is done, even if the starter is still working.

    The operator may quit while the starter builds; whatever it opens after that is closed at once, since
    nobody will show it (`add` then returns False and the starter should stop).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._closes: list[Callable[[], object]] = []
        self._closed = False

    def add(self, close: Callable[[], object]) -> bool:
        """Close this at the end; closed now (and False) when the end has already come."""
        with self._lock:
            if not self._closed:
                self._closes.append(close)
                return True
        close()
        return False

    def close(self) -> None:
        """Close everything added, newest first; each failure is logged and the rest still closed."""
        with self._lock:
            self._closed = True
            closes, self._closes = self._closes[::-1], []
        for close in closes:
            try:
                close()
            except Exception:
                log.exception("closing after the dashboard failed")
