"""Gateways of every kind (docs/istio.md#gateways), their revision and how each kind is upgraded."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from meshtui.domain.objects import EMPTY_LABELS, INJECT_KEY, REV_LABEL, Gateway, Labels, Pod, Workload

if TYPE_CHECKING:
    from meshtui.domain.pods import PodRow
    from meshtui.domain.templates import TemplateRow

ISTIOCTL_GATEWAY = "istioctl gateway"
INJECTED_GATEWAY = "injected gateway"
HELM_GATEWAY = "Helm istio/gateway"
GATEWAY_API = "Gateway API gateway"
WAYPOINT = "waypoint"

UPGRADE_REINJECT = "restart (re-injection)"
UPGRADE_SWITCH = "switch pod-template istio.io/rev and restart"
UPGRADE_INSTALLER = "reinstall through the installer (in place)"
UPGRADE_RELABEL = "relabel the Gateway istio.io/rev"

MANAGED_LABEL = "gateway.istio.io/managed"
GATEWAY_NAME_LABEL = "gateway.networking.k8s.io/gateway-name"
GATEWAY_CLASS_LABEL = "gateway.networking.k8s.io/gateway-class-name"
WAYPOINT_CLASS = "istio-waypoint"
_COMPONENTS = ("IngressGateways", "EgressGateways")


def gateway_kind(pod: Pod, top: Workload | None) -> str | None:
    """The gateway kind of a pod, None for an ordinary workload pod."""
    labels = pod.labels
    managed = labels.get(MANAGED_LABEL)
    if managed:
        waypoint = managed == "istio.io-mesh-controller" or labels.get(GATEWAY_CLASS_LABEL) == WAYPOINT_CLASS
        return WAYPOINT if waypoint else GATEWAY_API
    templates = pod.inject_templates or (top.template_annotations.get("inject.istio.io/templates") if top else None)
    if templates and "gateway" in (t.strip() for t in templates.split(",")):
        if top is not None and top.labels.get("helm.sh/chart", "").startswith("gateway-"):
            return HELM_GATEWAY
        return INJECTED_GATEWAY
    if not pod.has_sidecar:
        return None
    component = labels.get("operator.istio.io/component") or (
        top.labels.get("operator.istio.io/component") if top else None
    )
    if component in _COMPONENTS:
        return ISTIOCTL_GATEWAY
    if labels.get(INJECT_KEY) == "false" and labels.get("istio") in ("ingressgateway", "egressgateway"):
        return ISTIOCTL_GATEWAY
    return None


def template_gateway_kind(workload: Workload) -> str | None:
    """The gateway kind of a workload judged from its pod template alone (it may have no pods)."""
    labels = workload.template_labels
    managed = labels.get(MANAGED_LABEL)
    if managed:
        waypoint = managed == "istio.io-mesh-controller" or labels.get(GATEWAY_CLASS_LABEL) == WAYPOINT_CLASS
        return WAYPOINT if waypoint else GATEWAY_API
    templates = workload.template_annotations.get("inject.istio.io/templates")
    if templates and "gateway" in (t.strip() for t in templates.split(",")):
        return HELM_GATEWAY if workload.labels.get("helm.sh/chart", "").startswith("gateway-") else INJECTED_GATEWAY
    proxy = workload.image_of("istio-proxy")
    if proxy is None or proxy == "auto":
        return None
    component = labels.get("operator.istio.io/component") or workload.labels.get("operator.istio.io/component")
    if component in _COMPONENTS:
        return ISTIOCTL_GATEWAY
    if labels.get(INJECT_KEY) == "false" and labels.get("istio") in ("ingressgateway", "egressgateway"):
        return ISTIOCTL_GATEWAY
    return None


def upgrade_method(kind: str, template_labels: Labels) -> str:
    """How a gateway of this kind moves to another revision."""
    if kind == ISTIOCTL_GATEWAY:
        return UPGRADE_INSTALLER
    if kind in (GATEWAY_API, WAYPOINT):
        return UPGRADE_RELABEL
    return UPGRADE_SWITCH if REV_LABEL in template_labels else UPGRADE_REINJECT


@dataclass(frozen=True, slots=True)
class GatewayRow:
    """One gateway (a workload, or a Gateway API Gateway) with the revision it runs and how to upgrade it."""

    cluster: str
    namespace: str
    name: str
    kind: str
    revision: str | None  # what most of its live pods run
    revisions: tuple[str, ...]  # every revision its live pods run ("unknown" for a proxy without one)
    revision_on_restart: str | None
    upgrade: str
    workload: str | None  # "Deployment/name"
    pods: int  # live pods


def istio_gateway(gateway: Gateway) -> bool:
    """True for Gateway API Gateways that istiod deploys (classes `istio`, `istio-waypoint`, ...)."""
    return gateway.gateway_class.startswith("istio") or REV_LABEL in gateway.labels


def controlling_revision(
    gateway: Gateway, namespace_labels: Labels, resolve: Callable[[str], str | None], default: str | None
) -> str | None:
    """The revision deploying a Gateway API Gateway (`IsMine`): its label, its namespace's, else default."""
    selected = gateway.labels.get(REV_LABEL) or namespace_labels.get(REV_LABEL)
    if selected:
        return resolve(selected)
    return default


