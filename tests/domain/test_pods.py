"""Pod rows: revision on restart from the owning workload, at-risk verdicts and restartability."""

from __future__ import annotations

import copy
from typing import Any

from meshtui.domain.inventory import InventoryView
from meshtui.domain.pods import PodRow

from .builders import app, deployment, load, namespace, pod, replicaset, retag
from .conftest import build


def _control_plane() -> list[dict[str, Any]]:
    return copy.deepcopy(load("control-plane.yaml"))


def row(view: InventoryView, ns: str, prefix: str) -> PodRow:
    rows = [r for r in view.pods(view.clusters[0].name, ns) if r.name.startswith(prefix)]
    assert rows, f"no pod {ns}/{prefix}*"
    return rows[0]


def test_ordinary_pods(view: InventoryView) -> None:
    r = row(view, "shop", "frontend")
    assert (r.revision, r.revision_on_restart, r.at_risk, r.reason) == ("1-22-3", "1-22-3", False, None)
    assert (r.workload_kind, r.workload_name, r.restartable) == ("Deployment", "frontend", True)
    canary = row(view, "reviews", "reviews-v2")
    assert canary.pod.native_sidecar and (canary.revision, canary.revision_on_restart) == ("1-23-1", "1-23-1")


def test_the_seeds_caveat(view: InventoryView) -> None:
    # batch had injection on, its pods were injected, then the label was removed.
    worker = row(view, "batch", "worker")
    assert worker.has_sidecar and worker.revision_on_restart is None and worker.at_risk
    assert worker.reason == ("would lose its sidecar on restart: neither the namespace nor the pod asks for injection")
    # ... unless the pod itself carries an injection label.
    reporter = row(view, "batch", "reporter")
    assert reporter.revision_on_restart == "1-22-3" and not reporter.at_risk


def test_seeds_caveat_with_istio_injection_disabled() -> None:
    objects = [namespace("batch", **{"istio-injection": "disabled"}), *app("worker", "batch", ["1-22-3"])]
    view = build(_control_plane() + objects)
    worker = row(view, "batch", "worker")
    assert (
        worker.at_risk
        and worker.reason == "would lose its sidecar on restart: namespace label istio-injection=disabled"
    )


def test_template_opt_out_on_an_on_delete_statefulset(view: InventoryView) -> None:
    cache = row(view, "shop", "cache")
    assert cache.has_sidecar and cache.at_risk and cache.revision_on_restart is None
    assert cache.reason == "would lose its sidecar on restart: pod label sidecar.istio.io/inject=false"
    assert not cache.restartable and "OnDelete" in (cache.restart_blocker or "")


def test_missing_revision_puts_new_pods_at_risk(view: InventoryView) -> None:
    ledger = row(view, "payments", "ledger-api")
    assert not ledger.has_sidecar and ledger.at_risk
    assert ledger.reason == "would be recreated without a sidecar: no active webhook serves 1-21-0"
    assert view.namespace("prod-east", "payments").at_risk == 1  # type: ignore[union-attr]


def test_opted_out_pods_without_sidecar_are_not_at_risk(view: InventoryView) -> None:
    token = row(view, "auth", "token-cache")
    assert not token.has_sidecar and token.revision_on_restart is None and not token.at_risk


def test_terminal_pods_are_never_at_risk_nor_live(view: InventoryView) -> None:
    job = row(view, "cart", "migrate")
    assert job.pod.phase == "Succeeded" and not job.live and not job.at_risk
    assert (
        not job.restartable
        and job.restart_blocker == "Job pod: it runs to completion; the next run gets the new sidecar"
    )
    cart = view.namespace("prod-east", "cart")
    assert cart is not None and cart.terminal == 1 and cart.live == 4


def test_revision_on_restart_comes_from_the_deployment_template_not_the_pod() -> None:
    # The pod was created with the namespace's revision; the Deployment's template now pins canary.
    d = deployment("api", "shop", template_labels={"istio.io/rev": "prod-canary"})
    rs = replicaset(d)
    old_pod = pod(
        "api-5d8f7c9b6-00000",
        "shop",
        "1-22-3",
        labels={"app": "api"},
        owner=("ReplicaSet", rs["metadata"]["name"]),
    )
    objects = [namespace("shop"), d, rs, old_pod]
    r = row(build(_control_plane() + objects), "shop", "api")
    assert (r.revision, r.revision_on_restart) == ("1-22-3", "1-23-1")
    assert not r.at_risk  # the namespace asks for nothing; the pod-level label is the operator's choice


def test_pod_label_pointing_elsewhere_under_revision_label_preference_pod() -> None:
    cp = _control_plane()
    for obj in cp:
        if obj["kind"] != "MutatingWebhookConfiguration":
            continue
        for hook in obj["webhooks"]:
            if hook["name"].startswith("rev.object.") and "matchExpressions" in hook["namespaceSelector"]:
                hook["namespaceSelector"]["matchExpressions"] = [
                    e for e in hook["namespaceSelector"]["matchExpressions"] if e["key"] != "istio.io/rev"
                ]
            if hook["name"].startswith("rev.namespace.") and "matchExpressions" in hook["objectSelector"]:
                hook["objectSelector"]["matchExpressions"].append({"key": "istio.io/rev", "operator": "DoesNotExist"})
    objects = [
        namespace("shop", **{"istio.io/rev": "prod-stable"}),
        *app("api", "shop", ["1-22-3"], template_labels={"istio.io/rev": "prod-canary"}),
    ]
    r = row(build(cp + objects), "shop", "api")
    assert r.revision_on_restart == "1-23-1" and r.at_risk
    assert r.reason == (
        "would restart on 1-23-1, not on the namespace's 1-22-3: "
        "pod label istio.io/rev=prod-canary overrides namespace label istio.io/rev=prod-stable"
    )


