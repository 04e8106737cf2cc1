"""Nothing irreversible is hidden: a plan dialog says what is below, scrolls from any focus, and an
irreversible plan is confirmed only once its end has been on screen (80x24, Pilot)."""

from __future__ import annotations

from typing import Any

from textual.app import App

from meshtui.domain.plan import Operation, Plan
from meshtui.engine.executor import RunOutcome, StepOutcome, StepResult
from meshtui.tui.screens.message import MessageScreen
from meshtui.tui.screens.plan import APPLY, PlanScreen


def offline_plan(count: int) -> Plan:
    ops = tuple(
        Operation("c1", "delete", "/apis/apps/v1/namespaces/istio-system/deployments", "Deployment", "istio-system",
                  f"object-{i}", summary=f"delete object {i} of 1-22-3 (irreversible)")
        for i in range(count)
    )
    return Plan("finish", "Upgrade: take 1-22-3 offline", ops)


class Host(App[None]):
    def __init__(self) -> None:
        super().__init__()
        self.answers: list[Any] = []


async def open_plan(app: Host, pilot: Any, plan: Plan, word: str | None = "1-22-3") -> PlanScreen:
    screen = PlanScreen("Finish", confirm_word=word)
    app.push_screen(screen, app.answers.append)
    await pilot.pause()
    screen.show_plan(plan)
    screen.show_dry_run(RunOutcome(plan, [StepOutcome(op, StepResult.DRY_RUN, "") for op in plan.operations]))
    await pilot.pause()
    await pilot.pause()
    return screen


async def test_an_irreversible_plan_waits_until_its_end_was_on_screen() -> None:
    app = Host()
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_plan(app, pilot, offline_plan(30))
        assert screen.focused is screen.word, "the confirmation box has focus"
        more = str(screen.more.render())
        assert screen.more.display and "more lines below" in more, more
        await pilot.press(*"1-22-3", "enter")
        assert app.answers == [], "confirmed with most of the plan never shown"
        assert "read the whole plan first" in str(screen.keys.render())
        top = screen.scroll.scroll_y
        await pilot.press("pagedown")
        assert screen.scroll.scroll_y > top, "PageDown scrolls the plan while the box has focus"
        for _ in range(10):
            await pilot.press("pagedown")
        assert "(end)" in str(screen.more.render())
        await pilot.press("up", "up")  # reading back up does not undo having seen the end
        await pilot.press("enter")
        assert app.answers == [APPLY]


async def test_a_plan_that_fits_is_confirmed_at_once() -> None:
    app = Host()
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_plan(app, pilot, offline_plan(3))
        assert not screen.more.display
        await pilot.press(*"1-22-3", "enter")
        assert app.answers == [APPLY]


async def test_a_long_dialog_says_there_is_more_and_scrolls() -> None:
    app = Host()
    async with app.run_test(size=(80, 24)) as pilot:
        screen = MessageScreen("Long", "\n".join(f"line {i}" for i in range(40)))
        app.push_screen(screen)
        await pilot.pause()
        await pilot.pause()
        assert screen.more.display and "more lines below" in str(screen.more.render())
        await pilot.press("pagedown")
        assert screen.scroll.scroll_y > 0


async def test_a_dialog_that_fits_claims_nothing_below(demo_inventory: Any) -> None:
    """The count follows the final layout, not the first one (where the scroll area had no height yet)."""
    from tests.tui.conftest import static_app
    from tests.tui.test_dashboard_snapshots import session

    app = static_app(demo_inventory, session=session())
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("U")
        await pilot.pause()
        await pilot.pause()
        screen = app.screen
        assert screen.scroll.max_scroll_y == 0  # type: ignore[attr-defined]
        assert not screen.more.display, str(screen.more.render())  # type: ignore[attr-defined]
