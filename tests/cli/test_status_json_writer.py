"""`status --json` writes the pods as it makes them, in the very bytes a dump of the whole document gives."""

from __future__ import annotations

import io
from typing import Any

import orjson
import pytest

from meshtui.cli import status_cmd
from meshtui.cli.status_cmd import write_json
from meshtui.domain.inventory import Inventory, InventoryView
from meshtui.domain.report import pod_entries, status_document
from meshtui.domain.snapshot import ClusterSnapshot, MeshSnapshot
from meshtui.domain.text import inert_json
from meshtui.sim import scenarios
from meshtui.sim.settings import SimSettings
from meshtui.sim.store import Store

#: The simulator's store keys of the kinds `status` reads, with their kinds.
KINDS = {
    "admissionregistration.k8s.io/mutatingwebhookconfigurations": "MutatingWebhookConfiguration",
    "configmaps": "ConfigMap",
    "services": "Service",
    "namespaces": "Namespace",
    "apps/deployments": "Deployment",
    "apps/replicasets": "ReplicaSet",
    "apps/statefulsets": "StatefulSet",
    "apps/daemonsets": "DaemonSet",
    "pods": "Pod",
}


def scenario_view(name: str) -> InventoryView:
    store = Store()
    scenarios.build(name, store, SimSettings())
    objects = [{**obj, "kind": kind} for key, kind in KINDS.items() for obj in store.list(key)]
    return Inventory.from_snapshot(MeshSnapshot((ClusterSnapshot.from_raw("c", objects),))).view()


def written(doc: dict[str, Any], view: InventoryView, all_pods: bool) -> bytes:
    out = io.BytesIO()
    write_json(out, doc, pod_entries(view, all_pods))
    return out.getvalue()


@pytest.mark.parametrize("scenario", ["demo", "ambient"])
@pytest.mark.parametrize("all_pods", [False, True])
@pytest.mark.parametrize("chunk", [1, 7, 1000])
def test_the_pods_written_in_chunks_give_the_bytes_of_the_whole_document(
    scenario: str, all_pods: bool, chunk: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(status_cmd, "_PODS_CHUNK", chunk)
    view = scenario_view(scenario)
    whole = status_document(view, all_pods=all_pods)
    assert len(whole["pods"]) > 10
    whole["problems_skipped"] = [{"cluster": "c", "kind": "Pod", "namespace": "n", "name": "p\u202e", "message": "m"}]
    doc = status_document(view, all_pods=all_pods, with_pods=False)
    doc["problems_skipped"] = whole["problems_skipped"]
    expected = inert_json(orjson.dumps(whole, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS)) + b"\n"
    assert written(doc, view, all_pods) == expected


def test_a_document_without_pods_is_written_as_a_whole_one() -> None:
    view = Inventory().view()
    doc = status_document(view, with_pods=False)
    expected = orjson.dumps(status_document(view), option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n"
    assert written(doc, view, True) == expected
    assert b'"pods": []' in expected
