"""The upgrade lock as a coordination.k8s.io/v1 Lease: take, renew in the background, release.

Every write carries the resourceVersion that was read, so two operators racing for the lock cannot
both win: the loser gets a 409 and sees the winner.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime

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


def _path(namespace: str) -> str:
    return f"/apis/coordination.k8s.io/v1/namespaces/{namespace}/leases"


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
        self.lost_reason = ""

    def read(self) -> LeaseView | None:
        """The current lease, or None when nobody ever took it."""
        try:
            raw = self.api.request("GET", f"{_path(self.namespace)}/{LEASE_NAME}", what="reading the upgrade lock")
        except NotFound:
            return None
        return parse_lease(raw)

    def verdict(self) -> tuple[LockVerdict, LeaseView | None]:
        """What this operator may do now, with the lease it was decided on."""
        lease = self.read()
        return decide(lease, self.identity, self._clock()), lease

    def acquire(self, *, take_over: bool = False) -> tuple[bool, LeaseView | None]:
        """Take (or renew) the lock; a live lease of someone else is taken only with `take_over`.

        Returns (held, lease as read); a lost race (409) returns (False, the winner's lease).
        """
        verdict, lease = self.verdict()
        if verdict is LockVerdict.HELD and not take_over:
            return False, lease
        spec = lease_spec(self.identity, self._clock(), lease)
        try:
            if lease is None:
                mutations.create(
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
                mutations.patch(
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
        return True, self.read()

    def start_renewing(self, on_lost: Callable[[str], None] | None = None) -> None:
        """Renew every third of the lease duration until released; report a lost lock once."""

        def loop() -> None:
            while not self._stop.wait(RENEW_EVERY):
                try:
                    held, lease = self.acquire()
                except ClusterError as exc:
                    log.warning("renewing the upgrade lock failed: %s", exc)
                    continue
                if not held:
                    holder = lease.holder if lease else "someone else"
                    self.lost_reason = f"the upgrade lock was taken over by {holder}"
                    if on_lost:
                        on_lost(self.lost_reason)
                    return

        self._stop.clear()
        self._renewer = threading.Thread(target=loop, name="lease-renewer", daemon=True)
        self._renewer.start()

    def stop_renewing(self) -> None:
        """Stop the renewal loop without touching the lease (it is someone else's now)."""
        self._stop.set()

    def release(self) -> None:
        """Stop renewing and clear the holder (only if still ours), so others need not wait for expiry."""
        self._stop.set()
        if self._renewer is not None:
            self._renewer.join(timeout=5)
        try:
            lease = self.read()
            if lease is not None and lease.holder == self.identity:
                mutations.patch(
                    self.api,
                    f"{_path(self.namespace)}/{LEASE_NAME}",
                    {
                        "metadata": {"resourceVersion": lease.resource_version},
                        "spec": {"holderIdentity": None},
                    },
                    what="releasing the upgrade lock",
                )
        except ClusterError as exc:
            log.warning("releasing the upgrade lock failed: %s", exc)
