"""The upgrade record's ConfigMap: read, create, and conditional read-modify-write that survives races.

Every write carries the resourceVersion it was based on; a 409 means someone else (another meshtui, a
kubectl edit) wrote first, so the record is read again and the same change (a journal append, a
progress mark) is re-applied to the fresh copy: nothing they wrote is lost and nothing is applied twice.
Older journal entries are moved to archive ConfigMaps (`meshtui-upgrade-journal-N`) before the record
is written; archiving is idempotent by entry position, so a retried write never archives twice.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import orjson

from meshtui.cluster import mutations
from meshtui.cluster.errors import ClusterError, Conflict, NotFound
from meshtui.cluster.rawapi import RawApi
from meshtui.engine.kube import retrying
from meshtui.engine.record import RECORD_NAME, JournalEntry, JournalPart, UpgradeRecord

#: How many times a conflicting write is re-read and re-applied before giving up.
MAX_ATTEMPTS = 8
#: Archive ConfigMaps are named this and a number; they carry this label (the number) to be found again.
ARCHIVE_PREFIX = f"{RECORD_NAME}-journal-"
ARCHIVE_LABEL = "meshtui.io/journal-part"
ARCHIVE_KEY = "journal.json"
#: An archive part stays below this many bytes of entries (a ConfigMap holds at most 1 MiB).
PART_BYTES = 700_000


class RecordConflict(ClusterError):
    """The record kept changing under us (or was deleted) while writing it."""

    exit_code = 5


class RecordStore:
    """The record of one mesh: a ConfigMap in the control-plane namespace of the first cluster."""

    def __init__(self, api: RawApi, namespace: str):
        self.api = api
        self.namespace = namespace
        self.record: UpgradeRecord | None = None
        self.resource_version: str | None = None
        self.writes = 0
        #: Called before every write; raises (a LockLost) when this session may no longer write.
        self.fence: Callable[[], None] = lambda: None
        self.archive = JournalArchive(api, namespace, lambda: self.fence())

    @property
    def collection(self) -> str:
        """The ConfigMaps collection of the control-plane namespace."""
        return f"/api/v1/namespaces/{self.namespace}/configmaps"

    @property
    def ref(self) -> str:
        """`ConfigMap ns/name`, as messages name it."""
        return f"ConfigMap {self.namespace}/{RECORD_NAME}"

    def read(self) -> UpgradeRecord | None:
        """Read the record (None when no upgrade was ever started here); raises RecordError if damaged."""
        try:
            raw = retrying(
                lambda: self.api.request(
                    "GET", f"{self.collection}/{RECORD_NAME}", what=f"reading the upgrade record {self.ref}"
                )
            )
        except NotFound:
            self.record, self.resource_version = None, None
            return None
        self.resource_version = str((raw.get("metadata") or {}).get("resourceVersion") or "")
        self.record = UpgradeRecord.from_configmap_data(raw.get("data") or {})
        return self.record

    def body(self, record: UpgradeRecord, resource_version: str | None = None) -> dict[str, Any]:
        """The ConfigMap holding a record (with the resourceVersion a replace is conditional on)."""
        meta: dict[str, object] = {
            "name": RECORD_NAME,
            "namespace": self.namespace,
            "labels": {"app.kubernetes.io/managed-by": "meshtui"},
        }
        if resource_version:
            meta["resourceVersion"] = resource_version
        return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": record.to_configmap_data()}

    def create(self, record: UpgradeRecord) -> None:
        """Create the record; a 409 means an upgrade is already recorded (raised as Conflict)."""
        self.fence()
        created = retrying(
            lambda: mutations.create(
                self.api, self.collection, self.body(record), what=f"creating the upgrade record {self.ref}"
            )
        )
        self.writes += 1
        self.record = record
        self.resource_version = str((created.get("metadata") or {}).get("resourceVersion") or "")

    def _writer(self, body: dict[str, Any]) -> Callable[[], dict[str, Any]]:
        return lambda: mutations.replace(
            self.api, f"{self.collection}/{RECORD_NAME}", body, what=f"writing the upgrade record {self.ref}"
        )

    def update(self, change: Callable[[UpgradeRecord], None]) -> UpgradeRecord:
        """Apply `change` to the record and write it conditionally, re-reading and re-applying on 409."""
        for _ in range(MAX_ATTEMPTS):
            if (self.record is None or self.resource_version is None) and self.read() is None:
                raise RecordConflict(
                    f"The upgrade record {self.ref} no longer exists (someone deleted it); "
                    "nothing was written: start the upgrade again or restore it."
                )
            assert self.record is not None
            fresh = copy.deepcopy(self.record)
            stored = fresh.journal_total
            change(fresh)
            # Only entries already stored are archived: their positions are final even if this write is retried.
            due = [e for e in fresh.spill_due() if e.seq <= stored]
            if due:
                fresh.spilled(due, self.archive.append(fresh.journal_archive, due))
            self.fence()
            try:
                written = retrying(self._writer(self.body(fresh, self.resource_version)))
            except Conflict:
                self.record, self.resource_version = None, None
                continue
            except NotFound:
                self.record, self.resource_version = None, None
                continue
            self.writes += 1
            self.record = fresh
            self.resource_version = str((written.get("metadata") or {}).get("resourceVersion") or "")
            return fresh
        raise RecordConflict(
            f"The upgrade record {self.ref} kept changing while meshtui wrote it ({MAX_ATTEMPTS} attempts); "
            "another writer is busy with it: try again in a moment."
        )


class JournalArchive:
    """The archive ConfigMaps of a record's older journal entries, appended to with optimistic concurrency."""

    def __init__(self, api: RawApi, namespace: str, fence: Callable[[], None] = lambda: None):
        self.api = api
        self.namespace = namespace
        self.fence = fence
        #: The parts as this process last wrote them (a record write that failed may not list them yet).
        self.known: list[JournalPart] = []

    @property
    def collection(self) -> str:
        """The ConfigMaps collection of the control-plane namespace."""
        return f"/api/v1/namespaces/{self.namespace}/configmaps"

    def read(self, name: str) -> tuple[list[JournalEntry], str]:
        """The entries of one part and its resourceVersion ([] and "" when it does not exist)."""
        try:
            raw = retrying(
                lambda: self.api.request("GET", f"{self.collection}/{name}", what=f"reading ConfigMap {name}")
            )
        except NotFound:
            return [], ""
        data = raw.get("data") or {}
        entries = [JournalEntry.model_validate(e) for e in orjson.loads(data.get(ARCHIVE_KEY) or "[]")]
        return entries, str((raw.get("metadata") or {}).get("resourceVersion") or "")

    def all_entries(self, parts: list[JournalPart]) -> list[JournalEntry]:
        """Every archived entry of the given parts, oldest first."""
        return [e for part in parts for e in self.read(part.name)[0]]

    def append(self, parts: list[JournalPart], entries: list[JournalEntry]) -> list[JournalPart]:
        """Archive entries after those already archived; the parts afterwards (idempotent by position)."""
        known = self.known
        parts = list(known if known and (not parts or known[-1].last >= parts[-1].last) else parts)
        pending = list(entries)
        for _ in range(MAX_ATTEMPTS * 4):
            if parts:
                pending = [e for e in pending if e.seq > parts[-1].last]
            if not pending:
                self.known = parts
                return parts
            if parts:
                last = parts[-1]
                stored, rv = self.read(last.name)
                pending = [e for e in pending if not stored or e.seq > stored[-1].seq]
                take = _fit(stored, pending)
                if pending and take and rv:
                    merged = stored + pending[:take]
                    try:
                        self._write(last.name, merged, rv)
                    except Conflict:
                        continue
                    parts[-1] = JournalPart(name=last.name, first=merged[0].seq, last=merged[-1].seq, count=len(merged))
                    continue
                if not pending and stored:
                    parts[-1] = JournalPart(name=last.name, first=stored[0].seq, last=stored[-1].seq, count=len(stored))
                    continue
            chunk = pending[: max(1, _fit([], pending))]
            name = self._next_name()
            try:
                self._write(name, chunk, None)
            except Conflict:
                continue  # someone took that number first: the next one
            parts.append(JournalPart(name=name, first=chunk[0].seq, last=chunk[-1].seq, count=len(chunk)))
        raise RecordConflict(
            f"The journal archive ConfigMaps {ARCHIVE_PREFIX}N in {self.namespace} kept changing while meshtui "
            "wrote them; nothing was lost: try again in a moment."
        )

    def _next_name(self) -> str:
        found = retrying(
            lambda: self.api.request(
                "GET", self.collection, query=[("labelSelector", ARCHIVE_LABEL)], what="listing the journal archive"
            )
        )
        numbers = [
            int(label)
            for item in found.get("items") or []
            if (label := str(((item.get("metadata") or {}).get("labels") or {}).get(ARCHIVE_LABEL) or "")).isdigit()
        ]
        return f"{ARCHIVE_PREFIX}{max(numbers, default=0) + 1}"

    def _write(self, name: str, entries: list[JournalEntry], resource_version: str | None) -> None:
        meta: dict[str, Any] = {
            "name": name,
            "namespace": self.namespace,
            "labels": {"app.kubernetes.io/managed-by": "meshtui", ARCHIVE_LABEL: name.removeprefix(ARCHIVE_PREFIX)},
        }
        data = {ARCHIVE_KEY: orjson.dumps([e.model_dump(mode="json") for e in entries]).decode()}
        body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": data}
        self.fence()
        if resource_version:
            meta["resourceVersion"] = resource_version
            path = f"{self.collection}/{name}"
            retrying(lambda: mutations.replace(self.api, path, body, what=f"archiving to {name}"))
        else:
            retrying(lambda: mutations.create(self.api, self.collection, body, what=f"creating the archive {name}"))


def _size(entry: JournalEntry) -> int:
    return len(orjson.dumps(entry.model_dump(mode="json"))) + 1


def _fit(stored: list[JournalEntry], pending: list[JournalEntry]) -> int:
    """How many of `pending` still fit in a part already holding `stored`."""
    used = sum(_size(e) for e in stored)
    take = 0
    for entry in pending:
        used += _size(entry)
        if used > PART_BYTES:
            break
        take += 1
    return take
