"""List-then-watch for one resource kind of one cluster, feeding a sink with parsed models.

It follows client-go's reflector: a paginated consistent list, a watch from the list's resourceVersion
with bookmarks, a relist on 410 Gone, and reconnects with jittered exponential backoff. Before it resumes a
watch it asks whether the server reached its resourceVersion (a server whose storage went back in time
accepts such a watch and stays silent) and relists on 504 ResourceVersionTooLarge, as client-go does. Every event is
applied in stream order and the resourceVersion advances only after the event was applied, so the cache
never skips an event and always converges to the server's state.

A list hands each page to the sink as soon as it is modelled (`listed`), while the next page is already
being fetched, and the complete state once the last page came (`replaced`); only then is the kind synced.
"""

from __future__ import annotations

import logging
import queue
import random
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from enum import Enum
from typing import Any, Generic, Protocol, TypeVar

import msgspec
import orjson

from meshtui.cluster.errors import (
    ClusterError,
    Forbidden,
    Gone,
    NotFound,
    ResourceVersionTooLarge,
    ServerError,
    Unauthorized,
    Unreachable,
)
from meshtui.cluster.pagefetch import PageFetcher
from meshtui.cluster.rawapi import JSON, METADATA_LIST, METADATA_ONE, PageReply, RawApi

log = logging.getLogger(__name__)

M = TypeVar("M")
ObjKey = tuple[str, str]  # (namespace or "", name)


class ConnState(Enum):
    """Where a reflector stands with its server."""

    CONNECTING = "connecting"
    SYNCED = "synced"
    LAGGING = "lagging"
    ERROR = "error"


@dataclass(frozen=True, slots=True)
class ConnStatus:
    """The observable state of one reflector: state, the reason when not synced, and its resourceVersion."""

    state: ConnState
    reason: str = ""
    resource_version: str = ""
    relists: int = 0


@dataclass(slots=True)
class ListPage(Generic[M]):
    """One page of a list, modelled: the models by key and the objects that could not be modelled."""

    resource_version: str
    cont: str
    models: dict[ObjKey, M]
    problems: list[tuple[ObjKey, str]]


def parse_page(cluster: str, page: Any, parse: Callable[[str, dict[str, Any]], M | None]) -> ListPage[M]:
    """Model a list page decoded into plain JSON, one item at a time; a malformed item becomes a problem."""
    meta = page.get("metadata") or {}
    models: dict[ObjKey, M] = {}
    problems: list[tuple[ObjKey, str]] = []
    for raw in page.get("items") or []:
        key = _key(raw)
        try:
            model = parse(cluster, raw)
        except Exception as exc:
            problems.append((key, problem_text(exc)))
            continue
        if model is not None:
            models[key] = model
    return ListPage(str(meta.get("resourceVersion") or ""), str(meta.get("continue") or ""), models, problems)


@dataclass(frozen=True, slots=True)
class WatchSpec(Generic[M]):
    """What to watch: the collection path, whether metadata suffices, a selector, and the parser."""

    kind: str
    path: str
    parse: Callable[[str, dict[str, Any]], M | None]
    metadata_only: bool = False
    label_selector: str | None = None
    #: The API may not be served (a CRD that is not installed): a 404 then means "none", not an error.
    optional: bool = False
    #: Decodes a list page (bytes) into plain JSON; a kind can keep only the fields its parser reads.
    decode_list: Callable[[bytes], Any] = orjson.loads
    #: Decodes and models a list page in one step, `(cluster, bytes) -> ListPage`, skipping the plain JSON in
    #: between; it must give what `decode_list` then `parse` give. None: those two are used.
    decode_page: Callable[[str, bytes], ListPage[M]] | None = None
    #: Objects a list page asks for; None: `Timing.page_size`.
    page_size: int | None = None


