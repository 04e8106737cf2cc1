"""The simulated API server's HTTP layer: routing, content negotiation and the verbs, on aiohttp.

Handlers run on the simulator's event loop, so every store call is made on the loop thread. Lists and
watch events are built from the stored bytes without decoding them whenever the client asks for full
objects, which is what keeps a 50,000-pod list and a busy watch cheap.

resourceVersion semantics for list: unset is the most recent state; "0" is served "from the watch
cache" (the current state, `limit` ignored, as the real cache does); "N" with `resourceVersionMatch=
NotOlderThan` (or unset without `limit`) is the current state, or 504 when N is in the future; "N" with
`Exact` (or unset with `limit`) rebuilds the state at N from the watch history, or 410 when N is older.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import hmac
import json
import logging
import os
import re
import weakref
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from aiohttp import web

from meshtui.domain.selectors import LabelSelector, SelectorError
from meshtui.sim import deletion, discovery, errors, patch, protobuf, serviceproxy, subresources, tables
from meshtui.sim.faults import Faults, RequestRecord
from meshtui.sim.peer import peer_uid
from meshtui.sim.resources import RESOURCES, ZERO_ANNOTATIONS, ZERO_FIELDS, Resource, default_deployment
from meshtui.sim.settings import SimSettings
from meshtui.sim.store import Entry, FieldSelector, Obj, Store, Watcher, item_prefix

log = logging.getLogger(__name__)

_BY_PATH: dict[tuple[str, str, str], Resource] = {(r.group, r.version, r.plural): r for r in RESOURCES}
_SSAR = "authorization.k8s.io/selfsubjectaccessreviews"
_JSON = "application/json"
#: Events written to a watch stream per write call; larger batches mean fewer syscalls under load.
_WATCH_BATCH = 1000
_TRUE = ("true", "1")

FULL, META, TABLE = "full", "meta", "table"


@dataclass(slots=True)
class RequestInfo:
    """What a resource request addresses, as the API server's RequestInfo resolver reports it."""

    verb: str
    res: Resource
    namespace: str | None
    name: str | None
    subresource: str | None
    dry_run: bool = False


_INFO = web.RequestKey("info", RequestInfo)
_LOGGED = web.RequestKey("logged", bool)


def _status_response(err: errors.ApiError) -> web.Response:
    headers = {"Content-Type": _JSON}
    retry = (err.details or {}).get("retryAfterSeconds")
    if retry is not None:
        headers["Retry-After"] = str(retry)
    return web.Response(status=err.code, body=orjson.dumps(err.status()), headers=headers)


#: As the API server: an answer whose body (its first write) is over 128 KiB is gzipped at level 1 when the
#: client accepts gzip; smaller ones, and watch streams, are sent as they are.
GZIP_THRESHOLD = 128 * 1024
_GZIP_LEVEL = 1
#: Bodies over this are compressed on a worker thread (zlib releases the GIL), so the loop keeps serving.
_GZIP_OFF_LOOP = 1024 * 1024


def _accepts_gzip(request: web.Request) -> bool:
    for part in request.headers.get("Accept-Encoding", "").split(","):
        coding, _, params = part.strip().partition(";")
        if coding.strip().lower() == "gzip" and params.replace(" ", "") not in ("q=0", "q=0.0"):
            return True
    return False


def _gzip(body: bytes) -> bytes:
    packer = zlib.compressobj(_GZIP_LEVEL, zlib.DEFLATED, 31)  # wbits 31: the gzip container
    return packer.compress(body) + packer.flush()


async def _compress(resp: web.Response) -> None:
    body = resp.body
    if not isinstance(body, (bytes, bytearray)) or len(body) <= GZIP_THRESHOLD:
        return
    if len(body) > _GZIP_OFF_LOOP:
        packed = await asyncio.get_running_loop().run_in_executor(None, _gzip, bytes(body))
    else:
        packed = _gzip(bytes(body))
    resp.body = packed
    resp.headers["Content-Encoding"] = "gzip"
    resp.headers.add("Vary", "Accept-Encoding")


def _json_response(body: Any, status: int = 200) -> web.Response:
    raw = body if isinstance(body, bytes) else orjson.dumps(body)
    return web.Response(status=status, body=raw, headers={"Content-Type": _JSON})


def _not_found_path() -> errors.ApiError:
    return errors.ApiError(404, "NotFound", "the server could not find the requested resource", {})


def _method_not_allowed(method: str) -> errors.ApiError:
    del method  # the API server's message does not name it
    return errors.ApiError(
        405, "MethodNotAllowed", "the server does not allow this method on the requested resource", {}
    )


def _media_types(accept: str) -> list[tuple[str, dict[str, str]]]:
    out = []
    for part in accept.split(","):
        fields = [f.strip() for f in part.split(";")]
        params = {}
        for f in fields[1:]:
            k, _, v = f.partition("=")
            params[k.strip().lower()] = v.strip()
        out.append((fields[0].lower(), params))
    return out


