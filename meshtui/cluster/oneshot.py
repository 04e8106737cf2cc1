"""One consistent read of a mesh (every watched kind on every cluster), for `status` and `check`.

A read survives what a busy or flaky API server does: answers of 429 and 5xx are retried by `RawApi`
(honouring Retry-After, within its budget), and a continue token that expired mid-list (410) starts that
kind's list again, as client-go's pager does. Anything else stops the read: a partial mesh would give
wrong gates.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Collection, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from meshtui.cluster.errors import ClusterError, Gone, NotFound
from meshtui.cluster.kinds import watch_specs
from meshtui.cluster.kubeconfig import ClusterTarget
from meshtui.cluster.live import InventoryLike, Problem
from meshtui.cluster.pagefetch import PageFetcher
from meshtui.cluster.rawapi import JSON, METADATA_LIST, PageReply, RawApi
from meshtui.cluster.reflector import (
    WHOLE_LIST_AFTER_EXPIRIES,
    ListPage,
    WatchSpec,
    head_continue,
    list_continue,
    list_query,
    parse_page,
)

PAGE_SIZE = 500
#: The most objects a page asks for: two pages are held at a time (the one modelled, the one arriving),
#: each ~6 MB of pods at this size.
MAX_PAGE_SIZE = 1000
#: Times one kind's list may start over because its continue token expired before it gives up.
MAX_RESTARTS = 5


def _decode(api: RawApi, spec: WatchSpec[Any], data: bytes) -> ListPage[Any]:
    """One page modelled: straight from typed structs for pods, through plain JSON for the rest."""
    if spec.decode_page is not None:
        return spec.decode_page(api.cluster, data)
    return parse_page(api.cluster, spec.decode_list(data), spec.parse)


class _Stopped(Exception):
    """Another kind's list failed: this one stops before its next page."""


_END = object()

#: Called with each page's models as it is modelled (a page of a list that later starts over included).
OnPage = Callable[[list[Any]], None]


def _open(api: RawApi, spec: WatchSpec[Any], cont: str, abort: threading.Event, whole: bool) -> PageReply:
    limit = None if whole else min(spec.page_size or PAGE_SIZE, MAX_PAGE_SIZE)
    return api.open_page(
        spec.path,
        query=list_query(spec, cont, limit),
        accept=METADATA_LIST if spec.metadata_only else JSON,
        what=f"listing {spec.kind}",
        cancel=abort,
    )


def _pages(api: RawApi, spec: WatchSpec[Any], abort: threading.Event, whole: bool) -> Iterator[tuple[bytes, str]]:
    """A list's raw pages with their continue tokens, each next one fetched while the caller models this one.

    A helper thread keeps at most one page waiting; its errors reach the caller in order, and it stops when
    the caller does (`done`) or the read is aborted.
    """
    ahead: queue.Queue[Any] = queue.Queue(maxsize=1)
    done = threading.Event()
    taken = threading.Event()

    def put(item: Any) -> None:
        # Hand the page over, then fetch the next only once the caller took it: at most two pages (the one
        # being modelled, the one arriving) are held at a time, each ~12 MB at 2,000 pods.
        while not (done.is_set() or abort.is_set()):
            try:
                ahead.put(item, timeout=0.1)
                break
            except queue.Full:
                continue
        while ahead.unfinished_tasks and not (done.is_set() or abort.is_set()):
            taken.wait(0.1)
        taken.clear()

    fetcher = PageFetcher(
        lambda cont: _open(api, spec, cont, abort, whole), head_continue, f"list-{api.cluster}-{spec.kind}"
    )

    def fetch_all() -> None:
        cont = ""
        try:
            while not (done.is_set() or abort.is_set()):
                data = fetcher.fetch(cont)
                cont = list_continue(data)
                put((data, cont))
                del data
                if not cont:
                    break
            put(_END)
        except BaseException as exc:  # handed to the caller, which raises it
            put(exc)
        finally:
            fetcher.close()

    threading.Thread(target=fetch_all, name=f"list-{api.cluster}-{spec.kind}", daemon=True).start()
    try:
        while True:
            try:
                item = ahead.get(timeout=0.1)
            except queue.Empty:
                if abort.is_set():
                    raise _Stopped from None
                continue
            ahead.task_done()
            taken.set()
            if item is _END:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
            item = None  # the caller is done with this page: drop it before waiting for the next
    finally:
        done.set()


def _list_pages(
    api: RawApi, spec: WatchSpec[Any], abort: threading.Event, whole: bool, on_page: OnPage | None = None
) -> tuple[list[Any], list[Problem]]:
    models: list[Any] = []
    problems: list[Problem] = []
    for data, cont in _pages(api, spec, abort, whole):
        if abort.is_set():
            raise _Stopped
        try:
            page = _decode(api, spec, data)
            del data  # the page's bytes are not needed once modelled
        except ValueError:  # orjson's and msgspec's decode errors both derive from it
            raise ClusterError(
                f"The API server of cluster {api.cluster!r} sent a reply that is not JSON for listing {spec.kind}.",
                cluster=api.cluster,
            ) from None
        if page.cont != cont:
            raise ClusterError(
                f"The API server of cluster {api.cluster!r} sent a {spec.kind} list page that contradicts itself "
                "(two readings of its continue token differ).",
                cluster=api.cluster,
            )
        models.extend(page.models.values())
        if on_page is not None:
            on_page(list(page.models.values()))
        problems.extend(Problem(api.cluster, spec.kind, ns, name, message) for (ns, name), message in page.problems)
    return models, problems


