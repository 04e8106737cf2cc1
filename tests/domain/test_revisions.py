"""Revisions, tags, the default revision and dangling objects (docs/istio.md)."""

from __future__ import annotations

import copy
from typing import Any

from meshtui.domain.revisions import ControlPlane, control_plane_of
from meshtui.domain.snapshot import ClusterSnapshot

from .builders import find, retag


def cp_of(objects: list[dict[str, Any]]) -> ControlPlane:
    return control_plane_of(ClusterSnapshot.from_raw("c", objects))


def test_revisions_of_the_canary_install(control_plane_raw: list[dict[str, Any]]) -> None:
    cp = cp_of(control_plane_raw)
    assert [r.name for r in cp.revisions] == ["1-22-3", "1-23-1"]
    old, new = cp.revisions
    assert (old.version, old.version_source) == ("1.22.3", "image of container discovery")
    assert new.version == "1.23.1"  # the -distroless variant is stripped
    assert old.ready and new.ready and not old.managed
    assert old.istiod == "istio-system/istiod-1-22-3"
    assert old.tags == ("default", "prod-stable") and new.tags == ("prod-canary",)
    assert old.webhooks == ("istio-sidecar-injector-1-22-3",)
    assert new.proxy_image == "docker.io/istio/proxyv2:1.23.1-distroless"
    assert [(t.name, t.revision) for t in cp.tags] == [
        ("default", "1-22-3"),
        ("prod-canary", "1-23-1"),
        ("prod-stable", "1-22-3"),
    ]
    assert cp.problems == ()


def test_default_revision_ignores_the_deactivated_injector(control_plane_raw: list[dict[str, Any]]) -> None:
    cp = cp_of(control_plane_raw)
    assert cp.default_revision == "1-22-3" and cp.default_webhook == "istio-revision-tag-default"
    assert [r.name for r in cp.revisions if r.is_default] == ["1-22-3"]
    assert cp.revision("default") is None  # the deactivated non-revisioned injector is not a revision
    assert cp.validation_default == "1-22-3"


def test_moving_the_default_tag_moves_the_default_revision(control_plane_raw: list[dict[str, Any]]) -> None:
    objects = [
        retag(o, "1-23-1") if o["metadata"]["name"] == "istio-revision-tag-default" else o
        for o in control_plane_raw
    ]
    cp = cp_of(objects)
    assert cp.default_revision == "1-23-1"
    assert cp.revision("1-23-1").is_default and not cp.revision("1-22-3").is_default  # type: ignore[union-attr]
    assert cp.tag("default").revision == "1-23-1"  # type: ignore[union-attr]


def test_an_active_non_revisioned_injector_beside_the_default_tag_is_an_overlap(
    control_plane_raw: list[dict[str, Any]],
) -> None:
    objects = copy.deepcopy(control_plane_raw)
    old = find(objects, "MutatingWebhookConfiguration", "istio-sidecar-injector")
    old["webhooks"] = copy.deepcopy(
        find(objects, "MutatingWebhookConfiguration", "istio-revision-tag-default")["webhooks"]
    )
    cp = cp_of(objects)
    assert cp.revision("default") is not None and cp.revision("default").managed  # type: ignore[union-attr]
    assert cp.default_revision == "1-22-3"  # istio-revision-tag-default sorts (and is called) first
    assert [p.code for p in cp.problems if p.code == "default_overlap"] == ["default_overlap"]


def test_tag_resolution(control_plane_raw: list[dict[str, Any]]) -> None:
    cp = cp_of(control_plane_raw)
    assert cp.resolve("prod-canary") == "1-23-1"
    assert cp.resolve("1-22-3") == "1-22-3"
    assert cp.resolve("default") == "1-22-3"
    assert cp.resolve("1-21-0") is None


def test_dangling_tag_when_its_revision_is_gone(control_plane_raw: list[dict[str, Any]]) -> None:
    # helm uninstall istiod-1-22-3 removed its istiod, Service, MWC and ConfigMap but not the tags.
    objects = [
        o
        for o in control_plane_raw
        if o["metadata"]["name"] not in ("istiod-1-22-3", "istio-sidecar-injector-1-22-3")
    ]
    cp = cp_of(objects)
    assert [r.name for r in cp.revisions] == ["1-23-1"]
    dangling = {t.name: t for t in cp.tags if t.dangling}
    assert set(dangling) == {"default", "prod-stable"}
    assert (
        dangling["prod-stable"].problem == "tag prod-stable points at revision 1-22-3, which no longer exists"
    )
    webhook_problems = [p.message for p in cp.problems if p.code == "dangling_webhook"]
    assert any(
        "istio-revision-tag-prod-stable/rev.namespace" in m and "pod creation" in m for m in webhook_problems
    )
    assert any(
        m.startswith("webhook istiod-default-validator/") and "Istio config writes" in m
        for m in webhook_problems
    )


