"""The incremental inventory: deltas equal a from-scratch build; events recompute only what they touch."""

from __future__ import annotations

import copy
import random
from collections.abc import Iterator
from typing import Any

import pytest

from meshtui.domain import inventory as inventory_module
from meshtui.domain.inventory import Inventory, InventoryView
from meshtui.domain.objects import Model, kind_of, parse_object
from meshtui.domain.snapshot import ClusterSnapshot, MeshSnapshot

from .builders import deployment, find, load, namespace, pod, replicaset, retag

CLUSTER = "prod-east"


def model(raw: dict[str, Any]) -> Model:
    parsed = parse_object(CLUSTER, raw)
    assert parsed is not None
    return parsed


def comparable(view: InventoryView) -> tuple[object, ...]:
    """Everything a user sees, minus the version counter."""
    return (
        view.namespaces,
        tuple(view.pods()),
        view.gateways,
        view.control_planes,
        view.skew,
        view.gates,
        view.templates,
    )


class World:
    """The objects a cluster holds right now, kept apart from the inventory under test."""

    def __init__(self) -> None:
        self.objects: dict[tuple[str, object], Model] = {}
        self.kinds: set[str] = set()
        self.inventory = Inventory()
        # A second inventory fed the same events in batches (`apply_batch`), as the live watch does.
        self.batched = Inventory()
        self.pending: list[tuple[str, str, Model]] = []

    def put(self, raw: dict[str, Any], event: str | None = None) -> None:
        m = model(raw)
        kind = kind_of(m)
        key = (kind, m.key)
        event = event or ("MODIFIED" if key in self.objects else "ADDED")
        self.objects[key] = m
        self.kinds.add(kind)
        self.inventory.apply(CLUSTER, kind, event, m)
        self.pending.append((kind, event, m))

    def delete(self, key: tuple[str, object]) -> None:
        m = self.objects.pop(key)
        self.inventory.apply(CLUSTER, key[0], "DELETED", m)
        self.pending.append((key[0], "DELETED", m))

    def apply_pending(self) -> None:
        events, self.pending = self.pending, []
        self.batched.apply_batch(CLUSTER, events)

    def fresh(self) -> InventoryView:
        snap = ClusterSnapshot.from_models(CLUSTER, self.objects.values(), known_kinds=self.kinds)
        return Inventory.from_snapshot(MeshSnapshot((snap,))).view()


NAMESPACE_LABELS = [
    {},
    {"istio-injection": "enabled"},
    {"istio-injection": "disabled"},
    {"istio.io/rev": "prod-stable"},
    {"istio.io/rev": "prod-canary"},
    {"istio.io/rev": "1-23-1"},
    {"istio.io/rev": "1-21-0"},
    {"istio-injection": "enabled", "istio.io/rev": "1-23-1"},
]
POD_LABELS = [
    {},
    {"sidecar.istio.io/inject": "false"},
    {"sidecar.istio.io/inject": "true"},
    {"istio.io/rev": "prod-canary"},
]
REVS = ["1-22-3", "1-23-1", None]
PHASES = ["Running", "Running", "Running", "Pending", "Succeeded", "Failed"]


def random_pod(rng: random.Random, namespaces: list[str], apps: list[tuple[str, str]]) -> dict[str, Any]:
    if apps and rng.random() < 0.6:
        ns, app = rng.choice(apps)
        name = f"{app}-5d8f7c9b6-{rng.randrange(6):05d}"
        owner: tuple[str, str] | None = ("ReplicaSet", f"{app}-5d8f7c9b6")
        labels = {"app": app, "pod-template-hash": "5d8f7c9b6"}
    else:
        ns = rng.choice(namespaces)
        name = f"bare-{rng.randrange(6)}"
        owner = None
        labels = dict(rng.choice(POD_LABELS))
    raw = pod(name, ns, rng.choice(REVS), labels=labels, owner=owner, phase=rng.choice(PHASES))
    if rng.random() < 0.1:
        raw["metadata"]["deletionTimestamp"] = "2026-08-01T10:00:00Z"
    if rng.random() < 0.05:
        raw["metadata"]["annotations"]["sidecar.istio.io/status"] = "{not json"
        raw["metadata"]["annotations"].pop("istio.io/rev", None)
    return raw


