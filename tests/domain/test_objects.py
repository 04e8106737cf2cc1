"""Parsing raw API objects into models: the fields the rules need, and malformed input never crashing."""

from __future__ import annotations

import copy
import dataclasses
import json
from typing import Any

import pytest

from meshtui.domain.objects import (
    MalformedObject,
    Pod,
    image_version,
    parse_gateway,
    parse_injector_configmap,
    parse_namespace,
    parse_object,
    parse_pdb,
    parse_pod,
    parse_webhook_configuration,
    parse_workload,
    positional_constructor,
)

from .builders import find, load, pod


@pytest.fixture(scope="module")
def injected() -> dict[str, Any]:
    return load("pod-injected-1-22-3.yaml")[0]


def test_full_injected_pod(injected: dict[str, Any]) -> None:
    p = parse_pod("prod-east", injected)
    assert (p.cluster, p.namespace, p.name) == ("prod-east", "shop", "frontend-7d9c8b6f5d-x2x4k")
    assert p.has_sidecar and not p.native_sidecar
    assert p.current_revision == "1-22-3"
    assert p.revision_source == "annotation istio.io/rev"
    assert p.proxy_image == "docker.io/istio/proxyv2:1.22.3"
    assert p.proxy_version == "1.22.3"
    assert (p.owner_kind, p.owner_name) == ("ReplicaSet", "frontend-7d9c8b6f5d")
    assert p.phase == "Running" and p.ready and not p.terminating and not p.terminal
    assert p.restarts == 1 and p.last_restart_at == "2026-08-02T03:41:10Z"
    assert p.node_name == "worker-2" and p.start_time == "2026-08-01T09:12:44Z"
    assert p.labels["pod-template-hash"] == "7d9c8b6f5d"
    assert p.problems == ()


def test_pod_does_not_keep_the_raw_dict(injected: dict[str, Any]) -> None:
    p = parse_pod("c", injected)
    assert not any(isinstance(getattr(p, f), dict) for f in p.__slots__)
    with pytest.raises(TypeError):
        p.labels["app"] = "x"  # type: ignore[index]


def test_identical_label_sets_are_shared(injected: dict[str, Any]) -> None:
    a = parse_pod("c", injected)
    b = parse_pod("c", copy.deepcopy(injected))
    assert a.labels is b.labels


def test_status_annotation_only_pod_of_1_11_to_1_17(injected: dict[str, Any]) -> None:
    raw = copy.deepcopy(injected)
    del raw["metadata"]["annotations"]["istio.io/rev"]
    p = parse_pod("c", raw)
    assert p.current_revision == "1-22-3"
    assert p.revision_source == "annotation sidecar.istio.io/status"


def test_pre_1_11_pod_has_only_the_label(injected: dict[str, Any]) -> None:
    raw = copy.deepcopy(injected)
    anns = raw["metadata"]["annotations"]
    del anns["istio.io/rev"]
    anns["sidecar.istio.io/status"] = json.dumps({"version": "abc", "initContainers": ["istio-init"]})
    raw["metadata"]["labels"]["istio.io/rev"] = "1-10-6"
    p = parse_pod("c", raw)
    assert (p.current_revision, p.revision_source) == ("1-10-6", "label istio.io/rev")


def test_native_sidecar_in_init_containers() -> None:
    raw = pod("reviews-1", "reviews", "1-23-1")
    proxy = raw["spec"]["containers"].pop()
    raw["spec"]["initContainers"] = [
        {"name": "istio-init", "image": proxy["image"]},
        {**proxy, "restartPolicy": "Always"},
    ]
    p = parse_pod("c", raw)
    assert p.has_sidecar and p.native_sidecar and p.proxy_version == "1.23.1"


def test_an_uninjected_gateway_placeholder_is_not_a_sidecar() -> None:
    raw = pod("ingress-1", "istio-ingress", None, annotations={"inject.istio.io/templates": "gateway"})
    raw["spec"]["containers"] = [{"name": "istio-proxy", "image": "auto"}]
    p = parse_pod("c", raw)
    assert not p.has_sidecar and p.proxy_image is None and p.problems == ()


def test_init_container_without_restart_policy_always_is_not_a_sidecar() -> None:
    raw = pod("job-1", "batch", None)
    raw["spec"]["initContainers"] = [{"name": "istio-proxy", "image": "docker.io/istio/proxyv2:1.23.1"}]
    assert not parse_pod("c", raw).has_sidecar


