"""The simulated API server's contract, exercised over HTTP with the official `kubernetes` client."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import orjson
import pytest
import urllib3
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from meshtui.sim.store import Store
from tests.helpers import wait_until

META_LIST = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json"
META = "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1,application/json"
TABLE = (
    "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json"
)
TIMEOUT = (5, 15)


def names(items: list[Any]) -> list[str]:
    """Sorted object names from model objects or dicts."""
    return sorted(i.metadata.name if hasattr(i, "metadata") else i["metadata"]["name"] for i in items)


def raw(
    sim: Any, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None
) -> urllib3.BaseHTTPResponse:
    """A request through the client's own connection pool, for bodies the typed API cannot send."""
    headers = {"Authorization": f"Bearer {sim.cluster.token}", **(headers or {})}
    return sim.api.rest_client.pool_manager.request(
        method, sim.cluster.url + path, body=body, headers=headers, timeout=10.0
    )


# -- list ---------------------------------------------------------------------------------------------


def test_list_returns_a_typed_list_at_the_store_version(sim):
    resp = raw(sim, "GET", "/api/v1/namespaces/shop/pods")
    body = orjson.loads(resp.data)
    assert resp.status == 200
    assert (body["kind"], body["apiVersion"]) == ("PodList", "v1")
    assert body["metadata"]["resourceVersion"] == str(sim.rv)
    assert "continue" not in body["metadata"]
    assert names(body["items"]) == ["cart-1", "web-1", "web-2"]
    assert not any("kind" in i or "apiVersion" in i for i in body["items"])  # as the API server: only the list has them

    pods = sim.core.list_pod_for_all_namespaces()
    assert names(pods.items) == ["cart-1", "job-1", "pay-1", "web-1", "web-2"]
    deployments = sim.apps.list_namespaced_deployment("shop")
    assert names(deployments.items) == ["web"]
    assert deployments.kind == "DeploymentList"


def _bulk(store: Store) -> None:
    store.create("namespaces", {"metadata": {"name": "bulk"}})
    for i in range(10):
        meta = {"name": f"cm-{i:02d}", "namespace": "bulk"}
        store.create("configmaps", {"metadata": meta, "data": {"v": "old"}})


def test_paginated_list_reads_one_consistent_snapshot(sim_factory):
    sim = sim_factory(setup=_bulk)
    first = sim.core.list_namespaced_config_map("bulk", limit=3)
    assert names(first.items) == ["cm-00", "cm-01", "cm-02"]
    assert first.metadata.remaining_item_count == 7
    snapshot_rv = first.metadata.resource_version

    def churn(store: Store) -> None:
        store.create("configmaps", {"metadata": {"name": "cm-99", "namespace": "bulk"}})
        store.remove("configmaps", "bulk", "cm-05")
        store.update("configmaps", "bulk", "cm-08", lambda o: {**o, "data": {"v": "new"}})

    sim.store_call(churn)
    seen = list(first.items)
    token = first.metadata._continue
    while token:
        page = sim.core.list_namespaced_config_map("bulk", limit=3, _continue=token)
        assert page.metadata.resource_version == snapshot_rv
        seen.extend(page.items)
        token = page.metadata._continue
    assert names(seen) == [f"cm-{i:02d}" for i in range(10)]
    assert next(c for c in seen if c.metadata.name == "cm-08").data == {"v": "old"}

    fresh = sim.core.list_namespaced_config_map("bulk")
    assert "cm-99" in names(fresh.items) and "cm-05" not in names(fresh.items)
    assert int(fresh.metadata.resource_version) > int(snapshot_rv)


def test_expired_continue_token_is_410(sim_factory, status_of):
    sim = sim_factory(setup=_bulk)
    first = sim.core.list_namespaced_config_map("bulk", limit=4)
    sim.cluster.faults.restart()  # the snapshot (like an etcd revision) is gone
    with pytest.raises(ApiException) as err:
        sim.core.list_namespaced_config_map("bulk", limit=4, _continue=first.metadata._continue)
    assert err.value.status == 410
    assert status_of(err.value)["reason"] == "Expired"


def test_continue_token_expires_with_history_compaction(sim_factory, status_of, fast_settings):
    sim = sim_factory(setup=_bulk, settings=fast_settings(history_window=3))
    first = sim.core.list_namespaced_config_map("bulk", limit=4)
    for i in range(5):
        sim.core.create_namespaced_config_map("bulk", {"metadata": {"name": f"more-{i}"}})
    with pytest.raises(ApiException) as err:
        sim.core.list_namespaced_config_map("bulk", limit=4, _continue=first.metadata._continue)
    assert err.value.status == 410
    assert status_of(err.value)["reason"] == "Expired"


