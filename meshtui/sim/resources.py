"""The resource kinds the simulator serves, with the discovery facts kubectl needs for each."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Resource:
    """One API resource: where it lives (group/version/plural) and how it behaves."""

    group: str
    version: str
    plural: str
    kind: str
    namespaced: bool
    short_names: tuple[str, ...] = ()
    has_status: bool = False
    categories: tuple[str, ...] = ()
    verbs: tuple[str, ...] = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")
    #: Subresources besides `status`: (name, apiVersion and kind of what it takes, verbs) as discovery
    #: advertises them (an empty apiVersion is the resource's own).
    subresources: tuple[tuple[str, str, str, tuple[str, ...]], ...] = ()

    @property
    def key(self) -> str:
        """The store key: `pods` for the core group, `apps/deployments` otherwise."""
        return f"{self.group}/{self.plural}" if self.group else self.plural

    @property
    def api_version(self) -> str:
        """The apiVersion objects of this kind carry."""
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def singular(self) -> str:
        """The lower-case singular name discovery advertises."""
        return self.kind.lower()

    @property
    def tracks_generation(self) -> bool:
        """Whether spec changes bump metadata.generation: kinds of the named groups, but not Leases and RBAC
        objects, which the API server gives no generation (measured on v1.37.2)."""
        return bool(self.group) and self.group not in ("coordination.k8s.io", "rbac.authorization.k8s.io")


_ALL = "all"
_CORE_VERBS_NO_WATCH = ("create",)

RESOURCES: tuple[Resource, ...] = (
    Resource("", "v1", "namespaces", "Namespace", False, ("ns",), has_status=True),
    Resource(
        "",
        "v1",
        "pods",
        "Pod",
        True,
        ("po",),
        has_status=True,
        categories=(_ALL,),
        subresources=(("eviction", "policy/v1", "Eviction", ("create",)), ("log", "", "Pod", ("get",))),
    ),
    Resource("", "v1", "services", "Service", True, ("svc",), has_status=True, categories=(_ALL,)),
    Resource("", "v1", "configmaps", "ConfigMap", True, ("cm",)),
    Resource("", "v1", "endpoints", "Endpoints", True, ("ep",)),
    Resource("", "v1", "secrets", "Secret", True),
    Resource("", "v1", "serviceaccounts", "ServiceAccount", True, ("sa",)),
    Resource("", "v1", "nodes", "Node", False, ("no",), has_status=True),
    Resource("", "v1", "events", "Event", True, ("ev",)),
    Resource("", "v1", "endpoints", "Endpoints", True, ("ep",)),
    Resource("", "v1", "persistentvolumeclaims", "PersistentVolumeClaim", True, ("pvc",), has_status=True),
    Resource("", "v1", "persistentvolumes", "PersistentVolume", False, ("pv",), has_status=True),
    Resource("apps", "v1", "deployments", "Deployment", True, ("deploy",), has_status=True, categories=(_ALL,)),
    Resource("apps", "v1", "replicasets", "ReplicaSet", True, ("rs",), has_status=True, categories=(_ALL,)),
    Resource("apps", "v1", "statefulsets", "StatefulSet", True, ("sts",), has_status=True, categories=(_ALL,)),
    Resource("apps", "v1", "daemonsets", "DaemonSet", True, ("ds",), has_status=True, categories=(_ALL,)),
    Resource("apps", "v1", "controllerrevisions", "ControllerRevision", True),
    Resource("batch", "v1", "jobs", "Job", True, has_status=True, categories=(_ALL,)),
    Resource("batch", "v1", "cronjobs", "CronJob", True, ("cj",), has_status=True, categories=(_ALL,)),
    Resource("policy", "v1", "poddisruptionbudgets", "PodDisruptionBudget", True, ("pdb",), has_status=True),
    Resource("coordination.k8s.io", "v1", "leases", "Lease", True),
    Resource(
        "admissionregistration.k8s.io", "v1", "mutatingwebhookconfigurations", "MutatingWebhookConfiguration", False
    ),
    Resource(
        "admissionregistration.k8s.io", "v1", "validatingwebhookconfigurations", "ValidatingWebhookConfiguration", False
    ),
    Resource(
        "authorization.k8s.io", "v1", "selfsubjectaccessreviews", "SelfSubjectAccessReview", False, verbs=("create",)
    ),
    Resource("gateway.networking.k8s.io", "v1", "gateways", "Gateway", True, ("gtw",), has_status=True),
    Resource("discovery.k8s.io", "v1", "endpointslices", "EndpointSlice", True),
    Resource("events.k8s.io", "v1", "events", "Event", True, ("ev",)),
    Resource("networking.k8s.io", "v1", "ingresses", "Ingress", True, ("ing",), has_status=True),
    Resource("networking.k8s.io", "v1", "ingressclasses", "IngressClass", False),
    Resource("networking.k8s.io", "v1", "networkpolicies", "NetworkPolicy", True, ("netpol",)),
    Resource(
        "apiextensions.k8s.io",
        "v1",
        "customresourcedefinitions",
        "CustomResourceDefinition",
        False,
        ("crd", "crds"),
        has_status=True,
        categories=("api-extensions",),
    ),
    # The custom resources of an Istio install (its CRDs are served too), empty unless a client writes some.
    *(
        Resource(group, version, plural, kind, True, shorts, has_status=True, categories=("istio-io", group_cat))
        for group, version, plural, kind, shorts, group_cat in (
            ("networking.istio.io", "v1", "virtualservices", "VirtualService", ("vs",), "networking-istio-io"),
            ("networking.istio.io", "v1", "destinationrules", "DestinationRule", ("dr",), "networking-istio-io"),
            ("networking.istio.io", "v1", "gateways", "Gateway", ("gw",), "networking-istio-io"),
            ("networking.istio.io", "v1", "serviceentries", "ServiceEntry", ("se",), "networking-istio-io"),
            ("networking.istio.io", "v1", "sidecars", "Sidecar", (), "networking-istio-io"),
            ("networking.istio.io", "v1", "workloadentries", "WorkloadEntry", ("we",), "networking-istio-io"),
            ("networking.istio.io", "v1", "workloadgroups", "WorkloadGroup", ("wg",), "networking-istio-io"),
            ("networking.istio.io", "v1alpha3", "envoyfilters", "EnvoyFilter", (), "networking-istio-io"),
            ("security.istio.io", "v1", "authorizationpolicies", "AuthorizationPolicy", ("ap",), "security-istio-io"),
            ("security.istio.io", "v1", "peerauthentications", "PeerAuthentication", ("pa",), "security-istio-io"),
            (
                "security.istio.io",
                "v1",
                "requestauthentications",
                "RequestAuthentication",
                ("ra",),
                "security-istio-io",
            ),
            ("telemetry.istio.io", "v1", "telemetries", "Telemetry", ("telemetry",), "telemetry-istio-io"),
            ("extensions.istio.io", "v1alpha1", "wasmplugins", "WasmPlugin", (), "extensions-istio-io"),
        )
    ),
    # What a rendered istiod revision also carries (docs/istio.md#objects-of-a-revision), so manifests apply and prune.
    Resource("rbac.authorization.k8s.io", "v1", "roles", "Role", True),
    Resource("rbac.authorization.k8s.io", "v1", "rolebindings", "RoleBinding", True),
    Resource("rbac.authorization.k8s.io", "v1", "clusterroles", "ClusterRole", False),
    Resource("rbac.authorization.k8s.io", "v1", "clusterrolebindings", "ClusterRoleBinding", False),
    Resource(
        "autoscaling",
        "v2",
        "horizontalpodautoscalers",
        "HorizontalPodAutoscaler",
        True,
        ("hpa",),
        has_status=True,
        categories=(_ALL,),
    ),
)

BY_KEY: dict[str, Resource] = {r.key: r for r in RESOURCES}
#: Kind -> resource; where two groups share a kind (Event, Gateway) the first listed wins, as owner
#: references and the core group mean it.
BY_KIND: dict[str, Resource] = {}
for _r in RESOURCES:
    BY_KIND.setdefault(_r.kind, _r)

#: Groups whose kinds are custom resources (the simulator serves a CustomResourceDefinition for each).
CRD_GROUPS = (
    "gateway.networking.k8s.io",
    "networking.istio.io",
    "security.istio.io",
    "telemetry.istio.io",
    "extensions.istio.io",
)


def resource(key: str) -> Resource:
    """Look a resource up by its store key (`pods`, `apps/deployments`); KeyError if unknown."""
    return BY_KEY[key]


def groups() -> dict[str, list[str]]:
    """Every API group (the core group as "") with its served versions, in discovery order."""
    out: dict[str, list[str]] = {}
    for r in RESOURCES:
        versions = out.setdefault(r.group, [])
        if r.version not in versions:
            versions.append(r.version)
    return out


# -- server-set fields -------------------------------------------------------------------------------------

_POD_TEMPLATE_ZERO = {"metadata": {}, "spec": {"containers": None}}

#: What the API server serializes for an empty object of each kind besides kind/apiVersion/metadata (Go
#: struct fields without omitempty), as measured on kube-apiserver v1.37.2. A BOOKMARK event carries this
#: body, and a create through the API resets `status` to the kind's empty status.
ZERO_FIELDS: dict[str, dict[str, Any]] = {
    "pods": {"spec": {"containers": None}, "status": {}},
    "services": {"spec": {}, "status": {"loadBalancer": {}}},
    "namespaces": {"spec": {}, "status": {}},
    "nodes": {
        "spec": {},
        "status": {
            "daemonEndpoints": {"kubeletEndpoint": {"Port": 0}},
            "nodeInfo": dict.fromkeys(
                (
                    "machineID",
                    "systemUUID",
                    "bootID",
                    "kernelVersion",
                    "osImage",
                    "containerRuntimeVersion",
                    "kubeletVersion",
                    "kubeProxyVersion",
                    "operatingSystem",
                    "architecture",
                ),
                "",
            ),
        },
    },
    "events": {
        "involvedObject": {},
        "source": {},
        "firstTimestamp": None,
        "lastTimestamp": None,
        "eventTime": None,
        "reportingComponent": "",
        "reportingInstance": "",
    },
    "apps/deployments": {
        "spec": {"replicas": 0, "selector": None, "template": _POD_TEMPLATE_ZERO, "strategy": {}},
        "status": {},
    },
    "apps/replicasets": {
        "spec": {"replicas": 0, "selector": None, "template": _POD_TEMPLATE_ZERO},
        "status": {"replicas": 0},
    },
    "apps/statefulsets": {
        "spec": {
            "replicas": 0,
            "selector": None,
            "template": _POD_TEMPLATE_ZERO,
            "serviceName": "",
            "updateStrategy": {},
        },
        "status": {"replicas": 0, "availableReplicas": 0},
    },
    "apps/daemonsets": {
        "spec": {"selector": None, "template": _POD_TEMPLATE_ZERO, "updateStrategy": {}},
        "status": {
            "currentNumberScheduled": 0,
            "numberMisscheduled": 0,
            "desiredNumberScheduled": 0,
            "numberReady": 0,
        },
    },
    "apps/controllerrevisions": {"data": None, "revision": 0},
    "batch/jobs": {"spec": {"template": _POD_TEMPLATE_ZERO}, "status": {}},
    "batch/cronjobs": {
        "spec": {"schedule": "", "jobTemplate": {"metadata": {}, "spec": {"template": _POD_TEMPLATE_ZERO}}},
        "status": {},
    },
    "policy/poddisruptionbudgets": {
        "spec": {},
        "status": {"disruptionsAllowed": 0, "currentHealthy": 0, "desiredHealthy": 0, "expectedPods": 0},
    },
    "coordination.k8s.io/leases": {"spec": {}},
    "rbac.authorization.k8s.io/roles": {"rules": None},
    "rbac.authorization.k8s.io/clusterroles": {"rules": None},
    "rbac.authorization.k8s.io/rolebindings": {"roleRef": {"apiGroup": "", "kind": "", "name": ""}},
    "rbac.authorization.k8s.io/clusterrolebindings": {"roleRef": {"apiGroup": "", "kind": "", "name": ""}},
    "autoscaling/horizontalpodautoscalers": {
        "spec": {"scaleTargetRef": {"kind": "", "name": ""}, "maxReplicas": 0},
        "status": {"desiredReplicas": 0, "currentMetrics": None},
    },
}

#: Annotations the API server's empty object of a kind carries (its defaulting sets them).
ZERO_ANNOTATIONS: dict[str, dict[str, str]] = {
    "apps/daemonsets": {"deprecated.daemonset.template.generation": "0"},
}


def qos_class(pod: dict[str, Any]) -> str:
    """The pod's QoS class as the API server computes it on create (`Guaranteed`, `Burstable`, `BestEffort`).

    Requests default to limits, as pod defaulting does; only cpu and memory count.
    """
    spec = pod.get("spec") or {}
    containers = [c for c in (spec.get("containers") or []) + (spec.get("initContainers") or []) if isinstance(c, dict)]
    any_set = False
    guaranteed = True
    for c in containers:
        res = c.get("resources") or {}
        limits = {k: v for k, v in (res.get("limits") or {}).items() if k in ("cpu", "memory") and str(v) != "0"}
        requests = {k: v for k, v in (res.get("requests") or {}).items() if k in ("cpu", "memory") and str(v) != "0"}
        any_set = any_set or bool(limits) or bool(requests)
        if set(limits) != {"cpu", "memory"} or any(str(requests.get(k, v)) != str(v) for k, v in limits.items()):
            guaranteed = False
    if not any_set:
        return "BestEffort"
    return "Guaranteed" if guaranteed else "Burstable"


def _default(d: dict[str, Any], key: str, value: Any) -> None:
    """Set a defaulted field when it is absent or null (a nil pointer), as the API server's defaulters do."""
    if d.get(key) is None:
        d[key] = value