def test_malformed_status_annotation_is_a_problem_not_an_error(injected: dict[str, Any]) -> None:
    raw = copy.deepcopy(injected)
    anns = raw["metadata"]["annotations"]
    del anns["istio.io/rev"]
    anns["sidecar.istio.io/status"] = '{"revision": "1-22-3"'  # truncated
    p = parse_pod("c", raw)
    assert p.has_sidecar and p.proxy_version == "1.22.3"
    assert p.current_revision is None
    assert any("sidecar.istio.io/status is not valid JSON" in problem for problem in p.problems)


def test_status_annotation_that_is_json_but_not_an_object(injected: dict[str, Any]) -> None:
    raw = copy.deepcopy(injected)
    raw["metadata"]["annotations"]["sidecar.istio.io/status"] = "[1, 2]"
    p = parse_pod("c", raw)
    assert p.current_revision == "1-22-3"  # the istio.io/rev annotation still says it
    assert any("not a JSON object" in problem for problem in p.problems)


def test_label_value_of_the_wrong_type_is_dropped_and_reported() -> None:
    raw = pod("a-1", "shop", "1-22-3", labels={"app": "a"})
    raw["metadata"]["labels"]["replicas"] = 3
    raw["metadata"]["labels"]["tags"] = ["x"]
    p = parse_pod("c", raw)
    assert "replicas" not in p.labels and "tags" not in p.labels and p.labels["app"] == "a"
    assert any("replicas, tags" in problem for problem in p.problems)


def test_annotations_that_are_not_a_map(injected: dict[str, Any]) -> None:
    raw = copy.deepcopy(injected)
    raw["metadata"]["annotations"] = "oops"
    p = parse_pod("c", raw)
    assert p.has_sidecar and p.current_revision is None
    assert len(p.problems) == 2  # the annotations themselves, then the missing revision


def test_proxy_image_annotation_overrides(injected: dict[str, Any]) -> None:
    raw = copy.deepcopy(injected)
    raw["metadata"]["annotations"]["sidecar.istio.io/proxyImage"] = "mirror.local/istio/proxyv2:1.22.4-distroless"
    p = parse_pod("c", raw)
    assert p.proxy_image == "mirror.local/istio/proxyv2:1.22.4-distroless" and p.proxy_version == "1.22.4"


@pytest.mark.parametrize(
    "raw, reason",
    [
        ("not a pod", "not a mapping"),
        ({"kind": "Pod"}, "no metadata"),
        ({"metadata": {"namespace": "x"}}, "no metadata.name"),
        ({"metadata": {"name": 7, "namespace": "x"}}, "no metadata.name"),
        ({"metadata": {"name": "p"}}, "no metadata.namespace"),
    ],
)
def test_malformed_object_raises_one_exception_type(raw: object, reason: str) -> None:
    with pytest.raises(MalformedObject) as info:
        parse_pod("c", raw)
    assert info.value.kind == "Pod" and reason in info.value.reason


def test_wrong_typed_spec_and_status_give_a_best_effort_pod() -> None:
    raw = {"metadata": {"name": "p", "namespace": "n"}, "spec": [], "status": "Running"}
    p = parse_pod("c", raw)
    assert not p.has_sidecar and p.phase == "Unknown" and not p.ready


def test_waiting_reasons_and_terminating() -> None:
    raw = pod("api-1", "cart", "1-22-3")
    raw["metadata"]["deletionTimestamp"] = "2026-08-01T10:00:00Z"
    raw["status"]["containerStatuses"][0]["state"] = {"waiting": {"reason": "CrashLoopBackOff"}}
    raw["status"]["containerStatuses"][1]["state"] = {"waiting": {"reason": "ImagePullBackOff"}}
    p = parse_pod("c", raw)
    assert p.terminating and p.waiting_reasons == ("CrashLoopBackOff", "ImagePullBackOff")


@pytest.mark.parametrize(
    "image, version",
    [
        ("docker.io/istio/proxyv2:1.22.3", "1.22.3"),
        ("docker.io/istio/pilot:1.23.1-distroless", "1.23.1"),
        ("localhost:5000/istio/proxyv2:1.22.3-debug", "1.22.3"),
        ("gcr.io/asm/proxyv2:1.22.3-asm.1@sha256:abcd", "1.22.3-asm.1"),
        ("localhost:5000/istio/proxyv2", None),
        ("docker.io/istio/proxyv2@sha256:abcd", None),
        (None, None),
    ],
)
def test_image_version(image: str | None, version: str | None) -> None:
    assert image_version(image) == version


