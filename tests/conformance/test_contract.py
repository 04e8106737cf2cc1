"""The API contract the product relies on, asserted identically on the simulator and a real kube-apiserver.

Everything goes through the official `kubernetes` client (typed calls, or its own connection pool for
the raw JSON whose shape is compared). Expected values are what kube-apiserver v1.37.2 answers; a
`sim_differs` mark records where the simulator answers otherwise (an xfail(strict) on `sim` only).

Real-server facts these tests pin down (measured on v1.37.2):

* Watch bookmarks (`allowWatchBookmarks`) come from the watch cache: roughly once a minute, and once
  about 2 s before a watch's `timeoutSeconds` deadline -- but only when the resource's
  resourceVersion moved past the one the watch started from; an idle watch gets none. A watch
  started without a resourceVersion (or "0") ends its initial ADDED events with a BOOKMARK annotated
  `k8s.io/initial-events-end: "true"`, immediately, as `sendInitialEvents=true` does. Within a
  bounded test: `timeoutSeconds=4` plus one change after the start resourceVersion yields one
  bookmark ~2 s in.
* A compaction is only visible to requests that reach etcd: the realapi server serves configmaps
  without the watch cache (`UNCACHED` in conftest.py), so the 410 tests use configmaps.
"""

from __future__ import annotations

import json
import threading
import time
from typing import Any
from urllib.parse import quote

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from tests.helpers import read_events

from .backends import META, META_LIST, WATCH_TIMEOUT, Backend, status_of, unique

MERGE = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"
STRATEGIC = "application/strategic-merge-patch+json"
APPLY = "application/apply-patch+yaml"
CONFLICT_MESSAGE = (
    'Operation cannot be fulfilled on {what} "{name}": the object has been modified; '
    "please apply your changes to the latest version and try again"
)


# -- helpers -----------------------------------------------------------------------------------------


class Raw:
    """JSON requests through an official-client ApiClient's own connection pool (TLS and auth included)."""

    def __init__(self, api: client.ApiClient) -> None:
        self.api = api

    def __call__(
        self,
        method: str,
        path: str,
        body: Any = None,
        content_type: str = "application/json",
        accept: str = "application/json",
    ) -> tuple[int, dict[str, Any]]:
        headers = {"Accept": accept, "Content-Type": content_type}
        headers.update(self.api.default_headers)
        auth = self.api.configuration.auth_settings().get("BearerToken")
        if auth and auth.get("value"):
            headers["Authorization"] = auth["value"]
        data = body if body is None or isinstance(body, bytes) else json.dumps(body).encode()
        resp = self.api.rest_client.pool_manager.request(
            method, self.api.configuration.host + path, body=data, headers=headers, timeout=30.0
        )
        return resp.status, json.loads(resp.data)


@pytest.fixture
def api(backend: Backend) -> client.ApiClient:
    return backend.api_client()


@pytest.fixture
def core(api: client.ApiClient) -> client.CoreV1Api:
    return client.CoreV1Api(api)


@pytest.fixture
def apps(api: client.ApiClient) -> client.AppsV1Api:
    return client.AppsV1Api(api)


@pytest.fixture
def raw(api: client.ApiClient) -> Raw:
    return Raw(api)


@pytest.fixture
def ns(backend: Backend) -> str:
    return backend.unique_namespace("ct")


def names(items: list[Any]) -> list[str]:
    return [i.metadata.name if hasattr(i, "metadata") else i["metadata"]["name"] for i in items]


def configmaps(core: client.CoreV1Api, ns: str, *cm_names: str, labels: dict[str, str] | None = None) -> list[str]:
    """Create config maps; return their resourceVersions."""
    return [
        core.create_namespaced_config_map(
            ns, {"metadata": {"name": n, "labels": labels or {}}, "data": {"v": "1"}}
        ).metadata.resource_version
        for n in cm_names
    ]


def watch(list_fn: Any, *args: Any, **kwargs: Any) -> Any:
    """Open a raw watch (bounded by `WATCH_TIMEOUT`)."""
    return list_fn(*args, watch=True, _preload_content=False, _request_timeout=WATCH_TIMEOUT, **kwargs)


# -- list ----------------------------------------------------------------------------------------------


def test_list_kind_resource_version_and_order(backend: Backend, raw: Raw, core: client.CoreV1Api, ns: str) -> None:
    rvs = configmaps(core, ns, "c", "a", "b")
    status, body = raw("GET", f"/api/v1/namespaces/{ns}/configmaps")
    assert status == 200
    assert (body["kind"], body["apiVersion"]) == ("ConfigMapList", "v1")
    assert int(body["metadata"]["resourceVersion"]) >= max(map(int, rvs))
    assert "continue" not in body["metadata"] and "remainingItemCount" not in body["metadata"]
    assert names(body["items"]) == ["a", "b", "c"]  # key order, whatever the creation order
    typed = core.list_namespaced_config_map(ns)
    assert typed.kind == "ConfigMapList" and names(typed.items) == ["a", "b", "c"]
    assert client.AppsV1Api(backend.api_client()).list_namespaced_deployment(ns).kind == "DeploymentList"


def test_list_items_carry_no_kind(raw: Raw, core: client.CoreV1Api, ns: str) -> None:
    configmaps(core, ns, "a")
    _, body = raw("GET", f"/api/v1/namespaces/{ns}/configmaps")
    assert set(body["items"][0]) == {"metadata", "data"}


@pytest.mark.sim_differs(
    "objects have no metadata.managedFields; the real server records one entry per "
    "manager (the client's User-Agent product, or fieldManager)"
)
def test_writes_record_managed_fields(core: client.CoreV1Api, ns: str) -> None:
    cm = core.create_namespaced_config_map(ns, {"metadata": {"name": "m"}, "data": {"v": "1"}})
    assert [(f.manager, f.operation) for f in cm.metadata.managed_fields] == [("OpenAPI-Generator", "Update")]
    cm = core.patch_namespaced_config_map("m", ns, {"data": {"w": "2"}}, field_manager="meshtui")
    assert [(f.manager, f.operation) for f in cm.metadata.managed_fields] == [
        ("OpenAPI-Generator", "Update"),
        ("meshtui", "Update"),
    ]


@pytest.mark.parametrize("resource", ["configmaps", "secrets"])
def test_pagination_is_one_consistent_snapshot(raw: Raw, core: client.CoreV1Api, ns: str, resource: str) -> None:
    create = core.create_namespaced_config_map if resource == "configmaps" else core.create_namespaced_secret
    for i in range(5):
        create(
            ns,
            {
                "metadata": {"name": f"item-{i}", "labels": {"even": str(i % 2 == 0).lower()}},
                "data": {"v": "b2xk"},
            },
        )
    path = f"/api/v1/namespaces/{ns}/{resource}"
    _, first = raw("GET", f"{path}?limit=2")
    assert names(first["items"]) == ["item-0", "item-1"]
    assert first["metadata"]["remainingItemCount"] == 3
    snapshot = first["metadata"]["resourceVersion"]

    # Changes between pages do not show: later pages read the first page's revision.
    raw("PATCH", f"{path}/item-3", {"data": {"v": "bmV3"}}, MERGE)
    raw("DELETE", f"{path}/item-4")
    create(ns, {"metadata": {"name": "item-9"}})

    _, second = raw("GET", f"{path}?limit=2&continue={first['metadata']['continue']}")
    assert names(second["items"]) == ["item-2", "item-3"]
    assert second["metadata"]["resourceVersion"] == snapshot
    assert second["metadata"]["remainingItemCount"] == 1
    assert second["items"][1]["data"] == {"v": "b2xk"}
    _, last = raw("GET", f"{path}?limit=2&continue={second['metadata']['continue']}")
    assert names(last["items"]) == ["item-4"]
    assert last["metadata"]["resourceVersion"] == snapshot
    assert "continue" not in last["metadata"] and "remainingItemCount" not in last["metadata"]

    # With a selector the server cannot count what is left: a continue token but no remainingItemCount.
    _, selected = raw("GET", f"{path}?limit=1&labelSelector=even%3Dtrue")
    assert names(selected["items"]) == ["item-0"]
    assert selected["metadata"]["continue"] and "remainingItemCount" not in selected["metadata"]


