"""Pod CREATE admission: evaluate the injector webhooks as the API server does, inject as istiod does.

`inject_pod` is pure (pod + namespace labels + revision settings -> injected pod) so it can also back a real
HTTPS admission webhook. The store hook picks the webhook the API server would call and refuses the pod,
with the API server's wording, when that webhook's in-cluster istiod has no ready endpoint.

Simplification: a real API server calls every matching webhook in (MWC name, webhook order) order. Here
the first matching Istio injector wins and the others are logged; two matching injectors is the overlap
`istioctl analyze` reports, and the sidecar is never injected twice.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from meshtui.domain.selectors import LabelSelector, SelectorError
from meshtui.sim import errors, istio
from meshtui.sim.istio import ISTIO_NAMESPACE, MWC, RevisionInfo, revision_info
from meshtui.sim.resources import Resource
from meshtui.sim.store import Obj, Store, clone

log = logging.getLogger(__name__)

IGNORED_NAMESPACES = frozenset({"kube-system", "kube-public", "kube-node-lease", "local-path-storage"})
PROXY = "istio-proxy"
STATUS_PORT = 15020  # the proxy status port that merged metrics are scraped from
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
GATEWAY_VOLUMES = [
    "workload-socket",
    "credential-socket",
    "workload-certs",
    "istio-envoy",
    "istio-podinfo",
    "istio-token",
    "istio-data",
    "istiod-ca-cert",
]
_TRUE = {"y", "yes", "true", "on"}


# -- webhook matching --------------------------------------------------------------------------------------


def rule_covers(
    webhook: Mapping[str, Any],
    operation: str = "CREATE",
    group: str = "",
    version: str = "v1",
    resource: str = "pods",
) -> bool:
    """True when one of the webhook's rules covers this operation on this resource (wildcards included)."""
    for rule in webhook.get("rules") or []:
        if not _has(rule.get("operations"), operation):
            continue
        if not _has(rule.get("apiGroups"), group) or not _has(rule.get("apiVersions"), version):
            continue
        resources = rule.get("resources") or []
        covered = resource in resources or "*" in resources or "*/*" in resources
        if covered and rule.get("scope", "*") in ("*", "Namespaced"):
            return True
    return False


def _has(values: Iterable[str] | None, value: str) -> bool:
    values = list(values or [])
    return value in values or "*" in values


def selectors_match(
    webhook: Mapping[str, Any], namespace_labels: Mapping[str, str], pod_labels: Mapping[str, str]
) -> bool:
    """namespaceSelector against the namespace labels and objectSelector against the pod labels."""
    try:
        return LabelSelector.from_dict(webhook.get("namespaceSelector")).matches(
            namespace_labels
        ) and LabelSelector.from_dict(webhook.get("objectSelector")).matches(pod_labels)
    except SelectorError:
        return False


def is_istio_injector(mwc: Mapping[str, Any], webhook: Mapping[str, Any]) -> bool:
    """An Istio injector: `/inject` on an `istiod*` Service or URL, or an MWC with app=sidecar-injector."""
    labels = (mwc.get("metadata") or {}).get("labels") or {}
    if labels.get("app") == "sidecar-injector":
        return True
    client = webhook.get("clientConfig") or {}
    svc = client.get("service") or {}
    if svc:
        return str(svc.get("name", "")).startswith("istiod") and str(svc.get("path", "")).startswith("/inject")
    return "/inject" in str(client.get("url", ""))


@dataclass(frozen=True)
class Match:
    """One webhook that selects a pod: its configuration, name and the revision it injects."""

    mwc: str
    webhook: dict[str, Any]
    revision: str  # istio.io/rev of the MWC ("default" for the non-revisioned one)

    @property
    def name(self) -> str:
        """The webhook's name (`rev.namespace.sidecar-injector.istio.io`...)."""
        return str(self.webhook.get("name", ""))


def matching_injectors(
    mwcs: Iterable[Mapping[str, Any]], namespace_labels: Mapping[str, str], pod_labels: Mapping[str, str]
) -> list[Match]:
    """Every Istio injector webhook that would be called for this pod CREATE, in the API server's order."""
    out = []
    for mwc in sorted(mwcs, key=lambda m: m["metadata"]["name"]):
        for hook in mwc.get("webhooks") or []:
            if not rule_covers(hook) or not is_istio_injector(mwc, hook):
                continue
            if selectors_match(hook, namespace_labels, pod_labels):
                rev = ((mwc["metadata"].get("labels") or {}).get("istio.io/rev")) or "default"
                out.append(Match(mwc["metadata"]["name"], dict(hook), rev))
    return out


