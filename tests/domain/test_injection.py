"""Which revision injects a new pod: docs/istio.md#the-decision-table, every row, from the live selectors."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from meshtui.domain.injection import InjectionEvaluator, revision_on_restart
from meshtui.domain.objects import (
    WebhookConfiguration,
    parse_injector_configmap,
    parse_namespace,
    parse_webhook_configuration,
)

from .builders import find, namespace

NS = "kubernetes.io/metadata.name"


def webhooks(raw: list[dict[str, Any]]) -> list[WebhookConfiguration]:
    return [parse_webhook_configuration("c", o) for o in raw if o["kind"] == "MutatingWebhookConfiguration"]


def injectors(raw: list[dict[str, Any]]) -> list[Any]:
    return [
        c for o in raw if o["kind"] == "ConfigMap" and (c := parse_injector_configmap("c", o)) is not None
    ]


@pytest.fixture(scope="module")
def evaluator(control_plane_raw: list[dict[str, Any]]) -> InjectionEvaluator:
    return InjectionEvaluator.build(webhooks(control_plane_raw), injectors(control_plane_raw))


def label_pref_pod(raw: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The same install rendered with `sidecarInjectorWebhook.revisionLabelPreference: pod` (PR #60377)."""
    out = copy.deepcopy(raw)
    for obj in out:
        if obj["kind"] != "MutatingWebhookConfiguration":
            continue
        for hook in obj["webhooks"]:
            if "matchExpressions" not in hook["objectSelector"]:
                continue  # a deactivated (never-match) webhook
            if hook["name"].startswith("rev.namespace."):
                hook["objectSelector"]["matchExpressions"].append(
                    {"key": "istio.io/rev", "operator": "DoesNotExist"}
                )
            elif hook["name"].startswith("rev.object.") and "matchExpressions" in hook["namespaceSelector"]:
                exprs = hook["namespaceSelector"]["matchExpressions"]
                hook["namespaceSelector"]["matchExpressions"] = [
                    e for e in exprs if not (e["key"] == "istio.io/rev" and e["operator"] == "DoesNotExist")
                ]
    return out


def evaluate(
    ev: InjectionEvaluator,
    ns_labels: dict[str, str],
    pod_labels: dict[str, str] | None = None,
    annotation: str | None = None,
    host_network: bool = False,
    ns: str = "app",
) -> str | None:
    return ev.evaluate(ns, {NS: ns, **ns_labels}, pod_labels or {}, annotation, host_network).revision


DECISION_TABLE = [
    # 1. istio-injection=enabled: the default revision, whatever istio.io/rev says; inject=false opts out.
    ("1 enabled", {"istio-injection": "enabled"}, {}, "1-22-3"),
    ("1 enabled + ns rev", {"istio-injection": "enabled", "istio.io/rev": "1-23-1"}, {}, "1-22-3"),
    ("1 enabled + pod rev", {"istio-injection": "enabled"}, {"istio.io/rev": "1-23-1"}, "1-22-3"),
    ("1 enabled + pod opt-out", {"istio-injection": "enabled"}, {"sidecar.istio.io/inject": "false"}, None),
    # 2. any other istio-injection value: nothing matches, even with pod labels.
    ("2 disabled", {"istio-injection": "disabled"}, {}, None),
    ("2 disabled + pod rev", {"istio-injection": "disabled"}, {"istio.io/rev": "1-23-1"}, None),
    (
        "2 disabled + pod inject=true",
        {"istio-injection": "disabled"},
        {"sidecar.istio.io/inject": "true"},
        None,
    ),
    ("2 other value + ns rev", {"istio-injection": "off", "istio.io/rev": "1-23-1"}, {}, None),
    # 3. istio.io/rev=X on the namespace: X's webhook (revision or tag); the pod's istio.io/rev is ignored.
    ("3 ns revision", {"istio.io/rev": "1-23-1"}, {}, "1-23-1"),
    ("3 ns tag", {"istio.io/rev": "prod-canary"}, {}, "1-23-1"),
    ("3 ns default tag", {"istio.io/rev": "default"}, {}, "1-22-3"),
    ("3 pod rev ignored", {"istio.io/rev": "prod-stable"}, {"istio.io/rev": "1-23-1"}, "1-22-3"),
    ("3 nothing serves X", {"istio.io/rev": "1-21-0"}, {}, None),
    ("3 pod opt-out", {"istio.io/rev": "1-23-1"}, {"sidecar.istio.io/inject": "false"}, None),
    # 4. no namespace label: the pod's istio.io/rev, else inject=true gives the default, else nothing.
    ("4 pod revision", {}, {"istio.io/rev": "1-23-1"}, "1-23-1"),
    ("4 pod tag", {}, {"istio.io/rev": "prod-canary"}, "1-23-1"),
    ("4 pod inject=true", {}, {"sidecar.istio.io/inject": "true"}, "1-22-3"),
    ("4 inject=true + pod rev", {}, {"sidecar.istio.io/inject": "true", "istio.io/rev": "1-23-1"}, "1-23-1"),
    ("4 nothing", {}, {}, None),
    ("4 pod rev nothing serves", {}, {"istio.io/rev": "1-21-0"}, None),
]


