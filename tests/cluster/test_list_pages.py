"""The reflector's list: pages fetched one ahead, each handed to the sink as it arrives, restarts and errors."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import orjson
import pytest

from meshtui.cluster.errors import ClusterError, Gone, Unreachable
from meshtui.cluster.kinds import POD_PAGE_SIZE, watch_specs
from meshtui.cluster.live import MeshWatch
from meshtui.cluster.rawapi import ClientOptions
from meshtui.cluster.reflector import ConnState, ObjKey, Reflector, Timing, list_continue
from meshtui.domain.inventory import Inventory
from meshtui.domain.objects import parse_pod

TIMING = Timing(page_size=2, backoff_initial_s=0.01, backoff_max_s=0.05)


def pod(name: str, phase: str = "Running") -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": "ns", "uid": name}, "spec": {}, "status": {"phase": phase}}


def page(items: list[dict[str, Any]], cont: str = "", rv: str = "10") -> bytes:
    meta: dict[str, Any] = {"resourceVersion": rv}
    if cont:
        meta["continue"] = cont
    return orjson.dumps({"kind": "PodList", "apiVersion": "v1", "metadata": meta, "items": items})


class FakeApi:
    """Answers list requests from a script: continue token -> page bytes, or an exception to raise."""

    cluster = "c"
    options = ClientOptions()

    def __init__(self, script: dict[str, list[bytes | BaseException]]) -> None:
        self.script = script
        self.tokens: list[str] = []
        self.lock = threading.Lock()

    def request(
        self, method: str, path: str, *, query: list[tuple[str, Any]], decode: Callable[[bytes], Any], **_: Any
    ) -> Any:
        token = next((str(v) for k, v in query if k == "continue"), "")
        with self.lock:
            self.tokens.append(token)
            answer = self.script[token].pop(0) if len(self.script[token]) > 1 else self.script[token][0]
        if isinstance(answer, BaseException):
            raise answer
        return decode(answer)

    def open_page(self, path: str, *, query: list[tuple[str, Any]], **kw: Any) -> Any:
        """A list page as the reflector opens it: through `request` (which subclasses record or delay)."""
        return ScriptedReply(self.request("GET", path, query=query, decode=bytes, **kw))


class ScriptedReply:
    """A page's answer already whole: its head and body as `rawapi.PageReply` gives them."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.closed = False

    def head(self, marker: bytes) -> bytes | None:
        at = self.data.find(marker)
        return self.data[:at] if at >= 0 else None

    def read(self) -> bytes:
        return self.data

    def close(self) -> None:
        self.closed = True


class Sink:
    def __init__(self) -> None:
        self.pages: list[dict[ObjKey, Any]] = []
        self.replaced_with: dict[ObjKey, Any] | None = None
        self.problems: list[tuple[ObjKey, str]] = []
        self.states: list[ConnState] = []

    def listed(self, cluster: str, kind: str, items: dict[ObjKey, Any]) -> None:
        self.pages.append(items)

    def replaced(self, cluster: str, kind: str, items: dict[ObjKey, Any]) -> None:
        self.replaced_with = items

    def changed(self, cluster: str, kind: str, event: str, key: ObjKey, model: Any) -> None:
        pass

    def status(self, cluster: str, kind: str, status: Any) -> None:
        self.states.append(status.state)

    def problem(self, cluster: str, kind: str, key: ObjKey, message: str) -> None:
        self.problems.append((key, message))


def pod_reflector(api: FakeApi, sink: Sink) -> Reflector[Any]:
    spec = next(s for s in watch_specs() if s.kind == "Pod")
    return Reflector(api, spec, sink, timing=TIMING)  # type: ignore[arg-type]


def test_pages_reach_the_sink_in_order_and_the_list_replaces_exactly() -> None:
    api = FakeApi(
        {
            "": [page([pod("a"), pod("b")], "t1")],
            "t1": [page([pod("c"), {"metadata": {"namespace": "ns"}}], "t2")],  # a nameless pod: a problem
            "t2": [page([pod("e")])],
        }
    )
    sink = Sink()
    reflector = pod_reflector(api, sink)
    reflector._list()
    assert api.tokens == ["", "t1", "t2"]
    assert [sorted(n for _, n in p) for p in sink.pages] == [["a", "b"], ["c"], ["e"]]
    assert sink.problems == [(("ns", "?"), "Pod ?: the object has no metadata.name")]
    assert sink.replaced_with == {("ns", n): parse_pod("c", pod(n)) for n in "abce"}
    assert reflector.resource_version == "10" and reflector.synced.is_set()


