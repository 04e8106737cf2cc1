"""Whether verification holds for the Finish gate: the data plane's fingerprint and the verify status.

Pure (an inventory view and the record in, a status out), so the gate, the stepper and the CLI agree.
A verify run or a typed skip is bound to the data-plane state it was decided on: once the namespaces'
injection, the pods' revisions, readiness or restart counts change, it is stale and must be made again.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from enum import StrEnum

from meshtui.domain.inventory import InventoryView
from meshtui.engine.record import UpgradeRecord

#: What the operator types to finish without a passing verify run (followed by a reason).
SKIP_WORDS = "skip verify"
#: The way forward a reason names, in the dashboard's words (the CLI passes its own).
HOW = f"press v (`meshtui upgrade verify`), or type `{SKIP_WORDS}` with a reason"


class VerifyState(StrEnum):
    """The verify step as the stepper and the Finish gate see it."""

    NOT_RUN = "not run"
    PASSED = "passed"
    FAILED = "failed"
    UNKNOWN = "unknown"  # some checks could not run: not passed unless skipped explicitly
    STALE = "stale"
    SKIPPED = "skipped"

    @property
    def satisfied(self) -> bool:
        """True when Finish may go on: a fresh passing run, or a fresh typed skip."""
        return self in (VerifyState.PASSED, VerifyState.SKIPPED)


@dataclass(frozen=True, slots=True)
class DataPlaneState:
    """The data-plane facts a verify run depends on, summed up and fingerprinted."""

    fingerprint: str
    namespaces: int
    pods: int
    restarts: int
    not_ready: int


@dataclass(frozen=True, slots=True)
class VerifyStatus:
    """The verify state of the kept revision, with a sentence for a gate that is not met."""

    state: VerifyState
    revision: str | None
    at: str | None = None
    reason: str = ""  # why Finish waits (empty when satisfied)


#: The last view fingerprinted and its state: the dashboard judges the same immutable view many times.
_last: tuple[InventoryView, DataPlaneState] | None = None


def data_plane_state(view: InventoryView) -> DataPlaneState:
    """Namespaces' injection (labels and what they resolve to) and sidecar pods' revisions, readiness, restarts.

    Pods are taken by name with their revision pair only when they restarted or are not Ready, so a
    scale-up on an unchanged revision leaves the fingerprint as it was while a crash-looping pod does not.
    """
    global _last
    last = _last
    if last is not None and last[0] is view:
        return last[1]
    state = _fingerprint(view)
    _last = (view, state)
    return state


def _fingerprint(view: InventoryView) -> DataPlaneState:
    digest = hashlib.sha256()
    namespaces = pods = restarts = not_ready = 0
    for ns in sorted(view.namespaces, key=lambda n: (n.cluster, n.name)):
        inj = ns.injection
        pairs = sorted(((cur or "", nxt or "") for cur, nxt in ns.mesh_pods), key=str)
        digest.update(repr((ns.cluster, ns.name, inj.label, inj.value, inj.revision, pairs)).encode())
        namespaces += 1 if inj.asks else 0
    for g in sorted(view.gateways, key=lambda g: (g.cluster, g.namespace, g.name)):
        digest.update(repr((g.cluster, g.namespace, g.name, sorted(g.revisions), g.revision_on_restart)).encode())
    marked = []
    for p in view.pods():
        if not p.live or not p.has_sidecar:
            continue
        pods += 1
        restarts += p.pod.restarts
        not_ready += 0 if p.pod.ready else 1
        if p.pod.restarts or not p.pod.ready:
            marked.append((p.cluster, p.namespace, p.name, p.revision, p.pod.restarts, p.pod.ready))
    digest.update(repr(sorted(marked, key=str)).encode())
    return DataPlaneState(digest.hexdigest()[:16], namespaces, pods, restarts, not_ready)


def kept_revision(record: UpgradeRecord | None, source: str | None, target: str | None) -> str | None:
    """The revision Finish keeps: the source once Rollback is chosen (or is the goal), else the target."""
    if record is not None and (record.finish_choice or record.goal) == "rollback":
        return source
    return target


def verify_status(
    record: UpgradeRecord | None, view: InventoryView | None, kept: str | None, how: str = HOW
) -> VerifyStatus:
    """The verify state of `kept` against the current data plane (`view=None`: freshness is not judged)."""
    if record is None or kept is None:
        return VerifyStatus(VerifyState.NOT_RUN, kept, reason=f"verify has not run: {how}")
    run, skip = record.verify_run, record.verify_skip
    current = data_plane_state(view).fingerprint if view is not None and (run or skip) else None

    def fresh(fingerprint: str) -> bool:
        return current is None or current == fingerprint

    if run is not None and run.revision == kept and run.result == "passed" and fresh(run.fingerprint):
        return VerifyStatus(VerifyState.PASSED, kept, run.at)
    if skip is not None and skip.revision == kept and fresh(skip.fingerprint):
        return VerifyStatus(VerifyState.SKIPPED, kept, skip.at)
    if run is None or run.revision != kept:
        return VerifyStatus(VerifyState.NOT_RUN, kept, reason=f"verify of {kept} has not run: {how}")
    if not fresh(run.fingerprint):
        return VerifyStatus(
            VerifyState.STALE,
            kept,
            run.at,
            f"the data plane changed since verify ran at {run.at}: run it again ({how})",
        )
    if run.result == "unknown":
        return VerifyStatus(
            VerifyState.UNKNOWN,
            kept,
            run.at,
            f"verify of {kept} at {run.at} could not run every check (unknown is not passed): {how}",
        )
    failing = ", ".join(c.name for c in record.checks if c.result == "fail")
    return VerifyStatus(
        VerifyState.FAILED,
        kept,
        run.at,
        f"verify of {kept} at {run.at} failed ({failing or 'see the Verify tab'}): fix it and {how}",
    )
