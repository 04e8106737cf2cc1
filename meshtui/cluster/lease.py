"""The upgrade lock as a coordination.k8s.io/v1 Lease: take, renew in the background, verify, release.

Every write carries the resourceVersion that was read, so two operators racing for the lock cannot
both win: the loser gets a 409 and sees the winner. A hold is fenced: taking the lease remembers a
token (holder, leaseTransitions and the holder process's annotations); `holds()` compares the Lease
with it before each of the holder's writes, and a renewal is a write conditional on the
resourceVersion of the holder's own last write, so a holder whose lease was taken over, or released by
the one who took it, learns it at its next write and never takes it back by renewing.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from meshtui.cluster import mutations
from meshtui.cluster.errors import ClusterError, Conflict, NotFound
from meshtui.cluster.rawapi import RawApi
from meshtui.domain.lock import (
    LEASE_NAME,
    RENEW_EVERY,
    LeaseView,
    LockVerdict,
    decide,
    lease_spec,
    parse_lease,
)

log = logging.getLogger(__name__)

#: How often a take-over writes again after losing to the renewal of the holder it takes over from.
TAKE_OVER_ATTEMPTS = 3


def _path(namespace: str) -> str:
    return f"/apis/coordination.k8s.io/v1/namespaces/{namespace}/leases"


@dataclass(frozen=True, slots=True)
class Fence:
    """What this holder wrote when it took the lease: another take (even by the same user) changes it."""

    holder: str
    transitions: int
    annotations: tuple[tuple[str, str], ...]
    #: The resourceVersion of this holder's last write of the Lease (a renewal is conditional on it).
    resource_version: str

    def matches(self, raw: dict[str, Any]) -> bool:
        """True when the Lease object is still this holder's hold."""
        lease = parse_lease(raw)
        annotations = (raw.get("metadata") or {}).get("annotations") or {}
        return (
            lease.holder == self.holder
            and lease.transitions == self.transitions
            and all(annotations.get(k) == v for k, v in self.annotations)
        )


