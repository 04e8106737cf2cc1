"""The `meshtui status --json` document: docs/status-json.md's keys and nesting, deterministic order."""

from __future__ import annotations

import json
from typing import Any

from meshtui.domain.inventory import Inventory, InventoryView
from meshtui.domain.report import observed_phase, status_document
from meshtui.domain.snapshot import ClusterSnapshot, MeshSnapshot


def test_contract_keys_and_nesting(view: InventoryView) -> None:
    doc = status_document(view)
    assert {"clusters", "revisions", "tags", "namespaces", "pods", "gateways", "upgrade"} <= set(doc)
    assert set(doc["clusters"][0]) >= {"name", "server"}
    assert set(doc["revisions"][0]) >= {"name", "version", "ready", "default", "tags", "istiod"}
    assert set(doc["tags"][0]) >= {"name", "revision"}
    ns = doc["namespaces"][0]
    assert set(ns) >= {"cluster", "name", "injection", "revision", "pods"}
    assert set(ns["pods"]) >= {"live", "by_revision", "no_sidecar", "at_risk"}
    assert set(doc["pods"][0]) >= {
        "cluster",
        "namespace",
        "name",
        "revision",
        "proxy_version",
        "revision_on_restart",
        "at_risk",
        "reason",
    }
    assert set(doc["gateways"][0]) >= {"cluster", "namespace", "name", "kind", "revision"}
    upgrade = doc["upgrade"]
    assert set(upgrade) >= {"source", "target", "phase", "actions"}
    assert set(upgrade["actions"]) == {"upgrade", "rollback", "finish"}
    assert all(set(a) >= {"enabled", "reasons"} for a in upgrade["actions"].values())
    json.dumps(doc)  # plain JSON types only


def test_values(view: InventoryView) -> None:
    doc = status_document(view)
    assert doc["clusters"] == [{"name": "prod-east", "server": None}]
    rev = doc["revisions"][0]
    assert (rev["name"], rev["version"], rev["ready"], rev["default"], rev["tags"], rev["istiod"]) == (
        "1-22-3",
        "1.22.3",
        True,
        True,
        ["default", "prod-stable"],
        "istio-system/istiod-1-22-3",
    )
    shop = next(n for n in doc["namespaces"] if n["name"] == "shop")
    assert (
        shop["injection"] == {"label": "istio.io/rev", "value": "prod-stable"}
        and shop["revision"] == "1-22-3"
    )
    assert shop["pods"] == {
        "live": 3,
        "by_revision": {"1-22-3": 3},
        "no_sidecar": 0,
        "at_risk": 1,
        "terminal": 0,
    }
    plain = next(n for n in doc["namespaces"] if n["name"] == "kube-system")
    assert plain["injection"] is None and plain["revision"] is None
    legacy = next(n for n in doc["namespaces"] if n["name"] == "legacy")
    assert legacy["label_conflict"] is True
    up = doc["upgrade"]
    assert (up["source"], up["target"], up["phase"]) == ("1-22-3", "1-23-1", "data-plane")
    assert up["actions"]["upgrade"]["enabled"] is False
    assert "12 pods still on 1-22-3" in up["actions"]["upgrade"]["reasons"]
    assert status_document(view, phase="verify")["upgrade"]["phase"] == "verify"


def test_pods_lists_sidecar_or_at_risk_pods_unless_all(view: InventoryView) -> None:
    listed = {(p["namespace"], p["name"].split("-")[0]) for p in status_document(view)["pods"]}
    assert ("payments", "ledger") in listed  # no sidecar but at risk
    assert ("kube-system", "coredns") not in listed and ("auth", "token") not in listed
    everything = status_document(view, all_pods=True)["pods"]
    assert len(everything) == sum(1 for _ in view.pods()) and len(everything) > len(listed)


def test_deterministic_order(mesh: MeshSnapshot) -> None:
    doc = status_document(Inventory.from_snapshot(mesh).view())
    keys = [(p["cluster"], p["namespace"], p["name"]) for p in doc["pods"]]
    assert keys == sorted(keys)
    assert [n["name"] for n in doc["namespaces"]] == sorted(n["name"] for n in doc["namespaces"])
    assert json.dumps(doc) == json.dumps(status_document(Inventory.from_snapshot(mesh).view()))


def test_observed_phase_without_a_pair() -> None:
    assert observed_phase(Inventory().view()) is None


def test_malformed_objects_are_reported_not_dropped(control_plane_raw: list[dict[str, Any]]) -> None:
    broken = {"apiVersion": "v1", "kind": "Pod", "metadata": {"namespace": "shop"}}
    snap = ClusterSnapshot.from_raw("prod-east", [*control_plane_raw, broken])
    doc = status_document(Inventory.from_snapshot(MeshSnapshot((snap,))).view())
    malformed = [p for p in doc["problems"] if p["code"] == "malformed_object"]
    assert malformed == [
        {
            "cluster": None,
            "code": "malformed_object",
            "message": "prod-east: skipped Pod ?: the object has no metadata.name",
        }
    ]
