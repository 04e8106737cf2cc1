"""What keeps Upgrade or Rollback disabled, in full (the gates carry only the first five of each kind)."""

from __future__ import annotations

from dataclasses import dataclass

from meshtui.domain.actions import ActionId
from meshtui.domain.inventory import InventoryView

NsKey = tuple[str, str]
PodKey = tuple[str, str, str]


@dataclass(frozen=True, slots=True)
class Offenders:
    """Namespaces, pods, gateways and tags not yet on the revision to keep."""

    keep: str
    namespaces: frozenset[NsKey]  # namespaces that ask for another revision or hold offending pods
    pods: frozenset[PodKey]
    gateways: frozenset[PodKey]
    tags: tuple[str, ...]

    @property
    def empty(self) -> bool:
        """True when nothing offends."""
        return not (self.namespaces or self.pods or self.gateways or self.tags)


def offenders(view: InventoryView, keep: str, away: str | None) -> Offenders:
    """Everything that must still move to `keep` before `away` goes offline (the gate's conditions, in full)."""
    namespaces: set[NsKey] = set()
    for ns in view.namespaces:
        asks_other = ns.injection.asks and ns.injection.revision != keep
        pods_off = any(current != keep or on_restart != keep for current, on_restart in ns.mesh_pods)
        if asks_other or pods_off:
            namespaces.add((ns.cluster, ns.name))
    pods = frozenset(
        (p.cluster, p.namespace, p.name)
        for key in sorted(namespaces)
        for p in view.pods(*key)
        if p.live and p.has_sidecar and p.gateway is None and (p.revision != keep or p.revision_on_restart != keep)
    )
    gateways = frozenset(
        (g.cluster, g.namespace, g.name)
        for g in view.gateways
        if set(g.revisions) - {keep} or g.revision_on_restart != keep
    )
    tags = tuple(t.name for cp in view.control_planes for t in cp.tags if away and t.revision == away)
    return Offenders(keep, frozenset(namespaces), pods, gateways, tags)


def keep_of(
    action: ActionId | str, phase: str | None, source: str | None, target: str | None, goal: str | None = None
) -> str | None:
    """The revision an action keeps: the target for upgrade, the source for rollback; for finish the chosen
    one (by phase), else the direction the operator works in (`goal`)."""
    if action == ActionId.UPGRADE:
        return target
    if action == ActionId.ROLLBACK:
        return source
    if action == ActionId.FINISH:
        if phase in ("finishing-rollback", "finishing-upgrade"):
            return source if phase == "finishing-rollback" else target
        return source if goal == "rollback" else target
    return None


def offline_revision(phase: str | None, source: str | None, target: str | None) -> str | None:
    """The revision Finish takes offline: the source after Upgrade, the target after Rollback."""
    if phase == "finishing-rollback":
        return target
    if phase == "finishing-upgrade":
        return source
    return None
