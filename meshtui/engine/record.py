"""The upgrade record kept in a ConfigMap: source, target, phase, times and a capped journal.

It lives in the cluster so that any operator on any jump host, or a restarted meshtui, resumes the
same upgrade; pydantic validates it on the way back in, because anyone with kubectl can edit it.
"""

from __future__ import annotations

from typing import Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError

RECORD_NAME = "meshtui-upgrade"
RECORD_KEY = "record.json"
JOURNAL_KEY = "journal.json"
#: ConfigMaps are capped at 1 MiB; the oldest journal entries go first (the count of dropped ones is kept).
JOURNAL_CAP = 400

Phase = Literal[
    "control-plane",
    "data-plane",
    "verify",
    "finishing-upgrade",
    "finishing-rollback",
    "completed",
    "cancelled",
]


class JournalEntry(BaseModel):
    """One applied or refused step: who, where, what, before/after, and the result."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    time: str
    identity: str
    cluster: str = ""
    action: str
    objects: list[str] = Field(default_factory=list)
    before: dict[str, Any] = Field(default_factory=dict)
    after: dict[str, Any] = Field(default_factory=dict)
    result: str  # applied, refused, failed, dry-run, conflict, skipped
    message: str = ""


class RestartProgress(BaseModel):
    """A restart batch in flight, so a restarted meshtui finishes it instead of starting over."""

    model_config = ConfigDict(extra="ignore")

    batch_id: str
    workloads: list[str]  # "cluster|Kind|ns|name"
    done: list[str] = Field(default_factory=list)
    restarted_at: str = ""
    batch_size: int = 5
    pause_seconds: float = 0.0
    action: str = "restart"  # the action that started it (restart, gateways, gateways-back)
    failed: list[str] = Field(default_factory=list)  # "cluster|Kind|ns|name: why"
    updated: str = ""  # last progress write, so an interrupted run can be told from a live one
    ignore_pdb: bool = False

    @property
    def remaining(self) -> list[str]:
        """Workloads not yet rolled out, in the recorded order."""
        done = set(self.done)
        return [w for w in self.workloads if w not in done]


class SwitchMark(BaseModel):
    """What a namespace (or a workload's pod template) carried before meshtui switched it, and when."""

    model_config = ConfigDict(extra="ignore")

    at: str
    injection: str | None = None  # the istio-injection value before the first switch
    rev: str | None = None  # the istio.io/rev value before the first switch
    to: str | None = None  # the value it was last switched to


class CheckRecord(BaseModel):
    """One verify check as stored with the upgrade."""

    model_config = ConfigDict(extra="ignore")

    name: str
    result: str
    detail: str = ""
    offenders: list[str] = Field(default_factory=list)


class VerifyRun(BaseModel):
    """One verify run: when, of which revision, its verdict, and the data-plane state it checked."""

    model_config = ConfigDict(extra="ignore")

    at: str
    by: str = ""
    revision: str
    result: Literal["passed", "failed", "unknown"]
    #: `verifystate.DataPlaneState.fingerprint` of the view the checks read; any later change makes the run stale.
    fingerprint: str
    namespaces: int = 0
    pods: int = 0
    restarts: int = 0
    not_ready: int = 0


class VerifySkip(BaseModel):
    """The operator's typed, journalled decision to finish without a passing verify run, and why."""

    model_config = ConfigDict(extra="ignore")

    at: str
    by: str
    revision: str
    reason: str
    #: The data-plane state the skip was decided on; a later change needs a new decision.
    fingerprint: str


class OriginalLabels(BaseModel):
    """A namespace's injection labels when the upgrade began (what a switch back restores)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    injection: str | None = None  # istio-injection
    rev: str | None = None  # istio.io/rev


class UpgradeRecord(BaseModel):
    """The upgrade as stored: the pair of revisions, the phase, times and the journal."""

    model_config = ConfigDict(extra="ignore")

    source: str
    target: str
    phase: Phase = "control-plane"
    started: str
    updated: str
    started_by: str
    finish_choice: Literal["upgrade", "rollback"] | None = None
    offline_plan_shown: bool = False
    restart: RestartProgress | None = None
    journal: list[JournalEntry] = Field(default_factory=list)
    journal_dropped: int = 0
    clusters: list[str] = Field(default_factory=list)
    #: "cluster/namespace" -> labels before the first switch (switch-back restores them when they fit).
    switched: dict[str, SwitchMark] = Field(default_factory=dict)
    #: "cluster/namespace/Kind/name" -> the pod-template istio.io/rev before meshtui changed it.
    templates: dict[str, SwitchMark] = Field(default_factory=dict)
    #: "cluster/tag" -> the revision the tag resolved to before meshtui first moved it.
    tags: dict[str, str] = Field(default_factory=dict)
    verify_at: str | None = None
    checks: list[CheckRecord] = Field(default_factory=list)
    #: The last verify run (the Finish gate needs a passing, fresh one of the kept revision) and a typed skip.
    verify_run: VerifyRun | None = None
    verify_skip: VerifySkip | None = None
    #: "cluster/namespace" -> its injection labels at `start` (only namespaces carrying one of them).
    original: dict[str, OriginalLabels] = Field(default_factory=dict)
    #: The direction the operator last worked in (switch/gateways: upgrade; their "back": rollback).
    goal: Literal["upgrade", "rollback"] | None = None
    finished: str | None = None  # when the chosen revision went offline

    def append(self, entry: JournalEntry) -> None:
        """Append to the journal, dropping the oldest entries beyond the cap."""
        self.journal.append(entry)
        excess = len(self.journal) - JOURNAL_CAP
        if excess > 0:
            del self.journal[:excess]
            self.journal_dropped += excess

    def to_configmap_data(self) -> dict[str, str]:
        """The ConfigMap `data` holding this record."""
        head = self.model_dump(exclude={"journal"}, mode="json")
        return {
            RECORD_KEY: orjson.dumps(head, option=orjson.OPT_INDENT_2).decode(),
            JOURNAL_KEY: orjson.dumps([e.model_dump(mode="json") for e in self.journal]).decode(),
        }

    @classmethod
    def from_configmap_data(cls, data: dict[str, str]) -> UpgradeRecord:
        """Parse a stored record; a damaged one raises RecordError with what is wrong."""
        try:
            head = orjson.loads(data.get(RECORD_KEY, ""))
            journal = orjson.loads(data.get(JOURNAL_KEY) or "[]")
            return cls.model_validate({**head, "journal": journal})
        except (orjson.JSONDecodeError, ValidationError, TypeError) as exc:
            first = str(exc).splitlines()[0]
            raise RecordError(
                f"The upgrade record ConfigMap {RECORD_NAME} is damaged ({first}); inspect it with "
                f"`kubectl get configmap {RECORD_NAME} -o yaml` and fix or delete it."
            ) from None


class RecordError(ValueError):
    """The stored record cannot be read."""
