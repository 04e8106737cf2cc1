"""The two backends of the conformance tier: the simulator and a real kube-apiserver + etcd.

Both are started once per session (see conftest.py) and handed to each test as a `Backend`, which
exposes the same things on both: admin and read-only kubeconfigs, official-client `ApiClient`s,
unique namespaces, a way to make watch history expire, and an Istio install that injects pods.

Namespaces are never cleaned up: a real namespace without kube-controller-manager never finishes
Terminating, so every test works in namespaces of its own (`unique_namespace()`).

Tests that need a whole cluster to themselves (the engine's runs: the mesh is cluster-wide) get a
*dedicated* backend instead (`dedicated_backend` in conftest.py): a simulator with its controllers, or
a real server of their own with the injection webhook and the harness controller (tests/realapi).
"""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException

from meshtui.sim import istio as sim_istio
from meshtui.sim.resources import RESOURCES
from meshtui.sim.settings import SimSettings
from meshtui.sim.store import Store
from tests.helpers import start_sim

#: (connect, read) timeouts for every watch a test opens: a missing event fails instead of hanging.
WATCH_TIMEOUT = (5, 30)
META_LIST = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json"
META = "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1,application/json"

#: Nodes of a dedicated backend: the simulator's Node objects, the names the real server's harness binds
#: DaemonSet pods to (it has no Node objects).
NODES = 2

#: Namespaces a fresh real API server has; the simulator is set up with the same ones.
SYSTEM_NAMESPACES = ("default", "kube-node-lease", "kube-public", "kube-system")

Scenario = Callable[[Store], None]


def sim_settings() -> SimSettings:
    """Quick timings for the conformance simulator (bookmarks every second, like a short real watch)."""
    return SimSettings(pod_ready_delay=0.05, pod_termination_delay=0.05, bookmark_interval=1.0, history_window=100_000)


def sim_setup(store: Store) -> None:
    """What a fresh real API server already has: its system namespaces."""
    for name in SYSTEM_NAMESPACES:
        store.create("namespaces", {"metadata": {"name": name}})


def node_names(count: int) -> tuple[str, ...]:
    """The simulator's node names (`sim-node-1`...), used by the harness too."""
    return tuple(f"sim-node-{i}" for i in range(1, count + 1))


def unique(prefix: str) -> str:
    """A DNS-1123 name nobody else in this session uses."""
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


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

    # -- a cluster of one's own (dedicated backends only) ----------------------------------------------

    def manage(self, namespace: str) -> None:
        """Let the cluster's controllers act in ``namespace`` (the simulator's always do)."""

    def install_control_plane(self, objects: list[dict[str, Any]]) -> None:
        """Create typed objects (a rendered control plane, see `istio_setup.control_plane_objects`) as an
        installer would; on the real server the injector webhooks are pointed at the test's webhook."""
        raise NotImplementedError

    def prepare_manifests(self, folder: Path) -> None:
        """Make rendered manifests (`meshtui sim render-revision`) installable on this backend."""


# -- the simulator ------------------------------------------------------------------------------------


class SimBackend(Backend):
    """The simulator with the same namespaces as a fresh real server, no controllers (unless asked for:
    then its Deployment, StatefulSet, DaemonSet, kubelet, PDB and namespace controllers run, on
    `NODES` nodes like the harness on the real server)."""

    name = "sim"

    def __init__(self, workdir: Path, *, controllers: bool = False) -> None:
        super().__init__()
        settings = sim_settings()
        if controllers:
            settings.nodes = NODES
        self.cluster = start_sim(setup=sim_setup, settings=settings, controllers=controllers)
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

    def install_control_plane(self, objects: list[dict[str, Any]]) -> None:
        from kubernetes import utils

        api = self.api_client()
        core = client.CoreV1Api(api)
        for namespace in sorted({(o.get("metadata") or {}).get("namespace") for o in objects} - {None}):
            with contextlib.suppress(ApiException):
                core.create_namespace({"metadata": {"name": namespace}})
        for obj in objects:
            utils.create_from_dict(api, obj, namespace=(obj.get("metadata") or {}).get("namespace") or "default")

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
    """etcd + kube-apiserver built from source; admission webhooks served by the test process.

    With ``controllers`` (a dedicated server) the harness controller runs too and acts in the namespaces
    passed to `manage`, in the Istio namespace and on cluster-scoped objects (tests/realapi/harness.py).
    """

    name = "realapi"

    def __init__(self, server: Any, *, controllers: bool = False) -> None:
        super().__init__()
        self.server = server
        self.kubeconfig = server.admin_kubeconfig
        self.viewer_kubeconfig = server.viewer_kubeconfig
        self.version = server.version
        self.webhook: Any = None
        self.harness: Any = None
        if controllers:
            from realapi.harness import HarnessController

            self.harness = HarnessController(self.api_client(), nodes=node_names(NODES)).start()
            self.harness.manage_cluster_scoped()
            self.harness.manage(sim_istio.ISTIO_NAMESPACE)

    def _webhook(self) -> Any:
        from realapi.webhook import InjectionWebhook

        if self.webhook is None:
            assert self.server.workdir is not None
            self.webhook = InjectionWebhook(self.kubeconfig, Path(self.server.workdir) / "webhook").start()
        return self.webhook

    def expire_history(self, resource: str) -> None:
        if resource not in self.server.uncached_resources:
            pytest.fail(
                f"{resource} is served from the watch cache: a compaction would not show; "
                f"start the server with uncached_resources=[{resource!r}]"
            )
        self.server.compact()

    def _install(self, scenario: Scenario) -> None:
        from realapi.webhook import register_istio

        register_istio(self.api_client(), scenario, self._webhook())

    def manage(self, namespace: str) -> None:
        if self.harness is None:
            raise RuntimeError("no harness controller: start the RealBackend with controllers=True")
        self.harness.manage(namespace)

    def install_control_plane(self, objects: list[dict[str, Any]]) -> None:
        from realapi.webhook import install_objects

        install_objects(self.api_client(), objects, self._webhook())

    def prepare_manifests(self, folder: Path) -> None:
        from realapi.webhook import point_manifests_at

        assert point_manifests_at(folder, self._webhook()), f"no injector webhook in the manifests in {folder}"

    def stop(self) -> None:
        if self.harness is not None:
            self.harness.stop()
        self.close()
        if self.webhook is not None:
            self.webhook.stop()