def test_continue_token_after_compaction_is_410(backend: Backend, core: client.CoreV1Api, ns: str) -> None:
    configmaps(core, ns, "a", "b", "c")
    first = core.list_namespaced_config_map(ns, limit=1)
    core.create_namespaced_config_map(ns, {"metadata": {"name": "later"}})
    backend.expire_history("configmaps")
    with pytest.raises(ApiException) as err:
        core.list_namespaced_config_map(ns, limit=1, _continue=first.metadata._continue)
    status = status_of(err.value)
    assert (err.value.status, status["reason"], status["code"]) == (410, "Expired", 410)
    assert status["message"].startswith(
        "The provided continue parameter is too old to display a consistent "
        "list result. You can start a new list without the continue parameter"
    )
    assert names(core.list_namespaced_config_map(ns, limit=10).items) == ["a", "b", "c", "later"]


def test_expired_continue_token_offers_an_inconsistent_continuation(
    backend: Backend, raw: Raw, core: client.CoreV1Api, ns: str
) -> None:
    configmaps(core, ns, "a", "b", "c")
    _, first = raw("GET", f"/api/v1/namespaces/{ns}/configmaps?limit=1")
    core.create_namespaced_config_map(ns, {"metadata": {"name": "later"}})
    backend.expire_history("configmaps")
    status, gone = raw("GET", f"/api/v1/namespaces/{ns}/configmaps?limit=1&continue={first['metadata']['continue']}")
    assert (status, gone["reason"]) == (410, "Expired")
    assert gone["message"].endswith(
        "Continuing with the provided token results in an inconsistent list - "
        "objects that were created, modified, or deleted between the time the first "
        "chunk was returned and now may show up in the list."
    )
    status, rest = raw("GET", f"/api/v1/namespaces/{ns}/configmaps?limit=10&continue={gone['metadata']['continue']}")
    assert status == 200
    assert names(rest["items"]) == ["b", "c", "later"]


# -- watch ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("resource", ["configmaps", "secrets"])
def test_watch_from_a_resource_version_replays_events_in_order(core: client.CoreV1Api, ns: str, resource: str) -> None:
    kind = {"configmaps": "config_map", "secrets": "secret"}[resource]
    create = getattr(core, f"create_namespaced_{kind}")
    patch = getattr(core, f"patch_namespaced_{kind}")
    delete = getattr(core, f"delete_namespaced_{kind}")
    rv0 = getattr(core, f"list_namespaced_{kind}")(ns).metadata.resource_version
    create(ns, {"metadata": {"name": "a"}})
    patch("a", ns, {"metadata": {"labels": {"step": "2"}}})
    create(ns, {"metadata": {"name": "b"}})
    delete("a", ns)
    events = read_events(
        watch(getattr(core, f"list_namespaced_{kind}"), ns, resource_version=rv0, timeout_seconds=10), 4
    )
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in events] == [
        ("ADDED", "a"),
        ("MODIFIED", "a"),
        ("ADDED", "b"),
        ("DELETED", "a"),
    ]
    rvs = [int(e["object"]["metadata"]["resourceVersion"]) for e in events]
    assert rvs == sorted(set(rvs)) and rvs[0] > int(rv0)
    assert events[1]["object"]["metadata"]["labels"] == {"step": "2"}
    assert all(e["object"]["kind"] == ("ConfigMap" if resource == "configmaps" else "Secret") for e in events)


@pytest.mark.parametrize("resource", ["configmaps", "secrets"])
def test_filtered_watch_turns_leaving_the_selection_into_deleted(
    core: client.CoreV1Api, ns: str, resource: str
) -> None:
    kind = {"configmaps": "config_map", "secrets": "secret"}[resource]
    list_fn = getattr(core, f"list_namespaced_{kind}")
    patch = getattr(core, f"patch_namespaced_{kind}")
    getattr(core, f"create_namespaced_{kind}")(ns, {"metadata": {"name": "x", "labels": {"sel": "no"}}})
    rv0 = list_fn(ns).metadata.resource_version
    patch("x", ns, {"metadata": {"labels": {"sel": "yes"}}})
    patch("x", ns, {"metadata": {"labels": {"sel": "yes", "more": "1"}}})
    patch("x", ns, {"metadata": {"labels": {"sel": "no"}}})
    events = read_events(watch(list_fn, ns, resource_version=rv0, label_selector="sel=yes", timeout_seconds=10), 3)
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in events] == [
        ("ADDED", "x"),
        ("MODIFIED", "x"),
        ("DELETED", "x"),
    ]
    assert [e["object"]["metadata"]["labels"] for e in events[:2]] == [
        {"sel": "yes"},
        {"sel": "yes", "more": "1"},
    ]
    rvs = [int(e["object"]["metadata"]["resourceVersion"]) for e in events]
    assert rvs == sorted(set(rvs))


@pytest.mark.parametrize("resource", ["configmaps", "secrets"])
def test_leaving_the_selection_shows_the_last_matching_state(core: client.CoreV1Api, ns: str, resource: str) -> None:
    kind = {"configmaps": "config_map", "secrets": "secret"}[resource]
    list_fn = getattr(core, f"list_namespaced_{kind}")
    patch = getattr(core, f"patch_namespaced_{kind}")
    getattr(core, f"create_namespaced_{kind}")(ns, {"metadata": {"name": "x", "labels": {"sel": "yes"}}})
    rv0 = list_fn(ns).metadata.resource_version
    left = patch("x", ns, {"metadata": {"labels": {"sel": "no"}}})
    events = read_events(watch(list_fn, ns, resource_version=rv0, label_selector="sel=yes", timeout_seconds=10), 1)
    assert events[0]["type"] == "DELETED"
    assert events[0]["object"]["metadata"]["labels"] == {"sel": "yes"}
    assert events[0]["object"]["metadata"]["resourceVersion"] == left.metadata.resource_version


def test_bookmarks_only_when_asked_and_after_progress(core: client.CoreV1Api, ns: str) -> None:
    """timeoutSeconds=4 and one change: the real server sends one bookmark ~2 s before the end."""
    rv0 = core.list_namespaced_secret(ns).metadata.resource_version
    with_bookmarks = watch(
        core.list_namespaced_secret, ns, resource_version=rv0, allow_watch_bookmarks=True, timeout_seconds=4
    )
    without = watch(core.list_namespaced_secret, ns, resource_version=rv0, timeout_seconds=4)
    created = core.create_namespaced_secret(ns, {"metadata": {"name": "s"}})
    events = read_events(with_bookmarks)  # to the end of the stream
    plain = read_events(without)
    assert [e["type"] for e in plain] == ["ADDED"]
    assert events[0]["type"] == "ADDED"
    bookmarks = [e for e in events[1:] if e["type"] == "BOOKMARK"]
    assert bookmarks and len(bookmarks) == len(events) - 1
    last = bookmarks[-1]["object"]
    assert (last["kind"], last["apiVersion"]) == ("Secret", "v1")
    assert set(last["metadata"]) == {"resourceVersion"}
    assert int(last["metadata"]["resourceVersion"]) >= int(created.metadata.resource_version)


def test_idle_watch_gets_no_bookmark(core: client.CoreV1Api, ns: str) -> None:
    rv0 = core.list_namespaced_secret(ns).metadata.resource_version
    events = read_events(
        watch(
            core.list_namespaced_secret,
            ns,
            resource_version=rv0,
            allow_watch_bookmarks=True,
            timeout_seconds=3,
        )
    )
    assert events == []


