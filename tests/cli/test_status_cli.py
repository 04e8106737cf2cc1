"""`meshtui status` as a subprocess: on the demo scenario, on dumps of it, on two clusters, and on bad input."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from meshtui.sim.runtime import SimCluster
from tests.conftest import StartSims
from tests.helpers import multi_kubeconfig, start_sim

ENV = {**os.environ, "NO_COLOR": "1"}


def meshtui(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run the installed CLI the way a user does."""
    return subprocess.run(
        [sys.executable, "-m", "meshtui", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=ENV,
        check=False,
    )


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[SimCluster, Path]]:
    sim = start_sim("demo")
    path = sim.kubeconfig(tmp_path_factory.mktemp("demo") / "kubeconfig")
    yield sim, path
    sim.stop()


def status_json(*args: str) -> dict[str, Any]:
    result = meshtui("status", "--json", *args)
    assert result.returncode == 0, result.stderr
    doc: dict[str, Any] = json.loads(result.stdout)
    return doc


def test_json_follows_the_contract(demo: tuple[SimCluster, Path]) -> None:
    doc = status_json("--kubeconfig", str(demo[1]))
    assert set(doc) >= {"clusters", "revisions", "tags", "namespaces", "pods", "gateways", "upgrade"}
    assert doc["clusters"][0]["name"] == "meshtui-sim"
    for rev in doc["revisions"]:
        assert set(rev) >= {"name", "version", "ready", "default", "tags", "istiod"}
    for ns in doc["namespaces"]:
        assert set(ns) >= {"cluster", "name", "injection", "revision", "pods"}
        assert set(ns["pods"]) >= {"live", "by_revision", "no_sidecar", "at_risk"}
    for pod in doc["pods"]:
        assert set(pod) >= {
            "cluster",
            "namespace",
            "name",
            "revision",
            "proxy_version",
            "revision_on_restart",
            "at_risk",
            "reason",
        }
        assert pod["revision"] is not None or pod["at_risk"], "without --all-pods only sidecar or at-risk pods"
    up = doc["upgrade"]
    assert set(up) >= {"source", "target", "phase", "actions"}
    for action in ("upgrade", "rollback", "finish"):
        assert set(up["actions"][action]) >= {"enabled", "reasons"}


def test_demo_facts(demo: tuple[SimCluster, Path]) -> None:
    doc = status_json("--kubeconfig", str(demo[1]))
    up = doc["upgrade"]
    assert (up["source"], up["target"]) == ("1-22-3", "1-23-1"), "two revisions: the older is the source"
    revs = {r["name"]: r for r in doc["revisions"]}
    assert revs["1-22-3"]["default"] and not revs["1-23-1"]["default"]
    assert set(revs["1-22-3"]["tags"]) >= {"default", "prod-stable"}
    assert {t["name"]: t["revision"] for t in doc["tags"]}["prod-canary"] == "1-23-1"
    ns = {n["name"]: n for n in doc["namespaces"]}
    # The seed's caveat: injection turned off after the pods were injected: they would lose the sidecar.
    analytics = ns["analytics"]
    assert analytics["injection"] is None
    assert analytics["pods"]["at_risk"] > 0
    assert analytics["pods"]["by_revision"].get("1-22-3", 0) >= analytics["pods"]["at_risk"]
    # A tag resolves to its revision.
    assert ns["reviews"]["injection"] == {"label": "istio.io/rev", "value": "prod-canary"}
    assert ns["reviews"]["revision"] == "1-23-1"
    # Both labels set: istio-injection wins, and the conflict is flagged.
    assert ns["inventory"]["label_conflict"]
    # Pods of the caveat namespace explain themselves.
    risky = [p for p in doc["pods"] if p["namespace"] == "analytics" and p["at_risk"]]
    assert risky and all(p["revision_on_restart"] is None and p["reason"] for p in risky)
    # Gates: upgrade blocked with counts and first offenders; finish needs a choice.
    upgrade = up["actions"]["upgrade"]
    assert not upgrade["enabled"]
    assert any("still on 1-22-3" in r for r in upgrade["reasons"])
    assert not up["actions"]["finish"]["enabled"]


