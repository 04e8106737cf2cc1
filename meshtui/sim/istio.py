"""Istio as installers leave it in a cluster: revisions, tags and gateways, written into the store.

Every object is named and labelled as docs/istio.md describes (objects, tags, gateways, uninstall), so the product
sees through the API exactly what `istioctl` or Helm would have applied. `RevisionInfo` reads a revision's
injector settings back from the store, so a ConfigMap edited through the API takes effect on injection.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import yaml

from meshtui.sim import errors
from meshtui.sim.store import Obj, Store

log = logging.getLogger(__name__)

ISTIO_NAMESPACE = "istio-system"
DEFAULT_HUB = "docker.io/istio"
DEFAULT_VERSION = "1.23.2"
CA_BUNDLE = "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCk1JSUMvRENDQWVTZ0F3SUJBZ0lRU0lNIG1lc2h0dWkKLS0tLS1FTkQg"
NEVER_MATCH = {"matchLabels": {"istio.io/deactivated": "never-match"}}
VALIDATION_GROUPS = ["security.istio.io", "networking.istio.io", "telemetry.istio.io", "extensions.istio.io"]
COMPONENTS = ("Pilot", "IngressGateways", "EgressGateways")
#: The istiod chart renders tag Services (`revision-tags-svc.yaml`) from this minor on.
TAG_SERVICES_FROM = (1, 28)

MWC = "admissionregistration.k8s.io/mutatingwebhookconfigurations"
VWC = "admissionregistration.k8s.io/validatingwebhookconfigurations"
DEPLOYMENTS = "apps/deployments"
PDBS = "policy/poddisruptionbudgets"
GATEWAYS = "gateway.networking.k8s.io/gateways"


# -- names -----------------------------------------------------------------------------------------------


def rev_label(revision: str | None) -> str:
    """The `istio.io/rev` value of a revision: the name, or `default` for a non-revisioned install."""
    return revision or "default"


def rev_suffix(revision: str | None) -> str:
    """The `-R` suffix of a revision's object names (none for the default revision)."""
    return "" if revision in (None, "", "default") else f"-{revision}"


def revision_name(version: str) -> str:
    """The DNS-1123 revision name istio docs recommend for a version: `1.23.1` -> `1-23-1`."""
    return version.replace(".", "-")


def minor_of(version: str) -> tuple[int, int]:
    """(major, minor) of a version like `1.23.2` or `1.23.2-distroless` ((0, 0) if unparsable)."""
    parts = version.split("-")[0].split(".")
    try:
        return int(parts[0]), int(parts[1])
    except (IndexError, ValueError):
        return 0, 0


def injector_configmap_name(revision: str | None) -> str:
    """`istio-sidecar-injector[-R]`, the name of both the injector ConfigMap and the revision's MWC."""
    return f"istio-sidecar-injector{rev_suffix(revision)}"


def istiod_name(revision: str | None) -> str:
    """`istiod[-R]`: the Deployment, Service, ServiceAccount and PDB of a revision."""
    return f"istiod{rev_suffix(revision)}"


# -- the revision's injector settings, read back from the store -------------------------------------------


@dataclass(frozen=True)
class RevisionInfo:
    """What a revision's injector uses: images, native sidecars, policy and selectors, discovery address."""

    revision: str  # the istio.io/rev value ("default" for a non-revisioned install)
    namespace: str = ISTIO_NAMESPACE
    hub: str = DEFAULT_HUB
    tag: str = DEFAULT_VERSION
    proxy_image: str = f"{DEFAULT_HUB}/proxyv2:{DEFAULT_VERSION}"
    native_sidecars: bool = False
    native_sidecar_mode: str = "false"  # ENABLE_NATIVE_SIDECARS as configured: true, false or auto (>= 1.27)
    policy: str = "enabled"
    never_inject_selector: tuple[dict[str, Any], ...] = ()
    always_inject_selector: tuple[dict[str, Any], ...] = ()
    injected_annotations: dict[str, str] = field(default_factory=dict)
    discovery_address: str = ""
    cluster_id: str = "Kubernetes"
    mesh_id: str = "cluster.local"
    image_pull_policy: str = "IfNotPresent"

    @property
    def ca_address(self) -> str:
        """Where proxies get certificates: the revision's istiod on 15012."""
        return f"{istiod_name(self.revision)}.{self.namespace}.svc:15012"

    @property
    def xds_address(self) -> str:
        """The discovery address the injected proxies use (fixed at injection time)."""
        return self.discovery_address or self.ca_address


def proxy_image_from_values(values: dict[str, Any]) -> str:
    """The proxy image as `GetIstioProxyImage` computes it from injector values (hub, tag, image, variant)."""
    glob = values.get("global") or {}
    image = str((glob.get("proxy") or {}).get("image") or "proxyv2")
    if "/" in image:
        return image
    hub = str(glob.get("hub") or DEFAULT_HUB)
    tag = str(glob.get("tag") or DEFAULT_VERSION)
    variant = glob.get("variant") or ""
    return f"{hub}/{image}:{tag}" + (f"-{variant}" if variant else "")


_INFO_CACHE: dict[tuple[int, str, str], tuple[tuple[str, str], RevisionInfo]] = {}


