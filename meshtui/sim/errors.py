"""API errors as the API server reports them: an HTTP code and a `Status` object."""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    """An error the simulator answers with a `Status` object (reason, code, message, details)."""

    def __init__(self, code: int, reason: str, message: str, details: dict[str, Any] | None = None):
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details

    def status(self) -> dict[str, Any]:
        """The `Status` body for this error."""
        body: dict[str, Any] = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        }
        if self.details:
            body["details"] = self.details
        return body


def _details(kind: str, name: str, group: str = "") -> dict[str, Any]:
    d: dict[str, Any] = {"name": name, "kind": kind}
    if group:
        d["group"] = group
    return d


def not_found(plural: str, name: str, group: str = "") -> ApiError:
    """404: `pods "x" not found`."""
    what = f"{plural}.{group}" if group else plural
    return ApiError(404, "NotFound", f'{what} "{name}" not found', _details(plural, name, group))


def already_exists(plural: str, name: str, group: str = "") -> ApiError:
    """409 AlreadyExists on create."""
    what = f"{plural}.{group}" if group else plural
    return ApiError(409, "AlreadyExists", f'{what} "{name}" already exists', _details(plural, name, group))


def conflict(plural: str, name: str, group: str = "") -> ApiError:
    """409 Conflict for a stale resourceVersion, worded as the API server words it."""
    what = f"{plural}.{group}" if group else plural
    return ApiError(
        409,
        "Conflict",
        f'Operation cannot be fulfilled on {what} "{name}": the object has been modified; '
        "please apply your changes to the latest version and try again",
        _details(plural, name, group),
    )


def gone(message: str) -> ApiError:
    """410 Expired, for a resourceVersion or continue token older than the retained history."""
    return ApiError(410, "Expired", message)


def invalid(kind: str, name: str, message: str) -> ApiError:
    """422 Invalid, for an object that fails validation."""
    return ApiError(422, "Invalid", f'{kind} "{name}" is invalid: {message}', {"name": name, "kind": kind})


def bad_request(message: str) -> ApiError:
    """400 BadRequest, for malformed requests and bodies."""
    return ApiError(400, "BadRequest", message)


def forbidden(user: str, verb: str, plural: str, group: str, namespace: str | None, name: str = "") -> ApiError:
    """403 Forbidden, worded as the RBAC authorizer words it."""
    what = f"{plural}.{group}" if group else plural
    res = f'{what} "{name}"' if name else what
    scope = f' in the namespace "{namespace}"' if namespace else " at the cluster scope"
    return ApiError(
        403,
        "Forbidden",
        f'{res} is forbidden: User "{user}" cannot {verb} resource "{plural}" in API group "{group}"{scope}',
        _details(plural, name, group),
    )


def internal(message: str) -> ApiError:
    """500 InternalError."""
    return ApiError(500, "InternalError", message)
