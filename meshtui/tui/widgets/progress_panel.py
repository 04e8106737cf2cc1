"""The progress of long work (restarts, installs, prunes): overall and current step, with pause and abort keys."""

from __future__ import annotations

from rich.text import Text
from textual.widget import Widget

from meshtui.engine.api import Progress
from meshtui.tui.inert import inert_text


def bar(done: int, total: int, width: int) -> str:
    """A text progress bar that reads without colour: `[#####.....]`."""
    width = max(4, width)
    filled = 0 if total <= 0 else min(width, round(width * done / total))
    return "[" + "#" * filled + "." * (width - filled) + "]"


class ProgressPanel(Widget):
    """Two lines under the tabs while work runs; hidden otherwise."""

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

    def start(self, title: str) -> None:
        """Show the panel for a new run."""
        self.title = title
        self.progress = None
        self.paused = False
        self.result = ""
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
        width = self.size.width
        head = Text(no_wrap=True, overflow="ellipsis")
        head.append(f"{bar(done, total, min(30, max(4, width // 4)))} {done}/{total}  ")
        if self.paused:
            head.append("PAUSED (p resumes)  ", style="reverse bold")
        head.append(self.title, style="bold")
        line2 = Text(no_wrap=True, overflow="ellipsis")
        if p is not None:
            line2.append(p.current or "")
            if p.message:
                line2.append(f"  {p.message}", style="dim")
        else:
            line2.append("starting…")
        return inert_text(Text("\n", no_wrap=True, overflow="ellipsis").join([head, line2]))