def revision_info(store: Store, revision: str | None, namespace: str = ISTIO_NAMESPACE) -> RevisionInfo | None:
    """The injector settings of a revision from its `istio-sidecar-injector[-R]` ConfigMap, or None.

    Cached per ConfigMap resourceVersion, so an edit through the API is seen at the next pod creation.
    """
    label = rev_label(revision)
    cm_entry = store.entry("configmaps", namespace, injector_configmap_name(revision))
    if cm_entry is None:
        return None
    mesh_entry = store.entry("configmaps", namespace, f"istio{rev_suffix(revision)}")
    versions = (str(cm_entry.rv), str(mesh_entry.rv) if mesh_entry else "")
    ck = (id(store), namespace, label)
    hit = _INFO_CACHE.get(ck)
    if hit is not None and hit[0] == versions:
        return hit[1]
    data = cm_entry.obj().get("data") or {}
    try:
        values = json.loads(data.get("values") or "{}")
    except ValueError:
        values = {}
    try:
        config = yaml.safe_load(data.get("config") or "") or {}
    except yaml.YAMLError:
        config = {}
    discovery = ""
    if mesh_entry is not None:
        try:
            mesh = yaml.safe_load((mesh_entry.obj().get("data") or {}).get("mesh") or "") or {}
            discovery = str(((mesh.get("defaultConfig") or {}).get("discoveryAddress")) or "")
        except yaml.YAMLError:
            discovery = ""
    glob = values.get("global") or {}
    env = (values.get("pilot") or {}).get("env") or {}
    native_mode = str(env.get("ENABLE_NATIVE_SIDECARS", "false")).lower()
    native = native_mode == "true"
    info = RevisionInfo(
        revision=label,
        namespace=str(glob.get("istioNamespace") or namespace),
        hub=str(glob.get("hub") or DEFAULT_HUB),
        tag=str(glob.get("tag") or DEFAULT_VERSION),
        proxy_image=proxy_image_from_values(values),
        native_sidecars=native,
        native_sidecar_mode=native_mode,
        policy=str(config.get("policy") or "enabled"),
        never_inject_selector=tuple(config.get("neverInjectSelector") or ()),
        always_inject_selector=tuple(config.get("alwaysInjectSelector") or ()),
        injected_annotations=dict(config.get("injectedAnnotations") or {}),
        discovery_address=discovery,
        cluster_id=str((glob.get("multiCluster") or {}).get("clusterName") or "Kubernetes"),
        mesh_id=str(glob.get("meshID") or "cluster.local"),
        image_pull_policy=str(glob.get("imagePullPolicy") or "IfNotPresent"),
    )
    _INFO_CACHE[ck] = (versions, info)
    return info


# -- lookups over the webhooks -----------------------------------------------------------------------------


def tag_revision(store: Store, tag: str) -> str | None:
    """The revision a tag resolves to: the `istio.io/rev` of the MWC labelled `istio.io/tag=T` (else of its
    tag Service, the only form an ambient-only install may have)."""
    for mwc in store.list(MWC, label_selector=f"istio.io/tag={tag}"):
        return str(mwc["metadata"]["labels"].get("istio.io/rev", "default"))
    for svc in store.list("services", label_selector=f"istio.io/tag={tag}"):
        return str(svc["metadata"]["labels"].get("istio.io/rev", "default"))
    return None


def tag_claimants(store: Store, tag: str) -> list[str]:
    """Every revision that considers `tag` its own: istiod reads tags from both the tag webhooks and the tag
    Services (`pkg/revisions/tag_watcher.go`), so a Service left behind by a webhook-only move keeps claiming."""
    out: list[str] = []
    for key in (MWC, "services"):
        for obj in store.list(key, label_selector=f"istio.io/tag={tag}"):
            rev = str(obj["metadata"]["labels"].get("istio.io/rev", "default"))
            if rev not in out:
                out.append(rev)
    return out


def revisions(store: Store) -> list[str]:
    """Every revision that has an injector MWC (`istio.io/rev` set, no `istio.io/tag`), sorted."""
    return sorted(
        {m["metadata"]["labels"]["istio.io/rev"] for m in store.list(MWC, label_selector="istio.io/rev,!istio.io/tag")}
    )


def resolve(store: Store, name: str) -> str | None:
    """A revision or tag name -> the revision it stands for (None when nothing serves it)."""
    if name in revisions(store):
        return name
    return tag_revision(store, name)


def default_revision(store: Store) -> str | None:
    """The revision behind the active `namespace.`/`object.` webhooks (default tag, else non-revisioned)."""
    for mwc in store.list(MWC, label_selector="app=sidecar-injector"):
        for hook in mwc.get("webhooks") or []:
            if hook.get("name", "").startswith("namespace.") and hook.get("namespaceSelector") != NEVER_MATCH:
                return str(mwc["metadata"]["labels"].get("istio.io/rev", "default"))
    return None


# -- rendering ---------------------------------------------------------------------------------------------


def _chart_labels(version: str, release: str, chart: str = "istiod") -> dict[str, str]:
    """`istio.labels` the charts add to every object from 1.24 on."""
    if minor_of(version) < (1, 24):
        return {}
    return {
        "app.kubernetes.io/managed-by": "Helm",
        "app.kubernetes.io/instance": release,
        "app.kubernetes.io/part-of": "istio",
        "app.kubernetes.io/version": version,
        "helm.sh/chart": f"{chart}-{version}",
    }


def _owner_labels(installer: str, revision: str | None, version: str, component: str = "Pilot") -> dict[str, str]:
    """What `istioctl install` server-side-applies to every object (`getOwnerLabels`); Helm adds none."""
    if installer != "istioctl":
        return {}
    return {
        "operator.istio.io/managed": "Reconcile",
        "operator.istio.io/version": version,
        "istio.io/rev": rev_label(revision),
        "operator.istio.io/component": component,
    }


