"""The order kept incrementally through flushes equals a stable sort of the rows from scratch."""

from __future__ import annotations

import random
from collections.abc import Hashable

import pytest

from meshtui.tui.widgets import Row, VirtualTable
from meshtui.tui.widgets.virtual_table import RowFilter, SortKey

from .test_virtual_table import TableApp, new_table

STATUSES = ("Running", "Pending", "Failed")


def expected(table: VirtualTable, sort: SortKey | None, reverse: bool, keep: RowFilter | None) -> list[Hashable]:
    """What a full re-order gives: the rows in insertion order, filtered, then stably sorted."""
    rows = {key: table.get_row(key) for key in table._rows}
    order = [key for key, row in rows.items() if keep is None or keep(key, row)]  # type: ignore[arg-type]
    if sort is not None:
        order.sort(key=lambda key: sort(key, rows[key]), reverse=reverse)  # type: ignore[arg-type]
    return order


def by_status(_key: Hashable, row: Row) -> str:
    return str(row[1])  # many ties: their order is the insertion order


def by_key(key: Hashable, _row: Row) -> str:
    return str(key)


def not_failed(_key: Hashable, row: Row) -> bool:
    return row[1] != "Failed"


def random_row(rng: random.Random, key: str) -> Row:
    return (f"pod-{key}", rng.choice(STATUSES), str(rng.randrange(100)))


@pytest.mark.parametrize("seed", range(6))
async def test_incremental_order_equals_a_full_sort(seed: int) -> None:
    rng = random.Random(seed)
    table = new_table()
    app = TableApp(table, {f"k{i:04d}": random_row(rng, f"k{i:04d}") for i in range(0, 400, 3)})
    sorts: list[tuple[SortKey | None, bool]] = [(by_key, False), (by_status, False), (None, False), (by_key, True)]
    sort, reverse = sorts[seed % len(sorts)]
    keep: RowFilter | None = not_failed if seed % 2 else None
    async with app.run_test(size=(80, 24)) as pilot:
        table.set_sort(sort, reverse=reverse)
        table.set_filter(keep)
        table.flush()
        for step in range(60):
            held = list(table._rows)
            roll = rng.random()
            if roll < 0.05:
                # A new sort or filter (a full re-order), now and then.
                sort, reverse = rng.choice(sorts)
                keep = rng.choice([None, not_failed])
                table.set_sort(sort, reverse=reverse)
                table.set_filter(keep)
            elif roll < 0.1:
                table.set_rows({k: random_row(rng, k) for k in rng.sample(held, len(held) // 2)})
            else:
                # A burst of inserts (some far before the last key, some after), updates and deletes.
                new = [f"k{rng.randrange(2000):04d}" for _ in range(rng.choice([1, 5, 40, 300]))]
                upserts = {k: random_row(rng, k) for k in new}
                for k in rng.sample(held, min(len(held), rng.randrange(10))):
                    upserts[k] = random_row(rng, k)
                deletes = rng.sample(held, min(len(held), rng.randrange(10)))
                table.apply(upserts, deletes)
            table.flush()
            assert table.visible_keys() == expected(table, sort, reverse, keep), f"step {step}"
            if table.cursor_key is not None:
                assert table.visible_keys()[table.cursor_index or 0] == table.cursor_key
        await pilot.pause()
