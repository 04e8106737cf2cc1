"""The Upgrade, Rollback and Finish gates of docs/upgrade.md#gates, with counts and first offenders."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from meshtui.domain.gates import PLAN_NOT_SHOWN, detect_source_target
from meshtui.domain.inventory import Inventory, InventoryView
from meshtui.domain.revisions import Revision
from meshtui.domain.snapshot import ClusterSnapshot, MeshSnapshot

from .builders import app, find, load, namespace, pod, retag


def control_plane(default_to: str = "1-22-3", stable_to: str = "1-22-3") -> list[dict[str, Any]]:
    objects = copy.deepcopy(load("control-plane.yaml"))
    moves = {"istio-revision-tag-default": default_to, "istio-revision-tag-prod-stable": stable_to}
    return [retag(o, moves[o["metadata"]["name"]]) if o["metadata"]["name"] in moves else o for o in objects]


def mesh_objects(rev: str, tags_to: str | None = None) -> list[dict[str, Any]]:
    """A small mesh whose sidecars all run `rev`, with the default and prod-stable tags on `tags_to`."""
    tags = tags_to or rev
    objects = control_plane(default_to=tags, stable_to=tags)
    objects += [
        namespace("shop", **{"istio.io/rev": "prod-stable"}),
        namespace("cart", **{"istio.io/rev": rev}),
    ]
    objects += app("frontend", "shop", [rev, rev])
    objects += app("api", "cart", [rev])
    return objects


def view_of(*clusters: tuple[str, list[dict[str, Any]]], **kw: Any) -> InventoryView:
    mesh = MeshSnapshot(tuple(ClusterSnapshot.from_raw(name, objs) for name, objs in clusters))
    return Inventory.from_snapshot(mesh).view(**kw)


def codes(view: InventoryView, action: str) -> dict[str, Any]:
    assert view.gates is not None
    return {c.code: c for c in view.gates.verdict(action).conditions}


def test_upgrade_gate_on_the_canary_fixture(view: InventoryView) -> None:
    assert view.gates is not None and (view.source, view.target) == ("1-22-3", "1-23-1")
    up = codes(view, "upgrade")
    assert not view.gates.upgrade.enabled
    assert up["namespaces"].count == 5
    assert up["namespaces"].message == "5 namespaces not on 1-23-1: auth, cart, legacy, payments, shop"
    assert up["pods"].count == 12 and up["pods"].message == "12 pods still on 1-22-3"
    assert len(up["pods"].first_offenders) == 5 and up["pods"].first_offenders[0].startswith("auth/auth-")
    assert up["pods_on_restart"].message == "12 pods would not restart on 1-23-1 (3 would lose the sidecar)"
    assert up["gateways"].count == 4
    assert up["tags"].message == "2 tags still resolve to 1-22-3: default, prod-stable"
    assert "revision_missing" not in up and "revision_not_ready" not in up


def test_rollback_gate_on_the_canary_fixture(view: InventoryView) -> None:
    down = codes(view, "rollback")
    assert down["namespaces"].message == "2 namespaces not on 1-22-3: payments, reviews"
    assert down["pods"].message == "2 pods still on 1-23-1"
    assert down["tags"].message == "1 tag still resolves to 1-23-1: prod-canary"
    assert "gateways" not in down


def test_upgrade_enabled_when_everything_is_on_the_target() -> None:
    objects = mesh_objects("1-23-1")
    objects.append(pod("migrate-x", "cart", "1-22-3", phase="Succeeded", owner=("Job", "migrate")))
    objects.append(pod("crashed-x", "cart", "1-22-3", phase="Failed"))
    view = view_of(("prod-east", objects), source="1-22-3", target="1-23-1")
    assert view.gates is not None
    assert view.gates.upgrade.reasons == () and view.gates.upgrade.enabled
    assert not view.gates.rollback.enabled
    cart = view.namespace("prod-east", "cart")
    assert cart is not None and cart.terminal == 2 and cart.live == 1


def test_a_terminating_pod_still_blocks() -> None:
    objects = mesh_objects("1-23-1")
    leaving = pod("api-old-1", "cart", "1-22-3", owner=("ReplicaSet", "api-5d8f7c9b6"))
    leaving["metadata"]["deletionTimestamp"] = "2026-08-01T10:00:00Z"
    objects.append(leaving)
    view = view_of(("prod-east", objects), source="1-22-3", target="1-23-1")
    up = codes(view, "upgrade")
    assert up["pods"].count == 1 and up["pods"].first_offenders == ("cart/api-old-1",)


def test_target_not_ready_and_missing() -> None:
    objects = mesh_objects("1-23-1")
    find(objects, "Deployment", "istiod-1-23-1")["status"] = {"replicas": 1, "unavailableReplicas": 1}
    up = codes(view_of(("prod-east", objects), source="1-22-3", target="1-23-1"), "upgrade")
    assert up["revision_not_ready"].message == "revision 1-23-1 is not Ready"
    up = codes(view_of(("prod-east", objects), source="1-22-3", target="1-24-0"), "upgrade")
    assert up["revision_missing"].message == "revision 1-24-0 does not exist"


def test_finish_gate() -> None:
    objects = mesh_objects("1-23-1")
    done = ("prod-east", objects)
    kw = {"source": "1-22-3", "target": "1-23-1"}
    unchosen = view_of(done, **kw)
    assert unchosen.gates is not None and not unchosen.gates.finish.enabled
    assert unchosen.gates.finish.reasons == (
        "choose Upgrade or Rollback first",
        PLAN_NOT_SHOWN,
    )
    not_shown = view_of(done, chosen="upgrade", **kw)
    assert not_shown.gates is not None and not_shown.gates.finish.reasons == (
        PLAN_NOT_SHOWN,
    )
    ready = view_of(done, chosen="upgrade", plan_shown=True, **kw)
    assert ready.gates is not None and ready.gates.finish.enabled
    wrong = view_of(done, chosen="rollback", plan_shown=True, **kw)
    assert wrong.gates is not None and not wrong.gates.finish.enabled
    assert {c.code for c in wrong.gates.finish.conditions} >= {"namespaces", "pods", "tags"}


def test_no_source_and_target() -> None:
    objects = mesh_objects("1-22-3")
    objects = [
        o for o in objects if o["metadata"]["name"] not in ("istiod-1-23-1", "istio-sidecar-injector-1-23-1")
    ]
    objects = [o for o in objects if o["metadata"]["name"] != "istio-revision-tag-prod-canary"]
    view = view_of(("prod-east", objects))
    assert view.source is None and view.gates is not None
    assert not view.gates.upgrade.enabled and view.gates.upgrade.conditions[0].code == "no_upgrade"


def test_two_clusters_gate_holds_only_when_it_holds_in_both() -> None:
    done = mesh_objects("1-23-1")
    half = mesh_objects("1-23-1", tags_to="1-22-3")
    for obj in half:
        if obj["kind"] == "Pod" and obj["metadata"]["name"].startswith("api-"):
            obj.update(pod(obj["metadata"]["name"], "cart", "1-22-3", owner=("ReplicaSet", "api-5d8f7c9b6")))
    mixed = view_of(("east", done), ("west", half), source="1-22-3", target="1-23-1")
    up = codes(mixed, "upgrade")
    assert up["pods"].first_offenders == ("west/cart/api-5d8f7c9b6-00000",)
    assert up["tags"].first_offenders == ("west/default", "west/prod-stable")
    assert up["namespaces"].message == "1 namespace still on 1-22-3: west/shop"
    both = view_of(("east", done), ("west", mesh_objects("1-23-1")), source="1-22-3", target="1-23-1")
    assert both.gates is not None and both.gates.upgrade.enabled


def test_target_missing_in_one_cluster() -> None:
    west = [
        o
        for o in mesh_objects("1-22-3")
        if "1-23-1" not in o["metadata"]["name"] and "prod-canary" not in o["metadata"]["name"]
    ]
    view = view_of(("east", mesh_objects("1-23-1")), ("west", west), source="1-22-3", target="1-23-1")
    assert (
        codes(view, "upgrade")["revision_missing"].message == "revision 1-23-1 does not exist in cluster west"
    )


def _rev(name: str, version: str | None, default: bool = False) -> Revision:
    return Revision("c", name, version, None, True, default, (), None, False, (), None)


@pytest.mark.parametrize(
    "revisions, expected",
    [
        ([_rev("stable", "1.23.1"), _rev("canary", "1.22.3")], ("canary", "stable")),
        ([_rev("1-22-3", "1.22.3", True), _rev("1-23-1", "1.23.1")], ("1-22-3", "1-23-1")),
        ([_rev("a", None, True), _rev("b", None)], ("a", "b")),
        ([_rev("a", "1.22.3"), _rev("b", "1.22.3", True)], ("b", "a")),
        ([_rev("a", None), _rev("b", None)], None),
        ([_rev("a", "1.21.0"), _rev("b", "1.22.3"), _rev("c", "1.23.1")], None),
        ([_rev("a", "1.22.3")], None),
    ],
)
def test_detect_source_target(revisions: list[Revision], expected: tuple[str, str] | None) -> None:
    assert detect_source_target(revisions) == expected