# -- injection (pure) ----------------------------------------------------------------------------------


def inject_required(pod: Mapping[str, Any], injector: RevisionInfo) -> bool:
    """istiod's `injectRequired`: hostNetwork, ignored namespaces, inject label/annotation, policy."""
    spec = pod.get("spec") or {}
    meta = pod.get("metadata") or {}
    if spec.get("hostNetwork"):
        return False
    if meta.get("namespace") in IGNORED_NAMESPACES:
        return False
    labels = meta.get("labels") or {}
    annotations = meta.get("annotations") or {}
    value = annotations.get("sidecar.istio.io/inject", "")
    if "sidecar.istio.io/inject" in labels:
        value = labels["sidecar.istio.io/inject"]
    value = str(value).lower()
    use_default = value == ""
    inject = value in _TRUE
    if use_default:
        for raw in injector.never_inject_selector:
            sel = LabelSelector.from_dict(raw)
            if not sel.is_empty and sel.matches(labels):
                inject, use_default = False, False
                break
    if use_default:
        for raw in injector.always_inject_selector:
            sel = LabelSelector.from_dict(raw)
            if not sel.is_empty and sel.matches(labels):
                inject, use_default = True, False
                break
    if injector.policy == "enabled":
        return True if use_default else inject
    if injector.policy == "disabled":
        return False if use_default else inject
    log.error("Illegal value for autoInject:%s, must be one of [enabled,disabled]", injector.policy)
    return False


def workload_name(pod: Mapping[str, Any]) -> str:
    """The workload a pod belongs to, as istiod's DeploymentMeta derives it from the controller reference."""
    meta = pod.get("metadata") or {}
    labels = meta.get("labels") or {}
    for ref in meta.get("ownerReferences") or []:
        if not ref.get("controller"):
            continue
        name = str(ref.get("name", ""))
        if ref.get("kind") == "ReplicaSet":
            hash_ = labels.get("pod-template-hash")
            if hash_ and name.endswith(f"-{hash_}"):
                return name[: -len(hash_) - 1]
        return name
    gen = meta.get("generateName")
    if not meta.get("name") and gen:
        return str(gen).rstrip("-")
    return str(meta.get("name", ""))


def _templates(pod: Mapping[str, Any]) -> list[str]:
    raw = ((pod.get("metadata") or {}).get("annotations") or {}).get("inject.istio.io/templates", "")
    names = [t.strip() for t in str(raw).split(",") if t.strip()]
    return names or ["sidecar"]


def _status(
    init: list[str] | None,
    containers: list[str] | None,
    volumes: list[str],
    pull: list[str] | None,
    revision: str,
) -> str:
    """`sidecar.istio.io/status` exactly as Go marshals SidecarInjectionStatus (nil lists are null)."""
    body = {
        "initContainers": init or None,
        "containers": containers or None,
        "volumes": volumes,
        "imagePullSecrets": pull or None,
        "revision": revision,
    }
    return json.dumps(body, separators=(",", ":"))


def _volumes(names: list[str]) -> list[dict[str, Any]]:
    catalogue: dict[str, dict[str, Any]] = {
        "workload-socket": {"name": "workload-socket", "emptyDir": {}},
        "credential-socket": {"name": "credential-socket", "emptyDir": {}},
        "workload-certs": {"name": "workload-certs", "emptyDir": {}},
        "istio-envoy": {"name": "istio-envoy", "emptyDir": {"medium": "Memory"}},
        "istio-data": {"name": "istio-data", "emptyDir": {}},
        "istio-podinfo": {
            "name": "istio-podinfo",
            "downwardAPI": {
                "items": [
                    {"path": "labels", "fieldRef": {"fieldPath": "metadata.labels"}},
                    {"path": "annotations", "fieldRef": {"fieldPath": "metadata.annotations"}},
                ]
            },
        },
        "istio-token": {
            "name": "istio-token",
            "projected": {
                "sources": [
                    {
                        "serviceAccountToken": {
                            "audience": "istio-ca",
                            "expirationSeconds": 43200,
                            "path": "istio-token",
                        }
                    }
                ]
            },
        },
        "istiod-ca-cert": {"name": "istiod-ca-cert", "configMap": {"name": "istio-ca-root-cert"}},
    }
    return [catalogue[n] for n in names]


