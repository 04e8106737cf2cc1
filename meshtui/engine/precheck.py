"""The pre-upgrade report of `meshtui check`: what could go wrong before anything is changed.

Pure (an inventory view and its snapshot in, findings out), so it runs the same on a live cluster and on
`kubectl get -o yaml` dumps.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from meshtui.domain.inventory import InventoryView
from meshtui.domain.objects import PodDisruptionBudget
from meshtui.domain.revisions import is_istiod
from meshtui.domain.skew import JUMP_TOO_FAR, PROXY_NEWER
from meshtui.domain.snapshot import MeshSnapshot
from meshtui.domain.versions import Version

ERROR, WARNING, INFO = "error", "warning", "info"


def _n(count: int, one: str, many: str) -> str:
    """`1 pod is`, `12 pods are`: the count with the words that agree with it."""
    return f"{count} {one if count == 1 else many}"


@dataclass(frozen=True, slots=True)
class Finding:
    """One item of the report: how bad, what, how many, and every offender (`check` lists what it counts)."""

    severity: str
    code: str
    message: str
    offenders: tuple[str, ...] = ()
    count: int = 0


def _pdb_forbids(pdb: PodDisruptionBudget) -> str | None:
    """Why a PDB allows no disruption now or ever, None when it allows some."""
    if pdb.max_unavailable in (0, "0", "0%"):
        return f"maxUnavailable: {pdb.max_unavailable} (never)"
    if pdb.min_available == "100%":
        return "minAvailable: 100% (never)"
    if isinstance(pdb.min_available, int) and pdb.expected_pods and pdb.min_available >= pdb.expected_pods:
        return f"minAvailable: {pdb.min_available} of {pdb.expected_pods} pods (never)"
    if pdb.disruptions_allowed == 0 and (pdb.expected_pods or 0) > 0:
        return f"no disruption allowed now ({pdb.current_healthy} healthy, {pdb.desired_healthy} required)"
    return None


def precheck(
    view: InventoryView, mesh: MeshSnapshot, *, source: str | None = None, target: str | None = None
) -> list[Finding]:
    """Every finding, errors first (`source`/`target` default to the view's pair)."""
    multi = len(view.clusters) > 1

    def where(cluster: str, *parts: str) -> str:
        return "/".join((cluster, *parts) if multi else parts)

    out: list[Finding] = []
    source, target = source or view.source, target or view.target
    names = sorted({r.name for r in view.revisions})
    if source and target:
        pair = f"; upgrade {source} -> {target}"
    elif source:
        pair = f"; {source} is the source; name the target with --target (the revision to install)"
    else:
        pair = "; no source/target pair detected (name them with --source/--target)"
    listed = ", ".join(f"{n} ({_version(view, n)})" for n in names)
    out.append(Finding(INFO, "revisions", f"revisions: {listed}{pair}"))
    for w in view.skew:
        severity = ERROR if w.code in (JUMP_TOO_FAR, PROXY_NEWER) else WARNING
        out.append(Finding(severity, w.code, w.message, w.first_offenders, w.count))
    if source and target and not any(w.code == JUMP_TOO_FAR for w in view.skew):
        out.append(_jump(view, source, target))
    for cp in view.control_planes:
        for p in cp.problems:
            severity = ERROR if p.code in ("dangling_webhook", "dangling_tag", "default_overlap") else WARNING
            out.append(Finding(severity, p.code, (f"[{cp.cluster}] " if multi else "") + p.message))
    conflicts = [where(ns.cluster, ns.name) for ns in view.namespaces if ns.injection.conflict]
    if conflicts:
        out.append(
            Finding(
                WARNING,
                "label_conflict",
                f"{_n(len(conflicts), 'namespace carries', 'namespaces carry')} both istio-injection and istio.io/rev "
                "(istio-injection wins; a switch removes it)",
                tuple(conflicts),
                len(conflicts),
            )
        )
    unserved = [
        where(ns.cluster, ns.name) + f" ({ns.injection.value})"
        for ns in view.namespaces
        if ns.injection.asks and ns.injection.revision is None
    ]
    if unserved:
        out.append(
            Finding(
                WARNING,
                "namespace_unserved",
                f"{_n(len(unserved), 'namespace asks', 'namespaces ask')} for a revision or tag nothing serves",
                tuple(unserved),
                len(unserved),
            )
        )
    at_risk = [row for row in view.pods() if row.at_risk]
    if at_risk:
        out.append(
            Finding(
                WARNING,
                "at_risk",
                f"{_n(len(at_risk), 'pod is', 'pods are')} at risk on restart",
                tuple(f"{where(r.cluster, r.namespace, r.name)}: {r.reason}" for r in at_risk),
                len(at_risk),
            )
        )
    blocked: list[str] = []
    for snap in mesh.clusters:
        # istiod's own budget guards the control plane, which no restart of meshtui's touches.
        istiods = [w for w in snap.workloads.values() if is_istiod(w)]
        for pdb in snap.pdbs.values():
            if any(w.namespace == pdb.namespace and pdb.selector.matches(w.template_labels) for w in istiods):
                continue
            why = _pdb_forbids(pdb)
            if why:
                blocked.append(f"{where(snap.name, pdb.namespace, pdb.name)}: {why}")
    if blocked:
        out.append(
            Finding(
                WARNING,
                "pdb_no_disruption",
                f"{_n(len(blocked), 'PodDisruptionBudget allows', 'PodDisruptionBudgets allow')} no disruption: "
                "restarts wait for them or are "
                "skipped (restart --ignore-pdb rolls them anyway)",
                tuple(sorted(blocked)),
                len(blocked),
            )
        )
    single: list[str] = []
    for snap in mesh.clusters:
        for wl in snap.workloads.values():
            if wl.kind in ("Deployment", "StatefulSet") and wl.replicas == 1 and wl.owner is None:
                has_sidecar = any(
                    row.has_sidecar and row.workload_name == wl.name and row.workload_kind == wl.kind
                    for row in view.pods(snap.name, wl.namespace)
                )
                if has_sidecar:
                    single.append(where(snap.name, wl.namespace, f"{wl.kind} {wl.name}"))
    if single:
        out.append(
            Finding(
                WARNING,
                "single_replica",
                f"{_n(len(single), 'workload with a sidecar runs', 'workloads with a sidecar run')} a single "
                "replica: a restart makes each briefly unavailable",
                tuple(sorted(single)),
                len(single),
            )
        )
    stuck: Counter[str] = Counter()
    reasons: dict[str, str] = {}
    for row in view.pods():
        if row.live and row.has_sidecar and not row.restartable and row.gateway is None:
            key = where(row.cluster, row.namespace, f"{row.workload_kind or 'Pod'} {row.workload_name or row.name}")
            stuck[key] += 1
            reasons[key] = row.restart_blocker or "it cannot be restarted"
    if stuck:
        out.append(
            Finding(
                WARNING,
                "not_restartable",
                f"{_n(len(stuck), 'workload', 'workloads')} with a sidecar cannot be restarted by meshtui",
                tuple(f"{k} ({_n(n, 'pod', 'pods')}): {reasons[k]}" for k, n in sorted(stuck.items())),
                len(stuck),
            )
        )
    for cp in view.control_planes:
        if target and cp.revision(target) is None and source and cp.revision(source) is not None:
            out.append(
                Finding(
                    INFO,
                    "target_missing",
                    f"revision {target} is not installed yet" + (f" in cluster {cp.cluster}" if multi else ""),
                )
            )
    order = {ERROR: 0, WARNING: 1, INFO: 2}
    out.sort(key=lambda f: order[f.severity])
    return out


def pair_problem(
    revisions: Iterable[str], source: str | None, target: str | None, *, target_may_be_missing: bool = False
) -> str | None:
    """One sentence when --source/--target cannot name an upgrade (same revision, or one no cluster has).

    Analysing a pair that cannot exist gives a full report of nonsense, so the commands stop instead.
    `target_may_be_missing` is for the steps that install the target (start, install).
    """
    names = sorted(set(revisions))
    existing = f"the mesh has {', '.join(names)}" if names else "the mesh has no Istio revision"
    if source and target and source == target:
        return f"--source and --target both name {source}: an upgrade goes from one revision to another ({existing})."
    unknown = [f"--source {source}"] if source and source not in names else []
    if target and target not in names and not target_may_be_missing:
        unknown.append(f"--target {target}")
    if not unknown:
        return None
    hint = "" if target_may_be_missing else "; to install a new target first, run `meshtui upgrade start` and `install`"
    verb = "names" if len(unknown) == 1 else "name"
    return f"{' and '.join(unknown)} {verb} no revision in any cluster ({existing}){hint}."


def _jump(view: InventoryView, source: str, target: str) -> Finding:
    """Whether the canary jump is supported, judged only on versions that are known (never on a guess)."""
    have, want = _version(view, source), _version(view, target)
    unknown = [f"{name}" for name, v in ((source, have), (target, want)) if v == "?"]
    if unknown:
        return Finding(
            WARNING,
            "jump_unknown",
            f"cannot tell whether the jump from {source} ({have}) to {target} ({want}) is supported: the version of "
            f"{' and '.join(unknown)} is unknown (no istiod Deployment, injector ConfigMap or injected proxy says it)",
        )
    a, b = Version.parse(have), Version.parse(want)
    if a is None or b is None:
        return Finding(WARNING, "jump_unknown", f"cannot compare the versions {have} and {want}")
    if a.major != b.major or abs(b.minor - a.minor) > 2:
        return Finding(ERROR, JUMP_TOO_FAR, f"a canary jump from {have} to {want} is more than two minor versions")
    return Finding(INFO, "jump", f"a canary jump from {have} to {want} is supported (at most two minor versions)")


def _version(view: InventoryView, name: str) -> str:
    """A revision's version: its istiod's or injector's, else the one its injected proxies run, else "?"."""
    for r in view.revisions:
        if r.name == name and r.version:
            return r.version
    seen: Counter[str] = Counter()
    for ns in view.namespaces:
        if not any(cur == name for cur, _ in ns.mesh_pods):
            continue
        for p in view.pods(ns.cluster, ns.name):
            if p.live and p.has_sidecar and p.revision == name and p.proxy_version:
                seen[p.proxy_version] += 1
    if not seen:
        for g in view.gateways:
            for p in view.pods(g.cluster, g.namespace):
                if p.live and p.has_sidecar and p.revision == name and p.proxy_version:
                    seen[p.proxy_version] += 1
    return f"{seen.most_common(1)[0][0]} (from its proxies)" if seen else "?"
