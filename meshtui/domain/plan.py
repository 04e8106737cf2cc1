"""Plans as data: the exact API operations an action will perform, printable and dry-runnable."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

from meshtui.domain.actions import ActionId
from meshtui.domain.reasons import Reason, gate

MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_MERGE_PATCH = "application/strategic-merge-patch+json"
JSON_PATCH = "application/json-patch+json"
APPLY_PATCH = "application/apply-patch+yaml"


@dataclass(frozen=True, slots=True)
class Operation:
    """One API write: verb, object, body, and the resourceVersion it was planned against.

    `expect_rv` makes the write conditional (a patch carrying metadata.resourceVersion), so a change made
    by someone else after the plan was shown is a 409, never a blind overwrite.
    """

    cluster: str
    verb: str  # patch, create, delete, apply, replace; exec (an installer: argv in body); wait (a revision Ready)
    api_path: str  # collection path, e.g. /api/v1/namespaces or /apis/apps/v1/namespaces/shop/deployments
    kind: str
    namespace: str | None
    name: str
    body: Any = None
    content_type: str = MERGE_PATCH
    expect_rv: str | None = None
    summary: str = ""
    before: dict[str, Any] = field(default_factory=dict)
    after: dict[str, Any] = field(default_factory=dict)
    #: A workload restart: applied in batches, each awaited until its rollout completes.
    await_rollout: bool = False

    @property
    def object_ref(self) -> str:
        """`Kind ns/name` or `Kind name`, as the plan and the journal print it."""
        where = f"{self.namespace}/{self.name}" if self.namespace else self.name
        return f"{self.kind} {where}"

    @property
    def path(self) -> str:
        """The object's URL path (the collection path for create)."""
        return self.api_path if self.verb == "create" else f"{self.api_path}/{self.name}"

    def describe(self) -> str:
        """One line: what changes on which object, for the plan view and `--dry-run` output."""
        ctx = f"[{self.cluster}] " if self.cluster else ""
        if self.verb == "exec" and isinstance(self.body, list | tuple):
            return f"{ctx}run {' '.join(str(a) for a in self.body)}" + (f": {self.summary}" if self.summary else "")
        if self.verb == "wait":
            return f"{ctx}wait for {self.object_ref}: {self.summary}"
        return f"{ctx}{self.verb} {self.object_ref}: {self.summary}"

    def wire_body(self) -> Any:
        """The body as sent, with the planned resourceVersion as the optimistic-concurrency precondition."""
        if self.expect_rv and self.verb == "patch" and isinstance(self.body, dict):
            body = orjson.loads(orjson.dumps(self.body))
            body.setdefault("metadata", {})["resourceVersion"] = self.expect_rv
            return body
        return self.body


#: Remedies a plan can name: each surface says how (a dashboard key, a CLI flag), the plan never does.
REMEDY_IGNORE_PDB = "ignore-pdb"  # a PodDisruptionBudget that never allows a disruption held workloads back
REMEDY_MANIFESTS = "manifests"  # istioctl-rendered gateways need the folder of their rendered manifests


@dataclass(frozen=True, slots=True)
class Plan:
    """An action turned into operations, with what it cannot do and why."""

    action: ActionId
    title: str
    operations: tuple[Operation, ...] = ()
    #: Things the plan deliberately leaves alone, each with its reason (bare pods, paused Deployments...).
    skipped: tuple[str, ...] = ()
    #: Why the action is refused outright (a gate, read-only mode); empty when it may proceed.
    refusals: tuple[str, ...] = ()
    #: What the operator should know before confirming (impact of a tag move, steps left to an installer).
    notes: tuple[str, ...] = ()
    #: Restarts: workloads per batch and seconds between batches.
    batch_size: int = 0
    pause_seconds: float = 0.0
    #: What would make the skipped items plannable (REMEDY_*), for the surface to offer in its own terms.
    remedies: tuple[str, ...] = ()
    #: The refusals as typed reasons (a planner's own refusals are gate reasons unless it says otherwise).
    why: tuple[Reason, ...] = ()

    @property
    def refused(self) -> bool:
        """True when the plan must not be applied."""
        return bool(self.refusals)

    @property
    def refusal_reasons(self) -> tuple[Reason, ...]:
        """Every refusal typed: the typed ones given, the others as gate reasons."""
        typed = {r.message for r in self.why}
        return (*self.why, *(gate(r) for r in self.refusals if r not in typed))

    def lines(self) -> list[str]:
        """The plan as printed by the CLI and shown in the confirmation modal."""
        out = [f"Plan: {self.title}"]
        if self.refusals:
            out += [f"  refused: {r}" for r in self.refusals]
        out += [f"  {i + 1:>3}. {op.describe()}" for i, op in enumerate(self.operations)]
        if not self.operations and not self.refusals:
            if self.skipped:
                out.append(f"  nothing to apply: {len(self.skipped)} skipped, see why below")
            elif self.notes:
                out.append("  no object is changed: see the notes below")  # verify, or recording a choice
            else:
                out.append("  nothing to do: the cluster already matches")
        out += [f"  skipped: {s}" for s in self.skipped]
        out += [f"  note: {n}" for n in self.notes]
        return out
