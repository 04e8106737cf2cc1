"""One consistent read of a mesh (every watched kind on every cluster), for `status` and `check`."""

from __future__ import annotations

from collections.abc import Collection
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from meshtui.cluster.errors import ClusterError, NotFound
from meshtui.cluster.kinds import watch_specs
from meshtui.cluster.kubeconfig import ClusterTarget
from meshtui.cluster.live import InventoryLike, Problem
from meshtui.cluster.rawapi import JSON, METADATA_LIST, RawApi
from meshtui.cluster.reflector import WatchSpec

PAGE_SIZE = 500


def _list_kind(api: RawApi, spec: WatchSpec[Any], problems: list[Problem]) -> list[Any]:
    models: list[Any] = []
    cont = ""
    while True:
        query: list[tuple[str, str | int]] = [("limit", PAGE_SIZE)]
        if cont:
            query.append(("continue", cont))
        if spec.label_selector:
            query.append(("labelSelector", spec.label_selector))
        try:
            page = api.request(
                "GET",
                spec.path,
                query=query,
                accept=METADATA_LIST if spec.metadata_only else JSON,
                timeout=(10.0, 120.0),
                what=f"listing {spec.kind}",
                decode=spec.decode_list,
            )
        except NotFound:
            if spec.optional:
                return []
            raise
        for raw in page.get("items") or []:
            try:
                model = spec.parse(api.cluster, raw)
            except Exception as exc:
                meta = raw.get("metadata") if isinstance(raw, dict) else None
                meta = meta if isinstance(meta, dict) else {}
                problems.append(
                    Problem(
                        api.cluster,
                        spec.kind,
                        str(meta.get("namespace") or ""),
                        str(meta.get("name") or "?"),
                        str(exc).splitlines()[0] if str(exc) else type(exc).__name__,
                    )
                )
                continue
            if model is not None:
                models.append(model)
        cont = str((page.get("metadata") or {}).get("continue") or "")
        if not cont:
            return models


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
    problems: list[Problem] = []
    specs = [s for s in watch_specs() if kinds is None or s.kind in kinds]
    jobs = [(RawApi(t.api_client, t.name), spec) for t in targets for spec in specs]
    # Pods are by far the largest kind: start them first so the others overlap with them.
    jobs.sort(key=lambda j: j[1].kind != "Pod")
    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = [(api.cluster, spec.kind, pool.submit(_list_kind, api, spec, problems)) for api, spec in jobs]
        results = []
        for cluster, kind, fut in futures:
            try:
                results.append((cluster, kind, fut.result()))
            except ClusterError:
                for _, _, other in futures:
                    other.cancel()
                raise
    # Apply configuration kinds before pods, so each pod is evaluated once against the final webhooks.
    order = {spec.kind: i for i, spec in enumerate(watch_specs())}
    for cluster, kind, models in sorted(results, key=lambda r: order[r[1]]):
        inventory.replace(cluster, kind, models)
    return problems
