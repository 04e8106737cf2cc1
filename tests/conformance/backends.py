"""The two backends of the conformance tier: the simulator and a real kube-apiserver + etcd.

Both are started once per session (see conftest.py) and handed to each test as a `Backend`, which
exposes the same things on both: admin and read-only kubeconfigs, official-client `ApiClient`s,
unique namespaces, a way to make watch history expire, and an Istio install that injects pods.

Namespaces are never cleaned up: a real namespace without kube-controller-manager never finishes
Terminating, so every test works in namespaces of its own (`unique_namespace()`).
"""

from __future__ import annotations

import contextlib
import json
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException
from kubernetes.watch.watch import iter_resp_lines

from meshtui.sim import istio as sim_istio
from meshtui.sim.resources import RESOURCES
from meshtui.sim.runtime import SimCluster
from meshtui.sim.settings import SimSettings
from meshtui.sim.store import Store

#: (connect, read) timeouts for every watch a test opens: a missing event fails instead of hanging.
WATCH_TIMEOUT = (5, 30)
META_LIST = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json"
META = "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1,application/json"

#: Namespaces a fresh real API server has; the simulator is set up with the same ones.
SYSTEM_NAMESPACES = ("default", "kube-node-lease", "kube-public", "kube-system")

Scenario = Callable[[Store], None]


def sim_settings() -> SimSettings:
    """Quick timings for the conformance simulator (bookmarks every second, like a short real watch)."""
    return SimSettings(
        pod_ready_delay=0.05, pod_termination_delay=0.05, bookmark_interval=1.0, history_window=100_000
    )


def sim_setup(store: Store) -> None:
    """What a fresh real API server already has: its system namespaces."""
    for name in SYSTEM_NAMESPACES:
        store.create("namespaces", {"metadata": {"name": name}})


def unique(prefix: str) -> str:
    """A DNS-1123 name nobody else in this session uses."""
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def read_events(
    resp: Any,
    count: int | None = None,
    *,
    deadline: float = 20.0,
    until: Callable[[dict[str, Any]], bool] | None = None,
) -> list[dict[str, Any]]:
    """Decoded watch events from a raw (`_preload_content=False`) response.

    Reads until `count` events, until `until(event)` holds, or until the server ends the stream
    (timeoutSeconds). The request must carry a `_request_timeout`, so a missing event cannot hang.
    """
    events: list[dict[str, Any]] = []
    end = time.monotonic() + deadline
    try:
        for line in iter_resp_lines(resp):
            if not line:
                continue
            ev = json.loads(line)
            events.append(ev)
            if (count is not None and len(events) >= count) or (until is not None and until(ev)):
                break
            if time.monotonic() > end:
                break
    finally:
        resp.close()
    return events


def status_of(exc: ApiException) -> dict[str, Any]:
    """The decoded `Status` body of an ApiException."""
    body = json.loads(exc.body or "{}")
    assert body.get("kind") == "Status", body
    return dict(body)


class Backend:
    """What a conformance test gets: the same questions answered by the simulator or the real server."""

    name = ""
    kubeconfig: Path
    viewer_kubeconfig: Path

    def __init__(self) -> None:
        self._clients: list[client.ApiClient] = []
        self._installed: dict[str, Any] = {}

    # -- clients -------------------------------------------------------------------------------------

    def api_client(self) -> client.ApiClient:
        """A new official-client ApiClient as the admin user (closed at the end of the session)."""
        return self._new_client(self.kubeconfig)

    def _new_client(self, kubeconfig: Path) -> client.ApiClient:
        api = config.new_client_from_config(config_file=str(kubeconfig))
        self._clients.append(api)
        return api

    @contextlib.contextmanager
    def viewer(self) -> Iterator[client.ApiClient]:
        """An ApiClient for a read-only user (get/list/watch everything, no writes)."""
        yield self._new_client(self.viewer_kubeconfig)

    def close(self) -> None:
        for api in self._clients:
            with contextlib.suppress(Exception):
                api.close()
        self._clients.clear()

    # -- namespaces ----------------------------------------------------------------------------------

    def unique_namespace(self, prefix: str = "ct", labels: dict[str, str] | None = None) -> str:
        """Create a namespace with a fresh name (and labels); return its name."""
        name = unique(prefix)
        core = client.CoreV1Api(self.api_client())
        core.create_namespace({"metadata": {"name": name, "labels": dict(labels or {})}})
        return name

    # -- history -------------------------------------------------------------------------------------

    def expire_history(self, resource: str) -> None:
        """Make every resourceVersion older than now unusable for watches of `resource` (410 Expired)."""
        raise NotImplementedError

    # -- Istio ---------------------------------------------------------------------------------------

    def install_istio(self, key: str, scenario: Scenario) -> None:
        """Install Istio as `scenario` writes it into a simulator store; once per `key` and session."""
        if key in self._installed:
            return
        self._install(scenario)
        self._installed[key] = True

    def _install(self, scenario: Scenario) -> None:
        raise NotImplementedError

    def reset(self) -> None:
        """Called after each test: undo per-test switches (faults)."""