def _pull_policy(image: str) -> str:
    """`Always` for `:latest` or an untagged image without a digest, else `IfNotPresent`."""
    name, at, _ = image.partition("@")
    tag = name.rsplit(":", 1)[1] if ":" in name.rsplit("/", 1)[-1] else ""
    if not tag:
        return "IfNotPresent" if at else "Always"
    return "Always" if tag == "latest" else "IfNotPresent"


def default_pod_template(template: dict[str, Any]) -> None:
    """Apply the defaults the API server writes into a pod template (in place)."""
    spec = template.get("spec")
    if not isinstance(spec, dict):
        return
    for c in (spec.get("containers") or []) + (spec.get("initContainers") or []):
        if not isinstance(c, dict):
            continue
        _default(c, "resources", {})
        _default(c, "terminationMessagePath", "/dev/termination-log")
        _default(c, "terminationMessagePolicy", "File")
        _default(c, "imagePullPolicy", _pull_policy(str(c.get("image") or "")))
        for port in c.get("ports") or []:
            if isinstance(port, dict):
                _default(port, "protocol", "TCP")
    _default(spec, "restartPolicy", "Always")
    _default(spec, "terminationGracePeriodSeconds", 30)
    _default(spec, "dnsPolicy", "ClusterFirst")
    _default(spec, "securityContext", {})
    _default(spec, "schedulerName", "default-scheduler")


def default_deployment(obj: dict[str, Any], *, template: bool = True) -> None:
    """Apply the API server's Deployment defaults (in place); `template=False` leaves the pod template alone."""
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return
    _default(spec, "replicas", 1)
    _default(spec, "strategy", {})
    strategy = spec["strategy"]
    if isinstance(strategy, dict):
        _default(strategy, "type", "RollingUpdate")
        if strategy["type"] == "RollingUpdate":
            _default(strategy, "rollingUpdate", {})
            rolling = strategy["rollingUpdate"]
            if isinstance(rolling, dict):
                _default(rolling, "maxUnavailable", "25%")
                _default(rolling, "maxSurge", "25%")
    _default(spec, "revisionHistoryLimit", 10)
    _default(spec, "progressDeadlineSeconds", 600)
    if template and isinstance(spec.get("template"), dict):
        default_pod_template(spec["template"])