class Sink(Protocol[M]):
    """Receives a reflector's output; called from the reflector's thread."""

    def listed(self, cluster: str, kind: str, items: dict[ObjKey, M]) -> None:
        """One page of a (re)list in progress: these objects exist (the page's dict is the sink's to keep).

        Objects absent from the list are removed only by `replaced`, which follows the last page.
        """

    def replaced(self, cluster: str, kind: str, items: dict[ObjKey, M]) -> None:
        """The complete state after a (re)list."""

    def changed(self, cluster: str, kind: str, event: str, key: ObjKey, model: M | None) -> None:
        """One ADDED/MODIFIED (model set) or DELETED (model is the last known state, or None)."""

    def status(self, cluster: str, kind: str, status: ConnStatus) -> None:
        """The connection state changed."""

    def problem(self, cluster: str, kind: str, key: ObjKey, message: str) -> None:
        """An object could not be parsed and was skipped."""


@dataclass(frozen=True, slots=True)
class Timing:
    """Timeouts and backoff; tests shorten them, production keeps client-go's values."""

    page_size: int = 500
    watch_min_s: int = 300
    watch_max_s: int = 600
    connect_timeout_s: float = 10.0
    read_slack_s: float = 30.0
    backoff_initial_s: float = 0.8
    backoff_max_s: float = 30.0
    backoff_reset_after_s: float = 120.0
    auth_retry_s: float = 30.0
    optional_recheck_s: float = 300.0
    #: A list page not answered within this many seconds is reported (the request keeps waiting until its
    #: read timeout), so a server that accepts connections but never answers shows at once, not after it.
    no_answer_report_s: float = 3.0


class _Relist(Exception):
    """The watch cannot resume from its resourceVersion: list again."""


