"""Per pod: current revision, revision on restart (from its workload's template), risk, restartability."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from meshtui.domain.ambient import AMBIENT, DATAPLANE_MODE, leaves_ambient
from meshtui.domain.gateways import gateway_kind
from meshtui.domain.injection import ARROW, InjectionEvaluator, InjectionOutcome, NamespaceInjection
from meshtui.domain.objects import (
    AUTO_IMAGE,
    INJECT_KEY,
    MERGE_METRICS,
    PROMETHEUS_PORT,
    PROXY_CONTAINER,
    REV_LABEL,
    SCRAPE_TARGETS,
    Labels,
    Pod,
    Workload,
    positional_constructor,
)

WorkloadKey = tuple[str, str, str]
Resolver = Callable[[str], str | None]

_MAX_CHAIN = 4


@dataclass(frozen=True, slots=True)
class Template:
    """What a pod's replacement is created from: its top workload's pod template, or the pod itself."""

    labels: Labels
    inject_annotation: str | None
    host_network: bool
    source: str  # "Deployment frontend", "the pod itself"
    rendered: bool = False  # the template already holds an istio-proxy (rendered gateway, manual injection)
    rendered_revision: str | None = None
    prometheus_port: str | None = None  # annotation prometheus.io/port, which newer injectors validate
    merge_metrics: str | None = None  # annotation prometheus.istio.io/merge-metrics
    scrape_targets: str | None = None  # annotation prometheus.istio.io/scrape-targets


@dataclass(frozen=True, slots=True)
class Ownership:
    """The controllers above a pod, the template of its replacement, and whether meshtui can restart it."""

    top: Workload | None
    template: Template
    restartable: bool
    restart_blocker: str | None  # why meshtui cannot restart it
    workload_kind: str | None  # the workload meshtui would restart (or that owns the pod)
    workload_name: str | None


def ownership(pod: Pod, workloads: Mapping[WorkloadKey, Workload]) -> Ownership:
    """Walk the controller chain (pod -> ReplicaSet -> Deployment, Job -> CronJob); judge restartability."""
    chain: list[Workload] = []
    kind, name = pod.owner_kind, pod.owner_name
    while kind and name and len(chain) < _MAX_CHAIN:
        found = workloads.get((kind, pod.namespace, name))
        if found is None:
            break
        chain.append(found)
        kind, name = (found.owner.kind, found.owner.name) if found.owner else (None, None)
    top = chain[-1] if chain else None
    template_source = top
    if top is not None and top.kind == "Rollout" and top.workload_ref and top.workload_ref.startswith("Deployment/"):
        template_source = workloads.get(("Deployment", pod.namespace, top.workload_ref.split("/", 1)[1])) or top

    if template_source is not None:
        tpl = template_source
        proxy_image = tpl.image_of(PROXY_CONTAINER)
        rendered = proxy_image is not None and proxy_image != "auto"
        template = Template(
            labels=tpl.template_labels,
            inject_annotation=tpl.template_annotations.get(INJECT_KEY),
            host_network=tpl.template_host_network,
            source=f"{tpl.kind} {tpl.name}",
            rendered=rendered,
            rendered_revision=(tpl.template_annotations.get(REV_LABEL) or tpl.template_labels.get(REV_LABEL))
            if rendered
            else None,
            prometheus_port=tpl.template_annotations.get(PROMETHEUS_PORT),
            merge_metrics=tpl.template_annotations.get(MERGE_METRICS),
            scrape_targets=tpl.template_annotations.get(SCRAPE_TARGETS),
        )
    else:
        # Without the workload, a pod that has a proxy yet opts out of injection can only have been rendered
        # with it (an istioctl gateway, a manually injected pod): its replacement keeps it.
        rendered = pod.has_sidecar and pod.labels.get(INJECT_KEY) == "false"
        template = Template(
            labels=pod.labels,
            inject_annotation=pod.inject_annotation,
            host_network=pod.host_network,
            source="the pod itself",
            rendered=rendered,
            rendered_revision=pod.current_revision if rendered else None,
            prometheus_port=pod.prometheus_port,
            merge_metrics=pod.merge_metrics,
            scrape_targets=pod.scrape_targets,
        )
    restartable, blocker = _restartability(pod, chain)
    return Ownership(
        top=top,
        template=template,
        restartable=restartable,
        restart_blocker=blocker,
        workload_kind=top.kind if top else pod.owner_kind,
        workload_name=top.name if top else pod.owner_name,
    )


def _restartability(pod: Pod, chain: list[Workload]) -> tuple[bool, str | None]:
    if pod.owner_kind is None:
        return False, "bare pod: nothing recreates it; delete it and apply its manifest again"
    if pod.owner_kind == "Job":
        return False, "Job pod: it runs to completion; the next run gets the new sidecar"
    if not chain:
        return False, f"its owner {pod.owner_kind} {pod.owner_name} is not known, so it cannot be restarted"
    top = chain[-1]
    if top.owner is not None:  # the chain stops at an owner that has not been seen (yet)
        return False, f"its owner {top.owner.kind} {top.owner.name} is not known, so it cannot be restarted"
    if top.kind in ("Deployment", "Rollout") and top.paused:
        return False, f"{top.kind} {top.name} is paused: a restart waits until it is resumed"
    if top.kind in ("DaemonSet", "StatefulSet") and top.update_strategy == "OnDelete":
        return False, f"{top.kind} {top.name} uses updateStrategy OnDelete: its pods change only when deleted"
    if top.kind == "StatefulSet" and (top.partition or 0) > 0:
        return False, f"StatefulSet {top.name} has partition {top.partition}: lower ordinals are not replaced"
    if top.kind == "ReplicaSet":
        return False, f"ReplicaSet {top.name} has no Deployment: delete its pods to replace them"
    if top.kind not in ("Deployment", "StatefulSet", "DaemonSet", "Rollout"):
        return False, f"owned by {top.kind} {top.name}: restart it through its controller"
    return True, None


@dataclass(frozen=True, slots=True)
class PodRow:
    """A pod as the tables, the gates and `status --json` see it."""

    pod: Pod
    workload_kind: str | None
    workload_name: str | None
    revision: str | None  # current revision (a tag in an old pod label is resolved)
    revision_on_restart: str | None
    injection: InjectionOutcome
    at_risk: bool
    reason: str | None
    restartable: bool
    restart_blocker: str | None
    gateway: str | None  # the gateway kind, when the pod is a gateway's
    leaves_ambient: bool = False  # an ambient namespace's pod that injection would give a sidecar

    @property
    def cluster(self) -> str:
        """The cluster of the pod."""
        return self.pod.cluster

    @property
    def namespace(self) -> str:
        """The namespace of the pod."""
        return self.pod.namespace

    @property
    def name(self) -> str:
        """The name of the pod."""
        return self.pod.name

    @property
    def live(self) -> bool:
        """Not Succeeded or Failed (a terminating pod still counts until it is gone)."""
        return not self.pod.terminal

    @property
    def has_sidecar(self) -> bool:
        """True when the pod runs an istio-proxy."""
        return self.pod.has_sidecar

    @property
    def proxy_version(self) -> str | None:
        """The version of the running proxy."""
        return self.pod.proxy_version

    def explain(self) -> str:
        """Why the replacement would get its revision (or none), as one line."""
        return self.injection.explain()


#: Every pod's row is made by `assess_pod` (50,000 at a time on a list): set slot by slot, not through the
#: frozen dataclass's `__init__`.
_new_row: Callable[..., PodRow] = positional_constructor(PodRow)


def assess_pod(
    pod: Pod,
    namespace_labels: Labels,
    owned: Ownership,
    evaluator: InjectionEvaluator,
    resolve: Resolver,
    namespace: NamespaceInjection | None = None,
    outcome: InjectionOutcome | None = None,
) -> PodRow:
    """Compute a pod's row: revisions now and on restart, the at-risk verdict with its reason.

    A caller that has them at hand passes `namespace`, `evaluator.namespace(pod.namespace,
    namespace_labels)`, and `outcome`, what `evaluator.evaluate` gives for the pod's template (used
    unless the template is rendered with its proxy).
    """
    current = pod.current_revision
    if current is not None and pod.revision_source == "label istio.io/rev":
        current = resolve(current) or current  # an old pod label may name a tag
    template = owned.template
    if namespace is None:
        namespace = evaluator.namespace(pod.namespace, namespace_labels)
    restartable, blocker = owned.restartable, owned.restart_blocker
    if pod.component is not None:
        # ztunnel's container is named istio-proxy, so its template reads as rendered with a proxy; node
        # agents are upgraded in place by the ambient step and never re-injected or restarted by meshtui.
        steps: tuple[str, ...] = (f"{pod.component} node agent: upgraded in place by the ambient step, never injected",)
        outcome = InjectionOutcome(None, steps, f"{pod.component} node agent")
        restartable, blocker = False, f"{pod.component} node agent: the ambient step upgrades it in place"
    elif template.rendered:
        rev = template.rendered_revision
        resolved = (resolve(rev) or rev) if rev else current
        steps = (
            f"{template.source}: the pod template already contains istio-proxy with istio.io/rev={rev}",
            f"{ARROW} not injected: keeps revision {resolved} on restart",
        )
        outcome = InjectionOutcome(resolved, steps, f"rendered with revision {resolved}")
    else:
        if outcome is None:
            outcome = evaluator.evaluate(
                pod.namespace,
                namespace_labels,
                template.labels,
                template.inject_annotation,
                template.host_network,
            )
        outcome = evaluator.refused(outcome, template.prometheus_port, template.merge_metrics, template.scrape_targets)
    at_risk, reason = (
        (False, None)
        if pod.terminal or template.rendered or pod.component is not None
        else _risk(pod, outcome, namespace, namespace_labels)
    )
    return _new_row(
        pod,
        owned.workload_kind,
        owned.workload_name,
        current,
        outcome.revision,
        outcome,
        at_risk,
        reason,
        restartable,
        blocker,
        gateway_kind(pod, owned.top),
        not pod.terminal and leaves_ambient(pod, namespace_labels, outcome.revision),
    )


def _risk(
    pod: Pod, outcome: InjectionOutcome, namespace: NamespaceInjection, namespace_labels: Labels
) -> tuple[bool, str | None]:
    """At risk: the replacement would differ in a way the operator did not ask for (docs/upgrade.md#words)."""
    if outcome.blocked:
        return True, f"its replacement would be refused: {outcome.cause}"
    on_restart = outcome.revision
    if leaves_ambient(pod, namespace_labels, on_restart):
        return True, (
            f"would leave ambient on restart: its namespace is {DATAPLANE_MODE}={AMBIENT}, yet injection "
            f"gives it a {on_restart} sidecar, which takes precedence ({_why(outcome)})"
        )
    if pod.awaiting_injection and on_restart is None:
        return True, f"its istio-proxy is image: {AUTO_IMAGE}, which no injector will fill: {outcome.cause}"

    if pod.has_sidecar and on_restart is None:
        return True, f"would lose its sidecar on restart: {outcome.cause}"
    if namespace.asks and namespace.revision is None and on_restart is None:
        return True, f"would be recreated without a sidecar: {outcome.cause}"
    if on_restart is not None and namespace.asks and namespace.revision and on_restart != namespace.revision:
        return (
            True,
            f"would restart on {on_restart}, not on the namespace's {namespace.revision}: {_why(outcome)}",
        )
    return False, None


def _why(outcome: InjectionOutcome) -> str:
    return outcome.steps[0] if outcome.steps else outcome.cause
