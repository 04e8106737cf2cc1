"""Ready-made simulated clusters: `demo` (an upgrade in progress), `fresh` (before it), `large` (scale) and
`ambient` (a mixed sidecar/ambient mesh, 1.29 -> 1.30).

Scenarios are built in time order through the store, so admission injects every pod with the revision
that served it at the time: pods created before a switch keep the old sidecar. Names and counts are
deterministic for a seed (uids are not); `settle` completes every rollout before `build` returns.
"""

from __future__ import annotations

import gc
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from meshtui.sim import admission, ambient, istio
from meshtui.sim.controllers import settle
from meshtui.sim.controllers.base import Runtime, pod_from_template, template_hash
from meshtui.sim.controllers.kubelet import ensure_nodes, node_ip, running_status
from meshtui.sim.settings import SimSettings
from meshtui.sim.store import Obj, Store, now_rfc3339

OLD_VERSION, OLD = "1.22.3", "1-22-3"
NEW_VERSION, NEW = "1.23.1", "1-23-1"
AMBIENT_OLD_VERSION, AMBIENT_OLD = "1.29.6", "1-29-6"
AMBIENT_NEW_VERSION, AMBIENT_NEW = "1.30.3", "1-30-3"
RESTARTED_AT = "2026-03-02T10:15:00Z"  # a fixed time keeps template hashes, and so names, deterministic
SYSTEM_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")

install_target = istio.install_target


@dataclass
class Workload:
    """One workload of a scenario namespace."""

    name: str
    replicas: int = 2
    kind: str = "deployment"  # deployment | statefulset | daemonset | job | pod
    pod_labels: dict[str, str] = field(default_factory=dict)
    pod_annotations: dict[str, str] = field(default_factory=dict)
    image: str = ""
    version: str = "v1"


@dataclass
class AppNamespace:
    """A namespace of a scenario: its labels when created and its workloads."""

    name: str
    labels: dict[str, str]
    workloads: list[Workload]
    pdbs: list[tuple[str, dict[str, Any], dict[str, str]]] = field(default_factory=list)  # name, policy, selector


def _apps() -> list[AppNamespace]:
    """The application namespaces of `demo` and `fresh`, as first labelled (before any switch)."""
    W = Workload
    return [
        AppNamespace(
            "shop",
            {"istio-injection": "enabled"},
            [
                W("frontend", 8),
                W("cart", 4),
                W("checkout", 4),
                W("metrics-exporter", 2, pod_labels={"sidecar.istio.io/inject": "false"}),
            ],
            [("frontend", {"minAvailable": 4}, {"app": "frontend"})],
        ),
        AppNamespace("notifications", {"istio-injection": "enabled"}, [W("mailer", 5), W("sms", 3), W("push", 3)]),
        AppNamespace(
            "payments",
            {"istio.io/rev": OLD},
            [
                W("payments-api", 7),
                W("fraud-worker", 4),
                W("ledger", 3, kind="statefulset"),
            ],
            [("ledger", {"maxUnavailable": 0}, {"app": "ledger"})],
        ),
        AppNamespace("catalog", {"istio.io/rev": OLD}, [W("search", 8), W("catalog-api", 5), W("images", 3)]),
        AppNamespace(
            "orders",
            {"istio.io/rev": "prod-stable"},
            [
                W("orders", 6),
                W("fulfilment", 5),
                W("order-history", 3),
            ],
            [("orders", {"minAvailable": "100%"}, {"app": "orders"})],
        ),
        AppNamespace("accounts", {"istio.io/rev": "prod-stable"}, [W("auth", 5), W("users", 5), W("sessions", 3)]),
        AppNamespace(
            "reviews",
            {"istio.io/rev": "prod-stable"},
            [
                W("reviews-v1", 3),
                W("reviews-v2", 3, version="v2"),
                W("ratings", 3),
            ],
        ),
        AppNamespace(
            "inventory",
            {"istio-injection": "enabled", "istio.io/rev": NEW},
            [
                W("stock", 7),
                W("warehouse", 3),
            ],
        ),
        AppNamespace("legacy-billing", {"istio.io/rev": "1-20-8"}, [W("invoices", 3)]),
        AppNamespace(
            "edge",
            {},
            [
                W("edge-proxy", 3, pod_labels={"istio.io/rev": OLD}),
                W("edge-cache", 3, pod_labels={"sidecar.istio.io/inject": "true"}),
                W("edge-tools", 2),
            ],
        ),
        AppNamespace(
            "analytics",
            {"istio-injection": "enabled"},
            [
                W("collector", 6),
                W("dashboards", 3),
                W("aggregator", 3, pod_labels={"sidecar.istio.io/inject": "true"}),
            ],
        ),
        AppNamespace(
            "monitoring",
            {"istio-injection": "disabled"},
            [
                W("node-exporter", 0, kind="daemonset"),
                W("prometheus", 2, pod_labels={"istio.io/rev": OLD}),
            ],
        ),
        AppNamespace(
            "batch",
            {"istio.io/rev": OLD},
            [
                W("report-nightly", 3, kind="job"),
                W("debug-shell", 1, kind="pod"),
            ],
        ),
    ]


