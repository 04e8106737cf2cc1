"""Immutable snapshots of the objects of one cluster and of a mesh (one or more clusters): the pure input."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from meshtui.domain.objects import (
    Gateway,
    InjectorConfig,
    MalformedObject,
    Model,
    Namespace,
    Pod,
    PodDisruptionBudget,
    Service,
    WebhookConfiguration,
    Workload,
    kind_of,
    parse_object,
)

NsKey = tuple[str, str]
WorkloadKey = tuple[str, str, str]


def _frozen(d: dict[Any, Any]) -> Mapping[Any, Any]:
    return MappingProxyType(d)


@dataclass(frozen=True, slots=True)
class ClusterSnapshot:
    """Every modelled object of one cluster (kube context), keyed by (namespace, name) or by name."""

    name: str
    server: str | None = None
    namespaces: Mapping[str, Namespace] = field(default_factory=dict)
    pods: Mapping[NsKey, Pod] = field(default_factory=dict)
    workloads: Mapping[WorkloadKey, Workload] = field(default_factory=dict)  # (kind, namespace, name)
    mutating_webhooks: Mapping[str, WebhookConfiguration] = field(default_factory=dict)
    validating_webhooks: Mapping[str, WebhookConfiguration] = field(default_factory=dict)
    services: Mapping[NsKey, Service] = field(default_factory=dict)
    injectors: Mapping[NsKey, InjectorConfig] = field(default_factory=dict)
    pdbs: Mapping[NsKey, PodDisruptionBudget] = field(default_factory=dict)
    gateways: Mapping[NsKey, Gateway] = field(default_factory=dict)
    # Kinds that were listed: a webhook's Service is "missing" only if Services were listed at all.
    known_kinds: frozenset[str] = frozenset()
    problems: tuple[str, ...] = ()

    @classmethod
    def from_models(
        cls,
        name: str,
        models: Iterable[Model],
        server: str | None = None,
        known_kinds: Iterable[str] | None = None,
        problems: Iterable[str] = (),
    ) -> ClusterSnapshot:
        """Collect models into a snapshot; `known_kinds` defaults to the kinds present."""
        buckets: dict[str, dict[Any, Any]] = {
            k: {} for k in ("ns", "pod", "wl", "mwc", "vwc", "svc", "inj", "pdb", "gw")
        }
        kinds: set[str] = set()
        for m in models:
            kinds.add(kind_of(m))
            if isinstance(m, Namespace):
                buckets["ns"][m.name] = m
            elif isinstance(m, Pod):
                buckets["pod"][m.key] = m
            elif isinstance(m, Workload):
                buckets["wl"][m.key] = m
            elif isinstance(m, WebhookConfiguration):
                bucket = "mwc" if m.kind == "MutatingWebhookConfiguration" else "vwc"
                buckets[bucket][m.name] = m
            elif isinstance(m, Service):
                buckets["svc"][m.key] = m
            elif isinstance(m, InjectorConfig):
                buckets["inj"][m.key] = m
            elif isinstance(m, PodDisruptionBudget):
                buckets["pdb"][m.key] = m
            elif isinstance(m, Gateway):
                buckets["gw"][m.key] = m
        return cls(
            name=name,
            server=server,
            namespaces=_frozen(buckets["ns"]),
            pods=_frozen(buckets["pod"]),
            workloads=_frozen(buckets["wl"]),
            mutating_webhooks=_frozen(buckets["mwc"]),
            validating_webhooks=_frozen(buckets["vwc"]),
            services=_frozen(buckets["svc"]),
            injectors=_frozen(buckets["inj"]),
            pdbs=_frozen(buckets["pdb"]),
            gateways=_frozen(buckets["gw"]),
            known_kinds=frozenset(kinds if known_kinds is None else known_kinds),
            problems=tuple(problems),
        )

    @classmethod
    def from_raw(cls, name: str, objects: Iterable[object], server: str | None = None) -> ClusterSnapshot:
        """Parse raw objects (flattening `kind: List`); malformed ones are skipped and reported."""
        models: list[Model] = []
        problems: list[str] = []
        kinds: set[str] = set()
        for raw in _flatten(objects):
            kind = raw.get("kind") if isinstance(raw, dict) else None
            if isinstance(kind, str):
                kinds.add(kind)
            try:
                model = parse_object(name, raw)
            except MalformedObject as exc:
                problems.append(f"skipped {exc}")
                continue
            if model is not None:
                models.append(model)
        return cls.from_models(name, models, server, known_kinds=kinds, problems=problems)

    def models(self) -> Iterable[Model]:
        """Every model of the snapshot."""
        yield from self.namespaces.values()
        yield from self.pods.values()
        yield from self.workloads.values()
        yield from self.mutating_webhooks.values()
        yield from self.validating_webhooks.values()
        yield from self.services.values()
        yield from self.injectors.values()
        yield from self.pdbs.values()
        yield from self.gateways.values()


def _flatten(objects: Iterable[object]) -> Iterable[object]:
    for raw in objects:
        if isinstance(raw, dict) and isinstance(raw.get("items"), list) and str(raw.get("kind", "")).endswith("List"):
            yield from _flatten(raw["items"])
        elif raw is not None:
            yield raw


@dataclass(frozen=True, slots=True)
class MeshSnapshot:
    """One mesh: the snapshots of every cluster it spans (one for a single-cluster mesh)."""

    clusters: tuple[ClusterSnapshot, ...]

    def cluster(self, name: str) -> ClusterSnapshot | None:
        """The snapshot of a named cluster."""
        return next((c for c in self.clusters if c.name == name), None)

    @property
    def multi_cluster(self) -> bool:
        """True when the mesh spans more than one cluster (offenders are then prefixed with the cluster)."""
        return len(self.clusters) > 1
