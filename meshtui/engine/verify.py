"""The verify checks of docs/upgrade.md#verify, each pass, fail or unknown with its offenders.

All but the last read the inventory view; the proxy sync check asks each target istiod for
`/debug/syncz` through the API server's service proxy, and says `unknown` (with why) where it cannot.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from meshtui.cluster.errors import ClusterError, Forbidden, NotFound, ServerError
from meshtui.cluster.rawapi import RawApi
from meshtui.domain.inventory import InventoryView
from meshtui.domain.pods import PodRow
from meshtui.domain.versions import Version
from meshtui.engine.api import CheckResult
from meshtui.engine.kube import retrying
from meshtui.engine.record import UpgradeRecord

PASS, FAIL, UNKNOWN = "pass", "fail", "unknown"
BAD_WAITING = ("CrashLoopBackOff", "ImagePullBackOff", "ErrImagePull")
MAX_OFFENDERS = 10
SYNC_TYPES = ("cluster", "listener", "route", "endpoint")


def _time(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def switched_namespaces(view: InventoryView, record: UpgradeRecord | None, target: str) -> dict[tuple[str, str], str]:
    """(cluster, namespace) -> since when it is on the target: switched by meshtui, else every namespace on it."""
    out: dict[tuple[str, str], str] = {}
    for ns in view.namespaces:
        if ns.injection.revision != target:
            continue
        mark = record.switched.get(f"{ns.cluster}/{ns.name}") if record is not None else None
        if mark is not None:
            out[(ns.cluster, ns.name)] = mark.at
        elif record is not None:
            out[(ns.cluster, ns.name)] = record.started
        else:
            out[(ns.cluster, ns.name)] = ""
    return out


def _result(name: str, bad: list[str], ok_detail: str, bad_detail: str) -> CheckResult:
    if not bad:
        return CheckResult(name, PASS, ok_detail)
    more = f" (first {MAX_OFFENDERS} shown)" if len(bad) > MAX_OFFENDERS else ""
    return CheckResult(name, FAIL, f"{len(bad)} {bad_detail}{more}", tuple(bad[:MAX_OFFENDERS]))


def run_checks(
    view: InventoryView,
    record: UpgradeRecord | None,
    target: str,
    apis: dict[str, RawApi] | None,
    cp_namespaces: dict[str, str],
) -> tuple[CheckResult, ...]:
    """Every verify check for the namespaces on the target (`apis=None`: the sync check is unknown)."""
    multi = len(view.clusters) > 1
    scope = switched_namespaces(view, record, target)

    def where(row: PodRow) -> str:
        base = f"{row.namespace}/{row.name}"
        return f"{row.cluster}/{base}" if multi else base

    pods = [p for key in sorted(scope) for p in view.pods(*key) if p.live]
    checks: list[CheckResult] = []
    if not scope:
        checks.append(CheckResult("namespaces", UNKNOWN, f"no namespace resolves to {target} yet: nothing to verify"))
    checks.append(
        _result(
            "pods-ready",
            [where(p) for p in pods if not p.pod.ready],
            f"all {len(pods)} pods Ready in {len(scope)} namespaces",
            "pods not Ready",
        )
    )
    restarted = []
    for p in pods:
        since = _time(scope.get((p.cluster, p.namespace)))
        last = _time(p.pod.last_restart_at)
        if p.pod.restarts and (since is None or last is None or last >= since):
            restarted.append(f"{where(p)} ({p.pod.restarts} restarts)")
    checks.append(
        _result(
            "no-restarts",
            restarted,
            "no container restarted since the switch",
            "pods with containers restarting since the switch",
        )
    )
    waiting = [
        f"{where(p)} ({', '.join(r for r in p.pod.waiting_reasons if r in BAD_WAITING)})"
        for p in pods
        if any(r in BAD_WAITING for r in p.pod.waiting_reasons)
    ]
    checks.append(
        _result(
            "no-crashloop",
            waiting,
            "no CrashLoopBackOff or ImagePullBackOff",
            "pods in CrashLoopBackOff or ImagePullBackOff",
        )
    )
    versions = {(r.cluster, r.name): r.version for r in view.revisions}
    skewed = []
    for p in pods:
        if not p.has_sidecar or p.revision is None:
            continue
        want = Version.parse(versions.get((p.cluster, p.revision)))
        have = Version.parse(p.proxy_version)
        if want is None or have is None:
            continue
        if (have.major, have.minor, have.patch) != (want.major, want.minor, want.patch):
            skewed.append(f"{where(p)} (proxy {p.proxy_version}, {p.revision} is {versions[(p.cluster, p.revision)]})")
    checks.append(
        _result(
            "proxy-version",
            skewed,
            "every proxy runs its revision's version",
            "proxies whose version differs from their revision's",
        )
    )
    checks.append(_istiod_check(view, target, multi))
    checks.append(_sync_check(view, target, apis, cp_namespaces, pods, multi))
    return tuple(checks)


def _reader(api: RawApi, path: str, what: str) -> Callable[[], Any]:
    return lambda: api.request("GET", path, what=what)


def _istiod_check(view: InventoryView, target: str, multi: bool) -> CheckResult:
    bad = []
    for cp in view.control_planes:
        rev = cp.revision(target)
        prefix = f"{cp.cluster}: " if multi else ""
        if rev is None:
            bad.append(f"{prefix}revision {target} does not exist")
            continue
        if not rev.ready:
            bad.append(f"{prefix}istiod of {target} is not Ready ({rev.istiod_replicas or 'no replicas'})")
        if rev.istiod:
            ns, _, name = rev.istiod.partition("/")
            for p in view.pods(cp.cluster, ns):
                if p.workload_name == name and p.live:
                    if not p.pod.ready:
                        bad.append(f"{prefix}{ns}/{p.name} not Ready")
                    if p.pod.restarts:
                        bad.append(f"{prefix}{ns}/{p.name} restarted {p.pod.restarts} times")
    return _result("istiod", bad, f"istiod of {target} Ready with no restarts", "istiod problems")


def _sync_check(
    view: InventoryView,
    target: str,
    apis: dict[str, RawApi] | None,
    cp_namespaces: dict[str, str],
    pods: Iterable[PodRow],
    multi: bool,
) -> CheckResult:
    if apis is None:
        return CheckResult("proxy-sync", UNKNOWN, "not checked offline (needs the clusters' service proxy)")
    unknown: list[str] = []
    bad: list[str] = []
    seen: set[tuple[str, str, str]] = set()
    checked = 0
    for cp in view.control_planes:
        rev = cp.revision(target)
        api = apis.get(cp.cluster)
        if rev is None or api is None:
            continue
        if rev.managed:
            unknown.append(f"{cp.cluster}: {target} runs outside the cluster; its syncz is not reachable")
            continue
        ns, _, svc = (rev.istiod or f"{cp_namespaces.get(cp.cluster, 'istio-system')}/istiod-{target}").partition("/")
        path = f"/api/v1/namespaces/{ns}/services/{svc}:15014/proxy/debug/syncz"
        try:
            body: Any = retrying(_reader(api, path, f"reading {svc} /debug/syncz"), seconds=5)
        except Forbidden:
            unknown.append(f"{cp.cluster}: no permission to get services/proxy in {ns}")
            continue
        except (NotFound, ServerError) as exc:
            unknown.append(f"{cp.cluster}: {svc} /debug/syncz unreachable ({exc.status or 'error'})")
            continue
        except ClusterError as exc:
            unknown.append(f"{cp.cluster}: {exc.message}")
            continue
        if not isinstance(body, list):
            unknown.append(f"{cp.cluster}: {svc} /debug/syncz answered something other than a proxy list")
            continue
        for entry in body:
            if not isinstance(entry, dict):
                continue
            proxy = str(entry.get("proxy") or "")
            name, _, namespace = proxy.partition(".")
            seen.add((cp.cluster, namespace, name))
            checked += 1
            stale = [t for t in SYNC_TYPES if entry.get(f"{t}_sent") != entry.get(f"{t}_acked")]
            errors = [k for k in entry if k.endswith("_error") and entry[k]]
            if stale or errors:
                label = f"{cp.cluster}/{proxy}" if multi else proxy
                bad.append(f"{label} ({'ERROR' if errors else 'STALE'}: {', '.join(stale or errors)})")
    missing = [
        f"{p.cluster + '/' if multi else ''}{p.namespace}/{p.name} (not connected)"
        for p in pods
        if p.has_sidecar
        and p.revision == target
        and p.pod.ready
        and (p.cluster, p.namespace, p.name) not in seen
        and not unknown
    ]
    if bad or missing:
        found = bad + missing
        return CheckResult("proxy-sync", FAIL, f"{len(found)} proxies not SYNCED", tuple(found[:MAX_OFFENDERS]))
    if unknown:
        return CheckResult("proxy-sync", UNKNOWN, "; ".join(unknown))
    return CheckResult("proxy-sync", PASS, f"all {checked} proxies of {target} SYNCED")