_MOUNTS = [
    {"mountPath": "/var/run/secrets/workload-spiffe-uds", "name": "workload-socket"},
    {"mountPath": "/var/run/secrets/credential-uds", "name": "credential-socket"},
    {"mountPath": "/var/run/secrets/workload-spiffe-credentials", "name": "workload-certs"},
    {"mountPath": "/var/run/secrets/istio", "name": "istiod-ca-cert"},
    {"mountPath": "/var/lib/istio/data", "name": "istio-data"},
    {"mountPath": "/etc/istio/proxy", "name": "istio-envoy"},
    {"mountPath": "/var/run/secrets/tokens", "name": "istio-token"},
    {"mountPath": "/etc/istio/pod", "name": "istio-podinfo"},
]


def _field_env(name: str, path: str) -> dict[str, Any]:
    return {"name": name, "valueFrom": {"fieldRef": {"fieldPath": path}}}


def _proxy_env(pod: Mapping[str, Any], injector: RevisionInfo, workload: str) -> list[dict[str, Any]]:
    spec = pod.get("spec") or {}
    meta = pod.get("metadata") or {}
    apps = [c.get("name", "") for c in spec.get("containers") or [] if c.get("name") != PROXY]
    ports = [p for c in spec.get("containers") or [] for p in c.get("ports") or []]
    owner = ""
    for ref in meta.get("ownerReferences") or []:
        if ref.get("controller"):
            kind = "deployments" if ref.get("kind") == "ReplicaSet" else f"{str(ref.get('kind', '')).lower()}s"
            group = "apps/v1" if kind in ("deployments", "statefulsets", "daemonsets", "replicasets") else "v1"
            if kind == "jobs":
                group = "batch/v1"
            owner = f"kubernetes://apis/{group}/namespaces/{meta.get('namespace', '')}/{kind}/{workload}"
    env = [
        {"name": "CA_ADDR", "value": injector.ca_address},
        _field_env("POD_NAME", "metadata.name"),
        _field_env("POD_NAMESPACE", "metadata.namespace"),
        _field_env("INSTANCE_IP", "status.podIP"),
        {
            "name": "PROXY_CONFIG",
            "value": json.dumps({"discoveryAddress": injector.xds_address}, separators=(",", ":")),
        },
        {"name": "ISTIO_META_POD_PORTS", "value": json.dumps(ports, separators=(",", ":"))},
        {"name": "ISTIO_META_APP_CONTAINERS", "value": ",".join(apps)},
        {"name": "ISTIO_META_CLUSTER_ID", "value": injector.cluster_id},
        {"name": "ISTIO_META_WORKLOAD_NAME", "value": workload},
        {"name": "ISTIO_META_MESH_ID", "value": injector.mesh_id},
    ]
    if owner:
        env.append({"name": "ISTIO_META_OWNER", "value": owner})
    return env


def _proxy_container(
    pod: Mapping[str, Any], injector: RevisionInfo, image: str, workload: str, args: list[str]
) -> dict[str, Any]:
    return {
        "name": PROXY,
        "image": image,
        "imagePullPolicy": injector.image_pull_policy,
        "args": args,
        "env": _proxy_env(pod, injector, workload),
        "ports": [{"containerPort": 15090, "name": "http-envoy-prom", "protocol": "TCP"}],
        "readinessProbe": {
            "httpGet": {"path": "/healthz/ready", "port": 15021},
            "periodSeconds": 15,
            "failureThreshold": 4,
        },
        "resources": {
            "limits": {"cpu": "2", "memory": "1Gi"},
            "requests": {"cpu": "100m", "memory": "128Mi"},
        },
        "securityContext": {
            "runAsUser": 1337,
            "runAsGroup": 1337,
            "runAsNonRoot": True,
            "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"]},
        },
        "volumeMounts": [dict(m) for m in _MOUNTS],
    }


def _init_container(injector: RevisionInfo, image: str) -> dict[str, Any]:
    return {
        "name": "istio-init",
        "image": image,
        "imagePullPolicy": injector.image_pull_policy,
        "args": [
            "istio-iptables",
            "-p",
            "15001",
            "-z",
            "15006",
            "-u",
            "1337",
            "-m",
            "REDIRECT",
            "-i",
            "*",
            "-x",
            "",
            "-b",
            "*",
            "-d",
            "15090,15021,15020",
            "--log_output_level=default:info",
        ],
        "resources": {
            "limits": {"cpu": "2", "memory": "1Gi"},
            "requests": {"cpu": "100m", "memory": "128Mi"},
        },
        "securityContext": {
            "runAsUser": 0,
            "runAsNonRoot": False,
            "capabilities": {"add": ["NET_ADMIN", "NET_RAW"], "drop": ["ALL"]},
        },
    }


