"""The one-shot commands collect garbage in large steps while they read (default steps rescan every model)."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from pathlib import Path

import pytest

from meshtui.cli.collector import ONE_SHOT_THRESHOLD
from meshtui.cli.main import main


@pytest.fixture(autouse=True)
def _restore_thresholds() -> Iterator[None]:
    saved = gc.get_threshold()
    gc.set_threshold(700, 10, 10)
    yield
    gc.set_threshold(*saved)


def test_status_reads_with_large_young_collections(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    dump = tmp_path / "mesh.yaml"
    dump.write_text("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: shop\n")
    assert main(["status", "--json", "--from-file", str(dump)]) == 0
    assert gc.get_threshold() == (ONE_SHOT_THRESHOLD, 10, 10)
    assert '"shop"' in capsys.readouterr().out
