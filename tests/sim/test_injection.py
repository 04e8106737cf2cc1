"""Sidecar injection by the simulated API server: every row of docs/istio.md#the-decision-table."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest

from meshtui.sim import admission, errors, istio
from meshtui.sim.controllers import settle
from meshtui.sim.settings import SimSettings
from meshtui.sim.store import Store

OLD, NEW = "1-22-3", "1-23-1"
SIDECAR_VOLUMES = [
    "workload-socket",
    "credential-socket",
    "workload-certs",
    "istio-envoy",
    "istio-data",
    "istio-podinfo",
    "istio-token",
    "istiod-ca-cert",
]


def status_annotation(revision: str, *, native: bool = False) -> str:
    """The exact `sidecar.istio.io/status` istiod writes for the sidecar template."""
    if native:
        body: dict[str, Any] = {"initContainers": ["istio-init", "istio-proxy"], "containers": None}
    else:
        body = {"initContainers": ["istio-init"], "containers": ["istio-proxy"]}
    body.update({"volumes": SIDECAR_VOLUMES, "imagePullSecrets": None, "revision": revision})
    return json.dumps(body, separators=(",", ":"))


@pytest.fixture
def store() -> Store:
    """Two revisions (default tag and prod-stable on 1-22-3, prod-canary on 1-23-1), istiods Ready."""
    s = Store()
    admission.install(s)
    istio.install_revision(s, OLD, "1.22.3", set_default_tag=False)
    istio.install_revision(s, NEW, "1.23.1", set_default_tag=False)
    istio.set_tag(s, "default", OLD)
    istio.set_tag(s, "prod-stable", OLD)
    istio.set_tag(s, "prod-canary", NEW)
    settle(s, SimSettings())
    return s


_counter = iter(range(1_000_000))


def make_pod(
    s: Store,
    ns_labels: dict[str, str],
    pod_labels: dict[str, str] | None = None,
    annotations: dict[str, str] | None = None,
    *,
    namespace: str | None = None,
    spec: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Create a namespace with the labels and one pod in it, through the store (admission runs)."""
    ns = namespace or f"ns-{next(_counter)}"
    if s.get("namespaces", None, ns) is None:
        s.create("namespaces", {"metadata": {"name": ns, "labels": ns_labels}})
    meta: dict[str, Any] = {
        "name": "app",
        "namespace": ns,
        "labels": {"app": "reviews", **(pod_labels or {})},
    }
    if annotations:
        meta["annotations"] = annotations
    body = {"containers": [{"name": "app", "image": "example/app:1"}], **(spec or {})}
    return s.create("pods", {"metadata": meta, "spec": body})


def revision_of(pod: dict[str, Any]) -> str | None:
    """The injected revision from the status annotation (None: no sidecar)."""
    raw = (pod["metadata"].get("annotations") or {}).get("sidecar.istio.io/status")
    return json.loads(raw)["revision"] if raw else None