def _canonical_labels(labels: Mapping[str, str], workload: str) -> dict[str, str]:
    name = (
        labels.get("service.istio.io/canonical-name")
        or labels.get("app.kubernetes.io/name")
        or labels.get("app")
        or workload
    )
    rev = (
        labels.get("service.istio.io/canonical-revision")
        or labels.get("app.kubernetes.io/version")
        or labels.get("version")
        or "latest"
    )
    return {"service.istio.io/canonical-name": name, "service.istio.io/canonical-revision": rev}


def inject_pod(pod: Mapping[str, Any], namespace_labels: Mapping[str, str], injector: RevisionInfo) -> Obj:
    """The pod as `injector`'s istiod would admit it: injected, or unchanged when injection is not required.

    `namespace_labels` is accepted for parity with the webhook request (istiod reads only the pod), and
    is unused by the injection itself. A pod created with a sidecar already in it (a re-applied export, a
    restored backup) is first stripped of it (`stripPod`) and injected afresh by this revision.
    """
    del namespace_labels
    out: Obj = clone(dict(pod))
    meta = out.setdefault("metadata", {})
    annotations = meta.setdefault("annotations", {})
    if not inject_required(out, injector):
        if not annotations:
            meta.pop("annotations", None)
        return out
    strip_pod(out)
    spec = out.setdefault("spec", {})
    labels = meta.setdefault("labels", {})
    workload = workload_name(out)
    image = annotations.get("sidecar.istio.io/proxyImage") or injector.proxy_image
    revision = injector.revision
    pull = [s.get("name", "") for s in spec.get("imagePullSecrets") or []] or None
    existing_volumes = {v.get("name") for v in spec.get("volumes") or []}

    if "gateway" in _templates(out):
        containers = spec.setdefault("containers", [])
        proxy = next((c for c in containers if c.get("name") == PROXY), None)
        rendered = _proxy_container(
            out,
            injector,
            image,
            workload,
            ["proxy", "router", "--domain", "$(POD_NAMESPACE).svc.cluster.local"],
        )
        if proxy is None:
            containers.insert(0, rendered)
        else:
            user = {k: v for k, v in proxy.items() if not (k == "image" and v == "auto")}
            proxy.clear()
            proxy.update({**rendered, **user})
        spec.setdefault("volumes", []).extend(v for v in _volumes(GATEWAY_VOLUMES) if v["name"] not in existing_volumes)
        labels.update({k: v for k, v in _canonical_labels(labels, workload).items()})
        annotations.update({"istio.io/rev": revision, **_prom_annotations()})
        annotations["sidecar.istio.io/status"] = _status(None, [PROXY], GATEWAY_VOLUMES, pull, revision)
        annotations.update(injector.injected_annotations)
        return out

    native = injector.native_sidecars
    override = annotations.get("sidecar.istio.io/nativeSidecar")
    if override is not None:
        native = str(override).lower() == "true"
    args = [
        "proxy",
        "sidecar",
        "--domain",
        "$(POD_NAMESPACE).svc.cluster.local",
        "--proxyLogLevel=warning",
        "--proxyComponentLogLevel=misc:error",
        "--log_output_level=default:info",
    ]
    proxy = _proxy_container(out, injector, image, workload, args)
    init = spec.setdefault("initContainers", [])
    containers = spec.setdefault("containers", [])
    apps = [c.get("name", "") for c in containers]
    init.insert(0, _init_container(injector, image))
    if native:
        proxy["restartPolicy"] = "Always"
        proxy["startupProbe"] = {
            "failureThreshold": 600,
            "httpGet": {"path": "/healthz/ready", "port": 15021, "scheme": "HTTP"},
            "periodSeconds": 1,
            "successThreshold": 1,
            "timeoutSeconds": 3,
        }
        init.insert(1, proxy)
        status = _status(["istio-init", PROXY], None, SIDECAR_VOLUMES, pull, revision)
    else:
        containers.append(proxy)
        status = _status(["istio-init"], [PROXY], SIDECAR_VOLUMES, pull, revision)
    spec.setdefault("volumes", []).extend(v for v in _volumes(SIDECAR_VOLUMES) if v["name"] not in existing_volumes)
    labels["security.istio.io/tlsMode"] = "istio"
    labels.update(_canonical_labels(labels, workload))
    if apps:
        annotations["kubectl.kubernetes.io/default-container"] = apps[0]
        annotations["kubectl.kubernetes.io/default-logs-container"] = apps[0]
    annotations.update({"istio.io/rev": revision, **_prom_annotations()})
    annotations["sidecar.istio.io/status"] = status
    annotations.update(injector.injected_annotations)
    return out


