"""The slim pod-list decoder gives the domain exactly what a full decode gives it."""

from __future__ import annotations

import copy
import random
from typing import Any

import msgspec
import orjson
import pytest

from meshtui.cluster import slimjson
from meshtui.cluster.reflector import parse_page
from meshtui.cluster.slimjson import decode_pod_list, decode_pod_page
from meshtui.domain.objects import parse_pod
from meshtui.sim import scenarios
from meshtui.sim.settings import SimSettings
from meshtui.sim.store import Store
from tests.domain.builders import load


def test_every_demo_pod_parses_the_same_from_the_slim_decode() -> None:
    store = Store()
    scenarios.build("demo", store, SimSettings())
    items = store.list("pods")
    assert len(items) > 100
    page = orjson.dumps({"kind": "PodList", "metadata": {"resourceVersion": "7", "continue": "abc"}, "items": items})
    slim = decode_pod_list(page)
    assert slim["metadata"] == {"resourceVersion": "7", "continue": "abc"}
    for raw, full in zip(slim["items"], items, strict=True):
        assert parse_pod("c", raw) == parse_pod("c", full)


def test_a_page_that_does_not_fit_the_schema_falls_back_to_a_full_decode() -> None:
    odd = {
        "metadata": {},
        "items": [{"metadata": {"name": "p", "namespace": "n"}, "spec": {"containers": "not a list"}}],
    }
    page = decode_pod_list(orjson.dumps(odd))
    assert page == odd
    pod = parse_pod("c", page["items"][0])
    assert pod.name == "p" and not pod.has_sidecar


# ------------------------------------------------------------------------------ typed decode == full parse

BASE = load("pod-injected-1-22-3.yaml")[0]
STATUS = '{"containers":["istio-proxy"],"revision":"1-23-1"}'