def events(rng: random.Random, world: World, steps: int) -> Iterator[str]:
    """Apply a random mix of pod churn, namespace relabels, template edits and control-plane changes."""
    cp_raw = load("control-plane.yaml")
    namespaces = ["shop", "cart", "batch", "kube-system"]
    apps = [("shop", "frontend"), ("cart", "api"), ("batch", "worker")]
    for ns in namespaces:
        world.put(namespace(ns, **rng.choice(NAMESPACE_LABELS)))
    for obj in cp_raw:
        world.put(obj)
    for ns, app in apps:
        d = deployment(app, ns, template_labels=dict(rng.choice(POD_LABELS)))
        world.put(d)
        world.put(replicaset(d))
    for _ in range(steps):
        roll = rng.random()
        if roll < 0.45:
            world.put(random_pod(rng, namespaces, apps))
            yield "pod upsert"
        elif roll < 0.6:
            pods = [k for k in world.objects if k[0] == "Pod"]
            if pods:
                world.delete(rng.choice(pods))
            yield "pod delete"
        elif roll < 0.7:
            world.put(namespace(rng.choice(namespaces), **rng.choice(NAMESPACE_LABELS)))
            yield "namespace relabel"
        elif roll < 0.78:
            ns, app = rng.choice(apps)
            d = deployment(app, ns, template_labels=dict(rng.choice(POD_LABELS)))
            world.put(d)
            if rng.random() < 0.5:
                world.put(replicaset(d))
            yield "template change"
        elif roll < 0.86:
            tag = find(
                cp_raw,
                "MutatingWebhookConfiguration",
                rng.choice(["istio-revision-tag-prod-stable", "istio-revision-tag-default"]),
            )
            world.put(retag(tag, rng.choice(["1-22-3", "1-23-1"])))
            yield "tag move"
        elif roll < 0.91:
            svc_key = ("Service", ("istio-system", "istiod-1-23-1"))
            if svc_key in world.objects:
                world.delete(svc_key)
            else:
                world.put(find(cp_raw, "Service", "istiod-1-23-1"))
            yield "istiod Service toggled"
        elif roll < 0.96:
            name = rng.choice(["istio-sidecar-injector-1-23-1", "istio-revision-tag-prod-canary"])
            key = ("MutatingWebhookConfiguration", name)
            if key in world.objects:
                world.delete(key)
            else:
                world.put(find(cp_raw, "MutatingWebhookConfiguration", name))
            yield "webhook toggled"
        else:
            cm = copy.deepcopy(find(cp_raw, "ConfigMap", "istio-sidecar-injector-1-23-1"))
            cm["data"]["config"] = cm["data"]["config"].replace(
                "policy: enabled", rng.choice(["policy: enabled", "policy: disabled"])
            )
            world.put(cm)
            yield "injector policy"


@pytest.mark.parametrize("seed", [1, 7, 42, 2026])
def test_incremental_equals_from_scratch(seed: int) -> None:
    rng = random.Random(seed)
    world = World()
    for step, what in enumerate(events(rng, world, 150)):
        incremental = world.inventory.view()
        assert comparable(incremental) == comparable(world.fresh()), f"step {step}: {what}"
    assert any(ns.live for ns in world.inventory.view().namespaces)


@pytest.mark.parametrize("seed", [3, 11, 2027])
def test_batches_equal_one_event_at_a_time(seed: int) -> None:
    rng = random.Random(seed)
    world = World()
    for step, what in enumerate(events(rng, world, 200)):
        if rng.random() < 0.3:
            world.apply_pending()
            assert comparable(world.batched.view()) == comparable(world.fresh()), f"step {step}: {what}"
    world.apply_pending()
    assert comparable(world.batched.view()) == comparable(world.inventory.view())


