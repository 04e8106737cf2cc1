"""Revision tags as `istioctl tag set` renders them (docs/istio.md#revision-tags), from live objects.

Pure: given the target revision's canonical injector MWC (and validator), return the objects to write.
The tag webhooks are copied from the canonical ones with the selector value swapped for the tag, so a
revision installed with `revisionLabelPreference: pod` keeps that precedence through its tags.
"""

from __future__ import annotations

import copy
from typing import Any

from meshtui.domain.objects import DEACTIVATED_KEY, REV_LABEL, TAG_LABEL

ISTIO_NAMESPACE = "istio-system"
#: The first minor whose charts and `istioctl tag set` render tag Services (`revision-tags-svc.yaml`).
TAG_SERVICES_FROM = (1, 28)
NEVER_MATCH: dict[str, Any] = {"matchLabels": {DEACTIVATED_KEY: "never-match"}}
DEFAULT_VALIDATOR = "istiod-default-validator"
MWC_API = "admissionregistration.k8s.io/v1"


def tag_mwc_name(tag: str, namespace: str) -> str:
    """`istio-revision-tag-T`, suffixed with the namespace when istiod is not in istio-system."""
    return f"istio-revision-tag-{tag}" + ("" if namespace == ISTIO_NAMESPACE else f"-{namespace}")


def tag_service_name(tag: str) -> str:
    """The tag Service `istiod-revision-tag-T` (rendered by the istiod chart and `istioctl tag` from 1.28.0)."""
    return f"istiod-revision-tag-{tag}"


def _swap_selector(selector: Any, old: str, new: str) -> Any:
    if not isinstance(selector, dict):
        return selector
    out = copy.deepcopy(selector)
    for expr in out.get("matchExpressions") or []:
        if expr.get("key") == REV_LABEL and expr.get("operator") == "In":
            expr["values"] = [new if v == old else v for v in expr.get("values") or []]
    match = out.get("matchLabels") or {}
    if match.get(REV_LABEL) == old:
        match[REV_LABEL] = new
    return out


def render_tag_mwc(canonical: dict[str, Any], tag: str, revision: str, namespace: str) -> dict[str, Any]:
    """The tag MWC pointing at `revision`, copied from that revision's canonical MWC.

    Labels lose `app` and every `operator.istio.io` label (a user-managed tag, as `istioctl tag set` does);
    the `default` tag also carries the `namespace.`/`object.` webhooks that give unlabeled semantics.
    """
    meta = canonical.get("metadata") or {}
    labels = {k: v for k, v in (meta.get("labels") or {}).items() if k != "app" and "operator.istio.io" not in k}
    labels.update({TAG_LABEL: tag, REV_LABEL: revision, "app": "sidecar-injector"})
    hooks: list[dict[str, Any]] = []
    for hook in canonical.get("webhooks") or []:
        if not str(hook.get("name", "")).startswith("rev."):
            continue
        h = copy.deepcopy(hook)
        h["namespaceSelector"] = _swap_selector(h.get("namespaceSelector"), revision, tag)
        h["objectSelector"] = _swap_selector(h.get("objectSelector"), revision, tag)
        hooks.append(h)
    if tag == "default" and hooks:
        base = hooks[0]
        not_false = {"key": "sidecar.istio.io/inject", "operator": "NotIn", "values": ["false"]}
        namespace_hook = copy.deepcopy(base)
        namespace_hook["name"] = "namespace.sidecar-injector.istio.io"
        namespace_hook["namespaceSelector"] = {
            "matchExpressions": [{"key": "istio-injection", "operator": "In", "values": ["enabled"]}]
        }
        namespace_hook["objectSelector"] = {"matchExpressions": [not_false]}
        object_hook = copy.deepcopy(base)
        object_hook["name"] = "object.sidecar-injector.istio.io"
        object_hook["namespaceSelector"] = {
            "matchExpressions": [
                {"key": "istio-injection", "operator": "DoesNotExist"},
                {"key": REV_LABEL, "operator": "DoesNotExist"},
            ]
        }
        object_hook["objectSelector"] = {
            "matchExpressions": [
                {"key": "sidecar.istio.io/inject", "operator": "In", "values": ["true"]},
                {"key": REV_LABEL, "operator": "DoesNotExist"},
            ]
        }
        hooks += [namespace_hook, object_hook]
    return {
        "apiVersion": MWC_API,
        "kind": "MutatingWebhookConfiguration",
        "metadata": {"name": tag_mwc_name(tag, namespace), "labels": labels},
        "webhooks": hooks,
    }