def strip_pod(pod: Obj) -> None:
    """istiod's `stripPod`: remove a previous injection's containers (as its status annotation lists them),
    the merged-metrics annotations when they point at the proxy's status port, and the status itself."""
    meta = pod.setdefault("metadata", {})
    annotations = meta.setdefault("annotations", {})
    raw = annotations.get("sidecar.istio.io/status")
    if raw is None:
        return
    try:
        previous = json.loads(raw) or {}
    except ValueError:
        previous = {}
    spec = pod.setdefault("spec", {})
    for field, key in (("containers", "containers"), ("initContainers", "initContainers")):
        names = set(previous.get(key) or ())
        if names and spec.get(field) is not None:
            spec[field] = [c for c in spec[field] if c.get("name") not in names]
    if annotations.get("prometheus.io/port") == str(STATUS_PORT):
        for key in ("prometheus.io/scrape", "prometheus.io/path", "prometheus.io/port"):
            annotations.pop(key, None)
    del annotations["sidecar.istio.io/status"]


def _prom_annotations() -> dict[str, str]:
    return {
        "prometheus.io/path": "/stats/prometheus",
        "prometheus.io/port": "15020",
        "prometheus.io/scrape": "true",
    }


# -- the store hook ------------------------------------------------------------------------------------


def webhook_call_error(hook_name: str, service: str, namespace: str, path: str, reason: str) -> errors.ApiError:
    """The API server's error for a failed call to a failurePolicy=Fail webhook (500 InternalError)."""
    msg = (
        f'failed calling webhook "{hook_name}": failed to call webhook: Post '
        f'"https://{service}.{namespace}.svc:443{path or "/"}?timeout=10s": {reason}'
    )
    return errors.ApiError(500, "InternalError", f"Internal error occurred: {msg}", {"causes": [{"message": msg}]})


