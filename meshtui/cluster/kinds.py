"""The resource kinds meshtui watches on every cluster, and how each is fetched and parsed."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import orjson

from meshtui.cluster.reflector import WatchSpec
from meshtui.cluster.slimjson import decode_pod_list, decode_pod_page
from meshtui.domain.objects import Model, parse_object

#: Pods a list page asks for (~12 MB of JSON at 6 KB a pod).
POD_PAGE_SIZE = 2000


def _parser(kind: str) -> Callable[[str, dict[str, Any]], Model | None]:
    return partial(_parse, kind)


def _parse(kind: str, cluster: str, raw: dict[str, Any]) -> Model | None:
    return parse_object(cluster, raw, kind)


def _spec(
    kind: str, path: str, *, metadata_only: bool = False, selector: str | None = None, optional: bool = False
) -> WatchSpec[Model]:
    return WatchSpec(
        kind=kind,
        path=path,
        parse=_parser(kind),
        metadata_only=metadata_only,
        label_selector=selector,
        optional=optional,
        decode_list=decode_pod_list if kind == "Pod" else orjson.loads,
        # Pods are 95% of a list's bytes: modelled straight from typed structs, never as dicts.
        decode_page=decode_pod_page if kind == "Pod" else None,  # type: ignore[arg-type]
        # A quarter of the round trips of client-go's 500 (each waits behind whatever else the API server
        # is doing); the typed decode holds the GIL ~10 ms for such a page, less than orjson for 500 pods.
        page_size=POD_PAGE_SIZE if kind == "Pod" else None,
    )


def watch_specs() -> list[WatchSpec[Model]]:
    """One spec per kind, each cluster-wide (never one watch per namespace).

    Namespaces need only labels, so they come metadata-only; ConfigMaps and Services are narrowed to
    Istio's (`istio.io/rev`), which is where injector settings, istiod and tag Services live.
    """
    return [
        _spec("Namespace", "/api/v1/namespaces", metadata_only=True),
        _spec(
            "MutatingWebhookConfiguration",
            "/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations",
        ),
        _spec(
            "ValidatingWebhookConfiguration",
            "/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations",
        ),
        _spec("ConfigMap", "/api/v1/configmaps", selector="istio.io/rev"),
        _spec("Service", "/api/v1/services", selector="istio.io/rev"),
        _spec("Deployment", "/apis/apps/v1/deployments"),
        _spec("StatefulSet", "/apis/apps/v1/statefulsets"),
        _spec("DaemonSet", "/apis/apps/v1/daemonsets"),
        _spec("ReplicaSet", "/apis/apps/v1/replicasets"),
        _spec("Job", "/apis/batch/v1/jobs"),
        _spec("CronJob", "/apis/batch/v1/cronjobs"),
        _spec("PodDisruptionBudget", "/apis/policy/v1/poddisruptionbudgets"),
        _spec("Gateway", "/apis/gateway.networking.k8s.io/v1/gateways", optional=True),
        _spec("Rollout", "/apis/argoproj.io/v1alpha1/rollouts", optional=True),
        _spec("Pod", "/api/v1/pods"),
    ]
