"""One consistent read of a mesh (every watched kind on every cluster), for `status` and `check`.

A read survives what a busy or flaky API server does: answers of 429 and 5xx are retried by `RawApi`
(honouring Retry-After, within its budget), and a continue token that expired mid-list (410) starts that
kind's list again, as client-go's pager does. Anything else stops the read: a partial mesh would give
wrong gates.
"""

from __future__ import annotations

import threading
from collections.abc import Collection
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from meshtui.cluster.errors import ClusterError, Gone, NotFound
from meshtui.cluster.kinds import watch_specs
from meshtui.cluster.kubeconfig import ClusterTarget
from meshtui.cluster.live import InventoryLike, Problem
from meshtui.cluster.rawapi import JSON, METADATA_LIST, RawApi
from meshtui.cluster.reflector import ListPage, WatchSpec, parse_page

PAGE_SIZE = 500
#: Times one kind's list may start over because its continue token expired before it gives up.
MAX_RESTARTS = 5


def _undecoded(data: bytes) -> bytes:
    return data


def _decode(api: RawApi, spec: WatchSpec[Any], data: bytes) -> ListPage[Any]:
    """One page modelled: straight from typed structs for pods, through plain JSON for the rest."""
    if spec.decode_page is not None:
        return spec.decode_page(api.cluster, data)
    return parse_page(api.cluster, spec.decode_list(data), spec.parse)


def _list_pages(api: RawApi, spec: WatchSpec[Any], abort: threading.Event) -> tuple[list[Any], list[Problem]]:
    models: list[Any] = []
    problems: list[Problem] = []
    cont = ""
    while True:
        query: list[tuple[str, str | int]] = [("limit", spec.page_size or PAGE_SIZE)]
        if cont:
            query.append(("continue", cont))
        if spec.label_selector:
            query.append(("labelSelector", spec.label_selector))
        data = api.request(
            "GET",
            spec.path,
            query=query,
            accept=METADATA_LIST if spec.metadata_only else JSON,
            what=f"listing {spec.kind}",
            decode=_undecoded,
            cancel=abort,
        )
        try:
            page = _decode(api, spec, data or b"")
        except ValueError:  # orjson's and msgspec's decode errors both derive from it
            raise ClusterError(
                f"The API server of cluster {api.cluster!r} sent a reply that is not JSON for listing {spec.kind}.",
                cluster=api.cluster,
            ) from None
        models.extend(page.models.values())
        problems.extend(Problem(api.cluster, spec.kind, ns, name, message) for (ns, name), message in page.problems)
        cont = page.cont
        if not cont:
            return models, problems


def _list_kind(api: RawApi, spec: WatchSpec[Any], abort: threading.Event) -> tuple[list[Any], list[Problem]]:
    """Every object of one kind, and the ones skipped as malformed."""
    restarts = 0
    while True:
        try:
            return _list_pages(api, spec, abort)
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
                failures.append(exc)  # the cause; the others then stop at their next retry wait
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
                for _, _, other in futures:
                    other.cancel()
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
