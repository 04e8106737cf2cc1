"""A plan as the dialog shows it: totals first, then each line with its continuation under its text.

A plan of thousands of operations must say what it amounts to before its first line, and a wrapped
line must stay visibly part of its numbered entry.
"""

from __future__ import annotations

import re

from rich.console import Group, RenderableType
from rich.table import Table
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


def plan_body(plan: Plan) -> RenderableType:
    """Totals, then the plan's lines, each wrapped under its own text (never under its number)."""
    lines = plan.lines()
    # Runs of lines of the same kind share a grid whose marker column is exactly as wide as their markers.
    runs: list[list[tuple[str, str]]] = []
    kind = None
    for line in lines[1:]:
        match = _LINE.match(line)
        prefix, text = (match.group(1), match.group(2)) if match else ("", line)
        this = "number" if prefix.strip()[:1].isdigit() else prefix.strip()
        if not runs or this != kind:
            runs.append([])
            kind = this
        runs[-1].append((prefix, text))
    parts: list[RenderableType] = [Text(plan_totals(plan), style="bold"), Text(lines[0])]
    for run in runs:
        table = Table.grid(expand=True)
        table.add_column(no_wrap=True, width=max(len(prefix) for prefix, _ in run) or None)
        table.add_column(ratio=1, overflow="fold")
        for prefix, text in run:
            table.add_row(Text(prefix), Text(text))
        parts.append(table)
    return Group(*parts)
