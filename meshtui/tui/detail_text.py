"""What a detail view adds under a row's fields: a journal entry's objects and before/after, whole."""

from __future__ import annotations

from typing import Any

from rich.text import Text

from meshtui.engine.api import JournalLine


def _value(value: Any) -> str:
    return "-" if value is None or value == "" else str(value)


def journal_extra(line: JournalLine) -> Text:
    """Every object the entry touched, its message, and each field before and after, one a line."""
    text = Text()
    if line.objects:
        text.append("Objects\n", style="bold")
        for obj in line.objects:
            text.append(f"  {obj}\n")
    if line.message:
        text.append("Message\n", style="bold")
        text.append(f"  {line.message}\n")
    fields = sorted(set(line.before) | set(line.after))
    if fields:
        text.append("Changes (before -> after)\n", style="bold")
        for field in fields:
            text.append(f"  {field}: {_value(line.before.get(field))} -> {_value(line.after.get(field))}\n")
    text.rstrip()
    return text
