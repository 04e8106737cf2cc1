"""The reflector against the simulator over HTTP: lists, watches, and convergence after every fault."""

from __future__ import annotations

import contextlib
import random
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from meshtui.cluster.kubeconfig import connect
from meshtui.cluster.rawapi import RawApi
from meshtui.cluster.reflector import ConnState, ConnStatus, ObjKey, Reflector, Timing, WatchSpec
from meshtui.sim.runtime import SimCluster
from meshtui.sim.store import Store
from tests.conftest import StartSims
from tests.helpers import fast_settings, wait_until

FAST = Timing(
    page_size=3,
    watch_min_s=1,
    watch_max_s=2,
    backoff_initial_s=0.02,
    backoff_max_s=0.2,
    auth_retry_s=0.1,
    connect_timeout_s=2.0,
    read_slack_s=2.0,
)


def parse_pod(cluster: str, raw: dict[str, Any]) -> tuple[str, str, str]:
    """A tiny model: (cluster, labels as text, resourceVersion-independent content)."""
    meta = raw["metadata"]
    if meta.get("labels", {}).get("broken") == "yes":
        raise ValueError("this pod is deliberately unparseable")
    labels = ",".join(f"{k}={v}" for k, v in sorted((meta.get("labels") or {}).items()))
    return (cluster, labels, str((raw.get("status") or {}).get("phase")))


class RecordingSink:
    """Keeps what the reflector reported, and rebuilds the state from its replace/change calls."""

    def __init__(self) -> None:
        self.state: dict[ObjKey, Any] = {}
        self.statuses: list[ConnStatus] = []
        self.problems: list[tuple[ObjKey, str]] = []
        self.replaces = 0
        self.pages: list[int] = []
        self.lock = threading.Lock()

    def listed(self, cluster: str, kind: str, items: dict[ObjKey, Any]) -> None:
        with self.lock:
            self.state.update(items)
            self.pages.append(len(items))

    def replaced(self, cluster: str, kind: str, items: dict[ObjKey, Any]) -> None:
        with self.lock:
            self.state = dict(items)
            self.replaces += 1

    def changed(self, cluster: str, kind: str, event: str, key: ObjKey, model: Any) -> None:
        with self.lock:
            if event == "DELETED":
                self.state.pop(key, None)
            else:
                self.state[key] = model

    def status(self, cluster: str, kind: str, status: ConnStatus) -> None:
        self.statuses.append(status)

    def problem(self, cluster: str, kind: str, key: ObjKey, message: str) -> None:
        self.problems.append((key, message))


def seed(n: int = 8) -> Callable[[Store], None]:
    def setup(store: Store) -> None:
        for ns in ("a", "b"):
            store.create("namespaces", {"metadata": {"name": ns}})
        for i in range(n):
            store.create("pods", _pod(f"p{i}", "a" if i % 2 else "b", {"app": f"x{i % 3}"}))

    return setup


def _pod(name: str, ns: str, labels: dict[str, str]) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "namespace": ns, "labels": labels},
        "spec": {"containers": []},
        "status": {"phase": "Running"},
    }


def server_state(sim: SimCluster) -> dict[ObjKey, Any]:
    """What a fresh list would give: computed from the store itself."""
    store = sim.store
    assert store is not None
    objs = sim.call(lambda: store.list("pods"))
    out = {}
    for o in objs:
        with contextlib.suppress(ValueError):
            out[(o["metadata"]["namespace"], o["metadata"]["name"])] = parse_pod("sim", o)
    return out


def make_reflector(kubeconfig: Path, sink: RecordingSink, timing: Timing = FAST) -> Reflector[Any]:
    target = connect(str(kubeconfig))[0]
    api = RawApi(target.api_client, "sim")
    spec: WatchSpec[Any] = WatchSpec("Pod", "/api/v1/pods", parse_pod)
    return Reflector(api, spec, sink, timing=timing, rng=random.Random(7))


def churn(sim: SimCluster, rounds: int, rng: random.Random) -> None:
    """Create, relabel and delete pods, in a seeded order."""
    store = sim.store
    assert store is not None

    def one(i: int) -> None:
        action = rng.choice(["create", "relabel", "delete"])
        names = [e.name for e in store.entries("pods", "a")]
        if action == "create" or not names:
            store.create("pods", _pod(f"n{i}-{rng.randrange(10**6)}", "a", {"app": "new"}))
        elif action == "relabel":
            name = rng.choice(names)
            store.update("pods", "a", name, lambda o: (o["metadata"]["labels"].update(v=str(i)), o)[1])
        else:
            store.remove("pods", "a", rng.choice(names))

    for i in range(rounds):
        sim.call(one, i)


#: A small watch history, so faults and 410s are easy to provoke.
SMALL_HISTORY = fast_settings(history_window=50)


@pytest.fixture
def sim_and_sink(sims: StartSims) -> Any:
    running = sims(setup=seed(), settings=SMALL_HISTORY)
    sim = running.cluster
    sink = RecordingSink()
    reflector = make_reflector(running.kubeconfig, sink)
    reflector.start()
    yield sim, sink, reflector
    reflector.stop()


def converged(sim: SimCluster, sink: RecordingSink, reflector: Reflector[Any]) -> bool:
    want = server_state(sim)
    with sink.lock:
        return sink.state == want and reflector.cache() == want


