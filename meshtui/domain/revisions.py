"""Revisions, tags and the default revision of one cluster, found as docs/istio.md describes."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from meshtui.domain.objects import (
    REV_LABEL,
    TAG_LABEL,
    InjectorConfig,
    Service,
    WebhookConfiguration,
    Workload,
    image_version,
)
from meshtui.domain.snapshot import ClusterSnapshot

DEFAULT_VALIDATOR = "istiod-default-validator"
_DEFAULT_WEBHOOKS = ("namespace.sidecar-injector.istio.io", "object.sidecar-injector.istio.io")
_CHART_VERSION = re.compile(r"-(\d+\.\d+\.\d+.*)$")


@dataclass(frozen=True, slots=True)
class Revision:
    """One control plane: its istiod (or, when managed outside the cluster, its webhooks) and its version."""

    cluster: str
    name: str
    version: str | None
    version_source: str | None
    ready: bool
    is_default: bool
    tags: tuple[str, ...]
    istiod: str | None  # "ns/name" of the in-cluster istiod Deployment
    managed: bool  # no in-cluster istiod: the webhooks are the evidence it exists
    webhooks: tuple[str, ...]  # its own (non-tag) MutatingWebhookConfigurations
    proxy_image: str | None  # what its injector injects (data.values of istio-sidecar-injector[-R])
    istiod_replicas: str | None = None  # "ready/desired"


@dataclass(frozen=True, slots=True)
class Tag:
    """A revision tag: an alias that resolves to a revision through its webhook (or, >=1.28.0, its Service)."""

    cluster: str
    name: str
    revision: str
    webhooks: tuple[str, ...]
    service: str | None
    dangling: bool = False
    problem: str | None = None
    # The revision its Service (`istiod-revision-tag-<T>`, Istio >= 1.28.0) claims; istiod reads tags from
    # webhooks and these Services alike, so a Service left behind keeps gateways and waypoints on it.
    service_revision: str | None = None


@dataclass(frozen=True, slots=True)
class ControlPlaneProblem:
    """A finding about the control plane: a dangling tag or webhook, an overlap, conflicting tag sources."""

    code: str
    message: str


@dataclass(frozen=True, slots=True)
class ControlPlane:
    """Revisions, tags and the default revision of one cluster."""

    cluster: str
    revisions: tuple[Revision, ...]
    tags: tuple[Tag, ...]
    default_revision: str | None
    default_webhook: str | None  # the active configuration that carries the default webhooks
    validation_default: str | None  # the revision istiod-default-validator points at
    problems: tuple[ControlPlaneProblem, ...] = ()

    def revision(self, name: str) -> Revision | None:
        """The revision of that name."""
        return next((r for r in self.revisions if r.name == name), None)

    def tag(self, name: str) -> Tag | None:
        """The tag of that name."""
        return next((t for t in self.tags if t.name == name), None)

    def resolve(self, name: str) -> str | None:
        """A revision or tag name to the revision it means; None when it names neither."""
        if self.revision(name) is not None:
            return name
        tag = self.tag(name)
        return tag.revision if tag is not None else None

    @property
    def fingerprint(self) -> tuple[object, ...]:
        """What pod rows depend on: the names of revisions and where tags point."""
        return (
            tuple(r.name for r in self.revisions),
            tuple((t.name, t.revision) for t in self.tags),
            self.default_revision,
        )


def istiod_version(deployment: Workload) -> tuple[str | None, str | None]:
    """The version of an istiod Deployment and where it came from (docs/istio.md#objects-of-a-revision)."""
    version = image_version(deployment.image_of("discovery"))
    if version and version not in ("latest", "auto"):
        return version, "image of container discovery"
    for label in ("operator.istio.io/version", "app.kubernetes.io/version"):
        if deployment.labels.get(label):
            return deployment.labels[label], f"label {label}"
    match = _CHART_VERSION.search(deployment.labels.get("helm.sh/chart", ""))
    if match:
        return match.group(1), "label helm.sh/chart"
    return None, None


def is_istiod(workload: Workload) -> bool:
    """True for an istiod Deployment (`app=istiod`)."""
    return workload.kind == "Deployment" and workload.labels.get("app") == "istiod"


def _is_revision_service(service: Service) -> bool:
    return service.labels.get("app") == "istiod" and REV_LABEL in service.labels and TAG_LABEL not in service.labels


def control_plane(
    cluster: str,
    mutating: Iterable[WebhookConfiguration],
    validating: Iterable[WebhookConfiguration] = (),
    deployments: Iterable[Workload] = (),
    services: Mapping[tuple[str, str], Service] | None = None,
    injectors: Iterable[InjectorConfig] = (),
) -> ControlPlane:
    """Find revisions, tags and the default revision; `services=None` means Services were not listed."""
    mwcs = sorted(mutating, key=lambda c: c.name)
    vwcs = sorted(validating, key=lambda c: c.name)
    istiods = sorted((d for d in deployments if is_istiod(d)), key=lambda d: (d.namespace, d.name))
    injector_by_rev: dict[str, InjectorConfig] = {}
    for config in sorted(injectors, key=lambda c: (c.namespace, c.name)):
        injector_by_rev.setdefault(config.revision, config)
    service_names = None if services is None else {f"{ns}/{name}" for ns, name in services}
    problems: list[ControlPlaneProblem] = []

    def service_missing(hook_service: str | None) -> bool:
        return service_names is not None and hook_service is not None and hook_service not in service_names

    # Revisions: istiod Deployments, non-tag injector configurations with an active webhook, istiod Services.
    names: set[str] = set()
    istiod_of: dict[str, Workload] = {}
    for d in istiods:
        rev = d.labels.get(REV_LABEL) or d.template_labels.get(REV_LABEL) or "default"
        if rev in istiod_of:
            problems.append(
                ControlPlaneProblem(
                    "duplicate_istiod",
                    f"revision {rev} has two istiod Deployments: {_ref(istiod_of[rev])} and {_ref(d)}",
                )
            )
            continue
        istiod_of[rev] = d
        names.add(rev)
    own_webhooks: dict[str, list[WebhookConfiguration]] = {}
    for c in mwcs:
        if c.is_istio_injector and c.tag is None:
            rev = c.revision or "default"
            own_webhooks.setdefault(rev, []).append(c)
            if any(not h.deactivated for h in c.webhooks):
                names.add(rev)
    if services is not None:
        for s in services.values():
            if _is_revision_service(s):
                names.add(s.labels[REV_LABEL])

    # Tags: configurations labelled istio.io/tag, then (>=1.28.0) Services labelled istio.io/tag.
    tag_hooks: dict[str, list[WebhookConfiguration]] = {}
    tag_rev: dict[str, str] = {}
    tag_service: dict[str, str] = {}
    tag_service_rev: dict[str, str] = {}
    for c in mwcs:
        if c.is_istio_injector and c.tag is not None:
            tag_hooks.setdefault(c.tag, []).append(c)
            tag_rev.setdefault(c.tag, c.revision or "default")
    if services is not None:
        for key in sorted(services):
            s = services[key]
            tag = s.labels.get(TAG_LABEL)
            svc_rev = s.labels.get(REV_LABEL)
            if not tag or not svc_rev:
                continue
            tag_service.setdefault(tag, f"{s.namespace}/{s.name}")
            tag_service_rev.setdefault(tag, svc_rev)
            if tag not in tag_rev:
                tag_rev[tag] = svc_rev
            elif tag_rev[tag] != svc_rev:
                problems.append(
                    ControlPlaneProblem(
                        "tag_conflict",
                        f"tag {tag} resolves to {tag_rev[tag]} by its webhook but to {svc_rev} by Service "
                        f"{s.namespace}/{s.name}",
                    )
                )

    tags: list[Tag] = []
    for tag in sorted(tag_rev):
        rev = tag_rev[tag]
        hooks = tag_hooks.get(tag, [])
        problem: str | None = None
        if rev not in names:
            problem = f"tag {tag} points at revision {rev}, which no longer exists"
        else:
            missing = sorted(
                h.service
                for c in hooks
                for h in c.webhooks
                if h.service is not None and not h.deactivated and service_missing(h.service)
            )
            if missing:
                problem = f"tag {tag} calls Service {missing[0]}, which does not exist"
        if problem is not None:
            problems.append(ControlPlaneProblem("dangling_tag", problem))
        tags.append(
            Tag(
                cluster,
                tag,
                rev,
                tuple(c.name for c in hooks),
                tag_service.get(tag),
                problem is not None,
                problem,
                tag_service_rev.get(tag),
            )
        )

    # Webhooks (mutating and validating) that call a Service that is gone: pod creation or config writes fail.
    for c in mwcs + vwcs:
        if c.kind == "MutatingWebhookConfiguration" and not c.is_istio_injector:
            continue
        if c.kind == "ValidatingWebhookConfiguration" and REV_LABEL not in c.labels:
            continue
        for hook in c.webhooks:
            if not hook.deactivated and service_missing(hook.service):
                effect = "pod creation" if c.kind == "MutatingWebhookConfiguration" else "Istio config writes"
                policy = hook.failure_policy
                problems.append(
                    ControlPlaneProblem(
                        "dangling_webhook",
                        f"webhook {c.name}/{hook.name} calls Service {hook.service}, which does not exist"
                        + (f": {effect} it selects fails (failurePolicy {policy})" if policy != "Ignore" else ""),
                    )
                )

    default_revision, default_webhook = _default_revision(mwcs, problems)
    validator = next((c for c in vwcs if c.name == DEFAULT_VALIDATOR), None)

    revisions: list[Revision] = []
    for name in sorted(names):
        deployment = istiod_of.get(name)
        own = own_webhooks.get(name, [])
        injector = injector_by_rev.get(name)
        version, source = istiod_version(deployment) if deployment else (None, None)
        if version is None and injector is not None and injector.proxy_version:
            version, source = injector.proxy_version, "injector values"
        if version is None:
            for c in own:
                for label in ("operator.istio.io/version", "app.kubernetes.io/version"):
                    if version is None and c.labels.get(label):
                        version, source = c.labels[label], f"webhook label {label}"
        if deployment is not None:
            ready = (deployment.ready_replicas or 0) >= 1 and (deployment.available_replicas or 0) >= 1
            replicas = f"{deployment.ready_replicas or 0}/{deployment.replicas or 0}"
        else:
            active = [h for c in own for h in c.webhooks if not h.deactivated]
            ready = any(not service_missing(h.service) for h in active) if active else True
            replicas = None
        revisions.append(
            Revision(
                cluster=cluster,
                name=name,
                version=version,
                version_source=source,
                ready=ready,
                is_default=name == default_revision,
                tags=tuple(t.name for t in tags if t.revision == name),
                istiod=_ref(deployment) if deployment else None,
                managed=deployment is None,
                webhooks=tuple(c.name for c in own),
                proxy_image=injector.proxy_image if injector else None,
                istiod_replicas=replicas,
            )
        )
    return ControlPlane(
        cluster=cluster,
        revisions=tuple(revisions),
        tags=tuple(tags),
        default_revision=default_revision,
        default_webhook=default_webhook,
        validation_default=(validator.revision if validator else None),
        problems=tuple(problems),
    )


def _default_revision(
    mwcs: list[WebhookConfiguration], problems: list[ControlPlaneProblem]
) -> tuple[str | None, str | None]:
    """The revision of the active configuration carrying the `namespace.`/`object.` webhooks.

    Deactivated webhooks (never-match selectors) are skipped, so a non-revisioned injector that istioctl
    switched off does not hide the `default` tag that replaced it.
    """
    carriers: list[WebhookConfiguration] = []
    for c in mwcs:
        if not c.is_istio_injector:
            continue
        active = [h for h in c.webhooks if not h.deactivated]
        named = any(h.name in _DEFAULT_WEBHOOKS for h in active)
        # Charts before the rev./namespace. prefixes had one webhook selecting istio-injection=enabled.
        legacy = any(
            h.name == "sidecar-injector.istio.io"
            and any(r.key == "istio-injection" and "enabled" in r.values for r in h.namespace_selector.requirements)
            for h in active
        )
        if named or legacy:
            carriers.append(c)
    if not carriers:
        return None, None
    revisions = sorted({c.revision or "default" for c in carriers})
    if len(revisions) > 1:
        problems.append(
            ControlPlaneProblem(
                "default_overlap",
                "more than one active configuration carries the default webhooks: "
                + ", ".join(f"{c.name} ({c.revision or 'default'})" for c in carriers)
                + f"; the API server calls {carriers[0].name} first",
            )
        )
    first = carriers[0]
    return first.revision or "default", first.name


def _ref(d: Workload) -> str:
    return f"{d.namespace}/{d.name}"


def control_plane_of(snapshot: ClusterSnapshot) -> ControlPlane:
    """The control plane of a cluster snapshot."""
    services = snapshot.services if "Service" in snapshot.known_kinds else None
    return control_plane(
        snapshot.name,
        snapshot.mutating_webhooks.values(),
        snapshot.validating_webhooks.values(),
        snapshot.workloads.values(),
        services,
        snapshot.injectors.values(),
    )
