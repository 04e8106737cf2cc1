"""One-shot reads (`meshtui status`) against a flaky API server: they retry what kubectl retries and give
the same answer as a read without faults."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from meshtui.cluster import kinds, oneshot
from meshtui.cluster.kubeconfig import connect
from meshtui.cluster.oneshot import load_once
from meshtui.domain.inventory import Inventory
from meshtui.domain.objects import parse_object
from meshtui.domain.report import status_document
from meshtui.sim.runtime import SimCluster
from tests.helpers import start_sim

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[SimCluster, Path]]:
    sim = start_sim("demo")
    kubeconfig = sim.kubeconfig(tmp_path_factory.mktemp("oneshot") / "kubeconfig")
    try:
        yield sim, kubeconfig
    finally:
        sim.stop()


@pytest.fixture(autouse=True)
def _no_faults_left(demo: tuple[SimCluster, Path]) -> Iterator[None]:
    yield
    demo[0].faults.clear()


def read(kubeconfig: Path) -> dict[str, object]:
    targets = connect(str(kubeconfig))
    inventory = Inventory()
    for t in targets:
        inventory.add_cluster(t.name, t.server)
    try:
        load_once(targets, inventory)
    finally:
        for t in targets:
            t.api_client.close()
    return status_document(inventory.view(), all_pods=True)


def small_pages(monkeypatch: pytest.MonkeyPatch, *, pods: int, others: int) -> None:
    """List the demo in many pages, so continue tokens (and pages asked for ahead) are exercised."""
    monkeypatch.setattr(kinds, "POD_PAGE_SIZE", pods)
    monkeypatch.setattr(oneshot, "PAGE_SIZE", others)


@pytest.mark.parametrize(("code", "fraction"), [(503, 0.5), (429, 0.5), (500, 0.3)])
def test_a_read_retries_failed_requests_and_gives_the_same_answer(
    demo: tuple[SimCluster, Path], code: int, fraction: float
) -> None:
    sim, kubeconfig = demo
    clean = read(kubeconfig)
    sim.faults.fail(fraction, code, retry_after=0, verbs={"list", "get"})
    for _ in range(3):
        assert read(kubeconfig) == clean
    failed = [r for r in sim.faults.requests() if r.status == code]
    assert failed, "the fault injected nothing"


def test_an_expired_continue_token_mid_list_lists_that_kind_again(
    demo: tuple[SimCluster, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    sim, kubeconfig = demo
    small_pages(monkeypatch, pods=7, others=3)
    clean = read(kubeconfig)
    sim.faults.clear_log()
    sim.faults.expire_next_continues(3)
    assert read(kubeconfig) == clean
    expired = [r for r in sim.faults.requests() if r.status == 410 and "continue=" in r.query]
    assert len(expired) >= 3  # dropping the snapshots may expire a concurrent list of another kind too


@pytest.mark.parametrize(("code", "fraction"), [(503, 0.5), (429, 0.5)])
def test_status_command_honours_retry_after_and_succeeds(
    demo: tuple[SimCluster, Path], code: int, fraction: float
) -> None:
    sim, kubeconfig = demo
    clean = run_status(kubeconfig)
    assert clean.returncode == 0, clean.stderr
    sim.faults.fail(fraction, code, retry_after=1, verbs={"list", "get"})
    flaky = run_status(kubeconfig)
    assert flaky.returncode == 0, flaky.stderr
    assert orjson.loads(flaky.stdout) == orjson.loads(clean.stdout)


def run_status(kubeconfig: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO), "KUBECONFIG": str(kubeconfig)}
    return subprocess.run(
        [sys.executable, "-m", "meshtui", "status", "--json", "--kubeconfig", str(kubeconfig)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


def test_a_list_whose_continue_tokens_always_expire_ends_as_one_whole_list(
    demo: tuple[SimCluster, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    sim, kubeconfig = demo
    small_pages(monkeypatch, pods=7, others=3)
    clean = read(kubeconfig)
    sim.faults.expire_next_continues(10_000)
    assert read(kubeconfig) == clean


def test_a_read_into_an_inventory_holding_a_pod_that_is_gone_removes_it(demo: tuple[SimCluster, Path]) -> None:
    # Pods are applied page by page as they arrive; the read still replaces what the inventory held.
    _, kubeconfig = demo
    targets = connect(str(kubeconfig))
    inventory = Inventory()
    for t in targets:
        inventory.add_cluster(t.name, t.server)
    ghost = {"metadata": {"name": "ghost", "namespace": "default", "uid": "u-ghost"}, "status": {"phase": "Running"}}
    inventory.apply(targets[0].name, "Pod", "ADDED", parse_object(targets[0].name, ghost, "Pod"))
    try:
        load_once(targets, inventory)
    finally:
        for t in targets:
            t.api_client.close()
    assert not any(row.name == "ghost" for row in inventory.view().pods())
    assert status_document(inventory.view(), all_pods=True) == read(kubeconfig)


def test_pages_asked_for_ahead_give_the_same_answer_through_failures_and_expiries(
    demo: tuple[SimCluster, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Each next page is asked for while the current one's body is read: a 503 or a 410 on a page asked for
    # ahead must be retried or start the list over exactly as on a page asked for in turn.
    sim, kubeconfig = demo
    small_pages(monkeypatch, pods=5, others=2)
    clean = read(kubeconfig)
    sim.faults.clear_log()
    sim.faults.fail(0.4, 503, retry_after=0, verbs={"list"})
    sim.faults.expire_next_continues(4)
    assert read(kubeconfig) == clean
    answered = [r.status for r in sim.faults.requests() if "continue=" in r.query]
    assert 503 in answered and 410 in answered, "both faults hit pages after the first"
