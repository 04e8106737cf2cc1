"""Gateways of each kind of docs/istio.md#gateways: kind, revision and how each is upgraded."""

from __future__ import annotations

import copy
from typing import Any

from meshtui.domain.gateways import (
    GATEWAY_API,
    HELM_GATEWAY,
    INJECTED_GATEWAY,
    ISTIOCTL_GATEWAY,
    UPGRADE_INSTALLER,
    UPGRADE_REINJECT,
    UPGRADE_RELABEL,
    UPGRADE_SWITCH,
    WAYPOINT,
)
from meshtui.domain.inventory import InventoryView

from .builders import app, namespace, retag
from .conftest import build


def by_name(view: InventoryView) -> dict[str, Any]:
    return {g.name: g for g in view.gateways}


def test_every_gateway_kind_of_the_fixture(view: InventoryView) -> None:
    gws = by_name(view)
    assert {n: (g.kind, g.upgrade) for n, g in gws.items()} == {
        "istio-ingressgateway": (ISTIOCTL_GATEWAY, UPGRADE_INSTALLER),
        "istio-ingress": (HELM_GATEWAY, UPGRADE_SWITCH),
        "public": (GATEWAY_API, UPGRADE_RELABEL),
        "waypoint": (WAYPOINT, UPGRADE_RELABEL),
    }
    ingress = gws["istio-ingressgateway"]
    assert (ingress.namespace, ingress.revision, ingress.revisions, ingress.pods) == (
        "istio-system",
        "1-22-3",
        ("1-22-3",),
        2,
    )
    assert ingress.revision_on_restart == "1-22-3" and ingress.workload == "Deployment/istio-ingressgateway"
    assert gws["public"].workload == "Deployment/public-istio" and gws["public"].revision == "1-22-3"
    assert gws["waypoint"].pods == 0 and gws["waypoint"].revision is None
    assert gws["waypoint"].revision_on_restart == "1-22-3"  # no label: the default revision deploys it


def test_non_injected_gateways_are_not_at_risk(view: InventoryView) -> None:
    # istioctl gateway pods carry sidecar.istio.io/inject=false yet run a proxy: they keep it on restart.
    rows = [r for r in view.pods("prod-east", "istio-system") if r.gateway == ISTIOCTL_GATEWAY]
    assert len(rows) == 2 and all(not r.at_risk and r.revision_on_restart == "1-22-3" for r in rows)


def test_gateway_api_follows_its_label_through_the_tag(
    control_plane_raw: list[dict[str, Any]], workloads_raw: list[dict[str, Any]]
) -> None:
    moved = [
        retag(o, "1-23-1") if o["metadata"]["name"] == "istio-revision-tag-prod-stable" else o
        for o in control_plane_raw
    ]
    gws = by_name(build(moved + copy.deepcopy(workloads_raw)))
    assert (gws["public"].revision, gws["public"].revision_on_restart) == ("1-22-3", "1-23-1")
    assert gws["waypoint"].revision_on_restart == "1-22-3"


def test_injected_gateway_without_revision_label_is_upgraded_by_restart(
    control_plane_raw: list[dict[str, Any]],
) -> None:
    objects = [
        namespace("ingress", **{"istio.io/rev": "prod-canary"}),
        *app(
            "ingressgateway",
            "ingress",
            ["1-22-3"],
            template_labels={"istio": "ingressgateway"},
            template_annotations={"inject.istio.io/templates": "gateway"},
        ),
    ]
    for obj in objects:
        if obj["kind"] == "Pod":
            obj["metadata"]["annotations"]["inject.istio.io/templates"] = "gateway"
    gw = by_name(build(copy.deepcopy(control_plane_raw) + objects))["ingressgateway"]
    assert (gw.kind, gw.upgrade) == (INJECTED_GATEWAY, UPGRADE_REINJECT)
    assert (gw.revision, gw.revision_on_restart) == ("1-22-3", "1-23-1")


def test_gateway_pods_are_counted_in_their_namespace(view: InventoryView) -> None:
    ns = view.namespace("prod-east", "istio-system")
    assert ns is not None and ns.by_revision == {"1-22-3": 2} and ns.mesh_pods == {}
