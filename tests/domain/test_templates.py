"""Pod templates without pods: they block the gates exactly as their pods would (issue 10, item 3).

A gateway Deployment scaled to 0 pinned to the source, a Deployment scaled to 0 pinned the same way and a
CronJob whose template asks for the source must keep Upgrade (and so Finish) disabled; once the source is
gone, an `image: auto` gateway that no injector fills is at risk with that reason.
"""

from __future__ import annotations

import copy
from typing import Any

from meshtui.domain.inventory import Inventory, InventoryView
from meshtui.domain.objects import parse_object
from meshtui.domain.snapshot import ClusterSnapshot, MeshSnapshot

from .builders import deployment, namespace, pod
from .test_gates import codes, mesh_objects, view_of

SOURCE, TARGET = "1-22-3", "1-23-1"
PIN = {"istio.io/rev": SOURCE}
GATEWAY_ANNOTATIONS = {"inject.istio.io/templates": "gateway", "sidecar.istio.io/inject": "true"}


def gateway(name: str, ns: str, replicas: int, rev: str = SOURCE) -> dict[str, Any]:
    """An injected gateway as the istio/gateway chart renders it: `image: auto`, the gateway template."""
    d = deployment(
        name,
        ns,
        template_labels={"istio": name, "istio.io/rev": rev, "sidecar.istio.io/inject": "true"},
        template_annotations=GATEWAY_ANNOTATIONS,
        replicas=replicas,
    )
    d["spec"]["template"]["spec"]["containers"] = [{"name": "istio-proxy", "image": "auto"}]
    return d


def cronjob(name: str, ns: str, template_labels: dict[str, str]) -> dict[str, Any]:
    return {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": {"name": name, "namespace": ns, "uid": f"uid-cj-{name}"},
        "spec": {
            "schedule": "*/5 * * * *",
            "jobTemplate": {
                "spec": {
                    "template": {
                        "metadata": {"labels": {"app": name, **template_labels}},
                        "spec": {"restartPolicy": "OnFailure", "containers": [{"name": name, "image": "busybox"}]},
                    }
                }
            },
        },
    }


def job(
    name: str, ns: str, template_labels: dict[str, str], *, owner: str | None = None, done: bool = False
) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "namespace": ns, "uid": f"uid-job-{name}"}
    if owner:
        meta["ownerReferences"] = [{"kind": "CronJob", "name": owner, "uid": f"uid-cj-{owner}", "controller": True}]
    status = {"conditions": [{"type": "Complete", "status": "True"}], "succeeded": 1} if done else {"active": 1}
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": meta,
        "spec": {"template": {"metadata": {"labels": {"app": name, **template_labels}}, "spec": {"containers": []}}},
        "status": status,
    }


def stranded_mesh() -> list[dict[str, Any]]:
    """Every pod and namespace on the target; three templates without pods still ask for the source."""
    objects = mesh_objects(TARGET)
    objects += [
        namespace("edge"),
        gateway("ingress", "edge", replicas=0),
        deployment("idle", "edge", template_labels=PIN, replicas=0),
        cronjob("report", "edge", PIN),
    ]
    return objects