def _template(ns: str, w: Workload) -> Obj:
    labels = {"app": w.name, "version": w.version, **w.pod_labels}
    if w.kind == "job":
        labels.pop("version", None)
    image = w.image or f"registry.example.com/{ns}/{w.name}:{w.version}.4.2"
    spec: Obj = {
        "containers": [
            {
                "name": w.name,
                "image": image,
                "ports": [{"containerPort": 8080, "name": "http", "protocol": "TCP"}],
            }
        ]
    }
    if w.kind == "job":
        spec = {"containers": [{"name": w.name, "image": image}], "restartPolicy": "Never"}
    tpl: Obj = {"metadata": {"labels": labels}, "spec": spec}
    if w.pod_annotations:
        tpl["metadata"]["annotations"] = dict(w.pod_annotations)
    return tpl


def add_workload(store: Store, ns: str, w: Workload) -> None:
    """Create one workload object (its pods come from the controllers)."""
    tpl = _template(ns, w)
    meta = {"name": w.name, "namespace": ns, "labels": {"app": w.name}}
    selector = {"matchLabels": {"app": w.name}}
    if w.kind == "deployment":
        store.create(
            "apps/deployments",
            {
                "metadata": meta,
                "spec": {
                    "replicas": w.replicas,
                    "selector": selector,
                    "template": tpl,
                    "progressDeadlineSeconds": 600,
                    "revisionHistoryLimit": 10,
                    "strategy": {
                        "type": "RollingUpdate",
                        "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"},
                    },
                },
            },
        )
    elif w.kind == "statefulset":
        store.create(
            "apps/statefulsets",
            {
                "metadata": meta,
                "spec": {
                    "replicas": w.replicas,
                    "selector": selector,
                    "template": tpl,
                    "serviceName": w.name,
                    "podManagementPolicy": "OrderedReady",
                    "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}},
                },
            },
        )
    elif w.kind == "daemonset":
        store.create(
            "apps/daemonsets",
            {
                "metadata": meta,
                "spec": {
                    "selector": selector,
                    "template": tpl,
                    "updateStrategy": {
                        "type": "RollingUpdate",
                        "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0},
                    },
                },
            },
        )
    elif w.kind == "job":
        store.create(
            "batch/jobs",
            {
                "metadata": meta,
                "spec": {"completions": w.replicas, "parallelism": 1, "backoffLimit": 6, "template": tpl},
            },
        )
    elif w.kind == "pod":
        spec = dict(tpl["spec"])
        store.create(
            "pods",
            {
                "metadata": {**meta, "labels": tpl["metadata"]["labels"]},
                "spec": spec,
                "status": {"phase": "Pending"},
            },
        )
    else:
        raise ValueError(f"unknown workload kind {w.kind!r}")
    if w.kind != "pod":
        store.create(
            "services",
            {
                "metadata": {"name": w.name, "namespace": ns, "labels": {"app": w.name}},
                "spec": {
                    "type": "ClusterIP",
                    "selector": {"app": w.name},
                    "ports": [{"name": "http", "port": 80, "targetPort": 8080}],
                },
            },
        )


