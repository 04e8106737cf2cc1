"""One consistent read of a mesh (every watched kind on every cluster), for `status` and `check`.

A read survives what a busy or flaky API server does: answers of 429 and 5xx are retried by `RawApi`
(honouring Retry-After, within its budget), and a continue token that expired mid-list (410) starts that
kind's list again, as client-go's pager does. Anything else stops the read: a partial mesh would give
wrong gates.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Collection, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from meshtui.cluster.errors import ClusterError, Gone, NotFound
from meshtui.cluster.kinds import watch_specs
from meshtui.cluster.kubeconfig import ClusterTarget
from meshtui.cluster.live import InventoryLike, Problem
from meshtui.cluster.rawapi import JSON, METADATA_LIST, RawApi
from meshtui.cluster.reflector import WHOLE_LIST_AFTER_EXPIRIES, ListPage, WatchSpec, list_continue, parse_page

PAGE_SIZE = 500
#: The most objects a page asks for: two pages are held at a time (the one modelled, the one arriving),
#: each ~6 MB of pods at this size.
MAX_PAGE_SIZE = 1000
#: Times one kind's list may start over because its continue token expired before it gives up.
MAX_RESTARTS = 5


def _undecoded(data: bytes) -> bytes:
    return data


def _decode(api: RawApi, spec: WatchSpec[Any], data: bytes) -> ListPage[Any]:
    """One page modelled: straight from typed structs for pods, through plain JSON for the rest."""
    if spec.decode_page is not None:
        return spec.decode_page(api.cluster, data)
    return parse_page(api.cluster, spec.decode_list(data), spec.parse)


class _Stopped(Exception):
    """Another kind's list failed: this one stops before its next page."""


_END = object()


def _fetch(api: RawApi, spec: WatchSpec[Any], cont: str, abort: threading.Event, whole: bool) -> bytes:
    query: list[tuple[str, str | int]] = [] if whole else [("limit", min(spec.page_size or PAGE_SIZE, MAX_PAGE_SIZE))]
    if cont:
        query.append(("continue", cont))
    if spec.label_selector:
        query.append(("labelSelector", spec.label_selector))
    data: bytes | None = api.request(
        "GET",
        spec.path,
        query=query,
        accept=METADATA_LIST if spec.metadata_only else JSON,
        what=f"listing {spec.kind}",
        decode=_undecoded,
        cancel=abort,
    )
    return data or b""


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

    def fetch_all() -> None:
        cont = ""
        try:
            while not (done.is_set() or abort.is_set()):
                data = _fetch(api, spec, cont, abort, whole)
                cont = list_continue(data)
                put((data, cont))
                del data
                if not cont:
                    break
            put(_END)
        except BaseException as exc:  # handed to the caller, which raises it
            put(exc)

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
    api: RawApi, spec: WatchSpec[Any], abort: threading.Event, whole: bool
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
        problems.extend(Problem(api.cluster, spec.kind, ns, name, message) for (ns, name), message in page.problems)
    return models, problems


def _list_kind(api: RawApi, spec: WatchSpec[Any], abort: threading.Event) -> tuple[list[Any], list[Problem]]:
    """Every object of one kind, and the ones skipped as malformed."""
    restarts = 0
    while True:
        try:
            # After a second expired token, the whole list in one answer (client-go's pager falls back to a
            # full list): a list slower than the server keeps its snapshot would otherwise never end.
            return _list_pages(api, spec, abort, whole=restarts >= WHOLE_LIST_AFTER_EXPIRIES)
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
    because a partial mesh would give wrong gates.
    """
    specs = [s for s in watch_specs() if kinds is None or s.kind in kinds]
    jobs = [(RawApi(t.api_client, t.name), spec) for t in targets for spec in specs]
    # Pods are by far the largest kind: start them first so the others overlap with them.
    jobs.sort(key=lambda j: j[1].kind != "Pod")
    abort = threading.Event()
    failures: list[BaseException] = []

    def run(api: RawApi, spec: WatchSpec[Any]) -> tuple[list[Any], list[Problem]]:
        if abort.is_set():
            return [], []
        try:
            return _list_kind(api, spec, abort)
        except BaseException as exc:
            if not abort.is_set():
                failures.append(exc)  # the cause; the others then stop before their next page
            abort.set()
            raise

    problems: list[Problem] = []
    results = []
    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = [(api.cluster, spec.kind, pool.submit(run, api, spec)) for api, spec in jobs]
        for cluster, kind, fut in futures:
            try:
                models, skipped = fut.result()
            except BaseException:
                abort.set()
                for _, _, other in futures:
                    other.cancel()
                if not failures:
                    raise
                break
            results.append((cluster, kind, models))
            problems.extend(skipped)
    if failures:
        raise failures[0]
    # Apply configuration kinds before pods, so each pod is evaluated once against the final webhooks.
    order = {spec.kind: i for i, spec in enumerate(watch_specs())}
    for cluster, kind, models in sorted(results, key=lambda r: order[r[1]]):
        inventory.replace(cluster, kind, models)
    return problems
