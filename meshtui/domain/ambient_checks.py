"""What `meshtui check` adds for the ambient data plane, templates and injections that will be refused.

Node-agent skew (ztunnel, istio-cni), ztunnel settings that name no istiod of the cluster, pods of
ambient namespaces that injection would move back to sidecars, workload templates without pods whose
next pod is at risk, and pods the injector will refuse.
"""

from __future__ import annotations

from dataclasses import dataclass

from meshtui.domain.ambient import within_skew
from meshtui.domain.inventory import InventoryView
from meshtui.domain.refusals import METRICS_PORT

ERROR, WARNING, INFO = "error", "warning", "info"
MAX_OFFENDERS = 10


@dataclass(frozen=True, slots=True)
class AmbientFinding:
    """One finding: severity, a code to decide on, a sentence, and the first offenders."""

    severity: str
    code: str
    message: str
    offenders: tuple[str, ...] = ()
    count: int = 0


def ambient_findings(view: InventoryView, target: str | None = None) -> list[AmbientFinding]:
    """The ambient and refusal findings of a view; `target` adds the skew against the revision to install."""
    multi = len(view.clusters) > 1

    def where(cluster: str, *parts: str) -> str:
        return "/".join((cluster, *parts) if multi else parts)

    out: list[AmbientFinding] = []
    for c in view.components:
        plane = view.control_plane(c.cluster)
        own = plane.revision(c.revision) if plane is not None and c.revision else None
        ref = where(c.cluster, c.ref)
        out.append(
            AmbientFinding(
                INFO,
                f"{c.kind}_component",
                f"{c.kind} {ref}: version {c.version or 'unknown'}, istiod revision {c.revision or 'unknown'}"
                + (f" ({c.revision_source})" if c.revision_source else "")
                + f", {c.progress} nodes updated",
            )
        )
        for problem in c.problems:
            out.append(AmbientFinding(ERROR, f"{c.kind}_configuration", f"{c.kind} {ref}: {problem}", (ref,), 1))
        if own is not None and within_skew(c.version, own.version) is False:
            out.append(
                AmbientFinding(
                    ERROR,
                    f"{c.kind}_skew",
                    f"{c.kind} {ref} runs {c.version}, outside the supported skew of its istiod {own.name} "
                    f"({own.version}): {c.kind} 1.x works with control plane 1.x and 1.x+1",
                    (ref,),
                    1,
                )
            )
        wanted = plane.revision(target) if plane is not None and target else None
        if wanted is not None and wanted.name != c.revision and within_skew(c.version, wanted.version) is False:
            out.append(
                AmbientFinding(
                    WARNING,
                    f"{c.kind}_target_skew",
                    f"{c.kind} {ref} runs {c.version}, outside the skew of the target {wanted.name} "
                    f"({wanted.version}): upgrade it in place after the control plane, before Upgrade",
                    (ref,),
                    1,
                )
            )
    conflicted = [
        ns for ns in view.namespaces if ns.dataplane_mode == "ambient" and ns.injection.asks and ns.injection.revision
    ]
    leaving = [p for p in view.pods() if p.leaves_ambient]
    if conflicted or leaving:
        names = [where(ns.cluster, ns.name) for ns in conflicted]
        pods = [where(p.cluster, p.namespace, p.name) for p in leaving]
        out.append(
            AmbientFinding(
                WARNING,
                "ambient_sidecar_conflict",
                f"{len(conflicted)} ambient namespace{' also asks' if len(conflicted) == 1 else 's also ask'} for "
                f"sidecar injection and {len(leaving)} pod{'' if len(leaving) == 1 else 's'} would "
                "get a sidecar on restart and leave ambient (sidecar injection takes precedence): remove the "
                "injection label, or label the pods sidecar.istio.io/inject=false",
                tuple(names + pods),  # `meshtui check` lists every item it counts
                len(conflicted) + len(leaving),
            )
        )
    idle = [t for t in view.templates if t.at_risk and not t.live_pods and t.injection.refusal is None]
    if idle:
        out.append(
            AmbientFinding(
                WARNING,
                "templates_at_risk",
                f"{len(idle)} workload templates without pods would create a pod at risk "
                "(a scale-up, a CronJob run or a restart creates it)",
                tuple(f"{t.describe(where(t.cluster, t.namespace, t.name))}: {t.reason}" for t in idle[:MAX_OFFENDERS]),
                len(idle),
            )
        )
    refused = [p for p in view.pods() if p.live and p.injection.refusal == METRICS_PORT]
    templates = [t for t in view.templates if t.injection.refusal == METRICS_PORT]
    if refused or templates:
        offenders = [f"{where(p.cluster, p.namespace, p.name)}: {p.injection.cause}" for p in refused]
        offenders += [f"{where(t.cluster, t.namespace, t.name)} ({t.size}): {t.injection.cause}" for t in templates]
        out.append(
            AmbientFinding(
                ERROR,
                "injection_refused",
                f"{len(refused):,} pods and {len(templates):,} workload templates would be refused by the injector "
                "(prometheus.io/port invalid or reserved for Istio, Istio >= 1.31, metrics merging on): fix the "
                "annotation or set prometheus.istio.io/merge-metrics=false",
                tuple(offenders),
                len(refused) + len(templates),
            )
        )
    return out
