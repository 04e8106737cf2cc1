"""What the operator chose on the command line, as the dashboard reads it."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

#: The themes offered; `ansi-dark` uses the terminal's own 16 colours (jump hosts, `TERM=linux`).
THEMES = ("textual-dark", "ansi-dark", "ansi-light", "textual-light")
DEFAULT_THEME = "textual-dark"
#: Below this the layout cannot hold the header, a table and the key bar; a message is shown instead.
MIN_WIDTH, MIN_HEIGHT = 80, 24

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    """The wall clock, in UTC."""
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class DashboardSettings:
    """The dashboard's options: revisions, filter, mode and looks (no cluster connection)."""

    source: str | None = None
    target: str | None = None
    read_only: bool = False
    namespace_filter: str = ""
    theme: str = DEFAULT_THEME
    mouse: bool = True
    #: Repaints a second at most; watch bursts in between collapse into one.
    refresh_hz: float = 4.0
    #: Seconds between re-reads of the upgrade record and the lock (another operator may change them).
    session_refresh_s: float = 15.0
    #: Restart batching passed to the engine.
    batch_size: int = 5
    batch_pause_s: float = 0.0
    title: str = "meshtui"
    #: (revision, folder of its rendered manifests) pairs, offered as the answer when a plan asks for one.
    manifests: tuple[tuple[str, str], ...] = ()

    def manifests_of(self, revision: str | None) -> str:
        """The folder of a revision's rendered manifests, or "" when none was given."""
        return next((folder for rev, folder in self.manifests if rev == revision), "")


def theme_from_env(requested: str | None = None, environ: Mapping[str, str] | None = None) -> str:
    """The theme to use: an explicit choice, else $MESHTUI_THEME, else ansi-dark on 16-colour terminals."""
    env = os.environ if environ is None else environ
    choice = requested or env.get("MESHTUI_THEME", "")
    if choice:
        return choice
    term = env.get("TERM", "")
    if term in ("linux", "vt100", "vt220", "xterm-16color", "screen-16color", "ansi"):
        return "ansi-dark"
    return DEFAULT_THEME


def mouse_from_env(environ: Mapping[str, str] | None = None) -> bool:
    """Mouse support unless $MESHTUI_MOUSE is 0/no/off (mouse capture can break copy and paste over SSH)."""
    env = os.environ if environ is None else environ
    return env.get("MESHTUI_MOUSE", "1").strip().lower() not in ("0", "no", "off", "false")