def test_initial_list_is_paginated_and_complete(sim_and_sink: Any) -> None:
    sim, sink, reflector = sim_and_sink
    assert reflector.synced.wait(10)
    assert reflector.cache() == server_state(sim)
    pages = [r for r in sim.faults.requests() if r.path == "/api/v1/pods" and "watch" not in r.query]
    assert len(pages) == 3, "8 pods with page size 3 take three list requests"
    assert sink.pages == [3, 3, 2], "each page reaches the sink as it arrives"
    assert sink.replaces == 1


def test_watch_events_apply_in_order(sim_and_sink: Any) -> None:
    sim, sink, reflector = sim_and_sink
    assert reflector.synced.wait(10)
    churn(sim, 30, random.Random(1))
    wait_until(lambda: converged(sim, sink, reflector), what="the watch to deliver every change")
    assert sink.replaces == 1, "no relist was needed without faults"


@pytest.mark.parametrize("fault", ["drop", "drop-abrupt", "expire", "restart", "fail-503", "fail-429"])
def test_converges_after_fault(sim_and_sink: Any, fault: str) -> None:
    sim, sink, reflector = sim_and_sink
    assert reflector.synced.wait(10)
    rng = random.Random(fault)
    churn(sim, 10, rng)
    if fault == "drop":
        sim.faults.drop_watches()
    elif fault == "drop-abrupt":
        sim.faults.drop_watches(abrupt=True)
    elif fault == "expire":
        sim.faults.expire_next_watches(1)
        sim.faults.drop_watches()
    elif fault == "restart":
        sim.faults.restart()
    elif fault == "fail-503":
        sim.faults.fail(0.5, 503)
    elif fault == "fail-429":
        sim.faults.fail(0.5, 429, retry_after=0)
    churn(sim, 60, rng)  # more than the history window of 50: a resume from an old version must relist
    sim.faults.clear()
    sim.faults.drop_watches()
    churn(sim, 5, rng)
    wait_until(lambda: converged(sim, sink, reflector), timeout=20, what=f"convergence after {fault}")
    if fault == "expire":
        assert sink.replaces >= 2, "a 410 must lead to a relist"


def test_malformed_object_is_reported_and_skipped(sim_and_sink: Any) -> None:
    sim, sink, reflector = sim_and_sink
    assert reflector.synced.wait(10)
    store = sim.store
    sim.call(lambda: store.create("pods", _pod("bad", "a", {"broken": "yes"})))
    sim.call(lambda: store.create("pods", _pod("good", "a", {"app": "ok"})))
    wait_until(lambda: ("a", "good") in reflector.cache(), what="the pod after the malformed one")
    assert ("a", "bad") not in reflector.cache()
    assert sink.problems and sink.problems[0][0] == ("a", "bad")
    assert "deliberately unparseable" in sink.problems[0][1]


def test_forbidden_is_an_error_state_with_the_reason(sims: StartSims) -> None:
    running = sims(setup=seed(), settings=SMALL_HISTORY)
    sim = running.cluster
    sim.faults.deny("list", "pods")
    sink = RecordingSink()
    reflector = make_reflector(running.kubeconfig, sink)
    reflector.start()
    try:
        wait_until(lambda: reflector.status.state is ConnState.ERROR, what="the error state")
        assert "Permission denied" in reflector.status.reason
        sim.faults.allow("list", "pods")
        assert reflector.synced.wait(10)
        wait_until(lambda: reflector.status.state is ConnState.SYNCED, what="recovery")
    finally:
        reflector.stop()


def test_unreachable_server_reports_error_and_stop_is_prompt(sims: StartSims) -> None:
    running = sims(setup=seed())
    kubeconfig = running.kubeconfig
    running.cluster.stop()
    sink = RecordingSink()
    reflector = make_reflector(kubeconfig, sink)
    reflector.start()
    wait_until(lambda: reflector.status.state is ConnState.ERROR, what="the error state")
    assert "unreachable" in reflector.status.reason
    started = time.monotonic()
    reflector.stop()
    assert time.monotonic() - started < 5
    assert reflector._thread is not None and not reflector._thread.is_alive()


def test_stop_unblocks_an_idle_watch(sim_and_sink: Any) -> None:
    _, _, reflector = sim_and_sink
    assert reflector.synced.wait(10)
    wait_until(lambda: reflector._stream is not None, what="the watch to open")
    reflector.stop(timeout=5)
    assert reflector._thread is not None and not reflector._thread.is_alive()


def test_a_list_whose_continue_tokens_keep_expiring_ends_as_one_whole_list(sims: StartSims) -> None:
    """A big kind under heavy churn can take longer to page through than the server keeps its snapshot:
    after the second expired token the reflector asks for the whole list at once, as client-go's pager."""
    running = sims(setup=seed(), settings=SMALL_HISTORY)
    sim = running.cluster
    sim.faults.expire_next_continues(1000)  # every continuation expires
    sink = RecordingSink()
    reflector = make_reflector(running.kubeconfig, sink)
    reflector.start()
    try:
        assert reflector.synced.wait(10), "the list never ended"
        assert reflector.cache() == server_state(sim)
        lists = [r for r in sim.faults.requests() if r.path == "/api/v1/pods" and "watch" not in r.query]
        assert [("limit=" in r.query, r.status) for r in lists][-1] == (False, 200)
    finally:
        reflector.stop()
