"""Small builders of API-shaped objects (what `kubectl get -o json` returns) for scenario tests."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import yaml

FIXTURES = Path(__file__).parent / "fixtures"
VERSIONS = {"1-22-3": "1.22.3", "1-23-1": "1.23.1", "1-21-0": "1.21.0", "default": "1.22.3"}


def load(name: str) -> list[dict[str, Any]]:
    """The objects of a fixture file, `kind: List` flattened."""
    with open(FIXTURES / name) as f:
        docs = [d for d in yaml.safe_load_all(f) if d]
    out: list[dict[str, Any]] = []
    for doc in docs:
        out.extend(doc["items"] if doc.get("kind") == "List" else [doc])
    return out


def find(objects: list[dict[str, Any]], kind: str, name: str, namespace: str | None = None) -> dict[str, Any]:
    """The object of that kind and name in a list (fails loudly when absent)."""
    for obj in objects:
        meta = obj["metadata"]
        if obj["kind"] == kind and meta["name"] == name and (namespace is None or meta.get("namespace") == namespace):
            return obj
    raise KeyError(f"{kind} {namespace}/{name}")


def namespace(name: str, **labels: str) -> dict[str, Any]:
    """A Namespace with labels (keyword names use `_` for `/`-less keys; pass a dict for others)."""
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {
            "name": name,
            "labels": {"kubernetes.io/metadata.name": name, **labels},
            "uid": f"uid-ns-{name}",
        },
        "status": {"phase": "Active"},
    }


def ns_with(name: str, labels: dict[str, str]) -> dict[str, Any]:
    """A Namespace with arbitrary labels."""
    return namespace(name, **labels)


def status_annotation(rev: str) -> str:
    return json.dumps(
        {
            "initContainers": ["istio-init"],
            "containers": ["istio-proxy"],
            "volumes": [
                "workload-socket",
                "credential-socket",
                "workload-certs",
                "istio-envoy",
                "istio-data",
            ],
            "imagePullSecrets": None,
            "revision": rev,
        },
        separators=(",", ":"),
    )


def pod(
    name: str,
    ns: str,
    rev: str | None = None,
    labels: dict[str, str] | None = None,
    annotations: dict[str, str] | None = None,
    owner: tuple[str, str] | None = None,
    phase: str = "Running",
    proxy_version: str | None = None,
    host_network: bool = False,
) -> dict[str, Any]:
    """A pod; `rev` makes it look injected by that revision (1.18+ style annotations and an istio-proxy)."""
    anns = dict(annotations or {})
    containers: list[dict[str, Any]] = [{"name": "app", "image": f"registry.example.com/{name}:1.0"}]
    if rev is not None:
        anns.update({"istio.io/rev": rev, "sidecar.istio.io/status": status_annotation(rev)})
        version = proxy_version or VERSIONS.get(rev, "1.22.3")
        containers.append({"name": "istio-proxy", "image": f"docker.io/istio/proxyv2:{version}"})
    meta: dict[str, Any] = {
        "name": name,
        "namespace": ns,
        "uid": f"uid-pod-{ns}-{name}",
        "labels": {"app": name.split("-")[0], **(labels or {})},
        "annotations": anns,
    }
    if owner is not None:
        meta["ownerReferences"] = [
            {
                "apiVersion": "apps/v1",
                "kind": owner[0],
                "name": owner[1],
                "controller": True,
                "uid": f"uid-{owner[1]}",
            }
        ]
    ready = phase == "Running"
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": meta,
        "spec": {
            "containers": containers,
            "nodeName": "worker-1",
            **({"hostNetwork": True} if host_network else {}),
        },
        "status": {
            "phase": phase,
            "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
            "containerStatuses": [{"name": c["name"], "restartCount": 0, "ready": ready} for c in containers],
            "startTime": "2026-08-01T09:12:44Z",
        },
    }


def deployment(
    name: str,
    ns: str,
    template_labels: dict[str, str] | None = None,
    template_annotations: dict[str, str] | None = None,
    replicas: int = 1,
    **spec: Any,
) -> dict[str, Any]:
    """A Deployment whose pod template carries the given labels and annotations."""
    template: dict[str, Any] = {
        "metadata": {"labels": {"app": name, **(template_labels or {})}},
        "spec": {"containers": [{"name": "app", "image": f"registry.example.com/{name}:1.0"}]},
    }
    if template_annotations:
        template["metadata"]["annotations"] = dict(template_annotations)
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": name,
            "namespace": ns,
            "uid": f"uid-deploy-{ns}-{name}",
            "labels": {"app": name},
            "generation": 1,
        },
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": template,
            **spec,
        },
        "status": {
            "observedGeneration": 1,
            "replicas": replicas,
            "readyReplicas": replicas,
            "availableReplicas": replicas,
        },
    }


def replicaset(deploy: dict[str, Any], hash_: str = "5d8f7c9b6") -> dict[str, Any]:
    """The current ReplicaSet of a Deployment (same template plus pod-template-hash)."""
    name = deploy["metadata"]["name"]
    ns = deploy["metadata"]["namespace"]
    template = copy.deepcopy(deploy["spec"]["template"])
    template["metadata"]["labels"]["pod-template-hash"] = hash_
    return {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {
            "name": f"{name}-{hash_}",
            "namespace": ns,
            "uid": f"uid-rs-{ns}-{name}-{hash_}",
            "ownerReferences": [
                {
                    "apiVersion": "apps/v1",
                    "kind": "Deployment",
                    "name": name,
                    "controller": True,
                    "uid": f"uid-{name}",
                }
            ],
        },
        "spec": {"replicas": deploy["spec"]["replicas"], "template": template},
        "status": {"replicas": deploy["spec"]["replicas"]},
    }


def deployed_pods(deploy: dict[str, Any], revs: list[str | None], hash_: str = "5d8f7c9b6") -> list[dict[str, Any]]:
    """Pods of a Deployment's ReplicaSet injected by the given revisions (None: no sidecar)."""
    name = deploy["metadata"]["name"]
    ns = deploy["metadata"]["namespace"]
    labels = {**deploy["spec"]["template"]["metadata"]["labels"], "pod-template-hash": hash_}
    return [
        pod(f"{name}-{hash_}-{i:05d}", ns, rev, labels=labels, owner=("ReplicaSet", f"{name}-{hash_}"))
        for i, rev in enumerate(revs)
    ]


def app(name: str, ns: str, revs: list[str | None], **template: Any) -> list[dict[str, Any]]:
    """A Deployment, its ReplicaSet and its pods."""
    d = deployment(name, ns, **template)
    return [d, replicaset(d), *deployed_pods(d, revs)]


def retag(mwc: dict[str, Any], revision: str) -> dict[str, Any]:
    """Point a tag webhook configuration at another revision, as `istioctl tag set --overwrite` does."""
    moved = copy.deepcopy(mwc)
    moved["metadata"]["labels"]["istio.io/rev"] = revision
    for hook in moved["webhooks"]:
        hook["clientConfig"]["service"]["name"] = f"istiod-{revision}"
    return moved