DECISION_TABLE = [
    # 1. istio-injection=enabled: the default revision, whatever istio.io/rev says; inject=false opts out.
    ("1-enabled", {"istio-injection": "enabled"}, {}, OLD),
    ("1-enabled-pod-rev-ignored", {"istio-injection": "enabled"}, {"istio.io/rev": NEW}, OLD),
    ("1-enabled-ns-rev-ignored", {"istio-injection": "enabled", "istio.io/rev": NEW}, {}, OLD),
    ("1-enabled-pod-opt-out", {"istio-injection": "enabled"}, {"sidecar.istio.io/inject": "false"}, None),
    # 2. istio-injection=anything else: never injected.
    ("2-disabled-pod-rev", {"istio-injection": "disabled"}, {"istio.io/rev": NEW}, None),
    (
        "2-disabled-pod-inject-true",
        {"istio-injection": "disabled"},
        {"sidecar.istio.io/inject": "true"},
        None,
    ),
    ("2-other-value", {"istio-injection": "off"}, {}, None),
    # 3. namespace istio.io/rev=X: X (revision or tag) injects, the pod's rev is ignored; unserved X: none.
    ("3-ns-revision", {"istio.io/rev": NEW}, {}, NEW),
    ("3-ns-revision-pod-rev-ignored", {"istio.io/rev": NEW}, {"istio.io/rev": OLD}, NEW),
    ("3-ns-tag", {"istio.io/rev": "prod-canary"}, {}, NEW),
    ("3-ns-tag-stable", {"istio.io/rev": "prod-stable"}, {}, OLD),
    ("3-ns-default-tag", {"istio.io/rev": "default"}, {}, OLD),
    ("3-ns-unserved", {"istio.io/rev": "1-20-8"}, {}, None),
    ("3-ns-revision-pod-opt-out", {"istio.io/rev": NEW}, {"sidecar.istio.io/inject": "false"}, None),
    # 4. no namespace label: the pod decides.
    ("4-pod-rev", {}, {"istio.io/rev": NEW}, NEW),
    ("4-pod-tag", {}, {"istio.io/rev": "prod-canary"}, NEW),
    ("4-pod-inject-true", {}, {"sidecar.istio.io/inject": "true"}, OLD),
    ("4-pod-inject-true-and-rev", {}, {"sidecar.istio.io/inject": "true", "istio.io/rev": NEW}, NEW),
    ("4-pod-rev-opt-out", {}, {"istio.io/rev": NEW, "sidecar.istio.io/inject": "false"}, None),
    ("4-nothing", {}, {}, None),
]


@pytest.mark.parametrize(
    ("ns_labels", "pod_labels", "expected"),
    [row[1:] for row in DECISION_TABLE],
    ids=[row[0] for row in DECISION_TABLE],
)
def test_decision_table(
    store: Store, ns_labels: dict[str, str], pod_labels: dict[str, str], expected: str | None
) -> None:
    pod = make_pod(store, ns_labels, pod_labels)
    annotations = pod["metadata"].get("annotations") or {}
    containers = [c["name"] for c in pod["spec"]["containers"]]
    if expected is None:
        assert "sidecar.istio.io/status" not in annotations
        assert containers == ["app"]
        return
    assert annotations["sidecar.istio.io/status"] == status_annotation(expected)
    assert annotations["istio.io/rev"] == expected
    assert containers == ["app", "istio-proxy"]
    assert [c["name"] for c in pod["spec"]["initContainers"]] == ["istio-init"]
    version = {OLD: "1.22.3", NEW: "1.23.1"}[expected]
    assert pod["spec"]["containers"][1]["image"] == f"docker.io/istio/proxyv2:{version}"
    assert pod["metadata"]["labels"]["security.istio.io/tlsMode"] == "istio"
    assert {v["name"] for v in pod["spec"]["volumes"]} == set(SIDECAR_VOLUMES)
    # The label istio.io/rev is the user's; injection never adds or rewrites it.
    assert pod["metadata"]["labels"].get("istio.io/rev") == pod_labels.get("istio.io/rev")


ISTIOD_RULES = [
    ("host-network", {"istio.io/rev": NEW}, {}, {}, {"hostNetwork": True}, None),
    ("legacy-annotation-false", {"istio.io/rev": NEW}, {}, {"sidecar.istio.io/inject": "false"}, {}, None),
    (
        "label-beats-annotation",
        {"istio.io/rev": NEW},
        {"sidecar.istio.io/inject": "true"},
        {"sidecar.istio.io/inject": "false"},
        {},
        NEW,
    ),
    ("annotation-true-keeps", {"istio.io/rev": NEW}, {}, {"sidecar.istio.io/inject": "yes"}, {}, NEW),
]