def test_list_pages_then_replace_equal_a_fresh_build(control_plane_raw: list[dict[str, Any]]) -> None:
    """The live watch upserts each list page as it arrives, then replaces the kind with the whole list."""
    rng = random.Random(5)
    world = World()
    for _ in events(rng, world, 120):
        pass
    by_kind: dict[str, list[Model]] = {}
    for (kind, _), m in world.objects.items():
        by_kind.setdefault(kind, []).append(m)
    # A relist of an inventory that holds stale objects too: a pod and a namespace the server no longer has.
    inv = Inventory()
    inv.apply(CLUSTER, "Pod", "ADDED", model(pod("gone-1", "shop", "1-22-3")))
    inv.apply(CLUSTER, "Namespace", "ADDED", model(namespace("gone")))
    for kind in sorted(by_kind, key=lambda k: (k in ("Pod", "Namespace"), k)):
        models = by_kind[kind]
        for start in range(0, len(models), 7):
            inv.apply_batch(CLUSTER, [(kind, "ADDED", m) for m in models[start : start + 7]])
        if kind == "Namespace":
            assert inv.view().namespace(CLUSTER, "gone") is not None, "pages alone never delete"
        if kind == "Pod":
            assert [r.name for r in inv.view().pods(CLUSTER, "shop") if r.name == "gone-1"] == ["gone-1"]
        inv.replace(CLUSTER, kind, models)
    assert inv.view().namespace(CLUSTER, "gone") is None
    assert not [r for r in inv.view().pods(CLUSTER, "shop") if r.name == "gone-1"]
    assert comparable(inv.view()) == comparable(world.fresh())


def test_version_bumps_only_on_change(control_plane_raw: list[dict[str, Any]]) -> None:
    inv = Inventory()
    p = model(pod("a-1", "shop", "1-22-3"))
    assert inv.apply(CLUSTER, "Pod", "ADDED", p)
    version = inv.version
    first = inv.view()
    assert not inv.apply(CLUSTER, "Pod", "MODIFIED", model(pod("a-1", "shop", "1-22-3")))
    assert inv.version == version and inv.view() is first
    assert inv.apply(CLUSTER, "Pod", "DELETED", p)
    assert inv.version > version
    assert not inv.apply(CLUSTER, "Pod", "DELETED", p)


def test_replace_computes_the_difference(control_plane_raw: list[dict[str, Any]]) -> None:
    inv = Inventory()
    inv.replace(
        CLUSTER,
        "MutatingWebhookConfiguration",
        [model(o) for o in control_plane_raw if o["kind"] == "MutatingWebhookConfiguration"],
    )
    inv.replace(CLUSTER, "Namespace", [model(namespace("shop", **{"istio.io/rev": "prod-stable"}))])
    pods = [model(pod(f"a-{i}", "shop", "1-22-3")) for i in range(3)]
    inv.replace(CLUSTER, "Pod", pods)
    row = inv.view().namespace(CLUSTER, "shop")
    assert row is not None and row.live == 3 and row.by_revision == {"1-22-3": 3}
    inv.replace(CLUSTER, "Pod", [pods[0], model(pod("a-1", "shop", "1-23-1"))])
    row = inv.view().namespace(CLUSTER, "shop")
    assert row is not None and row.live == 2 and row.by_revision == {"1-22-3": 1, "1-23-1": 1}
    assert [r.name for r in inv.view().pods(CLUSTER, "shop")] == ["a-0", "a-1"]


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch, mesh: MeshSnapshot) -> tuple[Inventory, list[str]]:
    """The fixture's inventory, with every pod assessment recorded."""
    inv = Inventory.from_snapshot(mesh)
    calls: list[str] = []
    original = inventory_module._Cluster.assess

    def assess(self: Any, p: Any) -> Any:
        calls.append(f"{p.namespace}/{p.name}")
        return original(self, p)

    monkeypatch.setattr(inventory_module._Cluster, "assess", assess)
    return inv, calls


def test_a_pod_event_assesses_only_that_pod(
    counted: tuple[Inventory, list[str]], workloads_raw: list[dict[str, Any]]
) -> None:
    inv, calls = counted
    raw = copy.deepcopy(
        next(o for o in workloads_raw if o["kind"] == "Pod" and o["metadata"]["name"].startswith("frontend-"))
    )
    raw["status"]["conditions"][1]["status"] = "False"
    inv.apply(CLUSTER, "Pod", "MODIFIED", model(raw))
    assert calls == [f"shop/{raw['metadata']['name']}"]


