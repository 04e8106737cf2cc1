"""The upgrade record kept in a ConfigMap: source, target, phase, times and the journal.

It lives in the cluster so that any operator on any jump host, or a restarted meshtui, resumes the
same upgrade; pydantic validates it on the way back in, because anyone with kubectl can edit it.
The record keeps the newest journal entries; older ones are spilled to archive ConfigMaps
(`recordstore.JournalArchive`), never dropped, and the begin and every irreversible entry stay here too.
"""

from __future__ import annotations

from typing import Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from meshtui.domain.actions import ActionId

RECORD_NAME = "meshtui-upgrade"
RECORD_KEY = "record.json"
JOURNAL_KEY = "journal.json"
#: ConfigMaps are capped at 1 MiB: past this many entries in the record, the oldest are spilled to an archive.
JOURNAL_CAP = 400
#: A spill leaves this many entries in the record, so the archive is written once per hundred entries.
SPILL_TO = 300
#: Actions whose applied entries stay in the record for good (with the begin entry, `start`).
IRREVERSIBLE = frozenset({ActionId.FINISH, ActionId.DELETE_PODS})

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
    #: Position in the whole journal of the upgrade, from 1 (archived entries included).
    seq: int = 0

    @property
    def pinned(self) -> bool:
        """The begin entry and irreversible ones: kept in the record even once archived."""
        return self.action == ActionId.START or (self.action in IRREVERSIBLE and self.result == "applied")


class JournalPart(BaseModel):
    """One archive ConfigMap of older journal entries: its name and the positions it holds."""

    model_config = ConfigDict(extra="ignore")

    name: str
    first: int
    last: int
    count: int


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
    #: Entries lost by meshtui versions that capped the journal (nothing is dropped any more).
    journal_dropped: int = 0
    #: Entries ever appended (the record's own, the archived and the dropped ones).
    journal_total: int = 0
    #: The archive ConfigMaps of older entries, oldest first.
    journal_archive: list[JournalPart] = Field(default_factory=list)
    #: Archived entries that stay here as well: the begin entry and every irreversible one.
    pinned: list[JournalEntry] = Field(default_factory=list)
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

    @model_validator(mode="after")
    def _number(self) -> UpgradeRecord:
        """Give entries written before positions existed theirs, so the archive can tell them apart."""
        base = self.journal_dropped + sum(p.count for p in self.journal_archive)
        for i, entry in enumerate(self.journal):
            if entry.seq == 0:
                self.journal[i] = entry.model_copy(update={"seq": base + i + 1})
        if self.journal:
            self.journal_total = max(self.journal_total, self.journal[-1].seq)
        return self

    def append(self, entry: JournalEntry) -> None:
        """Append to the journal (numbered); the store spills the oldest entries when there are too many."""
        self.journal_total += 1
        self.journal.append(entry.model_copy(update={"seq": self.journal_total}))

    def spill_due(self) -> list[JournalEntry]:
        """The oldest entries to move to the archive before the record is written (none below the cap)."""
        if len(self.journal) <= JOURNAL_CAP:
            return []
        return self.journal[: len(self.journal) - SPILL_TO]

    def spilled(self, entries: list[JournalEntry], parts: list[JournalPart]) -> None:
        """Record that `entries` (the oldest ones) are now archived in `parts`."""
        if not entries:
            return
        assert self.journal[: len(entries)] == entries, "only the oldest entries are archived"
        del self.journal[: len(entries)]
        self.pinned.extend(e for e in entries if e.pinned)
        self.journal_archive = parts

    def entries(self) -> list[JournalEntry]:
        """Every entry the record holds (the pinned archived ones and the newest), oldest first."""
        return sorted([*self.pinned, *self.journal], key=lambda e: e.seq)

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
