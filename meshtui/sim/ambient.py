"""Istio's ambient data plane as its charts render it: the ztunnel and istio-cni DaemonSets and waypoints.

Shapes follow the ztunnel, istio-cni and istiod (`files/waypoint.yaml`) charts of Istio 1.29/1.30 (see
docs/ambient.md and tests/domain/fixtures/ambient/): ztunnel is always DaemonSet `ztunnel` whose
container is named `istio-proxy` (image `ztunnel`), the chart's `revision` value only points its
XDS/CA addresses at `istiod-R`; istio-cni is always `istio-cni-node`. Both are upgraded in place.
"""

from __future__ import annotations

from typing import Any

from meshtui.sim import istio
from meshtui.sim.store import Obj, Store

DAEMONSETS = "apps/daemonsets"
ZTUNNEL = "ztunnel"
CNI = "istio-cni-node"
CNI_CONFIG = "istio-cni-config"
WAYPOINT_CLASS = "istio-waypoint"
REDIRECTION = "ambient.istio.io/redirection"
DATAPLANE_MODE = "istio.io/dataplane-mode"
USE_WAYPOINT = "istio.io/use-waypoint"
#: ztunnel drains for this long minus one second, then resets what is left (chart default).
ZTUNNEL_GRACE_SECONDS = 30


def _field(name: str, path: str) -> dict[str, Any]:
    return {"name": name, "valueFrom": {"fieldRef": {"fieldPath": path}}}


def ztunnel_objects(
    version: str,
    revision: str | None,
    *,
    namespace: str = istio.ISTIO_NAMESPACE,
    hub: str = istio.DEFAULT_HUB,
    installer: str = "helm",
) -> list[tuple[str, Obj]]:
    """ServiceAccount and DaemonSet `ztunnel` as `manifests/charts/ztunnel` renders them (`revision` = R or None)."""
    rev = revision or ""
    chart = istio._chart_labels(version, "ztunnel", "ztunnel")
    owner = istio._owner_labels(installer, rev, version, "Ztunnel")
    address = f"{istio.istiod_name(rev)}.{namespace}.svc:15012"
    annotations = {"istio.io/rev": rev} if rev else {}
    pod_annotations = {
        "sidecar.istio.io/inject": "false",
        **annotations,
        "prometheus.io/port": "15020",
        "prometheus.io/scrape": "true",
    }
    meta_labels = {"app.kubernetes.io/name": "ztunnel", **chart, **owner}
    ds: Obj = {
        "metadata": {"name": ZTUNNEL, "namespace": namespace, "labels": meta_labels, "annotations": annotations},
        "spec": {
            "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}},
            "selector": {"matchLabels": {"app": "ztunnel"}},
            "template": {
                "metadata": {
                    "labels": {
                        "sidecar.istio.io/inject": "false",
                        DATAPLANE_MODE: "none",
                        "app": "ztunnel",
                        "app.kubernetes.io/name": "ztunnel",
                        **chart,
                    },
                    "annotations": pod_annotations,
                },
                "spec": {
                    "nodeSelector": {"kubernetes.io/os": "linux"},
                    "serviceAccountName": "ztunnel",
                    "tolerations": [
                        {"effect": "NoSchedule", "operator": "Exists"},
                        {"key": "CriticalAddonsOnly", "operator": "Exists"},
                        {"effect": "NoExecute", "operator": "Exists"},
                    ],
                    "containers": [
                        {
                            "name": "istio-proxy",
                            "image": f"{hub}/ztunnel:{version}",
                            "ports": [{"containerPort": 15020, "name": "ztunnel-stats", "protocol": "TCP"}],
                            "resources": {"requests": {"cpu": "200m", "memory": "512Mi"}},
                            "readinessProbe": {"httpGet": {"port": 15021, "path": "/healthz/ready"}},
                            "args": ["proxy", "ztunnel"],
                            "env": [
                                {"name": "CA_ADDRESS", "value": address},
                                {"name": "XDS_ADDRESS", "value": address},
                                {"name": "RUST_LOG", "value": "info"},
                                {"name": "RUST_BACKTRACE", "value": "1"},
                                {"name": "ISTIO_META_CLUSTER_ID", "value": "Kubernetes"},
                                {"name": "INPOD_ENABLED", "value": "true"},
                                {"name": "TERMINATION_GRACE_PERIOD_SECONDS", "value": str(ZTUNNEL_GRACE_SECONDS)},
                                _field("POD_NAME", "metadata.name"),
                                _field("POD_NAMESPACE", "metadata.namespace"),
                                _field("NODE_NAME", "spec.nodeName"),
                                _field("INSTANCE_IP", "status.podIP"),
                                _field("SERVICE_ACCOUNT", "spec.serviceAccountName"),
                            ],
                        }
                    ],
                    "priorityClassName": "system-node-critical",
                    "terminationGracePeriodSeconds": ZTUNNEL_GRACE_SECONDS,
                },
            },
        },
    }
    sa: Obj = {"metadata": {"name": "ztunnel", "namespace": namespace, "labels": dict(meta_labels)}}
    return [("serviceaccounts", sa), (DAEMONSETS, ds)]