#: (path, value) edits: most keep the page in the typed schema; the odd-typed ones send it to parse_pod.
#: MISSING deletes the field.
MISSING = object()
EDITS: list[tuple[tuple[Any, ...], Any]] = [
    (("metadata", "labels"), MISSING),
    (("metadata", "labels"), {}),
    (("metadata", "labels", "istio.io/rev"), "prod-canary"),
    (("metadata", "labels", "sidecar.istio.io/inject"), "false"),
    (("metadata", "labels", "odd"), 5),  # odd type
    (("metadata", "labels"), ["a"]),  # odd type
    (("metadata", "annotations"), MISSING),
    (("metadata", "annotations"), None),
    (("metadata", "annotations"), "text"),  # odd type
    (("metadata", "annotations", "istio.io/rev"), MISSING),
    (("metadata", "annotations", "istio.io/rev"), ""),
    (("metadata", "annotations", "istio.io/rev"), 7),  # odd type
    (("metadata", "annotations", "sidecar.istio.io/status"), STATUS),
    (("metadata", "annotations", "sidecar.istio.io/status"), "{not json"),
    (("metadata", "annotations", "sidecar.istio.io/status"), "[1, 2]"),
    (("metadata", "annotations", "sidecar.istio.io/status"), '{"revision": 3}'),
    (("metadata", "annotations", "sidecar.istio.io/status"), ""),
    (("metadata", "annotations", "sidecar.istio.io/proxyImage"), "mirror/istio/proxyv2:1.22.4-distroless"),
    (("metadata", "annotations", "sidecar.istio.io/proxyImage"), ""),
    (("metadata", "annotations", "sidecar.istio.io/inject"), "false"),
    (("metadata", "annotations", "inject.istio.io/templates"), "gateway"),
    (("metadata", "annotations", "unrelated"), {"a": 1}),  # not read: fits either way
    (("metadata", "annotations", "ambient.istio.io/redirection"), "enabled"),
    (("metadata", "annotations", "prometheus.io/port"), "15090"),
    (("metadata", "annotations", "prometheus.io/port"), 15090),  # odd type
    (("metadata", "annotations", "prometheus.istio.io/scrape-targets"), "8080:/metrics,15020"),
    (("metadata", "annotations", "prometheus.istio.io/merge-metrics"), "false"),
    (("metadata", "labels", "k8s-app"), "istio-cni-node"),
    (("metadata", "deletionTimestamp"), "2026-08-01T10:00:00Z"),
    (("metadata", "deletionTimestamp"), ""),
    (("metadata", "deletionTimestamp"), 12),  # odd type
    (("metadata", "uid"), MISSING),
    (("metadata", "ownerReferences"), MISSING),
    (("metadata", "ownerReferences"), []),
    (
        ("metadata", "ownerReferences"),
        [{"kind": "Job", "name": "j"}, {"kind": "ReplicaSet", "name": "r", "controller": True}],
    ),
    (("metadata", "ownerReferences"), [{"kind": "StatefulSet", "name": "s", "controller": False}]),
    (("metadata", "ownerReferences"), [{"name": "no-kind", "controller": True}]),
    (("metadata", "ownerReferences"), [{"kind": "ReplicaSet", "name": None}]),
    (("metadata", "ownerReferences"), [{"kind": 3, "name": "s"}]),  # odd type
    (("metadata", "ownerReferences"), ["not a map"]),  # odd type
    (("metadata", "name"), MISSING),
    (("metadata", "name"), ""),
    (("metadata", "namespace"), MISSING),
    (("metadata",), MISSING),
    (("metadata",), None),
    (("spec",), MISSING),
    (("spec",), "text"),  # odd type
    (("spec", "containers"), MISSING),
    (("spec", "containers"), []),
    (("spec", "containers"), "not a list"),  # odd type
    (("spec", "containers", 1, "image"), "auto"),
    (("spec", "containers", 1, "image"), "docker.io/istio/ztunnel:1.29.6"),  # a ztunnel: a node agent
    (("spec", "containers", 0, "name"), "install-cni"),
    (("spec", "containers", 1, "image"), MISSING),
    (("spec", "containers", 1, "image"), 1),  # odd type
    (("spec", "containers", 1, "name"), "renamed"),
    (("spec", "initContainers"), MISSING),
    (
        ("spec", "initContainers"),
        [{"name": "istio-proxy", "image": "docker.io/istio/proxyv2:1.23.1", "restartPolicy": "Always"}],
    ),
    (("spec", "initContainers"), [{"name": "istio-proxy", "image": "docker.io/istio/proxyv2:1.23.1"}]),
    (("spec", "hostNetwork"), True),
    (("spec", "hostNetwork"), "true"),  # odd type
    (("spec", "nodeName"), MISSING),
    (("spec", "nodeName"), None),
    (("status",), MISSING),
    (("status",), {}),
    (("status", "phase"), "Succeeded"),
    (("status", "phase"), MISSING),
    (("status", "phase"), 4),  # odd type
    (("status", "conditions"), MISSING),
    (("status", "conditions"), [{"type": "Ready", "status": "False"}, {"type": "Ready", "status": "True"}]),
    (("status", "conditions"), [{"type": "Ready"}]),
    (("status", "conditions"), [5]),  # odd type
    (("status", "startTime"), MISSING),
    (("status", "containerStatuses"), MISSING),
    (
        ("status", "containerStatuses"),
        [
            {
                "name": "a",
                "restartCount": 2,
                "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                "lastState": {"terminated": {"finishedAt": "2026-08-01T09:20:00Z"}},
            },
            {
                "name": "b",
                "restartCount": 1,
                "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                "lastState": {"terminated": {"finishedAt": "2026-08-01T09:30:00Z"}},
            },
            {"name": "c", "restartCount": 0, "state": {"waiting": None}, "lastState": {}},
            {
                "name": "d",
                "state": {"running": {}},
                "lastState": {"terminated": {"finishedAt": "2027-01-01T00:00:00Z"}},
            },
        ],
    ),
    (("status", "containerStatuses"), [{"restartCount": 0, "state": {"waiting": {"reason": ""}}}]),
    (("status", "containerStatuses"), [{"restartCount": 4, "state": {"waiting": {}}, "lastState": {"terminated": {}}}]),
    (("status", "containerStatuses"), [{"restartCount": True}]),  # odd type
    (("status", "containerStatuses"), [{"restartCount": 1.0}]),  # odd type
    (("status", "initContainerStatuses"), [{"restartCount": 3, "state": {"waiting": {"reason": "PodInitializing"}}}]),
    (("status", "initContainerStatuses"), [{"state": {"waiting": "soon"}}]),  # odd type
]