def injector_webhooks(
    selector_value: str,
    client_config: dict[str, Any],
    *,
    default_webhooks: bool,
    revision_label_preference: str = "namespace",
) -> list[dict[str, Any]]:
    """The injector webhooks for one rev/tag value, in chart order (docs/istio.md, injection selectors)."""

    def hook(name: str, ns_sel: list[dict[str, Any]], obj_sel: list[dict[str, Any]]) -> dict[str, Any]:
        return {
            "name": name,
            "clientConfig": json.loads(json.dumps(client_config)),
            "rules": [
                {
                    "operations": ["CREATE"],
                    "apiGroups": [""],
                    "apiVersions": ["v1"],
                    "resources": ["pods"],
                    "scope": "*",
                }
            ],
            "failurePolicy": "Fail",
            "matchPolicy": "Equivalent",
            "reinvocationPolicy": "Never",
            "sideEffects": "None",
            "timeoutSeconds": 10,
            "admissionReviewVersions": ["v1beta1", "v1"],
            "namespaceSelector": {"matchExpressions": ns_sel},
            "objectSelector": {"matchExpressions": obj_sel},
        }

    not_false: dict[str, Any] = {"key": "sidecar.istio.io/inject", "operator": "NotIn", "values": ["false"]}
    no_legacy: dict[str, Any] = {"key": "istio-injection", "operator": "DoesNotExist"}
    rev_in: dict[str, Any] = {"key": "istio.io/rev", "operator": "In", "values": [selector_value]}
    no_rev: dict[str, Any] = {"key": "istio.io/rev", "operator": "DoesNotExist"}
    rev_ns_obj = [not_false]
    rev_obj_ns = [no_rev, no_legacy]
    if revision_label_preference == "pod":
        rev_ns_obj = [not_false, no_rev]
        rev_obj_ns = [no_legacy]
    hooks = [
        hook("rev.namespace.sidecar-injector.istio.io", [rev_in, no_legacy], rev_ns_obj),
        hook("rev.object.sidecar-injector.istio.io", rev_obj_ns, [not_false, rev_in]),
    ]
    if default_webhooks:
        hooks.append(
            hook(
                "namespace.sidecar-injector.istio.io",
                [{"key": "istio-injection", "operator": "In", "values": ["enabled"]}],
                [not_false],
            )
        )
        hooks.append(
            hook(
                "object.sidecar-injector.istio.io",
                [no_legacy, no_rev],
                [{"key": "sidecar.istio.io/inject", "operator": "In", "values": ["true"]}, no_rev],
            )
        )
    return hooks


def _service_client_config(service: str, namespace: str, path: str) -> dict[str, Any]:
    return {
        "service": {"name": service, "namespace": namespace, "path": path, "port": 443},
        "caBundle": CA_BUNDLE,
    }


def _validator_webhook(
    name: str, client_config: dict[str, Any], value: str | None, failure_policy: str = "Fail"
) -> dict[str, Any]:
    hook: dict[str, Any] = {
        "name": name,
        "clientConfig": client_config,
        "rules": [
            {
                "operations": ["CREATE", "UPDATE"],
                "apiGroups": VALIDATION_GROUPS,
                "apiVersions": ["*"],
                "resources": ["*"],
                "scope": "*",
            }
        ],
        "failurePolicy": failure_policy,
        "matchPolicy": "Equivalent",
        "sideEffects": "None",
        "timeoutSeconds": 10,
        "admissionReviewVersions": ["v1beta1", "v1"],
        "namespaceSelector": {},
        "objectSelector": {},
    }
    if value is not None:
        hook["objectSelector"] = {"matchExpressions": [{"key": "istio.io/rev", "operator": "In", "values": [value]}]}
    return hook


def _native_mode(version: str, native_sidecars: bool | None) -> str:
    """ENABLE_NATIVE_SIDECARS for a version: explicit, else `auto` from 1.27 and `false` before."""
    if native_sidecars is not None:
        return "true" if native_sidecars else "false"
    return "auto" if minor_of(version) >= (1, 27) else "false"


def injector_values(
    revision: str | None,
    version: str,
    *,
    hub: str = DEFAULT_HUB,
    namespace: str = ISTIO_NAMESPACE,
    native_sidecars: bool | None = None,
    variant: str = "",
) -> dict[str, Any]:
    """The `data.values` JSON of the injector ConfigMap (the subset of chart values injection reads)."""
    return {
        "global": {
            "hub": hub,
            "tag": version,
            "variant": variant,
            "imagePullPolicy": "",
            "imagePullSecrets": [],
            "istioNamespace": namespace,
            "meshID": "",
            "network": "",
            "multiCluster": {"clusterName": ""},
            "proxy": {
                "image": "proxyv2",
                "clusterDomain": "cluster.local",
                "logLevel": "warning",
                "statusPort": 15020,
                "privileged": False,
                "resources": {
                    "requests": {"cpu": "100m", "memory": "128Mi"},
                    "limits": {"cpu": "2000m", "memory": "1024Mi"},
                },
            },
            "proxy_init": {"image": "proxyv2"},
            "jwtPolicy": "third-party-jwt",
            "pilotCertProvider": "istiod",
            "sds": {"token": {"aud": "istio-ca"}},
        },
        "pilot": {"env": {"ENABLE_NATIVE_SIDECARS": _native_mode(version, native_sidecars)}},
        "revision": revision or "",
        "sidecarInjectorWebhook": {
            "enableNamespacesByDefault": False,
            "reinvocationPolicy": "Never",
            "rewriteAppHTTPProbe": True,
            "defaultTemplates": [],
        },
        "istio_cni": {"enabled": False},
    }


INJECTOR_CONFIG = """\
# defaultTemplates defines the default template to use for pods that do not explicitly specify a template
defaultTemplates: [sidecar]
policy: enabled
alwaysInjectSelector:
  []
neverInjectSelector:
  []
injectedAnnotations:
template: "{{ Template_Version_And_Istio_Version_Mismatched_Check_Installation }}"
templates:
  sidecar: |
    # rendered by the simulator's inject_pod (meshtui.sim.admission)
  gateway: |
    # rendered by the simulator's inject_pod (meshtui.sim.admission)
  grpc-simple: |
    # not rendered by the simulator
  grpc-agent: |
    # not rendered by the simulator
"""


def _mesh_config(revision: str | None, namespace: str) -> str:
    return (
        "defaultConfig:\n"
        f"  discoveryAddress: {istiod_name(revision)}.{namespace}.svc:15012\n"
        "defaultProviders:\n  metrics:\n  - prometheus\n"
        "enablePrometheusMerge: true\n"
        f"rootNamespace: {namespace}\n"
        "trustDomain: cluster.local\n"
    )


def _put(store: Store, key: str, obj: Obj) -> Obj:
    """Create, or replace keeping status (what `kubectl apply`/server-side apply amounts to here)."""
    meta = obj["metadata"]
    old = store.get(key, meta.get("namespace"), meta["name"])
    if old is None:
        return store.create(key, obj)

    def merge(cur: Obj) -> Obj:
        new = dict(obj)
        new["metadata"] = {
            **cur["metadata"],
            "labels": meta.get("labels", {}),
            "annotations": {**(cur["metadata"].get("annotations") or {}), **(meta.get("annotations") or {})},
        }
        if "status" in cur:
            new["status"] = cur["status"]
        return new

    return store.update(key, meta.get("namespace"), meta["name"], merge)


