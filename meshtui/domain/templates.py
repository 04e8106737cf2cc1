"""Pod templates: every workload that would create a pod, and the revision that pod would get now.

A Deployment scaled to 0, a CronJob between runs or a gateway waiting for traffic has no pod to look at,
yet the moment it creates one the webhooks decide its sidecar. The gates therefore judge templates as
well as pods: taking a revision offline while a template still asks for it strands the next pod.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from meshtui.domain.ambient import is_istio_cni, is_ztunnel
from meshtui.domain.gateways import INJECTED_GATEWAY, template_gateway_kind
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
    Workload,
)

WorkloadKey = tuple[str, str, str]
Resolver = Callable[[str], str | None]

#: Owners whose own template is the one that creates pods (their ReplicaSets only copy it).
_TEMPLATE_OWNERS = frozenset({"Deployment", "Rollout"})

# Why a template resolves where it does, which names the step that moves it (never a restart).
PINNED = "pinned"  # its own pod-template istio.io/rev names the revision
TAGGED = "tag"  # its (or its namespace's) label names a tag
NAMESPACE = "namespace"  # its namespace's label decides
DEFAULT = "default"  # the default revision injects it
RENDERED = "rendered"  # the proxy is rendered into the template (istioctl gateway, manual injection)


@dataclass(frozen=True, slots=True)
class TemplateRow:
    """A pod template of a top-level workload, with what a pod created from it now would get."""

    cluster: str
    namespace: str
    name: str
    kind: str
    replicas: int | None  # desired pods (None where the controller decides: DaemonSet, Job, CronJob)
    revision_on_restart: str | None  # the revision a pod created now gets; None: no sidecar
    injection: InjectionOutcome
    awaits_injection: bool  # its istio-proxy is the `image: auto` placeholder injection must fill
    gateway: str | None  # the gateway kind, for a gateway's template
    driver: str | None  # PINNED, TAGGED, NAMESPACE, DEFAULT or RENDERED: what decides the revision
    tag: str | None  # the tag it resolves through, if any
    at_risk: bool
    reason: str | None
    suspended: bool = False  # a suspended CronJob: it creates pods again once resumed
    live_pods: bool = False  # it has live pods now (which the pod conditions judge already)

    @property
    def key(self) -> WorkloadKey:
        """(kind, namespace, name), the inventory key of its workload."""
        return (self.kind, self.namespace, self.name)

    @property
    def ref(self) -> str:
        """`Kind/name`, as pod rows name their workload."""
        return f"{self.kind}/{self.name}"

    @property
    def size(self) -> str:
        """How many pods it asks for, in words: `0 replicas`, `DaemonSet`, `CronJob`."""
        if self.replicas is None:
            return f"{self.kind}, suspended" if self.suspended else self.kind
        return f"{self.kind}, {self.replicas} replica{'' if self.replicas == 1 else 's'}"

    def describe(self, where: str | None = None) -> str:
        """`ns/name (Deployment, 0 replicas)`; `where` replaces `ns/name` (a multi-cluster prefix)."""
        return f"{where or f'{self.namespace}/{self.name}'} ({self.size})"

    @property
    def meshed(self) -> bool:
        """True when a pod created from it would run (or be meant to run) an Istio proxy."""
        return self.revision_on_restart is not None or self.awaits_injection or self.injection.blocked

    def remedy(self, keep: str) -> str:
        """The step that makes a pod created from this template get `keep` (never a restart)."""
        if self.driver == RENDERED:
            return f"re-render it for {keep} through its installer (the proxy is part of its template)"
        if self.driver == PINNED and self.kind == "Job":
            return f"let Job {self.name} finish, or recreate it with pod-template {REV_LABEL}={keep} (immutable)"
        if self.driver == PINNED:
            return f"switch the pod-template {REV_LABEL} to {keep}"
        if self.driver == TAGGED and self.tag:
            return f"move tag {self.tag} to {keep}"
        if self.driver == NAMESPACE:
            return f"switch namespace {self.namespace} to {keep}"
        if self.driver == DEFAULT:
            return f"move the default tag to {keep}"
        return f"label the pod template {REV_LABEL}={keep}"


def is_top_level(workload: Workload, borrowed: bool = False) -> bool:
    """True for a workload whose own template creates pods (not a copy kept by a controller above it).

    ReplicaSets of Deployments and Rollouts, Jobs of CronJobs and a Deployment a Rollout borrows its
    template from (`workloadRef`, which Argo scales to 0: pass `borrowed`) are represented by the
    controller above them; a Job that completed or failed creates no more pods. The ambient node agents
    (ztunnel, istio-cni) are upgraded in place and never injected, so they are no such template.
    """
    kind = workload.kind
    if is_ztunnel(workload) or is_istio_cni(workload):
        return False
    if kind == "ReplicaSet":
        return workload.owner is None or workload.owner.kind not in _TEMPLATE_OWNERS
    if kind == "Job":
        return not workload.finished and (workload.owner is None or workload.owner.kind != "CronJob")
    if kind == "Deployment":
        return not borrowed
    return kind in ("StatefulSet", "DaemonSet", "CronJob", "Rollout")


def borrowed_deployments(workloads: Mapping[WorkloadKey, Workload]) -> frozenset[WorkloadKey]:
    """The Deployments some Rollout takes its template from (`workloadRef`)."""
    return frozenset(
        ("Deployment", w.namespace, w.workload_ref.split("/", 1)[1])
        for w in workloads.values()
        if w.kind == "Rollout" and w.workload_ref and w.workload_ref.startswith("Deployment/")
    )


def template_source(workload: Workload, workloads: Mapping[WorkloadKey, Workload]) -> Workload:
    """The workload whose pod template is used: a Rollout's `workloadRef` Deployment, else itself."""
    if workload.kind == "Rollout" and workload.workload_ref and workload.workload_ref.startswith("Deployment/"):
        name = workload.workload_ref.split("/", 1)[1]
        return workloads.get(("Deployment", workload.namespace, name)) or workload
    return workload