def test_webhook_calling_a_missing_service(control_plane_raw: list[dict[str, Any]]) -> None:
    objects = [
        o
        for o in control_plane_raw
        if not (o["kind"] == "Service" and o["metadata"]["name"] == "istiod-1-23-1")
    ]
    cp = cp_of(objects)
    assert cp.tag("prod-canary").dangling  # type: ignore[union-attr]
    assert "istio-system/istiod-1-23-1, which does not exist" in (cp.tag("prod-canary").problem or "")  # type: ignore[union-attr]
    assert not cp.tag("prod-stable").dangling  # type: ignore[union-attr]


def test_without_listed_services_no_webhook_is_called_dangling(
    control_plane_raw: list[dict[str, Any]],
) -> None:
    objects = [o for o in control_plane_raw if o["kind"] != "Service"]
    cp = cp_of(objects)
    assert not any(t.dangling for t in cp.tags) and cp.problems == ()


def test_managed_revision_has_webhooks_but_no_istiod(control_plane_raw: list[dict[str, Any]]) -> None:
    # A managed control plane (TCM, ASM): the webhook calls a URL outside the cluster.
    managed = copy.deepcopy(
        find(control_plane_raw, "MutatingWebhookConfiguration", "istio-sidecar-injector-1-23-1")
    )
    managed["metadata"]["name"] = "istiod-asm-1231-3"
    managed["metadata"]["labels"] = {
        "istio.io/rev": "asm-1231-3",
        "app": "sidecar-injector",
        "operator.istio.io/version": "1.23.1-asm.3",
    }
    for hook in managed["webhooks"]:
        hook["clientConfig"] = {"url": "https://meshconfig.example.com/v1/projects/p/inject/asm-1231-3"}
    cp = cp_of([*control_plane_raw, managed])
    rev = cp.revision("asm-1231-3")
    assert rev is not None and rev.managed and rev.istiod is None and rev.ready
    assert (rev.version, rev.version_source) == ("1.23.1-asm.3", "webhook label operator.istio.io/version")


def test_version_falls_back_to_labels_then_injector_values(control_plane_raw: list[dict[str, Any]]) -> None:
    objects = copy.deepcopy(control_plane_raw)
    istiod = find(objects, "Deployment", "istiod-1-23-1")
    istiod["spec"]["template"]["spec"]["containers"][0]["image"] = "registry.local/pilot@sha256:0123"
    istiod["metadata"]["labels"]["operator.istio.io/version"] = "1.23.1"
    assert cp_of(objects).revision("1-23-1").version_source == "label operator.istio.io/version"  # type: ignore[union-attr]
    del istiod["metadata"]["labels"]["operator.istio.io/version"]
    istiod["metadata"]["labels"]["helm.sh/chart"] = "istiod-1.23.1"
    assert cp_of(objects).revision("1-23-1").version == "1.23.1"  # type: ignore[union-attr]
    del istiod["metadata"]["labels"]["helm.sh/chart"]
    rev = cp_of(objects).revision("1-23-1")
    assert rev is not None and (rev.version, rev.version_source) == ("1.23.1", "injector values")


def test_unready_istiod(control_plane_raw: list[dict[str, Any]]) -> None:
    objects = copy.deepcopy(control_plane_raw)
    istiod = find(objects, "Deployment", "istiod-1-23-1")
    istiod["status"] = {
        "replicas": 1,
        "updatedReplicas": 1,
        "unavailableReplicas": 1,
        "observedGeneration": 1,
    }
    rev = cp_of(objects).revision("1-23-1")
    assert rev is not None and not rev.ready and rev.istiod_replicas == "0/1"


def test_tag_services_of_1_27(control_plane_raw: list[dict[str, Any]]) -> None:
    svc = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": "istiod-revision-tag-ambient-stable",
            "namespace": "istio-system",
            "labels": {"app": "istiod", "istio.io/rev": "1-23-1", "istio.io/tag": "ambient-stable"},
        },
        "spec": {"selector": {"app": "istiod", "istio.io/rev": "1-23-1"}},
    }
    cp = cp_of([*control_plane_raw, svc])
    tag = cp.tag("ambient-stable")
    assert (
        tag is not None
        and tag.revision == "1-23-1"
        and tag.service == "istio-system/istiod-revision-tag-ambient-stable"
    )
    assert tag.webhooks == () and not tag.dangling
    assert "ambient-stable" in cp.revision("1-23-1").tags  # type: ignore[union-attr]
    assert cp.revision("ambient-stable") is None


def test_conflicting_tag_sources(control_plane_raw: list[dict[str, Any]]) -> None:
    svc = {
        "kind": "Service",
        "metadata": {
            "name": "istiod-revision-tag-prod-stable",
            "namespace": "istio-system",
            "labels": {"app": "istiod", "istio.io/rev": "1-23-1", "istio.io/tag": "prod-stable"},
        },
    }
    cp = cp_of([*control_plane_raw, svc])
    assert cp.tag("prod-stable").revision == "1-22-3"  # type: ignore[union-attr]
    assert [p.code for p in cp.problems] == ["tag_conflict"]