def ensure_namespace(store: Store, name: str, labels: dict[str, str] | None = None) -> Obj:
    """Create a namespace if it is missing (labels only apply to a new one)."""
    existing = store.get("namespaces", None, name)
    if existing is not None:
        return existing
    return store.create("namespaces", {"metadata": {"name": name, "labels": dict(labels or {})}})


def revision_objects(
    revision: str | None,
    version: str = DEFAULT_VERSION,
    *,
    namespace: str = ISTIO_NAMESPACE,
    native_sidecars: bool | None = None,
    installer: str = "istioctl",
    external: bool = False,
    hub: str = DEFAULT_HUB,
    replicas: int = 1,
    revision_label_preference: str = "namespace",
    profile: str = "",
) -> list[tuple[str, Obj]]:
    """The objects the istiod chart renders for one revision, as (store key, object), in order (docs/istio.md).

    Pure: `install_revision` writes them into a store, `meshtui sim render-revision` into files.
    `profile="ambient"` applies the chart's ambient profile (`files/profile-ambient.yaml`): the
    distroless variant and `PILOT_ENABLE_AMBIENT=true`.
    """
    ambient_profile = profile == "ambient"
    variant = "distroless" if ambient_profile else ""
    if installer not in ("istioctl", "helm"):
        raise ValueError(f"unknown installer {installer!r}")
    revision = revision or ""
    label = rev_label(revision)
    sfx = rev_suffix(revision)
    release = f"istiod{sfx}" if installer == "helm" else "istio"
    owner = _owner_labels(installer, revision, version)
    chart = _chart_labels(version, release)
    out: list[tuple[str, Obj]] = []

    def put(key: str, obj: Obj) -> None:
        out.append((key, obj))

    base_labels = {**chart, "istio.io/rev": label, "release": release, **owner}
    pilot_labels = {**base_labels, "operator.istio.io/component": "Pilot"}
    values = injector_values(
        revision, version, hub=hub, namespace=namespace, native_sidecars=native_sidecars, variant=variant
    )
    put(
        "configmaps",
        {
            "metadata": {
                "name": injector_configmap_name(revision),
                "namespace": namespace,
                "labels": pilot_labels,
            },
            "data": {"config": INJECTOR_CONFIG, "values": json.dumps(values, indent=2, sort_keys=True)},
        },
    )
    mwc_name = injector_configmap_name(revision) + ("" if namespace == ISTIO_NAMESPACE else f"-{namespace}")
    if external:
        client: dict[str, Any] = {
            "url": f"https://istiod{sfx}.mesh.example.com:15017/inject/cluster/Kubernetes/net/network1",
            "caBundle": CA_BUNDLE,
        }
    else:
        client = _service_client_config(istiod_name(revision), namespace, "/inject")
    put(
        MWC,
        {
            "metadata": {
                "name": mwc_name,
                "labels": {
                    **pilot_labels,
                    "app": "sidecar-injector",
                    "install.operator.istio.io/owning-resource": "unknown",
                    "app.kubernetes.io/name": "istiod",
                },
            },
            "webhooks": injector_webhooks(
                label,
                client,
                default_webhooks=not revision,
                revision_label_preference=revision_label_preference,
            ),
        },
    )
    if external:
        return out

    put(
        "serviceaccounts",
        {
            "metadata": {
                "name": istiod_name(revision),
                "namespace": namespace,
                "labels": {**chart, "app": "istiod", "release": release, **owner},
            }
        },
    )
    put(
        "configmaps",
        {
            "metadata": {"name": f"istio{sfx}", "namespace": namespace, "labels": pilot_labels},
            "data": {"mesh": _mesh_config(revision, namespace), "meshNetworks": "networks: {}"},
        },
    )
    if minor_of(version) >= (1, 26):
        put(
            "configmaps",
            {
                "metadata": {"name": f"values{sfx}", "namespace": namespace, "labels": pilot_labels},
                "data": {
                    "original-values": json.dumps({"revision": revision}),
                    "merged-values": json.dumps(values),
                },
            },
        )
    selector = {"app": "istiod", "istio.io/rev": revision} if revision else {"istio": "pilot"}
    pod_labels = {
        "app": "istiod",
        "istio.io/rev": label,
        "install.operator.istio.io/owning-resource": "unknown",
        "sidecar.istio.io/inject": "false",
        "operator.istio.io/component": "Pilot",
        "istio": "istiod" if revision else "pilot",
        "istio.io/dataplane-mode": "none",
    }
    put(
        DEPLOYMENTS,
        {
            "metadata": {
                "name": istiod_name(revision),
                "namespace": namespace,
                "labels": {
                    **pilot_labels,
                    "app": "istiod",
                    "istio": "pilot",
                    "install.operator.istio.io/owning-resource": "unknown",
                    "app.kubernetes.io/name": "istiod",
                },
            },
            "spec": {
                "replicas": replicas,
                "selector": {"matchLabels": selector},
                "strategy": {
                    "type": "RollingUpdate",
                    "rollingUpdate": {"maxSurge": "100%", "maxUnavailable": "25%"},
                },
                "template": {
                    "metadata": {
                        "labels": pod_labels,
                        "annotations": {
                            "sidecar.istio.io/inject": "false",
                            "prometheus.io/port": "15014",
                            "prometheus.io/scrape": "true",
                        },
                    },
                    "spec": {
                        "serviceAccountName": istiod_name(revision),
                        "containers": [
                            {
                                "name": "discovery",
                                "image": f"{hub}/pilot:{version}" + (f"-{variant}" if variant else ""),
                                "args": [
                                    "discovery",
                                    "--monitoringAddr=:15014",
                                    "--log_output_level=default:info",
                                    "--domain",
                                    "cluster.local",
                                    "--keepaliveMaxServerConnectionAge",
                                    "30m",
                                ],
                                "ports": [
                                    {"containerPort": 8080, "protocol": "TCP"},
                                    {"containerPort": 15010, "protocol": "TCP"},
                                    {"containerPort": 15017, "protocol": "TCP"},
                                ],
                                "readinessProbe": {
                                    "httpGet": {"path": "/ready", "port": 8080},
                                    "initialDelaySeconds": 1,
                                    "periodSeconds": 3,
                                    "timeoutSeconds": 5,
                                },
                                "env": [
                                    {"name": "REVISION", "value": label},
                                    {"name": "PILOT_CERT_PROVIDER", "value": "istiod"},
                                    {"name": "ENABLE_NATIVE_SIDECARS", "value": _native_mode(version, native_sidecars)},
                                    *([{"name": "PILOT_ENABLE_AMBIENT", "value": "true"}] if ambient_profile else []),
                                ],
                                "resources": {"requests": {"cpu": "500m", "memory": "2048Mi"}},
                            }
                        ],
                    },
                },
            },
        },
    )
    put(
        "services",
        {
            "metadata": {
                "name": istiod_name(revision),
                "namespace": namespace,
                "labels": {**pilot_labels, "app": "istiod", "istio": "pilot"},
            },
            "spec": {
                "type": "ClusterIP",
                "ports": [
                    {"name": "grpc-xds", "port": 15010, "protocol": "TCP", "targetPort": 15010},
                    {"name": "https-dns", "port": 15012, "protocol": "TCP", "targetPort": 15012},
                    {"name": "https-webhook", "port": 443, "protocol": "TCP", "targetPort": 15017},
                    {"name": "http-monitoring", "port": 15014, "protocol": "TCP", "targetPort": 15014},
                ],
                "selector": selector,
            },
        },
    )
    put(
        PDBS,
        {
            "metadata": {
                "name": istiod_name(revision),
                "namespace": namespace,
                "labels": {**pilot_labels, "app": "istiod", "istio": "pilot"},
            },
            "spec": {"minAvailable": 1, "selector": {"matchLabels": selector}},
        },
    )
    put(
        VWC,
        {
            "metadata": {
                "name": f"istio-validator{sfx}-{namespace}",
                "labels": {**chart, **owner, "app": "istiod", "istio": "istiod", "istio.io/rev": label},
            },
            "webhooks": [
                _validator_webhook(
                    "rev.validation.istio.io",
                    _service_client_config(istiod_name(revision), namespace, "/validate"),
                    label,
                )
            ],
        },
    )
    return out


