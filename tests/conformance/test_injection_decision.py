"""The injection decision table (docs/istio.md#the-decision-table), on the simulator and the real server.

Both backends get the same install (`istio_setup.canary`: OLD with the `default` tag, NEW, tags
`canary` -> NEW and `stable` -> OLD). For each case a namespace with the case's labels and a pod with
the case's labels are created; the pod read back must carry (or not) `istio-proxy`, with the expected
revision in `sidecar.istio.io/status`.

On the real server the API server itself evaluates the webhook selectors and calls the test webhook
(tests/realapi/webhook.py, the simulator's `inject_pod`); on the simulator `meshtui.sim.admission`
does both. Section 2.2 case 5 (hostNetwork, the `sidecar.istio.io/inject` annotation, ignored
namespaces) is decided inside istiod after the webhook is called, so those cases also check that a
webhook *was* called.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from meshtui.sim import admission as sim_admission
from meshtui.sim import istio as sim_istio

from .backends import Backend, RealBackend, SimBackend, unique
from .istio_setup import KEY, NEW, OLD, canary, injected_revision

ENABLED = {"istio-injection": "enabled"}
DISABLED = {"istio-injection": "disabled"}
INJECT_TRUE = {"sidecar.istio.io/inject": "true"}
INJECT_FALSE = {"sidecar.istio.io/inject": "false"}


def rev(value: str) -> dict[str, str]:
    return {"istio.io/rev": value}


@dataclass(frozen=True)
class Case:
    ns_labels: dict[str, str]
    pod_labels: dict[str, str]
    expected: str | None  # the injected revision, or None for no sidecar
    #: the revision whose webhook the API server calls (None: no webhook selects the pod)
    called: str | None = None
    pod_annotations: dict[str, str] = field(default_factory=dict)
    host_network: bool = False
    namespace: str | None = None  # a fixed namespace name (ignored namespaces); else a unique one

    def webhook(self) -> str | None:
        return self.called if self.called is not None else self.expected


CASES = {
    # 1. istio-injection=enabled: the default revision, whatever istio.io/rev says; inject=false opts out.
    "1-enabled": Case(ENABLED, {}, OLD),
    "1-enabled-pod-rev-ignored": Case(ENABLED, rev(NEW), OLD),
    "1-enabled-beats-namespace-rev": Case({**ENABLED, **rev(NEW)}, {}, OLD),
    "1-enabled-inject-true": Case(ENABLED, INJECT_TRUE, OLD),
    "1-enabled-inject-false": Case(ENABLED, INJECT_FALSE, None),
    # 2. istio-injection=<anything else>: no webhook matches, whatever the pod says.
    "2-disabled": Case(DISABLED, {}, None),
    "2-disabled-pod-rev": Case(DISABLED, rev(NEW), None),
    "2-disabled-inject-true": Case(DISABLED, INJECT_TRUE, None),
    "2-disabled-beats-namespace-rev": Case({**DISABLED, **rev(NEW)}, {}, None),
    "2-other-value": Case({"istio-injection": "yes"}, INJECT_TRUE, None),
    # 3. namespace istio.io/rev=X: X (a revision or a tag) injects; a pod istio.io/rev is ignored.
    "3-ns-rev": Case(rev(NEW), {}, NEW),
    "3-ns-rev-beats-pod-rev": Case(rev(NEW), rev(OLD), NEW),
    "3-ns-tag-canary": Case(rev("canary"), {}, NEW),
    "3-ns-tag-stable": Case(rev("stable"), {}, OLD),
    "3-ns-tag-default": Case(rev("default"), {}, OLD),
    "3-ns-rev-unserved-silently-no-sidecar": Case(rev("1-20-0"), {}, None),
    "3-ns-rev-inject-false": Case(rev(NEW), INJECT_FALSE, None),
    "3-ns-rev-inject-true": Case(rev(NEW), INJECT_TRUE, NEW),
    # 4. namespace without either label: the pod decides.
    "4-pod-rev": Case({}, rev(NEW), NEW),
    "4-pod-tag": Case({}, rev("canary"), NEW),
    "4-pod-rev-default": Case({}, rev("default"), OLD),
    "4-pod-inject-true": Case({}, INJECT_TRUE, OLD),
    "4-pod-inject-true-and-rev": Case({}, {**INJECT_TRUE, **rev(NEW)}, NEW),
    "4-pod-rev-unserved": Case({}, rev("1-20-0"), None),
    "4-nothing": Case({}, {}, None),
    "4-pod-rev-inject-false": Case({}, {**INJECT_FALSE, **rev(NEW)}, None),
    # 5. istiod's injectRequired, after the webhook was called.
    "5-host-network": Case(ENABLED, {}, None, called=OLD, host_network=True),
    "5-annotation-inject-false": Case(
        ENABLED, {}, None, called=OLD, pod_annotations={"sidecar.istio.io/inject": "false"}
    ),
    "5-label-beats-annotation": Case(
        rev(NEW), INJECT_TRUE, NEW, pod_annotations={"sidecar.istio.io/inject": "false"}
    ),
    "5-annotation-inject-true-ns-rev": Case(
        rev(NEW), {}, NEW, pod_annotations={"sidecar.istio.io/inject": "true"}
    ),
    "5-ignored-namespace": Case(ENABLED, {}, None, called=OLD, namespace="local-path-storage"),
}


def _namespace(backend: Backend, core: client.CoreV1Api, case: Case) -> str:
    if case.namespace is None:
        return backend.unique_namespace("inj", case.ns_labels)
    try:
        core.create_namespace({"metadata": {"name": case.namespace, "labels": case.ns_labels}})
    except ApiException as exc:
        if exc.status != 409:
            raise
        core.patch_namespace(case.namespace, {"metadata": {"labels": case.ns_labels}})
    return case.namespace


def _webhooks_called(backend: Backend, namespace: str, pod: dict[str, Any]) -> list[str]:
    """The revisions whose injector webhook was called for this pod."""
    if isinstance(backend, RealBackend):
        name = pod["metadata"]["name"]
        return [
            path.removeprefix("/inject/")
            for path, ns, pod_name, _ in backend.webhook.calls
            if ns == namespace and pod_name == name and path.startswith("/inject/")
        ]
    assert isinstance(backend, SimBackend)

    def matches(store: Any) -> list[str]:
        ns_labels = store.entry("namespaces", None, namespace).labels
        # The labels the pod was created with: injection adds labels of its own afterwards.
        labels = {
            k: v
            for k, v in (pod["metadata"].get("labels") or {}).items()
            if k
            not in (
                "security.istio.io/tlsMode",
                "service.istio.io/canonical-name",
                "service.istio.io/canonical-revision",
            )
        }
        found = sim_admission.matching_injectors(store.list(sim_istio.MWC), ns_labels, labels)
        return [m.revision for m in found]

    return list(backend.store_call(matches))


@pytest.mark.parametrize("case", list(CASES.values()), ids=list(CASES))
def test_injection_decision(backend: Backend, case: Case) -> None:
    backend.install_istio(KEY, canary)
    core = client.CoreV1Api(backend.api_client())
    namespace = _namespace(backend, core, case)
    name = unique("pod")
    spec: dict[str, Any] = {"containers": [{"name": "app", "image": "example/app:1"}]}
    if case.host_network:
        spec["hostNetwork"] = True
    body = {
        "metadata": {"name": name, "labels": case.pod_labels, "annotations": case.pod_annotations},
        "spec": spec,
    }
    core.create_namespaced_pod(namespace, body)
    pod = core.read_namespaced_pod(name, namespace, _preload_content=False)
    stored: dict[str, Any] = json.loads(pod.data)

    assert injected_revision(stored) == case.expected
    called = _webhooks_called(backend, namespace, stored)
    expected_calls = [] if case.webhook() is None else [case.webhook()]
    assert called == expected_calls
    if case.expected is not None:
        annotations = stored["metadata"]["annotations"]
        assert annotations["istio.io/rev"] == case.expected
        assert [c["name"] for c in stored["spec"]["initContainers"]] == ["istio-init"]
        assert stored["metadata"]["labels"]["security.istio.io/tlsMode"] == "istio"