def test_list_at_an_exact_older_resource_version(sim):
    before = sim.core.list_namespaced_pod("shop").metadata.resource_version
    sim.core.patch_namespaced_pod("web-1", "shop", {"metadata": {"labels": {"new": "yes"}}})
    sim.core.create_namespaced_pod("shop", {"metadata": {"name": "late"}, "spec": {"containers": []}})
    old = sim.core.list_namespaced_pod("shop", resource_version=before, resource_version_match="Exact")
    assert old.metadata.resource_version == before
    assert names(old.items) == ["cart-1", "web-1", "web-2"]
    assert "new" not in next(p for p in old.items if p.metadata.name == "web-1").metadata.labels
    with pytest.raises(ApiException) as err:
        sim.core.list_namespaced_pod("shop", resource_version=str(sim.rv + 100), resource_version_match="NotOlderThan")
    assert err.value.status == 504
    with pytest.raises(ApiException) as err:
        sim.core.list_namespaced_pod("shop", resource_version="1", _continue="abc")
    assert err.value.status == 400


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        ("app=web", ["web-1", "web-2"]),
        ("app==web", ["web-1", "web-2"]),
        ("app!=web", ["cart-1", "job-1", "pay-1"]),
        ("app in (web,cart)", ["cart-1", "web-1", "web-2"]),
        ("app notin (web,cart)", ["job-1", "pay-1"]),
        ("tier", ["cart-1", "web-1", "web-2"]),
        ("!tier", ["job-1", "pay-1"]),
        ("app=web,tier=front", ["web-1", "web-2"]),
        ("app=nothing", []),
    ],
)
def test_label_selectors(sim, selector, expected):
    assert names(sim.core.list_pod_for_all_namespaces(label_selector=selector).items) == expected


def test_label_selector_on_namespaces_and_a_malformed_selector(sim):
    assert names(sim.core.list_namespace(label_selector="istio-injection=enabled").items) == ["payments"]
    assert names(sim.core.list_namespace(label_selector="istio.io/rev").items) == ["shop"]
    assert names(sim.core.list_namespace(label_selector="!istio.io/rev,!istio-injection").items) == ["default", "tools"]
    with pytest.raises(ApiException) as err:
        sim.core.list_namespace(label_selector="app in (")
    assert err.value.status == 400


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        ("metadata.name=web-1", ["web-1"]),
        ("metadata.namespace=payments", ["pay-1"]),
        ("status.phase=Pending", ["web-2"]),
        ("status.phase!=Running", ["job-1", "web-2"]),
        ("metadata.namespace=shop,status.phase=Running", ["cart-1", "web-1"]),
    ],
)
def test_field_selectors(sim, selector, expected):
    assert names(sim.core.list_pod_for_all_namespaces(field_selector=selector).items) == expected


def test_event_field_selectors_as_kubectl_describe_uses_them(sim):
    for name, pod_name in (("e1", "web-1"), ("e2", "web-2")):
        sim.core.create_namespaced_event(
            "shop",
            {
                "metadata": {"name": name},
                "reason": "Started",
                "type": "Normal",
                "involvedObject": {"kind": "Pod", "name": pod_name, "namespace": "shop"},
            },
        )
    found = sim.core.list_namespaced_event(
        "shop", field_selector="involvedObject.name=web-2,involvedObject.namespace=shop,type=Normal"
    )
    assert names(found.items) == ["e2"]


def test_unknown_field_selector_is_400(sim, status_of):
    with pytest.raises(ApiException) as err:
        sim.core.list_pod_for_all_namespaces(field_selector="spec.foo=bar")
    assert err.value.status == 400
    assert status_of(err.value)["reason"] == "BadRequest"


# -- watch --------------------------------------------------------------------------------------------


def test_watch_from_a_resource_version_replays_exactly_the_later_events(sim, read_events):
    rv0 = sim.core.list_namespaced_pod("shop").metadata.resource_version

    def changes(store: Store) -> None:
        store.create("pods", {"metadata": {"name": "new-1", "namespace": "shop"}, "spec": {}})
        store.update("pods", "shop", "web-1", lambda o: {**o, "metadata": {**o["metadata"], "labels": {"x": "1"}}})
        store.create("pods", {"metadata": {"name": "elsewhere", "namespace": "payments"}, "spec": {}})
        store.remove("pods", "shop", "web-2")

    sim.store_call(changes)
    resp = sim.core.list_namespaced_pod(
        "shop", watch=True, resource_version=rv0, timeout_seconds=1, _preload_content=False, _request_timeout=TIMEOUT
    )
    events = read_events(resp)  # until the server ends the stream at timeoutSeconds
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in events] == [
        ("ADDED", "new-1"),
        ("MODIFIED", "web-1"),
        ("DELETED", "web-2"),
    ]
    rvs = [int(e["object"]["metadata"]["resourceVersion"]) for e in events]
    assert rvs == sorted(rvs) and rvs[0] > int(rv0)
    assert events[1]["object"]["metadata"]["labels"] == {"x": "1"}


def test_watch_without_resource_version_starts_with_the_current_state(sim, read_events):
    resp = sim.core.list_namespace(watch=True, timeout_seconds=5, _preload_content=False, _request_timeout=TIMEOUT)
    events = read_events(resp, 4)
    assert {e["type"] for e in events} == {"ADDED"}
    assert names([e["object"] for e in events]) == ["default", "payments", "shop", "tools"]