def install_revision(
    store: Store,
    revision: str | None,
    version: str = DEFAULT_VERSION,
    *,
    namespace: str = ISTIO_NAMESPACE,
    native_sidecars: bool | None = None,
    installer: str = "istioctl",
    external: bool = False,
    set_default_tag: bool | None = None,
    hub: str = DEFAULT_HUB,
    replicas: int = 1,
    revision_label_preference: str = "namespace",
    revision_tags: tuple[str, ...] = (),
    profile: str = "",
) -> list[tuple[str, str, str]]:
    """Install one control-plane revision as the istiod chart renders it (docs/istio.md); returns what it wrote.

    `revision_tags` is the chart's `revisionTags`: a tag MWC per tag and, from 1.28, a tag Service.

    `external=True` models a managed control plane outside the cluster: only the injector MWC (with a
    `url` clientConfig) and the injector ConfigMap. `set_default_tag=None` follows istioctl: the first
    revisioned install, or any non-revisioned one, creates/moves the default tag (Helm never does).
    """
    from meshtui.sim import admission  # late: admission imports this module

    admission.install(store)
    if installer not in ("istioctl", "helm"):
        raise ValueError(f"unknown installer {installer!r}")
    revision = revision or ""
    label = rev_label(revision)
    owner = _owner_labels(installer, revision, version)
    written: list[tuple[str, str, str]] = []
    ensure_namespace(store, namespace)
    for key, obj in revision_objects(
        revision,
        version,
        namespace=namespace,
        native_sidecars=native_sidecars,
        installer=installer,
        external=external,
        hub=hub,
        replicas=replicas,
        revision_label_preference=revision_label_preference,
        profile=profile,
    ):
        _put(store, key, obj)
        written.append((key, obj["metadata"].get("namespace", ""), obj["metadata"]["name"]))
    if external:
        return written

    if set_default_tag is None:
        existing = store.list(MWC, label_selector="app=sidecar-injector,istio.io/tag=default")
        set_default_tag = installer == "istioctl" and (not existing or not revision)
    if set_default_tag:
        written += _apply_tag(store, "default", label, namespace=namespace, user_managed=False, installer_labels=owner)
    release = f"istiod{rev_suffix(revision)}" if installer == "helm" else "istio"
    chart = {
        **_chart_labels(version, release),
        "release": release,
        "istio": "pilot",
        "operator.istio.io/component": "Pilot",
        "install.operator.istio.io/owning-resource": "unknown",
        "app.kubernetes.io/name": "istiod",
        **owner,
    }
    for tag in revision_tags:
        written += _apply_tag(store, tag, label, namespace=namespace, user_managed=False, installer_labels=chart)
    return written


def _canonical_mwc(store: Store, revision: str) -> Obj:
    found = [m for m in store.list(MWC, label_selector=f"istio.io/rev={revision},!istio.io/tag")]
    if len(found) != 1:
        raise errors.ApiError(
            404,
            "NotFound",
            f"cannot find MutatingWebhookConfiguration with revision {revision!r}"
            if not found
            else f"found multiple canonical webhooks with revision {revision!r}",
        )
    return found[0]


def deactivate_default_injector(store: Store) -> list[str]:
    """Set every webhook of the non-revisioned MWC to never match, as `istioctl tag set default` does."""
    changed = []
    for mwc in store.list(MWC, label_selector="istio.io/rev=default,!istio.io/tag"):

        def deactivate(obj: Obj) -> Obj:
            for hook in obj.get("webhooks") or []:
                hook["namespaceSelector"] = json.loads(json.dumps(NEVER_MATCH))
                hook["objectSelector"] = json.loads(json.dumps(NEVER_MATCH))
            return obj

        store.update(MWC, None, mwc["metadata"]["name"], deactivate)
        changed.append(mwc["metadata"]["name"])
    return changed


