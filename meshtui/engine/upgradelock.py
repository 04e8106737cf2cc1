"""Who may write: the operator's identity and the upgrade Lease, with a guard against a second local meshtui.

The holder is `user@host`, so a meshtui restarted on the same jump host (after a crash or a SIGKILL)
takes its own lock back at once and resumes. Two meshtuis of the same user on the same host are told
apart by the process recorded on the Lease: while that process lives, the other one stays read-only.
"""

from __future__ import annotations

import getpass
import os
import socket
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from meshtui.cluster.errors import ClusterError, NotFound
from meshtui.cluster.lease import LeaseLock
from meshtui.cluster.rawapi import RawApi
from meshtui.domain.lock import LEASE_NAME, LeaseView, LockVerdict, decide, parse_lease
from meshtui.domain.reasons import Reason, ReasonKind
from meshtui.engine.api import LockState
from meshtui.engine.kube import retrying

SESSION_ANNOTATION = "meshtui.io/session"
IDENTITY_ENV = "MESHTUI_IDENTITY"


class LockLost(ClusterError):
    """A write was stopped because this session no longer holds the upgrade lock (it was taken over)."""

    exit_code = 5


def identity() -> str:
    """`user@host` (or $MESHTUI_IDENTITY, for automation that runs as a shared user)."""
    override = os.environ.get(IDENTITY_ENV, "").strip()
    if override:
        return override
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = str(os.getuid())
    return f"{user}@{socket.gethostname()}"


def _session() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class UpgradeLock:
    """The upgrade lock of one mesh (a Lease beside the record), as this process sees and takes it."""

    def __init__(self, api: RawApi, namespace: str, me: str, clock: Callable[[], datetime] | None = None):
        self.api = api
        self.namespace = namespace
        self.me = me
        self.session = _session()
        self._clock = clock or (lambda: datetime.now(UTC))
        self.lease = LeaseLock(api, namespace, me, self._clock, annotations={SESSION_ANNOTATION: self.session})
        self.held = False
        self.last: LockState = LockState(holder=None, mine=False)
        self.took_over_from: str | None = None
        #: Why this process stopped holding the lock (another operator took it over); empty while it may write.
        self.lost = ""

    @property
    def ref(self) -> str:
        """`Lease ns/name`, as messages name it."""
        return f"Lease {self.namespace}/{LEASE_NAME}"

    def _read(self) -> tuple[LeaseView | None, dict[str, Any]]:
        try:
            raw = retrying(
                lambda: self.api.request(
                    "GET",
                    f"/apis/coordination.k8s.io/v1/namespaces/{self.namespace}/leases/{LEASE_NAME}",
                    what="reading the upgrade lock",
                )
            )
        except NotFound:
            return None, {}
        annotations = (raw.get("metadata") or {}).get("annotations") or {}
        return parse_lease(raw), annotations

    def state(self) -> LockState:
        """Read the lease and say who holds it, from this process's point of view."""
        lease, annotations = self._read()
        now = self._clock()
        verdict = decide(lease, self.me, now)
        if lease is None or verdict is LockVerdict.FREE:
            self.last = LockState(holder=None, mine=False)
            return self.last
        age = ""
        if lease.renew_time is not None:
            seconds = max(0, int((now - lease.renew_time).total_seconds()))
            age = f"renewed {seconds}s ago"
        if verdict is LockVerdict.MINE:
            other = self._other_local_process(str(annotations.get(SESSION_ANNOTATION) or ""))
            expires = lease.expires()
            if other is not None and expires is not None and expires > now:
                self.last = LockState(
                    holder=f"{lease.holder} (meshtui pid {other} on this host)", mine=False, detail=age
                )
                return self.last
            self.last = LockState(holder=lease.holder, mine=True, detail=age)
            return self.last
        self.last = LockState(holder=lease.holder, mine=False, expired=verdict is LockVerdict.EXPIRED, detail=age)
        return self.last

    def _other_local_process(self, session: str) -> int | None:
        host, _, pid_text = session.rpartition(":")
        if host != socket.gethostname() or not pid_text.isdigit():
            return None
        pid = int(pid_text)
        if pid == os.getpid() or not _alive(pid):
            return None
        return pid

    def acquire(self, *, take_over: bool = False) -> Reason | None:
        """Take the lock (an expired one freely, a live one only with `take_over`); None, or why not."""
        state = self.state()
        if state.holder is not None and not state.mine and not state.expired and not take_over:
            detail = f", {state.detail}" if state.detail else ""
            return Reason(
                ReasonKind.LOCK, "lock-held", f"the upgrade lock ({self.ref}) is held by {state.holder}{detail}"
            )
        previous = state.holder if state.holder and not state.mine else None
        held, lease = retrying(lambda: self.lease.acquire(take_over=take_over))
        if not held:
            holder = lease.holder if lease else "someone else"
            return Reason(ReasonKind.LOCK, "lock-race", f"the upgrade lock ({self.ref}) was just taken by {holder}")
        self.held = True
        self.lost = ""
        self.took_over_from = previous
        self.last = LockState(holder=self.me, mine=True)
        return None

    def verify(self) -> Reason | None:
        """Read the Lease: None while this process still holds it (the fence), else why it does not."""
        if not self.held:
            return Reason(ReasonKind.LOCK, "lock-not-held", "this session does not hold the upgrade lock")
        held, why = retrying(self.lease.holds)
        if held:
            return None
        return Reason(ReasonKind.LOCK, "lock-lost", why)

    def write_refusal(self) -> Reason | None:
        """Why this process may not write now: the loss it knows of, else a read of the Lease (`verify`)."""
        if self.lost:
            return Reason(ReasonKind.LOCK, "lock-lost", self.lost)
        return self.verify()

    def lose(self, reason: str, stop: Callable[[], None] | None = None) -> LockState:
        """The lock was taken over: remember why, call `stop` (the run in progress ends), stop renewing without
        writing (the lease is the new holder's, so taking it back is a real take-over), and say who holds it."""
        self.lost = reason
        if stop is not None:
            stop()
        self.forget()
        try:
            return self.state()
        except ClusterError:
            return LockState(holder=None, mine=False, detail=reason)

    def start_renewing(self, on_lost: Callable[[str], None] | None = None) -> None:
        """Renew in the background while held."""
        self.lease.start_renewing(on_lost)

    def forget(self) -> None:
        """Stop holding without writing: another operator has taken the lock over."""
        self.lease.stop_renewing()
        self.held = False

    def release(self) -> None:
        """Give the lock back (only if still ours)."""
        if self.held:
            self.lease.release()
            self.held = False
