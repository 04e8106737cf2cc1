"""Workload lists as the API server writes them (defaults, managedFields and all) model the same through the
slim decoder meshtui lists them with as through a full decode, on the simulator and the real kube-apiserver."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from kubernetes import client

from meshtui.cluster.kinds import KINDS
from meshtui.cluster.reflector import parse_page
from meshtui.cluster.slimjson import decode_workload_list
from meshtui.domain.objects import parse_object

from .backends import Backend

LABELS = {"app": "shop"}
TEMPLATE = {
    "metadata": {"labels": LABELS, "annotations": {"sidecar.istio.io/inject": "true"}},
    "spec": {
        "containers": [
            {"name": "app", "image": "registry.example/shop:1", "env": [{"name": "MODE", "value": "x"}]},
            {"name": "istio-proxy", "image": "auto"},
        ],
        "initContainers": [{"name": "init", "image": "registry.example/init:1"}],
    },
}
SELECTOR = {"matchLabels": LABELS}


def workloads() -> dict[str, dict[str, Any]]:
    job_template = {**TEMPLATE, "spec": {**TEMPLATE["spec"], "restartPolicy": "Never"}}
    return {
        "Deployment": {
            "metadata": {"name": "shop", "labels": LABELS, "annotations": {"istio.io/rev": "1-23-1"}},
            "spec": {"replicas": 2, "selector": SELECTOR, "template": TEMPLATE, "strategy": {"type": "Recreate"}},
        },
        "ReplicaSet": {
            "metadata": {"name": "shop-5d8f", "labels": LABELS},
            "spec": {"replicas": 1, "selector": SELECTOR, "template": TEMPLATE},
        },
        "StatefulSet": {
            "metadata": {"name": "db"},
            "spec": {
                "serviceName": "db",
                "selector": SELECTOR,
                "template": TEMPLATE,
                "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 1}},
            },
        },
        "DaemonSet": {"metadata": {"name": "agent"}, "spec": {"selector": SELECTOR, "template": TEMPLATE}},
        "Job": {"metadata": {"name": "once"}, "spec": {"template": job_template}},
        "CronJob": {
            "metadata": {"name": "nightly"},
            "spec": {"schedule": "0 3 * * *", "suspend": True, "jobTemplate": {"spec": {"template": job_template}}},
        },
    }


def create(api: client.ApiClient, kind: str, namespace: str, body: dict[str, Any]) -> None:
    apps, batch = client.AppsV1Api(api), client.BatchV1Api(api)
    creators = {
        "Deployment": apps.create_namespaced_deployment,
        "ReplicaSet": apps.create_namespaced_replica_set,
        "StatefulSet": apps.create_namespaced_stateful_set,
        "DaemonSet": apps.create_namespaced_daemon_set,
        "Job": batch.create_namespaced_job,
        "CronJob": batch.create_namespaced_cron_job,
    }
    creators[kind](namespace, body)


def raw_list(api: client.ApiClient, path: str) -> bytes:
    """The list's bytes as the server wrote them, through the official client's connection and credentials."""
    _, url, headers, _, _ = api.param_serialize(
        method="GET", resource_path=path, header_params={"Accept": "application/json"}, auth_settings=["BearerToken"]
    )
    resp = api.rest_client.pool_manager.request("GET", url, headers=headers, timeout=30)
    assert resp.status == 200, resp.data[:300]
    return bytes(resp.data)


@pytest.mark.parametrize("kind", ["Deployment", "ReplicaSet", "StatefulSet", "DaemonSet", "Job", "CronJob"])
def test_a_served_workload_list_models_the_same_slim_as_in_full(backend: Backend, kind: str) -> None:
    ns = backend.unique_namespace("wl")
    info = KINDS[kind]
    api = backend.api_client()
    create(api, kind, ns, {"apiVersion": info.api_version, "kind": kind, **workloads()[kind]})
    data = raw_list(api, info.collection(ns))

    def parse(cluster: str, raw: dict[str, Any]) -> Any:
        return parse_object(cluster, raw, kind)

    slim = parse_page("c", decode_workload_list(data), parse)
    assert slim == parse_page("c", orjson.loads(data), parse)
    assert len(slim.models) == 1 and not slim.problems