@pytest.mark.parametrize(
    "ns_labels, pod_labels, expected", [r[1:] for r in DECISION_TABLE], ids=[r[0] for r in DECISION_TABLE]
)
def test_decision_table(
    evaluator: InjectionEvaluator, ns_labels: dict[str, str], pod_labels: dict[str, str], expected: str | None
) -> None:
    assert evaluate(evaluator, ns_labels, pod_labels) == expected


PREF_POD_TABLE = [
    ("pod rev beats ns rev", {"istio.io/rev": "prod-stable"}, {"istio.io/rev": "1-23-1"}, "1-23-1"),
    ("ns rev without pod rev", {"istio.io/rev": "1-22-3"}, {}, "1-22-3"),
    ("unserved pod rev suppresses ns", {"istio.io/rev": "1-22-3"}, {"istio.io/rev": "1-21-0"}, None),
    ("istio-injection still wins", {"istio-injection": "enabled"}, {"istio.io/rev": "1-23-1"}, "1-22-3"),
    ("unlabelled ns, pod rev", {}, {"istio.io/rev": "prod-canary"}, "1-23-1"),
]


@pytest.mark.parametrize(
    "ns_labels, pod_labels, expected", [r[1:] for r in PREF_POD_TABLE], ids=[r[0] for r in PREF_POD_TABLE]
)
def test_revision_label_preference_pod(
    control_plane_raw: list[dict[str, Any]],
    ns_labels: dict[str, str],
    pod_labels: dict[str, str],
    expected: str | None,
) -> None:
    ev = InjectionEvaluator.build(webhooks(label_pref_pod(control_plane_raw)), injectors(control_plane_raw))
    assert evaluate(ev, ns_labels, pod_labels) == expected


# 5. istiod's injectRequired after the webhook matched.


def test_host_network_pods_are_skipped(evaluator: InjectionEvaluator) -> None:
    outcome = evaluator.evaluate("app", {NS: "app", "istio.io/rev": "1-23-1"}, {}, None, True)
    assert outcome.revision is None and "hostNetwork" in outcome.cause


@pytest.mark.parametrize("ignored", ["kube-system", "kube-public", "kube-node-lease", "local-path-storage"])
def test_ignored_namespaces(evaluator: InjectionEvaluator, ignored: str) -> None:
    outcome = evaluator.evaluate(ignored, {NS: ignored, "istio-injection": "enabled"}, {})
    assert outcome.revision is None and outcome.cause == f"istiod ignores namespace {ignored}"


def test_legacy_annotation_opts_out_when_no_label(evaluator: InjectionEvaluator) -> None:
    assert evaluate(evaluator, {"istio-injection": "enabled"}, {}, annotation="false") is None
    assert evaluate(evaluator, {"istio-injection": "enabled"}, {}, annotation="no") is None


def test_label_beats_legacy_annotation(evaluator: InjectionEvaluator) -> None:
    assert (
        evaluate(
            evaluator, {"istio.io/rev": "1-23-1"}, {"sidecar.istio.io/inject": "true"}, annotation="false"
        )
        == "1-23-1"
    )


def test_inject_value_is_a_yaml_boolean(evaluator: InjectionEvaluator) -> None:
    # "Yes" passes the webhook (NotIn false) and istiod reads it as true; "maybe" passes too but reads false.
    assert evaluate(evaluator, {"istio.io/rev": "1-23-1"}, {"sidecar.istio.io/inject": "Yes"}) == "1-23-1"
    assert evaluate(evaluator, {"istio.io/rev": "1-23-1"}, {"sidecar.istio.io/inject": "maybe"}) is None


def _with_config(control_plane_raw: list[dict[str, Any]], config: str) -> InjectionEvaluator:
    raw = copy.deepcopy(control_plane_raw)
    cm = find(raw, "ConfigMap", "istio-sidecar-injector-1-23-1", "istio-system")
    cm["data"]["config"] = config + cm["data"]["config"].split("injectedAnnotations:", 1)[1]
    return InjectionEvaluator.build(webhooks(raw), injectors(raw))