def test_watch_sends_live_changes_and_filters_by_label(sim, read_events):
    rv = sim.core.list_namespaced_pod("shop").metadata.resource_version
    resp = sim.core.list_namespaced_pod(
        "shop",
        watch=True,
        resource_version=rv,
        label_selector="app=web",
        timeout_seconds=10,
        _preload_content=False,
        _request_timeout=TIMEOUT,
    )
    sim.core.patch_namespaced_pod("cart-1", "shop", {"metadata": {"labels": {"seen": "no"}}})
    sim.core.patch_namespaced_pod("web-1", "shop", {"metadata": {"labels": {"seen": "yes"}}})
    sim.core.patch_namespaced_pod("web-2", "shop", {"metadata": {"labels": {"app": "other"}}})
    events = read_events(resp, 2)
    # A change that moves an object out of the selection is a DELETED for this watch, as the API server does.
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in events] == [
        ("MODIFIED", "web-1"),
        ("DELETED", "web-2"),
    ]


def test_bookmarks_carry_only_the_current_resource_version(sim, read_events):
    rv = sim.core.list_namespaced_pod("shop").metadata.resource_version
    sim.core.create_namespaced_config_map("shop", {"metadata": {"name": "later"}})
    resp = sim.core.list_namespaced_pod(
        "shop",
        watch=True,
        resource_version=rv,
        allow_watch_bookmarks=True,
        timeout_seconds=10,
        _preload_content=False,
        _request_timeout=TIMEOUT,
    )
    events = read_events(resp, until=lambda e: e["type"] == "BOOKMARK")
    bookmark = events[-1]
    assert bookmark["type"] == "BOOKMARK"
    assert bookmark["object"] == {
        "kind": "Pod",
        "apiVersion": "v1",
        "metadata": {"resourceVersion": str(sim.rv)},
        "spec": {"containers": None},
        "status": {},
    }  # an empty Pod, serialized
    assert len(events) == 1  # the config map is not a pod event


def test_no_bookmarks_unless_asked(sim, read_events):
    rv = sim.core.list_namespaced_pod("shop").metadata.resource_version
    resp = sim.core.list_namespaced_pod(
        "shop", watch=True, resource_version=rv, timeout_seconds=1, _preload_content=False, _request_timeout=TIMEOUT
    )
    assert read_events(resp) == []  # bookmark_interval is 0.2 s, the stream lasts 1 s


def test_timeout_seconds_ends_the_stream(sim, read_events):
    start = time.monotonic()
    resp = sim.core.list_namespace(
        watch=True, resource_version=str(sim.rv), timeout_seconds=1, _preload_content=False, _request_timeout=TIMEOUT
    )
    assert read_events(resp) == []
    assert 0.9 <= time.monotonic() - start < 5


def test_timeout_and_bookmarks_hold_under_sustained_changes(sim_factory, fast_settings):
    sim = sim_factory(settings=fast_settings(history_window=10_000_000))
    stop = threading.Event()

    async def churn() -> None:
        # A steady ~10,000 changes a second, so events keep arriving for the whole 6 s watch and a little
        # more (bounded, so a loaded CI machine's reader is not buried under a backlog).
        store, n = sim.cluster.store, 0
        loop = asyncio.get_running_loop()
        until: float | None = None
        while not stop.is_set() and (until is None or loop.time() < until):
            if until is None and store.open_watches:
                until = loop.time() + 6.5
            for _ in range(50):
                n += 1
                store.update(
                    "pods",
                    "shop",
                    "web-1",
                    lambda o, n=n: {**o, "metadata": {**o["metadata"], "annotations": {"n": str(n)}}},
                )
            await asyncio.sleep(0.005)

    # Wrapped in a list: `call` awaits an awaitable result, and the task must keep running.
    [task] = sim.cluster.call(lambda: [asyncio.get_running_loop().create_task(churn())])
    try:
        start = time.monotonic()
        # 6 s: bookmarks stop 2 s before the deadline, as the watch cache's do, so 4 s remain for them
        # even on a loaded machine.
        resp = sim.core.list_namespaced_pod(
            "shop",
            watch=True,
            resource_version=str(sim.rv),
            timeout_seconds=6,
            allow_watch_bookmarks=True,
            _preload_content=False,
            _request_timeout=TIMEOUT,
        )
        chunks, ended = [], True
        for chunk in resp.stream(1 << 16):  # raw bytes: parsing here would let the stream run ahead
            chunks.append(chunk)
            if time.monotonic() - start > 30:
                ended = False
                break
        resp.close()
    finally:
        stop.set()
        sim.cluster.call(lambda: task)
    # The stream ended at its timeout although changes kept coming (the client, sharing the GIL with the
    # server here, may take a few seconds to read what was already sent).
    assert ended
    events = [orjson.loads(line) for line in b"".join(chunks).splitlines() if line]
    kinds = [e["type"] for e in events]
    assert kinds.count("MODIFIED") > 100 and "BOOKMARK" in kinds
    rvs = [int(e["object"]["metadata"]["resourceVersion"]) for e in events]
    assert rvs == sorted(rvs)  # a bookmark never claims a version beyond an event still to come