def negotiate(accept: str, *, list_request: bool) -> str:
    """Pick the response form from an Accept header: full objects, PartialObjectMetadata or a Table."""
    if not accept.strip():
        return FULL
    for media, params in _media_types(accept):
        if media not in (_JSON, "*/*", "application/*"):
            continue  # protobuf, YAML and CBOR are not served; a JSON alternative usually follows
        as_ = params.get("as")
        if as_ is None:
            return FULL
        if params.get("g") != "meta.k8s.io" or params.get("v") != "v1":
            continue
        if as_ == "Table":
            return TABLE
        if as_ == ("PartialObjectMetadataList" if list_request else "PartialObjectMetadata"):
            return META
    raise errors.ApiError(406, "NotAcceptable", f"only the following media types are accepted: {_JSON}", {})


def _bool(query: Any, name: str) -> bool:
    return str(query.get(name, "")).lower() in _TRUE


def _int(query: Any, name: str) -> int | None:
    raw = query.get(name)
    if raw in (None, ""):
        return None
    try:
        return int(raw)
    except ValueError:
        raise errors.bad_request(f"invalid value for {name}: {raw!r}") from None


_OPTIONS_KIND = {"create": "CreateOptions", "update": "UpdateOptions", "patch": "PatchOptions"}


def _dry_run(query: Any, verb: str) -> bool:
    values = query.getall("dryRun", [])
    if any(v != "All" for v in values):
        raise errors.invalid(
            _OPTIONS_KIND.get(verb, "DeleteOptions") + ".meta.k8s.io",
            "",
            f'dryRun: Unsupported value: {orjson.dumps(values).decode()}: supported values: "All"',
        )
    return bool(values)


def _selectors(query: Any, res: Resource) -> tuple[LabelSelector, FieldSelector]:
    try:
        labels = LabelSelector.parse(query.get("labelSelector"))
    except SelectorError as exc:
        raise errors.bad_request(str(exc)) from None
    fields = FieldSelector.parse(query.get("fieldSelector"))
    fields.check(res)
    return labels, fields


def _decode_body(body: bytes, content_type: str = _JSON) -> Any:
    if content_type == protobuf.MEDIA_TYPE:
        return protobuf.decode(body)
    if content_type not in ("", _JSON, "application/yaml", "application/octet-stream", "text/plain"):
        raise errors.ApiError(
            415,
            "UnsupportedMediaType",
            "the body of the request was in an unknown format "
            f"- accepted media types include: {_JSON}, application/yaml",
            {},
        )
    if not body:
        raise errors.bad_request("the request body is empty")
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        if "yaml" in content_type:
            return patch.parse_apply_body(body)
        raise errors.bad_request(f"error decoding request body: {exc}") from None


def _list_body(head: bytes, res: Resource, entries: list[Entry]) -> bytes:
    """A full-object list: `head` (the list without items) and the stored items, without the `kind` and
    `apiVersion` the API server leaves out of list items.

    Stored objects start with those two fields (see `item_prefix`): the rest of each one's bytes is
    spliced in without decoding or copying; anything else is re-encoded.
    """
    prefix = item_prefix(res)
    n = len(prefix)
    # Each item without its opening brace. Views are garbage-collector-tracked objects: 50,000 of them
    # would trigger collections that scan the whole heap, and they form no cycles, so collection waits.
    paused = gc.isenabled()
    gc.disable()
    try:
        rests = [memoryview(e.raw)[n:] if e.raw.startswith(prefix) else _without_kind(e) for e in entries]
    finally:
        if paused:
            gc.enable()
    items = (b"{", b",{".join(rests)) if rests else ()
    return b"".join((head[:-1], b',"items":[', *items, b"]}"))


def _without_kind(e: Entry) -> bytes:
    """An item re-encoded without `kind` and `apiVersion`, and without its opening brace."""
    obj = e.obj()
    obj.pop("kind", None)
    obj.pop("apiVersion", None)
    return orjson.dumps(obj)[1:]


_DEPLOYMENTS = "apps/deployments"


def _default_on_update(obj: Obj, old: Obj | None) -> None:
    """Deployment defaults on an update through the API.

    The API server defaults every write, so a stored object always carries its defaults and an update
    changes nothing of them. Objects the simulator built itself may lack them: defaults are applied only
    when the spec changes anyway, and to the pod template only when the template changes (so a write
    that leaves the template alone never rolls the Deployment out).
    """
    spec, old_spec = obj.get("spec"), (old or {}).get("spec")
    if old is None or spec == old_spec:
        return
    template_changed = not isinstance(old_spec, dict) or (spec or {}).get("template") != old_spec.get("template")
    default_deployment(obj, template=template_changed)