class Reflector(Generic[M]):
    """Keeps a cache of one kind in step with one cluster and reports every change to a sink."""

    def __init__(
        self,
        api: RawApi,
        spec: WatchSpec[M],
        sink: Sink[M],
        *,
        timing: Timing | None = None,
        rng: random.Random | None = None,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.api = api
        self.spec = spec
        self.sink = sink
        self.timing = timing or Timing()
        self._rng = rng or random.Random()
        self._clock = clock
        self._stop = threading.Event()
        self._stream_lock = threading.Lock()
        self._stream: Any = None
        self._cache: dict[ObjKey, M] = {}
        self._cache_lock = threading.Lock()
        self.resource_version = ""
        self.relists = 0
        #: Relists whose resourceVersion was lower than the one before: the server's storage went back in time.
        self.rv_regressions = 0
        self.status = ConnStatus(ConnState.CONNECTING)
        self._status_lock = threading.RLock()
        self.synced = threading.Event()
        self._last_watch_short = False  # the last watch closed within a second without any event
        self._thread: threading.Thread | None = None

    # -- lifecycle ------------------------------------------------------------------------------------

    def start(self) -> None:
        """Run in a daemon thread (it blocks on the network)."""
        self._thread = threading.Thread(
            target=self.run, name=f"reflector-{self.api.cluster}-{self.spec.kind}", daemon=True
        )
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop and unblock a pending read; returns once the thread ended (or the timeout passed)."""
        self._stop.set()
        with self._stream_lock:
            if self._stream is not None:
                self._stream.close()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    @property
    def stopped(self) -> bool:
        """True once stop() was called."""
        return self._stop.is_set()

    def cache(self) -> dict[ObjKey, M]:
        """A copy of the current cache (for tests and one-shot readers)."""
        with self._cache_lock:
            return dict(self._cache)

    # -- the loop -------------------------------------------------------------------------------------

    def run(self) -> None:
        """List, then watch; relist on 410; back off on errors; until stopped."""
        need_list = True
        backoff = self.timing.backoff_initial_s
        healthy_since: float | None = None
        while not self._stop.is_set():
            try:
                if need_list:
                    self._list()
                    need_list = False
                    self._set_status(ConnState.SYNCED)
                    healthy_since = self._clock()
                else:
                    # Resuming from a resourceVersion held since an earlier watch: a server whose storage went
                    # back in time (an etcd restore, a restarted simulator) would accept the watch and stay
                    # silent until it reaches that version again, so ask first.
                    self._check_resource_version()
                events = self._watch_once()
                if healthy_since is not None and self._clock() - healthy_since > self.timing.backoff_reset_after_s:
                    backoff = self.timing.backoff_initial_s
                if events == 0 and not self._stop.is_set() and self._last_watch_short:
                    raise Unreachable("the watch closed at once without events", cluster=self.api.cluster)
            except _Relist as exc:
                need_list = True
                self._set_status(ConnState.LAGGING, str(exc))
            except ResourceVersionTooLarge as exc:
                need_list = True
                log.warning(
                    "%s/%s: the API server has not reached resourceVersion %s (%s); listing again",
                    self.api.cluster,
                    self.spec.kind,
                    self.resource_version,
                    exc.message,
                )
                self._set_status(ConnState.LAGGING, "the API server's resourceVersion went back; relisting")
            except Gone as exc:
                need_list = True
                self._set_status(ConnState.LAGGING, exc.message)
            except NotFound as exc:
                if not self.spec.optional:
                    self._set_status(ConnState.ERROR, exc.message)
                    self._wait(self.timing.auth_retry_s)
                    continue
                # Not served here (no such CRD): an empty, synced kind; look again later.
                with self._cache_lock:
                    self._cache = {}
                self.sink.replaced(self.api.cluster, self.spec.kind, {})
                self.synced.set()
                self._set_status(ConnState.SYNCED, "not served by this cluster")
                self._wait(self.timing.optional_recheck_s)
                need_list = True
            except (Unauthorized, Forbidden) as exc:
                self._set_status(ConnState.ERROR, exc.message)
                self._wait(self.timing.auth_retry_s)
            except (Unreachable, ServerError, ClusterError) as exc:
                healthy_since = None
                state = ConnState.ERROR if not self.synced.is_set() else ConnState.LAGGING
                self._set_status(state, exc.message)
                delay = backoff * (0.5 + self._rng.random())
                backoff = min(backoff * 2, self.timing.backoff_max_s)
                self._wait(delay)
            except Exception as exc:  # never let a bug end the watch silently: report, back off, retry
                log.exception("reflector %s/%s failed", self.api.cluster, self.spec.kind)
                self._set_status(ConnState.LAGGING, f"internal error: {exc}")
                self._wait(backoff)
                backoff = min(backoff * 2, self.timing.backoff_max_s)
                need_list = True

    def _wait(self, seconds: float) -> None:
        self._stop.wait(seconds)

    def _list(self) -> None:
        items: dict[ObjKey, M] = {}
        list_rv = ""
        cluster, kind = self.api.cluster, self.spec.kind
        pages = _Pages(self)
        # Until the first page comes, a timer reports the silence (a list normally answers in well under it).
        answered = threading.Event()
        waiting = threading.Timer(self.timing.no_answer_report_s, self._report_no_answer, args=(answered,))
        waiting.daemon = True
        waiting.start()
        try:
            for data, cont in pages:
                with self._status_lock:
                    answered.set()
                waiting.cancel()
                if data is None:
                    # The continue token expired mid-list: the list started over.
                    items.clear()
                    continue
                page = self._decode_page(data)
                if self._stop.is_set():
                    return
                if page.cont != cont:
                    raise ClusterError(
                        f"The API server of cluster {cluster!r} sent a {kind} list page that contradicts itself "
                        "(two readings of its continue token differ).",
                        cluster=cluster,
                    )
                for key, message in page.problems:
                    self.sink.problem(cluster, kind, key, message)
                if page.models:
                    items.update(page.models)
                    # Each page reaches the sink as it arrives: the inventory fills while later pages come.
                    self.sink.listed(cluster, kind, page.models)
                list_rv = page.resource_version
        finally:
            waiting.cancel()
            pages.close()
        if self._stop.is_set():
            return
        previous = self.resource_version
        if previous.isdigit() and list_rv.isdigit() and int(list_rv) < int(previous):
            # resourceVersions are opaque, but every server meshtui meets uses etcd revisions, which only grow
            # while the storage lives: a lower one means it was restored or replaced. The list replaces the
            # cache whole, so whatever the old storage had and the new one lacks is dropped.
            self.rv_regressions += 1
            log.warning(
                "%s/%s: resourceVersion went back from %s to %s (the API server's storage was restored or "
                "replaced); the cache was replaced by a fresh list",
                cluster,
                kind,
                previous,
                list_rv,
            )
        with self._cache_lock:
            self._cache = items
        self.relists += 1
        self.sink.replaced(cluster, kind, dict(items))
        self.resource_version = list_rv
        self.synced.set()

    def _open_page(self, cont: str, *, whole: bool = False) -> PageReply:
        """One list page's answer, started (raises Gone when the continue token expired); `whole`: the
        entire list in one answer."""
        limit = None if whole else self.spec.page_size or self.timing.page_size
        return self.api.open_page(
            self.spec.path,
            query=list_query(self.spec, cont, limit),
            accept=METADATA_LIST if self.spec.metadata_only else JSON,
            timeout=(self.timing.connect_timeout_s, self.api.options.read_timeout_s),
            what=f"listing {self.spec.kind}",
            cancel=self._stop,
        )

    def _report_no_answer(self, answered: threading.Event) -> None:
        host = self.api.api_client.configuration.host
        state = ConnState.LAGGING if self.synced.is_set() else ConnState.ERROR
        with self._status_lock:
            if answered.is_set() or self._stop.is_set():
                return
            self._set_status(
                state, f"no answer from the API server ({host}) in {self.timing.no_answer_report_s:g} s; still waiting"
            )

    def _check_resource_version(self) -> None:
        """Raise ResourceVersionTooLarge when the server has not reached our resourceVersion.

        One object, metadata only, "not older than" our version: the API server answers it from etcd at once,
        or with 504 ResourceVersionTooLarge (what client-go relists on) when its storage is behind us.
        """
        if not self.resource_version:
            return
        query: list[tuple[str, str | int]] = [
            ("limit", 1),
            ("resourceVersion", self.resource_version),
            ("resourceVersionMatch", "NotOlderThan"),
        ]
        if self.spec.label_selector:
            query.append(("labelSelector", self.spec.label_selector))
        self.api.request(
            "GET",
            self.spec.path,
            query=query,
            accept=METADATA_LIST,
            timeout=(self.timing.connect_timeout_s, self.api.options.read_timeout_s),
            what=f"checking the {self.spec.kind} resourceVersion",
            decode=_undecoded,
            cancel=self._stop,
        )

    def _decode_page(self, data: bytes) -> ListPage[M]:
        """Decode and model one list page."""
        spec = self.spec
        try:
            if spec.decode_page is not None:
                return spec.decode_page(self.api.cluster, data)
            return parse_page(self.api.cluster, spec.decode_list(data), spec.parse)
        except orjson.JSONDecodeError:
            raise ClusterError(
                f"The API server of cluster {self.api.cluster!r} sent a reply that is not JSON for listing {spec.kind}."
            ) from None

    def _watch_once(self) -> int:
        seconds = self._rng.randint(self.timing.watch_min_s, self.timing.watch_max_s)
        query: list[tuple[str, str | int]] = [
            ("watch", "1"),
            ("resourceVersion", self.resource_version),
            ("allowWatchBookmarks", "true"),
            ("timeoutSeconds", seconds),
        ]
        if self.spec.label_selector:
            query.append(("labelSelector", self.spec.label_selector))
        started = self._clock()
        stream = self.api.stream(
            self.spec.path,
            query=query,
            accept=METADATA_ONE if self.spec.metadata_only else JSON,
            timeout=(self.timing.connect_timeout_s, seconds + self.timing.read_slack_s),
            what=f"watching {self.spec.kind}",
        )
        with self._stream_lock:
            if self._stop.is_set():
                stream.close()
                return 0
            self._stream = stream
        events = 0
        try:
            if self.status.state is not ConnState.SYNCED:
                self._set_status(ConnState.SYNCED)
            for line in stream:
                if self._stop.is_set():
                    break
                events += 1
                self._apply(line)
        finally:
            with self._stream_lock:
                self._stream = None
            stream.close()
        self._last_watch_short = events == 0 and self._clock() - started < 1.0
        return events

    def _apply(self, line: bytes) -> None:
        try:
            ev = orjson.loads(line)
            etype = ev["type"]
            obj = ev["object"]
        except (orjson.JSONDecodeError, KeyError, TypeError):
            raise _Relist("the watch stream sent an unreadable event") from None
        if etype == "ERROR":
            code = obj.get("code") if isinstance(obj, dict) else None
            reason = obj.get("reason", "") if isinstance(obj, dict) else ""
            message = obj.get("message", "") if isinstance(obj, dict) else ""
            if code == 410 or reason in ("Expired", "Gone"):
                raise _Relist(f"resourceVersion expired ({message or reason}); relisting")
            # Any other ERROR also ends the watch for good: a real API server resuming one revision before
            # an etcd compaction answers 500 "PrevKv=nil", and re-watching from the same version would loop.
            raise _Relist(f"the watch reported an error ({message or reason or code}); relisting")
        rv = str(((obj.get("metadata") or {}).get("resourceVersion")) or "")
        if etype == "BOOKMARK":
            if rv:
                self.resource_version = rv
            return
        key = _key(obj)
        if etype in ("ADDED", "MODIFIED"):
            try:
                model = self.spec.parse(self.api.cluster, obj)
            except Exception as exc:
                # A malformed object is reported and dropped from the cache, never fatal to the rest.
                self.sink.problem(self.api.cluster, self.spec.kind, key, problem_text(exc))
                model = None
            if model is None:
                with self._cache_lock:
                    old = self._cache.pop(key, None)
                if old is not None:
                    self.sink.changed(self.api.cluster, self.spec.kind, "DELETED", key, old)
            else:
                with self._cache_lock:
                    self._cache[key] = model
                self.sink.changed(self.api.cluster, self.spec.kind, etype, key, model)
        elif etype == "DELETED":
            with self._cache_lock:
                old = self._cache.pop(key, None)
            # Reported even when it was never cached (a skipped object), so its problem can be cleared.
            self.sink.changed(self.api.cluster, self.spec.kind, "DELETED", key, old)
        if rv:
            self.resource_version = rv

    def _set_status(self, state: ConnState, reason: str = "") -> None:
        with self._status_lock:
            status = ConnStatus(state, reason, self.resource_version, self.relists)
            if status != self.status:
                self.status = status
                self.sink.status(self.api.cluster, self.spec.kind, status)


def _undecoded(data: bytes) -> bytes:
    return data


class _ListMeta(msgspec.Struct):
    cont: Any = msgspec.field(default=None, name="continue")


class _ListHead(msgspec.Struct):
    metadata: _ListMeta | None = None


_LIST_HEAD = msgspec.json.Decoder(_ListHead)


def list_continue(data: bytes) -> str:
    """The continue token of a list page, read without decoding its items ("" for none, or unreadable).

    Kubernetes writes a list's metadata before its items, so the bytes before `"items":` usually hold it;
    otherwise the whole page is scanned (in C, skipping the items). The reflector checks the token
    against the fully decoded page, so a wrong reading is caught, never followed.
    """
    at = data.find(b'"items":')
    token = head_continue(data[:at]) if at > 0 else None
    if token is not None:
        return token
    try:
        whole = _LIST_HEAD.decode(data)
    except (msgspec.ValidationError, msgspec.DecodeError):
        return ""  # the decoder reports what is wrong with it
    return str((whole.metadata.cont if whole.metadata is not None else None) or "")


def list_query(spec: WatchSpec[Any], cont: str, limit: int | None) -> list[tuple[str, str | int]]:
    """The query of one list page: its size (None: the whole list in one answer), where it continues, the
    kind's label selector."""
    query: list[tuple[str, str | int]] = [] if limit is None else [("limit", limit)]
    if cont:
        query.append(("continue", cont))
    if spec.label_selector:
        query.append(("labelSelector", spec.label_selector))
    return query


def head_continue(head: bytes) -> str | None:
    """The continue token in a list's head (its bytes before `"items":`): "" for the last page, None when
    the head does not say (the metadata comes after the items, or it is not a list)."""
    try:
        parsed = _LIST_HEAD.decode(head + b'"items":null}')
    except (msgspec.ValidationError, msgspec.DecodeError):
        return None
    if parsed.metadata is None:
        return None
    return str(parsed.metadata.cont or "")


_END = object()
#: Continue tokens that may expire during one list before it asks for the whole list in one answer.
WHOLE_LIST_AFTER_EXPIRIES = 2


class _Pages:
    """The raw pages of one list in order, as (bytes, continue token), or (None, "") when it started over.

    The first page is fetched on the caller's thread; when there are more, a helper thread fetches each
    next page while the caller decodes the current one (at most one page waits), so the network and the
    server's time overlap the decoding. Errors reach the caller in order, as from a plain loop.
    """

    def __init__(self, reflector: Reflector[Any]) -> None:
        self._reflector = reflector
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=1)
        self._closed = threading.Event()
        self._expired = 0  # continue tokens that expired during this list
        name = f"reflector-{reflector.api.cluster}-{reflector.spec.kind}"
        self.fetcher = PageFetcher(self._open, head_continue, name)

    def _open(self, cont: str) -> PageReply:
        # After a second expired token, list in one answer, as client-go's pager falls back to a full list:
        # a list slower than the server keeps its snapshot (a big kind under heavy churn) would never end.
        return self._reflector._open_page(cont, whole=self._expired >= WHOLE_LIST_AFTER_EXPIRIES)

    def _fetch(self, cont: str) -> bytes:
        return self.fetcher.fetch(cont)

    def __iter__(self) -> Iterator[tuple[bytes | None, str]]:
        fetch = self._fetch
        cont = ""
        while True:
            try:
                data = fetch(cont)
            except Gone:
                self._expired += 1
                yield None, ""
                cont = ""
                continue
            cont = list_continue(data)
            yield data, cont
            if not cont or self._closed.is_set():
                return
            break
        reflector = self._reflector
        threading.Thread(
            target=self._prefetch,
            args=(cont,),
            name=f"reflector-{reflector.api.cluster}-{reflector.spec.kind}-pages",
            daemon=True,
        ).start()
        while True:
            item = self._get()
            if item is _END:
                return
            if isinstance(item, BaseException):
                raise item
            yield item

    def close(self) -> None:
        """Stop fetching (the helper ends after the request in flight)."""
        self._closed.set()
        self.fetcher.close()

    def _prefetch(self, cont: str) -> None:
        fetch = self._fetch
        try:
            while not self._closed.is_set():
                try:
                    data = fetch(cont)
                except Gone:
                    self._expired += 1
                    self._put((None, ""))
                    cont = ""
                    continue
                cont = list_continue(data)
                self._put((data, cont))
                if not cont:
                    break
        except BaseException as exc:  # handed to the caller, which raises it
            self._put(exc)
            return
        self._put(_END)

    def _put(self, item: Any) -> None:
        while not self._closed.is_set():
            try:
                self._queue.put(item, timeout=0.2)
                return
            except queue.Full:
                continue

    def _get(self) -> Any:
        while not (self._closed.is_set() or self._reflector.stopped):
            try:
                return self._queue.get(timeout=0.2)
            except queue.Empty:
                continue
        return _END


def _key(raw: Any) -> ObjKey:
    meta = raw.get("metadata") if isinstance(raw, dict) else None
    if not isinstance(meta, dict):
        return ("", "?")
    return (str(meta.get("namespace") or ""), str(meta.get("name") or "?"))


def problem_text(exc: BaseException) -> str:
    """The first line of an exception's message: how a skipped object is reported."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