def test_watch_without_resource_version_ends_initial_events_with_a_bookmark(core: client.CoreV1Api, ns: str) -> None:
    core.create_namespaced_secret(ns, {"metadata": {"name": "s"}})
    events = read_events(
        watch(core.list_namespaced_secret, ns, allow_watch_bookmarks=True, timeout_seconds=10),
        until=lambda e: e["type"] == "BOOKMARK",
        deadline=5,
    )
    assert [e["type"] for e in events] == ["ADDED", "BOOKMARK"]
    assert events[1]["object"]["metadata"]["annotations"] == {"k8s.io/initial-events-end": "true"}


@pytest.mark.parametrize("resource", ["configmaps", "secrets"])
def test_watch_list_streams_initial_events_then_an_annotated_bookmark(
    core: client.CoreV1Api, ns: str, resource: str
) -> None:
    kind = {"configmaps": "config_map", "secrets": "secret"}[resource]
    for name in ("a", "b"):
        getattr(core, f"create_namespaced_{kind}")(ns, {"metadata": {"name": name}})
    rv = getattr(core, f"list_namespaced_{kind}")(ns).metadata.resource_version
    events = read_events(
        watch(
            getattr(core, f"list_namespaced_{kind}"),
            ns,
            send_initial_events=True,
            resource_version_match="NotOlderThan",
            allow_watch_bookmarks=True,
            timeout_seconds=10,
        ),
        until=lambda e: e["type"] == "BOOKMARK",
        deadline=5,
    )
    assert [(e["type"], e["object"]["metadata"].get("name")) for e in events] == [
        ("ADDED", "a"),
        ("ADDED", "b"),
        ("BOOKMARK", None),
    ]
    meta = events[-1]["object"]["metadata"]
    assert meta["annotations"] == {"k8s.io/initial-events-end": "true"}
    assert int(meta["resourceVersion"]) >= int(rv)


def test_pod_bookmark_is_a_serialized_empty_pod(core: client.CoreV1Api, ns: str) -> None:
    events = read_events(
        watch(
            core.list_namespaced_pod,
            ns,
            send_initial_events=True,
            resource_version_match="NotOlderThan",
            allow_watch_bookmarks=True,
            timeout_seconds=10,
        ),
        until=lambda e: e["type"] == "BOOKMARK",
        deadline=5,
    )
    bookmark = events[-1]["object"]
    assert {k: v for k, v in bookmark.items() if k != "metadata"} == {
        "kind": "Pod",
        "apiVersion": "v1",
        "spec": {"containers": None},
        "status": {},
    }


def test_watch_from_an_expired_resource_version_is_410(backend: Backend, core: client.CoreV1Api, ns: str) -> None:
    rv0 = configmaps(core, ns, "a")[0]
    for i in range(3):
        core.patch_namespaced_config_map("a", ns, {"data": {"v": str(i)}})
    backend.expire_history("configmaps")

    try:
        events = read_events(watch(core.list_namespaced_config_map, ns, resource_version=rv0, timeout_seconds=10))
    except ApiException as exc:  # a server may also refuse it with a plain HTTP 410
        assert exc.status == 410
        status = status_of(exc)
    else:
        assert [e["type"] for e in events] == ["ERROR"], events
        status = events[0]["object"]
    assert (status["kind"], status["apiVersion"], status["status"]) == ("Status", "v1", "Failure")
    assert (status["code"], status["reason"]) == (410, "Expired")

    with pytest.raises(ApiException) as err:
        core.list_namespaced_config_map(ns, resource_version=rv0, resource_version_match="Exact")
    assert (err.value.status, status_of(err.value)["reason"]) == (410, "Expired")

    # A fresh list gives a resourceVersion to watch from again.
    rv = core.list_namespaced_config_map(ns).metadata.resource_version
    resp = watch(core.list_namespaced_config_map, ns, resource_version=rv, timeout_seconds=10)
    core.create_namespaced_config_map(ns, {"metadata": {"name": "after"}})
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in read_events(resp, 1)] == [("ADDED", "after")]


def test_expired_resource_version_messages(backend: Backend, core: client.CoreV1Api, ns: str) -> None:
    rv0 = configmaps(core, ns, "a")[0]
    for v in ("2", "3"):  # see test_watch_from_just_before_the_compaction_is_a_500 for why two
        core.patch_namespaced_config_map("a", ns, {"data": {"v": v}})
    backend.expire_history("configmaps")
    events = read_events(watch(core.list_namespaced_config_map, ns, resource_version=rv0, timeout_seconds=10))
    assert events[0]["object"]["message"] == "The resourceVersion for the provided watch is too old."
    with pytest.raises(ApiException) as err:
        core.list_namespaced_config_map(ns, resource_version=rv0, resource_version_match="Exact")
    assert status_of(err.value)["message"] == "The resourceVersion for the provided list is too old."


@pytest.mark.realapi
def test_watch_from_just_before_the_compaction_is_a_500(real_backend: Any) -> None:
    """A real-server edge the simulator cannot produce: a watch from exactly one revision before the
    compaction point starts at the compacted revision, whose event has no previous value in etcd, and
    gets an ERROR event with a 500 InternalError, not a 410. A client must relist on any ERROR."""
    core = client.CoreV1Api(real_backend.api_client())
    ns = real_backend.unique_namespace("edge")
    rv0 = configmaps(core, ns, "a")[0]
    core.patch_namespaced_config_map("a", ns, {"data": {"v": "2"}})
    real_backend.expire_history("configmaps")
    events = read_events(watch(core.list_namespaced_config_map, ns, resource_version=rv0, timeout_seconds=10))
    assert [e["type"] for e in events] == ["ERROR"]
    status = events[0]["object"]
    assert (status["code"], status["reason"]) == (500, "InternalError")
    assert status["message"].startswith("Internal error occurred: etcd event received with PrevKv=nil")


# -- patch -----------------------------------------------------------------------------------------------


def test_json_patch_with_escaped_keys_and_a_failed_test(core: client.CoreV1Api, ns: str) -> None:
    core.create_namespaced_config_map(
        ns, {"metadata": {"name": "j", "labels": {"istio.io/rev": "1-26"}}, "data": {"a": "1", "b": "2"}}
    )
    cm = core.patch_namespaced_config_map(
        "j",
        ns,
        [
            {"op": "remove", "path": "/metadata/labels/istio.io~1rev"},
            {"op": "add", "path": "/metadata/labels/istio-injection", "value": "enabled"},
            {"op": "replace", "path": "/data/a", "value": "10"},
            {"op": "remove", "path": "/data/b"},
        ],
    )
    assert cm.metadata.labels == {"istio-injection": "enabled"}
    assert cm.data == {"a": "10"}
    with pytest.raises(ApiException) as err:
        core.patch_namespaced_config_map(
            "j",
            ns,
            [
                {"op": "test", "path": "/metadata/resourceVersion", "value": "1"},
                {"op": "add", "path": "/data/c", "value": "3"},
            ],
        )
    assert (err.value.status, status_of(err.value)["reason"]) == (422, "Invalid")
    assert core.read_namespaced_config_map("j", ns).metadata.resource_version == cm.metadata.resource_version


def test_merge_patch_null_removes(core: client.CoreV1Api, ns: str) -> None:
    core.create_namespaced_config_map(
        ns, {"metadata": {"name": "m", "labels": {"a": "1", "b": "2"}}, "data": {"x": "1", "y": "2"}}
    )
    cm = core.patch_namespaced_config_map(
        "m", ns, {"metadata": {"labels": {"a": None, "c": "3"}}, "data": {"y": None}}, _content_type=MERGE
    )
    assert cm.metadata.labels == {"b": "2", "c": "3"}
    assert cm.data == {"x": "1"}


