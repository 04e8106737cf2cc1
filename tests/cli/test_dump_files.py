"""`--from-file` dumps: libyaml's loader when present, the API server's scalars kept, unreadable files skipped."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

from meshtui.cluster import dumps
from meshtui.cluster.dumps import load_dumps
from meshtui.cluster.errors import ConfigError


@pytest.mark.skipif(not getattr(yaml, "__with_libyaml__", False), reason="PyYAML without libyaml")
def test_the_c_loader_is_used_when_present() -> None:
    assert issubclass(dumps._Loader, yaml.CSafeLoader)


def test_timestamps_and_yes_no_stay_strings(tmp_path: Path) -> None:
    path = tmp_path / "ns.yaml"
    path.write_text(
        "kind: Namespace\nmetadata:\n  name: shop\n  creationTimestamp: 2026-01-01T00:00:00Z\n"
        "  labels: {a: yes, b: on, c: true}\n  generation: 3\n"
    )
    (ns,) = load_dumps([str(path)]).objects["Namespace"]
    meta = ns["metadata"]
    assert meta["creationTimestamp"] == "2026-01-01T00:00:00Z"
    assert meta["labels"] == {"a": "yes", "b": "on", "c": True}
    assert meta["generation"] == 3


def test_a_folder_skips_what_it_cannot_read_and_reads_the_rest(tmp_path: Path) -> None:
    (tmp_path / "good.yaml").write_text("kind: Namespace\nmetadata: {name: shop}\n")
    (tmp_path / "deep.yaml").write_text("[" * 100_000 + "]" * 100_000)
    (tmp_path / "binary.yaml").write_bytes(bytes(range(256)))
    os.mkfifo(tmp_path / "pipe.yaml")
    found = load_dumps([str(tmp_path)])
    assert [o["metadata"]["name"] for o in found.objects["Namespace"]] == ["shop"]
    assert len(found.problems) == 2 and all("skipped" in p for p in found.problems), found.problems


def test_nothing_readable_is_an_error_naming_why(tmp_path: Path) -> None:
    (tmp_path / "deep.yaml").write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(ConfigError, match="No Kubernetes object could be read") as refused:
        load_dumps([str(tmp_path / "deep.yaml")])
    assert refused.value.exit_code == 2
