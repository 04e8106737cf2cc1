"""A dialog's "N more lines below" line tells the truth once the dialog is laid out (80x24, Pilot).

The line is counted while the dialog grows to fit its body; a count taken before the last layout must not
stay on screen ("1 more line below" under a one-line dialog, and PgDn showing nothing).
"""

from __future__ import annotations

from textual.app import App

from meshtui.engine.api import ActionState
from meshtui.tui.screens.disabled import DisabledScreen
from meshtui.tui.screens.more import hidden_below


async def test_a_dialog_that_fits_says_nothing_is_below() -> None:
    app: App[None] = App()
    async with app.run_test(size=(80, 24)) as pilot:
        for reasons in (("the upgrade is completed",), tuple(f"reason {i}" for i in range(6))):
            screen = DisabledScreen(ActionState("upgrade", "Upgrade", False, reasons), "U", False)
            app.push_screen(screen)
            await pilot.pause()
            await pilot.pause()
            assert hidden_below(screen.scroll) == 0, "the body fits"
            assert not screen.more.display, (reasons, str(screen.more.render()))
            await pilot.press("escape")


async def test_a_dialog_that_overflows_counts_what_is_below() -> None:
    app: App[None] = App()
    async with app.run_test(size=(80, 24)) as pilot:
        reasons = tuple(f"reason {i}" for i in range(40))
        screen = DisabledScreen(ActionState("upgrade", "Upgrade", False, reasons), "U", False)
        app.push_screen(screen)
        await pilot.pause()
        await pilot.pause()
        below = hidden_below(screen.scroll)
        assert below > 0
        assert screen.more.display and f"▼ {below} more lines below" in str(screen.more.render())
