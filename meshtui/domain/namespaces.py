"""Namespace rows: what a namespace asks for and how its pods stand, counted per revision."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from meshtui.domain.injection import NamespaceInjection
from meshtui.domain.pods import PodRow

UNKNOWN_REVISION = "unknown"  # the by_revision key of a proxy that carries no revision

MeshKey = tuple[str, str | None]  # (current revision, revision on restart)


@dataclass(frozen=True, slots=True)
class NamespaceRow:
    """One namespace of one cluster: its injection label, resolved revision and pod counters."""

    cluster: str
    name: str
    injection: NamespaceInjection
    live: int
    by_revision: Mapping[str, int]  # live pods with a sidecar, by current revision
    no_sidecar: int
    at_risk: int
    terminal: int
    # Live sidecar pods that are not gateways, by (current revision, revision on restart): what gates count.
    mesh_pods: Mapping[MeshKey, int]
    known: bool = True  # False when pods were seen but not the Namespace object
    dataplane_mode: str | None = None  # label istio.io/dataplane-mode ("ambient" enrols its pods)
    use_waypoint: str | None = None  # label istio.io/use-waypoint

    @property
    def revision(self) -> str | None:
        """The revision the namespace's labels resolve to."""
        return self.injection.revision


@dataclass(frozen=True, slots=True)
class Contribution:
    """What one pod adds to its namespace's counters; subtracting it undoes the pod."""

    live: int
    no_sidecar: int
    at_risk: int
    terminal: int
    revision: str | None  # by_revision key
    mesh: MeshKey | None
    proxy: tuple[str, str | None] | None  # (revision, proxy version) for the skew counters


_TERMINAL = Contribution(0, 0, 0, 1, None, None, None)
_NO_SIDECAR = Contribution(1, 1, 0, 0, None, None, None)
_NO_SIDECAR_AT_RISK = Contribution(1, 1, 1, 0, None, None, None)


def contribution(row: PodRow) -> Contribution:
    """The counters one pod row contributes (terminal pods count only as terminal)."""
    if not row.live:
        return _TERMINAL
    if not row.has_sidecar:
        return _NO_SIDECAR_AT_RISK if row.at_risk else _NO_SIDECAR
    rev = row.revision or UNKNOWN_REVISION
    mesh = (rev, row.revision_on_restart) if row.gateway is None else None
    return Contribution(1, 0, int(row.at_risk), 0, rev, mesh, (rev, row.proxy_version))