def render_default_validator(
    canonical_mwc: dict[str, Any],
    revision: str,
    namespace: str,
    failure_policy: str,
    canonical_vwc: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """`istiod-default-validator` pointing at the revision's istiod (`istioctl tag set default`).

    The validation endpoint is the injector's: its Service with path `/validate`, or, for an istiod
    reached by URL (a control plane outside the cluster), the injection URL with `/inject` turned into
    `/validate` and the `/cluster/...` injection parameters dropped, as the simulator's `istioctl tag set`
    does. The API server rejects a webhook with neither (exactly one of url or service is required).
    """
    service: dict[str, Any] = {}
    url = ""
    ca = ""
    for hook in canonical_mwc.get("webhooks") or []:
        client = hook.get("clientConfig") or {}
        service = dict(client.get("service") or {})
        url = str(client.get("url") or "")
        ca = str(client.get("caBundle") or "")
        break
    rules: list[dict[str, Any]] = [
        {
            "operations": ["CREATE", "UPDATE"],
            "apiGroups": ["security.istio.io", "networking.istio.io", "telemetry.istio.io", "extensions.istio.io"],
            "apiVersions": ["*"],
            "resources": ["*"],
            "scope": "*",
        }
    ]
    if canonical_vwc is not None:
        for hook in canonical_vwc.get("webhooks") or []:
            rules = copy.deepcopy(hook.get("rules") or rules)
            break
    client_config: dict[str, Any] = {"caBundle": ca} if ca else {}
    if service:
        service["path"] = "/validate"
        service.setdefault("namespace", namespace)
        client_config["service"] = service
    elif url:
        client_config["url"] = url.replace("/inject", "/validate", 1).split("/cluster/", 1)[0]
    return {
        "apiVersion": MWC_API,
        "kind": "ValidatingWebhookConfiguration",
        "metadata": {
            "name": DEFAULT_VALIDATOR,
            "labels": {REV_LABEL: revision, TAG_LABEL: "default", "app": "istiod"},
        },
        "webhooks": [
            {
                "name": "validation.istio.io",
                "clientConfig": client_config,
                "rules": rules,
                "failurePolicy": failure_policy,
                "matchPolicy": "Equivalent",
                "sideEffects": "None",
                "timeoutSeconds": 10,
                "admissionReviewVersions": ["v1beta1", "v1"],
                "namespaceSelector": {},
                "objectSelector": {},
            }
        ],
    }


def deactivated_webhooks(mwc: dict[str, Any]) -> list[dict[str, Any]] | None:
    """The webhooks of a non-revisioned injector with never-match selectors; None when already deactivated."""
    hooks = copy.deepcopy(mwc.get("webhooks") or [])
    changed = False
    for hook in hooks:
        if hook.get("namespaceSelector") != NEVER_MATCH or hook.get("objectSelector") != NEVER_MATCH:
            hook["namespaceSelector"] = copy.deepcopy(NEVER_MATCH)
            hook["objectSelector"] = copy.deepcopy(NEVER_MATCH)
            changed = True
    return hooks if changed else None


def render_tag_service(istiod_service: dict[str, Any], tag: str, revision: str, namespace: str) -> dict[str, Any]:
    """The tag Service (>= 1.28.0) selecting the revision's istiod pods."""
    spec = istiod_service.get("spec") or {}
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": tag_service_name(tag),
            "namespace": namespace,
            "labels": {REV_LABEL: revision, TAG_LABEL: tag, "app": "istiod"},
        },
        "spec": {
            "type": "ClusterIP",
            "selector": dict(spec.get("selector") or {"app": "istiod", REV_LABEL: revision}),
            "ports": copy.deepcopy(spec.get("ports") or []),
        },
    }
