"""The resource kinds the simulator serves, with the discovery facts kubectl needs for each."""

from __future__ import annotations

from dataclasses import dataclass


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
        """Whether spec changes bump metadata.generation (every group but the core one, as the API server)."""
        return bool(self.group)


_ALL = "all"
_CORE_VERBS_NO_WATCH = ("create",)

RESOURCES: tuple[Resource, ...] = (
    Resource("", "v1", "namespaces", "Namespace", False, ("ns",), has_status=True),
    Resource("", "v1", "pods", "Pod", True, ("po",), has_status=True, categories=(_ALL,)),
    Resource("", "v1", "services", "Service", True, ("svc",), has_status=True, categories=(_ALL,)),
    Resource("", "v1", "configmaps", "ConfigMap", True, ("cm",)),
    Resource("", "v1", "secrets", "Secret", True),
    Resource("", "v1", "serviceaccounts", "ServiceAccount", True, ("sa",)),
    Resource("", "v1", "nodes", "Node", False, ("no",), has_status=True),
    Resource("", "v1", "events", "Event", True, ("ev",)),
    Resource("apps", "v1", "deployments", "Deployment", True, ("deploy",), has_status=True, categories=(_ALL,)),
    Resource("apps", "v1", "replicasets", "ReplicaSet", True, ("rs",), has_status=True, categories=(_ALL,)),
    Resource("apps", "v1", "statefulsets", "StatefulSet", True, ("sts",), has_status=True, categories=(_ALL,)),
    Resource("apps", "v1", "daemonsets", "DaemonSet", True, ("ds",), has_status=True, categories=(_ALL,)),
    Resource("apps", "v1", "controllerrevisions", "ControllerRevision", True),
    Resource("batch", "v1", "jobs", "Job", True, has_status=True, categories=(_ALL,)),
    Resource("batch", "v1", "cronjobs", "CronJob", True, ("cj",), has_status=True, categories=(_ALL,)),
    Resource("policy", "v1", "poddisruptionbudgets", "PodDisruptionBudget", True, ("pdb",), has_status=True),
    Resource("coordination.k8s.io", "v1", "leases", "Lease", True),
    Resource("admissionregistration.k8s.io", "v1", "mutatingwebhookconfigurations",
             "MutatingWebhookConfiguration", False),
    Resource("admissionregistration.k8s.io", "v1", "validatingwebhookconfigurations",
             "ValidatingWebhookConfiguration", False),
    Resource("authorization.k8s.io", "v1", "selfsubjectaccessreviews", "SelfSubjectAccessReview", False,
             verbs=("create",)),
    Resource("gateway.networking.k8s.io", "v1", "gateways", "Gateway", True, ("gtw",), has_status=True),
    # What a rendered istiod revision also carries (istio-revisions.md 1.1), so manifests apply and prune.
    Resource("rbac.authorization.k8s.io", "v1", "roles", "Role", True),
    Resource("rbac.authorization.k8s.io", "v1", "rolebindings", "RoleBinding", True),
    Resource("rbac.authorization.k8s.io", "v1", "clusterroles", "ClusterRole", False),
    Resource("rbac.authorization.k8s.io", "v1", "clusterrolebindings", "ClusterRoleBinding", False),
    Resource("autoscaling", "v2", "horizontalpodautoscalers", "HorizontalPodAutoscaler", True, ("hpa",),
             has_status=True, categories=(_ALL,)),
)

BY_KEY: dict[str, Resource] = {r.key: r for r in RESOURCES}
BY_KIND: dict[str, Resource] = {r.kind: r for r in RESOURCES}


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
