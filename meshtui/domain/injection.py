"""Which revision would inject a new pod, found by evaluating the live webhooks as the API server does.

Precedence between namespace and pod labels is never hard-coded: it lives in the selectors the cluster
carries (docs/istio.md#injection-selectors-and-precedence, including `revisionLabelPreference: pod`), so
evaluating them is the only way to be right for every install.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from functools import lru_cache

from meshtui.domain.objects import (
    EMPTY_LABELS,
    INJECT_KEY,
    INJECTION_LABEL,
    REV_LABEL,
    InjectorConfig,
    Labels,
    Namespace,
    WebhookConfiguration,
)
from meshtui.domain.refusals import METRICS_PORT, metrics_port_refusal
from meshtui.domain.selectors import LabelSelector

IGNORED_NAMESPACES = frozenset({"kube-system", "kube-public", "kube-node-lease", "local-path-storage"})
_TRUTHY = frozenset({"y", "yes", "true", "on"})  # istiod reads sidecar.istio.io/inject as a YAML boolean
_DEFAULT_PREFIXES = ("namespace.", "object.", "auto.")
_CACHE_LIMIT = 100_000
ARROW = "→"


@dataclass(frozen=True, slots=True)
class InjectorWebhook:
    """One Istio injection webhook that the API server calls for pod CREATE, with the revision it reaches."""

    configuration: str
    webhook: str
    revision: str
    tag: str | None
    namespace_selector: LabelSelector
    object_selector: LabelSelector
    failure_policy: str
    service: str | None
    missing_service: bool

    @property
    def ref(self) -> str:
        """`configuration/webhook`, the name istioctl analyze prints."""
        return f"{self.configuration}/{self.webhook}"

    @property
    def serves_default(self) -> bool:
        """True for the `namespace.`/`object.`/`auto.` webhooks that give the default revision its meaning."""
        return self.webhook.startswith(_DEFAULT_PREFIXES)


def injector_webhooks(
    configurations: Iterable[WebhookConfiguration], services: frozenset[str] | None = None
) -> tuple[InjectorWebhook, ...]:
    """The active Istio injection webhooks in API-server call order (configuration name, then position).

    `services` is the set of existing Services as `ns/name`; None means Services are unknown, so no
    webhook is reported as calling a missing one.
    """
    hooks: list[InjectorWebhook] = []
    for config in sorted(configurations, key=lambda c: c.name):
        if not config.is_istio_injector:
            continue
        for hook in config.webhooks:
            if hook.deactivated or not hook.covers_pod_create:
                continue
            service = hook.service
            hooks.append(
                InjectorWebhook(
                    configuration=config.name,
                    webhook=hook.name,
                    revision=config.revision or "default",
                    tag=config.tag,
                    namespace_selector=hook.namespace_selector,
                    object_selector=hook.object_selector,
                    failure_policy=hook.failure_policy,
                    service=service,
                    missing_service=services is not None and service is not None and service not in services,
                )
            )
    return tuple(hooks)


@dataclass(frozen=True, slots=True)
class InjectionOutcome:
    """The revision a new pod would get (None: no sidecar) and the chain of reasons that leads there."""

    revision: str | None
    steps: tuple[str, ...]
    cause: str  # one short phrase for the at-risk reason
    webhook: str | None = None  # `configuration/webhook` that injects
    tag: str | None = None
    overlaps: tuple[str, ...] = ()  # every webhook that matched, when more than one did
    blocked: bool = False  # the API server would refuse to create the pod
    refusal: str | None = None  # why the injector itself denies it: METRICS_PORT

    def explain(self) -> str:
        """The chain as one line: `a → b → c; d → e`."""
        return explain(self.steps)


def explain(steps: Sequence[str]) -> str:
    """Join explanation steps: a step starting with an arrow continues the previous one, others follow `;`."""
    return _explain(tuple(steps))


@lru_cache(maxsize=4096)
def _explain(steps: tuple[str, ...]) -> str:
    # Pods of one controller share one outcome: `status --json` explains 50,000 pods from a few thousand.
    text = ""
    for step in steps:
        if not text:
            text = step
        elif step.startswith(ARROW):
            text += " " + step
        else:
            text += "; " + step
    return text


@dataclass(frozen=True, slots=True)
class NamespaceInjection:
    """What a namespace's labels ask for and the revision that resolves to through the live webhooks."""

    label: str | None  # the label that governs: istio-injection if set, else istio.io/rev
    value: str | None
    asks: bool  # the namespace asks for injection
    revision: str | None
    steps: tuple[str, ...]
    tag: str | None = None
    webhook: str | None = None
    conflict: bool = False  # both istio-injection and istio.io/rev (istioctl analyze IST0123)
    problem: str | None = None  # why an asking namespace resolves to nothing (or to a refused webhook)

    def explain(self) -> str:
        """The chain as one line."""
        return explain(self.steps)


