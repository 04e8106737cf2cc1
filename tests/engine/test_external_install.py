"""`meshtui upgrade install --external` for a control plane served from outside the cluster (istiod-remote chart).

There is no istiod Deployment to wait for: the revision is Ready when its injector webhooks are in place and,
for a Service-backed remote istiod, when that Service has ready endpoints (the CLI against the simulator).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from meshtui.sim import istio
from meshtui.sim.store import Store
from tests.engine.support import Mesh, cli

OLD, NEW = "1-22-3", "1-23-1"
REMOTE = {"name": "istiod-remote", "namespace": "istio-system", "path": "/inject", "port": 15017}


def upgrade(mesh: Mesh, *args: str) -> Any:
    return cli("upgrade", *args, kubeconfig=mesh.kubeconfig)


def managed_target(store: Store) -> None:
    istio.install_revision(store, NEW, "1.23.1", external=True, set_default_tag=False)


def behind_a_service(store: Store) -> None:
    """The remote chart's other shape: the webhooks call a Service in this cluster (no selector, endpoints by hand)."""

    def via_service(obj: dict[str, Any]) -> dict[str, Any]:
        for hook in obj["webhooks"]:
            hook["clientConfig"] = {"service": dict(REMOTE), "caBundle": hook["clientConfig"].get("caBundle", "")}
        return obj

    store.update(istio.MWC, None, f"istio-sidecar-injector-{NEW}", via_service)
    store.create(
        "services",
        {
            "metadata": {"name": "istiod-remote", "namespace": "istio-system", "labels": {"istio.io/rev": NEW}},
            "spec": {"ports": [{"name": "https-webhook", "port": 15017}]},
        },
    )


def endpoints(addresses: list[str]) -> Callable[[Store], None]:
    def change(store: Store) -> None:
        store.create(
            "endpoints",
            {
                "metadata": {"name": "istiod-remote", "namespace": "istio-system"},
                "subsets": [{"addresses": [{"ip": ip} for ip in addresses], "ports": [{"port": 15017}]}],
            },
        )

    return change


def test_a_managed_target_is_ready_once_its_webhooks_are_in_place(mesh_factory: Callable[..., Mesh]) -> None:
    mesh = mesh_factory("fresh")
    assert upgrade(mesh, "start", "--target", NEW, "--yes").returncode == 0
    mesh.store(managed_target)
    done = upgrade(mesh, "install", "--external", "--yes", "--timeout", "20")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "served from outside the cluster" in done.stdout
    status = upgrade(mesh, "status", "--json")
    assert '"phase": "data-plane"' in status.stdout, status.stdout[:400]


def test_a_service_without_ready_endpoints_is_not_ready(mesh_factory: Callable[..., Mesh]) -> None:
    mesh = mesh_factory("fresh")
    assert upgrade(mesh, "start", "--target", NEW, "--yes").returncode == 0
    mesh.store(managed_target)
    mesh.store(behind_a_service)
    waiting = upgrade(mesh, "install", "--external", "--yes", "--timeout", "3")
    assert waiting.returncode == 6, waiting.stdout + waiting.stderr
    assert (
        "Service istio-system/istiod-remote behind webhook istio-sidecar-injector-1-23-1/"
        in waiting.stdout + waiting.stderr
    )
    assert "has no ready endpoints: the API server rejects every pod it selects (failurePolicy Fail)" in (
        waiting.stdout + waiting.stderr
    )
    mesh.store(endpoints(["10.8.0.4"]))
    done = upgrade(mesh, "install", "--external", "--yes", "--timeout", "20")
    assert done.returncode == 0, done.stdout + done.stderr


def test_finish_with_a_managed_revision_only_detaches_and_keeps_its_service_account(
    mesh_factory: Callable[..., Mesh],
) -> None:
    from meshtui.engine.planners.finish import plan_offline
    from tests.engine.support import open_session

    mesh = mesh_factory("fresh")
    mesh.store(managed_target)
    mesh.store(
        lambda s: s.create(
            "serviceaccounts",
            {"metadata": {"name": f"istiod-{NEW}", "namespace": "istio-system", "labels": {"istio.io/rev": NEW}}},
        )
    )
    session, view = open_session(mesh, source=OLD, target=NEW)
    gates = session.state(view).gates
    assert gates is not None
    plan = plan_offline(session.ctx, view, NEW, OLD, gates.rollback, "Rollback")
    assert plan.title.startswith(f"Detach the cluster from revision {NEW}"), plan.title
    assert "offline (irreversible)" not in plan.title
    assert any("the external istiod keeps running" in n for n in plan.notes), plan.notes
    assert not [op for op in plan.operations if op.kind == "ServiceAccount"], plan.lines()
    assert any(
        f"ServiceAccount istio-system/istiod-{NEW} kept: a remote secret (`istioctl create-remote-secret "
        f"--service-account istiod-{NEW}`) may still use it" in s
        for s in plan.skipped
    ), plan.skipped
    assert any(op.kind == "MutatingWebhookConfiguration" for op in plan.operations), plan.lines()
    session.close()


def test_the_phase_waits_while_the_remote_istiod_service_has_no_ready_endpoints(
    mesh_factory: Callable[..., Mesh],
) -> None:
    import json

    mesh = mesh_factory("fresh")
    assert upgrade(mesh, "start", "--target", NEW, "--yes").returncode == 0
    mesh.store(managed_target)
    mesh.store(behind_a_service)
    status = json.loads(upgrade(mesh, "status", "--json").stdout)
    assert status["phase"] == "control-plane", status["phase"]
    switch = status["actions"]["switch"]
    assert not switch["enabled"]
    assert any("has no ready endpoints: the API server rejects every pod it selects" in r for r in switch["reasons"])
    mesh.store(endpoints(["10.8.0.4"]))
    status = json.loads(upgrade(mesh, "status", "--json").stdout)
    assert status["phase"] == "data-plane", status["actions"]["switch"]