@pytest.mark.parametrize(
    ("ns_labels", "pod_labels", "annotations", "spec", "expected"),
    [row[1:] for row in ISTIOD_RULES],
    ids=[row[0] for row in ISTIOD_RULES],
)
def test_istiod_inject_required(
    store: Store,
    ns_labels: dict[str, str],
    pod_labels: dict[str, str],
    annotations: dict[str, str],
    spec: dict[str, Any],
    expected: str | None,
) -> None:
    pod = make_pod(store, ns_labels, pod_labels, annotations, spec=spec)
    assert revision_of(pod) == expected


@pytest.mark.parametrize("namespace", ["kube-system", "kube-public", "kube-node-lease", "local-path-storage"])
def test_ignored_namespaces_are_never_injected(store: Store, namespace: str) -> None:
    pod = make_pod(store, {"istio-injection": "enabled"}, namespace=namespace)
    assert revision_of(pod) is None


def test_namespace_selector_sees_the_metadata_name_label(store: Store) -> None:
    # A webhook selecting on kubernetes.io/metadata.name matches because the API server sets that label.
    store.create(
        istio.MWC,
        {
            "metadata": {"name": "zz-by-name", "labels": {"istio.io/rev": NEW}},
            "webhooks": [
                {
                    "name": "byname.sidecar-injector.istio.io",
                    "clientConfig": {
                        "service": {"name": f"istiod-{NEW}", "namespace": "istio-system", "path": "/inject"}
                    },
                    "rules": [
                        {
                            "operations": ["CREATE"],
                            "apiGroups": [""],
                            "apiVersions": ["v1"],
                            "resources": ["pods"],
                        }
                    ],
                    "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "picked"}},
                }
            ],
        },
    )
    assert revision_of(make_pod(store, {}, namespace="picked")) == NEW
    assert revision_of(make_pod(store, {}, namespace="not-picked")) is None


def test_policy_and_selectors_come_from_the_live_configmap(store: Store) -> None:
    def edit(cm: dict[str, Any]) -> dict[str, Any]:
        cm["data"]["config"] = (
            cm["data"]["config"]
            .replace("policy: enabled", "policy: disabled")
            .replace("alwaysInjectSelector:\n  []", 'alwaysInjectSelector:\n  - matchLabels: {always: "yes"}')
            .replace("neverInjectSelector:\n  []", 'neverInjectSelector:\n  - matchLabels: {never: "yes"}')
        )
        values = json.loads(cm["data"]["values"])
        values["global"]["tag"] = "1.23.9"
        cm["data"]["values"] = json.dumps(values)
        return cm

    store.update("configmaps", "istio-system", f"istio-sidecar-injector-{NEW}", edit)
    assert revision_of(make_pod(store, {"istio.io/rev": NEW})) is None  # policy disabled, no opinion
    assert revision_of(make_pod(store, {"istio.io/rev": NEW}, {"sidecar.istio.io/inject": "true"})) == NEW
    always = make_pod(store, {"istio.io/rev": NEW}, {"always": "yes"})
    assert revision_of(always) == NEW
    assert always["spec"]["containers"][1]["image"] == "docker.io/istio/proxyv2:1.23.9"
    assert revision_of(make_pod(store, {"istio.io/rev": NEW}, {"always": "yes", "never": "yes"})) is None


def test_tags_record_the_real_revision(store: Store) -> None:
    pod = make_pod(store, {"istio.io/rev": "prod-canary"})
    assert json.loads(pod["metadata"]["annotations"]["sidecar.istio.io/status"])["revision"] == NEW
    assert pod["metadata"]["annotations"]["istio.io/rev"] == NEW
    env = {e["name"]: e.get("value") for e in pod["spec"]["containers"][1]["env"]}
    assert env["CA_ADDR"] == f"istiod-{NEW}.istio-system.svc:15012"
    assert json.loads(env["PROXY_CONFIG"])["discoveryAddress"] == f"istiod-{NEW}.istio-system.svc:15012"


