"""The ambient data plane (issue 13): ztunnel and istio-cni as node agents, their gates, tag Services.

The objects follow the Istio charts' structure (manifests/charts/ztunnel/templates/daemonset.yaml and
manifests/charts/istio-cni/templates/daemonset.yaml in istio/istio): the ztunnel DaemonSet is always
`ztunnel`, its container is named `istio-proxy` (image `ztunnel`), `revision` sets the `istio.io/rev`
annotation on the DaemonSet and its pods and points XDS_ADDRESS/CA_ADDRESS at `istiod-<rev>`; istio-cni
is `istio-cni-node` (container `install-cni`, label `istio.io/rev: <rev|default>`).
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from meshtui.domain.ambient import istiod_of_address, within_skew
from meshtui.domain.inventory import InventoryView
from meshtui.domain.report import status_document

from .builders import namespace, pod
from .test_gates import codes, mesh_objects, view_of

SOURCE, TARGET = "1-22-3", "1-23-1"
VERSIONS = {SOURCE: "1.22.3", TARGET: "1.23.1"}
NODES = ("worker-1", "worker-2", "worker-3")
HUB = "docker.io/istio"


def ztunnel(rev: str | None, version: str, updated: int = 3) -> list[dict[str, Any]]:
    """The ztunnel DaemonSet as the chart renders it with `revision=rev`, and one pod a node."""
    address = f"istiod{'-' + rev if rev else ''}.istio-system.svc:15012"
    pod_annotations = {"sidecar.istio.io/inject": "false", **({"istio.io/rev": rev} if rev else {})}
    pod_labels = {
        "sidecar.istio.io/inject": "false",
        "istio.io/dataplane-mode": "none",
        "app": "ztunnel",
        "app.kubernetes.io/name": "ztunnel",
    }
    ds = {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {
            "name": "ztunnel",
            "namespace": "istio-system",
            "labels": {"app.kubernetes.io/name": "ztunnel", "app.kubernetes.io/version": version},
            "annotations": {"istio.io/rev": rev} if rev else {},
        },
        "spec": {
            "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}},
            "selector": {"matchLabels": {"app": "ztunnel"}},
            "template": {
                "metadata": {"labels": pod_labels, "annotations": pod_annotations},
                "spec": {
                    "containers": [
                        {
                            "name": "istio-proxy",
                            "image": f"{HUB}/ztunnel:{version}",
                            "args": ["proxy", "ztunnel"],
                            "env": [
                                {"name": "CA_ADDRESS", "value": address},
                                {"name": "XDS_ADDRESS", "value": address},
                                {"name": "RUST_LOG", "value": "info"},
                            ],
                        }
                    ],
                    "terminationGracePeriodSeconds": 30,
                },
            },
        },
        "status": {
            "desiredNumberScheduled": 3,
            "updatedNumberScheduled": updated,
            "numberReady": 3,
            "numberAvailable": 3,
        },
    }
    pods = []
    for i, node in enumerate(NODES):
        old = i >= updated
        p = pod(f"ztunnel-{i}abcd", "istio-system", labels=pod_labels, owner=("DaemonSet", "ztunnel"))
        annotations = dict(pod_annotations)
        if old and rev:
            annotations["istio.io/rev"] = SOURCE
        p["metadata"]["annotations"] = annotations
        p["spec"]["nodeName"] = node
        p["spec"]["containers"] = [
            {"name": "istio-proxy", "image": f"{HUB}/ztunnel:{VERSIONS[SOURCE] if old else version}"}
        ]
        pods.append(p)
    return [ds, *pods]


def istio_cni(rev: str | None, version: str) -> list[dict[str, Any]]:
    """The istio-cni-node DaemonSet as the istio-cni chart renders it, and one pod a node."""
    pod_labels = {
        "k8s-app": "istio-cni-node",
        "sidecar.istio.io/inject": "false",
        "istio.io/dataplane-mode": "none",
        "app.kubernetes.io/name": "istio-cni",
    }
    ds = {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {
            "name": "istio-cni-node",
            "namespace": "istio-system",
            "labels": {
                "k8s-app": "istio-cni-node",
                "istio.io/rev": rev or "default",
                "operator.istio.io/component": "Cni",
                "app.kubernetes.io/name": "istio-cni",
            },
        },
        "spec": {
            "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1}},
            "selector": {"matchLabels": {"k8s-app": "istio-cni-node"}},
            "template": {
                "metadata": {
                    "labels": pod_labels,
                    "annotations": {"sidecar.istio.io/inject": "false", "prometheus.io/port": "15014"},
                },
                "spec": {"containers": [{"name": "install-cni", "image": f"{HUB}/install-cni:{version}"}]},
            },
        },
        "status": {"desiredNumberScheduled": 3, "updatedNumberScheduled": 3, "numberReady": 3},
    }
    pods = []
    for i, node in enumerate(NODES):
        p = pod(f"istio-cni-node-{i}wxyz", "istio-system", labels=pod_labels, owner=("DaemonSet", "istio-cni-node"))
        p["spec"]["nodeName"] = node
        p["spec"]["containers"] = [{"name": "install-cni", "image": f"{HUB}/install-cni:{version}"}]
        pods.append(p)
    return [ds, *pods]


def ambient_app(ns: str, name: str) -> dict[str, Any]:
    """A pod istio-cni enrolled in ambient (no sidecar, annotation ambient.istio.io/redirection)."""
    p = pod(name, ns, annotations={"ambient.istio.io/redirection": "enabled"})
    return p


def waypoint(ns: str, rev: str | None) -> dict[str, Any]:
    labels = {"istio.io/waypoint-for": "service", **({"istio.io/rev": rev} if rev else {})}
    return {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "Gateway",
        "metadata": {"name": "waypoint", "namespace": ns, "labels": labels},
        "spec": {
            "gatewayClassName": "istio-waypoint",
            "listeners": [{"name": "mesh", "port": 15008, "protocol": "HBONE"}],
        },
    }


def tag_service(tag: str, rev: str) -> dict[str, Any]:
    """Service `istiod-revision-tag-<tag>` as the istiod chart renders it for `revisionTags` (>= 1.28.0)."""
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": f"istiod-revision-tag-{tag}",
            "namespace": "istio-system",
            "labels": {"app": "istiod", "istio.io/rev": rev, "istio.io/tag": tag},
        },
        "spec": {"selector": {"app": "istiod", "istio.io/rev": rev}, "ports": [{"name": "grpc-xds", "port": 15010}]},
    }


def ambient_mesh(
    ztunnel_rev: str | None = SOURCE,
    ztunnel_version: str = "1.22.3",
    cni_version: str = "1.22.3",
    updated: int = 3,
) -> list[dict[str, Any]]:
    """Sidecars, tags and namespaces all on the target; the ambient data plane as given."""
    objects = mesh_objects(TARGET)
    objects += ztunnel(ztunnel_rev, ztunnel_version, updated)
    objects += istio_cni(ztunnel_rev, cni_version)
    objects += [
        namespace("reviews", **{"istio.io/dataplane-mode": "ambient", "istio.io/use-waypoint": "waypoint"}),
        ambient_app("reviews", "reviews-v1-abc"),
        ambient_app("reviews", "reviews-v2-def"),
    ]
    return objects


def view(objects: list[dict[str, Any]], **kw: Any) -> InventoryView:
    return view_of(("prod", objects), source=SOURCE, target=TARGET, **kw)


def test_ztunnel_and_cni_are_node_agents_with_version_and_revision_never_sidecar_pods() -> None:
    v = view(ambient_mesh())
    doc = status_document(v)
    assert not [p for p in doc["pods"] if p["name"].startswith(("ztunnel-", "istio-cni-node-"))]
    system = next(n for n in doc["namespaces"] if n["name"] == "istio-system")
    assert system["pods"]["by_revision"] == {} and system["pods"]["at_risk"] == 0
    assert not [w for w in v.skew if "ztunnel" in " ".join(w.first_offenders)]
    components = {c["kind"]: c for c in doc["data_plane_components"]}
    z = components["ztunnel"]
    assert (z["name"], z["version"], z["revision"], z["configured"]) == ("ztunnel", "1.22.3", SOURCE, SOURCE)
    assert z["revision_source"] == "env XDS_ADDRESS=istiod-1-22-3.istio-system.svc:15012"
    assert [p["node"] for p in z["pods"]] == list(NODES)
    assert all(p["ready"] and p["current"] and p["version"] == "1.22.3" for p in z["pods"])
    assert z["nodes"] == {"desired": 3, "updated": 3, "ready": 3} and not z["rolling"]
    cni = components["istio-cni"]
    assert (cni["name"], cni["version"], cni["revision"]) == ("istio-cni-node", "1.22.3", SOURCE)
    assert len(cni["pods"]) == 3
    reviews = next(n for n in doc["namespaces"] if n["name"] == "reviews")
    assert (reviews["dataplane_mode"], reviews["use_waypoint"]) == ("ambient", "waypoint")
    ambient_pods = [p for p in doc["pods"] if p["namespace"] == "reviews"]
    assert [(p["name"], p["dataplane"], p["at_risk"]) for p in ambient_pods] == [
        ("reviews-v1-abc", "ambient", False),
        ("reviews-v2-def", "ambient", False),
    ]


def test_upgrade_and_finish_refused_while_ztunnel_points_at_the_source() -> None:
    v = view(ambient_mesh(), chosen="upgrade", plan_shown=True)
    up = codes(v, "upgrade")
    assert set(up) == {"ztunnel"}, up
    z = up["ztunnel"]
    assert z.first_offenders == ("istio-system/ztunnel (configured against 1-22-3)",)
    assert z.message == (
        "ztunnel is not configured against 1-23-1 everywhere: istio-system/ztunnel (configured against 1-22-3)"
    )
    assert z.remedy is not None and z.remedy.startswith("upgrade ztunnel in place with revision=1-23-1")
    assert "restart" not in z.message and "restart" not in z.remedy
    assert v.gates is not None and not v.gates.finish.enabled
    assert [c.code for c in v.gates.finish.conditions] == ["ztunnel"]


def test_a_ztunnel_rollout_in_progress_keeps_upgrade_disabled_and_then_it_opens() -> None:
    rolling = view(ambient_mesh(ztunnel_rev=TARGET, ztunnel_version="1.23.1", updated=2))
    (component,) = [c for c in rolling.components if c.kind == "ztunnel"]
    assert component.revision == TARGET and component.rolling and component.progress == "2/3"
    assert [p.current for p in component.pods] == [True, True, False]
    assert codes(rolling, "upgrade")["ztunnel"].first_offenders == ("istio-system/ztunnel (rollout 2/3 nodes)",)

    done = view(ambient_mesh(ztunnel_rev=TARGET, ztunnel_version="1.23.1"))
    assert done.gates is not None and done.gates.upgrade.enabled, done.gates.upgrade.reasons
    # Rollback mirrors it: ztunnel now uses the target's istiod, and 1.23 is ahead of a 1.22 control plane.
    down = codes(done, "rollback")
    assert down["ztunnel"].first_offenders == ("istio-system/ztunnel (configured against 1-23-1)",)
    assert down["ztunnel_skew"].first_offenders == ("istio-system/ztunnel runs 1.23.1",)
    assert "cni_skew" not in down  # istio-cni stayed at 1.22


def test_ztunnel_configured_against_the_target_but_one_minor_older_is_within_skew() -> None:
    v = view(ambient_mesh(ztunnel_rev=TARGET, ztunnel_version="1.22.3"))
    assert "ztunnel_skew" not in codes(v, "upgrade") and "ztunnel" not in codes(v, "upgrade")


def test_node_agents_two_minors_behind_the_target_are_outside_skew() -> None:
    v = view(ambient_mesh(ztunnel_rev=TARGET, ztunnel_version="1.21.0", cni_version="1.21.0"))
    up = codes(v, "upgrade")
    assert up["ztunnel_skew"].message == (
        "ztunnel is outside the supported skew of 1-23-1 (1.23.1): istio-system/ztunnel runs 1.21.0 "
        "(ztunnel 1.x works with control plane 1.x and 1.x+1)"
    )
    assert up["cni_skew"].first_offenders == ("istio-system/istio-cni-node runs 1.21.0",)
    assert up["cni_skew"].remedy == "upgrade istio-cni in place to 1.23.1"


def test_a_waypoint_on_the_source_blocks_upgrade_by_name() -> None:
    objects = [*ambient_mesh(ztunnel_rev=TARGET, ztunnel_version="1.23.1"), waypoint("reviews", SOURCE)]
    up = codes(view(objects), "upgrade")
    assert up["gateways"].first_offenders == ("reviews/waypoint",)
    assert up["gateways"].remedy == "move the waypoints' tag to 1-23-1, or relabel their Gateway istio.io/rev=1-23-1"
    moved = [*ambient_mesh(ztunnel_rev=TARGET, ztunnel_version="1.23.1"), waypoint("reviews", TARGET)]
    assert "gateways" not in codes(view(moved), "upgrade")


def test_a_tag_service_left_on_the_source_blocks_finish_and_is_a_conflict() -> None:
    objects = [*ambient_mesh(ztunnel_rev=TARGET, ztunnel_version="1.23.1"), tag_service("prod-stable", SOURCE)]
    v = view(objects, chosen="upgrade", plan_shown=True)
    stale = codes(v, "upgrade")["tag_services"]
    assert stale.first_offenders == ("istio-system/istiod-revision-tag-prod-stable",)
    assert stale.message.startswith("1 tag Service still claims 1-22-3 for prod-stable: ")
    assert v.gates is not None and not v.gates.finish.enabled
    cp = v.control_plane("prod")
    assert cp is not None
    tag = cp.tag("prod-stable")
    assert tag is not None and (tag.revision, tag.service_revision) == (TARGET, SOURCE)
    assert [p.code for p in cp.problems if p.code == "tag_conflict"] == ["tag_conflict"]


def test_a_pod_of_an_ambient_namespace_that_injection_selects_would_leave_ambient() -> None:
    objects = ambient_mesh(ztunnel_rev=TARGET, ztunnel_version="1.23.1")
    objects = [o for o in objects if not (o["kind"] == "Namespace" and o["metadata"]["name"] == "reviews")]
    objects.append(namespace("reviews", **{"istio.io/dataplane-mode": "ambient", "istio.io/rev": TARGET}))
    v = view(objects)
    rows = list(v.pods("prod", "reviews"))
    assert rows and all(r.at_risk for r in rows)
    assert rows[0].reason is not None and rows[0].reason.startswith(
        "would leave ambient on restart: its namespace is istio.io/dataplane-mode=ambient, yet injection "
        "gives it a 1-23-1 sidecar"
    )


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        ("istiod.istio-system.svc:15012", (None, None)),
        ("istiod-1-29-6.istio-system.svc:15012", ("1-29-6", None)),
        ("istiod-revision-tag-prod.istio-system.svc:15012", (None, "prod")),
        ("istiod-canary.istio-system.svc.cluster.local:15012", ("canary", None)),
        ("ca.example.com:443", None),
    ],
)
def test_istiod_addresses(address: str, expected: tuple[str | None, str | None] | None) -> None:
    assert istiod_of_address(address) == expected


def test_skew_rule() -> None:
    assert within_skew("1.29.6", "1.30.3") is True
    assert within_skew("1.30.3", "1.30.0") is True
    assert within_skew("1.28.0", "1.30.3") is False
    assert within_skew("1.31.0", "1.30.3") is False
    assert within_skew(None, "1.30.3") is None


def test_ztunnel_without_a_revision_uses_the_default_istiod() -> None:
    objects = copy.deepcopy(ambient_mesh(ztunnel_rev=None))
    v = view(objects)
    (z,) = [c for c in v.components if c.kind == "ztunnel"]
    assert z.configured is None and z.revision_source is not None and "istiod.istio-system" in z.revision_source