def test_namespace_always_carries_its_name_label() -> None:
    ns = parse_namespace("c", {"metadata": {"name": "shop", "labels": {"istio.io/rev": "prod-stable"}}})
    assert ns.labels["kubernetes.io/metadata.name"] == "shop" and ns.labels["istio.io/rev"] == "prod-stable"
    assert parse_namespace("c", {"metadata": {"name": "x", "deletionTimestamp": "t"}}).terminating


def test_workload_fields(workloads_raw: list[dict[str, Any]]) -> None:
    cache = parse_workload("c", find(workloads_raw, "StatefulSet", "cache", "shop"))
    assert (cache.kind, cache.update_strategy, cache.partition) == ("StatefulSet", "OnDelete", None)
    assert cache.template_labels["sidecar.istio.io/inject"] == "false"
    ledger = parse_workload("c", find(workloads_raw, "StatefulSet", "ledger", "cart"))
    assert (ledger.update_strategy, ledger.partition, ledger.updated_replicas) == ("RollingUpdate", 1, 0)
    front = parse_workload("c", find(workloads_raw, "Deployment", "frontend", "shop"))
    assert (front.replicas, front.update_strategy, front.paused, front.generation) == (
        2,
        "RollingUpdate",
        False,
        2,
    )
    istiod = parse_workload("c", find(load("control-plane.yaml"), "Deployment", "istiod-1-23-1"))
    assert istiod.image_of("discovery") == "docker.io/istio/pilot:1.23.1-distroless"


def test_cronjob_daemonset_and_rollout_templates() -> None:
    cron = parse_workload(
        "c",
        {
            "kind": "CronJob",
            "metadata": {"name": "nightly", "namespace": "batch"},
            "spec": {
                "suspend": True,
                "jobTemplate": {"spec": {"template": {"metadata": {"labels": {"app": "nightly"}}, "spec": {}}}},
            },
        },
    )
    assert cron.template_labels == {"app": "nightly"} and cron.paused
    ds = parse_workload(
        "c",
        {
            "kind": "DaemonSet",
            "metadata": {"name": "agent", "namespace": "ops"},
            "spec": {"updateStrategy": {"type": "OnDelete"}, "template": {"spec": {"hostNetwork": True}}},
            "status": {"desiredNumberScheduled": 3, "numberReady": 2, "updatedNumberScheduled": 1},
        },
    )
    assert (ds.update_strategy, ds.replicas, ds.ready_replicas, ds.template_host_network) == (
        "OnDelete",
        3,
        2,
        True,
    )
    rollout = parse_workload(
        "c",
        {
            "apiVersion": "argoproj.io/v1alpha1",
            "kind": "Rollout",
            "metadata": {"name": "web", "namespace": "shop"},
            "spec": {"strategy": {"blueGreen": {}}, "workloadRef": {"kind": "Deployment", "name": "web"}},
        },
    )
    assert (rollout.update_strategy, rollout.workload_ref) == ("blueGreen", "Deployment/web")


def test_mutating_webhook_configuration(control_plane_raw: list[dict[str, Any]]) -> None:
    old = parse_webhook_configuration(
        "c", find(control_plane_raw, "MutatingWebhookConfiguration", "istio-sidecar-injector")
    )
    assert old.revision == "default" and old.tag is None and old.is_istio_injector
    assert len(old.webhooks) == 4 and all(h.deactivated for h in old.webhooks)
    tag = parse_webhook_configuration(
        "c", find(control_plane_raw, "MutatingWebhookConfiguration", "istio-revision-tag-prod-canary")
    )
    assert (tag.revision, tag.tag) == ("1-23-1", "prod-canary")
    hook = tag.webhooks[0]
    assert hook.name == "rev.namespace.sidecar-injector.istio.io" and not hook.deactivated
    assert hook.service == "istio-system/istiod-1-23-1" and hook.service_path == "/inject"
    assert hook.failure_policy == "Fail" and hook.covers_pod_create
    assert hook.namespace_selector.matches({"istio.io/rev": "prod-canary"})
    assert not hook.namespace_selector.matches({"istio.io/rev": "prod-canary", "istio-injection": "enabled"})


def test_webhook_rules_that_do_not_cover_pod_create(control_plane_raw: list[dict[str, Any]]) -> None:
    raw = copy.deepcopy(find(control_plane_raw, "MutatingWebhookConfiguration", "istio-sidecar-injector-1-22-3"))
    raw["webhooks"][0]["rules"][0]["operations"] = ["UPDATE"]
    raw["webhooks"][1]["rules"][0]["resources"] = ["pods/exec"]
    config = parse_webhook_configuration("c", raw)
    assert not config.webhooks[0].covers_pod_create and not config.webhooks[1].covers_pod_create