def cni_objects(
    version: str,
    revision: str | None,
    *,
    namespace: str = istio.ISTIO_NAMESPACE,
    hub: str = istio.DEFAULT_HUB,
    installer: str = "helm",
    ambient: bool = True,
) -> list[tuple[str, Obj]]:
    """ServiceAccount, ConfigMap `istio-cni-config` and DaemonSet `istio-cni-node` (`manifests/charts/istio-cni`)."""
    rev = revision or ""
    chart = istio._chart_labels(version, "istio-cni", "cni")
    owner = istio._owner_labels(installer, rev, version, "Cni")
    common = {
        "release": "istio-cni",
        "istio.io/rev": istio.rev_label(rev),
        "install.operator.istio.io/owning-resource": "unknown",
        "operator.istio.io/component": "Cni",
        "app.kubernetes.io/name": "istio-cni",
        **chart,
        **owner,
    }
    config: Obj = {
        "metadata": {"name": CNI_CONFIG, "namespace": namespace, "labels": {"app": "istio-cni", **common}},
        "data": {
            "CURRENT_AGENT_VERSION": version,
            "AMBIENT_ENABLED": "true" if ambient else "false",
            "AMBIENT_DNS_CAPTURE": "true",
            "AMBIENT_IPV6": "true",
            "CHAINED_CNI_PLUGIN": "true",
            "EXCLUDE_NAMESPACES": "kube-system",
            "REPAIR_ENABLED": "true",
        },
    }
    ds: Obj = {
        "metadata": {"name": CNI, "namespace": namespace, "labels": {"k8s-app": CNI, **common}},
        "spec": {
            "selector": {"matchLabels": {"k8s-app": CNI}},
            "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1}},
            "template": {
                "metadata": {
                    "labels": {
                        "k8s-app": CNI,
                        "sidecar.istio.io/inject": "false",
                        DATAPLANE_MODE: "none",
                        "app.kubernetes.io/name": "istio-cni",
                        **chart,
                    },
                    "annotations": {
                        "sidecar.istio.io/inject": "false",
                        "prometheus.io/scrape": "true",
                        "prometheus.io/port": "15014",
                        "prometheus.io/path": "/metrics",
                        "container.apparmor.security.beta.kubernetes.io/install-cni": "unconfined",
                    },
                },
                "spec": {
                    "nodeSelector": {"kubernetes.io/os": "linux"},
                    "priorityClassName": "system-node-critical",
                    "serviceAccountName": "istio-cni",
                    "terminationGracePeriodSeconds": 5,
                    "containers": [
                        {
                            "name": "install-cni",
                            "image": f"{hub}/install-cni:{version}",
                            "ports": [{"containerPort": 15014, "name": "metrics", "protocol": "TCP"}],
                            "readinessProbe": {"httpGet": {"path": "/readyz", "port": 8000}},
                            "command": ["install-cni"],
                            "envFrom": [{"configMapRef": {"name": CNI_CONFIG}}],
                            "env": [
                                _field("REPAIR_NODE_NAME", "spec.nodeName"),
                                {"name": "REPAIR_RUN_AS_DAEMON", "value": "true"},
                                {"name": "REPAIR_SIDECAR_ANNOTATION", "value": "sidecar.istio.io/status"},
                                {"name": "ALLOW_SWITCH_TO_HOST_NS", "value": "true"},
                                _field("NODE_NAME", "spec.nodeName"),
                                _field("POD_NAME", "metadata.name"),
                                _field("POD_NAMESPACE", "metadata.namespace"),
                            ],
                            "resources": {"requests": {"cpu": "100m", "memory": "100Mi"}},
                        }
                    ],
                },
            },
        },
    }
    sa: Obj = {"metadata": {"name": "istio-cni", "namespace": namespace, "labels": dict(common)}}
    return [("serviceaccounts", sa), ("configmaps", config), (DAEMONSETS, ds)]


