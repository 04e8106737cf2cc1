"""The pod subresources kubectl and k9s use besides `status`: `pods/log` and `pods/eviction`.

A log is a plausible one, made up deterministically from the pod (an istio-proxy's start-up and access
lines, an application's requests), so `kubectl logs` and a k9s log view have something to show. An
eviction is a DELETE that honours PodDisruptionBudgets as the API server's eviction REST does: 429 when
the pod's budget allows no disruption, 201 otherwise.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import random
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from aiohttp import web

from meshtui.domain.selectors import LabelSelector, SelectorError
from meshtui.sim import deletion, errors
from meshtui.sim.resources import Resource
from meshtui.sim.store import Obj, Store

PODS = "pods"
PDBS = "policy/poddisruptionbudgets"
#: How often a followed log gains a line, and how often it checks that its pod is still there.
FOLLOW_INTERVAL_S = 1.0
#: The most lines a log holds (a real one rotates; this keeps a long-lived pod's log bounded).
MAX_LINES = 500
_TRUE = ("true", "1")


def served(res: Resource) -> tuple[str, ...]:
    """The names of the resource's subresources besides `status`."""
    return tuple(sub for sub, *_ in res.subresources)


def verb(res: Resource, sub: str, method: str) -> str:
    """The verb a request on a subresource is (`get` a log, `create` an eviction); 405 for other methods."""
    for name, _, _, verbs in res.subresources:
        if name != sub:
            continue
        wanted = {"get": "GET", "create": "POST"}
        for v in verbs:
            if wanted.get(v) == method:
                return v
    raise errors.ApiError(
        405, "MethodNotAllowed", "the server does not allow this method on the requested resource", {}
    )


async def serve(store: Store, request: web.Request, sub: str, namespace: str, name: str) -> web.StreamResponse:
    """Answer one subresource request (the verb was checked by `verb`)."""
    if sub == "log":
        return await _log(store, request, namespace, name)
    return await _evict(store, request, namespace, name)


# -- pods/log ---------------------------------------------------------------------------------------------


def _containers(pod: Obj) -> tuple[list[str], list[str]]:
    spec = pod.get("spec") or {}
    names = [str(c.get("name")) for c in spec.get("containers") or [] if isinstance(c, dict)]
    inits = [str(c.get("name")) for c in spec.get("initContainers") or [] if isinstance(c, dict)]
    return names, inits


def choose_container(pod: Obj, wanted: str | None) -> str:
    """The container a log request reads, or the API server's 400 when it is missing or unknown."""
    name = pod["metadata"]["name"]
    names, inits = _containers(pod)
    if not wanted:
        if len(names) == 1:
            return names[0]
        message = f"a container name must be specified for pod {name}, choose one of: [{' '.join(names)}]"
        if inits:
            message += f" or one of the init containers: [{' '.join(inits)}]"
        raise errors.bad_request(message)
    if wanted not in names and wanted not in inits:
        raise errors.bad_request(f"container {wanted} is not valid for pod {name}")
    return wanted


def _started(pod: Obj, container: str) -> datetime | None:
    """When the container started running, or None while it waits (the reason is raised as a 400)."""
    status = pod.get("status") or {}
    for cs in (status.get("containerStatuses") or []) + (status.get("initContainerStatuses") or []):
        if cs.get("name") != container:
            continue
        state = cs.get("state") or {}
        for phase in ("running", "terminated"):
            if phase in state:
                return _parse(state[phase].get("startedAt")) or _parse(status.get("startTime"))
        reason = (state.get("waiting") or {}).get("reason") or "ContainerCreating"
        raise errors.bad_request(
            f'container "{container}" in pod "{pod["metadata"]["name"]}" is waiting to start: {reason}'
        )
    raise errors.bad_request(
        f'container "{container}" in pod "{pod["metadata"]["name"]}" is waiting to start: ContainerCreating'
    )


