"""Where each resource kind lives in the API, and the kinds meshtui watches on every cluster.

`KINDS` is the one kind -> API path table: the watches below and the engine's reads and writes both use it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

import orjson

from meshtui.cluster.reflector import WatchSpec
from meshtui.cluster.slimjson import decode_pod_list, decode_pod_page, decode_workload_list
from meshtui.domain.objects import WORKLOAD_KINDS, Model, parse_object


@dataclass(frozen=True, slots=True)
class KindInfo:
    """Where objects of one kind live in the API."""

    group: str
    version: str
    plural: str
    namespaced: bool

    @property
    def api_version(self) -> str:
        """`v1` or `group/version`."""
        return f"{self.group}/{self.version}" if self.group else self.version

    def collection(self, namespace: str | None) -> str:
        """The collection path, namespaced when the kind is and a namespace is given, else cluster-wide."""
        root = f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"
        if self.namespaced and namespace:
            return f"{root}/namespaces/{namespace}/{self.plural}"
        return f"{root}/{self.plural}"


KINDS: dict[str, KindInfo] = {
    "Namespace": KindInfo("", "v1", "namespaces", False),
    "ConfigMap": KindInfo("", "v1", "configmaps", True),
    "Secret": KindInfo("", "v1", "secrets", True),
    "Service": KindInfo("", "v1", "services", True),
    "ServiceAccount": KindInfo("", "v1", "serviceaccounts", True),
    "Pod": KindInfo("", "v1", "pods", True),
    "Deployment": KindInfo("apps", "v1", "deployments", True),
    "StatefulSet": KindInfo("apps", "v1", "statefulsets", True),
    "DaemonSet": KindInfo("apps", "v1", "daemonsets", True),
    "ReplicaSet": KindInfo("apps", "v1", "replicasets", True),
    "Job": KindInfo("batch", "v1", "jobs", True),
    "CronJob": KindInfo("batch", "v1", "cronjobs", True),
    "PodDisruptionBudget": KindInfo("policy", "v1", "poddisruptionbudgets", True),
    "HorizontalPodAutoscaler": KindInfo("autoscaling", "v2", "horizontalpodautoscalers", True),
    "Role": KindInfo("rbac.authorization.k8s.io", "v1", "roles", True),
    "RoleBinding": KindInfo("rbac.authorization.k8s.io", "v1", "rolebindings", True),
    "ClusterRole": KindInfo("rbac.authorization.k8s.io", "v1", "clusterroles", False),
    "ClusterRoleBinding": KindInfo("rbac.authorization.k8s.io", "v1", "clusterrolebindings", False),
    "NetworkPolicy": KindInfo("networking.k8s.io", "v1", "networkpolicies", True),
    "MutatingWebhookConfiguration": KindInfo(
        "admissionregistration.k8s.io", "v1", "mutatingwebhookconfigurations", False
    ),
    "ValidatingWebhookConfiguration": KindInfo(
        "admissionregistration.k8s.io", "v1", "validatingwebhookconfigurations", False
    ),
    "ValidatingAdmissionPolicy": KindInfo("admissionregistration.k8s.io", "v1", "validatingadmissionpolicies", False),
    "Lease": KindInfo("coordination.k8s.io", "v1", "leases", True),
    "Gateway": KindInfo("gateway.networking.k8s.io", "v1", "gateways", True),
    "Rollout": KindInfo("argoproj.io", "v1alpha1", "rollouts", True),
    "EnvoyFilter": KindInfo("networking.istio.io", "v1alpha3", "envoyfilters", True),
}

#: Pods a list page asks for (~12 MB of JSON at 6 KB a pod).
POD_PAGE_SIZE = 2000


def _parser(kind: str) -> Callable[[str, dict[str, Any]], Model | None]:
    return partial(_parse, kind)


def _parse(kind: str, cluster: str, raw: dict[str, Any]) -> Model | None:
    return parse_object(cluster, raw, kind)


def _spec(
    kind: str, *, metadata_only: bool = False, selector: str | None = None, optional: bool = False
) -> WatchSpec[Model]:
    return WatchSpec(
        kind=kind,
        path=KINDS[kind].collection(None),
        parse=_parser(kind),
        metadata_only=metadata_only,
        label_selector=selector,
        optional=optional,
        decode_list=_list_decoder(kind),
        # Pods are 95% of a list's bytes: modelled straight from typed structs, never as dicts.
        decode_page=decode_pod_page if kind == "Pod" else None,  # type: ignore[arg-type]
        # A quarter of the round trips of client-go's 500 (each waits behind whatever else the API server
        # is doing); the typed decode holds the GIL ~10 ms for such a page, less than orjson for 500 pods.
        page_size=POD_PAGE_SIZE if kind == "Pod" else None,
    )


def _list_decoder(kind: str) -> Callable[[bytes], Any]:
    """Pods and workloads (ReplicaSets outnumber pods in many clusters) keep only the fields their parser reads."""
    if kind == "Pod":
        return decode_pod_list
    if kind in WORKLOAD_KINDS:
        return decode_workload_list
    return orjson.loads


def watch_specs() -> list[WatchSpec[Model]]:
    """One spec per kind, each cluster-wide (never one watch per namespace).

    Namespaces need only labels, so they come metadata-only; ConfigMaps and Services are narrowed to
    Istio's (`istio.io/rev`), which is where injector settings, istiod and tag Services live.
    """
    return [
        _spec("Namespace", metadata_only=True),
        _spec("MutatingWebhookConfiguration"),
        _spec("ValidatingWebhookConfiguration"),
        _spec("ConfigMap", selector="istio.io/rev"),
        _spec("Service", selector="istio.io/rev"),
        _spec("Deployment"),
        _spec("StatefulSet"),
        _spec("DaemonSet"),
        _spec("ReplicaSet"),
        _spec("Job"),
        _spec("CronJob"),
        _spec("PodDisruptionBudget"),
        _spec("Gateway", optional=True),
        _spec("Rollout", optional=True),
        _spec("Pod"),
    ]
