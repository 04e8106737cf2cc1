"""The slim workload-list decoder gives `parse_workload` exactly what a full decode gives it, for every kind."""

from __future__ import annotations

import copy
import random
from typing import Any

import orjson
import pytest

from meshtui.cluster.kinds import watch_specs
from meshtui.cluster.reflector import parse_page
from meshtui.cluster.slimjson import decode_workload_list
from meshtui.domain.objects import WORKLOAD_KINDS, parse_object
from meshtui.sim import scenarios
from meshtui.sim.settings import SimSettings
from meshtui.sim.store import Store
from tests.domain.builders import load

#: Store keys of the workload kinds the simulator serves.
SIM_KINDS = {
    "Deployment": "apps/deployments",
    "ReplicaSet": "apps/replicasets",
    "StatefulSet": "apps/statefulsets",
    "DaemonSet": "apps/daemonsets",
    "Job": "batch/jobs",
    "CronJob": "batch/cronjobs",
}


def page_of(kind: str, items: list[Any]) -> bytes:
    meta = {"resourceVersion": "42", "continue": "next"}
    return orjson.dumps({"kind": f"{kind}List", "apiVersion": "v1", "metadata": meta, "items": items})


def both(kind: str, data: bytes) -> tuple[Any, Any]:
    """The page modelled from the slim decode and from the full one."""

    def parse(cluster: str, raw: dict[str, Any]) -> Any:
        return parse_object(cluster, raw, kind)

    return parse_page("c", decode_workload_list(data), parse), parse_page("c", orjson.loads(data), parse)


def test_every_watched_workload_kind_lists_through_the_slim_decoder() -> None:
    slim = {s.kind for s in watch_specs() if s.decode_list is decode_workload_list}
    assert slim == {s.kind for s in watch_specs()} & WORKLOAD_KINDS


@pytest.mark.parametrize("scenario", ["demo", "fresh", "ambient", "large"])
def test_every_scenario_workload_models_the_same_from_the_slim_decode(scenario: str) -> None:
    store = Store()
    params = {"namespaces": 20, "pods_per_namespace": 5} if scenario == "large" else {}
    scenarios.build(scenario, store, SimSettings(params=params))
    seen = 0
    for kind, key in SIM_KINDS.items():
        items = store.list(key)
        seen += len(items)
        slim, full = both(kind, page_of(kind, items))
        assert slim == full
        assert len(slim.models) == len(items)
    assert seen > 10


# ------------------------------------------------------------------------------ random edits

MISSING = object()
BASES: list[dict[str, Any]] = [o for o in load("workloads.yaml") if o["kind"] in WORKLOAD_KINDS]
POD_TEMPLATE = copy.deepcopy(next(o for o in BASES if o["kind"] == "Deployment")["spec"]["template"])
BASES += [
    {
        "kind": "CronJob",
        "metadata": {"name": "nightly", "namespace": "shop", "uid": "u-cj"},
        "spec": {"suspend": True, "jobTemplate": {"spec": {"template": copy.deepcopy(POD_TEMPLATE)}}},
    },
    {
        "kind": "Rollout",
        "metadata": {"name": "cart", "namespace": "shop", "uid": "u-ro", "generation": 3},
        "spec": {"replicas": 2, "strategy": {"blueGreen": {}}, "template": copy.deepcopy(POD_TEMPLATE)},
        "status": {"replicas": 2, "readyReplicas": 1, "observedGeneration": 3},
    },
    {
        "kind": "Rollout",
        "metadata": {"name": "api", "namespace": "shop", "uid": "u-ro2"},
        "spec": {"workloadRef": {"kind": "Deployment", "name": "api"}, "strategy": {"canary": {"steps": []}}},
    },
    {
        "kind": "DaemonSet",
        "metadata": {"name": "ztunnel", "namespace": "istio-system", "annotations": {"istio.io/rev": "1-23-1"}},
        "spec": {
            "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 1}},
            "template": {
                "metadata": {"labels": {"app": "ztunnel"}},
                "spec": {
                    "hostNetwork": True,
                    "containers": [
                        {
                            "name": "istio-proxy",
                            "image": "docker.io/istio/ztunnel:1.23.1",
                            "env": [{"name": "CA_ADDRESS", "value": "istiod:15012"}, {"name": "X", "value": 3}],
                        }
                    ],
                },
            },
        },
        "status": {"desiredNumberScheduled": 3, "numberReady": 2, "updatedNumberScheduled": 3, "numberAvailable": 2},
    },
]