def _list_kind(
    api: RawApi, spec: WatchSpec[Any], abort: threading.Event, on_page: OnPage | None = None
) -> tuple[list[Any], list[Problem]]:
    """Every object of one kind, and the ones skipped as malformed."""
    restarts = 0
    while True:
        try:
            # After a second expired token, the whole list in one answer (client-go's pager falls back to a
            # full list): a list slower than the server keeps its snapshot would otherwise never end.
            return _list_pages(api, spec, abort, restarts >= WHOLE_LIST_AFTER_EXPIRIES, on_page)
        except NotFound:
            if spec.optional:
                return [], []
            raise
        except Gone as exc:
            # The continue token expired (the list took longer than the server keeps its snapshot): list again.
            restarts += 1
            if restarts > MAX_RESTARTS or abort.is_set():
                exc.message += f" The list of {spec.kind} started over {MAX_RESTARTS} times; try again later."
                raise


def load_once(
    targets: list[ClusterTarget],
    inventory: InventoryLike,
    *,
    workers: int = 4,
    kinds: Collection[str] | None = None,
) -> list[Problem]:
    """List every kind (or only `kinds`) on every cluster into the inventory; returns the objects skipped.

    Kinds are listed concurrently (the network dominates); the first cluster error stops the read,
    because a partial mesh would give wrong gates (the inventory then holds part of it: discard it).
    Pods are assessed page by page while the next pages arrive, once their cluster's other kinds are in.
    """
    specs = [s for s in watch_specs() if kinds is None or s.kind in kinds]
    jobs = [(RawApi(t.api_client, t.name), spec) for t in targets for spec in specs]
    # Pods are by far the largest kind: start them first so the others overlap with them.
    jobs.sort(key=lambda j: j[1].kind != "Pod")
    abort = threading.Event()
    failures: list[BaseException] = []
    # Pod pages and finished jobs, in the order they happen; only this thread touches the inventory.
    arrivals: queue.Queue[tuple[str, list[Any]] | None] = queue.Queue()

    def run(api: RawApi, spec: WatchSpec[Any]) -> tuple[list[Any], list[Problem]]:
        if abort.is_set():
            return [], []
        try:
            on_page: OnPage | None = None
            if spec.kind == _STREAMED:
                cluster = api.cluster

                def on_page(models: list[Any]) -> None:
                    arrivals.put((cluster, models))

            return _list_kind(api, spec, abort, on_page)
        except BaseException as exc:
            if not abort.is_set():
                failures.append(exc)  # the cause; the others then stop before their next page
            abort.set()
            raise

    order = {spec.kind: i for i, spec in enumerate(watch_specs())}
    problems: list[Problem] = []
    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = [(api.cluster, spec.kind, pool.submit(run, api, spec)) for api, spec in jobs]
        for *_, fut in futures:
            fut.add_done_callback(lambda _: arrivals.put(None))
        # A cluster's other kinds are applied before its pods, so each pod is evaluated against the final
        # webhooks and workloads; pages that arrive earlier wait.
        others = {c: [(k, f) for c2, k, f in futures if c2 == c and k != _STREAMED] for c, _, _ in futures}
        ready = {c for c, kinds_of in others.items() if not kinds_of}
        waiting: dict[str, list[list[Any]]] = {}
        done = 0
        try:
            while done < len(futures) and not abort.is_set():
                item = arrivals.get()
                if item is not None:
                    cluster, models = item
                    if cluster in ready:
                        _apply_page(inventory, cluster, models)
                    else:
                        waiting.setdefault(cluster, []).append(models)
                    continue
                done += 1
                for cluster, kinds_of in others.items():
                    if cluster in ready or abort.is_set() or not all(f.done() for _, f in kinds_of):
                        continue
                    for kind, fut in sorted(kinds_of, key=lambda kf: order[kf[0]]):
                        inventory.replace(cluster, kind, fut.result()[0])
                    ready.add(cluster)
                    for models in waiting.pop(cluster, ()):
                        _apply_page(inventory, cluster, models)
        except BaseException:
            abort.set()  # the other lists stop before their next page
            raise
        if failures:
            for *_, fut in futures:
                fut.cancel()
            raise failures[0]
        for cluster, kind, fut in futures:
            models, skipped = fut.result()  # raises what a job raised outside of `run`
            if kind == _STREAMED:
                # The whole list once more: removes pods the inventory held that are gone, and pods of a list
                # that started over; the ones applied page by page are the same objects, skipped at once.
                inventory.replace(cluster, kind, models)
            problems.extend(skipped)
    return problems


#: The kind applied page by page as it arrives.
_STREAMED = "Pod"


def _apply_page(inventory: InventoryLike, cluster: str, models: list[Any]) -> None:
    inventory.apply_batch(cluster, (("Pod", "MODIFIED", m) for m in models))