# -- the simulator ------------------------------------------------------------------------------------


class SimBackend(Backend):
    """The simulator with the same namespaces as a fresh real server, no controllers."""

    name = "sim"

    def __init__(self, workdir: Path) -> None:
        super().__init__()
        self.cluster = SimCluster(sim_settings(), setup=sim_setup).start()
        self.kubeconfig = self.cluster.kubeconfig(workdir / "sim-admin.kubeconfig")
        # The simulator checks no credentials: the "viewer" is the same client with write verbs denied.
        self.viewer_kubeconfig = self.kubeconfig
        self.version = "simulator"

    def store_call(self, fn: Callable[[Store], Any]) -> Any:
        cluster = self.cluster
        return cluster.call(lambda: fn(cluster.store))  # type: ignore[arg-type]

    @contextlib.contextmanager
    def viewer(self) -> Iterator[client.ApiClient]:
        """Emulated with deny faults on every write verb of every resource but access reviews.

        The faults apply to every client of the simulator while the context is open.
        """
        denials = [
            (verb, res.key)
            for res in RESOURCES
            if res.plural != "selfsubjectaccessreviews"
            for verb in ("create", "update", "patch", "delete", "deletecollection")
        ]
        for verb, key in denials:
            self.cluster.faults.deny(verb, key)
        try:
            yield self._new_client(self.kubeconfig)
        finally:
            for verb, key in denials:
                self.cluster.faults.allow(verb, key)

    def expire_history(self, resource: str) -> None:
        # The simulator keeps one history for every kind: losing it (as a restarted server does) is the
        # closest thing to an etcd compaction. Open watches are ended too, which a compaction does not do.
        del resource
        self.cluster.faults.restart()

    def _install(self, scenario: Scenario) -> None:
        def run(store: Store) -> None:
            scenario(store)
            ready_istiod_pods(store)

        self.store_call(run)

    def reset(self) -> None:
        self.cluster.faults.clear()

    def stop(self) -> None:
        self.close()
        self.cluster.stop()


def ready_istiod_pods(store: Store) -> None:
    """One Running and Ready pod per istiod Deployment, so the simulator's webhook Services have endpoints.

    The conformance simulator runs no controllers; the real server's webhook is a URL and needs none.
    """
    for dep in store.list(sim_istio.DEPLOYMENTS, label_selector="app=istiod"):
        meta = dep["metadata"]
        name = f"{meta['name']}-conformance"
        if store.get("pods", meta["namespace"], name) is not None:
            continue
        template = dep["spec"]["template"]
        store.create(
            "pods",
            {
                "metadata": {
                    "name": name,
                    "namespace": meta["namespace"],
                    "labels": dict(template["metadata"].get("labels") or {}),
                },
                "spec": template["spec"],
                "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]},
            },
        )


# -- the real API server --------------------------------------------------------------------------------


class RealBackend(Backend):
    """etcd + kube-apiserver built from source; admission webhooks served by the test process."""

    name = "realapi"

    def __init__(self, server: Any) -> None:
        super().__init__()
        self.server = server
        self.kubeconfig = server.admin_kubeconfig
        self.viewer_kubeconfig = server.viewer_kubeconfig
        self.version = server.version
        self.webhook: Any = None

    def expire_history(self, resource: str) -> None:
        if resource not in self.server.uncached_resources:
            pytest.fail(
                f"{resource} is served from the watch cache: a compaction would not show; "
                f"start the server with uncached_resources=[{resource!r}]"
            )
        self.server.compact()

    def _install(self, scenario: Scenario) -> None:
        from realapi.webhook import InjectionWebhook, register_istio

        if self.webhook is None:
            assert self.server.workdir is not None
            self.webhook = InjectionWebhook(self.kubeconfig, Path(self.server.workdir) / "webhook").start()
        register_istio(self.api_client(), scenario, self.webhook)

    def stop(self) -> None:
        self.close()
        if self.webhook is not None:
            self.webhook.stop()
