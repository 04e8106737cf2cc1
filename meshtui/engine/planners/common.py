"""What the planners share: where they read from, the request they answer, and the helpers of several actions.

Every planner reads the objects it changes again (the inventory view says what to change), so each
operation carries the resourceVersion it was planned against and shows before and after.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from meshtui.cluster.rawapi import RawApi
from meshtui.domain.gates import Gates
from meshtui.domain.injection import IGNORED_NAMESPACES
from meshtui.domain.inventory import InventoryView
from meshtui.domain.namespaces import NamespaceRow
from meshtui.domain.objects import INJECTION_LABEL, REV_LABEL
from meshtui.domain.plan import MERGE_PATCH, STRATEGIC_MERGE_PATCH, Operation
from meshtui.domain.revisions import ControlPlane
from meshtui.domain.selectors import LabelSelector, SelectorError
from meshtui.engine.kube import KINDS, meta
from meshtui.engine.record import UpgradeRecord

RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"
RESTARTABLE = ("Deployment", "StatefulSet", "DaemonSet", "Rollout")
NS_INJECTION = f"metadata.labels[{INJECTION_LABEL}]"
NS_REV = f"metadata.labels[{REV_LABEL}]"
TEMPLATE_REV = f"spec.template.metadata.labels[{REV_LABEL}]"
TEMPLATE_RESTARTED = f"spec.template.metadata.annotations[{RESTARTED_AT}]"
GATEWAY_COMPONENTS = ("IngressGateways", "EgressGateways")
COMPONENT_LABEL = "operator.istio.io/component"
#: Workloads restarted at once when the operator names no batch size.
DEFAULT_BATCH = 5


def rfc3339(t: datetime) -> str:
    """`2026-03-02T10:15:00Z`, the form `kubectl rollout restart` writes."""
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def workload_key(cluster: str, kind: str, namespace: str, name: str) -> str:
    """The key a restart is recorded under: `cluster|Kind|ns|name`."""
    return f"{cluster}|{kind}|{namespace}|{name}"


def workload_path(kind: str, namespace: str, name: str) -> str:
    """The URL path of a workload object."""
    return f"{KINDS[kind].collection(namespace)}/{name}"


@dataclass
class PlanContext:
    """Where the planners read from: one RawApi per cluster, each cluster's control-plane namespace, the clock."""

    apis: dict[str, RawApi]
    cp: dict[str, str]
    now: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))

    @property
    def first(self) -> str:
        """The first cluster (where the record and the lock live)."""
        return next(iter(self.apis))

    def multi(self) -> bool:
        """True for a mesh of several clusters."""
        return len(self.apis) > 1

    def where(self, cluster: str, *parts: str) -> str:
        """`ns/name`, prefixed with the cluster in a multi-cluster mesh."""
        return "/".join((cluster, *parts) if self.multi() else parts)


@dataclass(frozen=True, slots=True)
class PlanRequest:
    """What every planner is given besides its parameters: the clusters, the view, the pair and the record."""

    ctx: PlanContext
    view: InventoryView
    source: str
    target: str
    record: UpgradeRecord | None = None
    #: This operator's identity (the record's `started_by`, the lock's holder).
    me: str = ""
    #: The resourceVersion of the record as last read (a finished record is replaced conditionally on it).
    record_rv: str | None = None
    #: The Upgrade/Rollback/Finish verdicts the state machine judged on this view.
    gates: Gates | None = None


def fmt(value: str | None) -> str:
    """A label value as plans print it."""
    return "(none)" if value is None else value


def select_namespaces(
    ctx: PlanContext, view: InventoryView, refs: tuple[str, ...] | None, wanted: Callable[[NamespaceRow], bool]
) -> tuple[list[NamespaceRow], list[str]]:
    """Namespaces by `name` or `cluster/name` (a bare name means that namespace in every cluster), or all.

    Returns (rows, refusals for names that exist nowhere).
    """
    if refs is None:
        rows = [ns for ns in view.namespaces if ns.known and ns.name not in IGNORED_NAMESPACES and wanted(ns)]
        return rows, []
    rows, refusals = [], []
    for ref in refs:
        cluster, _, name = ref.rpartition("/")
        found = [ns for ns in view.namespaces if ns.name == name and (not cluster or ns.cluster == cluster)]
        if not found:
            refusals.append(f"namespace {ref} does not exist")
        rows.extend(f for f in found if f not in rows)
    return rows, refusals


def control_plane(view: InventoryView, cluster: str) -> ControlPlane:
    """The control plane of a cluster the session reads (every such cluster has one in the view)."""
    cp = view.control_plane(cluster)
    assert cp is not None
    return cp


def restart_operation(cluster: str, kind: str, namespace: str, name: str, stamp: str, summary: str) -> Operation:
    """`kubectl rollout restart` as an operation (Argo Rollouts: `spec.restartAt`), awaited until rolled out."""
    if kind == "Rollout":
        body: dict[str, Any] = {"spec": {"restartAt": stamp}}
        after = {"spec.restartAt": stamp}
        ctype = MERGE_PATCH
    else:
        body = {"spec": {"template": {"metadata": {"annotations": {RESTARTED_AT: stamp}}}}}
        after = {TEMPLATE_RESTARTED: stamp}
        ctype = STRATEGIC_MERGE_PATCH
    return Operation(
        cluster=cluster,
        verb="patch",
        api_path=KINDS[kind].collection(namespace),
        kind=kind,
        namespace=namespace,
        name=name,
        body=body,
        content_type=ctype,
        summary=summary,
        after=after,
        await_rollout=True,
    )


def int_or_percent(value: Any, total: int) -> int | None:
    """A PodDisruptionBudget count: an int, a digit string, or a percentage of `total` (rounded up)."""
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.endswith("%") and value[:-1].isdigit():
        return -(-int(value[:-1]) * total // 100)
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None


def blocking_pdb(
    pdbs: list[dict[str, Any]], namespace: str, pod_labels: Any, *, permanent: bool
) -> tuple[str, str] | None:
    """The first PDB over these pods that allows no disruption (`permanent`: by its spec, forever), with why."""
    for pdb in pdbs:
        if meta(pdb).get("namespace") != namespace:
            continue
        spec = pdb.get("spec") or {}
        try:
            selector = LabelSelector.from_dict(spec.get("selector"))
        except SelectorError:
            continue
        if not spec.get("selector") or not selector.matches(dict(pod_labels)):
            continue
        status = pdb.get("status") or {}
        expected = int(status.get("expectedPods") or 0)
        name = str(meta(pdb).get("name"))
        if permanent:
            if spec.get("maxUnavailable") is not None:
                allowed = int_or_percent(spec["maxUnavailable"], max(expected, 1))
                if allowed == 0:
                    return name, f"maxUnavailable: {spec['maxUnavailable']}"
            elif spec.get("minAvailable") is not None:
                need = int_or_percent(spec["minAvailable"], expected)
                if spec["minAvailable"] == "100%" or (need is not None and expected and need >= expected):
                    return name, f"minAvailable: {spec['minAvailable']} of {expected} pods"
        elif int(status.get("disruptionsAllowed") or 0) == 0 and expected > 0:
            healthy = status.get("currentHealthy")
            desired = status.get("desiredHealthy")
            return name, f"{healthy} healthy, {desired} required"
    return None