def _parse(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def _stamp(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f") + "Z"


def _env(pod: Obj, container: str, key: str) -> str | None:
    for c in (pod.get("spec") or {}).get("containers") or []:
        if c.get("name") == container:
            for e in c.get("env") or []:
                if e.get("name") == key and isinstance(e.get("value"), str):
                    return str(e["value"])
    return None


def _image_tag(pod: Obj, container: str) -> str:
    for c in ((pod.get("spec") or {}).get("containers") or []) + ((pod.get("spec") or {}).get("initContainers") or []):
        if c.get("name") == container:
            image = str(c.get("image") or "")
            return image.rsplit(":", 1)[1] if ":" in image.rsplit("/", 1)[-1] else "latest"
    return "latest"


def _rng(pod: Obj, container: str) -> random.Random:
    seed = hashlib.sha256(f"{pod['metadata'].get('uid')}/{container}".encode()).digest()
    return random.Random(int.from_bytes(seed[:8], "big"))


def _proxy_startup(pod: Obj, container: str) -> list[str]:
    meta = pod["metadata"]
    discovery = "istiod.istio-system.svc:15012"
    proxy_config = _env(pod, container, "PROXY_CONFIG")
    if proxy_config:
        with contextlib.suppress(orjson.JSONDecodeError):
            discovery = str(orjson.loads(proxy_config).get("discoveryAddress") or discovery)
    ns, name = meta.get("namespace"), meta["name"]
    ip = (pod.get("status") or {}).get("podIP", "")
    return [
        'info\tFLAG: --concurrency="2"',
        f"info\tVersion {_image_tag(pod, container)}-sim",
        f"info\tProxy role\tips=[{ip}] type=sidecar id={name}.{ns} domain={ns}.svc.cluster.local",
        "info\tApply proxy config from env",
        f"info\tPilot SAN: [{discovery.split(':', 1)[0]}]",
        "info\tStarting proxy agent",
        "info\tEnvoy command: [-c etc/istio/proxy/envoy-rev.json --drain-time-s 45 --drain-strategy immediate]",
        "info\tsds\tStarting SDS grpc server",
        f'info\txdsproxy\tInitializing with upstream address "{discovery}" and cluster "Kubernetes"',
        "info\tcache\tgenerated new workload certificate\tresourceName=default ttl=23h59m59s",
        "info\tads\tADS: new connection for node:1",
        "info\tReadiness succeeded in 1.1s",
        "info\tEnvoy proxy is ready",
    ]


_PATHS = ("/", "/healthz", "/api/v1/items", "/api/v1/orders", "/metrics", "/api/v1/users/42")


def _access_line(rng: random.Random, pod: Obj, at: datetime, proxy: bool) -> str:
    path = rng.choice(_PATHS)
    code = rng.choices((200, 200, 200, 201, 404, 503), k=1)[0]
    ms = rng.randint(1, 40)
    if not proxy:
        return f"{_stamp(at)} {rng.choice(('GET', 'GET', 'POST'))} {path} {code} {ms}ms"
    ip = (pod.get("status") or {}).get("podIP", "10.244.0.1")
    peer = f"10.244.{rng.randint(0, 9)}.{rng.randint(2, 250)}"
    request_id = f"{rng.getrandbits(32):08x}-{rng.getrandbits(16):04x}-4{rng.getrandbits(12):03x}"
    request_id += f"-a{rng.getrandbits(12):03x}-{rng.getrandbits(48):012x}"
    return (
        f'[{at.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3]}Z] "GET {path} HTTP/1.1" {code} - via_upstream - "-" '
        f'0 {rng.randint(2, 4096)} {ms} {max(0, ms - 1)} "-" "Go-http-client/1.1" "{request_id}" '
        f'"{ip}:8080" "inbound|8080||" 127.0.0.6:{rng.randint(32768, 60999)} {ip}:8080 '
        f"{peer}:{rng.randint(32768, 60999)} - default"
    )


def log_lines(pod: Obj, container: str, now: datetime) -> list[tuple[datetime, str]]:
    """The container's log up to `now`, as (timestamp, line): start-up lines, then a request every few seconds."""
    started = _started(pod, container) or now
    rng = _rng(pod, container)
    proxy = container == "istio-proxy"
    init = container in _containers(pod)[1]
    lines: list[tuple[datetime, str]] = []
    at = started
    if proxy:
        for text in _proxy_startup(pod, container):
            at += timedelta(milliseconds=rng.randint(1, 120))
            lines.append((at, f"{_stamp(at)}\t{text}"))
    elif init:
        return [(started, f"{_stamp(started)}\tinfo\tistio-iptables: traffic redirection set up")]
    else:
        lines.append((at, f"{_stamp(at)} starting {pod['metadata']['name']} ({_image_tag(pod, container)})"))
        lines.append((at, f"{_stamp(at)} listening on :8080"))
    # Requests from start-up to now, at most MAX_LINES of them (the newest), a few seconds apart.
    span = max(0.0, (now - at).total_seconds())
    step = max(3.0, span / MAX_LINES)
    t = at + timedelta(seconds=step)
    while t <= now:
        lines.append((t, _access_line(rng, pod, t, proxy)))
        t += timedelta(seconds=step * rng.uniform(0.5, 1.5))
    return lines[-MAX_LINES:]


def _int_param(query: Any, key: str) -> int | None:
    raw = query.get(key)
    if raw in (None, ""):
        return None
    try:
        return int(raw)
    except ValueError:
        raise errors.bad_request(f'{key}: Invalid value: "{raw}": must be an integer') from None


async def _log(store: Store, request: web.Request, namespace: str, name: str) -> web.StreamResponse:
    q = request.query
    pod = store.require(PODS, namespace, name)
    container = choose_container(pod, q.get("container"))
    if q.get("previous", "").lower() in _TRUE:
        raise errors.bad_request(f'previous terminated container "{container}" in pod "{name}" not found')
    tail = _int_param(q, "tailLines")
    since = _int_param(q, "sinceSeconds")
    limit_bytes = _int_param(q, "limitBytes")
    timestamps = q.get("timestamps", "").lower() in _TRUE
    follow = q.get("follow", "").lower() in _TRUE
    now = datetime.now(UTC)
    lines = log_lines(pod, container, now)
    if since is not None:
        lines = [line for line in lines if line[0] >= now - timedelta(seconds=since)]
    if tail is not None and tail >= 0:
        lines = lines[len(lines) - tail :] if tail else []

    def render(at: datetime, text: str) -> bytes:
        prefix = at.strftime("%Y-%m-%dT%H:%M:%S.%f") + "000Z " if timestamps else ""
        return (prefix + text + "\n").encode()

    body = b"".join(render(at, text) for at, text in lines)
    if limit_bytes is not None and limit_bytes > 0:
        body = body[:limit_bytes]
    if not follow:
        return web.Response(body=body, headers={"Content-Type": "text/plain"})
    resp = web.StreamResponse(headers={"Content-Type": "text/plain"})
    await resp.prepare(request)
    await resp.write(body)
    uid = pod["metadata"].get("uid")
    rng = random.Random(f"{uid}/{container}/follow")
    proxy = container == "istio-proxy"
    try:
        # A followed log ends, as the kubelet ends it, when the container stops: here when the pod is gone
        # or terminating; the client may also just close the connection.
        while True:
            await asyncio.sleep(FOLLOW_INTERVAL_S)
            current = store.entry(PODS, namespace, name)
            if current is None or current.obj()["metadata"].get("uid") != uid or b'"deletionTimestamp"' in current.raw:
                break
            if rng.random() < 0.5:
                at = datetime.now(UTC)
                await resp.write(render(at, _access_line(rng, pod, at, proxy)))
        await resp.write_eof()
    except (ConnectionResetError, asyncio.CancelledError):
        pass
    return resp


# -- pods/eviction ----------------------------------------------------------------------------------------


def _ready(pod: Obj) -> bool:
    for cond in (pod.get("status") or {}).get("conditions") or []:
        if cond.get("type") == "Ready":
            return bool(cond.get("status") == "True")
    return False


def _matching_pdbs(store: Store, pod: Obj) -> list[Obj]:
    labels = pod["metadata"].get("labels") or {}
    out = []
    for entry in store.entries(PDBS, pod["metadata"]["namespace"]):
        pdb = entry.obj()
        raw_selector = (pdb.get("spec") or {}).get("selector")
        if not raw_selector:
            continue  # a nil or empty selector matches no pod in policy/v1
        try:
            selector = LabelSelector.from_dict(raw_selector)
        except SelectorError:
            continue
        if selector.matches(labels):
            out.append(pdb)
    return sorted(out, key=lambda p: str(p["metadata"]["name"]))


def _success() -> web.Response:
    body = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}
    return web.Response(status=201, body=orjson.dumps(body), headers={"Content-Type": "application/json"})


async def _evict(store: Store, request: web.Request, namespace: str, name: str) -> web.Response:
    try:
        eviction = orjson.loads(await request.read() or b"{}")
    except orjson.JSONDecodeError as exc:
        raise errors.bad_request(f"the request body is not JSON: {exc}") from None
    if not isinstance(eviction, dict):
        raise errors.bad_request("the request body must be a JSON object")
    given = (eviction.get("metadata") or {}).get("name")
    if given and given != name:
        raise errors.bad_request(f"name in URL does not match name in Eviction object ({given} != {name})")
    options = eviction.get("deleteOptions") or {}
    dry_run = "All" in (options.get("dryRun") or []) or "All" in request.query.getall("dryRun", [])
    grace = options.get("gracePeriodSeconds")
    pod = store.require(PODS, namespace, name)
    pre = options.get("preconditions") or {}
    if pre.get("uid") and pre["uid"] != pod["metadata"].get("uid"):
        raise errors.conflict(PODS, name)
    phase = (pod.get("status") or {}).get("phase")
    # Pods that disrupt nothing are deleted without looking at budgets (eviction.go canIgnorePDB).
    if phase in ("Succeeded", "Failed", "Pending") or pod["metadata"].get("deletionTimestamp"):
        _delete(store, namespace, name, grace, dry_run)
        return _success()
    pdbs = _matching_pdbs(store, pod)
    if len(pdbs) > 1:
        raise errors.internal(
            "Internal error occurred: This pod has more than one PodDisruptionBudget, which the eviction "
            "subresource does not support."
        )
    if pdbs:
        pdb = pdbs[0]
        status = pdb.get("status") or {}
        healthy, desired = int(status.get("currentHealthy", 0)), int(status.get("desiredHealthy", 0))
        policy = (pdb.get("spec") or {}).get("unhealthyPodEvictionPolicy") or "IfHealthyBudget"
        unready_allowed = not _ready(pod) and (policy == "AlwaysAllow" or healthy >= desired > 0)
        if not unready_allowed:
            _check_budget(pdb, name)
            if not dry_run:
                _take_disruption(store, pdb, name)
    _delete(store, namespace, name, grace, dry_run)
    return _success()


def _check_budget(pdb: Obj, pod_name: str) -> None:
    """429 TooManyRequests, worded as the API server words it, when the budget allows no disruption now."""
    meta, status = pdb["metadata"], pdb.get("status") or {}
    if int(status.get("observedGeneration", 0)) < int(meta.get("generation", 1)):
        cause = f"The disruption budget {meta['name']} is still being processed by the server."
    elif int(status.get("disruptionsAllowed", 0)) <= 0:
        cause = (
            f"The disruption budget {meta['name']} needs {status.get('desiredHealthy', 0)} healthy pods "
            f"and has {status.get('currentHealthy', 0)} currently"
        )
    else:
        return
    raise errors.ApiError(
        429,
        "TooManyRequests",
        "Cannot evict pod as it would violate the pod's disruption budget.",
        {"causes": [{"reason": "DisruptionBudget", "message": cause}]},
    )


def _take_disruption(store: Store, pdb: Obj, pod_name: str) -> None:
    """Spend one allowed disruption and note the pod in `disruptedPods`, as the eviction REST does."""
    meta = pdb["metadata"]

    def apply(obj: Obj) -> Obj:
        status = obj.setdefault("status", {})
        status["disruptionsAllowed"] = max(0, int(status.get("disruptionsAllowed", 0)) - 1)
        disrupted = dict(status.get("disruptedPods") or {})
        disrupted[pod_name] = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        status["disruptedPods"] = disrupted
        return obj

    store.update(PDBS, meta["namespace"], meta["name"], apply, subresource="status")


def _delete(store: Store, namespace: str, name: str, grace: Any, dry_run: bool) -> None:
    deletion.delete(
        store, PODS, namespace, name, grace_seconds=grace if isinstance(grace, int) else None, dry_run=dry_run
    )
