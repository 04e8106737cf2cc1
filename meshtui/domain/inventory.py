"""The incremental inventory behind the live UI and `status`: watch events in, immutable views out.

A pod event changes only that pod's row and its namespace's counters (by delta). Only a change that can
alter other pods' fate recomputes them: webhooks, revisions, tags or injector config (every pod of the
cluster), a namespace relabel (its pods), a workload's template (that workload's pods).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any, TypeVar

from meshtui.domain.ambient import DATAPLANE_MODE, USE_WAYPOINT, DataPlaneComponent, data_plane_components
from meshtui.domain.gates import Gates, detect_source_target, evaluate_gates
from meshtui.domain.gateways import GatewayRow, gateway_rows
from meshtui.domain.injection import InjectionEvaluator, InjectionOutcome, NamespaceInjection
from meshtui.domain.namespaces import Contribution, NamespaceRow, contribution
from meshtui.domain.objects import (
    NAMESPACE_NAME_LABEL,
    REV_LABEL,
    TAG_LABEL,
    WORKLOAD_KINDS,
    Gateway,
    InjectorConfig,
    Labels,
    Model,
    Namespace,
    Pod,
    PodDisruptionBudget,
    Service,
    WebhookConfiguration,
    Workload,
    freeze_labels,
    kind_of,
)
from meshtui.domain.pods import Ownership, PodRow, assess_pod, ownership
from meshtui.domain.revisions import ControlPlane, Revision, Tag, control_plane, is_istiod
from meshtui.domain.skew import SkewWarning, canary_jump, skew_warnings
from meshtui.domain.snapshot import ClusterSnapshot, MeshSnapshot
from meshtui.domain.templates import TemplateRow, assess_template, is_top_level

EVENT_TYPES = ("ADDED", "MODIFIED", "DELETED")
K = TypeVar("K")
M = TypeVar("M")
NsKey = tuple[str, str]
WorkloadKey = tuple[str, str, str]
OwnerKey = tuple[str, str, str]  # (namespace, kind, name)
_MAX_PROBLEMS = 100


@dataclass(frozen=True, slots=True)
class ClusterInfo:
    """A cluster of the mesh: its kube context name and API server."""

    name: str
    server: str | None


@dataclass(frozen=True, slots=True)
class InventoryView:
    """An immutable picture of the whole mesh for rendering, `status --json` and the gates."""

    version: int
    clusters: tuple[ClusterInfo, ...]
    control_planes: tuple[ControlPlane, ...]
    namespaces: tuple[NamespaceRow, ...]
    pods_by_namespace: Mapping[NsKey, tuple[PodRow, ...]]  # (cluster, namespace) -> rows sorted by name
    gateways: tuple[GatewayRow, ...]
    skew: tuple[SkewWarning, ...]
    problems: tuple[str, ...] = ()  # objects that could not be modelled, as "cluster: message"
    # Pod templates a pod created now would get a proxy (or be at risk) from, whether or not pods exist.
    templates: tuple[TemplateRow, ...] = ()
    # The ambient node agents (ztunnel, istio-cni) of every cluster, never counted as sidecar pods.
    components: tuple[DataPlaneComponent, ...] = ()
    source: str | None = None
    target: str | None = None
    gates: Gates | None = None

    @property
    def revisions(self) -> tuple[Revision, ...]:
        """Every revision of every cluster."""
        return tuple(r for cp in self.control_planes for r in cp.revisions)

    @property
    def tags(self) -> tuple[Tag, ...]:
        """Every tag of every cluster."""
        return tuple(t for cp in self.control_planes for t in cp.tags)

    def pods(self, cluster: str | None = None, namespace: str | None = None) -> Iterator[PodRow]:
        """Pod rows in (cluster, namespace, name) order, optionally of one cluster and namespace."""
        if cluster is not None and namespace is not None:
            yield from self.pods_by_namespace.get((cluster, namespace), ())
            return
        for (c, _), rows in sorted(self.pods_by_namespace.items()):
            if cluster is None or c == cluster:
                yield from rows

    def namespace(self, cluster: str, name: str) -> NamespaceRow | None:
        """The row of one namespace."""
        return next((n for n in self.namespaces if n.cluster == cluster and n.name == name), None)

    def control_plane(self, cluster: str) -> ControlPlane | None:
        """The control plane of one cluster."""
        return next((cp for cp in self.control_planes if cp.cluster == cluster), None)


@dataclass(slots=True)
class _Counts:
    live: int = 0
    no_sidecar: int = 0
    at_risk: int = 0
    terminal: int = 0
    by_revision: Counter[str] = field(default_factory=Counter)
    mesh: Counter[tuple[str, str | None]] = field(default_factory=Counter)

    def add(self, c: Contribution, sign: int) -> None:
        self.live += sign * c.live
        self.no_sidecar += sign * c.no_sidecar
        self.at_risk += sign * c.at_risk
        self.terminal += sign * c.terminal
        if c.revision is not None:
            self.by_revision[c.revision] += sign
            if not self.by_revision[c.revision]:
                del self.by_revision[c.revision]
        if c.mesh is not None:
            self.mesh[c.mesh] += sign
            if not self.mesh[c.mesh]:
                del self.mesh[c.mesh]

    @property
    def empty(self) -> bool:
        return not (self.live or self.terminal)


def _default_namespace_labels(name: str) -> Labels:
    return freeze_labels({NAMESPACE_NAME_LABEL: name})


class _Cluster:
    """The objects and derived rows of one cluster, with the indexes that keep recomputation local."""

    def __init__(self, name: str, server: str | None) -> None:
        self.name = name
        self.server = server
        self.namespaces: dict[str, Namespace] = {}
        self.pods: dict[NsKey, Pod] = {}
        self.rows: dict[str, dict[str, PodRow]] = {}
        self.workloads: dict[WorkloadKey, Workload] = {}
        self.children: dict[OwnerKey, set[WorkloadKey]] = {}
        self.pods_by_owner: dict[OwnerKey, set[str]] = {}
        self.ownerships: dict[OwnerKey, Ownership] = {}
        self.mwcs: dict[str, WebhookConfiguration] = {}
        self.vwcs: dict[str, WebhookConfiguration] = {}
        self.services: dict[NsKey, Service] = {}
        self.injectors: dict[NsKey, InjectorConfig] = {}
        self.pdbs: dict[NsKey, PodDisruptionBudget] = {}
        self.gateways: dict[NsKey, Gateway] = {}
        self.known_kinds: set[str] = set()
        self.problems: list[str] = []  # objects the cluster layer or a dump could not model
        self.counts: dict[str, _Counts] = {}
        self.proxies: Counter[tuple[str, str | None]] = Counter()
        self.gateway_pods: set[NsKey] = set()
        self.control_plane = control_plane(name, ())
        self.evaluator = InjectionEvaluator(())
        # Work queued by events and done once by flush().
        self.dirty_pods: set[NsKey] = set()
        self.dirty_templates: set[WorkloadKey] = set()
        self.dirty_template_namespaces: set[str] = set()
        self.dirty_all = False
        # Every top-level workload's template row, and the sorted meshed ones for the view.
        self.templates: dict[WorkloadKey, TemplateRow] = {}
        self.template_tuple: tuple[TemplateRow, ...] | None = None
        # The meshed or at-risk template rows in view order as assessed, and as shown (with their live flag),
        # kept while only whether templates have live pods changes (each pod list page flips hundreds): only
        # the flipped rows (`template_flips`) are then redone, without sorting.
        self.template_order: list[TemplateRow] | None = None
        self.template_shown: list[TemplateRow] = []
        self.template_pos: dict[WorkloadKey, int] = {}
        self.template_flips: set[WorkloadKey] = set()
        self.agent_pods: set[NsKey] = set()  # ztunnel and istio-cni pods
        self.template_pods: Counter[WorkloadKey] = Counter()  # live pods by their top workload
        self.components: tuple[DataPlaneComponent, ...] | None = None
        self.control_plane_dirty = False
        # View caches, dropped when what they show changes.
        self.ns_rows: dict[str, NamespaceRow] = {}
        self.pod_tuples: dict[str, tuple[PodRow, ...]] = {}
        # What each namespace asks for under the current evaluator: read for every pod assessed.
        self.ns_injections: dict[str, NamespaceInjection] = {}
        # The injection outcome of each controller's template in its namespace (the same for all its pods):
        # namespace -> (owner kind, owner name) -> outcome. Dropped with the ownerships, the evaluator or
        # the namespace's labels.
        self.outcomes: dict[str, dict[tuple[str, str], InjectionOutcome]] = {}

    # ---------------------------------------------------------------------------------------- events

    def apply(self, kind: str, event: str, obj: Model) -> bool:
        """Record one event; returns whether anything changed. Call flush() to bring rows up to date."""
        if event not in EVENT_TYPES:
            raise ValueError(f"unknown event type {event!r}")
        if kind not in self.known_kinds:
            self.known_kinds.add(kind)
            # Once Services are listed, a webhook whose Service is absent is known to be dangling.
            self.control_plane_dirty |= kind == "Service"
        deleted = event == "DELETED"
        if isinstance(obj, Pod):
            return self._pod(obj, deleted)
        if isinstance(obj, Namespace):
            return self._namespace(obj, deleted)
        if isinstance(obj, Workload):
            return self._workload(obj, deleted)
        if isinstance(obj, WebhookConfiguration):
            table = self.mwcs if obj.kind == "MutatingWebhookConfiguration" else self.vwcs
            changed = _store(table, obj.name, obj, deleted)
            self.control_plane_dirty |= changed
            return changed
        if isinstance(obj, Service):
            old = self.services.get(obj.key)
            changed = _store(self.services, obj.key, obj, deleted)
            if changed and (self._service_matters(obj) or (old is not None and self._service_matters(old))):
                self.control_plane_dirty = True
            return changed
        if isinstance(obj, InjectorConfig):
            changed = _store(self.injectors, obj.key, obj, deleted)
            self.control_plane_dirty |= changed
            return changed
        if isinstance(obj, PodDisruptionBudget):
            return _store(self.pdbs, obj.key, obj, deleted)
        if isinstance(obj, Gateway):
            return _store(self.gateways, obj.key, obj, deleted)
        raise TypeError(f"cannot apply a {type(obj).__name__}")

    def _service_matters(self, service: Service) -> bool:
        """A Service counts for the control plane if it is istiod's, a tag's, or a webhook calls it."""
        labels = service.labels
        if labels.get("app") == "istiod" or TAG_LABEL in labels or REV_LABEL in labels:
            return True
        ref = f"{service.namespace}/{service.name}"
        return any(h.service == ref for c in (*self.mwcs.values(), *self.vwcs.values()) for h in c.webhooks)

    def _pod(self, pod: Pod, deleted: bool) -> bool:
        key = (pod.namespace, pod.name)
        old = self.pods.get(key)
        if deleted:
            if old is None:
                return False
            del self.pods[key]
            self._index_pod(old, add=False)
            if old.component is not None:
                self.components = None
                self.agent_pods.discard(key)
            self.dirty_pods.add(key)
            return True
        if old is pod or old == pod:  # a relist hands back the models it already gave
            return False
        if pod.component is not None or (old is not None and old.component is not None):
            self.components = None
            if pod.component is not None:
                self.agent_pods.add(key)
            else:
                self.agent_pods.discard(key)
        if old is not None:
            self._index_pod(old, add=False)
        self.pods[key] = pod
        self._index_pod(pod, add=True)
        self.dirty_pods.add(key)
        return True

    def _index_pod(self, pod: Pod, add: bool) -> None:
        if pod.owner_kind is None or pod.owner_name is None:
            return
        key = (pod.namespace, pod.owner_kind, pod.owner_name)
        if add:
            names = self.pods_by_owner.get(key)
            if names is None:
                self.pods_by_owner[key] = {pod.name}
            else:
                names.add(pod.name)
        else:
            names = self.pods_by_owner.get(key)
            if names is not None:
                names.discard(pod.name)
                if not names:
                    del self.pods_by_owner[key]

    def _namespace(self, ns: Namespace, deleted: bool) -> bool:
        old = self.namespaces.get(ns.name)
        if deleted:
            if old is None:
                return False
            del self.namespaces[ns.name]
        else:
            if old is ns or old == ns:
                return False
            self.namespaces[ns.name] = ns
        self.ns_rows.pop(ns.name, None)
        self.ns_injections.pop(ns.name, None)
        self.outcomes.pop(ns.name, None)
        new_labels = None if deleted else ns.labels
        if old is None or new_labels is None or old.labels != new_labels:
            self.dirty_pods.update((ns.name, name) for name in self.rows.get(ns.name, {}))
            self.dirty_template_namespaces.add(ns.name)
        return True

    def _workload(self, wl: Workload, deleted: bool) -> bool:
        old = self.workloads.get(wl.key)
        if deleted:
            if old is None:
                return False
            del self.workloads[wl.key]
        else:
            if old is wl or old == wl:
                return False
            self.workloads[wl.key] = wl
        if old is not None:
            self._index_workload(old, add=False)
        if not deleted:
            self._index_workload(wl, add=True)
        if is_istiod(wl) or (old is not None and is_istiod(old)):
            self.control_plane_dirty = True
        if wl.kind == "DaemonSet":
            self.components = None
        self._template_changed(old, wl)
        if old is None or deleted or old.template_key != wl.template_key:
            self.ownerships.clear()
            self.outcomes.clear()
            self.dirty_pods.update(self._pods_under((wl.namespace, wl.kind, wl.name)))
        return True

    def _template_changed(self, old: Workload | None, wl: Workload) -> None:
        """Queue the template rows a workload event can change: its own and those borrowing or lent to."""
        self.dirty_templates.add(wl.key)
        for w in (old, wl):
            if w is not None and w.kind == "Rollout" and w.workload_ref:
                ref_kind, _, ref_name = w.workload_ref.partition("/")
                self.dirty_templates.add((ref_kind, w.namespace, ref_name))
        if wl.kind == "Deployment":
            self.dirty_templates.update(
                k for k in self.children.get((wl.namespace, wl.kind, wl.name), ()) if k[0] == "Rollout"
            )

    def _index_workload(self, wl: Workload, add: bool) -> None:
        parents: list[OwnerKey] = []
        if wl.owner is not None:
            parents.append((wl.namespace, wl.owner.kind, wl.owner.name))
        if wl.workload_ref:
            ref_kind, _, ref_name = wl.workload_ref.partition("/")
            parents.append((wl.namespace, ref_kind, ref_name))
        for parent in parents:
            if add:
                self.children.setdefault(parent, set()).add(wl.key)
            else:
                kids = self.children.get(parent)
                if kids is not None:
                    kids.discard(wl.key)
                    if not kids:
                        del self.children[parent]

    def _pods_under(self, owner: OwnerKey, depth: int = 0) -> set[NsKey]:
        """Pods owned by a workload directly or through its children (ReplicaSets, Jobs, Rollouts)."""
        namespace = owner[0]
        found = {(namespace, name) for name in self.pods_by_owner.get(owner, ())}
        if depth < 3:
            for kind, ns, name in self.children.get(owner, ()):
                found |= self._pods_under((ns, kind, name), depth + 1)
        return found

    # ---------------------------------------------------------------------------------------- recomputation

    def flush(self) -> None:
        """Bring control plane, pod rows and counters up to date with the recorded events."""
        if self.control_plane_dirty:
            self.control_plane_dirty = False
            services = self.services if "Service" in self.known_kinds else None
            cp = control_plane(
                self.name,
                self.mwcs.values(),
                self.vwcs.values(),
                (w for w in self.workloads.values() if is_istiod(w)),
                services,
                self.injectors.values(),
            )
            names = None if services is None else frozenset(f"{ns}/{n}" for ns, n in services)
            versions = {r.name: r.version for r in cp.revisions}
            evaluator = InjectionEvaluator.build(self.mwcs.values(), self.injectors.values(), names, versions)
            if evaluator.fingerprint != self.evaluator.fingerprint or cp.fingerprint != self.control_plane.fingerprint:
                self.evaluator = evaluator
                self.dirty_all = True
            self.control_plane = cp
            self.components = None
        if self.dirty_all:
            self.dirty_all = False
            self.dirty_pods = set(self.pods) | {(ns, n) for ns, rows in self.rows.items() for n in rows}
            self.ns_rows.clear()
            self.ns_injections.clear()
            self.outcomes.clear()
            self.dirty_templates = set(self.workloads) | set(self.templates)
            self.dirty_template_namespaces.clear()
        dirty, self.dirty_pods = self.dirty_pods, set()
        for key in dirty:
            self._recompute(key)
        self._flush_templates()

    def _flush_templates(self) -> None:
        if self.dirty_template_namespaces:
            namespaces, self.dirty_template_namespaces = self.dirty_template_namespaces, set()
            self.dirty_templates.update(k for k in (*self.workloads, *self.templates) if k[1] in namespaces)
        if not self.dirty_templates:
            return
        dirty, self.dirty_templates = self.dirty_templates, set()
        for key in dirty:
            wl = self.workloads.get(key)
            row: TemplateRow | None = None
            if wl is not None:
                borrowed = wl.kind == "Deployment" and any(
                    k[0] == "Rollout" for k in self.children.get((wl.namespace, wl.kind, wl.name), ())
                )
                if is_top_level(wl, borrowed):
                    row = assess_template(
                        wl,
                        self.workloads,
                        self.namespace_labels(wl.namespace),
                        self.namespace_injection(wl.namespace),
                        self.evaluator,
                        self.control_plane.resolve,
                    )
            old = self.templates.get(key)
            if row is None:
                if old is not None:
                    del self.templates[key]
                    self.template_tuple = self.template_order = None
            elif old != row:
                self.templates[key] = row
                self.template_tuple = self.template_order = None

    def _recompute(self, key: NsKey) -> None:
        namespace, name = key
        pod = self.pods.get(key)
        ns_rows = self.rows.get(namespace)
        old = ns_rows.get(name) if ns_rows is not None else None
        new = self.assess(pod) if pod is not None else None
        if old is new or (old is not None and old == new):
            return
        counts = self.counts.get(namespace)
        if counts is None:
            counts = self.counts[namespace] = _Counts()
        if old is not None:
            self._count(counts, old, -1)
        if new is not None:
            self._count(counts, new, +1)
            if ns_rows is None:
                self.rows[namespace] = {name: new}
            else:
                ns_rows[name] = new
        elif ns_rows is not None:
            del ns_rows[name]
            if not ns_rows:
                del self.rows[namespace]
        if counts.empty and namespace not in self.rows:
            del self.counts[namespace]
        self.ns_rows.pop(namespace, None)
        self.pod_tuples.pop(namespace, None)

    def _count(self, counts: _Counts, row: PodRow, sign: int) -> None:
        c = contribution(row)
        counts.add(c, sign)
        if c.proxy is not None:
            self.proxies[c.proxy] += sign
            if not self.proxies[c.proxy]:
                del self.proxies[c.proxy]
        if row.gateway is not None:
            if sign > 0:
                self.gateway_pods.add(row.pod.key)
            else:
                self.gateway_pods.discard(row.pod.key)
        if row.live and row.workload_kind and row.workload_name:
            key = (row.workload_kind, row.namespace, row.workload_name)
            n = self.template_pods[key] + sign
            if n:
                self.template_pods[key] = n
            else:
                del self.template_pods[key]
            if (n == 0) != (n - sign == 0):  # whether the template has live pods changed
                self.template_flips.add(key)
                self.template_tuple = None

    def namespace_labels(self, name: str) -> Labels:
        ns = self.namespaces.get(name)
        return ns.labels if ns is not None else _default_namespace_labels(name)

    def namespace_injection(self, name: str) -> NamespaceInjection:
        found = self.ns_injections.get(name)
        if found is None:
            found = self.ns_injections[name] = self.evaluator.namespace(name, self.namespace_labels(name))
        return found

    def assess(self, pod: Pod) -> PodRow:
        namespace = pod.namespace
        labels = self.namespace_labels(namespace)
        owned = self._ownership(pod)
        outcome: InjectionOutcome | None = None
        template = owned.template
        if owned.top is not None and not template.rendered and pod.owner_kind and pod.owner_name:
            # A shared ownership (see _ownership): its template, and so its outcome, is the controller's.
            by_owner = self.outcomes.get(namespace)
            if by_owner is None:
                by_owner = self.outcomes[namespace] = {}
            owner = (pod.owner_kind, pod.owner_name)
            outcome = by_owner.get(owner)
            if outcome is None:
                outcome = by_owner[owner] = self.evaluator.evaluate(
                    namespace, labels, template.labels, template.inject_annotation, template.host_network
                )
        return assess_pod(
            pod,
            labels,
            owned,
            self.evaluator,
            self.control_plane.resolve,
            self.namespace_injection(namespace),
            outcome,
        )

    def _ownership(self, pod: Pod) -> Ownership:
        """Ownership is the same for every pod of one controller, so it is cached per controller."""
        if pod.owner_kind is None or pod.owner_name is None:
            return ownership(pod, self.workloads)
        key = (pod.namespace, pod.owner_kind, pod.owner_name)
        owned = self.ownerships.get(key)
        if owned is None:
            owned = ownership(pod, self.workloads)
            if owned.top is None:
                return owned  # the fallback template is the pod's own, so it is not shared
            self.ownerships[key] = owned
        return owned

    # ---------------------------------------------------------------------------------------- views

    def namespace_row(self, name: str) -> NamespaceRow:
        row = self.ns_rows.get(name)
        if row is None:
            counts = self.counts.get(name) or _Counts()
            row = NamespaceRow(
                cluster=self.name,
                name=name,
                injection=self.namespace_injection(name),
                live=counts.live,
                by_revision=MappingProxyType(dict(sorted(counts.by_revision.items()))),
                no_sidecar=counts.no_sidecar,
                at_risk=counts.at_risk,
                terminal=counts.terminal,
                mesh_pods=MappingProxyType(dict(counts.mesh)),
                known=name in self.namespaces,
                dataplane_mode=self.namespace_labels(name).get(DATAPLANE_MODE),
                use_waypoint=self.namespace_labels(name).get(USE_WAYPOINT),
            )
            self.ns_rows[name] = row
        return row

    def pod_rows(self, namespace: str) -> tuple[PodRow, ...]:
        rows = self.pod_tuples.get(namespace)
        if rows is None:
            by_name = self.rows.get(namespace, {})
            rows = self.pod_tuples[namespace] = tuple(by_name[n] for n in sorted(by_name))
        return rows

    def template_rows(self) -> tuple[TemplateRow, ...]:
        """The templates that would give a new pod a proxy, or are at risk, in (namespace, name) order."""
        if self.template_tuple is None:
            if self.template_order is None:
                assessed = [t for t in self.templates.values() if t.meshed or t.at_risk]
                self.template_order = sorted(assessed, key=lambda t: (t.namespace, t.name, t.kind))
                self.template_pos = {t.key: i for i, t in enumerate(self.template_order)}
                self.template_shown = [self._shown_template(t) for t in self.template_order]
            else:
                for key in self.template_flips:
                    at = self.template_pos.get(key)
                    if at is not None:
                        self.template_shown[at] = self._shown_template(self.template_order[at])
            self.template_flips.clear()
            self.template_tuple = tuple(self.template_shown)
        return self.template_tuple

    def _shown_template(self, t: TemplateRow) -> TemplateRow:
        live = t.key in self.template_pods
        return t if t.live_pods == live else replace(t, live_pods=live)

    def data_plane_components(self) -> tuple[DataPlaneComponent, ...]:
        """ztunnel and istio-cni of this cluster, with their node pods."""
        if self.components is None:
            self.components = data_plane_components(
                self.name,
                (w for w in self.workloads.values() if w.kind == "DaemonSet"),
                (self.pods[k] for k in self.agent_pods if k in self.pods),
                self.control_plane.resolve,
            )
        return self.components

    def gateway_rows(self) -> list[GatewayRow]:
        rows = [self.rows[ns][name] for ns, name in self.gateway_pods]
        cp = self.control_plane
        return gateway_rows(
            rows,
            self.gateways.values(),
            self.workloads,
            self.namespace_labels,
            cp.resolve,
            cp.default_revision,
            self.template_rows(),
        )

    def snapshot(self) -> ClusterSnapshot:
        models: list[Model] = [
            *self.namespaces.values(),
            *self.pods.values(),
            *self.workloads.values(),
            *self.mwcs.values(),
            *self.vwcs.values(),
            *self.services.values(),
            *self.injectors.values(),
            *self.pdbs.values(),
            *self.gateways.values(),
        ]
        return ClusterSnapshot.from_models(self.name, models, self.server, known_kinds=self.known_kinds)

    def table_of(self, kind: str) -> Mapping[object, Model] | None:
        """The objects of a kind by their `key`, when one table holds exactly that kind."""
        tables: dict[str, Mapping[Any, Model]] = {
            "Pod": self.pods,
            "Namespace": self.namespaces,
            "MutatingWebhookConfiguration": self.mwcs,
            "ValidatingWebhookConfiguration": self.vwcs,
            "Service": self.services,
            "ConfigMap": self.injectors,
            "PodDisruptionBudget": self.pdbs,
            "Gateway": self.gateways,
        }
        return tables.get(kind)

    def models_of(self, kind: str) -> list[Model]:
        if kind in WORKLOAD_KINDS:
            return [w for w in self.workloads.values() if w.kind == kind]
        table = self.table_of(kind)
        return list(table.values()) if table is not None else []


def _store(table: dict[K, M], key: K, obj: M, deleted: bool) -> bool:
    if deleted:
        return table.pop(key, None) is not None
    old = table.get(key)
    if old is obj or old == obj:
        return False
    table[key] = obj
    return True


class Inventory:
    """The live state of a mesh, fed by watch events (`apply`) and relists (`replace`), read by `view()`."""

    def __init__(self) -> None:
        self._clusters: dict[str, _Cluster] = {}
        self._version = 0
        self._view: tuple[tuple[object, ...], InventoryView] | None = None

    @property
    def version(self) -> int:
        """Bumped by every change; equal versions mean identical views."""
        return self._version

    @property
    def clusters(self) -> tuple[str, ...]:
        """The cluster names, in the order they were added."""
        return tuple(self._clusters)

    def add_cluster(self, name: str, server: str | None = None) -> None:
        """Register a cluster (its kube context name) before or while its objects arrive."""
        cluster = self._clusters.get(name)
        if cluster is None:
            self._clusters[name] = _Cluster(name, server)
            self._version += 1
        elif server is not None and cluster.server != server:
            cluster.server = server
            self._version += 1

    def add_problem(self, cluster: str, message: str) -> None:
        """Record an object that could not be modelled (a `MalformedObject`), so it is shown, not dropped."""
        state = self._cluster(cluster)
        state.problems.append(message)
        del state.problems[:-_MAX_PROBLEMS]
        self._version += 1

    def _cluster(self, name: str) -> _Cluster:
        if name not in self._clusters:
            self.add_cluster(name)
        return self._clusters[name]

    def apply(self, cluster: str, kind: str, event_type: str, obj: Model) -> bool:
        """Apply one watch event (ADDED, MODIFIED or DELETED); returns whether the view changed."""
        state = self._cluster(cluster)
        changed = state.apply(kind, event_type, obj)
        state.flush()
        if changed:
            self._version += 1
        return changed

    def apply_batch(self, cluster: str, events: Iterable[tuple[str, str, Model]]) -> bool:
        """Apply (kind, event type, object) events in order, recomputing once at the end: the same as one
        `apply` each, for a fraction of the cost when thousands arrive together (a list page, a burst)."""
        state = self._cluster(cluster)
        changed = False
        for kind, event_type, obj in events:
            changed |= state.apply(kind, event_type, obj)
        state.flush()
        if changed:
            self._version += 1
        return changed

    def holds(self, cluster: str, kind: str) -> bool:
        """Whether any object of that kind of that cluster is held."""
        state = self._clusters.get(cluster)
        return state is not None and bool(state.models_of(kind))

    def replace(self, cluster: str, kind: str, models: Iterable[Model]) -> bool:
        """Replace every object of a kind after a relist: vanished ones are deleted, the rest upserted."""
        state = self._cluster(cluster)
        changed = kind not in state.known_kinds
        if changed:
            state.known_kinds.add(kind)
            state.control_plane_dirty |= kind == "Service"
        fresh: dict[object, Model] = {m.key: m for m in models}
        table = state.table_of(kind)
        if table is None:
            held: Mapping[object, Model] = {m.key: m for m in state.models_of(kind)}
        else:
            held = table
        for key in [key for key in held if key not in fresh]:
            changed |= state.apply(kind, "DELETED", held[key])
        for key, model in fresh.items():
            # After a watch's list pages, most are the very models the inventory already holds.
            if held.get(key) is not model:
                changed |= state.apply(kind, "MODIFIED", model)
        state.flush()
        if changed:
            self._version += 1
        return changed

    def view(
        self,
        source: str | None = None,
        target: str | None = None,
        chosen: str | None = None,
        plan_shown: bool = False,
    ) -> InventoryView:
        """An immutable view with gate verdicts for (source, target), auto-detected when not given."""
        key = (self._version, source, target, chosen, plan_shown)
        if self._view is not None and self._view[0] == key:
            return self._view[1]
        clusters = list(self._clusters.values())
        namespaces: list[NamespaceRow] = []
        pods: dict[NsKey, tuple[PodRow, ...]] = {}
        gateways: list[GatewayRow] = []
        templates: list[TemplateRow] = []
        components: list[DataPlaneComponent] = []
        for c in clusters:
            templates.extend(c.template_rows())
            components.extend(c.data_plane_components())
            for name in sorted(set(c.namespaces) | set(c.counts)):
                namespaces.append(c.namespace_row(name))
                pods[(c.name, name)] = c.pod_rows(name)
            gateways.extend(c.gateway_rows())
        control_planes = tuple(c.control_plane for c in clusters)
        revisions = [r for cp in control_planes for r in cp.revisions]
        proxies = Counter({(c.name, rev, pv): n for c in clusters for (rev, pv), n in c.proxies.items()})
        view = InventoryView(
            version=self._version,
            clusters=tuple(ClusterInfo(c.name, c.server) for c in clusters),
            control_planes=control_planes,
            namespaces=tuple(sorted(namespaces, key=lambda n: (n.cluster, n.name))),
            pods_by_namespace=MappingProxyType(pods),
            gateways=tuple(sorted(gateways, key=lambda g: (g.cluster, g.namespace, g.name))),
            skew=(),
            problems=tuple(f"{c.name}: {p}" for c in clusters for p in c.problems),
            templates=tuple(templates),
            components=tuple(components),
        )
        skew = list(skew_warnings(proxies, revisions, lambda c, r, pv: _skew_offenders(view, c, r, pv)))
        if source is None and target is None:
            detected = detect_source_target(revisions)
            if detected is not None:
                source, target = detected
        if source and target:
            versions = {r.name: r.version for r in revisions}
            jump = canary_jump(versions.get(source), versions.get(target))
            if jump is not None:
                skew.insert(0, jump)
        view = replace(
            view,
            skew=tuple(skew),
            source=source,
            target=target,
            gates=evaluate_gates(view, source, target, chosen, plan_shown),
        )
        self._view = (key, view)
        return view

    def snapshot(self) -> MeshSnapshot:
        """The current objects as an immutable mesh snapshot (for plans and offline analysis)."""
        return MeshSnapshot(tuple(c.snapshot() for c in self._clusters.values()))

    @classmethod
    def from_snapshot(cls, mesh: MeshSnapshot) -> Inventory:
        """Build an inventory from scratch (every kind of every cluster replaced at once)."""
        inventory = cls()
        for snap in mesh.clusters:
            inventory.add_cluster(snap.name, snap.server)
            for problem in snap.problems:
                inventory.add_problem(snap.name, problem)
            by_kind: dict[str, list[Model]] = {k: [] for k in snap.known_kinds}
            for model in snap.models():
                by_kind.setdefault(kind_of(model), []).append(model)
            # Control-plane kinds first, so pods are assessed once against the final webhooks.
            order = sorted(by_kind, key=lambda k: (k in ("Pod", "Namespace"), k))
            for kind in order:
                inventory.replace(snap.name, kind, by_kind[kind])
        return inventory


def _skew_offenders(view: InventoryView, cluster: str, revision: str, proxy_version: str | None) -> tuple[str, ...]:
    found: list[str] = []
    for row in view.pods(cluster):
        if (
            row.live
            and row.has_sidecar
            and (row.revision or "unknown") == revision
            and row.proxy_version == proxy_version
        ):
            found.append(f"{row.namespace}/{row.name}")
            if len(found) == 5:
                break
    return tuple(found)


def build_view(mesh: MeshSnapshot, source: str | None = None, target: str | None = None) -> InventoryView:
    """The pure computation over a snapshot: every row, counter and gate verdict."""
    return Inventory.from_snapshot(mesh).view(source, target)
