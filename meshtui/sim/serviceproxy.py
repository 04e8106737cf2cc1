"""The API server's service proxy for istiod's debug endpoint: `GET .../services/istiod-R:15014/proxy/debug/syncz`.

Only what `meshtui upgrade verify` reads is served: istiod's `/debug/syncz` (docs/istio.md#proxy-sync-status), computed
from the pods whose sidecar the revision injected. A pod annotated `sim.meshtui.io/xds-status: STALE` (or
`ERROR`) reports that status, so tests can make a proxy fall out of sync.
"""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

from meshtui.domain.selectors import LabelSelector
from meshtui.sim import errors
from meshtui.sim.faults import Faults
from meshtui.sim.settings import SimSettings
from meshtui.sim.store import Obj, Store

XDS_STATUS_ANNOTATION = "sim.meshtui.io/xds-status"
_TYPES = ("cluster", "listener", "route", "endpoint")
_PROXY = "istio-proxy"


def add_routes(app: web.Application, store: Store, settings: SimSettings, faults: Faults) -> None:
    """Serve `/api/v1/namespaces/{ns}/services/{service}/proxy/{path}` ahead of the resource dispatcher."""

    async def handler(request: web.Request) -> web.Response:
        namespace = request.match_info["namespace"]
        service = request.match_info["service"]
        path = "/" + request.match_info["path"]
        if faults.denied("get", "services/proxy"):
            raise errors.forbidden(settings.user, "get", "services", "", namespace, service)
        failure = faults.failure("get", "services")
        if failure is not None:
            raise errors.ApiError(failure[0], "ServiceUnavailable", f"simulated failure ({failure[0]})", {})
        body = syncz(store, namespace, service, path, request.query.get("namespace"))
        return web.Response(body=orjson.dumps(body), content_type="application/json")

    app.router.add_get("/api/v1/namespaces/{namespace}/services/{service}/proxy/{path:.*}", handler)


def _service_name(ref: str) -> str:
    """`istiod-1-23-1:15014` or `http:istiod:http-monitoring` -> the Service name."""
    parts = ref.split(":")
    if len(parts) == 3:
        return parts[1]
    return parts[0]


def _ready(pod: Obj) -> bool:
    conditions = (pod.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def _proxy_revision(pod: Obj) -> str | None:
    meta = pod.get("metadata") or {}
    annotations = meta.get("annotations") or {}
    if annotations.get("istio.io/rev"):
        return str(annotations["istio.io/rev"])
    status = annotations.get("sidecar.istio.io/status")
    if status:
        try:
            rev = orjson.loads(status).get("revision")
        except (orjson.JSONDecodeError, AttributeError):
            rev = None
        if rev:
            return str(rev)
    return (meta.get("labels") or {}).get("istio.io/rev")


def _proxy_image(pod: Obj) -> str | None:
    spec = pod.get("spec") or {}
    for c in list(spec.get("containers") or []) + list(spec.get("initContainers") or []):
        if c.get("name") == _PROXY and c.get("image") != "auto":
            return str(c.get("image") or "")
    return None


def syncz(store: Store, namespace: str, service_ref: str, path: str, only_namespace: str | None) -> Any:
    """The `/debug/syncz` answer of the istiod behind a Service, or the API server's error."""
    name = _service_name(service_ref)
    svc = store.get("services", namespace, name)
    if svc is None:
        raise errors.ApiError(404, "NotFound", f'services "{name}" not found', {"name": name, "kind": "services"})
    if path.rstrip("/") != "/debug/syncz":
        raise errors.ApiError(404, "NotFound", "the server could not find the requested resource", {})
    selector = (svc.get("spec") or {}).get("selector") or {}
    sel = LabelSelector.from_dict({"matchLabels": selector})
    endpoints = [
        e
        for e in store.entries("pods", namespace)
        if selector and sel.matches(e.labels) and e.phase == "Running" and _ready(e.obj())
    ]
    if not endpoints:
        raise errors.ApiError(503, "ServiceUnavailable", f'no endpoints available for service "{name}"', {})
    revision = ((svc.get("metadata") or {}).get("labels") or {}).get("istio.io/rev", "default")
    out: list[dict[str, Any]] = []
    for entry in store.entries("pods"):
        if only_namespace and entry.namespace != only_namespace:
            continue
        if entry.phase != "Running":
            continue
        pod = entry.obj()
        if (pod.get("metadata") or {}).get("deletionTimestamp"):
            continue
        image = _proxy_image(pod)
        if image is None or _proxy_revision(pod) != revision:
            continue
        status = ((pod["metadata"].get("annotations") or {}).get(XDS_STATUS_ANNOTATION) or "SYNCED").upper()
        version = image.rsplit(":", 1)[-1] if ":" in image.rsplit("/", 1)[-1] else ""
        item: dict[str, Any] = {
            "proxy": f"{entry.name}.{entry.namespace}",
            "proxy_type": "router"
            if "gateway" in ((pod["metadata"].get("annotations") or {}).get("inject.istio.io/templates", ""))
            else "sidecar",
            "cluster_id": "Kubernetes",
            "istio_version": version.removesuffix("-distroless"),
            "istiod": endpoints[0].name,
        }
        nonce = f"{entry.rv}"
        for t in _TYPES:
            item[f"{t}_sent"] = nonce
            item[f"{t}_acked"] = nonce if status == "SYNCED" else ("" if status == "STALE" else nonce)
        if status == "ERROR":
            item["listener_error"] = "simulated NACK"
        out.append(item)
    out.sort(key=lambda i: i["proxy"])
    return out
