"""Asking for compressed answers: on by default, off with `--disable-compression` or a kubeconfig cluster's
`disable-compression: true` (as kubectl), with the same objects either way."""

from __future__ import annotations

import gzip
import os
from collections.abc import Iterable, Iterator

import pytest
import yaml

from meshtui.cli.args import apply_connection_args
from meshtui.cli.main import build_parser
from meshtui.cluster.errors import ClusterError
from meshtui.cluster.kubeconfig import connect
from meshtui.cluster.rawapi import ClientOptions, PageReply, RawApi, _Body, default_options, set_default_options
from meshtui.sim.store import Store
from tests.conftest import StartSims


def many_pods(store: Store) -> None:
    store.create("namespaces", {"metadata": {"name": "a"}})
    for i in range(300):  # ~1 KB each: the list is over the 128 KiB threshold
        store.create(
            "pods",
            {
                "metadata": {"name": f"p{i}", "namespace": "a", "labels": {"app": "x" * 200}},
                "spec": {"containers": [{"name": "c", "image": "img:" + "v" * 400}]},
            },
        )


@pytest.fixture(autouse=True)
def _restore_defaults() -> Iterator[None]:
    saved = default_options()
    yield
    set_default_options(saved)


def encoding(api: RawApi) -> str | None:
    resp = api._send(
        "GET",
        "/api/v1/pods",
        query=None,
        body=None,
        content_type=None,
        accept="application/json",
        timeout=(5, 30),
        what="listing",
    )
    resp.read()
    return resp.headers.get("Content-Encoding")


def test_compression_is_asked_for_by_default_and_decoded(sims: StartSims) -> None:
    kubeconfig = sims(setup=many_pods).kubeconfig
    packed = RawApi(connect(str(kubeconfig))[0].api_client, "c")
    assert encoding(packed) == "gzip"
    set_default_options(ClientOptions(compression=False))
    plain = RawApi(connect(str(kubeconfig))[0].api_client, "c")
    assert encoding(plain) is None
    assert packed.request("GET", "/api/v1/pods")["items"] == plain.request("GET", "/api/v1/pods")["items"]


def test_the_command_line_flag_turns_it_off() -> None:
    apply_connection_args(build_parser().parse_args(["status", "--disable-compression", "--request-timeout", "7"]))
    assert (default_options().compression, default_options().read_timeout_s) == (False, 7.0)
    apply_connection_args(build_parser().parse_args(["status"]))
    assert default_options().compression is True


def test_a_kubeconfig_cluster_can_turn_it_off(sims: StartSims) -> None:
    kubeconfig = sims(setup=many_pods).kubeconfig
    config = yaml.safe_load(kubeconfig.read_text())
    config["clusters"][0]["cluster"]["disable-compression"] = True
    kubeconfig.write_text(yaml.safe_dump(config))
    assert encoding(RawApi(connect(str(kubeconfig))[0].api_client, "c")) is None


class GzipChunks:
    """A gzipped answer as urllib3 streams it, in the chunks given."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self.headers = {"Content-Encoding": "gzip"}
        self._chunks = chunks

    def stream(self, amt: int, decode_content: bool) -> Iterator[bytes]:
        assert not decode_content
        return iter(self._chunks)


def _inflate(chunks: Iterable[bytes]) -> bytes:
    api = RawApi.__new__(RawApi)
    api.cluster = "c"
    return bytes(_Body(GzipChunks(chunks), api, "listing Pod", (1.0, 1.0)).read())  # type: ignore[arg-type]


@pytest.mark.parametrize("size", [0, 1, 3_000_000])
def test_a_gzipped_page_inflates_to_the_same_bytes(size: int) -> None:
    page = (b'{"kind":"PodList","items":[' + b'{"metadata":{"name":"p"}},' * (size // 26))[:size]
    packed = gzip.compress(page, 1)
    assert bytes(_inflate([packed])) == page
    assert bytes(_inflate(packed[i : i + 7] for i in range(0, len(packed), 7))) == page  # as the socket gives it


def test_a_body_of_two_gzip_members_inflates_to_both() -> None:
    two_members = gzip.compress(b"a" * 100_000) + gzip.compress(b"b" * 10)
    assert bytes(_inflate([two_members[:50], two_members[50:]])) == b"a" * 100_000 + b"b" * 10


def test_a_truncated_gzip_reply_is_an_error() -> None:
    with pytest.raises(ClusterError, match="sent a compressed reply that does not inflate for listing Pod"):
        _inflate([gzip.compress(b"x" * 100_000)[:-40]])


def _reply(body: bytes, step: int) -> PageReply:
    api = RawApi.__new__(RawApi)
    api.cluster = "c"
    packed = gzip.compress(body, 1)
    chunks = GzipChunks(packed[i : i + step] for i in range(0, len(packed), step))
    return PageReply(api, chunks, "listing Pod", (1.0, 1.0))  # type: ignore[arg-type]


def test_a_pages_head_is_read_as_far_as_its_items_and_the_body_is_whole_after_it() -> None:
    body = b'{"kind":"PodList","metadata":{"continue":"abc"},"items":[' + b'{"a":1},' * 100_000 + b"{}]}"
    reply = _reply(body, 7)  # the head spans several socket reads
    assert reply.head(b'"items":') == b'{"kind":"PodList","metadata":{"continue":"abc"},'
    assert bytes(reply.read()) == body


def test_a_head_that_does_not_reach_the_items_in_64_kib_says_so() -> None:
    body = b'{"metadata":{"x":"' + os.urandom(100_000).hex().encode() + b'"},"items":[]}'
    reply = _reply(body, 1024)  # random text: each socket read inflates to about 2 KiB
    assert reply.head(b'"items":') is None
    assert bytes(reply.read()) == body, "what the head read is kept for the body"
