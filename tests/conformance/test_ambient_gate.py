"""Finish refuses to remove an istiod a ztunnel still uses, on the simulator and on a real kube-apiserver.

ztunnel is created as the ztunnel chart renders it with `revision=1-22-3` (DaemonSet `ztunnel`, container
`istio-proxy` running the ztunnel image, XDS_ADDRESS/CA_ADDRESS `istiod-1-22-3.istio-system.svc:15012`).
Everything else is on the target. `status --json` must list no ztunnel pod as a sidecar pod, report
ztunnel's version and revision, and Upgrade and Finish must be refused naming ztunnel; once ztunnel is
upgraded in place to the target's revision (node by node), Upgrade opens.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from kubernetes import client
from realapi.harness import await_list

from tests.engine.support import cli

from .backends import NODES, Backend
from .test_engine_runs import ISTIO_NS, NEW, NEW_VERSION, OLD, OLD_VERSION, install_source, target_manifests
from .test_templates_gate import run

HUB = "docker.io/istio"


def ztunnel(rev: str, version: str) -> dict[str, Any]:
    address = f"istiod-{rev}.{ISTIO_NS}.svc:15012"
    labels = {"sidecar.istio.io/inject": "false", "istio.io/dataplane-mode": "none", "app": "ztunnel"}
    return {
        "metadata": {
            "name": "ztunnel",
            "labels": {"app.kubernetes.io/name": "ztunnel"},
            "annotations": {"istio.io/rev": rev},
        },
        "spec": {
            "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}},
            "selector": {"matchLabels": {"app": "ztunnel"}},
            "template": {
                "metadata": {
                    "labels": labels,
                    "annotations": {"sidecar.istio.io/inject": "false", "istio.io/rev": rev},
                },
                "spec": {
                    "containers": [
                        {
                            "name": "istio-proxy",
                            "image": f"{HUB}/ztunnel:{version}",
                            "args": ["proxy", "ztunnel"],
                            "env": [
                                {"name": "CA_ADDRESS", "value": address},
                                {"name": "XDS_ADDRESS", "value": address},
                            ],
                        }
                    ],
                    "terminationGracePeriodSeconds": 1,
                },
            },
        },
    }


def istio_cni(version: str) -> dict[str, Any]:
    """istio-cni-node as the istio-cni chart renders it (container install-cni, label istio.io/rev)."""
    labels = {"k8s-app": "istio-cni-node", "sidecar.istio.io/inject": "false", "istio.io/dataplane-mode": "none"}
    return {
        "metadata": {
            "name": "istio-cni-node",
            "labels": {"k8s-app": "istio-cni-node", "istio.io/rev": OLD, "operator.istio.io/component": "Cni"},
        },
        "spec": {
            "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1}},
            "selector": {"matchLabels": {"k8s-app": "istio-cni-node"}},
            "template": {
                "metadata": {"labels": labels, "annotations": {"sidecar.istio.io/inject": "false"}},
                "spec": {
                    "containers": [{"name": "install-cni", "image": f"{HUB}/install-cni:{version}"}],
                    "terminationGracePeriodSeconds": 1,
                },
            },
        },
    }


def tag_service(tag: str, rev: str) -> dict[str, Any]:
    """Service istiod-revision-tag-<tag> as the istiod chart renders it for revisionTags (>= 1.28.0)."""
    return {
        "metadata": {
            "name": f"istiod-revision-tag-{tag}",
            "labels": {"app": "istiod", "istio.io/rev": rev, "istio.io/tag": tag},
        },
        "spec": {"selector": {"app": "istiod", "istio.io/rev": rev}, "ports": [{"name": "grpc-xds", "port": 15010}]},
    }


def test_finish_refused_while_ztunnel_uses_the_source(dedicated_backend: Backend, tmp_path: Path) -> None:
    backend = dedicated_backend
    api = backend.api_client()
    apps, core = client.AppsV1Api(api), client.CoreV1Api(api)
    install_source(backend)
    backend.manage(ISTIO_NS)
    apps.create_namespaced_daemon_set(ISTIO_NS, ztunnel(OLD, OLD_VERSION))
    apps.create_namespaced_daemon_set(ISTIO_NS, istio_cni("1.21.0"))  # two minors behind the target

    def agents_on(prefix: str, version: str) -> Any:
        def done(pods: list[dict[str, Any]]) -> bool:
            mine = [p for p in pods if p["metadata"]["name"].startswith(prefix)]
            return len(mine) == NODES and all(
                not p["metadata"].get("deletionTimestamp")
                and p["spec"]["containers"][0]["image"].endswith(f":{version}")
                and (p.get("status") or {}).get("phase") == "Running"
                for p in mine
            )

        return await_list(core.list_namespaced_pod, ISTIO_NS, done, timeout=60)

    agents_on("ztunnel-", OLD_VERSION)
    agents_on("istio-cni-node-", "1.21.0")
    run(backend, "upgrade", "start", "--target", NEW, "--yes")
    run(backend, "upgrade", "install", "--manifests", str(target_manifests(backend, tmp_path / "m")), "--yes")
    run(backend, "upgrade", "move-tag", "default", "--to", NEW, "--yes")
    run(backend, "upgrade", "move-tag", "prod-stable", "--to", NEW, "--yes")

    status = json.loads(run(backend, "status", "--json", "--all-pods"))
    assert not [p for p in status["pods"] if p["name"].startswith(("ztunnel-", "istio-cni-node-"))]
    components = {c["kind"]: c for c in status["data_plane_components"]}
    z, cni = components["ztunnel"], components["istio-cni"]
    assert (z["version"], z["revision"], len(z["pods"])) == (OLD_VERSION, OLD, NODES)
    assert (cni["version"], cni["revision"], len(cni["pods"])) == ("1.21.0", OLD, NODES)
    upgrade = status["upgrade"]["actions"]["upgrade"]
    assert not upgrade["enabled"]
    conditions = {c["code"]: c for c in upgrade["conditions"]}
    assert set(conditions) == {"ztunnel", "cni_skew"}, upgrade["reasons"]
    assert conditions["ztunnel"]["offenders"] == [f"{ISTIO_NS}/ztunnel (configured against {OLD})"]
    assert conditions["cni_skew"]["offenders"] == [f"{ISTIO_NS}/istio-cni-node runs 1.21.0"]

    # Verify skipped (journalled), so what refuses is the gate itself.
    finish = ("upgrade", "complete", "--yes", "--confirm-revision", OLD, "--skip-verify", "the gate is under test")
    refused = cli(*finish, kubeconfig=backend.kubeconfig, timeout=180)
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert "ztunnel is not configured against" in refused.stdout + refused.stderr
    assert apps.read_namespaced_deployment(f"istiod-{OLD}", ISTIO_NS).metadata.name == f"istiod-{OLD}"

    # The remedies: upgrade istio-cni, then ztunnel (the chart's revision value), in place, node by node.
    apps.replace_namespaced_daemon_set("istio-cni-node", ISTIO_NS, istio_cni(NEW_VERSION))
    apps.replace_namespaced_daemon_set("ztunnel", ISTIO_NS, ztunnel(NEW, NEW_VERSION))
    agents_on("istio-cni-node-", NEW_VERSION)
    agents_on("ztunnel-", NEW_VERSION)
    after = json.loads(run(backend, "status", "--json"))["upgrade"]["actions"]["upgrade"]
    assert after["enabled"], after["reasons"]

    # A tag Service left on the source (the tag's webhook moved without it) claims the tag: refused again.
    core.create_namespaced_service(ISTIO_NS, tag_service("prod-stable", OLD))
    stale = json.loads(run(backend, "status", "--json"))["upgrade"]["actions"]["upgrade"]
    assert [c["code"] for c in stale["conditions"]] == ["tag_services"], stale["reasons"]
    assert stale["conditions"][0]["offenders"] == [f"{ISTIO_NS}/istiod-revision-tag-prod-stable"]
    core.patch_namespaced_service(
        "istiod-revision-tag-prod-stable",
        ISTIO_NS,
        {"metadata": {"labels": {"istio.io/rev": NEW}}, "spec": {"selector": {"istio.io/rev": NEW}}},
    )
    moved = json.loads(run(backend, "status", "--json"))["upgrade"]["actions"]["upgrade"]
    assert moved["enabled"], moved["reasons"]
