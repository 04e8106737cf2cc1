"""API errors as the API server reports them: an HTTP code and a `Status` object."""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    """An error the simulator answers with a `Status` object (reason, code, message, details).

    `details=None` leaves `details` out of the Status; `{}` sends it empty, as the API server does for
    errors without a subject (an unknown path, a failed JSON patch). `metadata` is the Status's ListMeta
    (an expired continue token carries a `continue` to resume from).
    """

    def __init__(
        self,
        code: int,
        reason: str,
        message: str,
        details: dict[str, Any] | None = None,
        metadata: dict[str, Any] | None = None,
    ):
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details
        self.metadata = metadata

    def status(self) -> dict[str, Any]:
        """The `Status` body for this error, keys in the API server's order."""
        body: dict[str, Any] = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": dict(self.metadata or {}),
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
        }
        if self.details is not None:
            body["details"] = self.details
        body["code"] = self.code
        return body


def _details(kind: str, name: str, group: str = "") -> dict[str, Any]:
    """StatusDetails in the API server's key order; an empty name is left out (`omitempty`)."""
    d: dict[str, Any] = {"name": name} if name else {}
    if group:
        d["group"] = group
    d["kind"] = kind
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


def gone(message: str, metadata: dict[str, Any] | None = None) -> ApiError:
    """410 Expired, for a resourceVersion or continue token older than the retained history."""
    return ApiError(410, "Expired", message, metadata=metadata)


#: field.ErrorType strings (as written in a field error) and the StatusCause reason each reports.
_CAUSE_REASONS = {
    "Not found": "FieldValueNotFound",
    "Required value": "FieldValueRequired",
    "Duplicate value": "FieldValueDuplicate",
    "Invalid value": "FieldValueInvalid",
    "Unsupported value": "FieldValueNotSupported",
    "Forbidden": "FieldValueForbidden",
    "Too long": "FieldValueTooLong",
    "Too many": "FieldValueTooMany",
    "Internal error": "InternalError",
}


def _cause(message: str) -> dict[str, str] | None:
    """The StatusCause of one field error worded `field: Type: detail` (None for any other wording)."""
    field, sep, body = message.partition(": ")
    if not sep or " " in field:
        return None
    for type_, reason in _CAUSE_REASONS.items():
        if body == type_ or body.startswith(type_ + ":"):
            return {"reason": reason, "message": body, "field": field}
    return None


def invalid(kind: str, name: str, message: str | list[str], group: str = "") -> ApiError:
    """422 Invalid, for an object that fails validation, with the API server's wording and details.

    `kind` may be qualified (`PatchOptions.meta.k8s.io`) or the group given apart; the message names the
    qualified kind, details split it into group and kind, and each `field: Type: detail` message becomes
    a StatusCause (an empty name is left out, as `omitempty` does). Several messages are listed in brackets.
    """
    messages = [message] if isinstance(message, str) else message
    qualified = f"{kind}.{group}" if group and kind else kind
    bare, _, grp = qualified.partition(".")
    details: dict[str, Any] = {}
    if name:
        details["name"] = name
    if grp:
        details["group"] = grp
    if bare:
        details["kind"] = bare
    causes = [c for c in map(_cause, messages) if c is not None]
    if causes:
        details["causes"] = causes
    text = messages[0] if len(messages) == 1 else "[" + ", ".join(messages) + "]"
    return ApiError(422, "Invalid", f'{qualified} "{name}" is invalid: {text}', details)


def unprocessable() -> ApiError:
    """422 with the generic message and empty details: how a JSON patch that cannot apply is reported."""
    return ApiError(422, "Invalid", "the server rejected our request due to an error in our request", {})


def bad_request(message: str) -> ApiError:
    """400 BadRequest, for malformed requests and bodies."""
    return ApiError(400, "BadRequest", message)


def unauthorized() -> ApiError:
    """401 Unauthorized, as the API server answers a request without valid credentials."""
    return ApiError(401, "Unauthorized", "Unauthorized")


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
