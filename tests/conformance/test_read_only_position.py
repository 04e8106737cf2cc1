"""`meshtui --read-only STEP` (the option before the subcommand) writes nothing, on the simulator and a real server.

The option used to be replaced by the subcommand's default, so `meshtui --read-only upgrade switch shop
--yes` patched the namespace and wrote the Lease and the record. Every object meshtui writes (namespaces,
the record ConfigMap and the Lease, webhook configurations) keeps its resourceVersion across each
read-only command; on the simulator its request log also shows no request but GET.
"""

from __future__ import annotations

from typing import Any

from kubernetes import client

from meshtui.sim import istio
from tests.engine.support import cli

from .backends import Backend, SimBackend
from .istio_setup import control_plane_objects

OLD_VERSION, OLD, NEW = "1.22.3", "1-22-3", "1-23-1"


def source(store: Any) -> None:
    istio.install_revision(store, OLD, OLD_VERSION, set_default_tag=False)
    istio.set_tag(store, "default", OLD)
    istio.set_tag(store, "prod-stable", OLD)


def versions(api: client.ApiClient) -> dict[str, str]:
    """The resourceVersion of every object meshtui may write."""
    core, coord = client.CoreV1Api(api), client.CoordinationV1Api(api)
    adm = client.AdmissionregistrationV1Api(api)
    found: dict[str, str] = {}
    for kind, items in (
        ("Namespace", core.list_namespace().items),
        ("ConfigMap", core.list_namespaced_config_map(istio.ISTIO_NAMESPACE).items),
        ("Lease", coord.list_namespaced_lease(istio.ISTIO_NAMESPACE).items),
        ("MutatingWebhookConfiguration", adm.list_mutating_webhook_configuration().items),
    ):
        for item in items:
            found[f"{kind} {item.metadata.namespace or ''}/{item.metadata.name}"] = item.metadata.resource_version
    return found


def test_read_only_before_the_subcommand_writes_nothing(dedicated_backend: Backend) -> None:
    backend = dedicated_backend
    api = backend.api_client()
    backend.install_control_plane(control_plane_objects(source))
    shop = backend.unique_namespace("shop", {"istio-injection": "enabled"})
    kubeconfig = ["--kubeconfig", str(backend.kubeconfig)]

    def read_only(*step: str) -> None:
        before = versions(api)
        if isinstance(backend, SimBackend):
            backend.cluster.faults.clear_log()
        done = cli("--read-only", *step, *kubeconfig, timeout=180)
        assert "Traceback" not in done.stderr, done.stderr
        assert versions(api) == before, f"meshtui --read-only {' '.join(step)} wrote:\n{done.stdout}\n{done.stderr}"
        if isinstance(backend, SimBackend):
            sent = [f"{r.method} {r.path}" for r in backend.cluster.faults.requests() if r.method != "GET"]
            assert sent == []

    read_only("upgrade", "start", "--target", NEW, "--yes")
    started = cli("upgrade", "start", "--target", NEW, "--yes", *kubeconfig, timeout=180)
    assert started.returncode == 0, started.stderr
    read_only("upgrade", "switch", shop, "--yes")
    read_only("upgrade", "restart", "--all", "--yes")
    read_only("upgrade", "move-tag", "prod-stable", "--to", NEW, "--yes")
    read_only("plan", "switch", "--all", "--dry-run")
    core = client.CoreV1Api(api)
    assert core.read_namespace(shop).metadata.labels.get("istio.io/rev") is None
