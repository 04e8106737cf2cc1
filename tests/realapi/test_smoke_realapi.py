"""Smoke tests of the real kube-apiserver + etcd harness (tests/realapi/apiserver.py).

Run: pytest -p no:cacheprovider -m realapi tests/realapi -rP
The first run on a machine builds the binaries from the Go module proxy (~5-6 min on 2 cores).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from typing import Any, cast

import pytest
import urllib3
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException

from . import tier
from .apiserver import RealApiServer

pytestmark = pytest.mark.realapi


@pytest.fixture(scope="module")
def real_api(pytestconfig: pytest.Config) -> Iterator[RealApiServer]:
    kube_apiserver, etcd = tier.binaries(pytestconfig)
    # configmaps bypass the watch cache so that an etcd compaction is visible to watches (410).
    server = RealApiServer(kube_apiserver, etcd, uncached_resources=["configmaps"]).start()
    print(f"\nreal kube-apiserver {server.version} at {server.server_url} (etcd {server.etcd_url})")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def admin_core(real_api: RealApiServer) -> Iterator[client.CoreV1Api]:
    api_client = config.new_client_from_config(config_file=str(real_api.admin_kubeconfig))  # type: ignore[no-untyped-call]
    try:
        yield client.CoreV1Api(api_client)
    finally:
        api_client.close()


@pytest.fixture(scope="module")
def viewer_core(real_api: RealApiServer) -> Iterator[client.CoreV1Api]:
    api_client = config.new_client_from_config(config_file=str(real_api.viewer_kubeconfig))  # type: ignore[no-untyped-call]
    try:
        yield client.CoreV1Api(api_client)
    finally:
        api_client.close()


def _unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def _namespace(name: str) -> client.V1Namespace:
    return client.V1Namespace(metadata=client.V1ObjectMeta(name=name))


def _namespace_names(api: client.CoreV1Api) -> set[str]:
    return {ns.metadata.name for ns in api.list_namespace().items if ns.metadata and ns.metadata.name}


def _watch_configmaps(api: client.CoreV1Api, namespace: str, resource_version: str) -> list[dict[str, Any]]:
    """Raw watch events (no client-side deserialisation or 410 retry) until the server-side timeout."""
    resp = cast(
        urllib3.HTTPResponse,
        api.list_namespaced_config_map(
            namespace,
            watch=True,
            resource_version=resource_version,
            timeout_seconds=2,
            _preload_content=False,
        ),
    )
    try:
        if resp.status != 200:
            raise ApiException(status=resp.status, reason=resp.reason)
        return [json.loads(line) for line in resp.read().splitlines() if line.strip()]
    finally:
        resp.release_conn()


def test_server_reports_real_version(real_api: RealApiServer, record_property: Callable[[str, object], None]) -> None:
    print(f"kube-apiserver version: {real_api.version} ({real_api.version_info.get('goVersion')})")
    record_property("kube_apiserver_version", real_api.version)
    assert real_api.version.startswith("v1.3"), real_api.version_info


def test_admin_creates_and_lists_namespace(admin_core: client.CoreV1Api) -> None:
    name = _unique("smoke")
    created = admin_core.create_namespace(_namespace(name))
    assert created.metadata is not None
    assert created.metadata.name == name
    assert {name, "default", "kube-system"} <= _namespace_names(admin_core)


def test_viewer_can_list_but_not_create(admin_core: client.CoreV1Api, viewer_core: client.CoreV1Api) -> None:
    existing = _unique("seen")
    admin_core.create_namespace(_namespace(existing))
    assert existing in _namespace_names(viewer_core)
    assert viewer_core.list_config_map_for_all_namespaces().items is not None

    with pytest.raises(ApiException) as excinfo:
        viewer_core.create_namespace(_namespace(_unique("denied")))
    assert excinfo.value.status == 403
    status = json.loads(excinfo.value.body or "{}")
    assert status["reason"] == "Forbidden"
    assert 'User "viewer" cannot create resource "namespaces"' in status["message"]


def test_watch_from_compacted_resource_version_gets_410(real_api: RealApiServer, admin_core: client.CoreV1Api) -> None:
    ns = _unique("watch")
    admin_core.create_namespace(_namespace(ns))
    cm = admin_core.create_namespaced_config_map(
        ns, client.V1ConfigMap(metadata=client.V1ObjectMeta(name="cm"), data={"n": "0"})
    )
    assert cm.metadata is not None and cm.metadata.resource_version
    old_rv = cm.metadata.resource_version
    for n in range(1, 4):
        admin_core.patch_namespaced_config_map("cm", ns, {"data": {"n": str(n)}})

    # Before compaction the old resourceVersion is still watchable: the 3 patches are replayed.
    events = _watch_configmaps(admin_core, ns, old_rv)
    assert [e["type"] for e in events] == ["MODIFIED"] * 3, events

    compacted_at = real_api.compact()
    assert compacted_at > int(old_rv)

    try:
        events = _watch_configmaps(admin_core, ns, old_rv)
    except ApiException as exc:  # a too-old watch may also be refused with a plain HTTP 410
        assert exc.status == 410, exc
        return
    assert events, "watch from a compacted resourceVersion returned no events"
    assert events[0]["type"] == "ERROR", events
    assert events[0]["object"]["code"] == 410, events
    assert events[0]["object"]["reason"] == "Expired", events
