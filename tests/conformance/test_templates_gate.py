"""Templates without pods block Upgrade and Finish, on the simulator and on a real kube-apiserver.

Issue 10, item 3: a gateway Deployment scaled to 0 pinned to the source (`image: auto`, the gateway
injection template), a Deployment scaled to 0 pinned the same way and a CronJob whose template asks for
the source. Every namespace and tag is on the target and no pod runs the source, yet taking the source
offline would strand the next pod each of them creates. The CLI, as an operator runs it, must say so
and refuse; nothing may be taken offline.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from kubernetes import client

from tests.engine.support import cli

from .backends import Backend
from .test_engine_runs import ISTIO_NS, NEW, OLD, REV, deployment, install_source, target_manifests


def cronjob(name: str, labels: dict[str, str]) -> dict[str, Any]:
    template = {
        "metadata": {"labels": {"app": name, **labels}},
        "spec": {"restartPolicy": "OnFailure", "containers": [{"name": name, "image": "registry.example.com/r:1"}]},
    }
    return {
        "metadata": {"name": name},
        "spec": {"schedule": "*/5 * * * *", "jobTemplate": {"spec": {"template": template}}},
    }


def run(backend: Backend, *args: str, code: int = 0) -> str:
    done = cli(*args, kubeconfig=backend.kubeconfig, timeout=180)
    assert done.returncode == code, f"meshtui {' '.join(args)}: exit {done.returncode}\n{done.stdout}\n{done.stderr}"
    assert "Traceback" not in done.stderr, done.stderr
    return done.stdout


def test_templates_without_pods_keep_upgrade_and_finish_disabled(dedicated_backend: Backend, tmp_path: Path) -> None:
    backend = dedicated_backend
    api = backend.api_client()
    apps, batch = client.AppsV1Api(api), client.BatchV1Api(api)
    install_source(backend)
    edge = backend.unique_namespace("edge")
    backend.manage(edge)
    gateway = deployment(
        "ingress",
        0,
        labels={"istio": "ingress", REV: OLD},
        annotations={"inject.istio.io/templates": "gateway"},
    )
    apps.create_namespaced_deployment(edge, gateway)
    apps.create_namespaced_deployment(edge, deployment("idle", 0, labels={REV: OLD}))
    batch.create_namespaced_cron_job(edge, cronjob("report", {REV: OLD}))

    manifests = target_manifests(backend, tmp_path / "m123")
    run(backend, "upgrade", "start", "--target", NEW, "--yes")
    run(backend, "upgrade", "install", "--manifests", str(manifests), "--yes")
    run(backend, "upgrade", "move-tag", "default", "--to", NEW, "--yes")
    run(backend, "upgrade", "move-tag", "prod-stable", "--to", NEW, "--yes")

    status = json.loads(run(backend, "status", "--json"))
    upgrade = status["upgrade"]["actions"]["upgrade"]
    assert not upgrade["enabled"]
    conditions = {c["code"]: c for c in upgrade["conditions"]}
    assert set(conditions) == {"templates", "gateways"}, upgrade["reasons"]
    assert conditions["templates"]["offenders"] == [f"{edge}/idle (Deployment, 0 replicas)", f"{edge}/report (CronJob)"]
    assert conditions["templates"]["message"].startswith(f"2 workload templates would get {OLD}: ")
    assert conditions["templates"]["remedy"] == f"switch the pod-template {REV} to {NEW}"
    assert conditions["gateways"]["offenders"] == [f"{edge}/ingress"]
    listed = {(t["kind"], t["name"]): t for t in status["templates"] if t["namespace"] == edge}
    assert {k: t["revision_on_restart"] for k, t in listed.items()} == {
        ("Deployment", "ingress"): OLD,
        ("Deployment", "idle"): OLD,
        ("CronJob", "report"): OLD,
    }
    assert listed[("Deployment", "ingress")]["awaits_injection"]

    engine = json.loads(run(backend, "upgrade", "status", "--json"))
    assert not engine["actions"]["upgrade"]["enabled"] and not engine["actions"]["finish"]["enabled"]
    reasons = engine["actions"]["upgrade"]["reasons"]
    assert any(r.startswith(f"2 workload templates would get {OLD}: {edge}/idle") for r in reasons), reasons

    # Finish is refused: nothing is taken offline.
    # Verify skipped (journalled), so what refuses is the gate itself.
    finish = ("upgrade", "complete", "--yes", "--confirm-revision", OLD, "--skip-verify", "the gate is under test")
    refused = cli(*finish, kubeconfig=backend.kubeconfig, timeout=180)
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert "workload templates" in refused.stdout + refused.stderr
    assert apps.read_namespaced_deployment(f"istiod-{OLD}", ISTIO_NS).metadata.name == f"istiod-{OLD}"
    adm = client.AdmissionregistrationV1Api(api)
    assert adm.list_mutating_webhook_configuration(label_selector=f"{REV}={OLD},!istio.io/tag").items

    # The remedies: switch relabels the pinned templates, gateways moves the scaled-down gateway.
    switched = run(backend, "upgrade", "switch", "--all", "--yes")
    assert f"CronJob {edge}/report" in switched and f"Deployment {edge}/idle" in switched, switched
    run(backend, "upgrade", "gateways", "--yes")
    assert apps.read_namespaced_deployment("idle", edge).spec.template.metadata.labels[REV] == NEW
    assert apps.read_namespaced_deployment("ingress", edge).spec.template.metadata.labels[REV] == NEW
    report = batch.read_namespaced_cron_job("report", edge)
    assert report.spec.job_template.spec.template.metadata.labels[REV] == NEW
    after = json.loads(run(backend, "status", "--json"))["upgrade"]["actions"]["upgrade"]
    assert after["enabled"], after["reasons"]