def _apply_tag(
    store: Store,
    tag: str,
    revision: str,
    *,
    namespace: str,
    user_managed: bool,
    installer_labels: dict[str, str] | None = None,
) -> list[tuple[str, str, str]]:
    canonical = _canonical_mwc(store, revision)
    labels = {k: v for k, v in (canonical["metadata"].get("labels") or {}).items() if k != "app"}
    if user_managed:
        labels = {k: v for k, v in labels.items() if "operator.istio.io" not in k}
    else:
        labels.update(installer_labels or {})
        labels["install.operator.istio.io/owning-resource-not-pruned"] = "true"
    labels.update({"istio.io/tag": tag, "istio.io/rev": revision, "app": "sidecar-injector"})
    client = json.loads(json.dumps((canonical.get("webhooks") or [{}])[0].get("clientConfig") or {}))
    written: list[tuple[str, str, str]] = []
    ns_suffix = "" if namespace == ISTIO_NAMESPACE else f"-{namespace}"
    mwc: dict[str, Any] = {
        "metadata": {"name": f"istio-revision-tag-{tag}{ns_suffix}", "labels": labels},
        "webhooks": injector_webhooks(tag, client, default_webhooks=tag == "default"),
    }
    _put(store, MWC, mwc)
    written.append((MWC, "", mwc["metadata"]["name"]))
    service = client.get("service") or {}
    if tag == "default":
        old = store.get(VWC, None, "istiod-default-validator")
        policy = "Ignore"
        if old and old.get("webhooks"):
            policy = old["webhooks"][0].get("failurePolicy", "Ignore")
        vlabels = {"istio.io/rev": revision, "istio.io/tag": "default", "app": "istiod"}
        if not user_managed:
            vlabels.update(installer_labels or {})
            vlabels["istio.io/rev"] = revision
        if service:
            vclient = _service_client_config(service["name"], service.get("namespace", namespace), "/validate")
        else:
            vclient = {
                "url": str(client.get("url", "")).replace("/inject", "/validate").split("/cluster/")[0],
                "caBundle": CA_BUNDLE,
            }
        _put(
            store,
            VWC,
            {
                "metadata": {"name": "istiod-default-validator", "labels": vlabels},
                "webhooks": [_validator_webhook("validation.istio.io", vclient, None, policy)],
            },
        )
        written.append((VWC, "", "istiod-default-validator"))
        deactivate_default_injector(store)
    info = revision_info(store, revision, namespace)
    if service and info is not None and minor_of(info.tag) >= TAG_SERVICES_FROM:
        istiod_svc = store.get("services", service.get("namespace", namespace), service["name"])
        selector = (istiod_svc or {}).get("spec", {}).get("selector") or {
            "app": "istiod",
            "istio.io/rev": revision,
        }
        svc_labels = {"istio.io/rev": revision, "istio.io/tag": tag, "app": "istiod"}
        if not user_managed:
            svc_labels.update({**(installer_labels or {}), "istio.io/rev": revision})
            svc_labels.pop("install.operator.istio.io/owning-resource-not-pruned", None)
        _put(
            store,
            "services",
            {
                "metadata": {
                    "name": f"istiod-revision-tag-{tag}",
                    "namespace": namespace,
                    "labels": svc_labels,
                },
                "spec": {
                    "type": "ClusterIP",
                    "selector": selector,
                    "ports": [
                        {"name": "grpc-xds", "port": 15010, "protocol": "TCP", "targetPort": 15010},
                        {"name": "https-dns", "port": 15012, "protocol": "TCP", "targetPort": 15012},
                        {"name": "https-webhook", "port": 443, "protocol": "TCP", "targetPort": 15017},
                        {"name": "http-monitoring", "port": 15014, "protocol": "TCP", "targetPort": 15014},
                    ],
                },
            },
        )
        written.append(("services", namespace, f"istiod-revision-tag-{tag}"))
    return written


def set_tag(
    store: Store, tag: str, revision: str, *, overwrite: bool = True, namespace: str = ISTIO_NAMESPACE
) -> list[tuple[str, str, str]]:
    """`istioctl tag set T --revision R [--overwrite]` (docs/istio.md#revision-tags); returns the objects written.

    Like istioctl it strips `operator.istio.io` labels (user-managed), so `remove_revision` leaves the tag
    behind, dangling. `default` also writes `istiod-default-validator` and deactivates the
    non-revisioned injector.
    """
    revision = rev_label(revision)
    if tag != "default" and tag in revisions(store):  # `default` takes over from a non-revisioned install
        raise errors.ApiError(
            409,
            "AlreadyExists",
            f"cannot create revision tag {tag!r}: found existing control plane revision with same name",
        )
    if not overwrite and store.list(MWC, label_selector=f"istio.io/tag={tag}"):
        raise errors.ApiError(409, "AlreadyExists", f"revision tag {tag!r} already exists, and --overwrite is false")
    return _apply_tag(store, tag, revision, namespace=namespace, user_managed=True)


def remove_tag(store: Store, tag: str) -> list[tuple[str, str, str]]:
    """`istioctl tag remove T`: delete MWCs, VWCs and Services labelled `istio.io/tag=T`."""
    from meshtui.sim.deletion import delete

    removed = []
    for key in (MWC, VWC, "services"):
        for obj in store.list(key, label_selector=f"istio.io/tag={tag}"):
            meta = obj["metadata"]
            delete(store, key, meta.get("namespace"), meta["name"])
            removed.append((key, meta.get("namespace", ""), meta["name"]))
    return removed


_UNINSTALL_KINDS = (
    DEPLOYMENTS,
    "apps/daemonsets",
    "services",
    "configmaps",
    "pods",
    "secrets",
    "serviceaccounts",
    PDBS,
    MWC,
    VWC,
)


