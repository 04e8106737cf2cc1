"""The README's upgrade and rollback key sequences, parsed from README.md and pressed verbatim on the demo.

`meshtui demo`'s scenario, the production factory (watch, EngineSession, app), and only the README's keys;
between keys the driver waits as a person looks at the screen (a plan's dry run, a run's end, the tables
settling). The simulator's objects are checked after, so the document and the product cannot drift apart.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from textual.pilot import Pilot

from meshtui.tui.app import MeshApp
from meshtui.tui.screens.dashboard import DashboardScreen
from meshtui.tui.screens.plan import PlanScreen
from meshtui.tui.widgets.action_runner import ActionRunner

from .conftest import NEW, OLD, Cluster, Waiter

CLUSTER = "meshtui-sim"


class Driver:
    """Key presses plus the waits a person does by looking at the screen."""

    def __init__(self, app: MeshApp, pilot: Pilot[Any], waiter: Waiter) -> None:
        self.app, self.pilot, self.waiter = app, pilot, waiter

    @property
    def dash(self) -> DashboardScreen:
        return self.app.dashboard

    async def until(self, predicate: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
        await self.waiter.until(self.pilot, predicate, what=what, timeout=timeout)

    async def plan(self, *keys: str) -> PlanScreen:
        """Press keys that open a plan; wait for its dry run."""
        before = len(self.waiter.seen(ActionRunner.DryRunDone))
        await self.pilot.press(*keys)
        await self.until(lambda: len(self.waiter.seen(ActionRunner.DryRunDone)) > before, f"the dry run of {keys}")
        screen = self.app.screen
        assert isinstance(screen, PlanScreen), screen
        return screen

    async def apply(self, *keys: str, word: str = "") -> None:
        """Confirm the open plan (typing `word` first when asked) and wait for the run to finish."""
        screen = self.app.screen
        assert isinstance(screen, PlanScreen) and screen.applicable, screen.verdict.render()
        before = len(self.waiter.seen(ActionRunner.Finished))
        await self.pilot.press(*word, *keys, "enter")
        await self.until(lambda: len(self.waiter.seen(ActionRunner.Finished)) > before, "the run", timeout=60)
        finished = self.waiter.seen(ActionRunner.Finished)[-1]
        assert finished.outcome.ok, [(s.operation.describe(), s.result, s.message) for s in finished.outcome.steps]
        # As a person waits to see the result: an action key before it is shown is asked to wait.
        await self.until(lambda: not self.dash.flow.settling, "the tables to show the run")

    async def begin(self) -> None:
        """Wait for the first synced screen and an enabled Begin, then record the upgrade (b, enter)."""
        await self.until(lambda: self.dash.snapshot is not None and self.dash.snapshot.synced, "the first sync")
        await self.until(lambda: self.dash.snapshot.state is not None and self.enabled("start"), "Begin enabled")
        await self.plan("b")
        await self.apply()

    async def finish(self, choice: str, key: str, offline: str) -> None:
        """Once the choice is enabled: choose it, then Finish, typing the revision that goes offline."""
        await self.until(lambda: self.enabled(choice), f"{choice} to become enabled", timeout=60)
        await self.plan(key)
        await self.apply()
        await self.until(lambda: self.phase() == f"finishing-{choice}", "the stepper to show Finish")
        # As a person waits for the progress line to clear: a key pressed while the runner still reads the
        # cluster after the choice is answered with "another action is in progress".
        runner = self.dash.runner
        await self.until(lambda: not runner.running and not runner.preparing, "the runner to be idle")
        await self.plan("F")
        await self.apply(word=offline)
        plane = lambda: self.dash.snapshot.view.control_plane(CLUSTER)  # noqa: E731
        await self.until(lambda: plane().revision(offline) is None, f"{offline} offline")

    def labelled(self, names: list[str], revision: str) -> bool:
        """Every named namespace that asks for injection shows `revision` in the table's snapshot."""
        snap = self.dash.snapshot
        rows = [ns for ns in snap.view.namespaces if ns.name in names] if snap else []
        return bool(rows) and all(ns.injection.revision == revision for ns in rows if ns.injection.asks)

    def phase(self) -> str | None:
        snap = self.dash.snapshot
        return snap.state.phase if snap and snap.state else None

    def enabled(self, action: str) -> bool:
        snap = self.dash.snapshot
        return bool(snap and snap.state and snap.state.action(action).enabled)


