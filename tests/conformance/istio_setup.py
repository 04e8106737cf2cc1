"""The Istio install the injection tests share: two revisions, the default tag and two named tags.

`canary(store)` writes it with `meshtui.sim.istio`, exactly as the simulator's scenarios do; the
realapi backend copies its webhook configurations and ConfigMaps into the real server (see
tests/realapi/webhook.py), so both backends start from the same objects.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from meshtui.sim import istio
from meshtui.sim.resources import BY_KEY
from meshtui.sim.store import Store

OLD, NEW = "1-26-1", "1-27-0"
OLD_VERSION, NEW_VERSION = "1.26.1", "1.27.0"
KEY = "canary-1-26-1-to-1-27-0"


def canary(store: Store) -> None:
    """istioctl install of OLD (the first revisioned install: it gets the `default` tag), then NEW
    beside it, `istioctl tag set canary --revision NEW` and `istioctl tag set stable --revision OLD`."""
    istio.install_revision(store, OLD, OLD_VERSION)
    istio.install_revision(store, NEW, NEW_VERSION, set_default_tag=False)
    istio.set_tag(store, "canary", NEW)
    istio.set_tag(store, "stable", OLD)


#: The kinds of an Istio install (`istio.install_revision`, `istio.set_tag`) in the order `helm install`
#: creates them: accounts and config first, webhooks last, so no webhook calls an istiod not yet there.
INSTALL_ORDER = (
    "serviceaccounts",
    "configmaps",
    istio.DEPLOYMENTS,
    "services",
    istio.PDBS,
    istio.VWC,
    istio.MWC,
)
_SERVER_SET = ("uid", "resourceVersion", "creationTimestamp", "generation", "managedFields")


def control_plane_objects(scenario: Callable[[Store], None]) -> list[dict[str, Any]]:
    """What ``scenario`` installs (run on a scratch simulator store), as typed objects ready to create.

    Only the control plane: objects of the Istio namespace and the cluster-scoped webhook configurations,
    without server-set metadata and status.
    """
    store = Store()
    for name in ("default", "kube-system"):
        store.create("namespaces", {"metadata": {"name": name}})
    scenario(store)
    out: list[dict[str, Any]] = []
    for key in INSTALL_ORDER:
        res = BY_KEY[key]
        for obj in store.list(key):
            meta = obj["metadata"]
            if res.namespaced and meta.get("namespace") != istio.ISTIO_NAMESPACE:
                continue
            clean = {k: v for k, v in obj.items() if k not in ("status", "apiVersion", "kind")}
            clean["metadata"] = {k: v for k, v in meta.items() if k not in _SERVER_SET}
            out.append({"apiVersion": res.api_version, "kind": res.kind, **clean})
    return out


def injected_revision(pod: dict[str, Any]) -> str | None:
    """The revision in `sidecar.istio.io/status`, or None when the pod has no sidecar.

    Also checks the two agree: a pod with the status annotation has an `istio-proxy` container
    (or native sidecar), and one without has none.
    """
    meta = pod.get("metadata") or {}
    spec = pod.get("spec") or {}
    status = (meta.get("annotations") or {}).get("sidecar.istio.io/status")
    names = [c.get("name") for c in (spec.get("containers") or [])]
    names += [c.get("name") for c in (spec.get("initContainers") or []) if c.get("restartPolicy") == "Always"]
    has_proxy = "istio-proxy" in names
    assert has_proxy == (status is not None), (names, status)
    if status is None:
        return None
    revision = json.loads(status)["revision"]
    return str(revision)