def test_a_namespace_relabel_assesses_that_namespace_only(counted: tuple[Inventory, list[str]]) -> None:
    inv, calls = counted
    inv.apply(CLUSTER, "Namespace", "MODIFIED", model(namespace("shop", **{"istio.io/rev": "prod-canary"})))
    assert calls and all(c.startswith("shop/") for c in calls) and len(calls) == 3
    shop = inv.view().namespace(CLUSTER, "shop")
    assert shop is not None and shop.revision == "1-23-1"


def test_a_template_change_assesses_that_workloads_pods(
    counted: tuple[Inventory, list[str]], workloads_raw: list[dict[str, Any]]
) -> None:
    inv, calls = counted
    d = copy.deepcopy(find(workloads_raw, "Deployment", "api", "cart"))
    d["spec"]["template"]["metadata"]["labels"]["sidecar.istio.io/inject"] = "false"
    inv.apply(CLUSTER, "Deployment", "MODIFIED", model(d))
    assert sorted(calls) == sorted(c for c in calls if c.startswith("cart/api-")) and len(calls) == 2
    assert inv.view().namespace(CLUSTER, "cart").at_risk == 2  # type: ignore[union-attr]
    calls.clear()
    d["status"]["readyReplicas"] = 1  # status only: nothing to reassess
    inv.apply(CLUSTER, "Deployment", "MODIFIED", model(d))
    assert calls == []


def test_a_webhook_change_reassesses_every_pod_only_when_it_matters(
    counted: tuple[Inventory, list[str]], control_plane_raw: list[dict[str, Any]], mesh: MeshSnapshot
) -> None:
    inv, calls = counted
    tag = find(control_plane_raw, "MutatingWebhookConfiguration", "istio-revision-tag-prod-stable")
    relabelled = copy.deepcopy(tag)
    relabelled["metadata"]["labels"]["owner"] = "platform"  # changes the object, not what it selects
    inv.apply(CLUSTER, "MutatingWebhookConfiguration", "MODIFIED", model(relabelled))
    assert calls == []
    inv.apply(CLUSTER, "MutatingWebhookConfiguration", "MODIFIED", model(retag(tag, "1-23-1")))
    assert len(calls) == len(mesh.clusters[0].pods)
    assert inv.view().namespace(CLUSTER, "shop").revision == "1-23-1"  # type: ignore[union-attr]


def test_an_unrelated_service_does_not_touch_the_control_plane(counted: tuple[Inventory, list[str]]) -> None:
    inv, calls = counted
    svc = {
        "kind": "Service",
        "metadata": {"name": "frontend", "namespace": "shop", "labels": {"app": "frontend"}},
        "spec": {"selector": {"app": "frontend"}},
    }
    inv.apply(CLUSTER, "Service", "ADDED", model(svc))
    assert calls == []


def test_snapshot_round_trip(mesh: MeshSnapshot) -> None:
    inv = Inventory.from_snapshot(mesh)
    again = Inventory.from_snapshot(inv.snapshot())
    assert comparable(again.view()) == comparable(inv.view())


def test_a_proxy_container_added_to_a_template_reassesses_its_pods(control_plane_raw: list[dict[str, Any]]) -> None:
    """A template that gains a rendered istio-proxy (a gateway installed by manifest) keeps its revision on restart."""
    world = World()
    for obj in control_plane_raw:
        world.put(obj)
    world.put(namespace("edge", **{"istio.io/rev": "1-23-1"}))
    d = deployment(
        "gw",
        "edge",
        template_labels={"sidecar.istio.io/inject": "false"},
        template_annotations={"istio.io/rev": "1-22-3"},
    )
    world.put(d)
    world.put(replicaset(d))
    world.put(pod("gw-5d8f7c9b6-1", "edge", "1-22-3", labels={"app": "gw"}, owner=("ReplicaSet", "gw-5d8f7c9b6")))
    assert comparable(world.inventory.view()) == comparable(world.fresh())
    # Only the containers change: the proxy image is what makes the template a rendered one.
    rendered = copy.deepcopy(d)
    rendered["spec"]["template"]["spec"]["containers"].append(
        {"name": "istio-proxy", "image": "docker.io/istio/proxyv2:1.22.3"}
    )
    world.put(rendered)
    world.put(replicaset(rendered))
    assert comparable(world.inventory.view()) == comparable(world.fresh())