def remove_revision(store: Store, revision: str, *, namespace: str = ISTIO_NAMESPACE) -> list[tuple[str, str, str]]:
    """`istioctl uninstall --revision X`: delete the selected objects; returns them (docs/istio.md, offline).

    Tags made by `set_tag` carry no `operator.istio.io/component` label and survive, dangling.
    """
    from meshtui.sim.deletion import delete

    label = rev_label(revision)
    if not store.list(MWC, label_selector=f"istio.io/rev={label}"):
        raise errors.ApiError(404, "NotFound", f"could not find MutatingWebhookConfiguration with revision {label}")
    selector = f"istio.io/rev={label},operator.istio.io/component in ({','.join(COMPONENTS)})"
    targets: list[tuple[str, str, str]] = []
    for key in _UNINSTALL_KINDS:
        for obj in store.list(key, label_selector=selector):
            targets.append((key, obj["metadata"].get("namespace", ""), obj["metadata"]["name"]))
    vwc = f"istio-validator{rev_suffix(revision)}-{namespace}"
    if store.get(VWC, None, vwc) is not None and (VWC, "", vwc) not in targets:
        targets.append((VWC, "", vwc))
    removed = []
    for key, ns, name in targets:
        try:
            # What is left once the uninstall is done: the objects gone, their dependents collected.
            delete(store, key, ns or None, name, propagation="Background")
            removed.append((key, ns, name))
        except errors.ApiError as exc:
            if exc.code != 404:  # already collected with its owner
                raise
    return removed


def install_target(
    store: Store, version: str, *, installer: str = "istioctl", native_sidecars: bool | None = None
) -> str:
    """Install a version's revision beside the running ones (the default tag stays); returns its name."""
    revision = revision_name(version)
    install_revision(
        store, revision, version, installer=installer, native_sidecars=native_sidecars, set_default_tag=False
    )
    return revision


# -- gateways ----------------------------------------------------------------------------------------------


_GATEWAY_PORTS = [
    {"name": "status-port", "port": 15021, "protocol": "TCP", "targetPort": 15021},
    {"name": "http2", "port": 80, "protocol": "TCP", "targetPort": 8080},
    {"name": "https", "port": 443, "protocol": "TCP", "targetPort": 8443},
]
_PROM = {
    "prometheus.io/port": "15020",
    "prometheus.io/scrape": "true",
    "prometheus.io/path": "/stats/prometheus",
}


def _gateway_container(image: str, args: Iterable[str] = ("proxy", "router")) -> dict[str, Any]:
    return {
        "name": "istio-proxy",
        "image": image,
        "args": list(args),
        "ports": [
            {"containerPort": 15021, "protocol": "TCP"},
            {"containerPort": 8080, "protocol": "TCP"},
            {"containerPort": 8443, "protocol": "TCP"},
            {"containerPort": 15090, "protocol": "TCP", "name": "http-envoy-prom"},
        ],
        "readinessProbe": {"httpGet": {"path": "/healthz/ready", "port": 15021}, "periodSeconds": 2},
        "resources": {
            "requests": {"cpu": "100m", "memory": "128Mi"},
            "limits": {"cpu": "2000m", "memory": "1024Mi"},
        },
    }


def istioctl_gateway_objects(
    namespace: str, name: str, label: str, image: str, version: str, replicas: int | None = 1
) -> list[tuple[str, Obj]]:
    """The objects of an istioctl-rendered gateway (docs/istio.md#gateways: fully rendered, not injected), in order.

    `replicas=None` leaves `spec.replicas` out, as the chart does when autoscaling owns it.
    """
    out: list[tuple[str, Obj]] = []

    def put(key: str, obj: Obj) -> None:
        out.append((key, obj))

    owner = _owner_labels("istioctl", None if label == "default" else label, version, "IngressGateways")
    short = name.removeprefix("istio-")
    sel = {"app": name, "istio": short}
    meta_labels = {
        **sel,
        "istio.io/rev": label,
        "operator.istio.io/component": "IngressGateways",
        "install.operator.istio.io/owning-resource": "unknown",
        "release": "istio",
        **owner,
    }
    put(
        "serviceaccounts",
        {"metadata": {"name": f"{name}-service-account", "namespace": namespace, "labels": meta_labels}},
    )
    put(
        DEPLOYMENTS,
        {
            "metadata": {"name": name, "namespace": namespace, "labels": meta_labels},
            "spec": {
                "replicas": replicas,
                "selector": {"matchLabels": sel},
                "strategy": {
                    "type": "RollingUpdate",
                    "rollingUpdate": {"maxSurge": "100%", "maxUnavailable": "25%"},
                },
                "template": {
                    "metadata": {
                        "labels": {
                            **sel,
                            "istio.io/rev": label,
                            "sidecar.istio.io/inject": "false",
                            "service.istio.io/canonical-name": name,
                            "service.istio.io/canonical-revision": "latest",
                            "operator.istio.io/component": "IngressGateways",
                            "chart": "gateways",
                            "heritage": "Tiller",
                            "release": "istio",
                            "install.operator.istio.io/owning-resource": "unknown",
                        },
                        "annotations": {
                            "istio.io/rev": label,
                            "sidecar.istio.io/inject": "false",
                            **_PROM,
                        },
                    },
                    "spec": {
                        "serviceAccountName": f"{name}-service-account",
                        "containers": [_gateway_container(image)],
                    },
                },
            },
        },
    )
    put(
        "services",
        {
            "metadata": {"name": name, "namespace": namespace, "labels": meta_labels},
            "spec": {"type": "LoadBalancer", "selector": sel, "ports": _GATEWAY_PORTS},
        },
    )
    put(
        PDBS,
        {
            "metadata": {"name": name, "namespace": namespace, "labels": meta_labels},
            "spec": {"minAvailable": 1, "selector": {"matchLabels": sel}},
        },
    )
    if replicas is None:
        for key, obj in out:
            if key == DEPLOYMENTS:
                obj["spec"].pop("replicas", None)
    return out