def _deployment(name: str) -> dict[str, Any]:
    return {
        "metadata": {"name": name},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}, "annotations": {"keep": "me"}},
                "spec": {
                    "containers": [
                        {"name": "app", "image": "example/app:1", "env": [{"name": "A", "value": "1"}]},
                        {"name": "helper", "image": "example/helper:1"},
                    ]
                },
            },
        },
    }


def test_strategic_merge_on_a_deployment_template(apps: client.AppsV1Api, ns: str) -> None:
    apps.create_namespaced_deployment(ns, _deployment("web"))
    stamp = "2026-01-01T00:00:00Z"
    dep = apps.patch_namespaced_deployment(
        "web",
        ns,
        {"spec": {"template": {"metadata": {"annotations": {"kubectl.kubernetes.io/restartedAt": stamp}}}}},
        _content_type=STRATEGIC,
    )
    assert dep.spec.template.metadata.annotations == {
        "keep": "me",
        "kubectl.kubernetes.io/restartedAt": stamp,
    }
    assert dep.metadata.generation == 2

    dep = apps.patch_namespaced_deployment(
        "web",
        ns,
        {
            "spec": {
                "template": {
                    "spec": {
                        "containers": [{"name": "app", "image": "example/app:2", "env": [{"name": "B", "value": "2"}]}]
                    }
                }
            }
        },
        _content_type=STRATEGIC,
    )
    containers = {c.name: c for c in dep.spec.template.spec.containers}
    assert set(containers) == {"app", "helper"}
    assert containers["app"].image == "example/app:2"
    assert containers["helper"].image == "example/helper:1"
    assert sorted((e.name, e.value) for e in containers["app"].env) == [("A", "1"), ("B", "2")]
    assert dep.metadata.generation == 3

    dep = apps.patch_namespaced_deployment(
        "web",
        ns,
        {"spec": {"template": {"spec": {"containers": [{"name": "helper", "$patch": "delete"}]}}}},
        _content_type=STRATEGIC,
    )
    assert [c.name for c in dep.spec.template.spec.containers] == ["app"]
    unchanged = apps.patch_namespaced_deployment(
        "web", ns, {"metadata": {"labels": {"x": "y"}}}, _content_type=STRATEGIC
    )
    assert unchanged.metadata.generation == 4  # metadata-only changes do not bump the generation


def test_strategic_merge_list_order(apps: client.AppsV1Api, ns: str) -> None:
    apps.create_namespaced_deployment(ns, _deployment("order"))
    dep = apps.patch_namespaced_deployment(
        "order",
        ns,
        {
            "spec": {
                "template": {
                    "spec": {
                        "containers": [
                            {"name": "helper", "image": "example/helper:2"},
                            {"name": "app", "env": [{"name": "B", "value": "2"}]},
                        ]
                    }
                }
            }
        },
        _content_type=STRATEGIC,
    )
    containers = dep.spec.template.spec.containers
    assert [c.name for c in containers] == ["helper", "app"]
    assert [e.name for e in containers[1].env] == ["B", "A"]


def test_deployment_defaults(apps: client.AppsV1Api, ns: str) -> None:
    dep = apps.create_namespaced_deployment(ns, _deployment("defaults"))
    assert dep.spec.strategy.type == "RollingUpdate"
    assert (dep.spec.strategy.rolling_update.max_surge, dep.spec.strategy.rolling_update.max_unavailable) == (
        "25%",
        "25%",
    )
    assert (dep.spec.revision_history_limit, dep.spec.progress_deadline_seconds) == (10, 600)
    assert dep.spec.template.spec.restart_policy == "Always"
    assert dep.spec.template.spec.containers[0].image_pull_policy == "IfNotPresent"


def _apply(raw: Raw, ns: str, manager: str, data: dict[str, str], force: bool = False) -> tuple[int, dict[str, Any]]:
    body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "applied"}, "data": data}
    query = f"fieldManager={manager}" + ("&force=true" if force else "")
    return raw("PATCH", f"/api/v1/namespaces/{ns}/configmaps/applied?{query}", body, APPLY)


def test_server_side_apply_creates_then_updates(core: client.CoreV1Api, raw: Raw, ns: str) -> None:
    status, created = _apply(raw, ns, "meshtui", {"a": "1"})
    assert (status, created["data"]) == (201, {"a": "1"})
    status, updated = _apply(raw, ns, "meshtui", {"a": "1", "b": "2"})
    assert (status, updated["data"]) == (200, {"a": "1", "b": "2"})
    yaml_body = b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: applied\ndata:\n  a: '1'\n  b: '3'\n"
    status, _ = raw("PATCH", f"/api/v1/namespaces/{ns}/configmaps/applied?fieldManager=meshtui", yaml_body, APPLY)
    assert status == 200
    assert core.read_namespaced_config_map("applied", ns).data == {"a": "1", "b": "3"}
    status, missing = raw(
        "PATCH",
        f"/api/v1/namespaces/{ns}/configmaps/applied",
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "applied"}},
        APPLY,
    )
    assert (status, missing["reason"]) == (422, "Invalid")
    assert missing["message"] == (
        'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required for apply patch'
    )


@pytest.mark.sim_differs(
    "server-side apply never conflicts; the real server answers 409 when another "
    "manager owns a field with a different value, unless force=true"
)
def test_server_side_apply_conflicts_between_managers(raw: Raw, ns: str) -> None:
    _apply(raw, ns, "alice", {"x": "1"})
    status, body = _apply(raw, ns, "bob", {"x": "2"})
    assert (status, body["reason"], body["code"]) == (409, "Conflict", 409)
    assert body["message"] == 'Apply failed with 1 conflict: conflict with "alice": .data.x'
    assert body["details"]["causes"] == [
        {"reason": "FieldManagerConflict", "message": 'conflict with "alice"', "field": ".data.x"}
    ]
    status, forced = _apply(raw, ns, "bob", {"x": "2"}, force=True)
    assert (status, forced["data"]) == (200, {"x": "2"})
    assert [(f["manager"], f["operation"]) for f in forced["metadata"]["managedFields"]] == [("bob", "Apply")]


@pytest.mark.sim_differs(
    "server-side apply only adds and changes fields; on the real server a field the "
    "manager applied before and omits now is removed (when no one else owns it)"
)
def test_server_side_apply_removes_fields_the_manager_dropped(raw: Raw, ns: str) -> None:
    _apply(raw, ns, "meshtui", {"a": "1", "b": "2"})
    status, body = _apply(raw, ns, "meshtui", {"a": "1"})
    assert (status, body["data"]) == (200, {"a": "1"})


def test_stale_resource_version_is_409_on_put_and_on_patch(core: client.CoreV1Api, ns: str) -> None:
    core.create_namespaced_config_map(ns, {"metadata": {"name": "cm"}, "data": {"a": "1"}})
    stale = core.read_namespaced_config_map("cm", ns)
    core.patch_namespaced_config_map("cm", ns, {"data": {"a": "2"}})
    stale.data = {"a": "mine"}
    expected = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": CONFLICT_MESSAGE.format(what="configmaps", name="cm"),
        "reason": "Conflict",
        "details": {"name": "cm", "kind": "configmaps"},
        "code": 409,
    }
    with pytest.raises(ApiException) as err:
        core.replace_namespaced_config_map("cm", ns, stale)
    assert (err.value.status, status_of(err.value)) == (409, expected)
    for content_type in (MERGE, STRATEGIC):
        with pytest.raises(ApiException) as err:
            core.patch_namespaced_config_map(
                "cm",
                ns,
                {"metadata": {"resourceVersion": stale.metadata.resource_version}, "data": {"a": "3"}},
                _content_type=content_type,
            )
        assert (err.value.status, status_of(err.value)) == (409, expected)
    current = core.read_namespaced_config_map("cm", ns)
    assert current.data == {"a": "2"}
    fresh = {"metadata": {"resourceVersion": current.metadata.resource_version}, "data": {"a": "4"}}
    assert core.patch_namespaced_config_map("cm", ns, fresh, _content_type=MERGE).data == {"a": "4"}