def test_moving_a_tag_changes_new_pods_only(store: Store) -> None:
    before = make_pod(store, {"istio.io/rev": "prod-stable"}, namespace="stable")
    istio.set_tag(store, "prod-stable", NEW)
    store.remove("pods", "stable", "app")
    after = make_pod(store, {}, namespace="stable")
    assert (revision_of(before), revision_of(after)) == (OLD, NEW)


def test_deactivated_non_revisioned_injector_never_fires() -> None:
    s = Store()
    istio.install_revision(s, "", "1.21.6", installer="helm")  # renders namespace./object. webhooks
    istio.install_revision(s, OLD, "1.22.3", set_default_tag=False)
    settle(s)
    assert revision_of(make_pod(s, {"istio-injection": "enabled"})) == "default"
    istio.set_tag(s, "default", OLD)
    mwc = s.require(istio.MWC, None, "istio-sidecar-injector")
    assert mwc["webhooks"] and all(
        h["namespaceSelector"] == istio.NEVER_MATCH and h["objectSelector"] == istio.NEVER_MATCH
        for h in mwc["webhooks"]
    )
    for ns_labels, pod_labels in (
        ({"istio-injection": "enabled"}, {}),
        ({}, {"sidecar.istio.io/inject": "true"}),
        ({"istio.io/rev": "default"}, {}),
    ):
        assert revision_of(make_pod(s, ns_labels, pod_labels)) == OLD
    assert istio.default_revision(s) == OLD


def _no_ready_istiod(s: Store, revision: str) -> None:
    def scale(d: dict[str, Any]) -> dict[str, Any]:
        d["spec"]["replicas"] = 0
        return d

    s.update("apps/deployments", "istio-system", f"istiod-{revision}", scale)
    settle(s)
    assert not [p for p in s.list("pods", "istio-system") if p["metadata"]["labels"].get("istio.io/rev") == revision]


def test_tag_on_a_revision_without_ready_istiod_rejects_pods(store: Store) -> None:
    _no_ready_istiod(store, OLD)
    with pytest.raises(errors.ApiError) as caught:
        make_pod(store, {"istio.io/rev": "prod-stable"})
    err = caught.value
    assert (err.code, err.reason) == (500, "InternalError")
    assert err.message == (
        'Internal error occurred: failed calling webhook "rev.namespace.sidecar-injector.istio.io": '
        "failed to "
        f'call webhook: Post "https://istiod-{OLD}.istio-system.svc:443/inject?timeout=10s": no endpoints '
        f'available for service "istiod-{OLD}"'
    )
    assert err.status()["details"]["causes"][0]["message"].startswith("failed calling webhook")
    # Other revisions are unaffected.
    assert revision_of(make_pod(store, {"istio.io/rev": "prod-canary"})) == NEW


def test_dangling_tag_after_uninstall_blocks_pod_creation(store: Store) -> None:
    removed = istio.remove_revision(store, OLD)
    names = {(k, n) for k, _, n in removed}
    assert (istio.MWC, f"istio-sidecar-injector-{OLD}") in names
    assert (istio.VWC, f"istio-validator-{OLD}-istio-system") in names
    # Tags made by `tag set` lose the operator labels, so they survive the uninstall, dangling.
    assert store.get(istio.MWC, None, "istio-revision-tag-prod-stable") is not None
    with pytest.raises(errors.ApiError) as caught:
        make_pod(store, {"istio.io/rev": "prod-stable"})
    assert caught.value.message.endswith(f'service "istiod-{OLD}" not found')
    with pytest.raises(errors.ApiError):
        make_pod(store, {"istio-injection": "enabled"})  # the default tag still points at the old revision