def test_watch_from_before_the_history_window_gets_an_error_event_410(sim_factory, read_events, fast_settings):
    sim = sim_factory(settings=fast_settings(history_window=3))
    rv0 = sim.core.list_namespace().metadata.resource_version
    for i in range(5):
        sim.core.create_namespace({"metadata": {"name": f"ns-{i}"}})
    resp = sim.core.list_namespace(watch=True, resource_version=rv0, _preload_content=False, _request_timeout=TIMEOUT)
    assert resp.status == 200  # the API server reports expiry inside the stream
    events = read_events(resp)
    assert len(events) == 1 and events[0]["type"] == "ERROR"
    status = events[0]["object"]
    assert (status["kind"], status["code"], status["reason"]) == ("Status", 410, "Expired")


def test_restart_forces_a_relist_after_which_watching_works(sim, read_events):
    rv0 = sim.core.list_namespaced_pod("shop").metadata.resource_version
    open_watch = sim.core.list_namespaced_pod(
        "shop", watch=True, resource_version=rv0, timeout_seconds=30, _preload_content=False, _request_timeout=TIMEOUT
    )
    sim.core.patch_namespaced_pod("web-1", "shop", {"metadata": {"labels": {"v": "2"}}})
    sim.cluster.faults.restart()
    ended = read_events(open_watch, deadline=5)
    assert [e["type"] for e in ended] in (["MODIFIED"], [])  # the stream ended well before its 30 s

    resumed = sim.core.list_namespaced_pod(
        "shop", watch=True, resource_version=rv0, _preload_content=False, _request_timeout=TIMEOUT
    )
    events = read_events(resumed)
    assert [(e["type"], e["object"]["code"]) for e in events] == [("ERROR", 410)]

    relist = sim.core.list_namespaced_pod("shop")
    resp = sim.core.list_namespaced_pod(
        "shop",
        watch=True,
        resource_version=relist.metadata.resource_version,
        timeout_seconds=10,
        _preload_content=False,
        _request_timeout=TIMEOUT,
    )
    sim.core.create_namespaced_pod("shop", {"metadata": {"name": "after"}, "spec": {"containers": []}})
    events = read_events(resp, 1)
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in events] == [("ADDED", "after")]


def test_client_disconnect_unregisters_the_watcher(sim, read_events):
    resp = sim.core.list_namespace(
        watch=True, resource_version=str(sim.rv), timeout_seconds=30, _preload_content=False, _request_timeout=TIMEOUT
    )
    assert sim.store_call(lambda s: s.open_watches) == 1
    resp.close()  # closes the socket (release_conn would keep it open in the pool)
    # The server learns of the disconnect asynchronously and gives no event for it: poll.
    wait_until(lambda: sim.store_call(lambda s: s.open_watches) == 0, timeout=5, what="the watcher to go")


def test_watch_list_streams_initial_events_then_an_annotated_bookmark(sim, read_events):
    resp = sim.core.list_namespace(
        watch=True,
        send_initial_events=True,
        resource_version_match="NotOlderThan",
        allow_watch_bookmarks=True,
        timeout_seconds=5,
        _preload_content=False,
        _request_timeout=TIMEOUT,
    )
    events = read_events(resp, until=lambda e: e["type"] == "BOOKMARK")
    assert [e["type"] for e in events] == ["ADDED"] * 4 + ["BOOKMARK"]
    meta = events[-1]["object"]["metadata"]
    assert meta["annotations"] == {"k8s.io/initial-events-end": "true"}
    assert meta["resourceVersion"] == str(sim.rv)


# -- patch ------------------------------------------------------------------------------------------------


def test_json_patch_removes_an_escaped_key(sim):
    ns = sim.core.patch_namespace("shop", [{"op": "remove", "path": "/metadata/labels/istio.io~1rev"}])
    assert "istio.io/rev" not in ns.metadata.labels
    assert ns.metadata.labels["team"] == "web"
    assert "istio.io/rev" not in sim.core.read_namespace("shop").metadata.labels


def test_json_patch_failed_test_is_422_and_changes_nothing(sim, status_of):
    before = sim.core.read_namespace("shop")
    with pytest.raises(ApiException) as err:
        sim.core.patch_namespace(
            "shop",
            [
                {"op": "test", "path": "/metadata/resourceVersion", "value": "1"},
                {"op": "add", "path": "/metadata/labels/x", "value": "y"},
            ],
        )
    assert err.value.status == 422
    assert status_of(err.value)["reason"] == "Invalid"
    after = sim.core.read_namespace("shop")
    assert after.metadata.resource_version == before.metadata.resource_version
    ok = sim.core.patch_namespace(
        "shop",
        [
            {"op": "test", "path": "/metadata/resourceVersion", "value": before.metadata.resource_version},
            {"op": "add", "path": "/metadata/labels/x", "value": "y"},
        ],
    )
    assert ok.metadata.labels["x"] == "y"


def test_merge_patch_null_removes_a_label(sim):
    ns = sim.core.patch_namespace(
        "shop",
        {"metadata": {"labels": {"istio.io/rev": None, "new": "1"}}},
        _content_type="application/merge-patch+json",
    )
    assert ns.metadata.labels == {"team": "web", "new": "1", "kubernetes.io/metadata.name": "shop"}