def install_ambient(
    store: Store,
    version: str,
    revision: str | None,
    *,
    namespace: str = istio.ISTIO_NAMESPACE,
    hub: str = istio.DEFAULT_HUB,
    installer: str = "helm",
) -> list[tuple[str, str, str]]:
    """Install (or upgrade in place) istio-cni and ztunnel for a version, ztunnel configured against `revision`.

    istio-cni is installed without a revision, as the ambient install docs do (`helm install istio-cni
    istio/cni --set profile=ambient`): it talks to no istiod, so its `istio.io/rev` label stays `default`.
    """
    written: list[tuple[str, str, str]] = []
    istio.ensure_namespace(store, namespace)
    for key, obj in [
        *cni_objects(version, None, namespace=namespace, hub=hub, installer=installer),
        *ztunnel_objects(version, revision, namespace=namespace, hub=hub, installer=installer),
    ]:
        istio._put(store, key, obj)
        written.append((key, namespace, obj["metadata"]["name"]))
    return written


def cni_enrolls(store: Store, namespace: str = istio.ISTIO_NAMESPACE) -> bool:
    """True when an istio-cni with ambient enabled is installed (it marks enrolled pods)."""
    entry = store.entry("configmaps", namespace, CNI_CONFIG)
    if entry is None:
        return False
    return str((entry.obj().get("data") or {}).get("AMBIENT_ENABLED")).lower() == "true"


def enrolled(pod: Obj, namespace_labels: dict[str, str]) -> bool:
    """Whether istio-cni's default enablement selectors take the pod into ambient.

    The pod's own `istio.io/dataplane-mode=ambient`, or the namespace's unless the pod says `none`;
    never a pod with a sidecar (`sidecar.istio.io/status`) or on the host network.
    """
    meta = pod.get("metadata") or {}
    labels = meta.get("labels") or {}
    if "sidecar.istio.io/status" in (meta.get("annotations") or {}):
        return False
    if (pod.get("spec") or {}).get("hostNetwork"):
        return False
    mode = labels.get(DATAPLANE_MODE)
    if mode == "ambient":
        return True
    return mode != "none" and namespace_labels.get(DATAPLANE_MODE) == "ambient"


def waypoint_owners(store: Store, gateway: Obj) -> list[str]:
    """The revisions that consider a waypoint theirs (`IsMine`), first the one its tag webhook names.

    The name is the Gateway's `istio.io/rev`, else its namespace's, else the default tag/revision. A tag
    claimed by both its webhook and a tag Service on another revision gives two claimants.
    """
    meta = gateway.get("metadata") or {}
    wanted = (meta.get("labels") or {}).get("istio.io/rev")
    if not wanted:
        ns = store.get("namespaces", None, meta.get("namespace") or "")
        wanted = ((ns or {}).get("metadata", {}).get("labels") or {}).get("istio.io/rev")
    if not wanted:
        default = istio.default_revision(store)
        return [default] if default else []
    if wanted in istio.revisions(store):
        return [wanted]
    return istio.tag_claimants(store, wanted)


