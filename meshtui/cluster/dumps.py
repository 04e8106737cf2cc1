"""Offline input: objects from `kubectl get -o yaml|json` dumps (files or folders, multi-document, `kind: List`)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import yaml

from meshtui.cluster.errors import ConfigError
from meshtui.cluster.files import MAX_DUMP_BYTES, FileRefused, SafeLoader, read_bounded, yaml_problem

_SUFFIXES = {".yaml", ".yml", ".json"}


@dataclass(slots=True)
class DumpContents:
    """Raw objects found in dumps, grouped by kind, and a sentence for every document that was skipped."""

    objects: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    files: int = 0


def load_dumps(paths: list[str]) -> DumpContents:
    """Read every YAML/JSON file under the given paths; unreadable documents are reported, not fatal."""
    out = DumpContents()
    for p in paths:
        path = Path(p)
        if not path.exists() and not path.is_symlink():
            raise ConfigError(f"{p} does not exist; pass a dump file or a folder of them to --from-file.")
        if path.is_dir():
            files = sorted(f for f in path.rglob("*") if f.suffix in _SUFFIXES and f.is_file())
            for f in files:
                out.files += 1
                try:
                    text = read_bounded(f, MAX_DUMP_BYTES, "The dump")
                except FileRefused as exc:
                    out.problems.append(f"{exc.message} Skipped.")
                    continue
                for obj in _documents(f, text, out.problems):
                    _collect(obj, str(f), out)
        else:
            # A file named on the command line must be readable: refusing it is clearer than skipping it.
            text = read_bounded(path, MAX_DUMP_BYTES, "The dump")
            out.files += 1
            for obj in _documents(path, text, out.problems):
                _collect(obj, str(path), out)
    if not out.objects:
        first = out.problems[0].removesuffix(" Skipped.").removesuffix("; skipped.") if out.problems else ""
        why = f" ({first})" if first else f" ({out.files} files)"
        raise ConfigError(
            f"No Kubernetes object could be read from {', '.join(paths)}{why}; "
            "pass `kubectl get ... -o yaml` or `-o json` dumps to --from-file."
        )
    return out


def _documents(path: Path, text: bytes, problems: list[str]) -> Iterator[Any]:
    if path.suffix == ".json" or text.lstrip()[:1] in (b"{", b"["):
        try:
            yield orjson.loads(text)
            return
        except orjson.JSONDecodeError:
            if path.suffix == ".json":
                problems.append(f"{path}: not valid JSON; skipped.")
                return
    try:
        docs = list(yaml.load_all(text, Loader=_Loader))
    except (yaml.YAMLError, ValueError, RecursionError) as exc:
        problems.append(f"{path}: not valid YAML ({yaml_problem(exc)}); skipped.")
        return
    yield from (d for d in docs if d is not None)


def _collect(obj: Any, origin: str, out: DumpContents) -> None:
    if not isinstance(obj, dict):
        out.problems.append(f"{origin}: a document is not an object; skipped.")
        return
    kind = obj.get("kind")
    if isinstance(kind, str) and kind.endswith("List") and isinstance(obj.get("items"), list):
        item_kind = kind[: -len("List")] if kind != "List" else None
        for item in obj["items"]:
            if isinstance(item, dict) and item_kind and "kind" not in item:
                item = {**item, "kind": item_kind}
            _collect(item, origin, out)
        return
    if isinstance(kind, str) and kind.endswith("List") and "items" in obj:
        out.problems.append(f"{origin}: a {kind} whose items are not a list; skipped.")
        return
    if not isinstance(kind, str) or not kind:
        out.problems.append(f"{origin}: an object without a kind; skipped.")
        return
    out.objects.setdefault(kind, []).append(obj)


class _Loader(SafeLoader):  # type: ignore[valid-type,misc]
    """The safe loader (libyaml's when present) that keeps timestamps as strings, as the API server's JSON has them."""


# Kubernetes timestamps must stay strings (the domain parses them itself), and `on`/`yes` stay strings.
_Loader.yaml_implicit_resolvers = {
    k: [(tag, rx) for tag, rx in v if tag not in ("tag:yaml.org,2002:timestamp", "tag:yaml.org,2002:bool")]
    for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)