#: Fields of type metav1.MicroTime, per store key, with the Go struct field a JSON type error names.
_MICRO_TIMES: dict[str, tuple[tuple[tuple[str, ...], str], ...]] = {
    "coordination.k8s.io/leases": (
        (("spec", "acquireTime"), "LeaseSpec.spec.acquireTime"),
        (("spec", "renewTime"), "LeaseSpec.spec.renewTime"),
    ),
    "events": (
        (("eventTime",), "Event.eventTime"),
        (("series", "lastObservedTime"), "EventSeries.series.lastObservedTime"),
    ),
}
_MICRO_LAYOUT = "2006-01-02T15:04:05.000000Z07:00"
#: The layout's elements, each with what it accepts, in the order Go's time.Parse consumes them.
_MICRO_ELEMENTS = tuple(
    (layout, re.compile(pattern))
    for layout, pattern in (
        ("2006", r"\d{4}"),
        ("-", "-"),
        ("01", r"\d{2}"),
        ("-", "-"),
        ("02", r"\d{2}"),
        ("T", "T"),
        ("15", r"\d{2}"),
        (":", ":"),
        ("04", r"\d{2}"),
        (":", ":"),
        ("05", r"\d{2}"),
        (".000000", r"\.\d{6}"),
        ("Z07:00", r"Z|[+-]\d{2}:\d{2}"),
    )
)
_JSON_TYPES = {bool: "bool", int: "number", float: "number", dict: "object", list: "array"}


def _micro_time(value: Any, go_field: str) -> str:
    """A MicroTime as the API server decodes it (exactly six fractional digits), normalized to UTC.

    Anything else raises the decoder's error text (as ApiError 400 without the kind prefix).
    """
    if not isinstance(value, str):
        kind = _JSON_TYPES.get(type(value), "value")
        raise errors.bad_request(f"json: cannot unmarshal {kind} into Go struct field {go_field} of type string")
    rest = value
    for layout, pattern in _MICRO_ELEMENTS:
        m = pattern.match(rest)
        if m is None:
            raise errors.bad_request(
                f'parsing time "{value}" as "{_MICRO_LAYOUT}": cannot parse "{rest}" as "{layout}"'
            )
        rest = rest[m.end() :]
    if rest:
        raise errors.bad_request(f'parsing time "{value}": extra text: "{rest}"')
    month, hour, minute, second = int(value[5:7]), int(value[11:13]), int(value[14:16]), int(value[17:19])
    for name, ok in (
        ("month", 1 <= month <= 12),
        ("hour", hour < 24),
        ("minute", minute < 60),
        ("second", second < 60),
    ):
        if not ok:
            raise errors.bad_request(f'parsing time "{value}": {name} out of range')
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise errors.bad_request(f'parsing time "{value}": day out of range') from None
    return parsed.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _micro_time_error(res: Resource, obj: Obj) -> str | None:
    """Decode the MicroTime fields of an object as the API server does: valid ones become UTC (in place),
    the first malformed one's decoding error is returned."""
    for path, go_field in _MICRO_TIMES.get(res.key, ()):
        parent: Any = obj
        for part in path[:-1]:
            parent = parent.get(part) if isinstance(parent, dict) else None
        if not isinstance(parent, dict) or parent.get(path[-1]) is None:
            continue
        try:
            parent[path[-1]] = _micro_time(parent[path[-1]], go_field)
        except errors.ApiError as exc:
            return exc.message
    return None


def _check_micro_times(res: Resource, obj: Obj) -> None:
    """A body whose MicroTime fields do not decode is a 400, worded as the API server's decoder words it."""
    problem = _micro_time_error(res, obj)
    if problem is not None:
        raise errors.bad_request(f'{res.kind} in version "{res.version}" cannot be handled as a {res.kind}: {problem}')


def _check_patched_micro_times(res: Resource, patched: Obj) -> None:
    """A patch whose result does not decode is a 422 about the `patch` field, quoting the result."""
    problem = _micro_time_error(res, patched)
    if problem is not None:
        body = f"Invalid value: {json.dumps(orjson.dumps(patched).decode())}: {problem}"
        cause = {"reason": "FieldValueInvalid", "message": body, "field": "patch"}
        raise errors.ApiError(422, "Invalid", f' "" is invalid: patch: {body}', {"causes": [cause]})