def test_external_revision_injects_without_istiod() -> None:
    s = Store()
    written = istio.install_revision(s, "asm-1-23", "1.23.2", external=True, set_default_tag=False)
    assert {k for k, _, _ in written} == {"configmaps", istio.MWC}
    assert s.list("apps/deployments") == []
    mwc = s.require(istio.MWC, None, "istio-sidecar-injector-asm-1-23")
    assert all("url" in h["clientConfig"] and "service" not in h["clientConfig"] for h in mwc["webhooks"])
    pod = make_pod(s, {"istio.io/rev": "asm-1-23"})
    assert revision_of(pod) == "asm-1-23"
    assert pod["spec"]["containers"][1]["image"] == "docker.io/istio/proxyv2:1.23.2"


def test_native_sidecars_from_values_and_from_the_annotation() -> None:
    s = Store()
    istio.install_revision(s, "1-24-0", "1.24.0", native_sidecars=True, set_default_tag=False)
    istio.install_revision(s, OLD, "1.22.3", set_default_tag=False)
    settle(s)
    native = make_pod(s, {"istio.io/rev": "1-24-0"})
    assert [c["name"] for c in native["spec"]["containers"]] == ["app"]
    init = native["spec"]["initContainers"]
    assert [c["name"] for c in init] == ["istio-init", "istio-proxy"]
    assert init[1]["restartPolicy"] == "Always" and "restartPolicy" not in init[0]
    assert native["metadata"]["annotations"]["sidecar.istio.io/status"] == status_annotation("1-24-0", native=True)
    opted = make_pod(s, {"istio.io/rev": OLD}, annotations={"sidecar.istio.io/nativeSidecar": "true"})
    assert [c["name"] for c in opted["spec"]["initContainers"]] == ["istio-init", "istio-proxy"]
    opted_out = make_pod(s, {"istio.io/rev": "1-24-0"}, annotations={"sidecar.istio.io/nativeSidecar": "false"})
    assert [c["name"] for c in opted_out["spec"]["containers"]] == ["app", "istio-proxy"]


def test_gateway_template_replaces_image_auto(store: Store) -> None:
    pod = make_pod(
        store,
        {},
        {"istio.io/rev": "prod-canary", "istio": "ingressgateway"},
        {"inject.istio.io/templates": "gateway"},
        spec={"containers": [{"name": "istio-proxy", "image": "auto"}]},
    )
    proxy = pod["spec"]["containers"]
    assert [c["name"] for c in proxy] == ["istio-proxy"]
    assert proxy[0]["image"] == "docker.io/istio/proxyv2:1.23.1"
    assert "initContainers" not in pod["spec"]
    labels = pod["metadata"]["labels"]
    assert "security.istio.io/tlsMode" not in labels
    assert labels["service.istio.io/canonical-name"] == "reviews"
    status = json.loads(pod["metadata"]["annotations"]["sidecar.istio.io/status"])
    assert (status["initContainers"], status["containers"], status["revision"]) == (
        None,
        ["istio-proxy"],
        NEW,
    )


def test_proxy_image_annotation_and_canonical_labels(store: Store) -> None:
    pod = make_pod(
        store,
        {"istio.io/rev": NEW},
        {"app.kubernetes.io/name": "ratings", "version": "v7"},
        {"sidecar.istio.io/proxyImage": "mirror.example.com/istio/proxyv2:1.23.1-patched"},
    )
    assert pod["spec"]["containers"][1]["image"] == "mirror.example.com/istio/proxyv2:1.23.1-patched"
    assert pod["spec"]["initContainers"][0]["image"] == "mirror.example.com/istio/proxyv2:1.23.1-patched"
    labels = pod["metadata"]["labels"]
    assert labels["service.istio.io/canonical-name"] == "ratings"
    assert labels["service.istio.io/canonical-revision"] == "v7"