def test_an_expired_continue_token_starts_the_list_over() -> None:
    api = FakeApi(
        {
            "": [page([pod("a"), pod("b")], "t1"), page([pod("a"), pod("b", "Failed")], "u1")],
            "t1": [page([pod("c"), pod("d")], "t2")],
            "t2": [Gone("continue token expired", cluster="c")],
            "u1": [page([pod("c")], rv="20")],
        }
    )
    sink = Sink()
    reflector = pod_reflector(api, sink)
    reflector._list()
    assert api.tokens == ["", "t1", "t2", "", "u1"]
    # The pages before the restart reached the sink (as upserts); the replace holds only the new list.
    assert len(sink.pages) == 4
    assert sink.replaced_with == {
        ("ns", "a"): parse_pod("c", pod("a")),
        ("ns", "b"): parse_pod("c", pod("b", "Failed")),
        ("ns", "c"): parse_pod("c", pod("c")),
    }
    assert reflector.resource_version == "20"


def test_an_error_while_fetching_ahead_fails_the_list() -> None:
    api = FakeApi(
        {
            "": [page([pod("a"), pod("b")], "t1")],
            "t1": [page([pod("c"), pod("d")], "t2")],
            "t2": [Unreachable("connection refused", cluster="c")],
        }
    )
    sink = Sink()
    with pytest.raises(Unreachable):
        pod_reflector(api, sink)._list()
    assert sink.replaced_with is None and len(sink.pages) == 2


def test_a_page_that_is_not_json_is_a_cluster_error() -> None:
    api = FakeApi({"": [page([pod("a"), pod("b")], "t1")], "t1": [b"<html>proxy error</html>"]})
    with pytest.raises(ClusterError, match="not JSON for listing Pod"):
        pod_reflector(api, Sink())._list()


def test_a_page_whose_continue_token_reads_two_ways_is_refused() -> None:
    # Duplicate keys: the quick reading of the metadata sees "t1", the full decode the last one, "t9".
    odd = b'{"metadata":{"continue":"t1"},"items":[],"metadata":{"continue":"t9"}}'
    api = FakeApi({"": [odd], "t1": [page([pod("x")])], "t9": [page([pod("y")])]})
    with pytest.raises(ClusterError, match="contradicts itself"):
        pod_reflector(api, Sink())._list()


def test_stop_ends_a_list_without_replacing() -> None:
    gate = threading.Event()

    class SlowApi(FakeApi):
        def request(self, method: str, path: str, **kw: Any) -> Any:
            if any(k == "continue" and v == "t1" for k, v in kw["query"]):
                gate.wait(5)
            return super().request(method, path, **kw)

    api = SlowApi({"": [page([pod("a"), pod("b")], "t1")], "t1": [page([pod("c")])]})
    sink = Sink()
    reflector = pod_reflector(api, sink)
    done = threading.Event()
    thread = threading.Thread(target=lambda: (reflector._list(), done.set()))
    thread.start()
    while not sink.pages:
        threading.Event().wait(0.01)
    reflector._stop.set()
    assert done.wait(2), "a stopped list returns while a page is still on its way"
    gate.set()
    thread.join(2)
    assert sink.replaced_with is None and not reflector.synced.is_set()


@pytest.mark.parametrize(
    ("data", "token"),
    [
        (b'{"kind":"PodList","apiVersion":"v1","metadata":{"resourceVersion":"5","continue":"abc"},"items":[]}', "abc"),
        (b'{"metadata":{"resourceVersion":"5"},"items":[{"metadata":{"name":"x"}}]}', ""),
        (b'{"items":[{"metadata":{"continue":"inner"}}],"metadata":{"continue":"outer"}}', "outer"),
        (b'{"items":[]}', ""),
        (b'{"metadata":{"continue":"abc"},"items":[', "abc"),  # truncated after the metadata: still read
        (b"not json", ""),
        (b"", ""),
    ],
)
def test_list_continue_reads_the_token_without_the_items(data: bytes, token: str) -> None:
    assert list_continue(data) == token


def test_the_pod_spec_asks_for_its_own_page_size_and_others_for_the_timings() -> None:
    limits: list[tuple[str, Any]] = []

    class Recording(FakeApi):
        def request(self, method: str, path: str, **kw: Any) -> Any:
            limits.append((path, dict(kw["query"])["limit"]))
            return super().request(method, path, **kw)

    api = Recording({"": [page([pod("a")])]})
    pod_reflector(api, Sink())._list()
    namespaces = next(s for s in watch_specs() if s.kind == "Namespace")
    Reflector(api, namespaces, Sink(), timing=TIMING)._list()  # type: ignore[arg-type]
    assert limits == [("/api/v1/pods", POD_PAGE_SIZE), ("/api/v1/namespaces", TIMING.page_size)]


