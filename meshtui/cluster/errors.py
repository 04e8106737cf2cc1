"""Cluster errors as one clear sentence with a way forward, and the exit codes the CLI maps them to."""

from __future__ import annotations

from typing import Any

import orjson


class ClusterError(Exception):
    """A failure talking to a cluster, worded for the operator (what happened and what to do next)."""

    exit_code = 3

    def __init__(self, message: str, *, cluster: str = "", status: int = 0, reason: str = ""):
        super().__init__(message)
        self.message = message
        self.cluster = cluster
        self.status = status
        self.reason = reason

    def __str__(self) -> str:
        return self.message


class ConfigError(ClusterError):
    """The kubeconfig is missing, unreadable or names a context that does not exist."""

    exit_code = 2


class Unreachable(ClusterError):
    """The API server did not answer (connection refused, DNS, TLS, timeout)."""

    exit_code = 3


class Unauthorized(ClusterError):
    """401: the credentials were rejected."""

    exit_code = 4


class Forbidden(ClusterError):
    """403: RBAC denies the request."""

    exit_code = 4


class CredentialPluginError(ClusterError):
    """The kubeconfig's exec credential plugin failed, hung or answered nonsense: no credentials to send."""

    exit_code = 4


class ReadOnlyViolation(ClusterError):
    """A write was attempted on a read-only connection and refused before it was sent."""

    exit_code = 1


class NotFound(ClusterError):
    """404: the object (or the API) does not exist."""


class Conflict(ClusterError):
    """409: a stale resourceVersion (someone else wrote first) or the object already exists."""

    exit_code = 5


class Gone(ClusterError):
    """410: the resourceVersion or continue token is older than the server keeps; relist."""


class ServerError(ClusterError):
    """5xx or 429: the server failed or throttled; retry with backoff."""

    def __init__(
        self, message: str, *, cluster: str = "", status: int = 0, reason: str = "", retry_after: float | None = None
    ):
        super().__init__(message, cluster=cluster, status=status, reason=reason)
        #: The server's Retry-After (header or Status details), in seconds; None when it gave none.
        self.retry_after = retry_after


class ResourceVersionTooLarge(ServerError):
    """504 with cause ResourceVersionTooLarge: the server has not reached the resourceVersion asked for.

    A client whose resourceVersion came from an earlier life of the server's storage (a restored etcd, a
    restarted simulator) gets it for ever; client-go then lists again without a resourceVersion.
    """


class NoAnswer(Unreachable):
    """The API server accepted the connection (or not) but did not answer within the timeout."""


def _status(body: bytes | str | None) -> dict[str, Any]:
    if not body:
        return {}
    try:
        data: Any = orjson.loads(body)
    except orjson.JSONDecodeError:
        return {}
    return data if isinstance(data, dict) else {}


def status_message(body: bytes | str | None) -> tuple[str, str]:
    """The (reason, message) of a Status body; empty strings when it is not one."""
    data = _status(body)
    return str(data.get("reason") or ""), str(data.get("message") or "")


def is_too_large_resource_version(status: int, body: bytes | str | None) -> bool:
    """True for the API server's "Too large resource version" answer, recognised as client-go does.

    Since Kubernetes 1.19 it is a 504 Timeout Status whose details carry the cause
    `ResourceVersionTooLarge`; older servers said so only in the cause's or the Status's message.
    """
    if status != 504:
        return False
    data = _status(body)
    details = data.get("details")
    causes = details.get("causes") if isinstance(details, dict) else None
    for cause in causes if isinstance(causes, list) else ():
        if isinstance(cause, dict) and (
            cause.get("reason") == "ResourceVersionTooLarge" or cause.get("message") == "Too large resource version"
        ):
            return True
    return "Too large resource version" in str(data.get("message") or "")


def retry_after_seconds(body: bytes | str | None, header: str | None = None) -> float | None:
    """The delay a throttled or failing server asked for: the Retry-After header, else the Status details."""
    for raw in (header, (_status(body).get("details") or {}).get("retryAfterSeconds") if body else None):
        if raw is None or raw == "":
            continue
        try:
            value = float(raw)
        except (TypeError, ValueError):
            continue
        if value >= 0:
            return value
    return None


def from_status(
    status: int, body: bytes | str | None, *, cluster: str, what: str, retry_after: str | None = None
) -> ClusterError:
    """Turn an HTTP error answer into the matching ClusterError with an operator-facing sentence."""
    reason, message = status_message(body)
    detail = message or reason or f"HTTP {status}"
    where = f"cluster {cluster!r}" if cluster else "the cluster"
    if status == 401:
        return Unauthorized(
            f"The API server of {where} rejected the credentials while {what} ({detail}); "
            "refresh your login (for example re-run your cloud CLI's get-credentials) and try again.",
            cluster=cluster,
            status=status,
            reason=reason,
        )
    if status == 403:
        return Forbidden(
            f"Permission denied on {where} while {what}: {detail}. "
            "Ask for the missing RBAC permission, or use --read-only.",
            cluster=cluster,
            status=status,
            reason=reason,
        )
    if status == 404:
        return NotFound(f"Not found on {where} while {what}: {detail}.", cluster=cluster, status=status, reason=reason)
    if status == 409:
        return Conflict(f"Conflict on {where} while {what}: {detail}.", cluster=cluster, status=status, reason=reason)
    if status == 410:
        return Gone(f"Expired on {where} while {what}: {detail}.", cluster=cluster, status=status, reason=reason)
    if is_too_large_resource_version(status, body):
        return ResourceVersionTooLarge(
            f"The API server of {where} has not reached the resourceVersion asked for while {what} ({detail}).",
            cluster=cluster,
            status=status,
            reason=reason,
            retry_after=retry_after_seconds(body, retry_after),
        )
    if status == 429 or status >= 500:
        return ServerError(
            f"The API server of {where} failed while {what} ({detail}).",
            cluster=cluster,
            status=status,
            reason=reason,
            retry_after=retry_after_seconds(body, retry_after),
        )
    return ClusterError(
        f"The API server of {where} refused {what}: {detail}.", cluster=cluster, status=status, reason=reason
    )