def test_strategic_merge_of_template_annotations_and_containers(sim):
    stamp = "2026-01-01T00:00:00Z"
    dep = sim.apps.patch_namespaced_deployment(
        "web",
        "shop",
        {"spec": {"template": {"metadata": {"annotations": {"kubectl.kubernetes.io/restartedAt": stamp}}}}},
        field_manager="meshtui",
    )
    annotations = dep.spec.template.metadata.annotations
    assert annotations == {"keep": "me", "kubectl.kubernetes.io/restartedAt": stamp}
    assert dep.metadata.generation == 2

    dep = sim.apps.patch_namespaced_deployment(
        "web",
        "shop",
        {
            "spec": {
                "template": {
                    "spec": {
                        "containers": [{"name": "app", "image": "example/app:2", "env": [{"name": "B", "value": "2"}]}]
                    }
                }
            }
        },
    )
    containers = {c.name: c for c in dep.spec.template.spec.containers}
    assert set(containers) == {"app", "helper"}
    assert containers["app"].image == "example/app:2"
    # The patch's items first, then the stored ones, as the API server orders a strategic merge.
    assert [(e.name, e.value) for e in containers["app"].env] == [("B", "2"), ("A", "1")]

    dep = sim.apps.patch_namespaced_deployment(
        "web", "shop", {"spec": {"template": {"spec": {"containers": [{"name": "helper", "$patch": "delete"}]}}}}
    )
    assert [c.name for c in dep.spec.template.spec.containers] == ["app"]


def test_apply_creates_then_merges(sim):
    body = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "applied", "namespace": "shop"},
        "data": {"a": "1"},
    }
    created = sim.core.patch_namespaced_config_map(
        "applied", "shop", body, field_manager="meshtui", _content_type="application/apply-patch+yaml"
    )
    assert created.data == {"a": "1"}
    yaml_body = b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: applied\ndata:\n  b: '2'\n"
    resp = raw(
        sim,
        "PATCH",
        "/api/v1/namespaces/shop/configmaps/applied?fieldManager=meshtui",
        yaml_body,
        {"Content-Type": "application/apply-patch+yaml"},
    )
    assert resp.status == 200
    assert sim.core.read_namespaced_config_map("applied", "shop").data == {"a": "1", "b": "2"}
    with pytest.raises(ApiException) as err:
        sim.core.patch_namespaced_config_map("applied", "shop", body, _content_type="application/apply-patch+yaml")
    assert err.value.status == 422  # apply needs a fieldManager


def test_stale_resource_version_conflicts_on_put_and_on_patch(sim, status_of):
    cm = sim.core.read_namespaced_config_map("settings", "shop")
    sim.core.patch_namespaced_config_map("settings", "shop", {"data": {"a": "2"}})
    cm.data = {"a": "mine"}
    with pytest.raises(ApiException) as err:
        sim.core.replace_namespaced_config_map("settings", "shop", cm)
    assert err.value.status == 409
    assert status_of(err.value)["reason"] == "Conflict"

    stale = {"metadata": {"resourceVersion": cm.metadata.resource_version, "labels": {"x": "1"}}}
    with pytest.raises(ApiException) as err:
        sim.core.patch_namespaced_config_map("settings", "shop", stale)
    assert err.value.status == 409
    current = sim.core.read_namespaced_config_map("settings", "shop")
    fresh = {"metadata": {"resourceVersion": current.metadata.resource_version, "labels": {"x": "1"}}}
    assert sim.core.patch_namespaced_config_map("settings", "shop", fresh).metadata.labels == {"x": "1"}
    current = sim.core.read_namespaced_config_map("settings", "shop")
    current.data = {"a": "3"}
    assert sim.core.replace_namespaced_config_map("settings", "shop", current).data == {"a": "3"}


def test_dry_run_persists_nothing_and_emits_no_event(sim, read_events):
    rv0 = sim.rv
    new_pod = {"metadata": {"name": "dry"}, "spec": {"containers": []}}
    created = sim.core.create_namespaced_pod("shop", new_pod, dry_run="All")
    assert created.metadata.name == "dry"
    relabel = {"metadata": {"labels": {"istio.io/rev": "1-27"}}}
    patched = sim.core.patch_namespace("shop", relabel, dry_run="All")
    assert patched.metadata.labels["istio.io/rev"] == "1-27"
    dep = sim.apps.read_namespaced_deployment("web", "shop")
    dep.spec.replicas = 5
    assert sim.apps.replace_namespaced_deployment("web", "shop", dep, dry_run="All").spec.replicas == 5

    assert sim.rv == rv0
    with pytest.raises(ApiException) as err:
        sim.core.read_namespaced_pod("dry", "shop")
    assert err.value.status == 404
    assert sim.core.read_namespace("shop").metadata.labels["istio.io/rev"] == "1-26"
    assert sim.apps.read_namespaced_deployment("web", "shop").spec.replicas == 2

    sim.core.patch_namespace("tools", {"metadata": {"labels": {"real": "yes"}}})
    resp = sim.core.list_namespace(
        watch=True, resource_version=str(rv0), timeout_seconds=5, _preload_content=False, _request_timeout=TIMEOUT
    )
    events = read_events(resp, 1)
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in events] == [("MODIFIED", "tools")]