def add_namespace(store: Store, app: AppNamespace) -> None:
    """Create a namespace with its labels, workloads and PodDisruptionBudgets."""
    istio.ensure_namespace(store, app.name, app.labels)
    for w in app.workloads:
        add_workload(store, app.name, w)
    for name, policy, selector in app.pdbs:
        store.create(
            "policy/poddisruptionbudgets",
            {
                "metadata": {"name": name, "namespace": app.name},
                "spec": {**policy, "selector": {"matchLabels": selector}},
            },
        )


def restart(store: Store, key: str, ns: str, name: str, at: str = RESTARTED_AT) -> None:
    """What `kubectl rollout restart` does: stamp the template with `kubectl.kubernetes.io/restartedAt`."""

    def stamp(obj: Obj) -> Obj:
        tpl = obj["spec"]["template"].setdefault("metadata", {})
        tpl.setdefault("annotations", {})["kubectl.kubernetes.io/restartedAt"] = at
        return obj

    store.update(key, ns, name, stamp)


def relabel(store: Store, ns: str, set_labels: dict[str, str], remove: tuple[str, ...] = ()) -> None:
    """Change a namespace's labels (what `kubectl label ns` does)."""

    def apply(obj: Obj) -> Obj:
        labels = obj["metadata"].setdefault("labels", {})
        for key in remove:
            labels.pop(key, None)
        labels.update(set_labels)
        return obj

    store.update("namespaces", None, ns, apply)


def _leftover_default_injector(store: Store) -> None:
    """The non-revisioned injector MWC a Helm install of an older default istiod left behind."""
    client = {
        "service": {"name": "istiod", "namespace": istio.ISTIO_NAMESPACE, "path": "/inject", "port": 443},
        "caBundle": istio.CA_BUNDLE,
    }
    store.create(
        istio.MWC,
        {
            "metadata": {
                "name": "istio-sidecar-injector",
                "labels": {
                    "app": "sidecar-injector",
                    "istio.io/rev": "default",
                    "release": "istiod",
                    "install.operator.istio.io/owning-resource": "unknown",
                    "app.kubernetes.io/name": "istiod",
                },
                "annotations": {"helm.sh/resource-policy": "keep"},
            },
            "webhooks": istio.injector_webhooks("default", client, default_webhooks=True),
        },
    )


def _system(store: Store, settings: SimSettings, rng: random.Random) -> None:
    for ns in SYSTEM_NAMESPACES:
        istio.ensure_namespace(store, ns)
    istio.ensure_namespace(store, istio.ISTIO_NAMESPACE)
    ensure_nodes(Runtime(store, settings, instant=True, rng=rng))
    add_workload(store, "kube-system", Workload("coredns", 2, image="registry.k8s.io/coredns/coredns:v1.11.3"))
    add_workload(
        store,
        "kube-system",
        Workload("kube-proxy", 0, kind="daemonset", image="registry.k8s.io/kube-proxy:v1.33.2"),
    )


def _base(store: Store, settings: SimSettings, rng: random.Random, *, demo: bool) -> None:
    """Everything up to the moment the new revision is installed (the whole of `fresh`)."""
    admission.install(store)
    _system(store, settings, rng)
    if demo:
        _leftover_default_injector(store)
    istio.install_revision(store, OLD, OLD_VERSION, set_default_tag=False)
    istio.set_tag(store, "default", OLD)
    istio.set_tag(store, "prod-stable", OLD)
    settle(store, settings, rng=rng)
    istio.add_gateway(store, istio.ISTIO_NAMESPACE, "istio-ingressgateway", "istioctl", OLD, replicas=2)
    istio.add_gateway(store, "gateways", "ingress-public", "injected", "prod-stable", replicas=2)
    for app in _apps():
        add_namespace(store, app)
    settle(store, settings, rng=rng)


def build_fresh(store: Store, settings: SimSettings, seed: int = 7) -> None:
    """Only 1-22-3 installed (tags default and prod-stable on it), every app injected by it."""
    _base(store, settings, random.Random(seed), demo=False)


