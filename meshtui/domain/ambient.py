"""The ambient data plane: ztunnel and istio-cni node agents, ambient namespaces, and how they gate.

ztunnel and istio-cni are DaemonSets upgraded in place (never canaried, even with revisions): the
chart's `revision` only points ztunnel's XDS and CA addresses at `istiod-<revision>`. Their pods are
node agents, never sidecar pods, although the ztunnel chart names its container `istio-proxy`. Both
work with a control plane of their own minor or one minor newer (docs/ambient.md).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from meshtui.domain.objects import (
    CNI_APP_LABEL,
    CNI_CONTAINER,
    ISTIO_CNI,
    PROXY_CONTAINER,
    REV_LABEL,
    ZTUNNEL,
    Labels,
    Pod,
    Workload,
    image_repository,
    image_version,
)
from meshtui.domain.versions import Version

DATAPLANE_MODE = "istio.io/dataplane-mode"
USE_WAYPOINT = "istio.io/use-waypoint"
AMBIENT = "ambient"
TAG_SERVICE_PREFIX = "istiod-revision-tag-"

# `istiod[-R].<namespace>.svc:15012` (XDS_ADDRESS / CA_ADDRESS of the ztunnel chart).
_ISTIOD_ADDRESS = re.compile(
    r"^(?:[a-z]+://)?(istiod(?:-[a-z0-9.-]+?)?)\.([a-z0-9-]+)(?:\.svc[a-z0-9.-]*)?(?::\d+)?/?$"
)

Resolver = Callable[[str], str | None]


@dataclass(frozen=True, slots=True)
class NodeAgent:
    """One pod of a node agent DaemonSet: its node, the version it runs and whether it is Ready."""

    node: str | None
    pod: str
    version: str | None
    ready: bool
    terminating: bool
    current: bool  # runs the DaemonSet's current template (its image and istiod)


@dataclass(frozen=True, slots=True)
class DataPlaneComponent:
    """ztunnel or istio-cni: its version, the istiod revision it uses, and its per-node rollout."""

    cluster: str
    namespace: str
    name: str
    kind: str  # ZTUNNEL or ISTIO_CNI
    version: str | None  # of the DaemonSet's template image
    configured: str | None  # the revision (or tag) its settings name; None: no revision (istiod)
    revision: str | None  # what that resolves to now
    revision_source: str | None
    desired: int | None
    updated: int | None
    ready: int | None
    pods: tuple[NodeAgent, ...]
    problems: tuple[str, ...] = ()

    @property
    def ref(self) -> str:
        """`namespace/name` of its DaemonSet."""
        return f"{self.namespace}/{self.name}"

    @property
    def rolling(self) -> bool:
        """True while some node still runs a pod of an older template."""
        if self.desired is not None and self.updated is not None and self.updated < self.desired:
            return True
        return any(not p.current for p in self.pods if not p.terminating)

    @property
    def progress(self) -> str:
        """`updated/desired` nodes, from the DaemonSet's status (else its pods)."""
        desired = self.desired if self.desired is not None else len(self.pods)
        updated = self.updated if self.updated is not None else sum(1 for p in self.pods if p.current)
        return f"{updated}/{desired}"


def is_ztunnel(workload: Workload) -> bool:
    """A ztunnel DaemonSet: container istio-proxy running the ztunnel image, or pods labelled app=ztunnel."""
    if workload.kind != "DaemonSet":
        return False
    return (
        image_repository(workload.image_of(PROXY_CONTAINER)) == ZTUNNEL
        or workload.template_labels.get("app") == ZTUNNEL
    )


def is_istio_cni(workload: Workload) -> bool:
    """The istio-cni node agent DaemonSet (`istio-cni-node`, container install-cni)."""
    if workload.kind != "DaemonSet":
        return False
    labelled = workload.template_labels.get(CNI_APP_LABEL[0]) == CNI_APP_LABEL[1]
    return labelled or workload.image_of(CNI_CONTAINER) is not None


def istiod_of_address(address: str) -> tuple[str | None, str | None] | None:
    """The revision (None: no revision) or tag an `istiod[-R].ns.svc:15012` address names; None if not istiod.

    Returns (revision, tag): `istiod-revision-tag-T` names tag T, `istiod-R` revision (or tag) R.
    """
    match = _ISTIOD_ADDRESS.match(address.strip())
    if match is None:
        return None
    host = match.group(1)
    if host == "istiod":
        return None, None
    suffix = host[len("istiod-") :]
    if host.startswith(TAG_SERVICE_PREFIX):
        return None, host[len(TAG_SERVICE_PREFIX) :]
    return suffix, None