# -- dry run -------------------------------------------------------------------------------------------


def test_dry_run_persists_nothing(core: client.CoreV1Api, apps: client.AppsV1Api, ns: str) -> None:
    apps.create_namespaced_deployment(ns, _deployment("dep"))
    rv0 = core.list_namespaced_config_map(ns).metadata.resource_version
    created = core.create_namespaced_config_map(ns, {"metadata": {"name": "dry"}, "data": {"a": "1"}}, dry_run="All")
    assert created.metadata.name == "dry" and created.metadata.uid and created.data == {"a": "1"}
    pod = core.create_namespaced_pod(
        ns,
        {"metadata": {"name": "dry-pod"}, "spec": {"containers": [{"name": "c", "image": "i"}]}},
        dry_run="All",
    )
    assert pod.metadata.name == "dry-pod"
    patched = core.patch_namespace(ns, {"metadata": {"labels": {"istio.io/rev": "1-27"}}}, dry_run="All")
    assert patched.metadata.labels["istio.io/rev"] == "1-27"
    dep = apps.read_namespaced_deployment("dep", ns)
    dep.spec.replicas = 5
    assert apps.replace_namespaced_deployment("dep", ns, dep, dry_run="All").spec.replicas == 5
    apps.delete_namespaced_deployment("dep", ns, dry_run="All")

    for read in (
        lambda: core.read_namespaced_config_map("dry", ns),
        lambda: core.read_namespaced_pod("dry-pod", ns),
    ):
        with pytest.raises(ApiException) as err:
            read()
        assert err.value.status == 404
    assert "istio.io/rev" not in (core.read_namespace(ns).metadata.labels or {})
    assert apps.read_namespaced_deployment("dep", ns).spec.replicas == 2

    # No event either: the first change a watch from before the dry runs sees is a real one.
    resp = watch(core.list_namespaced_config_map, ns, resource_version=rv0, timeout_seconds=10)
    core.create_namespaced_config_map(ns, {"metadata": {"name": "real"}})
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in read_events(resp, 1)] == [("ADDED", "real")]


def test_dry_run_create_has_no_resource_version(core: client.CoreV1Api, ns: str) -> None:
    created = core.create_namespaced_config_map(ns, {"metadata": {"name": "dry"}}, dry_run="All")
    assert created.metadata.resource_version is None


# -- metadata-only -------------------------------------------------------------------------------------


def test_metadata_only_list_and_watch(raw: Raw, core: client.CoreV1Api, ns: str) -> None:
    configmaps(core, ns, "a", "b", labels={"tier": "x"})
    status, body = raw("GET", f"/api/v1/namespaces/{ns}/configmaps", accept=META_LIST)
    assert status == 200
    assert (body["kind"], body["apiVersion"]) == ("PartialObjectMetadataList", "meta.k8s.io/v1")
    assert body["metadata"]["resourceVersion"]
    assert names(body["items"]) == ["a", "b"]
    for item in body["items"]:
        assert set(item) == {"kind", "apiVersion", "metadata"}
        assert (item["kind"], item["apiVersion"]) == ("PartialObjectMetadata", "meta.k8s.io/v1")
        assert item["metadata"]["labels"] == {"tier": "x"} and item["metadata"]["resourceVersion"]
    _, page = raw("GET", f"/api/v1/namespaces/{ns}/configmaps?limit=1", accept=META_LIST)
    assert page["metadata"]["remainingItemCount"] == 1 and page["metadata"]["continue"]

    _, one = raw("GET", f"/api/v1/namespaces/{ns}/configmaps/a", accept=META)
    assert (one["kind"], one["metadata"]["name"]) == ("PartialObjectMetadata", "a")
    assert "data" not in one

    resp = watch(
        core.list_namespaced_config_map,
        ns,
        resource_version=body["metadata"]["resourceVersion"],
        timeout_seconds=10,
        _headers={"Accept": META},
    )
    core.create_namespaced_config_map(ns, {"metadata": {"name": "c"}, "data": {"secret": "no"}})
    core.delete_namespaced_config_map("a", ns)
    events = read_events(resp, 2)
    assert [(e["type"], e["object"]["kind"], e["object"]["metadata"]["name"]) for e in events] == [
        ("ADDED", "PartialObjectMetadata", "c"),
        ("DELETED", "PartialObjectMetadata", "a"),
    ]
    assert all(set(e["object"]) == {"kind", "apiVersion", "metadata"} for e in events)


# -- selectors -----------------------------------------------------------------------------------------


def _selector_pods(backend: Backend) -> str:
    """One namespace of pods per backend and session: labels, and phases set through /status."""
    cached = getattr(backend, "_selector_ns", None)
    if cached:
        return str(cached)
    api = backend.api_client()
    core = client.CoreV1Api(api)
    ns = backend.unique_namespace("sel")
    pods = {
        "web-1": ({"app": "web", "tier": "front", "app.kubernetes.io/instance": "x", "rank": "1"}, "Running"),
        "web-2": ({"app": "web", "tier": "front", "rank": "2"}, "Pending"),
        "cart-1": ({"app": "cart", "tier": "back", "domain": "a", "rank": "3"}, "Running"),
        "job-1": ({"app": "job", "flag": ""}, "Succeeded"),
        "bare-1": ({}, None),
    }
    for name, (labels, phase) in pods.items():
        core.create_namespaced_pod(
            ns,
            {
                "metadata": {"name": name, "labels": labels},
                "spec": {"containers": [{"name": "c", "image": "example/c:1"}]},
            },
        )
        if phase:
            core.patch_namespaced_pod_status(name, ns, {"status": {"phase": phase}}, _content_type=MERGE)
    backend._selector_ns = ns  # type: ignore[attr-defined]
    return ns


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        ("app=web", ["web-1", "web-2"]),
        ("app==web", ["web-1", "web-2"]),
        ("app!=web", ["bare-1", "cart-1", "job-1"]),
        ("app in (web,cart)", ["cart-1", "web-1", "web-2"]),
        ("app notin (web,cart)", ["bare-1", "job-1"]),
        ("tier", ["cart-1", "web-1", "web-2"]),
        ("!tier", ["bare-1", "job-1"]),
        ("app=web,tier=front", ["web-1", "web-2"]),
        ("app,!tier", ["job-1"]),
        ("app=nothing", []),
        # Keys and values that contain the letters "in" are not operators.
        ("app.kubernetes.io/instance in (x)", ["web-1"]),
        ("domain in (a)", ["cart-1"]),
        ("domain notin (a)", ["bare-1", "job-1", "web-1", "web-2"]),
        # The empty value: `()`, `a=`, empty list items.
        ("flag in ()", ["job-1"]),
        ("flag notin ()", ["bare-1", "cart-1", "web-1", "web-2"]),
        ("flag=", ["job-1"]),
        ("flag!=", ["bare-1", "cart-1", "web-1", "web-2"]),
        ("flag in (x,,y)", ["job-1"]),
        ("app in (,web)", ["web-1", "web-2"]),
        # Whitespace is optional around symbols and ignored elsewhere.
        ("  app = web ,\ttier  ", ["web-1", "web-2"]),
        ("app in(web,cart),!domain", ["web-1", "web-2"]),
        ("app notin(web)", ["bare-1", "cart-1", "job-1"]),
        ("app in ( web , job )", ["job-1", "web-1", "web-2"]),
        # Gt and Lt compare integers.
        ("rank>1", ["cart-1", "web-2"]),
        ("rank<2", ["web-1"]),
    ],
)
def test_label_selectors(backend: Backend, core: client.CoreV1Api, selector: str, expected: list[str]) -> None:
    ns = _selector_pods(backend)
    assert sorted(names(core.list_namespaced_pod(ns, label_selector=selector).items)) == expected