class InjectionEvaluator:
    """Evaluates one cluster's webhooks for namespaces and pod templates, caching by the labels that matter.

    Thousands of pods share a template and a namespace; only the label keys some selector reads go into
    the cache key, so a pod-template-hash does not defeat it.
    """

    def __init__(
        self,
        webhooks: Sequence[InjectorWebhook],
        injectors: Iterable[InjectorConfig] = (),
        versions: Mapping[str, str | None] | None = None,
    ) -> None:
        self.webhooks = tuple(webhooks)
        self.versions: Mapping[str, str | None] = dict(versions or {})
        by_revision: dict[str, InjectorConfig] = {}
        for config in sorted(injectors, key=lambda c: (c.namespace, c.name)):
            by_revision.setdefault(config.revision, config)
        self.injectors: Mapping[str, InjectorConfig] = by_revision
        ns_keys = {INJECTION_LABEL, REV_LABEL}
        pod_keys = {INJECT_KEY, REV_LABEL}
        for hook in self.webhooks:
            ns_keys.update(r.key for r in hook.namespace_selector.requirements)
            pod_keys.update(r.key for r in hook.object_selector.requirements)
        for config in by_revision.values():
            for selector in config.never_inject + config.always_inject:
                pod_keys.update(r.key for r in selector.requirements)
        self._ns_keys = tuple(sorted(ns_keys))
        self._pod_keys = tuple(sorted(pod_keys))
        self._pods: dict[tuple[object, ...], InjectionOutcome] = {}
        self._namespaces: dict[tuple[object, ...], NamespaceInjection] = {}

    @classmethod
    def build(
        cls,
        configurations: Iterable[WebhookConfiguration],
        injectors: Iterable[InjectorConfig] = (),
        services: frozenset[str] | None = None,
        versions: Mapping[str, str | None] | None = None,
    ) -> InjectionEvaluator:
        """Build from the cluster's MutatingWebhookConfigurations, injector ConfigMaps and Service names
        (and the version of each revision, which decides the injector's refusals)."""
        return cls(injector_webhooks(configurations, services), injectors, versions)

    @property
    def fingerprint(self) -> tuple[object, ...]:
        """Equal for two evaluators that give every pod the same outcome."""
        return (
            self.webhooks,
            tuple(sorted((r, c.injection_key) for r, c in self.injectors.items())),
            tuple(sorted(self.versions.items())),
        )

    def version_of(self, revision: str | None) -> str | None:
        """The Istio version of a revision's injector: its istiod's, else what its ConfigMap injects."""
        if revision is None:
            return None
        version = self.versions.get(revision)
        if version is None and revision in self.injectors:
            version = self.injectors[revision].proxy_version
        return version

    def refused(
        self,
        outcome: InjectionOutcome,
        prometheus_port: str | None,
        merge_metrics: str | None,
        scrape_targets: str | None = None,
    ) -> InjectionOutcome:
        """The outcome, turned into a refusal when the injecting revision denies the pod at creation."""
        if outcome.revision is None or outcome.blocked or (prometheus_port is None and scrape_targets is None):
            return outcome
        version = self.version_of(outcome.revision)
        why = metrics_port_refusal(prometheus_port, merge_metrics, version, scrape_targets)
        if why is None:
            return outcome
        steps = (*outcome.steps, f"{ARROW} refused: {why}")
        return replace(outcome, steps=steps, cause=why, blocked=True, refusal=METRICS_PORT)

    # ------------------------------------------------------------------------------------ namespaces

    def namespace(self, name: str, labels: Labels) -> NamespaceInjection:
        """What the namespace asks for, resolved by evaluating the webhooks for a pod without labels."""
        key = (name if name in IGNORED_NAMESPACES else "", tuple(labels.get(k) for k in self._ns_keys))
        cached = self._namespaces.get(key)
        if cached is None:
            if len(self._namespaces) >= _CACHE_LIMIT:
                self._namespaces.clear()
            cached = self._namespaces[key] = self._resolve_namespace(labels)
        return cached

    def _resolve_namespace(self, labels: Labels) -> NamespaceInjection:
        legacy = labels.get(INJECTION_LABEL)
        rev = labels.get(REV_LABEL)
        conflict = bool(legacy) and rev is not None
        label, value = (
            (INJECTION_LABEL, legacy) if legacy is not None else (REV_LABEL, rev) if rev is not None else (None, None)
        )
        matched = [
            w for w in self.webhooks if w.namespace_selector.matches(labels) and w.object_selector.matches(EMPTY_LABELS)
        ]
        asks = legacy == "enabled" or (legacy is None and rev is not None) or (label is None and bool(matched))
        steps: list[str] = [f"namespace label {label}={value}" if label else "namespace has no injection label"]
        conflict_note = (
            (f"namespace also has istio.io/rev={rev}, which istio-injection overrides (IST0123)",) if conflict else ()
        )
        if matched:
            hook = matched[0]
            steps.extend(_via(hook))
            problem = _missing_service_problem(hook) if hook.missing_service else None
            return NamespaceInjection(
                label,
                value,
                asks,
                hook.revision,
                (*steps, *conflict_note),
                hook.tag,
                hook.ref,
                conflict,
                problem,
            )
        problem = None
        if legacy is not None and legacy != "enabled":
            steps.append(f"{ARROW} injection off")
        elif asks:
            wanted = "the default revision" if legacy == "enabled" else str(value)
            problem = f"no active webhook serves {wanted}, so pods are created without a sidecar"
            steps.append(f"{ARROW} {problem}")
        return NamespaceInjection(
            label, value, asks, None, (*steps, *conflict_note), conflict=conflict, problem=problem
        )

    # ------------------------------------------------------------------------------------ pods

    def evaluate(
        self,
        namespace: str,
        namespace_labels: Labels,
        pod_labels: Labels,
        inject_annotation: str | None = None,
        host_network: bool = False,
    ) -> InjectionOutcome:
        """The outcome for a pod created now from these labels in this namespace (a pod's replacement)."""
        key = (
            namespace if namespace in IGNORED_NAMESPACES else "",
            tuple(namespace_labels.get(k) for k in self._ns_keys),
            tuple(pod_labels.get(k) for k in self._pod_keys),
            inject_annotation,
            host_network,
        )
        cached = self._pods.get(key)
        if cached is None:
            if len(self._pods) >= _CACHE_LIMIT:
                self._pods.clear()
            cached = self._pods[key] = self._evaluate(
                namespace, namespace_labels, pod_labels, inject_annotation, host_network
            )
        return cached

    def _evaluate(
        self,
        namespace: str,
        ns_labels: Labels,
        pod_labels: Labels,
        inject_annotation: str | None,
        host_network: bool,
    ) -> InjectionOutcome:
        matched = [
            w
            for w in self.webhooks
            if w.namespace_selector.matches(ns_labels) and w.object_selector.matches(pod_labels)
        ]
        if not matched:
            return self._no_match(namespace, ns_labels, pod_labels)
        overlaps = tuple(w.ref for w in matched) if len(matched) > 1 else ()
        refusal: tuple[list[str], str] | None = None
        # The API server calls every matching webhook in order; the first istiod that injects wins and the
        # later ones see a pod that already has its sidecar.
        for hook in matched:
            steps = _match_steps(hook, ns_labels, pod_labels) + list(_via(hook))
            if hook.missing_service:
                if hook.failure_policy != "Ignore":
                    cause = _missing_service_problem(hook)
                    steps.append(f"{ARROW} {cause}")
                    return InjectionOutcome(None, tuple(steps), cause, hook.ref, hook.tag, overlaps, blocked=True)
                continue
            denied = self._inject_required(hook.revision, namespace, pod_labels, inject_annotation, host_network)
            if denied is None:
                if overlaps:
                    others = ", ".join(o for o in overlaps if o != hook.ref)
                    steps.append(f"also matched: {others} (istioctl analyze: Webhook overlaps with others)")
                cause = f"revision {hook.revision}"
                return InjectionOutcome(hook.revision, tuple(steps), cause, hook.ref, hook.tag, overlaps)
            if refusal is None:
                refusal = ([*steps, f"{denied} {ARROW} no sidecar on restart"], denied)
        if refusal is None:  # every matching webhook calls a missing Service and ignores the failure
            cause = "every matching webhook calls a missing Service (failurePolicy Ignore)"
            return InjectionOutcome(None, (f"{cause} {ARROW} no sidecar on restart",), cause, overlaps=overlaps)
        return InjectionOutcome(None, tuple(refusal[0]), refusal[1], overlaps=overlaps)

    def _inject_required(
        self, revision: str, namespace: str, labels: Labels, annotation: str | None, host_network: bool
    ) -> str | None:
        """istiod's `injectRequired`: None when it injects, else the reason it does not."""
        if host_network:
            return "pod uses hostNetwork, which istiod skips"
        if namespace in IGNORED_NAMESPACES:
            return f"istiod ignores namespace {namespace}"
        value = annotation
        source = "pod annotation"
        if INJECT_KEY in labels:
            value, source = labels[INJECT_KEY], "pod label"
        use_default = not value
        inject = value is not None and value.lower() in _TRUTHY
        if value and not inject:
            return f"{source} {INJECT_KEY}={value}"
        config = self.injectors.get(revision)
        if use_default and config is not None:
            for selector in config.never_inject:
                if not selector.is_empty and selector.matches(labels):
                    return f"neverInjectSelector {selector.describe()} of revision {revision} matches"
            for selector in config.always_inject:
                if not selector.is_empty and selector.matches(labels):
                    use_default, inject = False, True
                    break
        # Here the pod either opted in or left the choice to the policy (an explicit "no" returned above).
        policy = config.policy if config is not None else "enabled"
        if policy == "enabled" or (policy == "disabled" and inject):
            return None
        if policy == "disabled":
            return f"injection policy of revision {revision} is disabled and the pod does not opt in"
        return f"injection policy of revision {revision} is {policy!r}, which injects nothing"

    def _no_match(self, namespace: str, ns_labels: Labels, pod_labels: Labels) -> InjectionOutcome:
        ns = self.namespace(namespace, ns_labels)
        steps = list(ns.steps)
        legacy = ns_labels.get(INJECTION_LABEL)
        pod_rev = pod_labels.get(REV_LABEL)
        pod_inject = pod_labels.get(INJECT_KEY)
        if legacy is not None and legacy != "enabled":
            steps.append(f"{ARROW} no sidecar on restart")
            return InjectionOutcome(None, tuple(steps), f"namespace label {INJECTION_LABEL}={legacy}")
        if ns.asks and ns.revision is None:
            wanted = "the default revision" if ns.label == INJECTION_LABEL else f"{ns.value}"
            return InjectionOutcome(None, tuple(steps), f"no active webhook serves {wanted}")
        if pod_inject is not None and pod_inject != "true" and (ns.asks or pod_rev is not None):
            cause = f"pod label {INJECT_KEY}={pod_inject}"
        elif pod_rev is not None:
            cause = f"pod label {REV_LABEL}={pod_rev}, which no active webhook serves"
        elif pod_inject == "true":
            cause = f"pod label {INJECT_KEY}=true, but no active webhook serves the default revision"
        elif ns.asks:
            hook = next((w for w in self.webhooks if w.namespace_selector.matches(ns_labels)), None)
            wanted = f" ({hook.object_selector.describe()})" if hook else ""
            cause = f"pod labels do not match the namespace's webhook{wanted}"
        else:
            cause = "neither the namespace nor the pod asks for injection"
            steps = []  # the cause already says it all
        steps.append(f"{cause} {ARROW} no sidecar on restart")
        return InjectionOutcome(None, tuple(steps), cause)