def gateway_rows(
    pod_rows: Iterable[PodRow],
    gateways: Iterable[Gateway],
    workloads: Mapping[tuple[str, str, str], Workload],
    namespace_labels: Callable[[str], Labels],
    resolve: Callable[[str], str | None],
    default_revision: str | None,
    templates: Iterable[TemplateRow] = (),
) -> list[GatewayRow]:
    """Group one cluster's gateway pods into gateways and add the gateways that have no pods now.

    A gateway without pods is a Gateway API Gateway, or a gateway workload scaled to 0: its template still
    decides what its next pod gets (for an `image: auto` template, whether it gets a proxy at all).
    """
    groups: dict[tuple[str, str], list[PodRow]] = {}
    for row in pod_rows:
        if row.gateway is None or not row.live:
            continue
        gw_name = row.pod.labels.get(GATEWAY_NAME_LABEL) if row.gateway in (GATEWAY_API, WAYPOINT) else None
        name = gw_name or row.workload_name or row.name
        groups.setdefault((row.namespace, name), []).append(row)

    objects = {g.key: g for g in gateways if istio_gateway(g)}
    rows: list[GatewayRow] = []
    for (namespace, name), members in groups.items():
        first = members[0]
        kind = first.gateway or INJECTED_GATEWAY
        running = Counter(r.revision or "unknown" for r in members)
        on_restart = Counter(r.revision_on_restart for r in members).most_common(1)[0][0]
        gateway = objects.pop((namespace, name), None)
        if gateway is not None:
            on_restart = controlling_revision(gateway, namespace_labels(namespace), resolve, default_revision)
        workload = workloads.get((first.workload_kind or "", namespace, first.workload_name or ""))
        rows.append(
            GatewayRow(
                cluster=first.cluster,
                namespace=namespace,
                name=name,
                kind=kind,
                revision=sorted(running.items(), key=lambda kv: (-kv[1], kv[0]))[0][0],
                revisions=tuple(sorted(running)),
                revision_on_restart=on_restart,
                upgrade=upgrade_method(kind, workload.template_labels if workload else first.pod.labels),
                workload=f"{first.workload_kind}/{first.workload_name}" if first.workload_kind else None,
                pods=len(members),
            )
        )
    for t in templates:
        if t.gateway not in (INJECTED_GATEWAY, HELM_GATEWAY, ISTIOCTL_GATEWAY) or (t.namespace, t.name) in groups:
            continue
        workload = workloads.get(t.key)
        rows.append(
            GatewayRow(
                cluster=t.cluster,
                namespace=t.namespace,
                name=t.name,
                kind=t.gateway,
                revision=None,
                revisions=(),
                revision_on_restart=t.revision_on_restart,
                upgrade=upgrade_method(t.gateway, workload.template_labels if workload else EMPTY_LABELS),
                workload=t.ref,
                pods=0,
            )
        )
    for gateway in objects.values():
        kind = WAYPOINT if gateway.gateway_class == WAYPOINT_CLASS else GATEWAY_API
        rows.append(
            GatewayRow(
                cluster=gateway.cluster,
                namespace=gateway.namespace,
                name=gateway.name,
                kind=kind,
                revision=None,
                revisions=(),
                revision_on_restart=controlling_revision(
                    gateway, namespace_labels(gateway.namespace), resolve, default_revision
                ),
                upgrade=UPGRADE_RELABEL,
                workload=None,
                pods=0,
            )
        )
    rows.sort(key=lambda r: (r.cluster, r.namespace, r.name))
    return rows