#: (path, value) edits to any base; values of another type where an object or list belongs make the page
#: take the full decode, the others keep it slim. MISSING deletes the field.
EDITS: list[tuple[tuple[Any, ...], Any]] = [
    (("metadata", "labels"), MISSING),
    (("metadata", "labels"), {"app": "x", "n": 5}),
    (("metadata", "labels"), "text"),
    (("metadata", "annotations"), None),
    (("metadata", "annotations"), {"istio.io/rev": 7}),
    (("metadata", "uid"), MISSING),
    (("metadata", "generation"), "3"),
    (("metadata", "ownerReferences"), [{"kind": "Deployment", "name": "d", "uid": "u", "controller": True}]),
    (("metadata", "ownerReferences"), [{"kind": "Job", "name": "j"}, {"kind": "CronJob", "name": "c"}]),
    (("metadata", "ownerReferences"), ["not a map"]),
    (("metadata", "ownerReferences"), "text"),
    (("metadata", "name"), MISSING),
    (("metadata", "namespace"), ""),
    (("metadata",), None),
    (("metadata",), "text"),  # another type: full decode
    (("spec",), MISSING),
    (("spec",), None),
    (("spec",), ["a"]),  # another type: full decode
    (("spec", "paused"), True),
    (("spec", "paused"), "true"),
    (("spec", "replicas"), MISSING),
    (("spec", "replicas"), None),
    (("spec", "replicas"), 2.0),
    (("spec", "strategy"), {"type": "Recreate"}),
    (("spec", "strategy"), {"blueGreen": None}),
    (("spec", "strategy"), "odd"),
    (("spec", "updateStrategy"), {"type": "OnDelete"}),
    (("spec", "updateStrategy"), {"rollingUpdate": {"partition": "2"}}),
    (("spec", "workloadRef"), {"name": "api"}),
    (("spec", "suspend"), True),
    (("spec", "template"), MISSING),
    (("spec", "template"), None),
    (("spec", "template"), 5),  # another type: full decode
    (("spec", "template", "metadata"), MISSING),
    (("spec", "template", "metadata", "labels"), {"istio.io/rev": "1-23-1"}),
    (("spec", "template", "metadata", "annotations"), {"sidecar.istio.io/inject": "false"}),
    (("spec", "template", "metadata", "annotations"), ["x"]),
    (("spec", "template", "spec", "hostNetwork"), True),
    (("spec", "template", "spec", "containers"), []),
    (("spec", "template", "spec", "containers"), None),
    (("spec", "template", "spec", "containers"), "text"),  # another type: full decode
    (("spec", "template", "spec", "containers"), [5, {"name": "a", "image": "i"}]),  # full decode
    (("spec", "template", "spec", "containers"), [{"name": "istio-proxy", "image": "auto"}, {"image": 3}]),
    (("spec", "template", "spec", "containers"), [{"name": "a", "image": "i", "env": "text"}]),
    (("spec", "template", "spec", "initContainers"), [{"name": "istio-proxy", "image": "proxyv2:1.23.1"}]),
    (("status",), MISSING),
    (("status",), 3),  # another type: full decode
    (("status", "readyReplicas"), None),
    (("status", "availableReplicas"), 4),
    (("status", "observedGeneration"), 9),
    (("status", "conditions"), [{"type": "Complete", "status": "True"}]),
    (("status", "conditions"), [{"type": "Failed", "status": "True"}, "odd"]),
    (("status", "conditions"), {"type": "Complete"}),
    (("unread",), {"deep": [1, {"x": None}]}),
]


def edited(rng: random.Random) -> dict[str, Any]:
    raw = copy.deepcopy(rng.choice(BASES))
    for path, value in rng.sample(EDITS, rng.randrange(0, 5)):
        target: Any = raw
        for step in path[:-1]:
            target = target.get(step) if isinstance(target, dict) else None
        if isinstance(target, dict):
            if value is MISSING:
                target.pop(path[-1], None)
            else:
                target[path[-1]] = copy.deepcopy(value)
    meta = raw.get("metadata")
    if isinstance(meta, dict) and meta.get("name"):
        meta["name"] = f"w-{rng.randrange(10**6)}"
    return raw


@pytest.mark.parametrize("seed", range(6))
def test_edited_workloads_model_exactly_as_from_the_full_decode(seed: int) -> None:
    rng = random.Random(seed)
    for n in range(150):
        items = [edited(rng) for _ in range(rng.choice([1, 1, 2, 4]))]
        kind = rng.choice(sorted(WORKLOAD_KINDS))
        data = page_of(kind, items)
        slim, full = both(kind, data)
        assert slim == full, f"page {n}: {items}"


def test_the_slim_decode_keeps_only_what_the_parser_reads() -> None:
    base = copy.deepcopy(next(o for o in BASES if o["kind"] == "Deployment"))
    base["metadata"]["managedFields"] = [{"manager": "kubectl"}]
    page = decode_workload_list(page_of("Deployment", [base]))
    item = page["items"][0]
    assert "managedFields" not in item["metadata"]
    assert page["metadata"] == {"resourceVersion": "42", "continue": "next"}
    assert item["spec"]["template"]["metadata"] == base["spec"]["template"]["metadata"]


def test_a_page_of_another_shape_is_decoded_in_full() -> None:
    odd = {"items": [{"metadata": {"name": "a", "namespace": "n"}, "spec": "text", "extra": 1}]}
    assert decode_workload_list(orjson.dumps(odd)) == odd
