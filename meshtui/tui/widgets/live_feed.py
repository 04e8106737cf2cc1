"""The bridge from the watch threads to the UI: a dirty flag, a repaint tick and one refresh worker.

The watch's callback only sets a flag (cheap, from any thread); a timer on the UI loop starts a thread
worker when the flag is set and no refresh is in flight, so a burst of 10,000 events costs one snapshot.
"""

from __future__ import annotations

import threading

from textual import work
from textual.message import Message
from textual.widget import Widget

from meshtui.tui.feed import MeshSource, Snapshot, SnapshotBuilder, describe_error


class LiveFeed(Widget):
    """Invisible: turns change notifications into at most `hz` snapshots a second."""

    DEFAULT_CSS = """
    LiveFeed { display: none; }
    """

    class Updated(Message):
        """Posted when a new snapshot of the mesh and the engine state is ready."""

        def __init__(self, snapshot: Snapshot, ticket: int = 0) -> None:
            super().__init__()
            self.snapshot = snapshot
            #: The last `refresh_now` ticket this refresh answers.
            self.ticket = ticket

    class Unchanged(Message):
        """Posted when a refresh found nothing new to show."""

        def __init__(self, ticket: int = 0) -> None:
            super().__init__()
            self.ticket = ticket

    class Failed(Message):
        """Posted when reading the mesh failed (the next change retries)."""

        def __init__(self, message: str, ticket: int = 0) -> None:
            super().__init__()
            self.message = message
            self.ticket = ticket

    def __init__(self, mesh: MeshSource, builder: SnapshotBuilder, *, hz: float = 4.0) -> None:
        super().__init__()
        self.mesh = mesh
        self.builder = builder
        self.hz = hz
        self._dirty = threading.Event()
        self._busy = False
        self.snapshots = 0
        #: Requests for a snapshot so far (`refresh_now`); each refresh's messages carry the count it started at.
        self._asked = 0

    def on_mount(self) -> None:
        self.mesh.listen(self.mark_dirty)
        self.mesh.start()
        self._dirty.set()
        self._tick()
        self.set_interval(1 / self.hz, self._tick, name="live-feed")

    def mark_dirty(self) -> None:
        """Note that something changed (safe from any thread; never touches widgets)."""
        self._dirty.set()

    def _tick(self) -> None:
        if self._busy or not self._dirty.is_set():
            return
        self._dirty.clear()
        self._busy = True
        self._refresh(self._asked)

    @work(thread=True, exit_on_error=False, group="live-feed", name="refresh")
    def _refresh(self, ticket: int) -> None:
        try:
            snapshot = self.builder.build()
        except Exception as exc:
            self.post_message(self.Failed(describe_error(exc), ticket))
        else:
            self.post_message(self.Updated(snapshot, ticket) if snapshot is not None else self.Unchanged(ticket))

    def on_live_feed_updated(self, event: Updated) -> None:
        # Seen here first (the message bubbles on): the next refresh may start.
        self._busy = False
        self.snapshots += 1

    def on_live_feed_unchanged(self, event: Unchanged) -> None:
        self._busy = False

    def on_live_feed_failed(self, event: Failed) -> None:
        self._busy = False

    def refresh_now(self) -> int:
        """Ask for a snapshot at the next tick (after an action, say).

        Returns a ticket: the messages of a refresh started after this call carry it or a later one.
        """
        self._asked += 1
        self._dirty.set()
        return self._asked