def ztunnel_configuration(workload: Workload) -> tuple[str | None, str | None, list[str]]:
    """The revision or tag ztunnel is configured against, where that was read, and any disagreement.

    The XDS address is what ztunnel connects to, so it wins over the `istio.io/rev` annotation.
    """
    problems: list[str] = []
    env = dict(workload.template_env)
    found: str | None = None  # None with a source: the plain `istiod` Service (no revision)
    source: str | None = None
    for name in ("XDS_ADDRESS", "CA_ADDRESS"):
        address = env.get(name)
        if address is None:
            continue
        parsed = istiod_of_address(address)
        if parsed is None:
            problems.append(f"{name} {address} is not an in-cluster istiod address")
            continue
        rev, tag = parsed
        value = tag or rev
        if source is None:
            found, source = value, f"env {name}={address}"
        elif value != found:
            problems.append(f"XDS_ADDRESS and CA_ADDRESS name different istiods ({found}, {value})")
    annotation = workload.rev_annotation or workload.template_annotations.get(REV_LABEL)
    if annotation:
        if source is None:
            found, source = annotation, f"annotation {REV_LABEL}={annotation}"
        elif annotation != found:
            problems.append(f"annotation {REV_LABEL}={annotation} disagrees with {source}; ztunnel uses the latter")
    return found, source, problems


def data_plane_components(
    cluster: str,
    workloads: Iterable[Workload],
    pods: Iterable[Pod],
    resolve: Resolver,
) -> tuple[DataPlaneComponent, ...]:
    """The ztunnel and istio-cni DaemonSets of one cluster with their node pods, in (namespace, name) order."""
    agents: dict[tuple[str, str], list[Pod]] = {}
    for pod in pods:
        if pod.component is not None and pod.owner_kind == "DaemonSet" and pod.owner_name and not pod.terminal:
            agents.setdefault((pod.namespace, pod.owner_name), []).append(pod)
    found: list[DataPlaneComponent] = []
    for wl in sorted(workloads, key=lambda w: (w.namespace, w.name)):
        if is_ztunnel(wl):
            kind, image = ZTUNNEL, wl.image_of(PROXY_CONTAINER)
            configured, source, problems = ztunnel_configuration(wl)
        elif is_istio_cni(wl):
            kind, image = ISTIO_CNI, wl.image_of(CNI_CONTAINER)
            configured = wl.labels.get(REV_LABEL) or wl.rev_annotation
            source = f"label {REV_LABEL}={configured}" if configured else None
            problems = []
        else:
            continue
        version = image_version(image)
        revision = resolve(configured or "default")
        # Only ztunnel talks to istiod; istio-cni's label just records the install (`default` without one).
        if revision is None and kind == ZTUNNEL:
            what = configured if configured else "no revision (the istiod Service)"
            problems.append(f"it names {what}, which is neither a revision nor a tag of this cluster")
        members = sorted(agents.get((wl.namespace, wl.name), []), key=lambda p: (p.node_name or "", p.name))
        nodes = tuple(_node_agent(p, version, kind, configured) for p in members)
        found.append(
            DataPlaneComponent(
                cluster=cluster,
                namespace=wl.namespace,
                name=wl.name,
                kind=kind,
                version=version,
                configured=configured,
                revision=revision,
                revision_source=source,
                desired=wl.replicas,
                updated=wl.updated_replicas,
                ready=wl.ready_replicas,
                pods=nodes,
                problems=tuple(problems),
            )
        )
    return tuple(found)


def _node_agent(pod: Pod, version: str | None, kind: str, configured: str | None) -> NodeAgent:
    pod_version = image_version(pod.component_image)
    current = pod_version == version
    if kind == ZTUNNEL and pod.rev_annotation is not None and configured is not None:
        current = current and pod.rev_annotation == configured
    return NodeAgent(pod.node_name, pod.name, pod_version, pod.ready, pod.terminating, current)


def within_skew(component_version: str | None, control_plane_version: str | None) -> bool | None:
    """ztunnel/istio-cni 1.x work with control plane 1.x and 1.x+1; None when a version is unknown."""
    dp, cp = Version.parse(component_version), Version.parse(control_plane_version)
    if dp is None or cp is None:
        return None
    return cp.minors_above(dp) in (0, 1)


def is_ambient_namespace(labels: Labels) -> bool:
    """The namespace enrols its pods in ambient (`istio.io/dataplane-mode=ambient`)."""
    return labels.get(DATAPLANE_MODE) == AMBIENT


def leaves_ambient(pod: Pod, namespace_labels: Labels, revision_on_restart: str | None) -> bool:
    """A pod of an ambient namespace that would get a sidecar on restart (injection takes precedence)."""
    if pod.has_sidecar or revision_on_restart is None or pod.component is not None:
        return False
    if pod.labels.get(DATAPLANE_MODE) == "none":
        return False
    return is_ambient_namespace(namespace_labels) or pod.labels.get(DATAPLANE_MODE) == AMBIENT


def versions_by_revision(revisions: Iterable[tuple[str, str | None]]) -> Mapping[str, str | None]:
    """A revision name -> version map (the first seen wins)."""
    out: dict[str, str | None] = {}
    for name, version in revisions:
        out.setdefault(name, version)
    return out