class LeaseLock:
    """One operator's hold on the upgrade lock in a control-plane namespace."""

    def __init__(
        self,
        api: RawApi,
        namespace: str,
        identity: str,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        annotations: dict[str, str] | None = None,
    ):
        self.api = api
        self.namespace = namespace
        self.identity = identity
        self._clock = clock
        #: Written with every take and renewal (which process of the holder has the lock, for example).
        self.annotations = dict(annotations or {})
        self._renewer: threading.Thread | None = None
        self._stop = threading.Event()
        self._guard = threading.Lock()
        #: This holder's token while it believes it holds the lease (None when not held).
        self.fence: Fence | None = None
        self.lost_reason = ""

    def read_raw(self) -> dict[str, Any] | None:
        """The Lease object as stored, or None when nobody ever took it."""
        try:
            raw: dict[str, Any] = self.api.request(
                "GET", f"{_path(self.namespace)}/{LEASE_NAME}", what="reading the upgrade lock"
            )
        except NotFound:
            return None
        return raw

    def read(self) -> LeaseView | None:
        """The current lease, or None when nobody ever took it."""
        raw = self.read_raw()
        return parse_lease(raw) if raw is not None else None

    def _remember(self, written: dict[str, Any]) -> None:
        lease = parse_lease(written)
        with self._guard:
            self.fence = Fence(
                lease.holder, lease.transitions, tuple(sorted(self.annotations.items())), lease.resource_version
            )

    def holds(self) -> tuple[bool, str]:
        """Read the Lease and say whether it is still this holder's (holder, transitions, process); the
        holder of the moment otherwise."""
        with self._guard:
            fence = self.fence
        if fence is None:
            return False, "this session does not hold the upgrade lock"
        raw = self.read_raw()
        if raw is not None and fence.matches(raw):
            return True, ""
        holder = parse_lease(raw).holder if raw is not None else ""
        return False, f"the upgrade lock was taken over by {holder}" if holder else "the upgrade lock was released"

    def verdict(self) -> tuple[LockVerdict, LeaseView | None]:
        """What this operator may do now, with the lease it was decided on."""
        lease = self.read()
        return decide(lease, self.identity, self._clock()), lease

    def acquire(self, *, take_over: bool = False) -> tuple[bool, LeaseView | None]:
        """Take (or renew) the lock; a live lease of someone else is taken only with `take_over`.

        Returns (held, lease as read); a lost race (409) returns (False, the winner's lease). A take-over
        that loses only to a renewal by the holder it takes over from tries again: that holder renewing
        is what a live holder does, and the operator chose to take the lock from exactly that holder.
        """
        held, seen = False, None
        for _ in range(TAKE_OVER_ATTEMPTS):
            verdict, lease = self.verdict()
            if verdict is LockVerdict.HELD and not take_over:
                return False, lease
            held, seen = self._take(lease)
            if held or not take_over or seen is None or lease is None or seen.holder != lease.holder:
                return held, seen
        return held, seen

    def _take(self, lease: LeaseView | None) -> tuple[bool, LeaseView | None]:
        """Write this holder into the lease as read (create it when absent); a 409 returns the winner's."""
        spec = lease_spec(self.identity, self._clock(), lease)
        try:
            if lease is None:
                written = mutations.create(
                    self.api,
                    _path(self.namespace),
                    {
                        "apiVersion": "coordination.k8s.io/v1",
                        "kind": "Lease",
                        "metadata": {
                            "name": LEASE_NAME,
                            "namespace": self.namespace,
                            "labels": {"app.kubernetes.io/managed-by": "meshtui"},
                            "annotations": self.annotations,
                        },
                        "spec": spec,
                    },
                    what="taking the upgrade lock",
                )
            else:
                written = mutations.patch(
                    self.api,
                    f"{_path(self.namespace)}/{LEASE_NAME}",
                    {
                        "metadata": {"resourceVersion": lease.resource_version, "annotations": self.annotations},
                        "spec": spec,
                    },
                    what="taking the upgrade lock",
                )
        except Conflict:
            return False, self.read()
        self._remember(written)
        return True, parse_lease(written)

    def renew(self) -> tuple[bool, str]:
        """Renew this holder's lease, conditionally on its own last write; (still held, why not).

        Never takes the lease: if anyone else wrote it since (a take-over, or the release that ended
        it), the write is refused (409) and the hold is over.
        """
        with self._guard:
            fence = self.fence
        if fence is None:
            return False, "this session does not hold the upgrade lock"
        previous = LeaseView(fence.holder, None, None, 0, fence.transitions, fence.resource_version)
        spec = lease_spec(self.identity, self._clock(), previous)
        spec.pop("acquireTime", None)  # the acquisition time of this hold stays as written
        try:
            written = mutations.patch(
                self.api,
                f"{_path(self.namespace)}/{LEASE_NAME}",
                {"metadata": {"resourceVersion": fence.resource_version}, "spec": spec},
                what="renewing the upgrade lock",
            )
        except (Conflict, NotFound):
            held, why = self.holds()
            if held:  # a write of ours raced this one (a release being undone cannot happen: we hold)
                raw = self.read_raw()
                if raw is not None:
                    self._remember(raw)
                return True, ""
            self._forget()
            return False, why
        self._remember(written)
        return True, ""

    def _forget(self) -> None:
        with self._guard:
            self.fence = None

    def start_renewing(self, on_lost: Callable[[str], None] | None = None) -> None:
        """Renew every third of the lease duration until released; report a lost lock once."""

        def loop() -> None:
            while not self._stop.wait(RENEW_EVERY):
                try:
                    held, why = self.renew()
                except ClusterError as exc:
                    log.warning("renewing the upgrade lock failed: %s", exc)
                    continue
                if not held:
                    self.lost_reason = why
                    if on_lost:
                        on_lost(self.lost_reason)
                    return

        self._stop.clear()
        self._renewer = threading.Thread(target=loop, name="lease-renewer", daemon=True)
        self._renewer.start()

    def stop_renewing(self) -> None:
        """Stop the renewal loop without touching the lease (it is someone else's now)."""
        self._stop.set()
        self._forget()

    def release(self) -> None:
        """Stop renewing and clear the holder (only if still this hold), so others need not wait for expiry."""
        self._stop.set()
        if self._renewer is not None:
            self._renewer.join(timeout=5)
        with self._guard:
            fence = self.fence
        self._forget()
        if fence is None:
            return
        try:
            raw = self.read_raw()
            if raw is not None and fence.matches(raw):
                mutations.patch(
                    self.api,
                    f"{_path(self.namespace)}/{LEASE_NAME}",
                    {
                        "metadata": {"resourceVersion": parse_lease(raw).resource_version},
                        "spec": {"holderIdentity": None},
                    },
                    what="releasing the upgrade lock",
                )
        except ClusterError as exc:
            log.warning("releasing the upgrade lock failed: %s", exc)