def build_demo(store: Store, settings: SimSettings, seed: int = 7) -> None:
    """An upgrade from 1-22-3 to 1-23-1 in progress, covering every row of docs/istio.md#the-decision-table."""
    rng = random.Random(seed)
    _base(store, settings, rng, demo=True)
    # The canary control plane arrives; the canary tag points at it.
    istio.install_target(store, NEW_VERSION)
    istio.set_tag(store, "prod-canary", NEW)
    settle(store, settings, rng=rng)
    # catalog switched to the new revision; only `search` restarted so far.
    relabel(store, "catalog", {"istio.io/rev": NEW})
    restart(store, "apps/deployments", "catalog", "search")
    # reviews moved to the canary tag and fully restarted.
    relabel(store, "reviews", {"istio.io/rev": "prod-canary"})
    for name in ("reviews-v1", "reviews-v2", "ratings"):
        restart(store, "apps/deployments", "reviews", name)
    settle(store, settings, rng=rng)
    # The seed's caveat: injection turned off after the pods were injected.
    relabel(store, "analytics", {}, remove=("istio-injection",))
    # A Gateway API gateway already on the new revision.
    istio.add_gateway(store, "gateways", "web-gateway", "gateway-api", NEW)
    settle(store, settings, rng=rng)


def build_large(store: Store, settings: SimSettings, seed: int = 7) -> None:
    """`namespaces` x `pods_per_namespace` Ready pods (default 2,000 x 25), half-way through an upgrade.

    Pods are injected once per workload template, cloned and written Running and Ready with their
    workloads' final statuses, so no controller has work left and 50,000 pods build in seconds.
    """
    enabled = gc.isenabled()
    gc.disable()  # the cyclic collector would rescan every stored label dict many times over
    try:
        _build_large(store, settings, seed)
    finally:
        if enabled:
            gc.enable()


def _build_large(store: Store, settings: SimSettings, seed: int) -> None:
    rng = random.Random(seed)
    n_ns = int(settings.params.get("namespaces", 2000))
    per_ns = int(settings.params.get("pods_per_namespace", 25))
    adm = admission.install(store)
    _system_light(store, settings, rng)
    istio.install_revision(store, OLD, OLD_VERSION, set_default_tag=False)
    istio.install_target(store, NEW_VERSION)
    istio.set_tag(store, "default", OLD)
    istio.set_tag(store, "prod-stable", OLD)
    istio.set_tag(store, "prod-canary", NEW)
    settle(store, settings, rng=rng)
    old_info = istio.revision_info(store, OLD)
    assert old_info is not None
    choices: list[dict[str, str]] = [
        {"istio.io/rev": OLD},
        {"istio.io/rev": NEW},
        {"istio-injection": "enabled"},
        {"istio.io/rev": "prod-stable"},
        {"istio.io/rev": "prod-canary"},
        {},
    ]
    nodes = [f"sim-node-{i}" for i in range(1, max(1, settings.nodes) + 1)]
    rt = Runtime(store, settings, instant=True, rng=rng)
    ip = 0
    for i in range(n_ns):
        if settings.progress is not None and i % 100 == 0:
            settings.progress(f"{i:,} of {n_ns:,} namespaces ({per_ns} pod{'' if per_ns == 1 else 's'} each) built")
        ns = f"app-{i:04d}"
        labels = dict(choices[rng.randrange(len(choices))])
        istio.ensure_namespace(store, ns, labels)
        ns_labels = dict(store.require("namespaces", None, ns)["metadata"]["labels"])
        remaining = per_ns
        j = 0
        while remaining > 0:
            replicas = min(5, remaining)
            remaining -= replicas
            name = f"svc-{j:02d}"
            j += 1
            lagging = labels.get("istio.io/rev") in (NEW, "prod-canary") and rng.random() < 0.5
            _large_deployment(store, rt, adm, ns, name, replicas, ns_labels, old_info if lagging else None, nodes, ip)
            ip += replicas


def _system_light(store: Store, settings: SimSettings, rng: random.Random) -> None:
    for ns in SYSTEM_NAMESPACES:
        istio.ensure_namespace(store, ns)
    istio.ensure_namespace(store, istio.ISTIO_NAMESPACE)
    ensure_nodes(Runtime(store, settings, instant=True, rng=rng))