class ApiServer:
    """The aiohttp application serving one `Store` with the API server's conventions."""

    def __init__(self, store: Store, settings: SimSettings, faults: Faults, *, token: str | None = None):
        self.store = store
        #: Requests without `Authorization: Bearer <token>` get 401 (None: no credentials are checked).
        self.token = token
        self._peer_uids: weakref.WeakKeyDictionary[Any, bool] = weakref.WeakKeyDictionary()
        self.settings = settings
        self.faults = faults
        faults.store = store

    def make_app(self) -> web.Application:
        """Build the aiohttp application (discovery routes plus one dispatcher for resource paths)."""
        app = web.Application(middlewares=[self._middleware], client_max_size=4 * 1024 * 1024)
        discovery.add_routes(app)
        app.router.add_get("/openapi/v2", self._no_openapi)
        serviceproxy.add_routes(app, self.store, self.settings, self.faults)
        app.router.add_route("*", "/{tail:.*}", self._dispatch)
        return app

    # -- middleware ------------------------------------------------------------------------------------

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Any) -> web.StreamResponse:
        if self.faults.delay_ms:
            self.faults.count("slow")
            await asyncio.sleep(self.faults.delay_ms / 1000)
        resp: web.StreamResponse
        # Watches and followed logs last as long as the client wants: only answers that end count as in flight.
        q = request.query
        streaming = "/watch/" in request.path or q.get("watch") in _TRUE or q.get("follow") in _TRUE
        if not streaming:
            self.store.requests_in_flight += 1
        try:
            if self.token is not None and not self._authorized(request):
                raise errors.unauthorized()
            resp = await handler(request)
        except errors.ApiError as api_error:
            resp = _status_response(api_error)
        except web.HTTPException as exc:
            reason = "MethodNotAllowed" if exc.status == 405 else exc.reason.replace(" ", "")
            resp = _status_response(errors.ApiError(exc.status, reason, exc.text or exc.reason, {}))
        except Exception:
            log.exception("simulated API server: %s %s failed", request.method, request.path_qs)
            internal = errors.internal(f"internal error serving {request.method} {request.path}")
            resp = _status_response(internal)
        finally:
            if not streaming:
                self.store.requests_in_flight -= 1
        if not request.get(_LOGGED):
            self._record(request, resp.status)
        if isinstance(resp, web.Response) and _accepts_gzip(request):
            await _compress(resp)
        return resp

    def _authorized(self, request: web.Request) -> bool:
        """The run's bearer token, or a connection from a process of the simulator's own user.

        kubectl (client-go) never sends credentials over plain HTTP, so the owner's own processes are
        recognised by the owner of their socket instead; other local users need the token, which only
        the 0600 kubeconfig holds.
        """
        scheme, _, credential = request.headers.get("Authorization", "").partition(" ")
        expected = (self.token or "").encode()
        if scheme.lower() == "bearer" and hmac.compare_digest(credential.strip().encode(), expected):
            return True
        transport = request.transport
        if transport is None:
            return False
        known = self._peer_uids.get(transport)
        if known is None:
            peer, local = transport.get_extra_info("peername"), transport.get_extra_info("sockname")
            uid = peer_uid(peer[:2], local[:2]) if peer and local else None
            known = uid == os.getuid() if uid is not None else False
            self._peer_uids[transport] = known
        return known

    def _record(self, request: web.Request, status: int) -> None:
        info = request.get(_INFO)
        self.faults.record(
            RequestRecord(
                method=request.method,
                path=request.path,
                query=request.query_string,
                verb=info.verb if info else "",
                resource=info.res.key if info else "",
                namespace=info.namespace if info else None,
                name=info.name if info else None,
                subresource=info.subresource if info else None,
                status=status,
                dry_run=info.dry_run if info else False,
            )
        )
        request[_LOGGED] = True

    async def _no_openapi(self, request: web.Request) -> web.Response:
        """OpenAPI v2 is not served (v3 is, as skeletons); kubectl uses v3 when it is there."""
        raise _not_found_path()

    # -- routing ---------------------------------------------------------------------------------------

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        parts = [p for p in request.path.split("/") if p]
        if len(parts) >= 2 and parts[0] == "api":
            group, version, rest = "", parts[1], parts[2:]
        elif len(parts) >= 2 and parts[0] == "apis":
            group = parts[1]
            if len(parts) == 2:
                return self._document(request, discovery.api_group(group))
            version, rest = parts[2], parts[3:]
        else:
            raise _not_found_path()
        if not rest:
            return self._document(request, discovery.group_version(group, version))
        watch_path = rest[0] == "watch"
        if watch_path:
            rest = rest[1:]
        info = self._resolve(request, group, version, rest, watch_path)
        request[_INFO] = info
        return await self._serve(request, info)

    def _document(self, request: web.Request, body: bytes | None) -> web.Response:
        if request.method != "GET":
            raise _method_not_allowed(request.method)
        if body is None:
            raise _not_found_path()
        return _json_response(body)

    def _resolve(
        self, request: web.Request, group: str, version: str, rest: list[str], watch_path: bool
    ) -> RequestInfo:
        namespace: str | None = None
        if rest[0] == "namespaces" and len(rest) >= 3 and not (len(rest) == 3 and rest[2] in ("status",)):
            namespace, rest = rest[1], rest[2:]
        if len(rest) > 3:
            raise _not_found_path()
        res = _BY_PATH.get((group, version, rest[0]))
        if res is None or (namespace is not None and not res.namespaced):
            raise _not_found_path()
        name = rest[1] if len(rest) > 1 else None
        sub = rest[2] if len(rest) > 2 else None
        if sub is not None and not (sub == "status" and res.has_status) and sub not in subresources.served(res):
            raise _not_found_path()
        method = request.method
        if sub is not None and sub != "status":
            # pods/log (GET) and pods/eviction (POST), answered by meshtui.sim.subresources.
            if namespace is None and res.namespaced:
                raise _not_found_path()
            return RequestInfo(subresources.verb(res, sub, method), res, namespace, name, sub)
        if method == "GET":
            if name is None:
                verb = "watch" if watch_path or _bool(request.query, "watch") else "list"
            else:
                verb = "watch" if watch_path else "get"
        elif method == "POST" and name is None:
            verb = "create"
        elif method == "PUT" and name is not None:
            verb = "update"
        elif method == "PATCH" and name is not None:
            verb = "patch"
        elif method == "DELETE":
            verb = "delete" if name is not None else "deletecollection"
        else:
            raise _method_not_allowed(method)
        if (verb not in ("get", "update", "patch")) if sub else (verb not in res.verbs):
            raise _method_not_allowed(method)
        if res.namespaced and namespace is None and verb not in ("list", "watch"):
            raise _not_found_path()
        info = RequestInfo(verb, res, namespace, name, sub)
        if verb in ("create", "update", "patch", "delete", "deletecollection"):
            info.dry_run = _dry_run(request.query, verb)
        return info

    async def _serve(self, request: web.Request, info: RequestInfo) -> web.StreamResponse:
        user = self.settings.user
        denied = self.faults.forbidden_error(user, info.verb, info.res, info.namespace, info.name)
        if denied is not None:
            raise denied
        failure = self.faults.failure(info.verb, info.res.key)
        if failure is not None:
            code, retry_after = failure
            reasons = {429: "TooManyRequests", 503: "ServiceUnavailable", 504: "Timeout"}
            reason = reasons.get(code, "InternalError")
            details = {"retryAfterSeconds": retry_after} if code in (429, 503) else {}
            raise errors.ApiError(code, reason, f"simulated failure ({code})", details)
        verb = info.verb
        if info.subresource is not None and info.subresource != "status":
            return await subresources.serve(
                self.store, request, info.subresource, info.namespace or "", info.name or ""
            )
        if verb == "get":
            return self._get(request, info)
        if verb == "list":
            return self._list(request, info)
        if verb == "watch":
            return await self._watch(request, info)
        if verb == "create":
            return await self._create(request, info)
        if verb == "update":
            return await self._update(request, info)
        if verb == "patch":
            return await self._patch(request, info)
        if verb == "delete":
            return await self._delete(request, info)
        return await self._delete_collection(request, info)

    # -- reads -----------------------------------------------------------------------------------------

    def _get(self, request: web.Request, info: RequestInfo) -> web.Response:
        form = negotiate(request.headers.get("Accept", ""), list_request=False)
        obj = self.store.require(info.res.key, info.namespace, info.name or "")
        if form == FULL:
            return _json_response(obj)
        if form == META:
            return _json_response(tables.partial_metadata(obj))
        include = request.query.get("includeObject", "Metadata")
        return _json_response(
            tables.table(info.res.key, [obj], include, {"resourceVersion": obj["metadata"]["resourceVersion"]})
        )

    def _list(self, request: web.Request, info: RequestInfo) -> web.Response:
        q = request.query
        res = info.res
        form = negotiate(request.headers.get("Accept", ""), list_request=True)
        labels, fields = _selectors(q, res)
        limit = _int(q, "limit")
        if limit is not None and limit <= 0:
            limit = None
        token = q.get("continue") or None
        rv = q.get("resourceVersion") or None
        match = q.get("resourceVersionMatch") or None
        if match is not None and match not in ("Exact", "NotOlderThan"):
            raise errors.bad_request(f'resourceVersionMatch: Unsupported value: "{match}"')
        if match is not None and rv is None:
            raise errors.bad_request("resourceVersionMatch is forbidden unless resourceVersion is provided")
        if token is not None and match is not None:
            raise errors.bad_request("resourceVersionMatch is forbidden when continue is provided")
        if token is not None and rv not in (None, "0"):
            raise errors.bad_request("specifying resource version is not allowed when using continue")
        at_rv: int | None = None
        if token is None and rv == "0":
            if match == "Exact":
                raise errors.bad_request('resourceVersionMatch "Exact" is forbidden for resourceVersion "0"')
            limit = None  # served from the watch cache, which does not paginate
        elif token is None and rv is not None:
            try:
                wanted = int(rv)
            except ValueError:
                raise errors.bad_request(f"invalid resource version: {rv!r}") from None
            if wanted > self.store.rv:
                cause = {"reason": "ResourceVersionTooLarge", "message": "Too large resource version"}
                raise errors.ApiError(
                    504,
                    "Timeout",
                    f"Timeout: Too large resource version: {wanted}, current: {self.store.rv}",
                    {"retryAfterSeconds": 1, "causes": [cause]},
                )
            if match == "Exact" or (match is None and limit is not None):
                at_rv = wanted
        if token is not None and self.faults.take_expired_continue():
            self.store.expire_list_snapshots()
        list_rv, entries, cont, remaining = self.store.list_page(
            res.key, info.namespace, labels, fields, limit, token, at_rv=at_rv
        )
        meta: Obj = {"resourceVersion": str(list_rv)}
        if cont:
            meta["continue"] = cont
            if labels.is_empty and not fields.terms:
                meta["remainingItemCount"] = remaining
        if form == FULL:
            head = orjson.dumps({"kind": res.kind + "List", "apiVersion": res.api_version, "metadata": meta})
            body = _list_body(head, res, entries)
            return _json_response(body)
        objs = [e.obj() for e in entries]
        if form == META:
            return _json_response(
                {
                    "kind": "PartialObjectMetadataList",
                    "apiVersion": "meta.k8s.io/v1",
                    "metadata": meta,
                    "items": [tables.partial_metadata(o) for o in objs],
                }
            )
        include = q.get("includeObject", "Metadata")
        return _json_response(tables.table(res.key, objs, include, meta))

    # -- watch -----------------------------------------------------------------------------------------

    async def _watch(self, request: web.Request, info: RequestInfo) -> web.StreamResponse:
        q = request.query
        res = info.res
        form = negotiate(request.headers.get("Accept", ""), list_request=False)
        labels, fields = _selectors(q, res)
        if info.name is not None:
            fields = FieldSelector((*fields.terms, ("metadata.name", True, info.name)))
        timeout = _int(q, "timeoutSeconds")
        bookmarks = _bool(q, "allowWatchBookmarks")
        initial_events = _bool(q, "sendInitialEvents")
        rv = q.get("resourceVersion") or None
        if initial_events:
            if q.get("resourceVersionMatch") != "NotOlderThan":
                raise errors.invalid(
                    "ListOptions.meta.k8s.io",
                    "",
                    "resourceVersionMatch: Forbidden: sendInitialEvents requires resourceVersionMatch NotOlderThan",
                )
            if not bookmarks:
                raise errors.invalid(
                    "ListOptions.meta.k8s.io",
                    "",
                    "allowWatchBookmarks: Forbidden: sendInitialEvents requires setting allowWatchBookmarks to true",
                )
        failure: errors.ApiError | None = None
        watcher: Watcher | None = None
        if self.faults.take_expired_watch():
            failure = errors.gone("The resourceVersion for the provided watch is too old.")
        else:
            try:
                watcher = self.store.watch(res.key, info.namespace, labels, fields, None if initial_events else rv)
            except errors.ApiError as err:
                if err.code != 410:
                    raise
                failure = err
        resp = web.StreamResponse(status=200, headers={"Content-Type": _JSON})
        resp.enable_chunked_encoding()
        if failure is not None or watcher is None:
            await resp.prepare(request)
            self._record(request, 200)
            status = (failure or errors.internal("watch failed")).status()
            line = orjson.dumps({"type": "ERROR", "object": status})
            await resp.write(line + b"\n")
            await resp.write_eof()
            return resp
        writer = _EventWriter(res, form, q.get("includeObject", "Metadata"))
        wake = asyncio.Event()
        watcher.wake = wake.set
        transport = request.transport
        if transport is not None:
            self.faults.watch_streams.add(transport)
        # Without a resourceVersion (or "0") a watch starts with the current state; with bookmarks allowed,
        # a bookmark marks the end of those initial events, as sendInitialEvents=true does.
        initial_events = initial_events or (bookmarks and rv in (None, "0"))
        try:
            first = b""
            if initial_events:
                # The initial events are queued already; a bookmark marks their end at the state they show.
                first = writer.encode_batch(watcher.queue, len(watcher.queue))
                first += writer.bookmark(self.store.rv, initial_events_end=True)
            await resp.prepare(request)
            self._record(request, 200)
            if first:
                await resp.write(first)
            await self._stream(resp, watcher, wake, writer, timeout, bookmarks)
            await resp.write_eof()
        except ConnectionError:
            pass  # the client went away
        finally:
            self.store.stop_watch(watcher)
            self.faults.watch_streams.discard(transport)
        return resp

    async def _stream(
        self,
        resp: web.StreamResponse,
        w: Watcher,
        wake: asyncio.Event,
        writer: _EventWriter,
        timeout: int | None,
        bookmarks: bool,
    ) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout if timeout else None
        interval = self.settings.bookmark_interval

        def next_bookmark_at(now: float) -> float | None:
            # The watch cache's nextBookmarkTime: every interval, and at the latest 2 s before the
            # deadline; none once that moment has passed (so a watch shorter than 2 s gets none).
            if not bookmarks:
                return None
            at = now + interval
            if deadline is not None:
                at = min(at, deadline - 2)
            return at if at > now else None

        next_bookmark = next_bookmark_at(loop.time())
        while True:
            wake.clear()
            now = loop.time()
            if deadline is not None and now >= deadline:
                return
            if next_bookmark is not None and now >= next_bookmark:
                # A bookmark promises that every event up to its version was sent: the store's version
                # when nothing is queued, else the last event written (the queue holds only later ones).
                idle_rv = None if w.queue else self.store.rv
                chunk = writer.encode_batch(w.queue, _WATCH_BATCH)
                rv = idle_rv if idle_rv is not None else writer.last_rv
                if rv > w.start_rv:  # only progress past the watch's start is bookmarked
                    chunk += writer.bookmark(rv)
                if chunk:
                    await resp.write(chunk)
                next_bookmark = next_bookmark_at(now)
                continue
            if w.queue:
                await resp.write(writer.encode_batch(w.queue, _WATCH_BATCH))
                continue
            if w.closed:
                return
            waits = [t - now for t in (deadline, next_bookmark) if t is not None]
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(min(waits) if waits else None):
                    await wake.wait()

    # -- writes ----------------------------------------------------------------------------------------

    async def _body(self, request: web.Request) -> Any:
        return _decode_body(await request.read(), request.content_type)

    def _check_kind(self, res: Resource, obj: Any) -> Obj:
        if not isinstance(obj, dict):
            raise errors.bad_request("the request body must be a JSON object")
        api_version = obj.get("apiVersion")
        if api_version and api_version != res.api_version:
            raise errors.bad_request(
                f"the API version in the data ({api_version}) does not match the "
                f"expected API version ({res.api_version})"
            )
        kind = obj.get("kind")
        if kind and kind != res.kind:
            raise errors.bad_request(f"the kind in the data ({kind}) does not match the expected kind ({res.kind})")
        meta = obj.setdefault("metadata", {})
        if not isinstance(meta, dict):
            raise errors.bad_request("metadata must be an object")
        return obj

    def _place(self, info: RequestInfo, obj: Obj) -> None:
        meta = obj["metadata"]
        if info.res.namespaced and info.namespace is not None:
            given = meta.get("namespace")
            if given and given != info.namespace:
                raise errors.bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request"
                )
            meta["namespace"] = info.namespace
        if info.name is not None:
            given = meta.get("name")
            if given and given != info.name:
                raise errors.bad_request(
                    f"the name of the object ({given}) does not match the name on the URL ({info.name})"
                )
            meta["name"] = info.name

    async def _create(self, request: web.Request, info: RequestInfo) -> web.Response:
        obj = self._check_kind(info.res, await self._body(request))
        if info.res.key == _SSAR:
            return _json_response(self._access_review(obj), 201)
        self._place(info, obj)
        return _json_response(self._create_object(info, obj), 201)

    def _create_object(self, info: RequestInfo, obj: Obj) -> Obj:
        """A create through the API: decoding checks and defaults, then the status the server sets."""
        res = info.res
        _check_micro_times(res, obj)
        if res.key == _DEPLOYMENTS:
            default_deployment(obj)
        return self.store.create(res.key, obj, dry_run=info.dry_run, server_status=True)

    def _access_review(self, review: Obj) -> Obj:
        attrs = (review.get("spec") or {}).get("resourceAttributes")
        allowed, reason = True, ""
        if isinstance(attrs, dict):
            group = attrs.get("group") or ""
            plural = attrs.get("resource") or ""
            key = f"{group}/{plural}" if group else plural
            verb = attrs.get("verb") or ""
            if self.faults.denied(verb, key):
                allowed = False
                reason = f'RBAC: user "{self.settings.user}" cannot {verb} {key} (a simulated denial)'
        status: Obj = {"allowed": allowed}
        if not allowed:
            status["reason"] = reason
        return {
            "kind": "SelfSubjectAccessReview",
            "apiVersion": "authorization.k8s.io/v1",
            "metadata": {},
            "spec": review.get("spec") or {},
            "status": status,
        }

    async def _update(self, request: web.Request, info: RequestInfo) -> web.Response:
        obj = self._check_kind(info.res, await self._body(request))
        self._place(info, obj)
        _check_micro_times(info.res, obj)
        if info.res.key == _DEPLOYMENTS and info.subresource is None:
            meta = obj["metadata"]
            _default_on_update(obj, self.store.get(info.res.key, meta.get("namespace"), meta.get("name") or ""))
        return _json_response(self.store.replace(info.res.key, obj, dry_run=info.dry_run, subresource=info.subresource))

    async def _patch(self, request: web.Request, info: RequestInfo) -> web.Response:
        content_type = request.content_type
        if content_type not in patch.CONTENT_TYPES:
            raise errors.ApiError(
                415,
                "UnsupportedMediaType",
                f"the body of the request was in an unknown format - accepted media types "
                f"include: {', '.join(patch.CONTENT_TYPES)}",
                {},
            )
        body = await request.read()
        if not body:
            raise errors.bad_request("the request body is empty")
        res = info.res
        name = info.name or ""
        if content_type == patch.APPLY_PATCH:
            if not request.query.get("fieldManager"):
                raise errors.invalid(
                    "PatchOptions.meta.k8s.io", "", "fieldManager: Required value: is required for apply patch"
                )
            if self.store.get(res.key, info.namespace, name) is None:
                obj = self._check_kind(res, patch.parse_apply_body(body))
                self._place(info, obj)
                return _json_response(self._create_object(info, obj), 201)

        def apply(current: Obj) -> Obj:
            stored_rv = current["metadata"].get("resourceVersion")
            before = orjson.loads(orjson.dumps(current)) if res.key == _DEPLOYMENTS else None
            patched = patch.apply_patch(content_type, current, body)
            meta = patched.get("metadata")
            if not isinstance(meta, dict):
                raise errors.bad_request("metadata must be an object")
            wanted = meta.get("resourceVersion")
            if wanted and wanted != stored_rv:
                raise errors.conflict(res.plural, name, res.group)
            _check_patched_micro_times(res, patched)
            if before is not None and info.subresource is None:
                _default_on_update(patched, before)
            return patched

        return _json_response(
            self.store.update(res.key, info.namespace, name, apply, subresource=info.subresource, dry_run=info.dry_run)
        )

    async def _delete_options(self, request: web.Request) -> tuple[int | None, str | None, Obj]:
        body = await request.read()
        opts: Obj = {}
        if body.strip():
            decoded = _decode_body(body)
            if not isinstance(decoded, dict):
                raise errors.bad_request("DeleteOptions must be a JSON object")
            opts = decoded
        q = request.query
        grace = opts.get("gracePeriodSeconds")
        if grace is None:
            grace = _int(q, "gracePeriodSeconds")
        propagation = opts.get("propagationPolicy") or q.get("propagationPolicy") or None
        if propagation is None and (opts.get("orphanDependents") is True or _bool(q, "orphanDependents")):
            propagation = "Orphan"
        if propagation not in (None, "Orphan", "Background", "Foreground"):
            raise errors.invalid("DeleteOptions", "", f'propagationPolicy: Unsupported value: "{propagation}"')
        return grace, propagation, opts

    async def _delete(self, request: web.Request, info: RequestInfo) -> web.Response:
        grace, propagation, opts = await self._delete_options(request)
        dry_run = info.dry_run or "All" in (opts.get("dryRun") or [])
        info.dry_run = dry_run
        res = info.res
        pre = opts.get("preconditions") or {}
        if pre:
            current = self.store.require(res.key, info.namespace, info.name or "")
            if pre.get("uid") and pre["uid"] != current["metadata"].get("uid"):
                raise errors.ApiError(
                    409,
                    "Conflict",
                    f"Precondition failed: UID in precondition: "
                    f"{pre['uid']}, UID in object meta: {current['metadata'].get('uid')}",
                    {"name": info.name, "kind": res.plural},
                )
            wanted_rv = pre.get("resourceVersion")
            if wanted_rv and wanted_rv != current["metadata"]["resourceVersion"]:
                raise errors.conflict(res.plural, info.name or "", res.group)
        result = deletion.delete(
            self.store,
            res.key,
            info.namespace,
            info.name or "",
            grace_seconds=grace,
            propagation=propagation,
            dry_run=dry_run,
        )
        return _json_response(result)

    async def _delete_collection(self, request: web.Request, info: RequestInfo) -> web.Response:
        grace, propagation, opts = await self._delete_options(request)
        dry_run = info.dry_run or "All" in (opts.get("dryRun") or [])
        info.dry_run = dry_run
        res = info.res
        labels, fields = _selectors(request.query, res)
        _, entries, _, _ = self.store.list_page(res.key, info.namespace, labels, fields, None, None)
        items = [
            deletion.delete(
                self.store,
                res.key,
                e.namespace or None,
                e.name,
                grace_seconds=grace,
                propagation=propagation,
                dry_run=dry_run,
            )
            for e in entries
        ]
        return _json_response(
            {
                "kind": res.kind + "List",
                "apiVersion": res.api_version,
                "metadata": {"resourceVersion": str(self.store.rv)},
                "items": items,
            }
        )