def test_status_subresource_writes_status_and_metadata_not_spec(sim):
    # As the API server's pod status strategy: spec and owner references stay, labels change too.
    pod = sim.core.patch_namespaced_pod_status(
        "web-2",
        "shop",
        {
            "status": {"phase": "Running"},
            "metadata": {"labels": {"via": "status"}},
            "spec": {"activeDeadlineSeconds": 5},
        },
    )
    assert pod.status.phase == "Running"
    assert pod.metadata.labels["via"] == "status"
    assert pod.spec.active_deadline_seconds is None
    pod = sim.core.patch_namespaced_pod("web-2", "shop", {"status": {"phase": "Failed"}})
    assert pod.status.phase == "Running"  # the main resource ignores status


# -- response forms -------------------------------------------------------------------------------------


def test_metadata_only_list_get_and_watch(sim, read_events):
    resp = sim.core.list_namespace(_preload_content=False, _headers={"Accept": META_LIST})
    body = orjson.loads(resp.data)
    assert (body["kind"], body["apiVersion"]) == ("PartialObjectMetadataList", "meta.k8s.io/v1")
    assert body["metadata"]["resourceVersion"] == str(sim.rv)
    assert {i["kind"] for i in body["items"]} == {"PartialObjectMetadata"}
    assert set(body["items"][0]) == {"kind", "apiVersion", "metadata"}
    assert names(body["items"]) == ["default", "payments", "shop", "tools"]

    resp = sim.core.read_namespace("shop", _preload_content=False, _headers={"Accept": META})
    one = orjson.loads(resp.data)
    assert one["kind"] == "PartialObjectMetadata" and one["metadata"]["labels"]["istio.io/rev"] == "1-26"

    resp = sim.core.list_namespace(
        watch=True,
        resource_version=body["metadata"]["resourceVersion"],
        timeout_seconds=5,
        _preload_content=False,
        _headers={"Accept": META},
        _request_timeout=TIMEOUT,
    )
    sim.core.create_namespace({"metadata": {"name": "fresh"}})
    events = read_events(resp, 1)
    assert events[0]["type"] == "ADDED"
    assert events[0]["object"]["kind"] == "PartialObjectMetadata"
    assert events[0]["object"]["metadata"]["name"] == "fresh"
    assert "spec" not in events[0]["object"]


def test_table_has_kubectl_pod_columns(sim):
    resp = sim.core.list_namespaced_pod("shop", _preload_content=False, _headers={"Accept": TABLE})
    table = orjson.loads(resp.data)
    assert table["kind"] == "Table"
    assert [c["name"] for c in table["columnDefinitions"] if c["priority"] == 0] == [
        "Name",
        "Ready",
        "Status",
        "Restarts",
        "Age",
    ]
    rows = {r["cells"][0]: r["cells"][:4] for r in table["rows"]}
    assert rows == {
        "cart-1": ["cart-1", "2/2", "Running", "0"],
        "web-1": ["web-1", "1/1", "Running", "0"],
        "web-2": ["web-2", "0/1", "Pending", "0"],
    }
    assert table["rows"][0]["object"]["kind"] == "PartialObjectMetadata"


def test_unacceptable_media_type_is_406(sim):
    resp = raw(sim, "GET", "/api/v1/namespaces", headers={"Accept": "application/vnd.kubernetes.protobuf"})
    assert resp.status == 406
    assert orjson.loads(resp.data)["reason"] == "NotAcceptable"


# -- errors -----------------------------------------------------------------------------------------------


def test_errors_are_status_objects_with_the_right_code(sim, status_of):
    with pytest.raises(ApiException) as err:
        sim.core.read_namespaced_pod("missing", "shop")
    status = status_of(err.value)
    assert (err.value.status, status["reason"], status["details"]["name"]) == (404, "NotFound", "missing")

    with pytest.raises(ApiException) as err:
        sim.core.create_namespaced_config_map("shop", {"metadata": {"name": "settings"}})
    assert (err.value.status, status_of(err.value)["reason"]) == (409, "AlreadyExists")

    with pytest.raises(ApiException) as err:
        sim.core.create_namespaced_config_map("shop", {"metadata": {"name": "Not_Valid"}})
    assert (err.value.status, status_of(err.value)["reason"]) == (422, "Invalid")

    with pytest.raises(ApiException) as err:
        sim.core.create_namespaced_config_map("nowhere", {"metadata": {"name": "x"}})
    assert err.value.status == 404


