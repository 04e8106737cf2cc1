"""The upgrade record's ConfigMap: read, create, and conditional read-modify-write that survives races.

Every write carries the resourceVersion it was based on; a 409 means someone else (another meshtui, a
kubectl edit) wrote first, so the record is read again and the same change (a journal append, a
progress mark) is re-applied to the fresh copy: nothing they wrote is lost and nothing is applied twice.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from meshtui.cluster import mutations
from meshtui.cluster.errors import ClusterError, Conflict, NotFound
from meshtui.cluster.rawapi import RawApi
from meshtui.engine.kube import retrying
from meshtui.engine.record import RECORD_NAME, UpgradeRecord

#: How many times a conflicting write is re-read and re-applied before giving up.
MAX_ATTEMPTS = 8


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
            change(fresh)
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