def _large_deployment(
    store: Store,
    rt: Runtime,
    adm: admission.Admission,
    ns: str,
    name: str,
    replicas: int,
    ns_labels: dict[str, str],
    pinned: istio.RevisionInfo | None,
    nodes: list[str],
    ip_base: int,
) -> None:
    """A Deployment, its ReplicaSet and Ready pods, with the statuses the controllers would compute."""
    tpl = _template(ns, Workload(name, replicas))
    h = template_hash(tpl)
    rs_name = f"{name}-{h}"
    now = now_rfc3339()

    def cond(ctype: str, reason: str, message: str) -> dict[str, str]:
        return {
            "type": ctype,
            "status": "True",
            "lastUpdateTime": now,
            "lastTransitionTime": now,
            "reason": reason,
            "message": message,
        }

    dep = store.create(
        "apps/deployments",
        {
            "metadata": {
                "name": name,
                "namespace": ns,
                "labels": {"app": name},
                "annotations": {"deployment.kubernetes.io/revision": "1"},
            },
            "spec": {
                "replicas": replicas,
                "selector": {"matchLabels": {"app": name}},
                "template": tpl,
                "progressDeadlineSeconds": 600,
                "revisionHistoryLimit": 10,
                "strategy": {
                    "type": "RollingUpdate",
                    "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"},
                },
            },
            "status": {
                "observedGeneration": 1,
                "replicas": replicas,
                "updatedReplicas": replicas,
                "readyReplicas": replicas,
                "availableReplicas": replicas,
                "conditions": [
                    cond("Available", "MinimumReplicasAvailable", "Deployment has minimum availability."),
                    cond(
                        "Progressing",
                        "NewReplicaSetAvailable",
                        f'ReplicaSet "{rs_name}" has successfully progressed.',
                    ),
                ],
            },
        },
    )
    rs_tpl = {
        "metadata": {"labels": {**tpl["metadata"]["labels"], "pod-template-hash": h}},
        "spec": tpl["spec"],
    }
    surge = -(-replicas * 25 // 100)
    rs = store.create(
        "apps/replicasets",
        {
            "metadata": {
                "name": rs_name,
                "namespace": ns,
                "labels": dict(rs_tpl["metadata"]["labels"]),
                "annotations": {
                    "deployment.kubernetes.io/revision": "1",
                    "deployment.kubernetes.io/desired-replicas": str(replicas),
                    "deployment.kubernetes.io/max-replicas": str(replicas + surge),
                },
                "ownerReferences": [
                    {
                        "apiVersion": "apps/v1",
                        "kind": "Deployment",
                        "name": name,
                        "uid": dep["metadata"]["uid"],
                        "controller": True,
                        "blockOwnerDeletion": True,
                    }
                ],
            },
            "spec": {
                "replicas": replicas,
                "minReadySeconds": 0,
                "selector": {"matchLabels": {"app": name, "pod-template-hash": h}},
                "template": rs_tpl,
            },
            "status": {
                "replicas": replicas,
                "fullyLabeledReplicas": replicas,
                "readyReplicas": replicas,
                "availableReplicas": replicas,
                "observedGeneration": 1,
            },
        },
    )
    proto = pod_from_template(rs_tpl, ns, f"{rs_name}-xxxxx", rs, {})
    injected = admission.inject_pod(proto, ns_labels, pinned) if pinned else adm.admit(proto, ns_labels)
    for k in range(replicas):
        n = ip_base + k
        node = nodes[n % len(nodes)]
        pod = {
            **injected,
            "metadata": {**injected["metadata"], "name": rt.unique_pod_name(f"{rs_name}-", ns)},
            "spec": {**injected["spec"], "nodeName": node},
        }
        pod["status"] = running_status(
            pod, host_ip=node_ip(node), now=now, pod_ip=f"10.{64 + n // 65536}.{n // 256 % 256}.{n % 256}"
        )
        store.create("pods", pod, admit=False, copy=False)  # replicas share label dicts: never mutated


def _ambient_apps() -> list[AppNamespace]:
    """The namespaces of `ambient`, as first labelled: ambient, sidecar (by tag and by label) and none."""
    W = Workload
    amb = {ambient.DATAPLANE_MODE: "ambient"}
    return [
        AppNamespace("shop", {**amb, ambient.USE_WAYPOINT: "waypoint"}, [W("frontend", 4), W("cart", 3)]),
        AppNamespace("payments", dict(amb), [W("payments-api", 3), W("ledger", 2, kind="statefulset")]),
        AppNamespace("reviews", dict(amb), [W("reviews", 3), W("ratings", 2)]),
        AppNamespace("catalog", {"istio.io/rev": "prod-stable"}, [W("search", 3), W("catalog-api", 2)]),
        AppNamespace("orders", {"istio-injection": "enabled"}, [W("orders", 3)]),
        AppNamespace("tools", {}, [W("debug", 1)]),
    ]


def build_ambient(store: Store, settings: SimSettings, seed: int = 7) -> None:
    """A 1.29 ambient mesh (Helm installs) half-way to 1.30: the canary istiod is in, nothing moved yet.

    istio-cni and ztunnel run on every node configured against istiod-1-29-6; `shop` and `payments` use
    waypoints owned through the `prod-stable` tag and the default revision; tag Services exist for every
    chart-rendered tag (>= 1.28); `reviews` is ambient but also labelled `istio.io/rev`, so its pods take a
    sidecar on their next start and leave ambient; `catalog` and `orders` run native sidecars.
    """
    rng = random.Random(seed)
    admission.install(store)
    _system(store, settings, rng)
    istio.install_revision(
        store,
        AMBIENT_OLD,
        AMBIENT_OLD_VERSION,
        installer="helm",
        set_default_tag=False,
        revision_tags=("default", "prod-stable"),
        profile="ambient",
    )
    settle(store, settings, rng=rng)
    ambient.install_ambient(store, AMBIENT_OLD_VERSION, AMBIENT_OLD)
    settle(store, settings, rng=rng)
    for app in _ambient_apps():
        add_namespace(store, app)
    ambient.add_waypoint(store, "shop", "waypoint", revision="prod-stable")
    ambient.add_waypoint(store, "payments", "waypoint")
    istio.add_gateway(store, "gateways", "web-gateway", "gateway-api", "prod-stable")
    settle(store, settings, rng=rng)
    # The conflict case: a sidecar label added to an ambient namespace after its pods started.
    relabel(store, "reviews", {"istio.io/rev": "prod-stable"})
    # The canary control plane arrives beside it, with its own canary tag.
    istio.install_revision(
        store, AMBIENT_NEW, AMBIENT_NEW_VERSION, installer="helm", set_default_tag=False, profile="ambient"
    )
    settle(store, settings, rng=rng)
    istio.set_tag(store, "prod-canary", AMBIENT_NEW)
    settle(store, settings, rng=rng)


SCENARIOS: dict[str, Callable[[Store, SimSettings, int], None]] = {
    "demo": build_demo,
    "fresh": build_fresh,
    "large": build_large,
    "ambient": build_ambient,
}

#: The (source, target) versions and revisions of each scenario, for rendering its manifests.
PAIRS: dict[str, tuple[tuple[str, str], tuple[str, str]]] = {
    "ambient": ((AMBIENT_OLD_VERSION, AMBIENT_OLD), (AMBIENT_NEW_VERSION, AMBIENT_NEW)),
}
DEFAULT_PAIR = ((OLD_VERSION, OLD), (NEW_VERSION, NEW))


#: The scenario names `build` accepts.
NAMES: tuple[str, ...] = tuple(SCENARIOS)


def build(name: str, store: Store, settings: SimSettings | None = None, *, seed: int | None = None) -> None:
    """Populate a store with a named scenario (`demo`, `fresh`, `large`, `ambient`); complete when it returns."""
    settings = settings or SimSettings()
    if name not in SCENARIOS:
        raise ValueError(f"unknown scenario {name!r}; known: {', '.join(sorted(SCENARIOS))}")
    if seed is None:
        seed = int(settings.params.get("seed", 7))
    SCENARIOS[name](store, settings, seed)
