"""A list's pages fetched in order, each next one asked for as soon as the current one's head has arrived.

A page's answer starts with the list's metadata, so its continue token is known long before its body has
crossed the link. Asking for the next page then lets the server build it while this one's body arrives:
over a jump host's link a 2,000-pod page takes the server ~60 ms to start and the link ~90 ms to carry,
so overlapping them shortens a large list by about a third (docs/architecture.md, "where a list's time goes").
At most one page is asked for ahead; its answer waits in the socket until it is read.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future

from meshtui.cluster.rawapi import PageReply

#: Opens the page after the given continue token ("" for the first).
OpenPage = Callable[[str], PageReply]


class PageFetcher:
    """Fetches one list's pages, one after the other, overlapping each with the next one's start.

    `fetch` is called from one thread at a time (each call after the previous returned). Whatever opening a
    page early raised (an expired token, an error) is raised by the `fetch` that asks for that page, in
    order, as if it had been opened then.
    """

    def __init__(self, open_page: OpenPage, head_continue: Callable[[bytes], str | None], name: str) -> None:
        self._open = open_page
        self._head_continue = head_continue
        self._name = name
        self._ahead: tuple[str, Future[PageReply]] | None = None
        self._closed = False
        self.early = 0  # pages asked for before the previous one's body was read (for tests and benchmarks)

    def fetch(self, cont: str) -> bytes:
        """The whole (inflated) body of the page after `cont`."""
        reply = self._take_ahead(cont)
        if reply is None:
            reply = self._open(cont)
        try:
            head = reply.head(b'"items":')
            token = self._head_continue(head) if head is not None else None
            if token and not self._closed:
                self._start(token)
            return reply.read()
        finally:
            reply.close()

    def close(self) -> None:
        """Drop a page asked for ahead (its connection is closed once it answers)."""
        self._closed = True
        ahead, self._ahead = self._ahead, None
        if ahead is not None:
            ahead[1].add_done_callback(_close_reply)

    def _take_ahead(self, cont: str) -> PageReply | None:
        ahead, self._ahead = self._ahead, None
        if ahead is None:
            return None
        token, future = ahead
        if token != cont:  # not the page asked for (the caller read another token): drop it
            future.add_done_callback(_close_reply)
            return None
        return future.result()  # raises what opening it raised

    def _start(self, token: str) -> None:
        future: Future[PageReply] = Future()

        def run() -> None:
            if not future.set_running_or_notify_cancel():
                return
            try:
                future.set_result(self._open(token))
            except BaseException as exc:  # handed to the fetch that asks for this page
                future.set_exception(exc)

        self._ahead = (token, future)
        self.early += 1
        threading.Thread(target=run, name=f"{self._name}-ahead", daemon=True).start()


def _close_reply(future: Future[PageReply]) -> None:
    if not future.cancelled() and future.exception() is None:
        future.result().close()
