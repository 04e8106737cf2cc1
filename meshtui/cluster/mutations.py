"""Writes: one function per verb, each optionally a server-side dry run, every one identified as meshtui."""

from __future__ import annotations

from typing import Any

from meshtui.cluster.rawapi import RawApi

FIELD_MANAGER = "meshtui"
MERGE_PATCH = "application/merge-patch+json"


def _query(dry_run: bool, extra: list[tuple[str, str | int]] | None = None) -> list[tuple[str, str | int]]:
    q: list[tuple[str, str | int]] = [("fieldManager", FIELD_MANAGER)]
    if dry_run:
        q.append(("dryRun", "All"))
    return q + (extra or [])


def patch(
    api: RawApi,
    path: str,
    body: Any,
    *,
    content_type: str = MERGE_PATCH,
    dry_run: bool = False,
    what: str = "",
) -> dict[str, Any]:
    """PATCH an object; a `metadata.resourceVersion` in the body makes it conditional (409 when stale)."""
    result: dict[str, Any] = api.request(
        "PATCH",
        path,
        query=_query(dry_run),
        body=body,
        content_type=content_type,
        what=what or f"patching {path}",
    )
    return result


def apply(
    api: RawApi, path: str, body: dict[str, Any], *, dry_run: bool = False, force: bool = True, what: str = ""
) -> dict[str, Any]:
    """Server-side apply (create or update the fields meshtui owns)."""
    extra: list[tuple[str, str | int]] = [("force", "true")] if force else []
    result: dict[str, Any] = api.request(
        "PATCH",
        path,
        query=_query(dry_run, extra),
        body=body,
        content_type="application/apply-patch+yaml",
        what=what or f"applying {path}",
    )
    return result


def create(
    api: RawApi, collection_path: str, body: dict[str, Any], *, dry_run: bool = False, what: str = ""
) -> dict[str, Any]:
    """POST a new object (409 AlreadyExists when it exists)."""
    result: dict[str, Any] = api.request(
        "POST",
        collection_path,
        query=_query(dry_run),
        body=body,
        content_type="application/json",
        what=what or f"creating in {collection_path}",
    )
    return result


def replace(api: RawApi, path: str, body: dict[str, Any], *, dry_run: bool = False, what: str = "") -> dict[str, Any]:
    """PUT an object read earlier; its resourceVersion makes the write conditional."""
    result: dict[str, Any] = api.request(
        "PUT",
        path,
        query=_query(dry_run),
        body=body,
        content_type="application/json",
        what=what or f"replacing {path}",
    )
    return result


def delete(
    api: RawApi,
    path: str,
    *,
    dry_run: bool = False,
    propagation: str = "Foreground",
    expect_rv: str | None = None,
    what: str = "",
) -> Any:
    """DELETE an object, with a resourceVersion precondition when given."""
    body: dict[str, Any] = {"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": propagation}
    if dry_run:
        body["dryRun"] = ["All"]
    if expect_rv:
        body["preconditions"] = {"resourceVersion": expect_rv}
    q: list[tuple[str, str | int]] = [("dryRun", "All")] if dry_run else []
    return api.request(
        "DELETE", path, query=q, body=body, content_type="application/json", what=what or f"deleting {path}"
    )


def can_i(
    api: RawApi, verb: str, resource: str, group: str = "", namespace: str | None = None, name: str = ""
) -> tuple[bool, str]:
    """SelfSubjectAccessReview: (allowed, reason) for one verb on one resource."""
    attrs: dict[str, Any] = {"verb": verb, "resource": resource, "group": group}
    if namespace:
        attrs["namespace"] = namespace
    if name:
        attrs["name"] = name
    body = {
        "apiVersion": "authorization.k8s.io/v1",
        "kind": "SelfSubjectAccessReview",
        "spec": {"resourceAttributes": attrs},
    }
    result = api.request(
        "POST",
        "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
        body=body,
        content_type="application/json",
        what=f"checking permission to {verb} {resource}",
    )
    status = (result or {}).get("status") or {}
    return bool(status.get("allowed")), str(status.get("reason") or "")