def add_gateway(
    store: Store,
    namespace: str,
    name: str,
    kind: str = "istioctl",
    revision: str | None = None,
    *,
    replicas: int = 1,
    istio_namespace: str = ISTIO_NAMESPACE,
) -> list[tuple[str, str, str]]:
    """Add a gateway of one of the kinds of docs/istio.md#gateways; returns the objects written.

    `istioctl`: rendered, not injected, proxy image fixed at install. `injected`: plain-YAML Deployment
    with `image: auto` and the gateway template. `helm`: the `istio/gateway` chart. `gateway-api`: a
    `Gateway` plus the Deployment istiod renders for it (not injected). `revision` may be a tag for the
    injected kinds and for `gateway-api`; None means the default revision.
    """
    ensure_namespace(store, namespace)
    written: list[tuple[str, str, str]] = []

    def put(key: str, obj: Obj) -> None:
        _put(store, key, obj)
        written.append((key, namespace, obj["metadata"]["name"]))

    actual = resolve(store, revision) if revision else default_revision(store)
    info = revision_info(store, actual, istio_namespace) if actual else None
    image = info.proxy_image if info else f"{DEFAULT_HUB}/proxyv2:{DEFAULT_VERSION}"
    version = info.tag if info else DEFAULT_VERSION
    if kind == "istioctl":
        for key, obj in istioctl_gateway_objects(namespace, name, rev_label(actual), image, version, replicas):
            put(key, obj)
    elif kind in ("injected", "helm"):
        short = name.removeprefix("istio-")
        sel = {"app": name, "istio": short}
        pod_labels = dict(sel)
        if revision:
            pod_labels["istio.io/rev"] = revision
        else:
            pod_labels["sidecar.istio.io/inject"] = "true"
        annotations = {"inject.istio.io/templates": "gateway"}
        labels = dict(sel)
        if kind == "helm":
            pod_labels["sidecar.istio.io/inject"] = "true"
            annotations.update({"sidecar.istio.io/inject": "true", **_PROM})
            labels.update({"app.kubernetes.io/name": name, **_chart_labels(version, name, "gateway")})
            labels.setdefault("app.kubernetes.io/managed-by", "Helm")
        put("serviceaccounts", {"metadata": {"name": name, "namespace": namespace, "labels": labels}})
        put(
            DEPLOYMENTS,
            {
                "metadata": {"name": name, "namespace": namespace, "labels": labels},
                "spec": {
                    "replicas": replicas,
                    "selector": {"matchLabels": sel},
                    "template": {
                        "metadata": {"labels": pod_labels, "annotations": annotations},
                        "spec": {
                            "serviceAccountName": name,
                            "containers": [{"name": "istio-proxy", "image": "auto"}],
                        },
                    },
                },
            },
        )
        put(
            "services",
            {
                "metadata": {"name": name, "namespace": namespace, "labels": labels},
                "spec": {"type": "LoadBalancer", "selector": sel, "ports": _GATEWAY_PORTS},
            },
        )
    elif kind == "gateway-api":
        glabels = {"istio.io/rev": revision} if revision else {}
        gw = _put(
            store,
            GATEWAYS,
            {
                "metadata": {
                    "name": name,
                    "namespace": namespace,
                    "labels": glabels,
                    "annotations": {"gateway.istio.io/controller-version": "5"},
                },
                "spec": {
                    "gatewayClassName": "istio",
                    "listeners": [
                        {
                            "name": "http",
                            "port": 80,
                            "protocol": "HTTP",
                            "allowedRoutes": {"namespaces": {"from": "Same"}},
                        }
                    ],
                },
            },
        )
        written.append((GATEWAYS, namespace, name))
        label = rev_label(actual)
        dep = f"{name}-istio"
        sel = {"gateway.networking.k8s.io/gateway-name": name}
        labels = {
            **glabels,
            **sel,
            "gateway.networking.k8s.io/gateway-class-name": "istio",
            "gateway.istio.io/managed": "istio.io-gateway-controller",
        }
        owner_ref = [
            {
                "apiVersion": "gateway.networking.k8s.io/v1",
                "kind": "Gateway",
                "name": name,
                "uid": gw["metadata"]["uid"],
                "controller": True,
            }
        ]
        put(
            "serviceaccounts",
            {
                "metadata": {
                    "name": dep,
                    "namespace": namespace,
                    "labels": labels,
                    "ownerReferences": owner_ref,
                }
            },
        )
        put(
            DEPLOYMENTS,
            {
                "metadata": {
                    "name": dep,
                    "namespace": namespace,
                    "labels": labels,
                    "ownerReferences": owner_ref,
                    "annotations": {"istio.io/rev": label},
                },
                "spec": {
                    "replicas": replicas,
                    "selector": {"matchLabels": sel},
                    "template": {
                        "metadata": {
                            "labels": {
                                **labels,
                                "sidecar.istio.io/inject": "false",
                                "service.istio.io/canonical-name": dep,
                                "service.istio.io/canonical-revision": "latest",
                                "istio.io/dataplane-mode": "none",
                            },
                            "annotations": {"istio.io/rev": label, **_PROM},
                        },
                        "spec": {
                            "serviceAccountName": dep,
                            "containers": [
                                _gateway_container(
                                    image,
                                    ("proxy", "router", "--domain", "$(POD_NAMESPACE).svc.cluster.local"),
                                )
                            ],
                        },
                    },
                },
            },
        )
        put(
            "services",
            {
                "metadata": {
                    "name": dep,
                    "namespace": namespace,
                    "labels": labels,
                    "ownerReferences": owner_ref,
                },
                "spec": {
                    "type": "LoadBalancer",
                    "selector": sel,
                    "ports": [
                        {"name": "status-port", "port": 15021, "protocol": "TCP", "targetPort": 15021},
                        {"name": "http", "port": 80, "protocol": "TCP", "targetPort": 80},
                    ],
                },
            },
        )

        def programmed(obj: Obj) -> Obj:
            now = obj["metadata"]["creationTimestamp"]
            gen = obj["metadata"].get("generation", 1)
            obj["status"] = {
                "addresses": [{"type": "Hostname", "value": f"{dep}.{namespace}.svc.cluster.local"}],
                "conditions": [
                    {
                        "type": t,
                        "status": "True",
                        "reason": t,
                        "message": "Resource " + t.lower(),
                        "observedGeneration": gen,
                        "lastTransitionTime": now,
                    }
                    for t in ("Accepted", "Programmed")
                ],
                "listeners": [
                    {
                        "name": "http",
                        "attachedRoutes": 0,
                        "supportedKinds": [{"group": "gateway.networking.k8s.io", "kind": "HTTPRoute"}],
                        "conditions": [],
                    }
                ],
            }
            return obj

        store.update(GATEWAYS, namespace, name, programmed, subresource="status")
    else:
        raise ValueError(f"unknown gateway kind {kind!r}")
    return written
