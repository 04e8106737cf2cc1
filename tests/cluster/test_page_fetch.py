"""The next list page is asked for as soon as the current page's head (with its continue token) arrived,
while its body is still read; pages still come in order, each once, and a dropped page's answer is closed."""

from __future__ import annotations

import threading
from typing import Any

from meshtui.cluster.pagefetch import PageFetcher
from meshtui.cluster.reflector import head_continue
from tests.cluster.test_list_pages import FakeApi, ScriptedReply, Sink, page, pod, pod_reflector


class SlowBodies(FakeApi):
    """Each page's body waits (up to 5 s) until the next page was asked for: a fetcher that asks only after
    reading a body would wait the full 5 s for every page."""

    def __init__(self, script: dict[str, list[bytes | BaseException]]) -> None:
        super().__init__(script)
        self.asked = {token: threading.Event() for token in script}
        self.waited: list[bool] = []

    def open_page(self, path: str, *, query: list[tuple[str, Any]], **kw: Any) -> Any:
        token = next((str(v) for k, v in query if k == "continue"), "")
        self.asked[token].set()
        reply = super().open_page(path, query=query, **kw)
        api = self

        class Slow(ScriptedReply):
            def read(self) -> bytes:
                nxt = head_continue(self.data[: self.data.find(b'"items":')]) or ""
                if nxt:
                    api.waited.append(api.asked[nxt].wait(5))
                return self.data

        return Slow(reply.data)


def three_pages() -> dict[str, list[bytes | BaseException]]:
    return {
        "": [page([pod("a"), pod("b")], "t1")],
        "t1": [page([pod("c"), pod("d")], "t2")],
        "t2": [page([pod("e")])],
    }


def test_the_next_page_is_asked_for_before_this_pages_body_is_read() -> None:
    api = SlowBodies(three_pages())
    sink = Sink()
    reflector = pod_reflector(api, sink)  # type: ignore[arg-type]
    reflector._list()
    assert api.waited == [True, True], "each body was read only after the next page had been asked for"
    assert api.tokens == ["", "t1", "t2"]
    assert [sorted(n for _, n in p) for p in sink.pages] == [["a", "b"], ["c", "d"], ["e"]]
    assert sorted(n for _, n in sink.replaced_with or {}) == ["a", "b", "c", "d", "e"]


def test_a_head_without_the_token_is_fetched_one_page_at_a_time() -> None:
    # The metadata after the items: the token is known only from the whole body.
    items_first = b'{"items":[],"metadata":{"resourceVersion":"10","continue":"t1"}}'
    api = FakeApi({"": [items_first], "t1": [page([pod("x")])]})
    fetcher = PageFetcher(lambda cont: api.open_page("/api/v1/pods", query=[("continue", cont)]), head_continue, "t")
    assert fetcher.fetch("") == items_first
    assert api.tokens == [""] and fetcher.early == 0
    assert b'"x"' in fetcher.fetch("t1")
    assert api.tokens == ["", "t1"]


def test_a_page_asked_for_ahead_and_then_dropped_has_its_answer_closed() -> None:
    opened: list[ScriptedReply] = []

    class Recording(FakeApi):
        def open_page(self, path: str, *, query: list[tuple[str, Any]], **kw: Any) -> Any:
            reply = super().open_page(path, query=query, **kw)
            opened.append(reply)
            return reply

    api = Recording(three_pages())
    fetcher = PageFetcher(lambda cont: api.open_page("/api/v1/pods", query=[("continue", cont)]), head_continue, "t")
    fetcher.fetch("")
    fetcher.close()  # the list stopped: the page after "t1" is no longer wanted
    for _ in range(500):
        if len(opened) == 2 and opened[1].closed:
            break
        threading.Event().wait(0.01)
    assert [r.closed for r in opened] == [True, True]
    assert api.tokens == ["", "t1"]


def test_asking_for_another_page_than_the_one_ahead_drops_it() -> None:
    api = FakeApi({**three_pages(), "other": [page([pod("z")])]})
    fetcher = PageFetcher(lambda cont: api.open_page("/api/v1/pods", query=[("continue", cont)]), head_continue, "t")
    fetcher.fetch("")
    assert b'"z"' in fetcher.fetch("other")
    assert api.tokens[-1] == "other" and sorted(api.tokens[:2]) == ["", "t1"]
