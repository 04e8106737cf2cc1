"""The upgrade lock's rules: who holds the Lease, whether it expired, and what taking it writes.

Pure (time is passed in), so the same rules decide in the dashboard, the CLI and the tests.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import Enum
from typing import Any

LEASE_NAME = "meshtui-upgrade-lock"
LEASE_SECONDS = 60
#: Renew at a third of the duration, as client-go's leader election does.
RENEW_EVERY = LEASE_SECONDS / 3


class LockVerdict(Enum):
    """What the caller may do with the lease."""

    FREE = "free"  # no lease, or released: create/take it
    MINE = "mine"  # held by us: renew
    EXPIRED = "expired"  # held by someone whose lease ran out: may be taken over
    HELD = "held"  # held by someone else, live: stay read-only unless the operator confirms a take-over


@dataclass(frozen=True, slots=True)
class LeaseView:
    """The fields of a coordination.k8s.io/v1 Lease that decide the lock."""

    holder: str
    renew_time: datetime | None
    acquire_time: datetime | None
    duration_s: int
    transitions: int
    resource_version: str

    def expires(self) -> datetime | None:
        """When the holder's claim runs out."""
        if self.renew_time is None:
            return None
        return self.renew_time + timedelta(seconds=self.duration_s)


def parse_lease(raw: dict[str, Any]) -> LeaseView:
    """Read a Lease object; missing or malformed times count as never renewed."""
    spec = raw.get("spec") or {}
    return LeaseView(
        holder=str(spec.get("holderIdentity") or ""),
        renew_time=_time(spec.get("renewTime")),
        acquire_time=_time(spec.get("acquireTime")),
        duration_s=int(spec.get("leaseDurationSeconds") or LEASE_SECONDS),
        transitions=int(spec.get("leaseTransitions") or 0),
        resource_version=str((raw.get("metadata") or {}).get("resourceVersion") or ""),
    )


def decide(lease: LeaseView | None, me: str, now: datetime) -> LockVerdict:
    """The verdict for `me` at `now`."""
    if lease is None or not lease.holder:
        return LockVerdict.FREE
    if lease.holder == me:
        return LockVerdict.MINE
    expires = lease.expires()
    if expires is None or expires <= now:
        return LockVerdict.EXPIRED
    return LockVerdict.HELD


def lease_spec(me: str, now: datetime, previous: LeaseView | None) -> dict[str, Any]:
    """The spec to write when taking or renewing the lease."""
    taking = previous is None or previous.holder != me
    acquire = now if taking or previous is None or previous.acquire_time is None else previous.acquire_time
    transitions = (previous.transitions if previous else 0) + (1 if taking and previous and previous.holder else 0)
    return {
        "holderIdentity": me,
        "leaseDurationSeconds": LEASE_SECONDS,
        "acquireTime": _fmt(acquire),
        "renewTime": _fmt(now),
        "leaseTransitions": transitions,
    }


def _fmt(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
