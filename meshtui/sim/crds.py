"""CustomResourceDefinitions for the custom kinds the simulator serves (Gateway API, Istio).

A real cluster has a CRD for each; k9s and `kubectl get crd` list them, and tools read a kind's scope and
versions from them. Schemas are left open (`x-kubernetes-preserve-unknown-fields`), as served versions
need one.
"""

from __future__ import annotations

from typing import Any

from meshtui.sim.resources import CRD_GROUPS, RESOURCES, Resource
from meshtui.sim.store import Obj, Store

KEY = "apiextensions.k8s.io/customresourcedefinitions"


def crd(group: str, plural: str, kinds: list[Resource]) -> Obj:
    """The CRD of one group/plural, with every served version (the first is the storage version)."""
    first = kinds[0]
    names: dict[str, Any] = {
        "plural": plural,
        "singular": first.singular,
        "kind": first.kind,
        "listKind": f"{first.kind}List",
    }
    if first.short_names:
        names["shortNames"] = list(first.short_names)
    if first.categories:
        names["categories"] = list(first.categories)
    versions = []
    for i, r in enumerate(kinds):
        version: dict[str, Any] = {
            "name": r.version,
            "served": True,
            "storage": i == 0,
            "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}},
        }
        if r.has_status:
            version["subresources"] = {"status": {}}
        versions.append(version)
    accepted = [
        {"type": "NamesAccepted", "status": "True", "reason": "NoConflicts", "message": "no conflicts found"},
        {
            "type": "Established",
            "status": "True",
            "reason": "InitialNamesAccepted",
            "message": "the initial names have been accepted",
        },
    ]
    return {
        "metadata": {"name": f"{plural}.{group}", "labels": _labels(group)},
        "spec": {
            "group": group,
            "names": names,
            "scope": "Namespaced" if first.namespaced else "Cluster",
            "versions": versions,
            "conversion": {"strategy": "None"},
        },
        "status": {"conditions": accepted, "acceptedNames": names, "storedVersions": [first.version]},
    }


def _labels(group: str) -> dict[str, str]:
    if group.endswith("istio.io"):
        return {"app": "istio-pilot", "chart": "istio", "heritage": "Tiller", "release": "istio"}
    return {"gateway.networking.k8s.io/bundle-version": "v1.2.1", "gateway.networking.k8s.io/channel": "standard"}


def definitions() -> list[Obj]:
    """One CRD for each custom group/plural the simulator serves."""
    by_name: dict[tuple[str, str], list[Resource]] = {}
    for r in RESOURCES:
        if r.group in CRD_GROUPS:
            by_name.setdefault((r.group, r.plural), []).append(r)
    return [crd(group, plural, kinds) for (group, plural), kinds in by_name.items()]


def ensure(store: Store) -> None:
    """Create the CRDs that are missing (they carry their Established status, as an installed CRD does)."""
    for obj in definitions():
        if store.entry(KEY, None, obj["metadata"]["name"]) is None:
            store.create(KEY, obj)
