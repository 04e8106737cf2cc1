"""Faults the simulated API server can inject at run time, and the log of the requests it served.

Tests and the demo switch faults from any thread; the server reads them on its loop. Operations that
touch the store (dropping watches, a restart) are run on the loop through the cluster's `call`.
"""

from __future__ import annotations

import random
import threading
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from meshtui.sim import errors

#: Verbs that change state; `selfsubjectaccessreviews` creations persist nothing and `Faults.writes`
#: leaves them out.
WRITE_VERBS = frozenset({"create", "update", "patch", "delete", "deletecollection"})


@dataclass(frozen=True, slots=True)
class RequestRecord:
    """One served request, as the request log keeps it."""

    method: str
    path: str
    query: str
    verb: str  # get, list, watch, create, update, patch, delete, deletecollection; "" for non-resource paths
    resource: str  # the store key (`pods`, `apps/deployments`); "" for non-resource paths
    namespace: str | None
    name: str | None
    subresource: str | None
    status: int
    dry_run: bool = False


@dataclass(slots=True)
class _Failure:
    fraction: float
    code: int
    retry_after: int
    verbs: frozenset[str] | None
    resources: frozenset[str] | None


class Faults:
    """Switchable faults plus a capped request log; every switch takes effect for the next request."""

    def __init__(self, call: Callable[..., Any] | None = None, *, log_cap: int = 10_000, seed: int | None = None):
        self._call = call
        self._lock = threading.Lock()
        self._log: deque[RequestRecord] = deque(maxlen=log_cap)
        self._random = random.Random(seed)
        self._failure: _Failure | None = None
        self._expire_watches = 0
        self._expire_continues = 0
        self.delay_ms = 0
        self._denials: set[tuple[str, str]] = set()
        #: Faults actually applied, by kind ("watch drop", "watch reset", "watch 410", "continue 410",
        #: "http 503", "slow", ...): what a soak test reports.
        self.injected: Counter[str] = Counter()
        self.store: Any = None  # set by the server when it starts
        self.watch_streams: set[Any] = set()  # the transports of open watches, for abrupt drops

    # -- switches -------------------------------------------------------------------------------------

    def clear(self) -> None:
        """Switch every fault off (the request log is kept)."""
        with self._lock:
            self._failure = None
            self._expire_watches = 0
            self._expire_continues = 0
            self.delay_ms = 0
            self._denials.clear()

    def fail(
        self,
        fraction: float,
        code: int = 503,
        *,
        retry_after: int = 1,
        verbs: set[str] | None = None,
        resources: set[str] | None = None,
    ) -> None:
        """Answer a fraction (0..1) of resource requests with `code` (5xx, or 429 with Retry-After)."""
        if not 0.0 <= fraction <= 1.0:
            raise ValueError("fraction must be within 0..1")
        with self._lock:
            self._failure = (
                None
                if fraction == 0
                else _Failure(
                    fraction,
                    code,
                    retry_after,
                    frozenset(verbs) if verbs else None,
                    frozenset(resources) if resources else None,
                )
            )

    def delay(self, ms: int) -> None:
        """Delay every API response by `ms` milliseconds (0 switches it off)."""
        self.delay_ms = max(0, int(ms))

    def deny(self, verb: str, resource: str) -> None:
        """Answer `verb` (or "*") on `resource` (a store key such as `apps/deployments`, or "*") with 403."""
        with self._lock:
            self._denials.add((verb, resource))

    def allow(self, verb: str, resource: str) -> None:
        """Lift a denial made by `deny`."""
        with self._lock:
            self._denials.discard((verb, resource))

    def expire_next_watches(self, n: int = 1) -> None:
        """Answer the next `n` watch requests with an ERROR event carrying a 410 Expired Status."""
        with self._lock:
            self._expire_watches += n

    def expire_next_continues(self, n: int = 1) -> None:
        """Answer the next `n` list requests that carry a continue token with 410 Expired, as the API server
        does once etcd compacted the revision the list started at (the consistent snapshots are dropped)."""
        with self._lock:
            self._expire_continues += n

    def drop_watches(self, *, abrupt: bool = False) -> int:
        """End every open watch now; `abrupt` resets the connections instead of ending the streams cleanly."""

        def run() -> int:
            n = self.store.close_all_watches()
            if abrupt:
                for transport in list(self.watch_streams):
                    transport.abort()
            self.count("watch reset" if abrupt else "watch drop", int(n))
            return int(n)

        return int(self._on_loop(run))

    def restart(self) -> None:
        """Simulate an API server restart: history lost, watches ended, resuming from an older RV gets 410."""
        self._on_loop(lambda: self.store.forget_history())

    # -- queries the server makes ---------------------------------------------------------------------

    def applied(self) -> Counter[str]:
        """A copy of `injected`, taken under the lock (the server adds to it from its loop)."""
        with self._lock:
            return Counter(self.injected)

    def count(self, kind: str, n: int = 1) -> None:
        """Record `n` applied faults of a kind."""
        if n:
            with self._lock:
                self.injected[kind] += n

    def denied(self, verb: str, resource: str) -> bool:
        """True when a deny fault covers this verb on this resource."""
        d = self._denials
        if not d:
            return False
        return any((v in (verb, "*")) and (r in (resource, "*")) for v, r in d)

    def forbidden_error(
        self, user: str, verb: str, resource: Any, namespace: str | None, name: str | None
    ) -> errors.ApiError | None:
        """The 403 the server answers for a denied request, or None."""
        if not self.denied(verb, resource.key):
            return None
        if resource.key == "namespaces" and name:
            namespace = name  # a namespace is its own namespace in the request's attributes
        return errors.forbidden(user, verb, resource.plural, resource.group, namespace, name or "")

    def failure(self, verb: str, resource: str) -> tuple[int, int] | None:
        """(code, retry_after) when this request is to fail, drawn with the configured fraction."""
        f = self._failure
        if f is None:
            return None
        if f.verbs is not None and verb not in f.verbs:
            return None
        if f.resources is not None and resource not in f.resources:
            return None
        with self._lock:
            hit = self._random.random() < f.fraction
            if hit:
                self.injected[f"http {f.code}"] += 1
        return (f.code, f.retry_after) if hit else None

    def take_expired_watch(self) -> bool:
        """Consume one pending "next watch gets 410"; True when this watch must get it."""
        if not self._expire_watches:
            return False
        with self._lock:
            if self._expire_watches <= 0:
                return False
            self._expire_watches -= 1
            self.injected["watch 410"] += 1
            return True

    def take_expired_continue(self) -> bool:
        """Consume one pending "next continue token is expired"; True when this list must get it."""
        if not self._expire_continues:
            return False
        with self._lock:
            if self._expire_continues <= 0:
                return False
            self._expire_continues -= 1
            self.injected["continue 410"] += 1
            return True

    # -- request log ----------------------------------------------------------------------------------

    def record(self, rec: RequestRecord) -> None:
        """Append to the request log (the oldest records fall off past the cap)."""
        with self._lock:
            self._log.append(rec)

    def requests(self) -> list[RequestRecord]:
        """A copy of the request log, oldest first."""
        with self._lock:
            return list(self._log)

    def clear_log(self) -> None:
        """Empty the request log."""
        with self._lock:
            self._log.clear()

    def writes(self, *, include_dry_run: bool = True) -> list[RequestRecord]:
        """Logged write requests (access reviews, which persist nothing, excluded), for read-only checks."""
        return [
            r
            for r in self.requests()
            if r.verb in WRITE_VERBS
            and (include_dry_run or not r.dry_run)
            and r.resource != "authorization.k8s.io/selfsubjectaccessreviews"
        ]

    # -- plumbing -------------------------------------------------------------------------------------

    def _on_loop(self, fn: Callable[[], Any]) -> Any:
        if self.store is None:
            raise RuntimeError("the simulated cluster is not running")
        if self._call is None:
            return fn()
        return self._call(fn)