def child(node: Any, step: Any) -> Any:
    """The map or list under `step`, or None when there is none to edit."""
    if isinstance(node, dict):
        found = node.get(step)
    elif isinstance(node, list) and isinstance(step, int) and step < len(node):
        found = node[step]
    else:
        return None
    return found if isinstance(found, (dict, list)) else None


def edited(rng: random.Random) -> dict[str, Any]:
    """The base pod with up to four random edits, and a fresh name."""
    raw = copy.deepcopy(BASE)
    for path, value in rng.sample(EDITS, rng.randrange(0, 5)):
        target: Any = raw
        for step in path[:-1]:
            target = child(target, step)
        last = path[-1]
        if isinstance(target, dict):
            if value is MISSING:
                target.pop(last, None)
            else:
                target[last] = copy.deepcopy(value)
        elif isinstance(target, list) and isinstance(last, int) and last < len(target) and value is not MISSING:
            target[last] = copy.deepcopy(value)
    meta = raw.get("metadata")
    if isinstance(meta, dict) and meta.get("name"):
        meta["name"] = f"p-{rng.randrange(10**6)}"
    return raw


def page_of(items: list[Any], cont: str = "") -> bytes:
    meta: dict[str, Any] = {"resourceVersion": "42"}
    if cont:
        meta["continue"] = cont
    return orjson.dumps({"kind": "PodList", "apiVersion": "v1", "metadata": meta, "items": items})


def fits(data: bytes) -> bool:
    try:
        slimjson._TYPED_DECODER.decode(data)
    except msgspec.ValidationError:
        return False
    return True


@pytest.mark.parametrize("seed", range(8))
def test_typed_pod_pages_model_exactly_what_parse_pod_gives(seed: int) -> None:
    rng = random.Random(seed)
    typed = 0
    for n in range(150):
        items = [edited(rng) for _ in range(rng.choice([1, 1, 1, 3]))]
        data = page_of(items, cont=rng.choice(["", "next"]))
        typed += fits(data)
        expected = parse_page("c", orjson.loads(data), parse_pod)
        assert decode_pod_page("c", data) == expected, f"page {n}: {items}"
    assert typed > 40, "most pages take the typed path"


def test_every_demo_and_large_pod_models_the_same_from_typed_structs() -> None:
    store = Store()
    scenarios.build("demo", store, SimSettings())
    demo = store.list("pods")
    store = Store()
    scenarios.build("large", store, SimSettings(params={"namespaces": 20, "pods_per_namespace": 5}))
    large = store.list("pods")
    for items in (demo, large):
        data = page_of(items, cont="abc")
        assert fits(data)
        page = decode_pod_page("c", data)
        assert page.cont == "abc" and page.resource_version == "42" and not page.problems
        assert page.models == {(p["metadata"]["namespace"], p["metadata"]["name"]): parse_pod("c", p) for p in items}


def test_malformed_pods_in_a_typed_page_are_problems_not_errors() -> None:
    good = copy.deepcopy(BASE)
    data = page_of([{"metadata": {"namespace": "x"}}, {"metadata": None}, {}, {"metadata": {"name": "n"}}, good])
    assert fits(data)
    page = decode_pod_page("c", data)
    assert page.problems == [
        (("x", "?"), "Pod ?: the object has no metadata.name"),
        (("", "?"), "Pod ?: the object has no metadata"),
        (("", "?"), "Pod ?: the object has no metadata"),
        (("", "n"), "Pod n: the object has no metadata.namespace"),
    ]
    assert list(page.models) == [(good["metadata"]["namespace"], good["metadata"]["name"])]
    assert page == parse_page("c", orjson.loads(data), parse_pod)


def test_a_page_that_is_not_a_pod_list_falls_back_and_says_so_as_before() -> None:
    assert decode_pod_page("c", b'{"items": null}') == parse_page("c", {"items": None}, parse_pod)
    with pytest.raises(orjson.JSONDecodeError):
        decode_pod_page("c", b"{truncated")