def pod_revisions(cluster: Cluster) -> dict[str, set[str | None]]:
    """Each namespace's live pods' injecting revisions, read from the simulator's store."""
    found: dict[str, set[str | None]] = {}
    for pod in cluster.sim.call(lambda: cluster.sim.store.list("pods")):
        if (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
            continue
        status = (pod["metadata"].get("annotations") or {}).get("sidecar.istio.io/status")
        rev = None
        if status:
            rev = json.loads(status).get("revision")
        found.setdefault(pod["metadata"]["namespace"], set()).add(rev)
    return found


README = Path(__file__).resolve().parents[2] / "README.md"


def readme_sequences() -> dict[str, list[list[str]]]:
    """The ```keys NAME blocks of README.md: one list of tokens a line (the text after two spaces is prose)."""
    found: dict[str, list[list[str]]] = {}
    for name, body in re.findall(r"```keys (\w+)\n(.*?)```", README.read_text(), re.S):
        steps = []
        for line in body.splitlines():
            keys = re.split(r"\s{2,}", line.strip(), maxsplit=1)[0]
            if keys:
                steps.append(re.findall(r'"[^"]*"|\S+', keys))
        found[name] = steps
    return found


def presses(token: str) -> list[str]:
    """A README token as key presses: `/word` filters, `"word"` is typed, anything else is one key."""
    if token.startswith('"') and token.endswith('"'):
        return list(token[1:-1])
    if token.startswith("/") and len(token) > 1:
        return ["slash", *token[1:]]
    return [token]


def test_the_readme_holds_both_sequences() -> None:
    sequences = readme_sequences()
    assert set(sequences) == {"upgrade", "rollback"}
    assert ["v", "enter"] in sequences["upgrade"] and ["v", "enter"] in sequences["rollback"]


class ReadmeDriver(Driver):
    """Presses a README sequence, waiting between keys the way a person reads the screen."""

    async def step(self, tokens: list[str]) -> None:
        await self.until(self.quiet, f"the tables to settle before {tokens}", timeout=90)
        for i, token in enumerate(tokens):
            if token in ("U", "R") and tokens[i + 1 : i + 2] == ["enter"]:
                action = "upgrade" if token == "U" else "rollback"
                try:
                    await self.until(lambda a=action: self.enabled(a), f"{action} to become enabled", timeout=90)
                except AssertionError as exc:
                    state = self.dash.snapshot.state
                    runs = [(f.plan.action, len(f.plan.operations)) for f in self.waiter.seen(ActionRunner.Finished)]
                    why = state.action(action).reasons[:1] if state else "no state"
                    raise AssertionError(f"{exc}: {why}; runs so far {runs}") from None
            for key in presses(token):
                await self.key(key)

    async def key(self, key: str) -> None:
        screen = self.app.screen
        if isinstance(screen, PlanScreen):
            await self.until(lambda: self.plan_ready(screen), f"the plan of {screen.heading}")
        if key != "enter" or not isinstance(screen, PlanScreen):
            await self.pilot.press(key)
            return
        assert screen.applicable, (screen.heading, screen.verdict.render(), screen.plan and screen.plan.lines())
        if screen.confirm_word and screen.word.value.strip() != screen.confirm_word:
            await self.pilot.press(key)  # the dialog says what to type; the README's next keys type it
            return
        before = len(self.waiter.seen(ActionRunner.Finished))
        await self.pilot.press(key)
        assert self.app.screen is not screen, ("enter did not apply", str(screen.keys.render()))
        await self.until(lambda: len(self.waiter.seen(ActionRunner.Finished)) > before, "the run", timeout=120)
        finished = self.waiter.seen(ActionRunner.Finished)[-1]
        assert finished.outcome.ok, [(s.operation.describe(), s.result, s.message) for s in finished.outcome.steps]
        plan = finished.plan
        await self.until(lambda: self.shows(plan), f"the tables to show {plan.title}")
        if plan.action in ("upgrade", "rollback"):
            await self.until(lambda: self.phase() == f"finishing-{plan.action}", "the stepper to show Finish")
        if plan.action == "verify":

            def recorded() -> bool:
                state = self.dash.snapshot.state
                return state is not None and state.verify is not None and state.verify.at is not None

            await self.until(recorded, "the verify run in the record")

            def passed() -> bool:
                state = self.dash.snapshot.state
                return state is not None and state.verify is not None and state.verify.state.satisfied

            # The live view catches up with the fresh read the run was judged on within a moment.
            try:
                await self.until(passed, "the verify run to show as passed", timeout=15)
            except AssertionError:
                state = self.dash.snapshot.state
                raise AssertionError((state.verify, state.checks)) from None

    def plan_ready(self, screen: PlanScreen) -> bool:
        """The plan and its dry run are on screen (or the engine said why not)."""
        if screen.plan is None:
            return bool(self.waiter.seen(ActionRunner.Failed))
        return any(m.plan is screen.plan for m in self.waiter.seen(ActionRunner.DryRunDone))

    def quiet(self) -> bool:
        """Synced, no action in flight, no pod terminating or not Ready: what a person waits for."""
        snap = self.dash.snapshot
        if snap is None or not snap.synced or snap.state is None:
            return False
        if self.dash.flow.busy:
            return False  # running, planning, or its result not in the tables yet
        return not any(p.live and (p.pod.terminating or not p.pod.ready) for p in snap.view.pods())

    def shows(self, plan: Any) -> bool:
        """The live view reflects a finished plan's namespace labels and tags (the next key reads them)."""
        snap = self.dash.snapshot
        if snap is None or snap.state is None:
            return False
        for op in plan.operations:
            if op.kind == "Namespace" and "metadata.labels[istio.io/rev]" in op.after:
                row = snap.view.namespace(op.cluster, op.name)
                injection = op.after.get("metadata.labels[istio-injection]")
                want = (
                    ("istio-injection", injection)
                    if injection
                    else ("istio.io/rev", op.after["metadata.labels[istio.io/rev]"])
                )
                if row is None or (row.injection.label, row.injection.value) != want:
                    return False
            labels = ((op.body or {}).get("metadata") or {}).get("labels") or {} if isinstance(op.body, dict) else {}
            if op.kind == "MutatingWebhookConfiguration" and "istio.io/tag" in labels:
                plane = snap.view.control_plane(op.cluster)
                tag = plane.tag(labels["istio.io/tag"]) if plane else None
                if tag is None or tag.revision != labels.get("istio.io/rev"):
                    return False
        return True


async def run_readme(app: MeshApp, pilot: Pilot[Any], waiter: Waiter, name: str) -> None:
    d = ReadmeDriver(app, pilot, waiter)
    await d.until(lambda: d.dash.snapshot is not None and d.dash.snapshot.synced, "the first sync")
    await d.until(lambda: d.dash.snapshot.state is not None and d.enabled("start"), "Begin enabled")
    for tokens in readme_sequences()[name]:
        await d.step(tokens)


async def test_the_readme_upgrade_keys_verbatim(
    demo_app: Callable[[], tuple[MeshApp, Cluster]], waiter: Waiter
) -> None:
    app, cluster = demo_app()
    async with app.run_test(size=(80, 24), message_hook=waiter.hook) as pilot:
        await run_readme(app, pilot, waiter, "upgrade")
        d = Driver(app, pilot, waiter)
        plane = lambda: d.dash.snapshot.view.control_plane(CLUSTER)  # noqa: E731
        # Its istiod's pods terminate first: on a loaded machine that takes a while.
        await d.until(lambda: plane().revision(OLD) is None, f"{OLD} offline", timeout=120)
        await d.until(lambda: d.phase() == "completed", "the record to say completed")

    revisions = pod_revisions(cluster)
    on_old = {ns for ns, revs in revisions.items() if OLD in revs}
    assert not on_old, f"pods still on {OLD} in {sorted(on_old)}"
    assert revisions["shop"] == {NEW, None}, "shop's pods on the target, metrics-exporter opted out"


async def test_the_readme_rollback_keys_verbatim(
    demo_app: Callable[[], tuple[MeshApp, Cluster]], waiter: Waiter
) -> None:
    app, cluster = demo_app()
    async with app.run_test(size=(200, 50), message_hook=waiter.hook) as pilot:
        await run_readme(app, pilot, waiter, "rollback")
        d = Driver(app, pilot, waiter)
        plane = lambda: d.dash.snapshot.view.control_plane(CLUSTER)  # noqa: E731
        # Its istiod's pods terminate first: on a loaded machine that takes a while.
        await d.until(lambda: plane().revision(NEW) is None, f"{NEW} offline", timeout=120)
        await d.until(lambda: d.phase() == "cancelled", "the record to say cancelled")
        # Rollback was the goal: `todo` lists what is not on the source, and nothing is left.
        await pilot.press("escape", "1", "n", "slash", *"todo", "enter")
        shown = [k[1] for k in d.dash.data_plane.namespaces.table.visible_keys()]
        assert "accounts" not in shown and "catalog" not in shown, shown

    revisions = pod_revisions(cluster)
    on_new = {ns for ns, revs in revisions.items() if NEW in revs}
    assert not on_new, f"pods still on {NEW} in {sorted(on_new)}"
    labels = {
        name: cluster.get("namespaces", None, name)["metadata"].get("labels") or {}
        for name in ("reviews", "inventory", "accounts", "kube-system")
    }
    assert labels["reviews"]["istio.io/rev"] == "prod-canary", "a tag stays a tag"
    assert labels["inventory"].get("istio-injection") == "enabled"
    assert labels["accounts"]["istio.io/rev"] == "prod-stable"
    assert "istio.io/rev" not in labels["kube-system"]


async def test_finish_without_verify_asks_for_a_typed_skip(
    demo_app: Callable[[], tuple[MeshApp, Cluster]], waiter: Waiter
) -> None:
    """The README's upgrade without `v`: F says Finish waits for verify; a typed `skip verify` + reason is
    recorded (journalled) and only then does F show the offline plan; the stepper says what verify is."""
    from meshtui.tui.screens.ask import AskScreen

    app, _ = demo_app()
    async with app.run_test(size=(120, 36), message_hook=waiter.hook) as pilot:
        d = ReadmeDriver(app, pilot, waiter)
        await d.until(lambda: d.dash.snapshot is not None and d.dash.snapshot.synced, "the first sync")
        await d.until(lambda: d.dash.snapshot.state is not None and d.enabled("start"), "Begin enabled")
        steps = readme_sequences()["upgrade"]
        for tokens in steps[: steps.index(["v", "enter"])]:
            await d.step(tokens)
        await d.step(["U", "enter"])
        stepper = str(d.dash.query_one("#header-when").render())
        assert "Verify: not run" in stepper, stepper

        await d.until(d.quiet, "the tables to settle")
        await pilot.press("F")
        assert isinstance(app.screen, AskScreen), (app.screen, d.dash.snapshot.state.action("finish").reasons)
        assert "verify of 1-23-1 has not run" in app.screen.prompt
        await pilot.press(*"skip it", "enter")  # not the words: nothing is recorded
        assert not isinstance(app.screen, PlanScreen)
        await pilot.press("F")
        await pilot.press(*"skip verify: syncz is blocked by a NetworkPolicy", "enter")
        await d.until(lambda: isinstance(app.screen, PlanScreen) and d.plan_ready(app.screen), "the skip's plan")
        assert app.screen.plan is not None and app.screen.plan.action == "skip-verify"
        await d.key("enter")

        def skipped() -> bool:
            state = d.dash.snapshot.state
            return state is not None and state.verify is not None and state.verify.state.value == "skipped"

        await d.until(skipped, "the skip in the record")
        journal = d.dash.snapshot.state.journal
        assert any(j.action == "skip-verify" and "syncz is blocked by a NetworkPolicy" in j.message for j in journal)
        await d.until(lambda: "Verify: skipped" in str(d.dash.query_one("#header-when").render()), "the stepper")
        screen = await d.plan("F")
        assert screen.plan is not None and screen.plan.action == "finish" and not screen.plan.refused
        await pilot.press("escape", "3")
        from rich.console import Console

        from meshtui.tui.views.verify import VerifyView

        console = Console(width=120, record=True)
        console.print(d.dash.query_one(VerifyView).body.content)
        shown = console.export_text()
        assert "Verify of 1-23-1: skipped" in shown, shown