def test_text_to_a_pipe_keeps_every_name_whole(demo: tuple[SimCluster, Path]) -> None:
    result = meshtui("status", "--kubeconfig", str(demo[1]))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert not re.search(r"[\w-]…", result.stdout)  # no name is cut ("prod-sta…") for a pipe or a file
    assert any(line.startswith("analytics ") for line in lines)
    assert "istio-system/istiod-1-22-3" in result.stdout and "prod-stable" in result.stdout
    assert "GATES" in lines


def test_text_tables_fit_an_80_column_terminal(demo: tuple[SimCluster, Path]) -> None:
    from meshtui.cli.status_text import render_status

    doc = json.loads(meshtui("status", "--json", "--kubeconfig", str(demo[1])).stdout)
    text = render_status(doc, 80)
    tables = text.split("\nAT RISK")[0].splitlines()
    assert max(len(line) for line in tables if not line.startswith(("Cluster", "Upgrade", "SRC ="))) <= 80
    assert render_status(doc, 200) == render_status(doc, None)  # wide enough: nothing is cut


def dump_cluster(sim: SimCluster, folder: Path) -> None:
    """Write the cluster's objects the way `kubectl get ... -o yaml` would (a List per kind)."""
    store = sim.store
    assert store is not None
    kinds = [
        "namespaces",
        "pods",
        "configmaps",
        "services",
        "apps/deployments",
        "apps/replicasets",
        "apps/statefulsets",
        "apps/daemonsets",
        "batch/jobs",
        "policy/poddisruptionbudgets",
        "admissionregistration.k8s.io/mutatingwebhookconfigurations",
        "admissionregistration.k8s.io/validatingwebhookconfigurations",
        "gateway.networking.k8s.io/gateways",
    ]
    for kind in kinds:
        items = sim.call(lambda k=kind: store.list(k))
        doc = {"apiVersion": "v1", "kind": "List", "items": items}
        (folder / f"{kind.replace('/', '_')}.yaml").write_text(yaml.safe_dump(doc))


def test_from_file_gives_the_same_answers(demo: tuple[SimCluster, Path], tmp_path: Path) -> None:
    sim, kubeconfig = demo
    live = status_json("--kubeconfig", str(kubeconfig), "--all-pods")
    dump_cluster(sim, tmp_path)
    offline = status_json("--from-file", str(tmp_path), "--context", "meshtui-sim", "--all-pods")
    for doc in (live, offline):
        doc.pop("clusters")
    # Only a live read knows whether an upgrade was started (the record is read from the cluster).
    for verdict in live["upgrade"]["actions"].values():
        assert verdict["conditions"][0]["code"] == "not_started" and not verdict["enabled"]
        verdict["conditions"].pop(0)
        verdict["reasons"].pop(0)
    assert offline == live


def test_two_clusters_one_mesh(tmp_path: Path, sims: StartSims) -> None:
    east = sims("demo").cluster
    west = sims("fresh").cluster
    kubeconfig = multi_kubeconfig(tmp_path / "k", {"east": east, "west": west}, current="east")
    doc = status_json(
        "--kubeconfig",
        str(kubeconfig),
        "--context",
        "east",
        "--context",
        "west",
        "--source",
        "1-22-3",
        "--target",
        "1-23-1",
    )
    assert [c["name"] for c in doc["clusters"]] == ["east", "west"]
    assert {n["cluster"] for n in doc["namespaces"]} == {"east", "west"}
    reasons = " ".join(doc["upgrade"]["actions"]["upgrade"]["reasons"])
    assert "west" in reasons, "the target is missing on west, and the gate must say so"


