"""Shared fixtures for the domain tests: the canary install of tests/domain/fixtures, parsed."""

from __future__ import annotations

from typing import Any

import pytest

from meshtui.domain.inventory import Inventory, InventoryView
from meshtui.domain.snapshot import ClusterSnapshot, MeshSnapshot

from .builders import load

CLUSTER = "prod-east"


@pytest.fixture(scope="session")
def control_plane_raw() -> list[dict[str, Any]]:
    """Revisions 1-22-3 and 1-23-1, tags default/prod-stable -> 1-22-3 and prod-canary -> 1-23-1."""
    return load("control-plane.yaml")


@pytest.fixture(scope="session")
def workloads_raw() -> list[dict[str, Any]]:
    """Namespaces, workloads, pods and gateways of the canary scenario."""
    return load("workloads.yaml")


@pytest.fixture(scope="session")
def mesh(control_plane_raw: list[dict[str, Any]], workloads_raw: list[dict[str, Any]]) -> MeshSnapshot:
    """The whole scenario as a one-cluster mesh."""
    return MeshSnapshot((ClusterSnapshot.from_raw(CLUSTER, control_plane_raw + workloads_raw),))


@pytest.fixture(scope="session")
def view(mesh: MeshSnapshot) -> InventoryView:
    """The inventory view of the scenario, source/target auto-detected."""
    return Inventory.from_snapshot(mesh).view()


def build(objects: list[dict[str, Any]], cluster: str = CLUSTER) -> InventoryView:
    """A view of a list of raw objects."""
    return Inventory.from_snapshot(MeshSnapshot((ClusterSnapshot.from_raw(cluster, objects),))).view()