def test_a_tag_moved_under_running_pods() -> None:
    cp = [
        retag(o, "1-23-1") if o["metadata"]["name"] == "istio-revision-tag-prod-stable" else o for o in _control_plane()
    ]
    objects = [namespace("shop", **{"istio.io/rev": "prod-stable"}), *app("web", "shop", ["1-22-3"])]
    r = row(build(cp + objects), "shop", "web")
    # Outdated but not at risk: the replacement lands where the namespace now points.
    assert (r.revision, r.revision_on_restart, r.at_risk) == ("1-22-3", "1-23-1", False)


def test_dangling_tag_webhook_refuses_replacements() -> None:
    cp = [o for o in _control_plane() if not (o["kind"] == "Service" and o["metadata"]["name"] == "istiod-1-23-1")]
    objects = [
        namespace("reviews", **{"istio.io/rev": "prod-canary"}),
        *app("reviews", "reviews", ["1-23-1"]),
    ]
    r = row(build(cp + objects), "reviews", "reviews")
    assert r.at_risk and r.reason is not None and r.reason.startswith("its replacement would be refused: webhook")


def test_old_pod_label_naming_a_tag_is_resolved() -> None:
    p = pod("legacy-1", "old", None, labels={"istio.io/rev": "prod-stable"})
    p["spec"]["containers"].append({"name": "istio-proxy", "image": "docker.io/istio/proxyv2:1.22.3"})
    r = row(build([*_control_plane(), namespace("old"), p]), "old", "legacy")
    assert r.revision == "1-22-3" and r.pod.revision_source == "label istio.io/rev"


def test_restartability() -> None:
    objects: list[dict[str, Any]] = [namespace("ops")]
    objects.append(pod("bare", "ops", "1-22-3"))
    objects.append(
        {
            "kind": "DaemonSet",
            "metadata": {"name": "agent", "namespace": "ops"},
            "spec": {
                "updateStrategy": {"type": "OnDelete"},
                "template": {"metadata": {"labels": {"app": "agent"}}},
            },
        }
    )
    objects.append(pod("agent-x1", "ops", "1-22-3", owner=("DaemonSet", "agent")))
    paused = deployment("paused", "ops", paused=True)
    objects += [
        paused,
        replicaset(paused),
        pod("paused-5d8f7c9b6-1", "ops", "1-22-3", owner=("ReplicaSet", "paused-5d8f7c9b6")),
    ]
    objects.append(pod("orphan-1", "ops", "1-22-3", owner=("ReplicaSet", "orphan-77")))
    unseen = replicaset(deployment("unseen", "ops"))  # its Deployment has not arrived yet
    objects += [unseen, pod("unseen-5d8f7c9b6-1", "ops", "1-22-3", owner=("ReplicaSet", "unseen-5d8f7c9b6"))]
    objects.append(pod("wf-1", "ops", "1-22-3", owner=("Workflow", "nightly")))
    rollout = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Rollout",
        "metadata": {"name": "web", "namespace": "ops"},
        "spec": {"template": {"metadata": {"labels": {"app": "web"}}}, "strategy": {"canary": {}}},
    }
    rollout_rs = {
        "kind": "ReplicaSet",
        "metadata": {
            "name": "web-6c9",
            "namespace": "ops",
            "ownerReferences": [{"kind": "Rollout", "name": "web", "controller": True}],
        },
        "spec": {"template": {"metadata": {"labels": {"app": "web"}}}},
    }
    objects += [rollout, rollout_rs, pod("web-6c9-1", "ops", "1-22-3", owner=("ReplicaSet", "web-6c9"))]
    view = build(_control_plane() + objects)
    blockers = {r.name: (r.restartable, r.restart_blocker, r.workload_kind) for r in view.pods("prod-east", "ops")}
    assert blockers["bare"][:2] == (
        False,
        "bare pod: nothing recreates it; delete it and apply its manifest again",
    )
    assert blockers["agent-x1"][1] == "DaemonSet agent uses updateStrategy OnDelete: its pods change only when deleted"
    assert blockers["paused-5d8f7c9b6-1"][1] == "Deployment paused is paused: a restart waits until it is resumed"
    assert blockers["orphan-1"][1] == "its owner ReplicaSet orphan-77 is not known, so it cannot be restarted"
    assert blockers["wf-1"][1] == "its owner Workflow nightly is not known, so it cannot be restarted"
    assert blockers["unseen-5d8f7c9b6-1"][1] == "its owner Deployment unseen is not known, so it cannot be restarted"
    assert blockers["web-6c9-1"] == (True, None, "Rollout")


def test_pods_survive_malformed_annotations_in_the_inventory() -> None:
    p = pod("odd-1", "shop", "1-22-3")
    p["metadata"]["annotations"]["sidecar.istio.io/status"] = "{broken"
    del p["metadata"]["annotations"]["istio.io/rev"]
    r = row(build([*_control_plane(), namespace("shop", **{"istio.io/rev": "prod-stable"}), p]), "shop", "odd")
    assert r.has_sidecar and r.revision is None and r.revision_on_restart == "1-22-3" and r.pod.problems
