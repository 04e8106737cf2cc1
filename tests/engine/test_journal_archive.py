"""The journal keeps every entry: older ones spill to archive ConfigMaps, the begin and irreversible ones stay."""

from __future__ import annotations

import json

import orjson
from kubernetes import client

from meshtui.cluster.rawapi import RawApi
from meshtui.engine.record import JOURNAL_CAP, JournalEntry, UpgradeRecord
from meshtui.engine.recordstore import ARCHIVE_KEY, RecordStore
from tests.engine.support import Mesh, cli

NOW = "2026-03-02T10:00:00Z"
MIB = 1024 * 1024
#: Entries as big as a gateway switch's (before/after of a few fields), so the archive needs several parts.
PAYLOAD = {f"metadata.labels[team-{i}]": "x" * 40 for i in range(12)}


def entry(n: int, action: str = "switch", result: str = "applied") -> JournalEntry:
    return JournalEntry(
        time=NOW,
        identity="alice@jump-1",
        action=action,
        objects=[f"Namespace ns-{n:04}"],
        before=PAYLOAD,
        result=result,
        message=f"entry {n}",
    )


def configmaps(mesh: Mesh) -> dict[str, client.V1ConfigMap]:
    return {cm.metadata.name: cm for cm in mesh.core.list_namespaced_config_map("istio-system").items}


def test_2100_entries_are_all_kept_and_said_where(fresh: Mesh) -> None:
    api = RawApi(fresh.targets()[0].api_client, "meshtui-sim")
    mine, theirs = RecordStore(api, "istio-system"), RecordStore(api, "istio-system")
    mine.create(UpgradeRecord(source="1-22-3", target="1-23-1", started=NOW, updated=NOW, started_by="alice"))
    mine.update(lambda r: r.append(entry(0, "start")))
    n = 1
    while n < 2100:
        batch = [entry(k, "finish" if k % 500 == 0 else "switch") for k in range(n, n + 50)]
        if n == 1001:
            theirs.read()
            theirs.update(lambda r: r.append(entry(-1, "verify")))  # a concurrent writer: mine's next write is a 409
        mine.update(lambda r, batch=batch: [r.append(e) for e in batch])
        n += 50

    cms = configmaps(fresh)
    record = UpgradeRecord.from_configmap_data(dict(cms["meshtui-upgrade"].data))
    parts = [cms[p.name] for p in record.journal_archive]
    assert len(parts) >= 2, [p.name for p in record.journal_archive]
    archived = [JournalEntry.model_validate(e) for cm in parts for e in json.loads(cm.data[ARCHIVE_KEY])]
    everything = archived + record.journal
    assert [e.seq for e in everything] == list(range(1, 2103)), "every entry once, in order, none dropped"
    assert sorted(e.message for e in everything) == sorted([f"entry {k}" for k in range(-1, 2101)])
    assert record.journal_total == 2102 and record.journal_dropped == 0
    assert len(record.journal) <= JOURNAL_CAP
    for cm in [cms["meshtui-upgrade"], *parts]:
        size = len(orjson.dumps(cm.data))
        assert size < MIB, f"ConfigMap {cm.metadata.name} holds {size} bytes"
    pinned = {e.message for e in record.entries() if e.action in ("start", "finish")}
    assert pinned == {"entry 0", "entry 500", "entry 1000", "entry 1500", "entry 2000"}, "begin and irreversible stay"
    assert all(cm.metadata.labels["app.kubernetes.io/managed-by"] == "meshtui" for cm in parts)

    text = cli("upgrade", "status", kubeconfig=fresh.kubeconfig)
    assert text.returncode == 0, text.stderr
    assert "JOURNAL (last 10 of 2102 entries)" in text.stdout, text.stdout
    assert all(p.name in text.stdout for p in record.journal_archive), text.stdout
    doc = json.loads(cli("upgrade", "status", "--json", kubeconfig=fresh.kubeconfig).stdout)
    assert doc["journal_total"] == 2102
    assert doc["journal_archive"] == [f"istio-system/{p.name}" for p in record.journal_archive]
