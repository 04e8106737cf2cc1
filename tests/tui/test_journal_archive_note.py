"""The Journal tab says how many entries the upgrade has in all and where the archived ones are."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from meshtui.cluster.rawapi import RawApi
from meshtui.engine.record import JournalEntry, UpgradeRecord
from meshtui.engine.recordstore import RecordStore
from meshtui.engine.session import EngineSession
from meshtui.tui.factory import build_app, watch_targets

from .conftest import Cluster, Waiter

NOW = "2026-03-02T10:00:00Z"


async def test_the_journal_summary_names_the_archive(
    start_cluster: Callable[..., Cluster], waiter: Waiter, monkeypatch: Any
) -> None:
    monkeypatch.setenv("MESHTUI_IDENTITY", "sre@jump-1")
    cluster = start_cluster("fresh")
    store = RecordStore(RawApi(cluster.targets[0].api_client, cluster.targets[0].name), "istio-system")
    store.create(UpgradeRecord(source="1-22-3", target="1-23-1", started=NOW, updated=NOW, started_by="sre"))
    for _ in range(10):
        batch = [JournalEntry(time=NOW, identity="sre", action="switch", result="applied") for _n in range(50)]
        store.update(lambda r, batch=batch: [r.append(e) for e in batch])
    assert store.record is not None and store.record.journal_archive
    watched = watch_targets(cluster.targets)
    session = EngineSession(cluster.targets, None)
    app = build_app(watched, session)
    try:
        async with app.run_test(size=(160, 40), message_hook=waiter.hook) as pilot:
            dash = app.dashboard
            await waiter.until(pilot, lambda: dash.snapshot is not None and dash.snapshot.state is not None)
            await pilot.press("5")
            summary = str(dash.journal.summary.render())
            assert "500 in all, the older in ConfigMap meshtui-upgrade-journal-1" in summary, summary
    finally:
        session.close()
        watched.stop()