def test_malformed_selector_makes_the_configuration_malformed(
    control_plane_raw: list[dict[str, Any]],
) -> None:
    raw = copy.deepcopy(find(control_plane_raw, "MutatingWebhookConfiguration", "istio-sidecar-injector-1-22-3"))
    raw["webhooks"][0]["namespaceSelector"] = {"matchExpressions": [{"key": "a", "operator": "Near"}]}
    with pytest.raises(MalformedObject, match="namespaceSelector"):
        parse_webhook_configuration("c", raw)


def test_injector_configmap(control_plane_raw: list[dict[str, Any]]) -> None:
    config = parse_injector_configmap(
        "c", find(control_plane_raw, "ConfigMap", "istio-sidecar-injector-1-23-1", "istio-system")
    )
    assert config is not None
    assert config.revision == "1-23-1" and config.policy == "enabled"
    assert (config.hub, config.tag, config.variant) == ("docker.io/istio", "1.23.1", "distroless")
    assert config.proxy_image == "docker.io/istio/proxyv2:1.23.1-distroless" and config.proxy_version == "1.23.1"
    assert config.never_inject == () and config.always_inject == () and config.default_templates == ("sidecar",)
    assert config.problems == ()


def test_injector_configmap_policy_selectors_and_broken_values() -> None:
    raw = {
        "kind": "ConfigMap",
        "metadata": {"name": "istio-sidecar-injector", "namespace": "istio-system"},
        "data": {
            "config": "policy: disabled\nalwaysInjectSelector:\n  - matchLabels:\n      mesh: always\n"
            "neverInjectSelector:\n  - matchExpressions:\n"
            "    - {key: openshift.io/build.name, operator: Exists}\n"
            "templates:\n  sidecar: |\n    policy: enabled\n    not: [valid yaml at top level\n",
            "values": "{not json",
        },
    }
    config = parse_injector_configmap("c", raw)
    assert config is not None
    assert config.revision == "default" and config.policy == "disabled"
    assert config.always_inject[0].matches({"mesh": "always"})
    assert config.never_inject[0].matches({"openshift.io/build.name": "b"})
    assert config.proxy_image is None and any("data.values" in p for p in config.problems)


def test_other_configmaps_are_not_modelled() -> None:
    assert parse_injector_configmap("c", {"metadata": {"name": "istio-ca-root-cert", "namespace": "shop"}}) is None
    assert parse_object("c", {"kind": "ConfigMap", "metadata": {"name": "istio", "namespace": "istio-system"}}) is None


def test_pdb_and_gateways() -> None:
    pdb = parse_pdb(
        "c",
        {
            "metadata": {"name": "frontend", "namespace": "shop"},
            "spec": {"minAvailable": "50%", "selector": {"matchLabels": {"app": "frontend"}}},
            "status": {"disruptionsAllowed": 0, "currentHealthy": 1, "desiredHealthy": 1, "expectedPods": 2},
        },
    )
    assert pdb.selector.matches({"app": "frontend"}) and pdb.min_available == "50%" and pdb.disruptions_allowed == 0
    gw = parse_gateway(
        "c",
        {
            "metadata": {"name": "public", "namespace": "edge", "labels": {"istio.io/rev": "prod-stable"}},
            "spec": {"gatewayClassName": "istio"},
        },
    )
    assert (gw.gateway_class, gw.labels["istio.io/rev"]) == ("istio", "prod-stable")
    istio_config_gateway = {
        "apiVersion": "networking.istio.io/v1",
        "kind": "Gateway",
        "metadata": {"name": "g", "namespace": "n"},
    }
    assert parse_object("c", istio_config_gateway) is None


def test_the_positional_pod_constructor_builds_the_same_frozen_pod() -> None:
    values = [f"v{i}" for i in range(len(dataclasses.fields(Pod)))]
    built = positional_constructor(Pod)(*values)
    assert type(built) is Pod and built == Pod(*values) and hash(built) == hash(Pod(*values))
    assert [getattr(built, f.name) for f in dataclasses.fields(Pod)] == values
    with pytest.raises(dataclasses.FrozenInstanceError):
        built.name = "other"  # type: ignore[misc]
    with pytest.raises(TypeError):
        positional_constructor(Pod)(*values[:-1])  # every field is required, defaults included