def test_never_inject_selector(control_plane_raw: list[dict[str, Any]]) -> None:
    ev = _with_config(
        control_plane_raw,
        "policy: enabled\nneverInjectSelector:\n"
        "  - matchExpressions:\n    - {key: job-name, operator: Exists}\n",
    )
    outcome = ev.evaluate("app", {NS: "app", "istio.io/rev": "1-23-1"}, {"job-name": "migrate"})
    assert outcome.revision is None and outcome.cause.startswith("neverInjectSelector job-name")
    assert (
        evaluate(ev, {"istio.io/rev": "1-23-1"}, {"job-name": "m", "sidecar.istio.io/inject": "true"})
        == "1-23-1"
    )


def test_policy_disabled_and_always_inject_selector(control_plane_raw: list[dict[str, Any]]) -> None:
    ev = _with_config(
        control_plane_raw, "policy: disabled\nalwaysInjectSelector:\n  - matchLabels:\n      mesh: always\n"
    )
    assert evaluate(ev, {"istio.io/rev": "1-23-1"}, {}) is None
    assert evaluate(ev, {"istio.io/rev": "1-23-1"}, {"mesh": "always"}) == "1-23-1"
    assert evaluate(ev, {"istio.io/rev": "1-23-1"}, {"sidecar.istio.io/inject": "true"}) == "1-23-1"
    assert evaluate(ev, {"istio.io/rev": "1-22-3"}, {}) == "1-22-3"  # 1-22-3's own policy is still enabled


# 6. istio-system is not special.


def test_istio_system_is_not_special(evaluator: InjectionEvaluator) -> None:
    labels = {"istio-injection": "enabled"}
    assert evaluate(evaluator, labels, {"app": "tool"}, ns="istio-system") == "1-22-3"
    istiod_pod = {"app": "istiod", "istio.io/rev": "1-23-1", "sidecar.istio.io/inject": "false"}
    assert evaluate(evaluator, labels, istiod_pod, ns="istio-system") is None


# 7. Overlapping webhooks.


def test_overlap_is_reported_and_the_first_in_call_order_wins(
    control_plane_raw: list[dict[str, Any]],
) -> None:
    raw = copy.deepcopy(control_plane_raw)
    old = find(raw, "MutatingWebhookConfiguration", "istio-sidecar-injector")
    fresh = find(control_plane_raw, "MutatingWebhookConfiguration", "istio-revision-tag-default")
    # Re-activate the old non-revisioned injector with the default webhooks pointing at an istiod "default".
    old["webhooks"] = copy.deepcopy(fresh["webhooks"])
    for hook in old["webhooks"]:
        hook["clientConfig"]["service"]["name"] = "istiod"
    ev = InjectionEvaluator.build(webhooks(raw), injectors(raw))
    outcome = ev.evaluate("app", {NS: "app", "istio-injection": "enabled"}, {})
    assert set(outcome.overlaps) == {
        "istio-revision-tag-default/namespace.sidecar-injector.istio.io",
        "istio-sidecar-injector/namespace.sidecar-injector.istio.io",
    }
    # The API server calls configurations in name order: istio-revision-tag-default < istio-sidecar-injector.
    assert outcome.revision == "1-22-3"
    assert "Webhook overlaps with others" in outcome.explain()


# Webhooks that call a Service that is gone.


def test_webhook_with_missing_service_refuses_the_pod(control_plane_raw: list[dict[str, Any]]) -> None:
    services = frozenset({"istio-system/istiod-1-22-3"})
    ev = InjectionEvaluator.build(webhooks(control_plane_raw), injectors(control_plane_raw), services)
    outcome = ev.evaluate("app", {NS: "app", "istio.io/rev": "prod-canary"}, {})
    assert outcome.blocked and outcome.revision is None
    assert "istio-system/istiod-1-23-1, which does not exist" in outcome.cause
    assert ev.evaluate("app", {NS: "app", "istio.io/rev": "prod-stable"}, {}).revision == "1-22-3"


def test_missing_service_with_failure_policy_ignore_admits_without_sidecar(
    control_plane_raw: list[dict[str, Any]],
) -> None:
    raw = copy.deepcopy(control_plane_raw)
    for hook in find(raw, "MutatingWebhookConfiguration", "istio-revision-tag-prod-canary")["webhooks"]:
        hook["failurePolicy"] = "Ignore"
    ev = InjectionEvaluator.build(webhooks(raw), injectors(raw), frozenset({"istio-system/istiod-1-22-3"}))
    outcome = ev.evaluate("app", {NS: "app", "istio.io/rev": "prod-canary"}, {})
    assert not outcome.blocked and outcome.revision is None


