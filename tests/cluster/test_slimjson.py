"""The slim pod-list decoder gives the domain exactly what a full decode gives it."""

from __future__ import annotations

import orjson

from meshtui.cluster.slimjson import decode_pod_list
from meshtui.domain.objects import parse_pod
from meshtui.sim import scenarios
from meshtui.sim.settings import SimSettings
from meshtui.sim.store import Store


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
    odd = {"metadata": {}, "items": [{"metadata": {"name": "p", "namespace": "n"},
                                      "spec": {"containers": "not a list"}}]}
    page = decode_pod_list(orjson.dumps(odd))
    assert page == odd
    pod = parse_pod("c", page["items"][0])
    assert pod.name == "p" and not pod.has_sidecar
