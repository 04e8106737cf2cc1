"""`meshtui check` never calls an unknown jump supported, and reads a managed revision's version from its proxies.

A managed (istiod-remote chart) revision has no istiod Deployment and, by the chart's default, no injector
ConfigMap: its version is the one its injected proxies run, or unknown.
"""

from __future__ import annotations

from typing import Any

from meshtui.domain.inventory import InventoryView
from meshtui.engine.precheck import precheck
from meshtui.sim import istio
from meshtui.sim.store import Store

from .test_phase import view_of

OLD, NEW = "1-22-3", "1-23-1"


def managed(revision: str, version: str | None = None):  # type: ignore[no-untyped-def]
    """Install (or turn) a revision into a managed one: webhooks with a url, no Deployment, no ConfigMap."""

    def change(store: Store) -> None:
        if version is not None:
            istio.install_revision(store, revision, version, external=True, set_default_tag=False)
        for key, name in (
            ("apps/deployments", f"istiod-{revision}"),
            ("configmaps", f"istio-sidecar-injector-{revision}"),
        ):
            if store.get(key, "istio-system", name) is not None:
                store.remove(key, "istio-system", name)

        def unversioned(obj: dict[str, Any]) -> dict[str, Any]:
            for label in ("operator.istio.io/version", "app.kubernetes.io/version", "helm.sh/chart"):
                obj["metadata"].get("labels", {}).pop(label, None)
            return obj

        hooks = istio.MWC
        store.update(hooks, None, f"istio-sidecar-injector-{revision}", unversioned)

    return change


def jump(view: InventoryView) -> str:
    from meshtui.domain.snapshot import MeshSnapshot

    findings = precheck(view, MeshSnapshot(()), source=OLD, target=NEW)
    return next(f"{f.severity} {f.message}" for f in findings if f.code.startswith("jump"))


def test_an_unknown_version_is_never_called_a_supported_jump() -> None:
    view = view_of("fresh", managed(NEW, "1.23.1"), source=OLD, target=NEW)
    found = jump(view)
    assert "supported" not in found.replace("is supported", "") and not found.startswith("info"), found
    assert found.startswith("warning cannot tell whether the jump from 1-22-3 (1.22.3) to 1-23-1 (?)"), found


def test_a_managed_source_s_version_comes_from_its_proxies() -> None:
    def both(store: Store) -> None:
        managed(NEW, "1.23.1")(store)
        managed(OLD)(store)

    view = view_of("fresh", both, source=OLD, target=NEW)
    revisions = {r.name: r for r in view.revisions}
    assert revisions[OLD].istiod is None and revisions[OLD].version is None, revisions[OLD]
    found = jump(view)
    assert "1-22-3 (1.22.3 (from its proxies))" in found and "1-23-1 (?)" in found, found
