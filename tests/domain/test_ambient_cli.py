"""`meshtui status --json` and `meshtui check` on an ambient mesh, run as an operator does (a subprocess
over a `kubectl get -o yaml` dump): no ztunnel pod is a sidecar pod, every node agent has its version and
revision, Upgrade is refused while ztunnel uses the source, and check names skew, the sidecar-vs-ambient
conflict and the pods the injector will refuse."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from .test_ambient import SOURCE, TARGET, ambient_mesh, namespace
from .test_refusals import mesh_on

ENV = {**os.environ, "NO_COLOR": "1"}


def meshtui(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "meshtui", *args], capture_output=True, text=True, timeout=120, env=ENV, check=False
    )


def dump(tmp_path: Path, objects: list[dict[str, Any]]) -> Path:
    path = tmp_path / "mesh.yaml"
    path.write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "List", "items": objects}))
    return path


def test_status_json_on_an_ambient_mesh(tmp_path: Path) -> None:
    path = dump(tmp_path, ambient_mesh(cni_version="1.21.0"))
    done = meshtui("status", "--json", "--all-pods", "--from-file", str(path), "--source", SOURCE, "--target", TARGET)
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert not [p for p in doc["pods"] if p["name"].startswith(("ztunnel-", "istio-cni-node-"))]
    components = {c["kind"]: c for c in doc["data_plane_components"]}
    assert {k: (c["version"], c["revision"]) for k, c in components.items()} == {
        "ztunnel": ("1.22.3", SOURCE),
        "istio-cni": ("1.21.0", SOURCE),
    }
    upgrade = doc["upgrade"]["actions"]["upgrade"]
    codes = {c["code"]: c for c in upgrade["conditions"]}
    assert not upgrade["enabled"] and set(codes) == {"ztunnel", "cni_skew"}
    assert codes["ztunnel"]["offenders"] == ["istio-system/ztunnel (configured against 1-22-3)"]
    assert codes["ztunnel"]["remedy"].startswith("upgrade ztunnel in place with revision=1-23-1")


def test_check_names_an_idle_gateway_template_no_injector_will_fill(tmp_path: Path) -> None:
    from .test_templates import source_offline, stranded_mesh

    path = dump(tmp_path, source_offline(stranded_mesh()))  # only the target is left
    done = meshtui("check", "--json", "--from-file", str(path))
    assert done.returncode == 0, done.stdout + done.stderr  # a warning, no error
    findings = {f["code"]: f for f in json.loads(done.stdout)}
    idle = findings["templates_at_risk"]
    assert idle["severity"] == "warning" and idle["count"] == 1
    assert idle["offenders"][0].startswith(
        "edge/ingress (Deployment, 0 replicas): its istio-proxy is image: auto, which no injector will fill"
    )


def test_status_text_lists_the_node_agents(tmp_path: Path) -> None:
    path = dump(tmp_path, ambient_mesh(ztunnel_rev=TARGET, ztunnel_version="1.23.1", updated=2))
    done = meshtui("status", "--from-file", str(path), "--source", SOURCE, "--target", TARGET)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    words = [line.split() for line in lines]
    assert ["istio-system/ztunnel", "ztunnel", "1.23.1", "1-23-1", "2/3", "rolling"] in words, done.stdout
    assert ["istio-system/istio-cni-node", "istio-cni", "1.22.3", "1-23-1", "3/3"] in words, done.stdout
    assert any(line.startswith("    - ztunnel is not configured against 1-23-1 everywhere") for line in lines)


def test_check_reports_skew_ambient_conflicts_and_refusals(tmp_path: Path) -> None:
    objects = ambient_mesh(ztunnel_rev=TARGET, ztunnel_version="1.20.1")
    objects = [o for o in objects if not (o["kind"] == "Namespace" and o["metadata"]["name"] == "reviews")]
    objects.append(namespace("reviews", **{"istio.io/dataplane-mode": "ambient", "istio.io/rev": TARGET}))
    metrics = mesh_on("1.31.0", {"prometheus.io/port": "15090"})
    objects += [o for o in metrics if o["metadata"]["name"].startswith("metrics")]
    for o in objects:  # the target's istiod runs 1.31.0
        if o["kind"] == "Deployment" and o["metadata"]["name"] == f"istiod-{TARGET}":
            o["spec"]["template"]["spec"]["containers"][0]["image"] = "docker.io/istio/pilot:1.31.0"
    path = dump(tmp_path, objects)
    done = meshtui("check", "--json", "--from-file", str(path), "--source", SOURCE, "--target", TARGET)
    assert done.returncode == 1, done.stdout + done.stderr  # errors: skew and refusals
    findings = {f["code"]: f for f in json.loads(done.stdout)}
    assert findings["ztunnel_skew"]["severity"] == "error"
    assert findings["ztunnel_skew"]["message"].startswith("ztunnel istio-system/ztunnel runs 1.20.1, outside")
    conflict = findings["ambient_sidecar_conflict"]
    assert conflict["severity"] == "warning" and conflict["offenders"][0] == "reviews"
    assert "reviews/reviews-v1-abc" in conflict["offenders"]
    refused = findings["injection_refused"]
    assert refused["severity"] == "error" and refused["count"] == 2  # the pod and its Deployment's template
    assert refused["offenders"][0].startswith("cart/metrics-")
    assert "reserved for Istio (Envoy Prometheus)" in refused["offenders"][0]