def test_unreachable_cluster_is_one_sentence_and_exit_3(sims: StartSims) -> None:
    running = sims("fresh")
    kubeconfig = running.kubeconfig
    running.cluster.stop()
    result = meshtui("status", "--kubeconfig", str(kubeconfig), timeout=60)
    assert result.returncode == 3
    assert "unreachable" in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_broken_kubeconfig_is_exit_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad"
    bad.write_text("clusters: [this is: not yaml")
    result = meshtui("status", "--kubeconfig", str(bad))
    assert result.returncode == 2
    assert "cannot be read" in result.stderr and "Traceback" not in result.stderr
    missing = meshtui("status", "--kubeconfig", str(tmp_path / "nope"))
    assert missing.returncode == 2 and "No kubeconfig" in missing.stderr


def test_forbidden_is_exit_4(demo: tuple[SimCluster, Path]) -> None:
    sim, kubeconfig = demo
    sim.faults.deny("list", "pods")
    try:
        result = meshtui("status", "--kubeconfig", str(kubeconfig))
    finally:
        sim.faults.allow("list", "pods")
    assert result.returncode == 4
    assert "Permission denied" in result.stderr and "Traceback" not in result.stderr


def test_malformed_objects_in_dumps_are_reported_and_skipped(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(
        "apiVersion: v1\nkind: Namespace\nmetadata: {name: shop, labels: {istio.io/rev: 1-23-1}}\n"
        "---\napiVersion: v1\nkind: Pod\nmetadata: {namespace: shop}\nspec: {containers: []}\n"
        "---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: web\n  namespace: shop\n"
        "  annotations: {sidecar.istio.io/status: '{not json'}\nspec: {containers: [{name: istio-proxy, "
        "image: 'docker.io/istio/proxyv2:1.23.1'}]}\nstatus: {phase: Running}\n"
    )
    (tmp_path / "b.yaml").write_text("kind: [unclosed")
    result = meshtui("status", "--json", "--from-file", str(tmp_path), "--all-pods")
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert [p["name"] for p in doc["pods"]] == ["web"], "the nameless pod is skipped, the rest is analysed"
    assert "b.yaml" in result.stderr and "not valid YAML" in result.stderr
    assert "Traceback" not in result.stderr


def test_phase_and_pair_come_from_the_upgrade_record(tmp_path: Path, sims: StartSims) -> None:
    from meshtui.engine.record import RECORD_NAME, UpgradeRecord

    sim = sims("demo").cluster
    record = UpgradeRecord(source="1-22-3", target="1-23-1", phase="finishing-rollback",
                           finish_choice="rollback", started="2026-11-29T20:00:00Z",
                           updated="2026-11-29T20:00:00Z", started_by="sre@jump")
    store = sim.store
    assert store is not None
    sim.call(lambda: store.create("configmaps", {
        "metadata": {"name": RECORD_NAME, "namespace": "istio-system"}, "data": record.to_configmap_data()}))
    doc = status_json("--kubeconfig", str(sim.kubeconfig(tmp_path / "k")))
    assert doc["upgrade"]["phase"] == "finishing-rollback", "the recorded choice wins over the inferred phase"
    assert (doc["upgrade"]["source"], doc["upgrade"]["target"]) == ("1-22-3", "1-23-1")


def test_json_lists_every_offender_and_says_no_upgrade_was_started(demo: tuple[SimCluster, Path]) -> None:
    doc = status_json("--kubeconfig", str(demo[1]))
    upgrade = doc["upgrade"]["actions"]["upgrade"]
    assert upgrade["reasons"][0].startswith("no upgrade has been started")
    counted = [c for c in upgrade["conditions"] if c["count"] > 5]
    assert counted, upgrade["conditions"]
    for condition in counted:
        assert len(condition["offenders"]) == condition["count"], condition["code"]
    text = meshtui("status", "--kubeconfig", str(demo[1])).stdout
    assert "no upgrade has been started" in text