def assess_template(
    workload: Workload,
    workloads: Mapping[WorkloadKey, Workload],
    namespace_labels: Labels,
    namespace: NamespaceInjection,
    evaluator: InjectionEvaluator,
    resolve: Resolver,
) -> TemplateRow:
    """What a pod created now from the workload's template would get, judged as for a pod's replacement."""
    tpl = template_source(workload, workloads)
    labels = tpl.template_labels
    proxy_image = tpl.image_of(PROXY_CONTAINER)
    awaits = proxy_image == AUTO_IMAGE
    rendered = proxy_image is not None and not awaits
    tag: str | None = None
    if rendered:
        pinned = tpl.template_annotations.get(REV_LABEL) or labels.get(REV_LABEL)
        revision = (resolve(pinned) or pinned) if pinned else None
        steps = (
            f"{tpl.kind} {tpl.name}: the pod template already contains istio-proxy with {REV_LABEL}={pinned}",
            f"{ARROW} not injected: pods get revision {revision}",
        )
        outcome = InjectionOutcome(revision, steps, f"rendered with revision {revision}")
        driver: str | None = RENDERED
    else:
        outcome = evaluator.evaluate(
            workload.namespace,
            namespace_labels,
            labels,
            tpl.template_annotations.get(INJECT_KEY),
            tpl.template_host_network,
        )
        driver, tag = _driver(outcome, labels, namespace_labels, resolve)
        annotations = tpl.template_annotations
        outcome = evaluator.refused(
            outcome,
            annotations.get(PROMETHEUS_PORT),
            annotations.get(MERGE_METRICS),
            annotations.get(SCRAPE_TARGETS),
        )
    at_risk, reason = _risk(outcome, namespace, awaits, rendered)
    return TemplateRow(
        cluster=workload.cluster,
        namespace=workload.namespace,
        name=workload.name,
        kind=workload.kind,
        replicas=workload.replicas if workload.kind in ("Deployment", "StatefulSet", "ReplicaSet", "Rollout") else None,
        revision_on_restart=outcome.revision,
        injection=outcome,
        awaits_injection=awaits,
        gateway=template_gateway_kind(tpl) or (INJECTED_GATEWAY if awaits else None),
        driver=driver,
        tag=tag,
        at_risk=at_risk,
        reason=reason,
        suspended=workload.kind == "CronJob" and workload.paused,
    )


def _driver(
    outcome: InjectionOutcome, labels: Labels, namespace_labels: Labels, resolve: Resolver
) -> tuple[str | None, str | None]:
    """Which label decides the revision: the template's own, a tag, the namespace's, or the default."""
    if outcome.revision is None:
        return None, None
    if outcome.tag is not None and outcome.tag != "default":
        return TAGGED, outcome.tag
    pod_rev = labels.get(REV_LABEL)
    webhook = (outcome.webhook or "").split("/", 1)[-1]
    if pod_rev and webhook.startswith("rev.object."):
        if resolve(pod_rev) != pod_rev:  # a tag without its own webhook (resolved through a Service)
            return TAGGED, pod_rev
        return PINNED, None
    if webhook.startswith("rev.namespace."):
        ns_rev = namespace_labels.get(REV_LABEL)
        if ns_rev and resolve(ns_rev) != ns_rev:
            return TAGGED, ns_rev
        return NAMESPACE, None
    if outcome.tag == "default" or webhook.startswith(("namespace.", "object.", "auto.")):
        if webhook.startswith("namespace.") and namespace_labels.get("istio-injection") == "enabled":
            return NAMESPACE, None
        return DEFAULT, "default" if outcome.tag == "default" else None
    return None, None


def _risk(
    outcome: InjectionOutcome, namespace: NamespaceInjection, awaits: bool, rendered: bool
) -> tuple[bool, str | None]:
    """At risk: a pod created from the template now would not come up as the operator expects."""
    if rendered:
        return False, None
    if outcome.blocked:
        return True, f"a pod created from it would be refused: {outcome.cause}"
    if awaits and outcome.revision is None:
        return True, f"its istio-proxy is image: {AUTO_IMAGE}, which no injector will fill: {outcome.cause}"
    if namespace.asks and namespace.revision is None and outcome.revision is None:
        return True, f"pods created from it get no sidecar: {outcome.cause}"
    wanted = namespace.revision if namespace.asks else None
    if outcome.revision is not None and wanted and outcome.revision != wanted:
        return True, f"pods created from it get {outcome.revision}, not the namespace's {namespace.revision}"
    return False, None