def test_canonical_name_falls_back_to_the_workload_name() -> None:
    injector = istio.RevisionInfo(revision=NEW)
    pod = {
        "metadata": {
            "name": "web-6c8d7489d5-abcde",
            "namespace": "shop",
            "labels": {"pod-template-hash": "6c8d7489d5"},
            "ownerReferences": [
                {
                    "kind": "ReplicaSet",
                    "name": "web-6c8d7489d5",
                    "controller": True,
                    "uid": "u",
                    "apiVersion": "apps/v1",
                }
            ],
        },
        "spec": {"containers": [{"name": "web", "image": "nginx"}]},
    }
    out = admission.inject_pod(pod, {"istio.io/rev": NEW}, injector)
    assert out["metadata"]["labels"]["service.istio.io/canonical-name"] == "web"
    assert out["metadata"]["labels"]["service.istio.io/canonical-revision"] == "latest"
    assert "sidecar.istio.io/status" not in pod["metadata"].get("annotations", {})  # the input is untouched
    assert admission.inject_pod(out, {}, injector) == out  # an injected pod is not injected twice


def test_overlapping_webhooks_first_wins_and_is_logged(store: Store, caplog: pytest.LogCaptureFixture) -> None:
    istio.set_tag(store, "aaa-overlap", NEW)
    store.update(
        istio.MWC,
        None,
        "istio-revision-tag-aaa-overlap",
        lambda m: {
            **m,
            "webhooks": [
                {
                    **h,
                    "namespaceSelector": {"matchLabels": {"istio-injection": "enabled"}},
                    "objectSelector": {},
                }
                for h in m["webhooks"][:1]
            ],
        },
    )
    with caplog.at_level(logging.WARNING, logger="meshtui.sim.admission"):
        pod = make_pod(store, {"istio-injection": "enabled"})
    # istio-revision-tag-aaa-overlap < istio-revision-tag-default: the canary tag's webhook is called first.
    assert revision_of(pod) == NEW
    assert "matches 2 Istio injector webhooks" in caplog.text


def test_install_revision_renders_the_chart_objects() -> None:
    s = Store()
    written = istio.install_revision(s, "1-27-1", "1.27.1", set_default_tag=False)
    names = {(k, n) for k, _, n in written}
    assert names == {
        ("configmaps", "istio-sidecar-injector-1-27-1"),
        ("configmaps", "istio-1-27-1"),
        ("configmaps", "values-1-27-1"),
        (istio.MWC, "istio-sidecar-injector-1-27-1"),
        ("serviceaccounts", "istiod-1-27-1"),
        ("apps/deployments", "istiod-1-27-1"),
        ("services", "istiod-1-27-1"),
        ("policy/poddisruptionbudgets", "istiod-1-27-1"),
        (istio.VWC, "istio-validator-1-27-1-istio-system"),
    }
    dep = s.require("apps/deployments", "istio-system", "istiod-1-27-1")
    labels = dep["metadata"]["labels"]
    assert labels["app"] == "istiod" and labels["istio.io/rev"] == "1-27-1"
    assert labels["operator.istio.io/component"] == "Pilot"
    assert (labels["operator.istio.io/managed"], labels["operator.istio.io/version"]) == (
        "Reconcile",
        "1.27.1",
    )
    assert dep["spec"]["selector"]["matchLabels"] == {"app": "istiod", "istio.io/rev": "1-27-1"}
    tpl = dep["spec"]["template"]["metadata"]
    assert (
        tpl["labels"]["sidecar.istio.io/inject"] == "false" and tpl["annotations"]["sidecar.istio.io/inject"] == "false"
    )
    assert dep["spec"]["template"]["spec"]["containers"][0]["image"] == "docker.io/istio/pilot:1.27.1"
    svc = s.require("services", "istio-system", "istiod-1-27-1")
    assert [p["port"] for p in svc["spec"]["ports"]] == [15010, 15012, 443, 15014]
    mesh = s.require("configmaps", "istio-system", "istio-1-27-1")["data"]["mesh"]
    assert "discoveryAddress: istiod-1-27-1.istio-system.svc:15012" in mesh
    mwc = s.require(istio.MWC, None, "istio-sidecar-injector-1-27-1")
    assert [h["name"] for h in mwc["webhooks"]] == [
        "rev.namespace.sidecar-injector.istio.io",
        "rev.object.sidecar-injector.istio.io",
    ]
    assert mwc["webhooks"][0]["namespaceSelector"] == {
        "matchExpressions": [
            {"key": "istio.io/rev", "operator": "In", "values": ["1-27-1"]},
            {"key": "istio-injection", "operator": "DoesNotExist"},
        ]
    }
    # Tag Services start with 1.28.0 (none for 1.27); a user-set tag carries no operator labels.
    tag_written = istio.set_tag(s, "prod", "1-27-1")
    assert not [n for k, _, n in tag_written if k == "services"]
    istio.install_revision(s, "1-28-0", "1.28.0", set_default_tag=False)
    assert ("services", "istio-system", "istiod-revision-tag-prod") in istio.set_tag(s, "prod", "1-28-0")
    tag = s.require(istio.MWC, None, "istio-revision-tag-prod")["metadata"]["labels"]
    assert tag["istio.io/tag"] == "prod" and tag["istio.io/rev"] == "1-28-0" and tag["app"] == "sidecar-injector"
    assert not [k for k in tag if "operator.istio.io" in k]
    assert istio.tag_revision(s, "prod") == "1-28-0" and istio.resolve(s, "prod") == "1-28-0"
    removed = istio.remove_tag(s, "prod")
    assert {n for _, _, n in removed} == {"istio-revision-tag-prod", "istiod-revision-tag-prod"}
    assert istio.tag_revision(s, "prod") is None


