"""Discovery, version and health endpoints: what kubectl and client-go read before any resource request.

Both the legacy documents (APIVersions, APIGroupList, APIGroup, APIResourceList) and aggregated
discovery (`apidiscovery.k8s.io/v2` APIGroupDiscoveryList, one request for every group) are served; the
bodies never change, so they are built once.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from functools import cache
from typing import Any

import orjson
from aiohttp import web

from meshtui.sim.resources import RESOURCES, Resource, groups

GIT_VERSION = "v1.33.2"
AGGREGATED_V2 = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
_STATUS_VERBS = ["get", "patch", "update"]


def version_info() -> dict[str, Any]:
    """The body of `/version`."""
    major, minor, _ = GIT_VERSION[1:].split(".")
    return {
        "major": major,
        "minor": minor,
        "emulationMajor": major,
        "emulationMinor": minor,
        "minCompatibilityMajor": major,
        "minCompatibilityMinor": str(int(minor) - 1),
        "gitVersion": GIT_VERSION,
        "gitCommit": "0" * 40,
        "gitTreeState": "clean",
        "buildDate": "2025-06-17T18:30:00Z",
        "goVersion": "go1.24.4",
        "compiler": "gc",
        "platform": "linux/amd64",
    }


def _in_group(group: str, version: str) -> list[Resource]:
    return [r for r in RESOURCES if r.group == group and r.version == version]


def _group_version(group: str, version: str) -> str:
    return f"{group}/{version}" if group else version


def resource_list(group: str, version: str) -> dict[str, Any] | None:
    """The APIResourceList of one group version, or None when it is not served."""
    served = _in_group(group, version)
    if not served:
        return None
    items: list[dict[str, Any]] = []
    for r in served:
        item: dict[str, Any] = {
            "name": r.plural,
            "singularName": r.singular,
            "namespaced": r.namespaced,
            "kind": r.kind,
            "verbs": list(r.verbs),
        }
        if r.short_names:
            item["shortNames"] = list(r.short_names)
        if r.categories:
            item["categories"] = list(r.categories)
        items.append(item)
        extra = [
            {"name": f"{r.plural}/{sub}", "singularName": "", "namespaced": r.namespaced, **_sub_kind(r, av, kind)}
            | {"verbs": list(verbs)}
            for sub, av, kind, verbs in r.subresources
        ]
        if r.has_status:
            extra.append(
                {
                    "name": f"{r.plural}/status",
                    "singularName": "",
                    "namespaced": r.namespaced,
                    "kind": r.kind,
                    "verbs": _STATUS_VERBS,
                }
            )
        items.extend(sorted(extra, key=lambda i: str(i["name"])))
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": _group_version(group, version),
        "resources": items,
    }


def _sub_kind(r: Resource, api_version: str, kind: str) -> dict[str, str]:
    """The group/version/kind fields of a subresource entry in an APIResourceList (only when not the resource's)."""
    if not api_version:
        return {"kind": kind}
    group, _, version = api_version.rpartition("/")
    return {"group": group, "version": version, "kind": kind}


def _api_group(name: str, versions: list[str]) -> dict[str, Any]:
    vs = [{"groupVersion": f"{name}/{v}", "version": v} for v in versions]
    return {"name": name, "versions": vs, "preferredVersion": vs[0]}


def group_list() -> dict[str, Any]:
    """The APIGroupList at `/apis` (every named group; the core group lives at `/api`)."""
    return {
        "kind": "APIGroupList",
        "apiVersion": "v1",
        "groups": [_api_group(g, vs) for g, vs in groups().items() if g],
    }


def _discovery_resource(r: Resource) -> dict[str, Any]:
    kind = {"group": r.group, "version": r.version, "kind": r.kind}
    out: dict[str, Any] = {
        "resource": r.plural,
        "responseKind": kind,
        "scope": "Namespaced" if r.namespaced else "Cluster",
        "singularResource": r.singular,
        "verbs": list(r.verbs),
    }
    if r.short_names:
        out["shortNames"] = list(r.short_names)
    if r.categories:
        out["categories"] = list(r.categories)
    subs = [
        {
            "subresource": sub,
            "responseKind": _response_kind(r, av, sub_kind),
            "verbs": list(verbs),
        }
        for sub, av, sub_kind, verbs in r.subresources
    ]
    if r.has_status:
        subs.append({"subresource": "status", "responseKind": kind, "verbs": _STATUS_VERBS})
    if subs:
        out["subresources"] = sorted(subs, key=lambda s: str(s["subresource"]))
    return out


def _response_kind(r: Resource, api_version: str, kind: str) -> dict[str, str]:
    group, _, version = (api_version or r.api_version).rpartition("/")
    return {"group": group, "version": version, "kind": kind}


def aggregated(core: bool) -> dict[str, Any]:
    """The aggregated discovery document for `/api` (core=True) or `/apis`."""
    items = []
    for g, versions in groups().items():
        if bool(g) == core:
            continue
        items.append(
            {
                "metadata": {"name": g, "creationTimestamp": None},
                "versions": [
                    {
                        "version": v,
                        "resources": [_discovery_resource(r) for r in _in_group(g, v)],
                        "freshness": "Current",
                    }
                    for v in versions
                ],
            }
        )
    return {"kind": "APIGroupDiscoveryList", "apiVersion": "apidiscovery.k8s.io/v2", "metadata": {}, "items": items}


@cache
def _bytes(what: str, *args: Any) -> bytes:
    builders: dict[str, Callable[..., Any]] = {
        "resource_list": resource_list,
        "group_list": group_list,
        "aggregated": aggregated,
        "version": version_info,
        "openapi_index": openapi_v3_index,
        "openapi_doc": openapi_v3_document,
    }
    doc = builders[what](*args)
    return orjson.dumps(doc)


def wants_aggregated(accept: str) -> bool:
    """True when the Accept header prefers aggregated discovery v2 (kubectl asks for it first)."""
    first = accept.split(",", 1)[0].replace(" ", "")
    return "as=APIGroupDiscoveryList" in first and "v=v2;" in first + ";" and "v=v2beta1" not in first


def _json(body: bytes, content_type: str = "application/json") -> web.Response:
    return web.Response(body=body, headers={"Content-Type": content_type})


async def version(_: web.Request) -> web.Response:
    """GET /version."""
    return _json(_bytes("version"))


async def core_api(request: web.Request) -> web.Response:
    """GET /api: APIVersions, or the aggregated core group."""
    if wants_aggregated(request.headers.get("Accept", "")):
        return _json(_bytes("aggregated", True), AGGREGATED_V2)
    host = request.host or "127.0.0.1"
    addresses = [{"clientCIDR": "0.0.0.0/0", "serverAddress": host}]
    body = {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": addresses}
    return _json(orjson.dumps(body))


async def named_apis(request: web.Request) -> web.Response:
    """GET /apis: APIGroupList, or the aggregated named groups."""
    if wants_aggregated(request.headers.get("Accept", "")):
        return _json(_bytes("aggregated", False), AGGREGATED_V2)
    return _json(_bytes("group_list"))


def api_group(group: str) -> bytes | None:
    """GET /apis/<group>: the APIGroup document, or None when the group is not served."""
    versions = groups().get(group)
    if not group or not versions:
        return None
    return orjson.dumps({"kind": "APIGroup", "apiVersion": "v1", **_api_group(group, versions)})


def group_version(group: str, version: str) -> bytes | None:
    """GET /api/v1 or /apis/<group>/<version>: the APIResourceList, or None when not served."""
    if not _in_group(group, version):
        return None
    return _bytes("resource_list", group, version)


def _openapi_path(gv_path: str) -> str:
    return f"/openapi/v3/{gv_path}?hash={hashlib.sha256(gv_path.encode()).hexdigest()[:16].upper()}"


def openapi_v3_index() -> dict[str, Any]:
    """The body of `/openapi/v3`: one document per served group version."""
    paths = {}
    for g, versions in groups().items():
        for v in versions:
            gv_path = f"apis/{g}/{v}" if g else f"api/{v}"
            paths[gv_path] = {"serverRelativeURL": _openapi_path(gv_path)}
    return {"paths": paths}


def openapi_v3_document(group: str, version: str) -> dict[str, Any] | None:
    """A skeletal OpenAPI v3 document of one group version: PATCH operations and their query parameters.

    kubectl reads it only to learn that the server validates fields itself (`fieldValidation`), which
    lets `kubectl apply/create -f` skip client-side validation; there are no schemas.
    """
    served = _in_group(group, version)
    if not served:
        return None
    prefix = f"/apis/{group}/{version}" if group else f"/api/{version}"
    params = [
        {"name": n, "in": "query", "schema": {"type": "string", "uniqueItems": True}}
        for n in ("dryRun", "fieldManager", "fieldValidation", "force")
    ]
    paths: dict[str, Any] = {}
    for r in served:
        scope = f"{prefix}/namespaces/{{namespace}}/{r.plural}" if r.namespaced else f"{prefix}/{r.plural}"
        gvk = {"group": r.group, "version": r.version, "kind": r.kind}
        if "patch" in r.verbs:
            paths[f"{scope}/{{name}}"] = {
                "patch": {
                    "operationId": f"patch{r.kind}",
                    "parameters": params,
                    "x-kubernetes-action": "patch",
                    "x-kubernetes-group-version-kind": gvk,
                    "responses": {"200": {"description": "OK"}},
                }
            }
    return {
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": GIT_VERSION},
        "paths": paths,
        "components": {"schemas": {}},
    }


async def openapi_v3(request: web.Request) -> web.Response:
    """GET /openapi/v3 and /openapi/v3/api/v1, /openapi/v3/apis/<group>/<version>."""
    parts = [p for p in request.match_info.get("tail", "").split("/") if p]
    if not parts:
        return _json(_bytes("openapi_index"))
    if parts[0] == "api" and len(parts) == 2:
        body = _bytes("openapi_doc", "", parts[1])
    elif parts[0] == "apis" and len(parts) == 3:
        body = _bytes("openapi_doc", parts[1], parts[2])
    else:
        body = b"null"
    if body == b"null":
        return web.Response(
            status=404,
            body=orjson.dumps(
                {
                    "kind": "Status",
                    "apiVersion": "v1",
                    "metadata": {},
                    "status": "Failure",
                    "message": "the server could not find the requested resource",
                    "reason": "NotFound",
                    "code": 404,
                }
            ),
            headers={"Content-Type": "application/json"},
        )
    return _json(body)


async def healthy(_: web.Request) -> web.Response:
    """GET /healthz, /readyz, /livez."""
    return web.Response(text="ok", content_type="text/plain")


def add_routes(app: web.Application) -> None:
    """Register the non-resource endpoints (resource paths and group documents are routed by the server)."""
    app.router.add_get("/version", version)
    app.router.add_get("/version/", version)  # the Python client asks for this one
    app.router.add_get("/api", core_api)
    app.router.add_get("/api/", core_api)
    app.router.add_get("/apis", named_apis)
    app.router.add_get("/apis/", named_apis)
    app.router.add_get("/openapi/v3", openapi_v3)
    app.router.add_get("/openapi/v3/{tail:.*}", openapi_v3)
    for path in ("/healthz", "/readyz", "/livez"):
        app.router.add_get(path, healthy)
