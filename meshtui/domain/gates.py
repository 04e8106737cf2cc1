"""The gates of docs/upgrade.md#gates: when Upgrade, Rollback and Finish are enabled, and why not.

Every unmet condition carries a count and the first offenders, so a disabled action can say exactly what
still holds it back; in a multi-cluster mesh a gate holds only when it holds in every cluster.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol

from meshtui.domain.ambient import DataPlaneComponent, within_skew
from meshtui.domain.gateways import WAYPOINT, GatewayRow
from meshtui.domain.namespaces import NamespaceRow
from meshtui.domain.objects import ISTIO_CNI, ZTUNNEL
from meshtui.domain.pods import PodRow
from meshtui.domain.revisions import ControlPlane, Revision
from meshtui.domain.templates import TemplateRow
from meshtui.domain.versions import Version

UPGRADE = "upgrade"
ROLLBACK = "rollback"
FINISH = "finish"
MAX_OFFENDERS = 5
#: In the operator's words: what to do about it, not only what is missing.
PLAN_NOT_SHOWN = "the offline plan has not been shown yet: Finish shows it first and deletes nothing until you confirm"


@dataclass(frozen=True, slots=True)
class Condition:
    """One unmet condition of a gate: what, how many, the first offenders, and a sentence for the operator."""

    code: str
    count: int
    first_offenders: tuple[str, ...]
    message: str
    # Where the UI shows the offenders: ("namespaces" | "pods" | "gateways", their keys), when the
    # offenders themselves are not rows of a table (a workload template lives in a namespace).
    jump: tuple[str, tuple[str, ...]] | None = None
    remedy: str | None = None  # the step that clears the condition, in words (never a restart)


@dataclass(frozen=True, slots=True)
class GateVerdict:
    """Whether an action is enabled, with every condition that keeps it disabled."""

    action: str
    enabled: bool
    conditions: tuple[Condition, ...] = ()

    @property
    def reasons(self) -> tuple[str, ...]:
        """The messages of the unmet conditions."""
        return tuple(c.message for c in self.conditions)


@dataclass(frozen=True, slots=True)
class Gates:
    """The three verdicts for one (source, target) pair."""

    source: str | None
    target: str | None
    upgrade: GateVerdict
    rollback: GateVerdict
    finish: GateVerdict

    def verdict(self, action: str) -> GateVerdict:
        """The verdict of `upgrade`, `rollback` or `finish`."""
        return {UPGRADE: self.upgrade, ROLLBACK: self.rollback, FINISH: self.finish}[action]


class MeshState(Protocol):
    """What the gates read; the inventory view provides it."""

    @property
    def control_planes(self) -> Sequence[ControlPlane]: ...

    @property
    def namespaces(self) -> Sequence[NamespaceRow]: ...

    @property
    def gateways(self) -> Sequence[GatewayRow]: ...

    @property
    def templates(self) -> Sequence[TemplateRow]: ...

    @property
    def components(self) -> Sequence[DataPlaneComponent]: ...

    def pods(self, cluster: str | None = None, namespace: str | None = None) -> Iterator[PodRow]: ...


def detect_source_target(revisions: Iterable[Revision]) -> tuple[str, str] | None:
    """With exactly two revisions in the mesh, the older version is the source and the newer the target.

    Equal or unknown versions fall back to the default revision as the source (it is the one in service);
    anything else is ambiguous and gives None, so the operator must name them.
    """
    by_name: dict[str, Revision] = {}
    for r in revisions:
        by_name.setdefault(r.name, r)
        if r.is_default:
            by_name[r.name] = r
    if len(by_name) != 2:
        return None
    a, b = sorted(by_name.values(), key=lambda r: r.name)
    va, vb = Version.parse(a.version), Version.parse(b.version)
    if va is not None and vb is not None and (va.major, va.minor, va.patch) != (vb.major, vb.minor, vb.patch):
        return (a.name, b.name) if (va.major, va.minor, va.patch) < (vb.major, vb.minor, vb.patch) else (b.name, a.name)
    if a.is_default != b.is_default:
        return (a.name, b.name) if a.is_default else (b.name, a.name)
    return None


def _plural(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def _names(items: Sequence[str], total: int) -> str:
    more = ", …" if total > len(items) else ""
    return ", ".join(items) + more


def _gate(state: MeshState, action: str, keep: str, away: str, limit: int | None = MAX_OFFENDERS) -> GateVerdict:
    """The conditions for going on with `keep` and taking `away` offline, with up to `limit` offenders each.

    The messages always name the first MAX_OFFENDERS; `limit=None` lists every offender (status --json).
    """

    def first(items: Sequence[str]) -> tuple[str, ...]:
        return tuple(items if limit is None else items[:limit])

    multi = len({cp.cluster for cp in state.control_planes}) > 1
    conditions: list[Condition] = []

    def where(cluster: str, *parts: str) -> str:
        return "/".join((cluster, *parts) if multi else parts)

    # The kept revision exists and is Ready in every cluster.
    missing = [cp.cluster for cp in state.control_planes if cp.revision(keep) is None]
    unready = [cp.cluster for cp in state.control_planes if (rev := cp.revision(keep)) is not None and not rev.ready]
    if missing:
        suffix = f" in cluster {', '.join(missing)}" if multi else ""
        conditions.append(
            Condition(
                "revision_missing",
                len(missing),
                first(missing),
                f"revision {keep} does not exist{suffix}",
            )
        )
    if unready:
        suffix = f" in cluster {', '.join(unready)}" if multi else ""
        conditions.append(
            Condition(
                "revision_not_ready",
                len(unready),
                first(unready),
                f"revision {keep} is not Ready{suffix}",
            )
        )

    # Every namespace that asks for injection resolves to the kept revision.
    off_ns = [ns for ns in state.namespaces if ns.injection.asks and ns.injection.revision != keep]
    if off_ns:
        names = [where(ns.cluster, ns.name) for ns in off_ns]
        state_word = f"still on {away}" if all(ns.injection.revision == away for ns in off_ns) else f"not on {keep}"
        conditions.append(
            Condition(
                "namespaces",
                len(off_ns),
                first(names),
                f"{_plural(len(off_ns), 'namespace', 'namespaces')} {state_word}: "
                f"{_names(names[:MAX_OFFENDERS], len(off_ns))}",
            )
        )

    # Every live sidecar pod (gateways are judged apart) runs the kept revision and would stay on it.
    not_on = on_away = elsewhere = lose = 0
    ns_not_on: list[NamespaceRow] = []
    ns_elsewhere: list[NamespaceRow] = []
    for ns in state.namespaces:
        bad_now = bad_restart = 0
        for (current, on_restart), n in ns.mesh_pods.items():
            if current != keep:
                bad_now += n
                on_away += n if current == away else 0
            if on_restart != keep:
                bad_restart += n
                lose += n if on_restart is None else 0
        not_on += bad_now
        elsewhere += bad_restart
        if bad_now:
            ns_not_on.append(ns)
        if bad_restart:
            ns_elsewhere.append(ns)
    if not_on:
        offenders = _pods(state, ns_not_on, lambda p: p.revision != keep, where, limit)
        word = f"still on {away}" if on_away == not_on else f"not on {keep}"
        conditions.append(Condition("pods", not_on, offenders, f"{_plural(not_on, 'pod', 'pods')} {word}"))
    if elsewhere:
        offenders = _pods(state, ns_elsewhere, lambda p: p.revision_on_restart != keep, where, limit)
        extra = f" ({lose} would lose the sidecar)" if lose else ""
        conditions.append(
            Condition(
                "pods_on_restart",
                elsewhere,
                offenders,
                f"{_plural(elsewhere, 'pod', 'pods')} would not restart on {keep}{extra}",
            )
        )

    # Every gateway runs the kept revision and would keep it.
    off_gw = [g for g in state.gateways if set(g.revisions) - {keep} or g.revision_on_restart != keep]
    if off_gw:
        names = [where(g.cluster, g.namespace, g.name) for g in off_gw]
        word = (
            f"still on {away}"
            if all(g.revision == away or g.revision_on_restart == away for g in off_gw)
            else f"not on {keep}"
        )
        conditions.append(
            Condition(
                "gateways",
                len(off_gw),
                first(names),
                f"{_plural(len(off_gw), 'gateway', 'gateways')} {word}: {_names(names[:MAX_OFFENDERS], len(off_gw))}",
                remedy="; ".join(sorted({_gateway_remedy(g.kind, g.upgrade, keep) for g in off_gw})),
            )
        )

    # Every workload template without live pods would give a pod created now the kept revision.
    conditions.extend(_templates(state, keep, away, where, limit))

    # The ambient data plane: ztunnel configured against the kept istiod, node agents within skew.
    conditions.extend(_ambient(state, keep, where, limit))

    # No tag (the default tag included) still resolves to the revision going offline.
    off_tags: list[str] = []
    for cp in state.control_planes:
        off_tags.extend(where(cp.cluster, t.name) for t in cp.tags if t.revision == away)
        if cp.default_revision == away and cp.tag("default") is None:
            off_tags.append(where(cp.cluster, "default (revision)"))
    # A tag whose webhook moved but whose Service (>= 1.28.0) still claims the revision going offline.
    stale = [
        (cp.cluster, t)
        for cp in state.control_planes
        for t in cp.tags
        if t.revision != away and t.service_revision == away
    ]
    if stale:
        names = [where(c, t.service or t.name) for c, t in stale]
        conditions.append(
            Condition(
                "tag_services",
                len(stale),
                first(names),
                f"{_plural(len(stale), 'tag Service', 'tag Services')} still "
                f"{'claims' if len(stale) == 1 else 'claim'} {away} for "
                f"{', '.join(t.name for _, t in stale[:MAX_OFFENDERS])}: {_names(names[:MAX_OFFENDERS], len(stale))} "
                "(istiod reads tags from them: gateways and waypoints using the tag stay on it)",
                remedy=f"move the tag to {keep} with its Service (istioctl tag set TAG --revision {keep} "
                "--overwrite renders both)",
            )
        )
    if off_tags:
        conditions.append(
            Condition(
                "tags",
                len(off_tags),
                first(off_tags),
                f"{_plural(len(off_tags), 'tag', 'tags')} still "
                f"{'resolves' if len(off_tags) == 1 else 'resolve'} to {away}: "
                f"{_names(off_tags[:MAX_OFFENDERS], len(off_tags))}",
            )
        )
    return GateVerdict(action, not conditions, tuple(conditions))


def _gateway_remedy(kind: str, upgrade: str, keep: str) -> str:
    """The step that moves a gateway of this kind: waypoints follow their tag or `istio.io/rev`."""
    if kind == WAYPOINT:
        return f"move the waypoints' tag to {keep}, or relabel their Gateway istio.io/rev={keep}"
    return f"{kind}: {upgrade}"


def _templates(
    state: MeshState, keep: str, away: str, where: Callable[..., str], limit: int | None = MAX_OFFENDERS
) -> list[Condition]:
    """The workload templates without live pods (gateways are judged apart) that would not give a new pod
    `keep`; a template with live pods is judged through them (`pods_on_restart`)."""
    off = [
        t
        for t in state.templates
        if t.gateway is None and not t.live_pods and t.meshed and t.revision_on_restart != keep
    ]
    if not off:
        return []
    names = [t.describe(where(t.cluster, t.namespace, t.name)) for t in (off if limit is None else off[:limit])]
    if all(t.revision_on_restart == away for t in off):
        word = f"would get {away}"
    elif all(t.revision_on_restart is None for t in off):
        word = "would get no proxy"
    else:
        word = f"would not get {keep}"
    remedies = list(dict.fromkeys(t.remedy(keep) for t in off))
    remedy = "; ".join(remedies[:3]) + ("; …" if len(remedies) > 3 else "")
    namespaces = tuple(dict.fromkeys(where(t.cluster, t.namespace) for t in off))
    message = (
        f"{_plural(len(off), 'workload template', 'workload templates')} {word}: "
        f"{_names(names[:MAX_OFFENDERS], len(off))} "
        f"(to fix: {remedy})"
    )
    return [Condition("templates", len(off), tuple(names), message, ("namespaces", namespaces), remedy)]


def _ambient(
    state: MeshState, keep: str, where: Callable[..., str], limit: int | None = MAX_OFFENDERS
) -> list[Condition]:
    """ztunnel must use the kept istiod (and be rolled out everywhere); ztunnel and istio-cni within skew."""
    versions = {
        cp.cluster: (rev.version if (rev := cp.revision(keep)) is not None else None) for cp in state.control_planes
    }
    out: list[Condition] = []
    ztunnels = [c for c in state.components if c.kind == ZTUNNEL]
    off = [z for z in ztunnels if z.revision != keep or z.rolling]
    if off:
        names = [
            where(z.cluster, z.ref)
            + (f" (configured against {z.revision or z.configured or 'no revision'})" if z.revision != keep else "")
            + (f" (rollout {z.progress} nodes)" if z.rolling else "")
            for z in (off if limit is None else off[:limit])
        ]
        out.append(
            Condition(
                "ztunnel",
                len(off),
                tuple(names),
                f"ztunnel is not configured against {keep} everywhere: {_names(names[:MAX_OFFENDERS], len(off))}",
                ("namespaces", tuple(dict.fromkeys(where(z.cluster, z.namespace) for z in off))),
                f"upgrade ztunnel in place with revision={keep} (its XDS_ADDRESS and CA_ADDRESS name "
                f"istiod-{keep}); it rolls node by node while application pods keep running",
            )
        )
    for kind, code in ((ZTUNNEL, "ztunnel_skew"), (ISTIO_CNI, "cni_skew")):
        skewed = [
            c for c in state.components if c.kind == kind and within_skew(c.version, versions.get(c.cluster)) is False
        ]
        if not skewed:
            continue
        names = [f"{where(c.cluster, c.ref)} runs {c.version}" for c in (skewed if limit is None else skewed[:limit])]
        target = versions.get(skewed[0].cluster)
        out.append(
            Condition(
                code,
                len(skewed),
                tuple(names),
                f"{kind} is outside the supported skew of {keep} ({target}): "
                f"{_names(names[:MAX_OFFENDERS], len(skewed))} "
                f"({kind} 1.x works with control plane 1.x and 1.x+1)",
                ("namespaces", tuple(dict.fromkeys(where(c.cluster, c.namespace) for c in skewed))),
                f"upgrade {kind} in place to {target}",
            )
        )
    return out


def _pods(
    state: MeshState,
    namespaces: list[NamespaceRow],
    offends: Callable[[PodRow], bool],
    where: Callable[..., str],
    limit: int | None = MAX_OFFENDERS,
) -> tuple[str, ...]:
    """The first `limit` offending pods (None: all), walking only the namespaces whose counters say they hold some."""
    found: list[str] = []
    for ns in namespaces:
        for pod in state.pods(ns.cluster, ns.name):
            if pod.live and pod.has_sidecar and pod.gateway is None and offends(pod):
                found.append(where(pod.cluster, pod.namespace, pod.name))
                if len(found) == limit:
                    return tuple(found)
    return tuple(found)


def evaluate_gates(
    state: MeshState,
    source: str | None,
    target: str | None,
    chosen: str | None = None,
    plan_shown: bool = False,
    limit: int | None = MAX_OFFENDERS,
) -> Gates:
    """Judge Upgrade, Rollback and Finish for (source, target); `chosen` is the action the operator took.

    Each condition lists up to `limit` offenders (None: every one, for `status --json`).
    """
    if not source or not target or source == target:
        count = len({r.name for cp in state.control_planes for r in cp.revisions})
        message = (
            "source and target are the same revision"
            if source and source == target
            else f"no source and target revision (the mesh has {count}); name them with --source and --target"
        )
        condition = Condition("no_upgrade", 0, (), message)
        disabled = {a: GateVerdict(a, False, (condition,)) for a in (UPGRADE, ROLLBACK, FINISH)}
        return Gates(source, target, disabled[UPGRADE], disabled[ROLLBACK], disabled[FINISH])
    upgrade = _gate(state, UPGRADE, keep=target, away=source, limit=limit)
    rollback = _gate(state, ROLLBACK, keep=source, away=target, limit=limit)
    finish_conditions: list[Condition] = []
    if chosen not in (UPGRADE, ROLLBACK):
        finish_conditions.append(Condition("not_chosen", 0, (), "choose Upgrade or Rollback first"))
    else:
        finish_conditions.extend((upgrade if chosen == UPGRADE else rollback).conditions)
    if not plan_shown:
        finish_conditions.append(Condition("plan_not_shown", 0, (), PLAN_NOT_SHOWN))
    finish = GateVerdict(FINISH, not finish_conditions, tuple(finish_conditions))
    return Gates(source, target, upgrade, rollback, finish)
