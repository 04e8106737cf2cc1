"""Pure parts of the dashboard: row cells, the filter language, the key registry, snapshot deltas."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from meshtui.domain.inventory import Inventory
from meshtui.tui import keymap
from meshtui.tui import rows as R
from meshtui.tui.feed import SnapshotBuilder, StaticMesh
from meshtui.tui.screens.help import help_table
from meshtui.tui.widgets.key_bar import key_bar_text

from .fakes import FakeSession

REVS = R.Revisions("1-22-3", "1-23-1")
CLUSTER = "meshtui-sim"


@pytest.fixture
def view(demo_inventory: Inventory):  # type: ignore[no-untyped-def]
    return demo_inventory.view()


def ns_row(view, name: str) -> tuple[str, ...]:  # type: ignore[no-untyped-def]
    pods = tuple(view.pods(CLUSTER, name))
    return R.plain(R.namespace_cells(view.namespace(CLUSTER, name), REVS, multi_cluster=False, pods=pods))


def test_namespace_cells(view) -> None:  # type: ignore[no-untyped-def]
    assert ns_row(view, "catalog") == ("catalog", "rev=1-23-1", "1-23-1", "16", "8", "8", "0", "0", "8 left")
    assert ns_row(view, "legacy-billing")[1:3] == ("rev=1-20-8", "none")
    assert ns_row(view, "shop")[-1] == "0 left"  # the opted-out exporter pods are not the restart's business
    assert ns_row(view, "accounts")[-1] == "0 left"  # not switched: a restart changes nothing (never "13/13")
    assert ns_row(view, "inventory")[1] == "injection=enabled +both"
    assert ns_row(view, "analytics")[1:3] == ("-", "-")


def test_namespace_filter_words(view) -> None:  # type: ignore[no-untyped-def]
    cells = {n.name: R.namespace_cells(n, REVS, False, tuple(view.pods(CLUSTER, n.name))) for n in view.namespaces}

    def shown(text: str) -> list[str]:
        predicate = R.namespace_filter(text, REVS, False)
        return [name for name, row in cells.items() if predicate is None or predicate((CLUSTER, name), row)]

    assert shown("rev:1-23-1") == ["catalog", "reviews"]
    assert shown("risk") == ["analytics", "legacy-billing"]
    assert shown("prod") == ["accounts", "orders", "reviews"]  # label values
    assert "catalog" not in shown("!rev:1-23-1")
    assert "monitoring" not in shown("todo") and "catalog" in shown("todo") and "accounts" in shown("todo")
    assert len(shown("")) == len(cells)


def test_untrusted_text_is_never_markup(view) -> None:  # type: ignore[no-untyped-def]
    from dataclasses import replace

    pod = next(iter(view.pods(CLUSTER, "analytics")))
    evil = replace(pod, at_risk=True, reason="[bold red]x[/] Back-off restarting failed container [/app]")
    cells = R.pod_cells(evil, REVS)
    reason = cells[-1]
    assert isinstance(reason, tuple) and reason[0] == R.RISK_MARK + evil.reason  # plain text and a style
    assert all(isinstance(c, (str, tuple)) for c in cells)


def test_pod_cells_mark_risk_without_colour(view) -> None:  # type: ignore[no-untyped-def]
    risky = [p for p in view.pods(CLUSTER, "analytics") if p.at_risk]
    assert risky
    cells = R.plain(R.pod_cells(risky[0], REVS))
    assert cells[-1].startswith(R.RISK_MARK)
    predicate = R.pod_filter("risk", None)
    assert predicate is not None and predicate((CLUSTER, "analytics", risky[0].name), R.pod_cells(risky[0], REVS))


def test_every_engine_action_has_one_key_and_keys_are_unique() -> None:
    from meshtui.domain.actions import ACTIONS

    keymap.check_unique()
    for action_id, _title in ACTIONS:
        command = keymap.by_engine_action(action_id)
        assert command.key and command.bound
    bound = {b.key for b in keymap.bindings()}
    assert {"question_mark", "colon", "slash", "q", "escape"} <= bound


def test_help_lists_every_key() -> None:
    from rich.console import Console

    console = Console(width=120, record=True)
    console.print(help_table())
    text = console.export_text()
    for command in keymap.COMMANDS:
        if command.key:
            assert command.display in text, command.id
            assert (command.description[1:] if command.engine else command.description) in " ".join(text.split())


def test_key_bar_greys_disabled_actions_and_fits() -> None:
    from meshtui.domain.actions import ACTIONS
    from meshtui.engine.api import ActionState, EngineState, LockState

    state = EngineState(
        "a",
        "b",
        "data-plane",
        False,
        "",
        LockState(None, False),
        tuple(ActionState(a, t, a != "upgrade") for a, t in ACTIONS),
    )
    text = key_bar_text({keymap.GLOBAL, keymap.TABLE, keymap.NAMESPACES}, state, 80)
    assert text.cell_len <= 80
    assert "Upgrade" in text.plain and "Switch" in text.plain and "Help" in text.plain
    spans = {text.plain[s.start : s.end].strip(): str(s.style) for s in text.spans}
    assert spans["U"] == "bold" and spans["s"] == "reverse bold"  # disabled: no reverse video


def test_builder_sends_only_changes(demo_inventory: Inventory) -> None:
    inventory = Inventory.from_snapshot(demo_inventory.snapshot())
    builder = SnapshotBuilder(StaticMesh(inventory), FakeSession(), clock=lambda: datetime(2026, 1, 1, tzinfo=UTC))
    first = builder.build()
    assert first is not None and first.pods.reset is not None and len(first.pods.reset) == 149
    assert builder.build() is None  # nothing changed: no snapshot, no repaint
    from dataclasses import replace

    changed, gone = [row.pod for row in inventory.view().pods(CLUSTER, "shop")][:2]
    inventory.apply(CLUSTER, "Pod", "MODIFIED", replace(changed, restarts=changed.restarts + 3))
    inventory.apply(CLUSTER, "Pod", "DELETED", gone)
    second = builder.build()
    assert second is not None and second.pods.reset is None
    assert set(second.pods.upserts) == {(CLUSTER, "shop", changed.name)}
    assert second.pods.deletes == ((CLUSTER, "shop", gone.name),)
    assert set(second.namespaces.upserts) == {(CLUSTER, "shop")}


def test_no_color_keeps_the_terminal_colours_and_marks_hues_bold() -> None:
    from rich.segment import Segment
    from rich.style import Style
    from textual.color import Color

    from meshtui.tui.no_color import ReadableMonochrome

    segments = [
        Segment("plain", Style(color="default", bgcolor="default")),
        Segment("risk", Style(color="red")),  # an ANSI colour (the ansi-dark theme)
        Segment("good", Style(color="#00ff00", bgcolor="#202020")),  # a truecolour (textual-dark)
    ]
    plain, risk, good = ReadableMonochrome().apply(segments, Color(0, 0, 0))
    assert plain.style == segments[0].style
    assert risk.style is not None and risk.style.bold and risk.style.color is not None
    assert risk.style.color.is_default
    assert good.style is not None and good.style.bold and good.style.color is not None
    r, g, b = good.style.color.get_truecolor()
    assert r == g == b  # grey, and bright on a dark background
    assert good.style.bgcolor is not None and len(set(good.style.bgcolor.get_truecolor())) == 1


def test_todo_follows_the_chosen_direction(view) -> None:  # type: ignore[no-untyped-def]
    back = R.Revisions("1-22-3", "1-23-1", goal="rollback")
    cells = {n.name: R.namespace_cells(n, back, False, tuple(view.pods(CLUSTER, n.name))) for n in view.namespaces}
    predicate = R.namespace_filter("todo", back, False)
    assert predicate is not None
    todo = sorted(name for name, row in cells.items() if predicate((CLUSTER, name), row))
    # Rolling back, "not done" is not on the source: accounts (prod-stable -> 1-22-3) is done, reviews is not.
    assert "accounts" not in todo and "payments" not in todo
    assert "catalog" in todo and "reviews" in todo


def test_a_finish_before_a_choice_keeps_the_goal_s_revision() -> None:
    from meshtui.tui.offenders import keep_of

    assert keep_of("finish", "data-plane", "1-22-3", "1-23-1", goal="rollback") == "1-22-3"
    assert keep_of("finish", "data-plane", "1-22-3", "1-23-1") == "1-23-1"
    assert keep_of("finish", "finishing-upgrade", "1-22-3", "1-23-1", goal="rollback") == "1-23-1"