class Admission:
    """The pod-CREATE admission hook of one store, caching which webhook Services have ready endpoints."""

    def __init__(self, store: Store):
        self.store = store
        self._endpoints: dict[tuple[str, str], tuple[bool, int]] = {}
        self._endpoint_namespaces: set[str] = set()
        self._mwcs: list[tuple[Match, LabelSelector, LabelSelector]] | None = None

    # The store calls this for every write; only pod CREATE is of interest.
    def __call__(self, res: Resource, operation: str, obj: Obj, old: Obj | None, dry_run: bool) -> Obj:
        if res.plural != "pods" or res.group or operation != "CREATE":
            return obj
        meta = obj.get("metadata") or {}
        ns = meta.get("namespace") or ""
        ns_entry = self.store.entry("namespaces", None, ns)
        ns_labels = dict(ns_entry.labels) if ns_entry else {"kubernetes.io/metadata.name": ns}
        return self.admit(obj, ns_labels)

    def admit(self, pod: Obj, ns_labels: Mapping[str, str]) -> Obj:
        """Run the injector webhook that selects this pod (if any) and return the admitted pod."""
        match = self.select(pod, ns_labels)
        if match is None:
            return pod
        injector = self.injector_for(match)
        if injector is None:  # failurePolicy Ignore and the call failed
            return pod
        return inject_pod(pod, ns_labels, injector)

    def select(self, pod: Mapping[str, Any], ns_labels: Mapping[str, str]) -> Match | None:
        """The Istio webhook the API server would call first for this pod, logging any overlap."""
        labels = ((pod.get("metadata") or {}).get("labels")) or {}
        matches = [
            m for m, ns_sel, obj_sel in self._compiled() if ns_sel.matches(ns_labels) and obj_sel.matches(labels)
        ]
        if not matches:
            return None
        if len(matches) > 1:
            log.warning(
                "pod %s/%s matches %d Istio injector webhooks (%s); the first one injects",
                (pod.get("metadata") or {}).get("namespace"),
                (pod.get("metadata") or {}).get("name"),
                len(matches),
                ", ".join(f"{m.mwc}/{m.name}" for m in matches),
            )
        return matches[0]

    def injector_for(self, match: Match) -> RevisionInfo | None:
        """The revision settings for a matched webhook, or the webhook-call failure (failurePolicy Fail)."""
        client = match.webhook.get("clientConfig") or {}
        svc = client.get("service") or {}
        namespace = ISTIO_NAMESPACE
        if svc:
            namespace = svc.get("namespace") or ISTIO_NAMESPACE
            exists, ready = self._service_endpoints(namespace, svc.get("name", ""))
            reason = ""
            if not exists:
                reason = f'service "{svc.get("name", "")}" not found'
            elif ready == 0:
                reason = f'no endpoints available for service "{svc.get("name", "")}"'
            if reason:
                if match.webhook.get("failurePolicy", "Fail") == "Ignore":
                    log.info("webhook %s failed (%s); failurePolicy Ignore admits the pod", match.name, reason)
                    return None
                raise webhook_call_error(match.name, svc.get("name", ""), namespace, svc.get("path", ""), reason)
        info = revision_info(self.store, match.revision, namespace)
        if info is None:
            log.warning("no injector ConfigMap for revision %s; injecting with defaults", match.revision)
            info = RevisionInfo(revision=match.revision, namespace=namespace)
        if info.native_sidecar_mode == "auto":
            info = dataclasses.replace(info, native_sidecars=self._nodes_support_native_sidecars())
        return info

    def _nodes_support_native_sidecars(self) -> bool:
        """`DetectNativeSidecar` for an unscheduled pod: every node's kubelet is at least 1.33."""
        versions = []
        for entry in self.store.entries("nodes"):
            raw = ((entry.obj().get("status") or {}).get("nodeInfo") or {}).get("kubeletVersion", "")
            versions.append(istio.minor_of(str(raw).lstrip("v")))
        return bool(versions) and all(v >= (1, 33) for v in versions)

    def _compiled(self) -> list[tuple[Match, LabelSelector, LabelSelector]]:
        """The Istio injector webhooks covering pod CREATE, in call order, with parsed selectors (cached)."""
        if self._mwcs is None:
            compiled = []
            for mwc in sorted(self.store.list(MWC), key=lambda m: m["metadata"]["name"]):
                rev = ((mwc["metadata"].get("labels") or {}).get("istio.io/rev")) or "default"
                for hook in mwc.get("webhooks") or []:
                    if not rule_covers(hook) or not is_istio_injector(mwc, hook):
                        continue
                    try:
                        ns_sel = LabelSelector.from_dict(hook.get("namespaceSelector"))
                        obj_sel = LabelSelector.from_dict(hook.get("objectSelector"))
                    except SelectorError:
                        continue
                    compiled.append((Match(mwc["metadata"]["name"], dict(hook), rev), ns_sel, obj_sel))
            self._mwcs = compiled
        return self._mwcs

    def _service_endpoints(self, namespace: str, name: str) -> tuple[bool, int]:
        key = (namespace, name)
        hit = self._endpoints.get(key)
        if hit is not None:
            return hit
        svc = self.store.get("services", namespace, name)
        if svc is None:
            result = (False, 0)
        else:
            selector = (svc.get("spec") or {}).get("selector") or {}
            ready = 0
            if selector:
                sel = LabelSelector.from_dict({"matchLabels": selector})
                for entry in self.store.entries("pods", namespace):
                    if sel.matches(entry.labels) and entry.phase == "Running":
                        pod = entry.obj()
                        if pod["metadata"].get("deletionTimestamp"):
                            continue
                        if any(
                            c.get("type") == "Ready" and c.get("status") == "True"
                            for c in (pod.get("status") or {}).get("conditions") or []
                        ):
                            ready += 1
            result = (True, ready)
        self._endpoints[key] = result
        self._endpoint_namespaces.add(namespace)
        return result

    def on_change(self, kind: str, res: Resource, obj: Obj, old: Obj | None) -> None:
        """Store listener: drop cached webhook and endpoint facts that this change may affect."""
        if res.key == MWC:
            self._mwcs = None
        elif res.plural == "services" and not res.group:
            self._endpoints.clear()
        elif res.plural == "pods" and not res.group:
            ns = obj["metadata"].get("namespace")
            if ns in self._endpoint_namespaces:
                self._endpoints = {k: v for k, v in self._endpoints.items() if k[0] != ns}
                self._endpoint_namespaces.discard(ns)


def install(store: Store) -> Admission:
    """Attach the injection admission hook to a store (idempotent) and return it."""
    for hook in store.admission:
        if isinstance(hook, Admission):
            return hook
    admission = Admission(store)
    store.admission.append(admission)
    store.add_listener(admission.on_change)
    return admission