def test_enable_namespaces_by_default(control_plane_raw: list[dict[str, Any]]) -> None:
    raw = copy.deepcopy(control_plane_raw)
    tag = find(raw, "MutatingWebhookConfiguration", "istio-revision-tag-default")
    auto = copy.deepcopy(tag["webhooks"][-1])
    auto["name"] = "auto.sidecar-injector.istio.io"
    auto["namespaceSelector"] = {
        "matchExpressions": [
            {"key": "istio-injection", "operator": "DoesNotExist"},
            {"key": "istio.io/rev", "operator": "DoesNotExist"},
            {
                "key": NS,
                "operator": "NotIn",
                "values": ["kube-system", "kube-public", "kube-node-lease", "local-path-storage"],
            },
        ]
    }
    auto["objectSelector"] = {
        "matchExpressions": [
            {"key": "sidecar.istio.io/inject", "operator": "DoesNotExist"},
            {"key": "istio.io/rev", "operator": "DoesNotExist"},
        ]
    }
    tag["webhooks"].append(auto)
    ev = InjectionEvaluator.build(webhooks(raw), injectors(raw))
    assert evaluate(ev, {}, {}) == "1-22-3"
    assert evaluate(ev, {}, {}, ns="kube-system") is None
    ns = ev.namespace("plain", {NS: "plain"})
    assert ns.asks and ns.revision == "1-22-3" and ns.label is None


# Explanations and the namespace's own resolution.


def test_explanation_chain(evaluator: InjectionEvaluator) -> None:
    ns = {NS: "shop", "istio.io/rev": "prod-stable"}
    assert evaluator.evaluate("shop", ns, {}).explain() == (
        "namespace label istio.io/rev=prod-stable → tag prod-stable (webhook istio-revision-tag-prod-stable)"
        " → revision 1-22-3"
    )
    assert evaluator.evaluate("shop", ns, {"sidecar.istio.io/inject": "false"}).explain() == (
        "namespace label istio.io/rev=prod-stable → tag prod-stable (webhook istio-revision-tag-prod-stable)"
        " → revision 1-22-3; pod label sidecar.istio.io/inject=false → no sidecar on restart"
    )
    assert evaluator.evaluate("x", {NS: "x"}, {"sidecar.istio.io/inject": "true"}).explain() == (
        "pod label sidecar.istio.io/inject=true → tag default (webhook istio-revision-tag-default)"
        " → revision 1-22-3"
    )


def test_namespace_injection(evaluator: InjectionEvaluator) -> None:
    enabled = evaluator.namespace("auth", {NS: "auth", "istio-injection": "enabled"})
    assert (enabled.label, enabled.value, enabled.asks, enabled.revision) == (
        "istio-injection",
        "enabled",
        True,
        "1-22-3",
    )
    assert enabled.tag == "default" and not enabled.conflict
    both = evaluator.namespace(
        "legacy", {NS: "legacy", "istio-injection": "enabled", "istio.io/rev": "1-23-1"}
    )
    assert both.conflict and both.revision == "1-22-3" and "IST0123" in both.explain()
    tagged = evaluator.namespace("shop", {NS: "shop", "istio.io/rev": "prod-canary"})
    assert (tagged.revision, tagged.tag) == ("1-23-1", "prod-canary")
    missing = evaluator.namespace("payments", {NS: "payments", "istio.io/rev": "1-21-0"})
    assert (
        missing.asks
        and missing.revision is None
        and "no active webhook serves 1-21-0" in (missing.problem or "")
    )
    disabled = evaluator.namespace("tools", {NS: "tools", "istio-injection": "disabled"})
    assert not disabled.asks and disabled.label == "istio-injection" and disabled.revision is None
    plain = evaluator.namespace("plain", {NS: "plain"})
    assert not plain.asks and plain.label is None and plain.revision is None


def test_results_are_cached_by_the_labels_selectors_read(evaluator: InjectionEvaluator) -> None:
    ev = InjectionEvaluator(evaluator.webhooks, evaluator.injectors.values())
    ns = {NS: "shop", "istio.io/rev": "prod-stable", "team": "web"}
    first = ev.evaluate("shop", ns, {"app": "frontend", "pod-template-hash": "abc"})
    second = ev.evaluate("shop", {**ns, "team": "other"}, {"app": "frontend", "pod-template-hash": "def"})
    assert first is second
    assert ev.evaluate("shop", ns, {"app": "f", "sidecar.istio.io/inject": "false"}) is not first


def test_revision_on_restart_convenience(control_plane_raw: list[dict[str, Any]]) -> None:
    ns = parse_namespace("c", namespace("reviews", **{"istio.io/rev": "prod-canary"}))
    outcome = revision_on_restart(ns, {"app": "reviews"}, {}, False, webhooks(control_plane_raw))
    assert outcome.revision == "1-23-1" and outcome.tag == "prod-canary"
    assert outcome.webhook == "istio-revision-tag-prod-canary/rev.namespace.sidecar-injector.istio.io"
    opted_out = revision_on_restart(
        ns, {}, {"sidecar.istio.io/inject": "false"}, False, webhooks(control_plane_raw)
    )
    assert opted_out.revision is None and opted_out.cause == "pod annotation sidecar.istio.io/inject=false"
