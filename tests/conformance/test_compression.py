"""Compressed answers, on the simulator and the real kube-apiserver: an answer over 128 KiB is gzipped when
the client accepts gzip (and only then), a small one never is, and meshtui's client decodes a compressed
list to exactly what the uncompressed one holds."""

from __future__ import annotations

import gzip

import orjson
import pytest
import urllib3
from kubernetes import client

from meshtui.cluster.kubeconfig import connect
from meshtui.cluster.rawapi import ClientOptions, RawApi, set_options
from meshtui.cluster.reflector import head_continue, list_continue

from .backends import Backend

#: One ConfigMap this big makes a list of its namespace larger than the 128 KiB threshold.
BIG = 200 * 1024


@pytest.fixture
def big_namespace(backend: Backend) -> str:
    ns = backend.unique_namespace("gz")
    core = client.CoreV1Api(backend.api_client())
    core.create_namespaced_config_map(ns, {"metadata": {"name": "big"}, "data": {"blob": "x1y2z3" * (BIG // 6)}})
    core.create_namespaced_config_map(ns, {"metadata": {"name": "small"}, "data": {"v": "1"}})
    return ns


def raw_get(backend: Backend, path: str, accept_encoding: str | None) -> urllib3.BaseHTTPResponse:
    """A GET through the official client's connection (its TLS and credentials), body left undecoded."""
    api = backend.api_client()
    headers = {"Accept": "application/json"}
    if accept_encoding is not None:
        headers["Accept-Encoding"] = accept_encoding
    _, url, hdrs, _, _ = api.param_serialize(
        method="GET", resource_path=path, header_params=headers, auth_settings=["BearerToken"]
    )
    resp = api.rest_client.pool_manager.request("GET", url, headers=hdrs, preload_content=False, timeout=30)
    return resp


def test_a_large_answer_is_gzipped_only_when_asked(backend: Backend, big_namespace: str) -> None:
    path = f"/api/v1/namespaces/{big_namespace}/configmaps"
    plain = raw_get(backend, path, None)
    body = plain.read(decode_content=False)
    assert plain.status == 200 and "Content-Encoding" not in plain.headers
    assert len(body) > 128 * 1024

    packed = raw_get(backend, path, "gzip")
    assert packed.headers.get("Content-Encoding") == "gzip"
    assert "Accept-Encoding" in packed.headers.get("Vary", "")
    squeezed = packed.read(decode_content=False)
    assert len(squeezed) < len(body) // 4
    assert orjson.loads(gzip.decompress(squeezed))["items"] == orjson.loads(body)["items"]


def test_a_small_answer_is_never_gzipped(backend: Backend, big_namespace: str) -> None:
    resp = raw_get(backend, f"/api/v1/namespaces/{big_namespace}/configmaps/small", "gzip")
    assert resp.status == 200 and "Content-Encoding" not in resp.headers


def test_a_watch_stream_is_not_gzipped(backend: Backend, big_namespace: str) -> None:
    """The initial events of a watch without a resourceVersion are over the threshold, yet sent as they are."""
    resp = raw_get(backend, f"/api/v1/namespaces/{big_namespace}/configmaps?watch=1&timeoutSeconds=1", "gzip")
    assert resp.status == 200
    assert "Content-Encoding" not in resp.headers
    lines = [orjson.loads(line) for line in resp.read(decode_content=False).splitlines() if line.strip()]
    assert {e["object"]["metadata"]["name"] for e in lines if e["type"] == "ADDED"} == {"big", "small"}


def test_meshtui_decodes_a_compressed_list_identically(backend: Backend, big_namespace: str) -> None:
    path = f"/api/v1/namespaces/{big_namespace}/configmaps"
    packed_target, plain_target = connect(str(backend.kubeconfig))[0], connect(str(backend.kubeconfig))[0]
    set_options(plain_target.api_client, ClientOptions(compression=False))
    try:
        packed = RawApi(packed_target.api_client, "c")
        plain = RawApi(plain_target.api_client, "c")
        assert (
            packed._send(
                "GET",
                path,
                query=None,
                body=None,
                content_type=None,
                accept="application/json",
                timeout=(5, 30),
                what="t",
            ).headers.get("Content-Encoding")
            == "gzip"
        )
        assert (
            plain._send(
                "GET",
                path,
                query=None,
                body=None,
                content_type=None,
                accept="application/json",
                timeout=(5, 30),
                what="t",
            ).headers.get("Content-Encoding")
            is None
        )
        assert packed.request("GET", path)["items"] == plain.request("GET", path)["items"]
    finally:
        packed_target.api_client.close()
        plain_target.api_client.close()


def test_a_list_pages_continue_token_is_read_from_its_head_before_its_body(
    backend: Backend, big_namespace: str
) -> None:
    """meshtui asks for the next page once the current one's head arrived: Kubernetes writes a list's
    metadata before its items, in a gzipped answer too; a reply dropped after its head leaves the client sound."""
    path = f"/api/v1/namespaces/{big_namespace}/configmaps"
    target = connect(str(backend.kubeconfig))[0]
    try:
        api = RawApi(target.api_client, "c")
        reply = api.open_page(path, query=[("limit", 1)], what="listing ConfigMap")
        head = reply.head(b'"items":')
        assert head is not None and b'"metadata"' in head
        token = head_continue(head)
        body = reply.read()
        reply.close()
        assert token and token == list_continue(body), "the head holds the page's own continue token"
        assert [c["metadata"]["name"] for c in orjson.loads(body)["items"]] == ["big"]

        dropped = api.open_page(path, query=[("limit", 1)], what="listing ConfigMap")
        assert dropped.head(b'"items":') is not None
        dropped.close()  # the rest of the big answer is never read
        rest = api.request("GET", path, query=[("limit", 1), ("continue", token)])
        assert [c["metadata"]["name"] for c in rest["items"]] == ["small"]
        assert api.request("GET", path)["items"][1]["data"] == {"v": "1"}
    finally:
        target.api_client.close()