def source_offline(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The objects once revision 1-22-3 was removed (its istiod, webhooks, Services and ConfigMaps)."""
    return [o for o in objects if (o["metadata"].get("labels") or {}).get("istio.io/rev") != SOURCE]


def test_templates_without_pods_keep_upgrade_disabled_and_name_themselves() -> None:
    view = view_of(("prod", stranded_mesh()), source=SOURCE, target=TARGET)
    assert view.gates is not None and not view.gates.upgrade.enabled
    up = codes(view, "upgrade")
    assert set(up) == {"templates", "gateways"}, up
    templates = up["templates"]
    assert templates.count == 2
    assert templates.first_offenders == ("edge/idle (Deployment, 0 replicas)", "edge/report (CronJob)")
    assert templates.message == (
        "2 workload templates would get 1-22-3: edge/idle (Deployment, 0 replicas), edge/report (CronJob) "
        "(to fix: switch the pod-template istio.io/rev to 1-23-1)"
    )
    assert templates.remedy == "switch the pod-template istio.io/rev to 1-23-1"
    assert "restart" not in templates.message
    assert templates.jump == ("namespaces", ("edge",))
    assert up["gateways"].first_offenders == ("edge/ingress",)
    ingress = next(g for g in view.gateways if g.name == "ingress")
    assert (ingress.pods, ingress.revision, ingress.revision_on_restart) == (0, None, SOURCE)
    assert ingress.workload == "Deployment/ingress"
    # Finish follows the chosen gate, so it is refused for the same reasons.
    finish = Inventory.from_snapshot(MeshSnapshot((ClusterSnapshot.from_raw("prod", stranded_mesh()),))).view(
        SOURCE, TARGET, chosen="upgrade", plan_shown=True
    )
    assert finish.gates is not None and not finish.gates.finish.enabled
    assert {c.code for c in finish.gates.finish.conditions} == {"templates", "gateways"}


def test_upgrade_is_enabled_once_the_templates_ask_for_the_target() -> None:
    objects = [o for o in stranded_mesh() if o["metadata"].get("namespace") != "edge"]
    objects += [
        gateway("ingress", "edge", replicas=0, rev=TARGET),
        deployment("idle", "edge", template_labels={"istio.io/rev": TARGET}, replicas=0),
        cronjob("report", "edge", {"istio.io/rev": TARGET}),
    ]
    view = view_of(("prod", objects), source=SOURCE, target=TARGET)
    assert view.gates is not None and view.gates.upgrade.enabled, view.gates.upgrade.reasons
    # Rollback mirrors it. The apps with pods are judged through their pods, not named twice.
    rollback = codes(view, "rollback")
    assert rollback["templates"].first_offenders == ("edge/idle (Deployment, 0 replicas)", "edge/report (CronJob)")
    assert rollback["templates"].remedy == "switch the pod-template istio.io/rev to 1-22-3"
    assert rollback["pods_on_restart"].count == 3  # cart/api and shop/frontend
    listed = {(t.name, t.live_pods) for t in view.templates}
    assert listed >= {("api", True), ("frontend", True), ("idle", False), ("report", False)}


def test_with_the_source_offline_an_auto_image_gateway_is_at_risk_and_so_is_its_pod() -> None:
    objects = source_offline(stranded_mesh())
    scaled_up = pod("ingress-7d9-abcde", "edge", labels={"istio": "ingress", "istio.io/rev": SOURCE})
    scaled_up["metadata"]["ownerReferences"] = [{"kind": "ReplicaSet", "name": "ingress-7d9", "controller": True}]
    scaled_up["metadata"]["annotations"] = dict(GATEWAY_ANNOTATIONS)
    scaled_up["spec"]["containers"] = [{"name": "istio-proxy", "image": "auto"}]
    view = view_of(("prod", objects), source=SOURCE, target=TARGET)
    row = next(t for t in view.templates if t.name == "ingress")
    assert row.awaits_injection and row.revision_on_restart is None and row.at_risk
    assert row.reason is not None and row.reason.startswith(
        "its istio-proxy is image: auto, which no injector will fill: pod label istio.io/rev=1-22-3"
    )
    # The gateway blocks Upgrade as "not on 1-23-1"; the plain templates would now get no proxy at all.
    up = codes(view, "upgrade")
    assert up["gateways"].first_offenders == ("edge/ingress",)
    assert "templates" not in up  # without a proxy of their own, they are ordinary workloads again

    with_pod = view_of(("prod", [*objects, scaled_up]), source=SOURCE, target=TARGET)
    (prow,) = [p for p in with_pod.pods("prod", "edge") if p.name == "ingress-7d9-abcde"]
    assert prow.pod.awaiting_injection and not prow.has_sidecar
    assert prow.at_risk and prow.reason is not None and "image: auto, which no injector will fill" in prow.reason


def test_an_auto_image_pod_that_an_injector_will_fill_is_not_at_risk() -> None:
    p = pod("ingress-1", "edge", labels={"istio.io/rev": TARGET})
    p["metadata"]["annotations"] = dict(GATEWAY_ANNOTATIONS)
    p["spec"]["containers"] = [{"name": "istio-proxy", "image": "auto"}]
    view = view_of(("prod", [*mesh_objects(TARGET), namespace("edge"), p]), source=SOURCE, target=TARGET)
    (row,) = view.pods("prod", "edge")
    assert row.pod.awaiting_injection and row.revision_on_restart == TARGET and not row.at_risk


def test_only_templates_that_create_pods_count() -> None:
    objects = [*mesh_objects(TARGET), namespace("edge")]
    owned = deployment("web", "edge", template_labels=PIN, replicas=0)
    rs_of_deployment = {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {
            "name": "web-1",
            "namespace": "edge",
            "ownerReferences": [{"kind": "Deployment", "name": "web", "controller": True}],
        },
        "spec": {"replicas": 0, "template": copy.deepcopy(owned["spec"]["template"])},
    }
    bare_rs = copy.deepcopy(rs_of_deployment)
    bare_rs["metadata"] = {"name": "orphan", "namespace": "edge"}
    objects += [
        rs_of_deployment,
        bare_rs,
        job("nightly-123", "edge", PIN, owner="nightly"),  # the CronJob holds its template
        job("migrate", "edge", PIN, done=True),  # completed: creates no more pods
        job("backfill", "edge", PIN),  # still running: may create pods
        # An Argo Rollout borrowing a Deployment's template (Argo scales the Deployment to 0).
        deployment("checkout-base", "edge", template_labels=PIN, replicas=0),
        {
            "apiVersion": "argoproj.io/v1alpha1",
            "kind": "Rollout",
            "metadata": {"name": "checkout", "namespace": "edge"},
            "spec": {"replicas": 3, "workloadRef": {"kind": "Deployment", "name": "checkout-base"}},
        },
    ]
    view = view_of(("prod", objects), source=SOURCE, target=TARGET)
    found = {(t.kind, t.name): t for t in view.templates if t.namespace == "edge"}
    assert set(found) == {("ReplicaSet", "orphan"), ("Job", "backfill"), ("Rollout", "checkout")}
    assert found[("Rollout", "checkout")].revision_on_restart == SOURCE
    assert found[("Rollout", "checkout")].describe() == "edge/checkout (Rollout, 3 replicas)"
    assert codes(view, "upgrade")["templates"].count == 3


def test_two_clusters_name_the_cluster_and_a_suspended_cronjob_still_counts() -> None:
    east = stranded_mesh()
    suspended = cronjob("report", "edge", PIN)
    suspended["spec"]["suspend"] = True
    west = [*mesh_objects(TARGET), namespace("edge"), suspended]
    view = view_of(("east", east), ("west", west), source=SOURCE, target=TARGET)
    templates = codes(view, "upgrade")["templates"]
    assert templates.first_offenders == (
        "east/edge/idle (Deployment, 0 replicas)",
        "east/edge/report (CronJob)",
        "west/edge/report (CronJob, suspended)",
    )
    assert templates.jump == ("namespaces", ("east/edge", "west/edge"))


def test_a_template_behind_a_tag_names_the_tag_to_move() -> None:
    objects = mesh_objects(TARGET, tags_to=SOURCE)  # shop is labelled prod-stable, still on 1-22-3
    objects = [o for o in objects if not (o["kind"] != "Namespace" and o["metadata"].get("namespace") == "shop")]
    objects.append(deployment("frontend", "shop", replicas=0))
    view = view_of(("prod", objects), source=SOURCE, target=TARGET)
    (row,) = [t for t in view.templates if t.namespace == "shop"]
    assert (row.revision_on_restart, row.driver, row.tag) == (SOURCE, "tag", "prod-stable")
    templates = codes(view, "upgrade")["templates"]
    assert templates.remedy == "move tag prod-stable to 1-23-1"


def test_the_live_inventory_follows_template_edits_and_namespace_relabels() -> None:
    objects = stranded_mesh()
    inventory = Inventory.from_snapshot(MeshSnapshot((ClusterSnapshot.from_raw("prod", objects),)))
    assert codes(inventory.view(SOURCE, TARGET), "upgrade")["templates"].count == 2

    idle = deployment("idle", "edge", template_labels={"istio.io/rev": TARGET}, replicas=0)
    model = parse_object("prod", idle)
    assert model is not None
    inventory.apply("prod", "Deployment", "MODIFIED", model)
    templates = codes(inventory.view(SOURCE, TARGET), "upgrade")["templates"]
    assert templates.first_offenders == ("edge/report (CronJob)",)

    # The namespace now asks for the target: the CronJob's own pod label still wins (rev.object webhooks
    # only match in namespaces without a label), so it is the namespace webhook that decides now.
    ns = parse_object("prod", namespace("edge", **{"istio.io/rev": TARGET}))
    assert ns is not None
    inventory.apply("prod", "Namespace", "MODIFIED", ns)
    view: InventoryView = inventory.view(SOURCE, TARGET)
    assert "templates" not in codes(view, "upgrade")
    report = next(t for t in view.templates if t.name == "report")
    assert (report.revision_on_restart, report.driver) == (TARGET, "namespace")

    deleted = parse_object("prod", cronjob("report", "edge", PIN))
    assert deleted is not None
    inventory.apply("prod", "CronJob", "DELETED", deleted)
    assert not [t for t in inventory.view(SOURCE, TARGET).templates if t.name == "report"]


def test_a_template_is_named_only_while_it_has_no_live_pods() -> None:
    inventory = Inventory.from_snapshot(MeshSnapshot((ClusterSnapshot.from_raw("prod", stranded_mesh()),)))
    assert codes(inventory.view(SOURCE, TARGET), "upgrade")["templates"].count == 2
    rs = {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {
            "name": "idle-6b9",
            "namespace": "edge",
            "ownerReferences": [{"kind": "Deployment", "name": "idle", "controller": True}],
        },
        "spec": {"replicas": 1, "template": {"metadata": {"labels": {"app": "idle", **PIN}}}},
    }
    started = pod("idle-6b9-x1", "edge", SOURCE, labels={"app": "idle", **PIN}, owner=("ReplicaSet", "idle-6b9"))
    for kind, raw in (("ReplicaSet", rs), ("Pod", started)):
        model = parse_object("prod", raw)
        assert model is not None
        inventory.apply("prod", kind, "ADDED", model)
    view = inventory.view(SOURCE, TARGET)
    up = codes(view, "upgrade")
    assert up["templates"].first_offenders == ("edge/report (CronJob)",)
    assert up["pods_on_restart"].first_offenders == ("edge/idle-6b9-x1",)  # the pod names it now
    done = parse_object("prod", {**started, "status": {**started["status"], "phase": "Succeeded"}})
    assert done is not None
    inventory.apply("prod", "Pod", "MODIFIED", done)
    assert codes(inventory.view(SOURCE, TARGET), "upgrade")["templates"].count == 2