@pytest.mark.parametrize(
    ("selector", "message"),
    [
        ("app in (", "unable to parse requirement: found '', expected: ',', ')' or identifier"),
        ("app in (a", "unable to parse requirement: found '', expected: ',' or ')'"),
        ("app in a", "unable to parse requirement: found 'a' expected: '('"),
        ("app b", "unable to parse requirement: found 'b', expected: in, notin, =, ==, !=, gt, lt"),
        ("app=b c", "found 'c', expected: ',' or 'end of string'"),
        ("app=b,", "found '', expected: identifier after ','"),
        ("=b", "found '=', expected: !, identifier, or 'end of string'"),
        ("!a=b", "found '=', expected: ',' or 'end of string'"),
        (
            "rank>x",
            'unable to parse requirement: values[0]: Invalid value: "x": '
            "for 'Gt', 'Lt' operators, the value must be an integer",
        ),
        (
            "a/b/c",
            'unable to parse requirement: <nil>: Invalid value: "a/b/c": a valid label key must consist of '
            "alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character "
            "(e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is "
            "'([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS subdomain prefix and '/' "
            "(e.g. 'example.com/MyName')",
        ),
        (
            "app=-x",
            'unable to parse requirement: values[0][app]: Invalid value: "-x": a valid label must be an empty '
            "string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
            "alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is "
            "'(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')",
        ),
    ],
)
def test_malformed_label_selectors_answer_400(raw: Raw, backend: Backend, selector: str, message: str) -> None:
    ns = _selector_pods(backend)
    status, answer = raw("GET", f"/api/v1/namespaces/{ns}/pods?labelSelector={quote(selector)}")
    assert (status, answer["reason"], answer["message"]) == (400, "BadRequest", message)


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        ("metadata.name=web-1", ["web-1"]),
        ("metadata.name!=web-1", ["bare-1", "cart-1", "job-1", "web-2"]),
        ("status.phase=Running", ["cart-1", "web-1"]),
        ("status.phase!=Running", ["bare-1", "job-1", "web-2"]),
        ("status.phase=Succeeded,metadata.name=job-1", ["job-1"]),
        pytest.param(
            "status.phase=Pending",
            ["bare-1", "web-2"],
        ),
    ],
)
def test_field_selectors_on_pods(backend: Backend, core: client.CoreV1Api, selector: str, expected: list[str]) -> None:
    ns = _selector_pods(backend)
    assert sorted(names(core.list_namespaced_pod(ns, field_selector=selector).items)) == expected


def test_namespace_field_selector_across_namespaces(backend: Backend, core: client.CoreV1Api) -> None:
    ns = _selector_pods(backend)
    found = core.list_pod_for_all_namespaces(field_selector=f"metadata.namespace={ns}").items
    assert sorted(names(found)) == ["bare-1", "cart-1", "job-1", "web-1", "web-2"]
    both = core.list_pod_for_all_namespaces(
        field_selector=f"metadata.namespace={ns},status.phase=Running", label_selector="tier=front"
    )
    assert names(both.items) == ["web-1"]


def test_create_ignores_status(core: client.CoreV1Api, ns: str) -> None:
    pod = core.create_namespaced_pod(
        ns,
        {
            "metadata": {"name": "p"},
            "spec": {"containers": [{"name": "c", "image": "example/c:1"}]},
            "status": {"phase": "Running"},
        },
    )
    assert pod.status.phase == "Pending"


def test_create_fills_in_pdb_status_and_pod_generation(api: client.ApiClient, core: client.CoreV1Api, ns: str) -> None:
    pdb = client.PolicyV1Api(api).create_namespaced_pod_disruption_budget(
        ns,
        {"metadata": {"name": "pdb"}, "spec": {"minAvailable": 1, "selector": {"matchLabels": {"app": "x"}}}},
    )
    assert (pdb.status.disruptions_allowed, pdb.status.current_healthy, pdb.status.expected_pods) == (0, 0, 0)
    pod = core.create_namespaced_pod(
        ns, {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "example/c:1"}]}}
    )
    assert pod.metadata.generation == 1
    assert (pod.status.phase, pod.status.qos_class) == ("Pending", "BestEffort")


def test_status_subresource_writes_status_and_the_main_resource_ignores_it(core: client.CoreV1Api, ns: str) -> None:
    core.create_namespaced_pod(ns, {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "i"}]}})
    pod = core.patch_namespaced_pod_status(
        "p", ns, {"spec": {"activeDeadlineSeconds": 5}, "status": {"phase": "Running"}}, _content_type=MERGE
    )
    assert pod.status.phase == "Running"
    assert pod.spec.active_deadline_seconds is None
    pod = core.patch_namespaced_pod("p", ns, {"status": {"phase": "Failed"}}, _content_type=MERGE)
    assert pod.status.phase == "Running"


def test_pod_status_subresource_also_writes_labels(core: client.CoreV1Api, ns: str) -> None:
    core.create_namespaced_pod(ns, {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "i"}]}})
    pod = core.patch_namespaced_pod_status(
        "p",
        ns,
        {"metadata": {"labels": {"via": "status"}}, "status": {"phase": "Running"}},
        _content_type=MERGE,
    )
    assert pod.metadata.labels == {"via": "status"}


# -- access reviews and the read-only user -------------------------------------------------------------


def _review(api: client.ApiClient, verb: str, resource: str, namespace: str, group: str = "") -> dict[str, Any]:
    resp = client.AuthorizationV1Api(api).create_self_subject_access_review(
        {
            "spec": {
                "resourceAttributes": {
                    "verb": verb,
                    "resource": resource,
                    "group": group,
                    "namespace": namespace,
                }
            }
        },
        _preload_content=False,
    )
    assert resp.status == 201
    body: dict[str, Any] = json.loads(resp.data)
    assert (body["kind"], body["apiVersion"]) == ("SelfSubjectAccessReview", "authorization.k8s.io/v1")
    return body


def test_self_subject_access_review_admin_and_viewer(backend: Backend, api: client.ApiClient, ns: str) -> None:
    assert _review(api, "create", "configmaps", ns)["status"]["allowed"] is True
    assert _review(api, "patch", "deployments", ns, "apps")["status"]["allowed"] is True
    with backend.viewer() as viewer:
        assert _review(viewer, "list", "pods", ns)["status"]["allowed"] is True
        assert _review(viewer, "watch", "deployments", ns, "apps")["status"]["allowed"] is True
        denied = _review(viewer, "create", "configmaps", ns)["status"]
        assert denied["allowed"] is False and not denied.get("denied")
        assert _review(viewer, "patch", "namespaces", "")["status"]["allowed"] is False

        core = client.CoreV1Api(viewer)
        assert names(core.list_namespaced_config_map(ns).items) == []
        with pytest.raises(ApiException) as err:
            core.create_namespaced_config_map(ns, {"metadata": {"name": "nope"}})
        status = status_of(err.value)
        assert (err.value.status, status["reason"], status["code"]) == (403, "Forbidden", 403)
        assert status["message"].startswith("configmaps is forbidden: User ")
        assert status["message"].endswith(
            f' cannot create resource "configmaps" in API group "" in the namespace "{ns}"'
        )
        assert status["details"]["kind"] == "configmaps"
    assert client.CoreV1Api(api).list_namespaced_config_map(ns).items == []


def test_forbidden_and_review_shapes(backend: Backend, api: client.ApiClient, ns: str) -> None:
    assert "creationTimestamp" not in _review(api, "get", "pods", ns)["metadata"]
    with backend.viewer() as viewer, pytest.raises(ApiException) as err:
        client.CoreV1Api(viewer).create_namespaced_config_map(ns, {"metadata": {"name": "nope"}})
    assert status_of(err.value)["details"] == {"kind": "configmaps"}


