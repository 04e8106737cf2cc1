"""Rendered manifests of a control-plane revision, as `helm template istiod` or `istioctl manifest generate` print.

`meshtui sim render-revision` writes them to a folder so meshtui's manifest installer can apply them to the
simulator (or a real cluster) server-side. The objects are the simulator's own generation (`istio.py`), so
an applied revision is indistinguishable from an installed one; the chart's RBAC objects are added here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from meshtui.sim import ambient, istio
from meshtui.sim.resources import BY_KEY
from meshtui.sim.store import Obj

CONTROL_PLANE_FILE = "istiod-{revision}.yaml"
GATEWAYS_FILE = "gateways-{revision}.yaml"
AMBIENT_FILE = "ambient-{revision}.yaml"


def _typed(key: str, obj: Obj) -> Obj:
    res = BY_KEY[key]
    return {"apiVersion": res.api_version, "kind": res.kind, **obj}


def _rbac(revision: str, namespace: str, labels: dict[str, str]) -> list[tuple[str, Obj]]:
    """ClusterRoles/Bindings `istiod-clusterrole-R-ns` and friends, Role/RoleBinding `istiod-R` (no rev label)."""
    sfx = istio.rev_suffix(revision)
    sa = istio.istiod_name(revision)
    subject = [{"kind": "ServiceAccount", "name": sa, "namespace": namespace}]
    out: list[tuple[str, Obj]] = []
    rules = {
        "istiod-clusterrole": [
            {
                "apiGroups": ["admissionregistration.k8s.io"],
                "resources": ["mutatingwebhookconfigurations", "validatingwebhookconfigurations"],
                "verbs": ["get", "list", "watch", "update", "patch"],
            },
            {
                "apiGroups": [""],
                "resources": ["pods", "nodes", "services", "namespaces", "endpoints"],
                "verbs": ["get", "list", "watch"],
            },
        ],
        "istiod-gateway-controller": [
            {
                "apiGroups": ["apps"],
                "resources": ["deployments"],
                "verbs": ["get", "watch", "list", "update", "patch", "create", "delete"],
            },
            {
                "apiGroups": [""],
                "resources": ["services", "serviceaccounts"],
                "verbs": ["get", "watch", "list", "update", "patch", "create", "delete"],
            },
        ],
        "istio-reader-clusterrole": [
            {
                "apiGroups": ["config.istio.io", "security.istio.io", "networking.istio.io"],
                "resources": ["*"],
                "verbs": ["get", "list", "watch"],
            },
        ],
    }
    for base, rule in rules.items():
        name = f"{base}{sfx}-{namespace}"
        out.append(
            (
                "rbac.authorization.k8s.io/clusterroles",
                {"metadata": {"name": name, "labels": dict(labels)}, "rules": rule},
            )
        )
        out.append(
            (
                "rbac.authorization.k8s.io/clusterrolebindings",
                {
                    "metadata": {"name": name, "labels": dict(labels)},
                    "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": name},
                    "subjects": subject,
                },
            )
        )
    out.append(
        (
            "rbac.authorization.k8s.io/roles",
            {
                "metadata": {"name": sa, "namespace": namespace, "labels": dict(labels)},
                "rules": [
                    {
                        "apiGroups": [""],
                        "resources": ["configmaps", "secrets"],
                        "verbs": ["create", "get", "watch", "list", "update", "delete"],
                    }
                ],
            },
        )
    )
    out.append(
        (
            "rbac.authorization.k8s.io/rolebindings",
            {
                "metadata": {"name": sa, "namespace": namespace, "labels": dict(labels)},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": sa},
                "subjects": subject,
            },
        )
    )
    return out


def render_revision(
    version: str,
    revision: str | None = None,
    *,
    namespace: str = istio.ISTIO_NAMESPACE,
    hub: str = istio.DEFAULT_HUB,
    profile: str = "",
) -> list[Obj]:
    """Every object of one revision's istiod chart, typed (apiVersion and kind set), in apply order.

    `revision` defaults to the version's recommended name (`1.23.1` -> `1-23-1`); like `helm template`, no
    default tag is rendered (moving it is an upgrade step of its own). `profile="ambient"` as `--set
    profile=ambient`.
    """
    revision = istio.revision_name(version) if revision is None else revision
    pairs = istio.revision_objects(revision, version, namespace=namespace, installer="helm", hub=hub, profile=profile)
    release = f"istiod{istio.rev_suffix(revision)}"
    labels = {"app": "istiod", "release": release, **istio._chart_labels(version, release)}
    pairs += _rbac(revision, namespace, labels)
    # Service accounts and RBAC first, then config, the Deployment and Service, webhooks last: the order
    # `helm install` uses, so a webhook never points at an istiod that does not exist yet.
    order = [
        "serviceaccounts",
        "rbac.authorization.k8s.io/clusterroles",
        "rbac.authorization.k8s.io/clusterrolebindings",
        "rbac.authorization.k8s.io/roles",
        "rbac.authorization.k8s.io/rolebindings",
        "configmaps",
        "apps/deployments",
        "services",
        istio.PDBS,
        istio.VWC,
        istio.MWC,
    ]
    pairs.sort(key=lambda kv: order.index(kv[0]) if kv[0] in order else len(order))
    return [_typed(key, obj) for key, obj in pairs]


def render_gateway(
    version: str, namespace: str, name: str, revision: str | None = None, *, hub: str = istio.DEFAULT_HUB
) -> list[Obj]:
    """An istioctl-rendered ingress gateway of the revision (`spec.replicas` left to the live object)."""
    revision = istio.revision_name(version) if revision is None else revision
    image = f"{hub}/proxyv2:{version}"
    pairs = istio.istioctl_gateway_objects(namespace, name, istio.rev_label(revision), image, version, replicas=None)
    return [_typed(key, obj) for key, obj in pairs]


def render_ambient(
    version: str, revision: str | None = None, *, namespace: str = istio.ISTIO_NAMESPACE, hub: str = istio.DEFAULT_HUB
) -> list[Obj]:
    """istio-cni then ztunnel of a version, configured against `revision` (`helm template` of both charts)."""
    revision = istio.revision_name(version) if revision is None else revision
    pairs = ambient.cni_objects(version, None, namespace=namespace, hub=hub)
    pairs += ambient.ztunnel_objects(version, revision, namespace=namespace, hub=hub)
    return [_typed(key, obj) for key, obj in pairs]


def write_manifests(
    out: Path,
    version: str,
    revision: str | None = None,
    *,
    gateways: list[tuple[str, str]] | None = None,
    namespace: str = istio.ISTIO_NAMESPACE,
    with_ambient: bool = False,
) -> list[Path]:
    """Write the revision's manifests (and any gateways; with `with_ambient`, istiod with the ambient profile,
    istio-cni and ztunnel) as multi-document YAML under `out`; returns the files."""
    revision = istio.revision_name(version) if revision is None else revision
    out.mkdir(parents=True, exist_ok=True)
    files = []
    cp = out / CONTROL_PLANE_FILE.format(revision=revision)
    profile = "ambient" if with_ambient else ""
    cp.write_text(_dump(render_revision(version, revision, namespace=namespace, profile=profile)))
    files.append(cp)
    if gateways:
        objs: list[Obj] = []
        for ns, name in gateways:
            objs += render_gateway(version, ns, name, revision)
        gw = out / GATEWAYS_FILE.format(revision=revision)
        gw.write_text(_dump(objs))
        files.append(gw)
    if with_ambient:
        amb = out / AMBIENT_FILE.format(revision=revision)
        amb.write_text(_dump(render_ambient(version, revision, namespace=namespace)))
        files.append(amb)
    return files


def _dump(objs: list[Any]) -> str:
    return yaml.safe_dump_all(objs, sort_keys=False, default_flow_style=False)