@pytest.mark.parametrize(
    ("method", "path", "body", "code", "reason"),
    [
        ("POST", "/api/v1/namespaces/shop/configmaps", b'{"metadata": {', 400, "BadRequest"),
        ("POST", "/api/v1/namespaces/shop/configmaps", b"[1, 2]", 400, "BadRequest"),
        ("PATCH", "/api/v1/namespaces/shop", b"not json", 400, "BadRequest"),
        ("GET", "/api/v1/namespaces/shop/widgets", None, 404, "NotFound"),
        ("GET", "/apis/nothing.example.com/v1/things", None, 404, "NotFound"),
        ("PUT", "/api/v1/namespaces/shop/configmaps", b"{}", 405, "MethodNotAllowed"),
        ("POST", "/api/v1/namespaces/shop/configmaps/settings", b"{}", 405, "MethodNotAllowed"),
        ("GET", "/api/v1/namespaces/shop/configmaps?limit=ten", None, 400, "BadRequest"),
    ],
)
def test_malformed_requests_get_a_status_never_a_traceback(sim, method, path, body, code, reason):
    headers = {"Content-Type": "application/merge-patch+json" if method == "PATCH" else "application/json"}
    resp = raw(sim, method, path, body, headers)
    status = orjson.loads(resp.data)
    assert (resp.status, status["kind"], status["code"], status["reason"]) == (code, "Status", code, reason)


def test_unsupported_patch_type_is_415(sim):
    resp = raw(sim, "PATCH", "/api/v1/namespaces/shop", b"{}", {"Content-Type": "text/plain"})
    assert resp.status == 415


# -- delete -----------------------------------------------------------------------------------------------


def test_delete_goes_through_the_deletion_module(sim):
    sim.core.delete_namespaced_config_map("settings", "shop")
    with pytest.raises(ApiException) as err:
        sim.core.read_namespaced_config_map("settings", "shop")
    assert err.value.status == 404


def test_delete_dry_run_keeps_the_object(sim):
    sim.core.delete_namespaced_config_map("settings", "shop", dry_run="All")
    assert sim.core.read_namespaced_config_map("settings", "shop").data == {"a": "1"}


def test_delete_collection_and_preconditions(sim):
    for name, team in (("a", "x"), ("b", "x"), ("c", "y")):
        sim.core.create_namespaced_config_map("shop", {"metadata": {"name": name, "labels": {"team": team}}})
    sim.core.delete_collection_namespaced_config_map("shop", label_selector="team=x")
    left = names(sim.core.list_namespaced_config_map("shop").items)
    assert left == ["c", "settings"]
    stale = client.V1DeleteOptions(preconditions=client.V1Preconditions(resource_version="1"))
    with pytest.raises(ApiException) as err:
        sim.core.delete_namespaced_config_map("c", "shop", body=stale)
    assert err.value.status == 409
    assert "c" in names(sim.core.list_namespaced_config_map("shop").items)


# -- access reviews and faults --------------------------------------------------------------------------


def _can(sim: Any, verb: str, resource: str, group: str = "", namespace: str = "shop") -> Any:
    review = client.AuthorizationV1Api(sim.api).create_self_subject_access_review(
        {"spec": {"resourceAttributes": {"verb": verb, "resource": resource, "group": group, "namespace": namespace}}}
    )
    return review.status


def test_deny_fault_is_403_and_shows_in_access_reviews(sim, status_of):
    faults = sim.cluster.faults
    assert _can(sim, "patch", "namespaces").allowed is True
    faults.deny("patch", "namespaces")
    with pytest.raises(ApiException) as err:
        sim.core.patch_namespace("shop", {"metadata": {"labels": {"a": "b"}}})
    status = status_of(err.value)
    assert (err.value.status, status["reason"]) == (403, "Forbidden")
    assert 'cannot patch resource "namespaces"' in status["message"]
    assert sim.core.read_namespace("shop").metadata.name == "shop"  # other verbs still work
    review = _can(sim, "patch", "namespaces")
    assert review.allowed is False and review.reason
    assert _can(sim, "list", "pods").allowed is True
    faults.allow("patch", "namespaces")
    assert sim.core.patch_namespace("shop", {"metadata": {"labels": {"a": "b"}}}).metadata.labels["a"] == "b"


def test_failure_fault_answers_5xx(sim, status_of):
    sim.cluster.faults.fail(1.0, 500)
    with pytest.raises(ApiException) as err:
        sim.core.list_namespace()
    assert (err.value.status, status_of(err.value)["reason"]) == (500, "InternalError")
    sim.cluster.faults.fail(0.0)
    assert sim.core.list_namespace().items


def test_failure_fault_429_has_retry_after(sim):
    sim.cluster.faults.fail(1.0, 429, retry_after=0)
    with pytest.raises(ApiException) as err:
        sim.core.create_namespace({"metadata": {"name": "throttled"}})
    assert err.value.status == 429
    assert err.value.headers["Retry-After"] == "0"


def test_failure_fault_hits_about_the_fraction_asked(sim):
    # 500, not 503: urllib3 itself retries GETs answered 429/503 with a Retry-After.
    sim.cluster.faults.fail(0.5, 500, verbs={"get"})
    failed = 0
    for _ in range(200):
        try:
            sim.core.read_namespace("shop", _request_timeout=5)
        except ApiException as exc:
            assert exc.status == 500
            failed += 1
    assert 50 < failed < 150
    assert sim.core.list_namespace().items  # lists are not covered by verbs={"get"}


def test_delay_fault_slows_responses(sim):
    sim.cluster.faults.delay(300)
    start = time.monotonic()
    sim.core.read_namespace("shop")
    assert time.monotonic() - start >= 0.3
    sim.cluster.faults.delay(0)
    start = time.monotonic()
    sim.core.read_namespace("shop")
    assert time.monotonic() - start < 0.3