# -- leases --------------------------------------------------------------------------------------------


def _lease(name: str, holder: str, transitions: int = 0) -> dict[str, Any]:
    return {
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": {"name": name},
        "spec": {
            "holderIdentity": holder,
            "leaseDurationSeconds": 30,
            "leaseTransitions": transitions,
            "acquireTime": "2026-11-29T12:00:00.000000Z",
            "renewTime": "2026-11-29T12:00:05.123456Z",
        },
    }


def test_lease_create_update_and_conflicts(api: client.ApiClient, raw: Raw, ns: str) -> None:
    coord = client.CoordinationV1Api(api)
    path = f"/apis/coordination.k8s.io/v1/namespaces/{ns}/leases"
    status, created = raw("POST", path, _lease("meshtui-upgrade", "alice"))
    assert status == 201
    assert created["spec"]["renewTime"] == "2026-11-29T12:00:05.123456Z"
    assert created["spec"]["acquireTime"] == "2026-11-29T12:00:00.000000Z"

    status, dup = raw("POST", path, _lease("meshtui-upgrade", "bob"))
    assert (status, dup["reason"], dup["message"]) == (
        409,
        "AlreadyExists",
        'leases.coordination.k8s.io "meshtui-upgrade" already exists',
    )
    assert dup["details"] == {"name": "meshtui-upgrade", "group": "coordination.k8s.io", "kind": "leases"}

    takeover = _lease("meshtui-upgrade", "bob", transitions=1)
    takeover["metadata"]["resourceVersion"] = created["metadata"]["resourceVersion"]
    status, updated = raw("PUT", f"{path}/meshtui-upgrade", takeover)
    assert status == 200
    assert (updated["spec"]["holderIdentity"], updated["spec"]["leaseTransitions"]) == ("bob", 1)
    assert int(updated["metadata"]["resourceVersion"]) > int(created["metadata"]["resourceVersion"])

    stale = _lease("meshtui-upgrade", "carol", transitions=2)
    stale["metadata"]["resourceVersion"] = created["metadata"]["resourceVersion"]
    status, conflict = raw("PUT", f"{path}/meshtui-upgrade", stale)
    assert (status, conflict["reason"]) == (409, "Conflict")
    assert conflict["message"] == CONFLICT_MESSAGE.format(what="leases.coordination.k8s.io", name="meshtui-upgrade")
    assert conflict["details"] == {
        "name": "meshtui-upgrade",
        "group": "coordination.k8s.io",
        "kind": "leases",
    }
    assert coord.read_namespaced_lease("meshtui-upgrade", ns).spec.holder_identity == "bob"


def test_lease_times_must_be_micro_times(raw: Raw, ns: str) -> None:
    lease = _lease("coarse", "alice")
    lease["spec"]["renewTime"] = "2026-11-29T12:00:05Z"
    status, body = raw("POST", f"/apis/coordination.k8s.io/v1/namespaces/{ns}/leases", lease)
    assert (status, body["reason"]) == (400, "BadRequest")
    assert body["message"].startswith(
        'Lease in version "v1" cannot be handled as a Lease: parsing time "2026-11-29T12:00:05Z"'
    )


# -- error shapes ----------------------------------------------------------------------------------------

_RFC1123 = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and "
    "must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is "
    "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)

#: (method, path with {ns}, body, content type) -> the real server's Status (v1.37.2).
ERROR_CASES: dict[str, Any] = {
    "404-get": (
        ("GET", "/api/v1/namespaces/{ns}/configmaps/missing", None, "application/json"),
        {
            "code": 404,
            "reason": "NotFound",
            "message": 'configmaps "missing" not found',
            "details": {"name": "missing", "kind": "configmaps"},
        },
    ),
    "404-group": (
        ("GET", "/apis/apps/v1/namespaces/{ns}/deployments/missing", None, "application/json"),
        {
            "code": 404,
            "reason": "NotFound",
            "message": 'deployments.apps "missing" not found',
            "details": {"name": "missing", "group": "apps", "kind": "deployments"},
        },
    ),
    "404-namespace": (
        ("POST", "/api/v1/namespaces/{ns}-gone/configmaps", {"metadata": {"name": "x"}}, "application/json"),
        {
            "code": 404,
            "reason": "NotFound",
            "message": 'namespaces "{ns}-gone" not found',
            "details": {"name": "{ns}-gone", "kind": "namespaces"},
        },
    ),
    "409-exists": (
        ("POST", "/api/v1/namespaces/{ns}/configmaps", {"metadata": {"name": "exists"}}, "application/json"),
        {
            "code": 409,
            "reason": "AlreadyExists",
            "message": 'configmaps "exists" already exists',
            "details": {"name": "exists", "kind": "configmaps"},
        },
    ),
    "409-stale": (
        ("PATCH", "/api/v1/namespaces/{ns}/configmaps/exists", {"metadata": {"resourceVersion": "1"}}, MERGE),
        {
            "code": 409,
            "reason": "Conflict",
            "message": CONFLICT_MESSAGE.format(what="configmaps", name="exists"),
            "details": {"name": "exists", "kind": "configmaps"},
        },
    ),
    "422-name": pytest.param(
        (
            "POST",
            "/api/v1/namespaces/{ns}/configmaps",
            {"metadata": {"name": "Not_Valid"}},
            "application/json",
        ),
        {
            "code": 422,
            "reason": "Invalid",
            "message": f'ConfigMap "Not_Valid" is invalid: metadata.name: Invalid value: "Not_Valid": {_RFC1123}',
            "details": {
                "name": "Not_Valid",
                "kind": "ConfigMap",
                "causes": [
                    {
                        "reason": "FieldValueInvalid",
                        "message": f'Invalid value: "Not_Valid": {_RFC1123}',
                        "field": "metadata.name",
                    }
                ],
            },
        },
    ),
    "422-json-patch-test": pytest.param(
        (
            "PATCH",
            "/api/v1/namespaces/{ns}/configmaps/exists",
            [{"op": "test", "path": "/metadata/name", "value": "other"}],
            JSON_PATCH,
        ),
        {
            "code": 422,
            "reason": "Invalid",
            "message": "the server rejected our request due to an error in our request",
            "details": {},
        },
    ),
    "422-apply-without-manager": pytest.param(
        (
            "PATCH",
            "/api/v1/namespaces/{ns}/configmaps/exists",
            {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "exists"}},
            APPLY,
        ),
        {
            "code": 422,
            "reason": "Invalid",
            "message": 'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: '
            "is required for apply patch",
            "details": {
                "group": "meta.k8s.io",
                "kind": "PatchOptions",
                "causes": [
                    {
                        "reason": "FieldValueRequired",
                        "message": "Required value: is required for apply patch",
                        "field": "fieldManager",
                    }
                ],
            },
        },
    ),
    "400-field-selector": pytest.param(
        ("GET", "/api/v1/namespaces/{ns}/pods?fieldSelector=spec.foo%3Dbar", None, "application/json"),
        {"code": 400, "reason": "BadRequest", "message": "field label not supported: spec.foo"},
    ),
    "400-label-selector": pytest.param(
        ("GET", "/api/v1/namespaces/{ns}/pods?labelSelector=app%20in%20(", None, "application/json"),
        {
            "code": 400,
            "reason": "BadRequest",
            "message": "unable to parse requirement: found '', expected: ',', ')' or identifier",
        },
    ),
}