def test_helm_and_non_revisioned_installs() -> None:
    s = Store()
    istio.install_revision(s, "", "1.24.2", installer="helm")
    dep = s.require("apps/deployments", "istio-system", "istiod")
    assert dep["metadata"]["labels"]["istio.io/rev"] == "default"
    assert "operator.istio.io/managed" not in dep["metadata"]["labels"]
    assert dep["metadata"]["labels"]["app.kubernetes.io/version"] == "1.24.2"  # istio.labels from 1.24
    assert dep["spec"]["selector"]["matchLabels"] == {"istio": "pilot"}
    mwc = s.require(istio.MWC, None, "istio-sidecar-injector")
    assert [h["name"] for h in mwc["webhooks"]] == [
        f"{prefix}sidecar-injector.istio.io" for prefix in ("rev.namespace.", "rev.object.", "namespace.", "object.")
    ]
    assert s.list(istio.MWC, label_selector="istio.io/tag") == []  # Helm does not create the default tag
    assert "values" not in {c["metadata"]["name"] for c in s.list("configmaps", "istio-system")}


def test_istioctl_first_revisioned_install_takes_the_default_tag() -> None:
    s = Store()
    istio.install_revision(s, OLD, "1.22.3")
    assert istio.tag_revision(s, "default") == OLD
    istio.install_revision(s, NEW, "1.23.1")  # a later canary does not move it
    assert istio.tag_revision(s, "default") == OLD
    # Install-made tags keep the operator labels, so uninstalling the revision removes them too.
    removed = {n for _, _, n in istio.remove_revision(s, OLD)}
    assert {"istio-revision-tag-default", "istiod-default-validator"} <= removed


@pytest.mark.parametrize(("kubelet", "native"), [("v1.33.2", True), ("v1.32.5", False)])
def test_native_sidecars_auto_from_1_27_follows_the_kubelets(kubelet: str, native: bool) -> None:
    s = Store()
    settings = SimSettings(kubelet_version=kubelet)
    istio.install_revision(s, "1-27-1", "1.27.1", set_default_tag=False)
    settle(s, settings)  # also registers the nodes with this kubelet version
    pod = make_pod(s, {"istio.io/rev": "1-27-1"})
    in_init = [c["name"] for c in pod["spec"]["initContainers"]] == ["istio-init", "istio-proxy"]
    assert in_init is native
