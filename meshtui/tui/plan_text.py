"""A plan as the dialog shows it: totals first, then each line with its continuation under its text.

A plan of thousands of operations must say what it amounts to before its first line, and a wrapped
line must stay visibly part of its numbered entry.
"""

from __future__ import annotations

import re
import textwrap

from rich.console import Console, ConsoleOptions, Group, RenderableType, RenderResult
from rich.measure import Measurement
from rich.text import Text

from meshtui.domain.plan import Plan

#: The marker of a plan line (`  12.`, `  refused:`, `  skipped:`, `  note:`) and the text after it.
_LINE = re.compile(r"^(\s*(?:\d+\.|refused:|skipped:|note:|nothing)\s?)(.*)$")


def _count(n: int, one: str, many: str) -> str:
    return f"{n:,} {one if n == 1 else many}"


def plan_totals(plan: Plan) -> str:
    """`1,345 operations: 1,200 workload rollouts in 400 namespaces · 12 skipped · 3 notes`."""
    ops = plan.operations
    # Namespaces the plan relabels or whose workloads it rolls (a ConfigMap in istio-system is neither).
    namespaces = {
        (op.cluster, op.name if op.kind == "Namespace" else op.namespace)
        for op in ops
        if op.kind == "Namespace" or (op.await_rollout and op.namespace)
    }
    rollouts = sum(1 for op in ops if op.await_rollout)
    parts = [_count(len(ops), "operation", "operations")]
    what = []
    if rollouts:
        what.append(_count(rollouts, "workload rollout", "workload rollouts"))
    if namespaces:
        what.append(("in " if rollouts else "") + _count(len(namespaces), "namespace", "namespaces"))
    head = parts[0] + (f": {' '.join(what)}" if what else "")
    tail = []
    if plan.skipped:
        tail.append(f"{len(plan.skipped):,} skipped")
    if plan.notes:
        tail.append(_count(len(plan.notes), "note", "notes"))
    if plan.refusals:
        tail.append(_count(len(plan.refusals), "refusal", "refusals"))
    return " · ".join([head, *tail])


class HangingLines:
    """Lines of `marker text` whose text wraps under itself, rendered at whatever width is given.

    A plan of thousands of lines must render in a fraction of a second: textwrap per line, not a table.
    """

    def __init__(self, rows: list[tuple[str, str]]) -> None:
        self.rows = rows
        self.indent = max((len(prefix) for prefix, _ in rows), default=0)

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        width = max(20, options.max_width)
        out: list[str] = []
        for prefix, text in self.rows:
            indent = len(prefix) if len(prefix) < width // 2 else 2
            if len(text) <= width - indent:  # most lines fit: textwrap only the others
                out.append(prefix + text)
                continue
            lines = textwrap.wrap(text, width - indent, break_long_words=True, break_on_hyphens=False) or [""]
            out.append(prefix + lines[0])
            out += [" " * indent + line for line in lines[1:]]
        yield Text("\n".join(out), no_wrap=True, overflow="crop")

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        return Measurement(20, options.max_width)


def plan_body(plan: Plan) -> RenderableType:
    """Totals, then the plan's lines, each wrapped under its own text (never under its number)."""
    lines = plan.lines()
    rows: list[tuple[str, str]] = []
    for line in lines[1:]:
        match = _LINE.match(line)
        rows.append((match.group(1), match.group(2)) if match else ("", line))
    return Group(Text(plan_totals(plan), style="bold"), Text(lines[0]), HangingLines(rows))
