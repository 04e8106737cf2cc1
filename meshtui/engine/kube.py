"""Small engine helpers over the cluster layer: retried reads, kind discovery, object field access."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from meshtui.cluster.errors import ClusterError, NotFound, ServerError, Unreachable
from meshtui.cluster.kinds import KINDS as KINDS  # re-exported: the engine reads kinds through this module
from meshtui.cluster.kinds import KindInfo
from meshtui.cluster.rawapi import RawApi
from meshtui.domain.objects import REV_LABEL
from meshtui.domain.plan import Operation

T = TypeVar("T")

#: How long a transient failure (5xx, 429, a dropped connection) is retried before it counts.
RETRY_SECONDS = 20.0


def retrying(fn: Callable[[], T], *, seconds: float = RETRY_SECONDS, sleep: Callable[[float], Any] = time.sleep) -> T:
    """Call `fn`, retrying server errors and unreachable answers with backoff for up to `seconds`."""
    deadline = time.monotonic() + seconds
    delay = 0.1
    while True:
        try:
            return fn()
        except (ServerError, Unreachable):
            if time.monotonic() + delay > deadline:
                raise
            sleep(delay)
            delay = min(delay * 2, 2.0)


class Discovery:
    """Kind -> API path for one cluster: the cluster layer's table, else the server's discovery documents (cached)."""

    def __init__(self, api: RawApi):
        self.api = api
        self._docs: dict[str, list[dict[str, Any]] | None] = {}

    def lookup(self, api_version: str, kind: str) -> KindInfo | None:
        """Where a kind of an apiVersion lives; None when the server does not serve it."""
        group, _, version = api_version.rpartition("/")
        known = KINDS.get(kind)
        if known is not None and known.group == group and known.version == version:
            return known
        for r in self._resources(group, version) or []:
            if r.get("kind") == kind and "/" not in str(r.get("name") or ""):
                return KindInfo(group, version, str(r["name"]), bool(r.get("namespaced")))
        return None

    def served(self, info: KindInfo) -> bool:
        """True when the server serves this kind (optional APIs such as HPA v2 or Argo Rollouts)."""
        return any(r.get("name") == info.plural for r in self._resources(info.group, info.version) or [])

    def _resources(self, group: str, version: str) -> list[dict[str, Any]] | None:
        path = f"/apis/{group}/{version}" if group else f"/api/{version}"
        if path not in self._docs:
            try:
                doc = retrying(lambda: self.api.request("GET", path, what=f"discovering {path}"))
                self._docs[path] = list((doc or {}).get("resources") or [])
            except NotFound:
                self._docs[path] = None
        return self._docs[path]


def list_all(
    api: RawApi, path: str, *, label_selector: str = "", field_selector: str = "", what: str = ""
) -> list[dict[str, Any]]:
    """Every object of a collection (paginated), retried on transient failures; [] when not served."""
    items: list[dict[str, Any]] = []
    cont = ""
    while True:
        query: list[tuple[str, str | int]] = [("limit", 500)]
        if cont:
            query.append(("continue", cont))
        if label_selector:
            query.append(("labelSelector", label_selector))
        if field_selector:
            query.append(("fieldSelector", field_selector))
        try:
            page = retrying(_getter(api, path, query, what or f"listing {path}"))
        except NotFound:
            return []
        items.extend(page.get("items") or [])
        cont = str((page.get("metadata") or {}).get("continue") or "")
        if not cont:
            return items


def _getter(api: RawApi, path: str, query: list[tuple[str, str | int]], what: str) -> Callable[[], Any]:
    return lambda: api.request("GET", path, query=query, what=what)


def get(api: RawApi, path: str, *, what: str = "") -> dict[str, Any] | None:
    """One object, or None when it does not exist (retried on transient failures)."""
    try:
        result: dict[str, Any] = retrying(lambda: api.request("GET", path, what=what or f"reading {path}"))
    except NotFound:
        return None
    return result


def meta(obj: dict[str, Any]) -> dict[str, Any]:
    """`metadata` of a raw object (never None)."""
    m = obj.get("metadata")
    return m if isinstance(m, dict) else {}


def labels(obj: dict[str, Any]) -> dict[str, str]:
    """`metadata.labels` of a raw object (never None)."""
    found = meta(obj).get("labels")
    return found if isinstance(found, dict) else {}


# Field references in Operation.before/after: `metadata.labels[istio.io/rev]` style paths.


def field_path(ref: str) -> list[str]:
    """Split `a.b.c[key/with.dots]` into its segments."""
    parts: list[str] = []
    head, _, bracket = ref.partition("[")
    parts.extend(p for p in head.split(".") if p)
    if bracket:
        parts.append(bracket.rstrip("]"))
    return parts


def field_value(obj: Any, ref: str) -> Any:
    """The value at a field reference, None when absent."""
    node = obj
    for part in field_path(ref):
        if not isinstance(node, dict):
            return None
        node = node.get(part)
    return node


def iter_docs(text: str) -> Iterator[Any]:
    """YAML (multi-document) or JSON documents of a file; `kind: List` flattened."""
    import yaml

    for doc in yaml.safe_load_all(text):
        if not doc:
            continue
        if isinstance(doc, dict) and str(doc.get("kind", "")).endswith("List") and "items" in doc:
            yield from doc.get("items") or []
        else:
            yield doc


def is_transient(exc: ClusterError) -> bool:
    """True for failures worth retrying (5xx, 429, connection trouble)."""
    return isinstance(exc, ServerError | Unreachable)


def apply_operation(
    cluster: str, info: KindInfo, obj: dict[str, Any], default_namespace: str | None, summary: str
) -> Operation:
    """A server-side apply of one rendered object, placed in `default_namespace` when it names none."""
    namespace = meta(obj).get("namespace") or (default_namespace if info.namespaced else None)
    body = dict(obj)
    if info.namespaced:
        body["metadata"] = {**meta(obj), "namespace": namespace}
    return Operation(
        cluster=cluster,
        verb="apply",
        api_path=info.collection(namespace),
        kind=str(obj["kind"]),
        namespace=namespace if info.namespaced else None,
        name=str(meta(obj)["name"]),
        body=body,
        summary=summary,
        after={f"metadata.labels[{REV_LABEL}]": labels(obj).get(REV_LABEL)},
    )