def _match_steps(hook: InjectorWebhook, ns_labels: Labels, pod_labels: Labels) -> list[str]:
    """Why the webhook matched, in the words of the labels that made it match."""
    name = hook.webhook
    ns_rev = ns_labels.get(REV_LABEL)
    if name.startswith("rev.namespace."):
        return [f"namespace label {REV_LABEL}={ns_rev}"]
    if name.startswith("rev.object."):
        pod_rev = pod_labels.get(REV_LABEL)
        if ns_rev is not None:
            return [f"pod label {REV_LABEL}={pod_rev} overrides namespace label {REV_LABEL}={ns_rev}"]
        return [f"pod label {REV_LABEL}={pod_rev}"]
    if name.startswith("namespace."):
        return [f"namespace label {INJECTION_LABEL}={ns_labels.get(INJECTION_LABEL)}"]
    if name.startswith("object."):
        return [f"pod label {INJECT_KEY}={pod_labels.get(INJECT_KEY)}"]
    if name.startswith("auto."):
        return ["namespace has no injection label and the default revision injects every namespace"]
    return [f"webhook {hook.ref} selects the pod"]


def _via(hook: InjectorWebhook) -> tuple[str, ...]:
    if hook.tag is not None:
        return (f"{ARROW} tag {hook.tag} (webhook {hook.configuration})", f"{ARROW} revision {hook.revision}")
    if hook.serves_default:
        return (
            f"{ARROW} default revision (webhook {hook.configuration})",
            f"{ARROW} revision {hook.revision}",
        )
    return (f"{ARROW} revision {hook.revision} (webhook {hook.configuration})",)


def _missing_service_problem(hook: InjectorWebhook) -> str:
    return (
        f"webhook {hook.configuration} calls Service {hook.service}, which does not exist, "
        "so the API server refuses the pod"
    )


def revision_on_restart(
    namespace: Namespace,
    template_labels: Labels,
    template_annotations: Labels,
    host_network: bool,
    webhooks: Iterable[WebhookConfiguration],
    injectors: Iterable[InjectorConfig] = (),
    services: frozenset[str] | None = None,
) -> InjectionOutcome:
    """The revision (or None) a pod created now from this template would get, with its explanation.

    A one-off convenience; hot paths keep one `InjectionEvaluator` per cluster for its cache.
    """
    evaluator = InjectionEvaluator.build(webhooks, injectors, services)
    return evaluator.evaluate(
        namespace.name, namespace.labels, template_labels, template_annotations.get(INJECT_KEY), host_network
    )