# ------------------------------------------------------------------------------ MeshWatch: pages, then replace


def watched(api: FakeApi, inventory: Inventory) -> tuple[MeshWatch, Reflector[Any]]:
    """A MeshWatch over one pod reflector on the fake API, driven by hand (no threads)."""
    watch = MeshWatch([], inventory)
    spec = next(s for s in watch_specs() if s.kind == "Pod")
    reflector = Reflector(api, spec, watch, timing=TIMING)  # type: ignore[arg-type]
    watch.reflectors.append(reflector)
    watch._note_first_lists()
    return watch, reflector


def apply_queued(watch: MeshWatch) -> tuple[int, int]:
    replaces, changes = watch._buffer.take()
    watch._apply(replaces, changes)
    return len(replaces), len(changes)


def pod_names(inventory: Inventory) -> list[str]:
    return sorted(r.name for r in inventory.view().pods("c"))


def test_a_first_list_is_applied_by_its_pages_alone() -> None:
    api = FakeApi({"": [page([pod("a"), pod("b")], "t1")], "t1": [page([pod("c")])]})
    inventory = Inventory()
    watch, reflector = watched(api, inventory)
    reflector._list()
    assert apply_queued(watch) == (0, 3), "no replace: the pages queued exactly the listed pods"
    assert pod_names(inventory) == ["a", "b", "c"]
    # A relist replaces: a pod gone from the server goes from the inventory.
    api.script = {"": [page([pod("a"), pod("c")])]}
    reflector._list()
    assert apply_queued(watch) == (1, 0)
    assert pod_names(inventory) == ["a", "c"]


def test_a_first_list_that_started_over_replaces_so_dropped_pods_go() -> None:
    api = FakeApi(
        {
            "": [page([pod("a"), pod("b")], "t1"), page([pod("a")], "u1")],
            "t1": [Gone("continue token expired", cluster="c")],
            "u1": [page([pod("c")])],
        }
    )
    inventory = Inventory()
    watch, reflector = watched(api, inventory)
    reflector._list()
    assert apply_queued(watch)[0] == 1
    assert pod_names(inventory) == ["a", "c"]


def test_objects_held_before_the_watch_started_are_replaced() -> None:
    inventory = Inventory()
    inventory.apply("c", "Pod", "ADDED", parse_pod("c", pod("stale")))
    api = FakeApi({"": [page([pod("a")])]})
    watch, reflector = watched(api, inventory)
    reflector._list()
    assert apply_queued(watch)[0] == 1
    assert pod_names(inventory) == ["a"]


def test_an_empty_first_list_still_makes_the_kind_known() -> None:
    inventory = Inventory()
    watch, reflector = watched(FakeApi({"": [page([])]}), inventory)
    reflector._list()
    assert apply_queued(watch) == (1, 0)
    assert not inventory.holds("c", "Pod") and "Pod" in inventory.snapshot().clusters[0].known_kinds


def test_every_request_has_a_read_timeout_and_a_watch_one_beyond_its_timeout_seconds() -> None:
    class RecordingApi(FakeApi):
        def __init__(self) -> None:
            super().__init__({"": [page([pod("a")])]})
            self.timeouts: list[tuple[str, Any, Any]] = []

        def request(self, method: str, path: str, **kw: Any) -> Any:
            self.timeouts.append(("list", dict(kw["query"]).get("timeoutSeconds"), kw["timeout"]))
            return super().request(method, path, **kw)

        def stream(self, path: str, *, query: list[tuple[str, Any]], timeout: Any, **_: Any) -> Any:
            self.timeouts.append(("watch", dict(query)["timeoutSeconds"], timeout))
            raise Unreachable("stop here")

    api = RecordingApi()
    reflector = pod_reflector(api, Sink())
    reflector._list()
    reflector._check_resource_version()
    with pytest.raises(Unreachable):
        reflector._watch_once()
    assert [(what, t[1]) for what, _, t in api.timeouts] == [
        ("list", ClientOptions().read_timeout_s),
        ("list", ClientOptions().read_timeout_s),
        ("watch", api.timeouts[2][1] + TIMING.read_slack_s),
    ]
    assert all(t[0] > 0 for _, _, t in api.timeouts)