def test_drop_watches_ends_open_streams(sim, read_events):
    resp = sim.core.list_namespace(
        watch=True, resource_version=str(sim.rv), timeout_seconds=30, _preload_content=False, _request_timeout=TIMEOUT
    )
    start = time.monotonic()
    assert sim.cluster.faults.drop_watches() == 1
    assert read_events(resp) == []
    assert time.monotonic() - start < 5


def test_abrupt_drop_breaks_the_connection(sim):
    resp = sim.core.list_namespace(
        watch=True, resource_version=str(sim.rv), timeout_seconds=30, _preload_content=False, _request_timeout=TIMEOUT
    )
    sim.cluster.faults.drop_watches(abrupt=True)
    with pytest.raises(urllib3.exceptions.ProtocolError):
        for _ in resp.stream(1024):
            pass


def test_next_watch_gets_410_once(sim, read_events):
    sim.cluster.faults.expire_next_watches(1)
    rv = str(sim.rv)
    first = read_events(
        sim.core.list_namespace(
            watch=True, resource_version=rv, timeout_seconds=5, _preload_content=False, _request_timeout=TIMEOUT
        )
    )
    got = [(e["type"], e["object"]["code"], e["object"]["reason"]) for e in first]
    assert got == [("ERROR", 410, "Expired")]
    resp = sim.core.list_namespace(
        watch=True, resource_version=rv, timeout_seconds=5, _preload_content=False, _request_timeout=TIMEOUT
    )
    sim.core.create_namespace({"metadata": {"name": "later"}})
    assert [e["type"] for e in read_events(resp, 1)] == ["ADDED"]


def test_request_log_records_verbs_and_writes(sim_factory):
    sim = sim_factory(request_log_cap=5)
    faults = sim.cluster.faults
    faults.clear_log()
    sim.core.list_namespaced_pod("shop", label_selector="app=web")
    sim.core.read_namespace("shop")
    sim.core.patch_namespace("shop", {"metadata": {"labels": {"a": "b"}}}, dry_run="All")
    assert faults.writes(include_dry_run=False) == []
    sim.core.patch_namespace("shop", {"metadata": {"labels": {"a": "b"}}})
    _can(sim, "get", "pods")
    log = faults.requests()
    assert [(r.verb, r.resource, r.namespace, r.status) for r in log] == [
        ("list", "pods", "shop", 200),
        ("get", "namespaces", None, 200),
        ("patch", "namespaces", None, 200),
        ("patch", "namespaces", None, 200),
        ("create", "authorization.k8s.io/selfsubjectaccessreviews", None, 201),
    ]
    assert log[0].query == "labelSelector=app%3Dweb"
    assert [(w.verb, w.dry_run) for w in faults.writes()] == [("patch", True), ("patch", False)]
    sim.core.read_namespace("shop")
    assert len(faults.requests()) == 5  # capped: the oldest record fell off
    assert faults.requests()[0].verb == "get"


# -- discovery --------------------------------------------------------------------------------------------


def test_version_health_and_legacy_discovery(sim):
    version = client.VersionApi(sim.api).get_code()
    assert version.git_version.startswith("v1.33.")
    for path in ("/healthz", "/readyz", "/livez"):
        resp = raw(sim, "GET", path)
        assert (resp.status, resp.data) == (200, b"ok")
    core = client.CoreApi(sim.api).get_api_versions()
    assert core.versions == ["v1"]
    found = client.ApisApi(sim.api).get_api_versions().groups
    groups = {g.name: g.preferred_version.group_version for g in found}
    assert groups["apps"] == "apps/v1" and groups["authorization.k8s.io"] == "authorization.k8s.io/v1"
    resources = {r.name: r for r in sim.core.get_api_resources().resources}
    assert resources["pods"].short_names == ["po"] and resources["pods"].namespaced is True
    assert "watch" in resources["pods"].verbs and resources["pods/status"].verbs == ["get", "patch", "update"]
    assert resources["namespaces"].namespaced is False
    apps = {r.name: r for r in sim.apps.get_api_resources().resources}
    assert apps["deployments"].kind == "Deployment" and apps["deployments"].short_names == ["deploy"]


def test_aggregated_discovery_and_the_dynamic_client(sim):
    accept = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json"
    resp = raw(sim, "GET", "/apis", headers={"Accept": accept})
    assert resp.headers["Content-Type"] == accept.split(",")[0]
    body = orjson.loads(resp.data)
    apps = next(i for i in body["items"] if i["metadata"]["name"] == "apps")
    deployments = next(r for r in apps["versions"][0]["resources"] if r["resource"] == "deployments")
    assert deployments["scope"] == "Namespaced" and deployments["subresources"][0]["subresource"] == "status"

    from kubernetes.dynamic import DynamicClient

    dynamic = DynamicClient(sim.api)
    pods = dynamic.resources.get(api_version="v1", kind="Pod")
    assert sorted(p.metadata.name for p in pods.get(namespace="shop").items) == ["cart-1", "web-1", "web-2"]