class _EventWriter:
    """Encodes watch events in the negotiated form; full objects are spliced in as stored bytes."""

    def __init__(self, res: Resource, form: str, include_object: str):
        self.res = res
        self.form = form
        self.include_object = include_object
        self._headers_sent = False
        self.last_rv = 0  # the resourceVersion of the last event encoded

    def encode_batch(self, queue: Any, limit: int) -> bytes:
        """Pop up to `limit` events off a watcher's queue and encode them as newline-delimited JSON."""
        parts: list[bytes] = []
        n = min(limit, len(queue))
        for _ in range(n):
            kind, entry = queue.popleft()
            parts.append(self.encode(kind, entry))
            self.last_rv = entry.rv
        return b"".join(parts)

    def encode(self, kind: str, entry: Entry) -> bytes:
        """One event line."""
        if self.form == FULL:
            return b'{"type":"' + kind.encode() + b'","object":' + entry.raw + b"}\n"
        obj = entry.obj()
        if self.form == META:
            out: Any = tables.partial_metadata(obj)
        else:
            out = tables.table(
                self.res.key,
                [obj],
                self.include_object,
                {"resourceVersion": obj["metadata"]["resourceVersion"]},
                headers=not self._headers_sent,
            )
            self._headers_sent = True
        return orjson.dumps({"type": kind, "object": out}) + b"\n"

    def bookmark(self, rv: int, *, initial_events_end: bool = False) -> bytes:
        """A BOOKMARK event: an empty object of the kind, serialized as the API server does, with the
        resourceVersion (and the initial-events-end annotation)."""
        fields: Obj = {}
        annotations: dict[str, str] = {}
        if self.form == META:
            kind, api_version = "PartialObjectMetadata", "meta.k8s.io/v1"
        else:
            kind, api_version = self.res.kind, self.res.api_version
            fields = ZERO_FIELDS.get(self.res.key, {})
            annotations.update(ZERO_ANNOTATIONS.get(self.res.key, {}))
        meta: Obj = {"resourceVersion": str(rv)}
        if initial_events_end:
            annotations["k8s.io/initial-events-end"] = "true"
        if annotations:
            meta["annotations"] = annotations
        return (
            orjson.dumps(
                {
                    "type": "BOOKMARK",
                    "object": {"kind": kind, "apiVersion": api_version, "metadata": meta, **fields},
                }
            )
            + b"\n"
        )
