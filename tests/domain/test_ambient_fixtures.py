"""The ambient model over objects shaped exactly as Istio's 1.29/1.30 charts render them
(tests/domain/fixtures/ambient, sources in its README): ztunnel and istio-cni are node agents with their
version and istiod revision, never sidecar pods; ambient pods, the waypoint and the tag Service are read."""

from __future__ import annotations

from typing import Any

from meshtui.domain.inventory import Inventory, InventoryView
from meshtui.domain.report import status_document
from meshtui.domain.snapshot import ClusterSnapshot, MeshSnapshot

from .builders import load

MESH = (
    "ztunnel.yaml",
    "istio-cni.yaml",
    "istiod-ambient.yaml",
    "revision-tags.yaml",
    "workloads.yaml",
    "waypoint.yaml",
)


def view_of(*files: str) -> InventoryView:
    objects = [o for f in files for o in load(f"ambient/{f}")]
    return Inventory.from_snapshot(MeshSnapshot((ClusterSnapshot.from_raw("prod", objects),))).view()


def by_kind(view: InventoryView) -> dict[str, Any]:
    return {c.kind: c for c in view.components}


def test_chart_rendered_node_agents_are_components_not_sidecars() -> None:
    view = view_of(*MESH)
    doc = status_document(view, all_pods=True)
    assert not [p for p in doc["pods"] if p["name"].startswith(("ztunnel-", "istio-cni-node-"))]
    assert not [r for r in view.pods("prod", "istio-system") if r.has_sidecar or r.at_risk]
    z, cni = by_kind(view)["ztunnel"], by_kind(view)["istio-cni"]
    assert (z.name, z.version, z.configured) == ("ztunnel", "1.29.6", "1-29-6")
    assert z.revision_source == "env XDS_ADDRESS=istiod-1-29-6.istio-system.svc:15012"
    assert [(p.node, p.version, p.ready, p.current) for p in z.pods] == [
        ("node-a", "1.29.6", True, True),
        ("node-b", "1.29.6", True, True),
        ("node-c", "1.29.6", True, True),
    ]
    # The fixtures hold no istiod for 1-29-6: ztunnel names an istiod this cluster does not have.
    assert z.revision is None and z.problems
    assert (cni.name, cni.version, cni.configured, cni.progress) == ("istio-cni-node", "1.29.6", "default", "3/3")
    assert cni.problems == ()  # istio-cni does not talk to istiod: an unrevisioned install is normal


def test_ambient_pods_waypoint_and_tag_service_are_read() -> None:
    view = view_of(*MESH)
    doc = status_document(view, all_pods=True)
    modes = {n["name"]: (n["dataplane_mode"], n["use_waypoint"]) for n in doc["namespaces"]}
    assert modes["shop"] == ("ambient", "waypoint") and modes["reviews"][0] == "ambient"
    frontend = next(p for p in doc["pods"] if p["name"].startswith("frontend-"))
    assert (frontend["dataplane"], frontend["at_risk"]) == ("ambient", False)
    (waypoint,) = [g for g in view.gateways if g.kind == "waypoint"]
    assert (waypoint.namespace, waypoint.revision, waypoint.revision_on_restart) == ("shop", "1-29-6", "1-29-6")
    tag = next(t for t in view.tags if t.name == "prod-stable")
    assert (tag.revision, tag.service, tag.service_revision) == (
        "1-29-6",
        "istio-system/istiod-revision-tag-prod-stable",
        "1-29-6",
    )


def test_ztunnel_without_a_revision_uses_the_plain_istiod_service() -> None:
    (z,) = view_of("ztunnel-default.yaml", "istiod-ambient.yaml").components
    assert (z.version, z.configured) == ("1.30.3", None)
    assert z.revision_source == "env XDS_ADDRESS=istiod.istio-system.svc:15012"
    assert z.problems == (
        "it names no revision (the istiod Service), which is neither a revision nor a tag of this cluster",
    )
