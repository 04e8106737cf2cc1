"""A client whose resourceVersion is ahead of the server (the server's storage went back in time: an etcd
restore, a restarted simulator), on both backends.

What a real kube-apiserver does, and the simulator must do too: a LIST "not older than" a version it has
not reached is a 504 Timeout Status with the cause `ResourceVersionTooLarge` (client-go relists on it);
a WATCH from such a version is accepted and stays silent, sending nothing the server writes until it
passes that version. meshtui's reflector therefore asks with a one-object list before it resumes a watch.
"""

from __future__ import annotations

import random
import threading
from typing import Any

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from meshtui.cluster.kubeconfig import connect
from meshtui.cluster.rawapi import RawApi
from meshtui.cluster.reflector import ConnState, ObjKey, Reflector, Timing, WatchSpec
from tests.helpers import read_events, wait_until

from .backends import WATCH_TIMEOUT, Backend, status_of

AHEAD = 1_000_000


@pytest.fixture
def core(backend: Backend) -> client.CoreV1Api:
    return client.CoreV1Api(backend.api_client())


def test_list_from_a_version_the_server_has_not_reached_is_504_too_large(
    backend: Backend, core: client.CoreV1Api
) -> None:
    ns = backend.unique_namespace("rv")
    rv = core.list_namespaced_config_map(ns).metadata.resource_version
    ahead = str(int(rv) + AHEAD)
    with pytest.raises(ApiException) as err:
        core.list_namespaced_config_map(ns, resource_version=ahead, resource_version_match="NotOlderThan", limit=1)
    status = status_of(err.value)
    assert (err.value.status, status["reason"], status["code"]) == (504, "Timeout", 504)
    assert {"reason": "ResourceVersionTooLarge", "message": "Too large resource version"} in status["details"]["causes"]
    assert status["message"].startswith(f"Timeout: Too large resource version: {ahead}, current: ")


def test_watch_from_a_version_the_server_has_not_reached_is_silent(backend: Backend, core: client.CoreV1Api) -> None:
    ns = backend.unique_namespace("rv")
    rv = core.list_namespaced_config_map(ns).metadata.resource_version
    resp = core.list_namespaced_config_map(
        ns,
        watch=True,
        resource_version=str(int(rv) + AHEAD),
        allow_watch_bookmarks=True,
        timeout_seconds=3,
        _preload_content=False,
        _request_timeout=WATCH_TIMEOUT,
    )
    assert resp.status == 200
    core.create_namespaced_config_map(ns, {"metadata": {"name": "unseen"}})
    assert read_events(resp) == []


class _Sink:
    def __init__(self) -> None:
        self.state: dict[ObjKey, Any] = {}
        self.lock = threading.Lock()

    def listed(self, cluster: str, kind: str, items: dict[ObjKey, Any]) -> None:
        with self.lock:
            self.state.update(items)

    def replaced(self, cluster: str, kind: str, items: dict[ObjKey, Any]) -> None:
        with self.lock:
            self.state = dict(items)

    def changed(self, cluster: str, kind: str, event: str, key: ObjKey, model: Any) -> None:
        with self.lock:
            if event == "DELETED":
                self.state.pop(key, None)
            else:
                self.state[key] = model

    def status(self, cluster: str, kind: str, status: Any) -> None:
        pass

    def problem(self, cluster: str, kind: str, key: ObjKey, message: str) -> None:
        pass


class _Steered(Reflector[Any]):
    """A reflector whose second watch waits for the test, which moves its resourceVersion ahead meanwhile."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.watches = 0
        self.at_gate = threading.Event()
        self.gate = threading.Event()

    def _watch_once(self) -> int:
        self.watches += 1
        if self.watches == 2:
            self.at_gate.set()
            self.gate.wait(30)
        return super()._watch_once()


def test_reflector_ahead_of_the_server_relists_and_converges(backend: Backend, core: client.CoreV1Api) -> None:
    ns = backend.unique_namespace("rv")
    core.create_namespaced_config_map(ns, {"metadata": {"name": "before"}})
    target = connect(str(backend.kubeconfig))[0]
    spec: WatchSpec[Any] = WatchSpec(
        "ConfigMap", f"/api/v1/namespaces/{ns}/configmaps", lambda _c, raw: raw["metadata"]["name"]
    )
    timing = Timing(watch_min_s=2, watch_max_s=2, backoff_initial_s=0.05, backoff_max_s=0.2)
    sink = _Sink()
    reflector = _Steered(RawApi(target.api_client, "c"), spec, sink, timing=timing, rng=random.Random(1))
    reflector.start()
    try:
        assert reflector.synced.wait(30)
        assert reflector.at_gate.wait(30)
        real_rv = int(reflector.resource_version)
        reflector.resource_version = str(real_rv + AHEAD)  # as if the server's storage went back in time
        reflector.gate.set()
        core.create_namespaced_config_map(ns, {"metadata": {"name": "after"}})

        def fresh() -> dict[ObjKey, Any]:
            return {(ns, c.metadata.name): c.metadata.name for c in core.list_namespaced_config_map(ns).items}

        wait_until(
            lambda: sink.state == fresh() and reflector.cache() == fresh(), what="the relist after the regression"
        )
        assert reflector.rv_regressions == 1
        assert int(reflector.resource_version) < real_rv + AHEAD
        wait_until(lambda: reflector.status.state is ConnState.SYNCED, what="the reflector back in sync")
    finally:
        reflector.gate.set()
        reflector.stop()
        target.api_client.close()
