"""The progress of long work (restarts, installs, prunes): overall and current step, with pause and abort keys."""

from __future__ import annotations

from time import monotonic

from rich.text import Text
from textual.widget import Widget

from meshtui.engine.api import Progress
from meshtui.tui.inert import inert_text


def bar(done: int, total: int, width: int) -> str:
    """A text progress bar that reads without colour: `[#####.....]`."""
    width = max(4, width)
    filled = 0 if total <= 0 else min(width, round(width * done / total))
    return "[" + "#" * filled + "." * (width - filled) + "]"


def _duration(seconds: float) -> str:
    """`45s`, `2m10s`, `1h19m`."""
    seconds = max(0, int(seconds))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


def pace(done: int, total: int, elapsed: float) -> str:
    """`2m10s · 1.4/s · ETA 1h19m`: how long it has run, how fast, and how long is left at that pace."""
    parts = [_duration(elapsed)]
    if done > 0 and elapsed > 0:
        rate = done / elapsed
        parts.append(f"{rate:.1f}/s" if rate < 10 else f"{rate:.0f}/s")
        if total > done:
            parts.append(f"ETA {_duration((total - done) / rate)}")
    return " · ".join(parts)


class ProgressPanel(Widget):
    """Two lines under the tabs while work runs; hidden otherwise.

    The first line is the count, pace and title; the second one step, one workload: each is cut to the
    width rather than wrapped, so the step is never pushed out of the panel.
    """

    DEFAULT_CSS = """
    ProgressPanel { height: 2; display: none; background: $boost; padding: 0 1; }
    ProgressPanel.-running { display: block; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.title = ""
        self.progress: Progress | None = None
        self.paused = False
        self.result = ""
        self.started = 0.0

    def on_mount(self) -> None:
        # Elapsed time and the ETA move even while one slow workload rolls out.
        self.set_interval(1.0, self._tick)

    def _tick(self) -> None:
        if self.has_class("-running"):
            self.refresh()

    def start(self, title: str) -> None:
        """Show the panel for a new run."""
        self.title = title
        self.progress = None
        self.paused = False
        self.result = ""
        self.started = monotonic()
        self.add_class("-running")
        self.refresh()

    def update_progress(self, progress: Progress) -> None:
        """Show the latest progress report (a status-only report, done < 0, keeps the counts)."""
        if progress.done < 0 and self.progress is not None:
            previous = self.progress
            progress = Progress(
                progress.action, previous.done, previous.total, previous.current, progress.message, progress.paused
            )
        elif progress.done < 0:
            progress = Progress(progress.action, 0, progress.total, "", progress.message, progress.paused)
        self.progress = progress
        self.paused = progress.paused
        self.refresh()

    def set_paused(self, paused: bool) -> None:
        """Mark the run paused or running."""
        self.paused = paused
        self.refresh()

    def stop(self) -> None:
        """Hide the panel."""
        self.remove_class("-running")

    def render(self) -> Text:
        p = self.progress
        done, total = (p.done, p.total) if p is not None else (0, 0)
        width = max(1, self.size.width)
        head = Text()
        head.append(f"{bar(done, total, min(30, max(4, width // 6)))} {done:,}/{total:,}  ")
        if self.started:
            head.append(f"{pace(done, total, monotonic() - self.started)}  ", style="bold")
        if self.paused:
            head.append("PAUSED (p resumes)  ", style="reverse bold")
        head.append(self.title)
        # One workload a line: a wait names the workload being waited for, on its own.
        step = Text()
        if p is None:
            step.append("starting…")
        elif p.message:
            step.append(p.message)
        else:
            step.append(p.current or "")
        head.truncate(width, overflow="ellipsis")
        step.truncate(width, overflow="ellipsis")
        return inert_text(Text("\n").join([head, step]))