def waypoint_objects(gateway: Obj, revision: str, info: istio.RevisionInfo) -> list[tuple[str, Obj]]:
    """ServiceAccount, Deployment and Service istiod renders for a waypoint (`IDC/files/waypoint.yaml`)."""
    meta = gateway["metadata"]
    name, namespace = meta["name"], meta["namespace"]
    label = istio.rev_label(revision)
    infra = dict(((gateway.get("spec") or {}).get("infrastructure") or {}).get("labels") or {})
    gw_labels = {**infra, **(meta.get("labels") or {})}
    sel = {"gateway.networking.k8s.io/gateway-name": name}
    labels = {**gw_labels, **sel, "gateway.networking.k8s.io/gateway-class-name": WAYPOINT_CLASS}
    owner = [
        {
            "apiVersion": "gateway.networking.k8s.io/v1beta1",
            "kind": "Gateway",
            "name": name,
            "uid": meta["uid"],
        }
    ]
    address = f"{istio.istiod_name(revision)}.{info.namespace}.svc:15012"
    pod_labels = {
        "sidecar.istio.io/inject": "false",
        DATAPLANE_MODE: "none",
        "service.istio.io/canonical-name": name,
        "service.istio.io/canonical-revision": "latest",
        **labels,
        "gateway.istio.io/managed": "istio.io-mesh-controller",
    }
    deployment: Obj = {
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": {**labels, "gateway.istio.io/managed": "istio.io-mesh-controller"},
            "ownerReferences": owner,
        },
        "spec": {
            "selector": {"matchLabels": sel},
            "template": {
                "metadata": {
                    "annotations": {
                        "istio.io/rev": label,
                        "prometheus.io/path": "/stats/prometheus",
                        "prometheus.io/port": "15020",
                        "prometheus.io/scrape": "true",
                    },
                    "labels": pod_labels,
                },
                "spec": {
                    "serviceAccountName": name,
                    "containers": [
                        {
                            "name": "istio-proxy",
                            "image": info.proxy_image,
                            "ports": [
                                {"containerPort": 15020, "name": "metrics", "protocol": "TCP"},
                                {"containerPort": 15021, "name": "status-port", "protocol": "TCP"},
                                {"containerPort": 15090, "protocol": "TCP", "name": "http-envoy-prom"},
                            ],
                            "args": [
                                "proxy",
                                "waypoint",
                                "--domain",
                                "$(POD_NAMESPACE).svc.cluster.local",
                                "--serviceCluster",
                                f"{name}.$(POD_NAMESPACE)",
                            ],
                            "env": [
                                {"name": "PILOT_CERT_PROVIDER", "value": "istiod"},
                                {"name": "CA_ADDR", "value": address},
                                {"name": "ISTIO_META_WORKLOAD_NAME", "value": name},
                            ],
                            "readinessProbe": {
                                "failureThreshold": 4,
                                "httpGet": {"path": "/healthz/ready", "port": 15021, "scheme": "HTTP"},
                                "periodSeconds": 15,
                            },
                        }
                    ],
                },
            },
        },
    }
    service: Obj = {
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": labels,
            "annotations": {"networking.istio.io/traffic-distribution": "PreferClose"},
            "ownerReferences": owner,
        },
        "spec": {
            "ipFamilyPolicy": "PreferDualStack",
            "ports": [
                {"name": "mesh", "port": 15008, "protocol": "TCP", "appProtocol": "all"},
            ],
            "selector": sel,
            "type": "ClusterIP",
        },
    }
    sa: Obj = {"metadata": {"name": name, "namespace": namespace, "labels": labels, "ownerReferences": owner}}
    return [("serviceaccounts", sa), (istio.DEPLOYMENTS, deployment), ("services", service)]


def add_waypoint(store: Store, namespace: str, name: str = "waypoint", revision: str | None = None) -> Obj:
    """`istioctl waypoint apply -n NS [--revision R]`: a Gateway of class `istio-waypoint` (its Deployment
    comes from the Gateway controller, as istiod renders it)."""
    istio.ensure_namespace(store, namespace)
    labels = {"istio.io/waypoint-for": "service"}
    if revision:
        labels["istio.io/rev"] = revision
    return istio._put(
        store,
        istio.GATEWAYS,
        {
            "metadata": {"name": name, "namespace": namespace, "labels": labels},
            "spec": {
                "gatewayClassName": WAYPOINT_CLASS,
                "listeners": [{"name": "mesh", "port": 15008, "protocol": "HBONE"}],
            },
        },
    )