@pytest.mark.parametrize(("request_", "expected"), list(ERROR_CASES.values()), ids=list(ERROR_CASES))
def test_error_status_shapes(
    raw: Raw, core: client.CoreV1Api, ns: str, request_: Any, expected: dict[str, Any]
) -> None:
    core.create_namespaced_config_map(ns, {"metadata": {"name": "exists"}})
    method, path, body, content_type = request_
    status, answer = raw(method, path.format(ns=ns), body, content_type)
    want = json.loads(json.dumps(expected).replace("{ns}", ns))
    assert status == want["code"]
    assert answer == {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", **want}


def test_namespace_shape(raw: Raw, backend: Backend) -> None:
    name = unique("shape")
    status, created = raw("POST", "/api/v1/namespaces", {"metadata": {"name": name, "labels": {"a": "b"}}})
    assert status == 201
    assert created["metadata"]["labels"] == {"a": "b", "kubernetes.io/metadata.name": name}
    assert created["spec"] == {"finalizers": ["kubernetes"]}
    assert created["status"] == {"phase": "Active"}


def test_watch_events_stream_while_writes_race(core: client.CoreV1Api, ns: str) -> None:
    """Events written concurrently from several threads still arrive once each, in resourceVersion order."""
    rv0 = core.list_namespaced_config_map(ns).metadata.resource_version
    resp = watch(core.list_namespaced_config_map, ns, resource_version=rv0, timeout_seconds=20)

    def writer(prefix: str) -> None:
        for i in range(5):
            core.create_namespaced_config_map(ns, {"metadata": {"name": f"{prefix}-{i}"}})

    threads = [threading.Thread(target=writer, args=(p,)) for p in ("x", "y", "z")]
    start = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    events = read_events(resp, 15)
    assert time.monotonic() - start < 15
    assert sorted(names([e["object"] for e in events])) == sorted(f"{p}-{i}" for p in "xyz" for i in range(5))
    rvs = [int(e["object"]["metadata"]["resourceVersion"]) for e in events]
    assert rvs == sorted(rvs)


# -- webhook configurations ------------------------------------------------------------------------------


def _validator(name: str, client_config: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingWebhookConfiguration",
        "metadata": {"name": name},
        "webhooks": [
            {
                "name": "validation.meshtui.test",
                "clientConfig": client_config,
                "rules": [
                    {
                        "operations": ["CREATE"],
                        "apiGroups": ["meshtui.test"],
                        "apiVersions": ["*"],
                        "resources": ["*"],
                    }
                ],
                "sideEffects": "None",
                "admissionReviewVersions": ["v1"],
            }
        ],
    }


@pytest.mark.parametrize(
    "client_config",
    [
        {"caBundle": "Y2E="},
        {"url": "https://validator.example.com/validate", "service": {"name": "v", "namespace": "default"}},
    ],
    ids=["neither", "both"],
)
def test_a_webhook_needs_exactly_one_of_url_or_service(raw: Raw, client_config: dict[str, Any]) -> None:
    """What meshtui's default-validator rendering once got wrong for an istiod reached by URL."""
    name = unique("vwc")
    path = "/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations"
    status, answer = raw("POST", path, _validator(name, client_config))
    assert status == 422
    qualified = "ValidatingWebhookConfiguration.admissionregistration.k8s.io"
    assert answer == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": f'{qualified} "{name}" is invalid: webhooks[0].clientConfig: Required value: exactly one of '
        "url or service is required",
        "reason": "Invalid",
        "details": {
            "name": name,
            "group": "admissionregistration.k8s.io",
            "kind": "ValidatingWebhookConfiguration",
            "causes": [
                {
                    "reason": "FieldValueRequired",
                    "message": "Required value: exactly one of url or service is required",
                    "field": "webhooks[0].clientConfig",
                }
            ],
        },
        "code": 422,
    }
    assert raw("GET", f"{path}/{name}")[0] == 404
    status, created = raw("POST", path, _validator(name, {"url": "https://validator.example.com/validate"}))
    assert status == 201 and created["webhooks"][0]["clientConfig"] == {"url": "https://validator.example.com/validate"}
    status, _ = raw("PATCH", f"{path}/{name}", {"webhooks": [{**created["webhooks"][0], "clientConfig": {}}]}, MERGE)
    assert status == 422, "an update is validated too"
    assert raw("DELETE", f"{path}/{name}")[0] == 200


# -- deletion ---------------------------------------------------------------------------------------------


def test_a_foreground_delete_keeps_the_object_until_its_finalizer_is_removed(
    raw: Raw, apps: client.AppsV1Api, ns: str
) -> None:
    """meshtui takes a revision offline with propagationPolicy Foreground (cluster/mutations.py): the API
    server keeps each object, with a deletionTimestamp and the foregroundDeletion finalizer, until the
    garbage collector (kube-controller-manager; absent from both backends here) has deleted its dependents
    and removed the finalizer. The simulator once removed it at once and answered with a Status."""
    path = f"/api/v1/namespaces/{ns}/configmaps"
    assert raw("POST", path, {"metadata": {"name": "doomed"}, "data": {"a": "b"}})[0] == 201
    options = {"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": "Foreground"}
    status, dry = raw("DELETE", f"{path}/doomed?dryRun=All", {**options, "dryRun": ["All"]})
    assert status == 200 and dry["metadata"]["finalizers"] == ["foregroundDeletion"]
    assert raw("GET", f"{path}/doomed")[1]["metadata"].get("finalizers") is None, "a dry run changes nothing"
    status, answer = raw("DELETE", f"{path}/doomed", options)
    assert status == 200
    assert answer["kind"] == "ConfigMap" and answer["data"] == {"a": "b"}
    assert answer["metadata"]["finalizers"] == ["foregroundDeletion"]
    assert answer["metadata"]["deletionTimestamp"] and answer["metadata"]["deletionGracePeriodSeconds"] == 0
    assert "generation" not in answer["metadata"]
    status, still = raw("GET", f"{path}/doomed")
    assert status == 200 and still["metadata"]["resourceVersion"] == answer["metadata"]["resourceVersion"]
    status, again = raw("DELETE", f"{path}/doomed", options)
    assert status == 200 and again["metadata"]["resourceVersion"] == answer["metadata"]["resourceVersion"]
    # What the garbage collector does once the dependents are gone: the object goes with its finalizer.
    status, _ = raw("PATCH", f"{path}/doomed", {"metadata": {"finalizers": None}}, MERGE)
    assert status == 200
    assert raw("GET", f"{path}/doomed")[0] == 404

    # A kind with a generation gets a new one; a plain (background) delete of an object with a finalizer
    # leaves it in place too, and another foreground delete adds the foreground finalizer after it.
    apps.create_namespaced_deployment(
        ns,
        {
            "metadata": {"name": "web"},
            "spec": {
                "selector": {"matchLabels": {"app": "web"}},
                "template": {
                    "metadata": {"labels": {"app": "web"}},
                    "spec": {"containers": [{"name": "web", "image": "example/web:1"}]},
                },
            },
        },
    )
    status, deployment = raw("DELETE", f"/apis/apps/v1/namespaces/{ns}/deployments/web", options)
    assert status == 200 and deployment["metadata"]["generation"] == 2
    assert raw("POST", path, {"metadata": {"name": "held", "finalizers": ["meshtui.test/hold"]}})[0] == 201
    status, held = raw("DELETE", f"{path}/held", {"kind": "DeleteOptions", "apiVersion": "v1"})
    assert status == 200 and held["metadata"]["finalizers"] == ["meshtui.test/hold"]
    assert held["metadata"]["deletionTimestamp"]
    status, held = raw("DELETE", f"{path}/held", options)
    assert held["metadata"]["finalizers"] == ["meshtui.test/hold", "foregroundDeletion"]
    # Without finalizers a delete is immediate, answered with a Status.
    assert raw("POST", path, {"metadata": {"name": "plain"}})[0] == 201
    status, gone = raw("DELETE", f"{path}/plain", {**options, "propagationPolicy": "Background"})
    assert status == 200 and gone["kind"] == "Status" and gone["status"] == "Success"
