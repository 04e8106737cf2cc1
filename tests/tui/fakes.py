"""A stand-in for the engine's Session for screens rendered from a fixed state (snapshots, static views).

Its plans are simple (switch, switch back, restart) and made from the fixed view alone, because the
engine's planners read the cluster; its state judges Upgrade/Rollback/Finish with the domain gates. Flows
that change a cluster use the real EngineSession (`live_app`, `demo_app` in conftest.py).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from meshtui.cluster.kubeconfig import ClusterTarget
from meshtui.cluster.rawapi import RawApi
from meshtui.domain.actions import ACTIONS, TITLES, ActionId
from meshtui.domain.inventory import InventoryView
from meshtui.domain.plan import STRATEGIC_MERGE_PATCH, Operation, Plan
from meshtui.engine.api import (
    ActionState,
    CheckResult,
    EngineState,
    JournalLine,
    LockState,
    Progress,
)
from meshtui.engine.executor import Executor, RunControl, RunOutcome, StepResult
from meshtui.engine.params import ActionParams, RestartParams, SwitchBackParams, SwitchParams

RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"
_PLURAL = {"Deployment": "deployments", "StatefulSet": "statefulsets", "DaemonSet": "daemonsets"}
SUPPORTED = (
    ActionId.SWITCH,
    ActionId.SWITCH_BACK,
    ActionId.RESTART,
    ActionId.MOVE_TAG,
    ActionId.UPGRADE,
    ActionId.ROLLBACK,
    ActionId.FINISH,
)


class FakeSession:
    """Implements the Session protocol for TUI tests; `calls` records (action, typed params) of every plan."""

    def __init__(
        self,
        targets: list[ClusterTarget] | None = None,
        *,
        read_only: bool = False,
        clock: Callable[[], datetime] | None = None,
        checks: tuple[CheckResult, ...] = (),
    ) -> None:
        self.apis = {t.name: RawApi(t.api_client, t.name) for t in targets or []}
        self.read_only = read_only
        self.clock = clock or (lambda: datetime(2026, 3, 2, 10, 30, tzinfo=UTC))
        self.journal: list[JournalLine] = []
        self.executor = Executor(self.apis, guard=lambda op: (), journal=self._record, read_only=read_only)
        self.calls: list[tuple[ActionId, ActionParams]] = []
        self.chosen: str | None = None
        self.checks = checks
        self.closed = False
        self.step_hook: Callable[[int], None] | None = None  # called before each applied step (tests pause here)

    # -- Session protocol ---------------------------------------------------------------------------

    def state(self, view: InventoryView) -> EngineState:
        actions = []
        for action_id, title in ACTIONS:
            enabled, reasons, offenders = True, (), None
            if self.read_only:
                enabled, reasons = False, ("read-only mode: meshtui sends no write request",)
            elif action_id in ("upgrade", "rollback", "finish") and view.gates is not None:
                verdict = view.gates.verdict(action_id)
                enabled, reasons = verdict.enabled, verdict.reasons
                names = next((c.first_offenders for c in verdict.conditions if c.code == "namespaces"), ())
                offenders = ("namespaces", names) if names else None
            elif action_id not in SUPPORTED:
                enabled, reasons = False, ("not planned by the test session",)
            actions.append(ActionState(action_id, title, enabled, tuple(reasons), offenders))
        phase = {"upgrade": "finishing-upgrade", "rollback": "finishing-rollback"}.get(self.chosen or "", "data-plane")
        return EngineState(
            source=view.source,
            target=view.target,
            phase=phase,
            read_only=self.read_only,
            read_only_reason="--read-only" if self.read_only else "",
            lock=LockState("tester@jump-1", True),
            actions=tuple(actions),
            journal=tuple(self.journal),
            checks=self.checks,
        )

    def plan(self, view: InventoryView, params: ActionParams) -> Plan:
        action = params.ACTION
        self.calls.append((action, params))
        cluster = view.clusters[0].name if view.clusters else ""
        title = TITLES[action]
        if isinstance(params, SwitchParams | SwitchBackParams):
            to = view.target if action is ActionId.SWITCH else view.source
            ops = tuple(
                Operation(
                    cluster,
                    "patch",
                    "/api/v1/namespaces",
                    "Namespace",
                    None,
                    name,
                    body={"metadata": {"labels": {"istio-injection": None, "istio.io/rev": to}}},
                    summary=f"set istio.io/rev={to}, remove istio-injection",
                )
                for name in params.namespaces or ()
            )
            return Plan(action, title, ops)
        if isinstance(params, RestartParams):
            ops_list: list[Operation] = []
            skipped: list[str] = []
            stamp = self.clock().strftime("%Y-%m-%dT%H:%M:%SZ")
            for name in params.namespaces or ():
                seen: set[tuple[str, str]] = set()
                for pod in view.pods(cluster, name):
                    if not pod.live or not pod.workload_kind or not pod.workload_name:
                        continue
                    if not pod.restartable:
                        skipped.append(f"{name}/{pod.name}: {pod.restart_blocker}")
                        continue
                    key = (pod.workload_kind, pod.workload_name)
                    if key in seen or pod.workload_kind not in _PLURAL:
                        continue
                    seen.add(key)
                    ops_list.append(
                        Operation(
                            cluster,
                            "patch",
                            f"/apis/apps/v1/namespaces/{name}/{_PLURAL[pod.workload_kind]}",
                            pod.workload_kind,
                            name,
                            pod.workload_name,
                            body={"spec": {"template": {"metadata": {"annotations": {RESTARTED_AT: stamp}}}}},
                            content_type=STRATEGIC_MERGE_PATCH,
                            summary=f"restart ({RESTARTED_AT}={stamp})",
                        )
                    )
            return Plan(action, title, tuple(ops_list), skipped=tuple(skipped))
        if action is ActionId.MOVE_TAG:
            return Plan(action, title, (), refusals=(f"the test session does not move tags ({params})",))
        if action in ("upgrade", "rollback"):
            verdict = view.gates.verdict(action) if view.gates is not None else None
            if verdict is None or not verdict.enabled:
                return Plan(action, title, (), refusals=tuple(verdict.reasons if verdict else ("no gates",)))
            self.chosen = action
            return Plan(action, title, (), notes=(f"records the choice to {action}",))
        return Plan(action, title, (), refusals=(f"{action} is not planned by the test session",))

    def dry_run(self, plan: Plan, checked: Callable[[int, int], None] | None = None) -> RunOutcome:
        return self.executor.dry_run(plan, checked)

    def run(self, plan: Plan, control: RunControl, progress: Callable[[Progress], None]) -> RunOutcome:
        total = len(plan.operations)

        def report(index: int, count: int, outcome: Any) -> None:
            op = outcome.operation
            progress(Progress(plan.action, index, count, current=f"{op.namespace or op.name}: {op.kind} {op.name}"))
            if self.step_hook is not None and index < count:
                self.step_hook(index)

        progress(Progress(plan.action, 0, total, current="starting"))
        return self.executor.apply(plan, control=control, progress=report)

    def refresh(self) -> None:
        pass

    def close(self) -> None:
        self.closed = True

    # -- journal --------------------------------------------------------------------------------------

    def _record(self, op: Operation, result: StepResult, message: str) -> None:
        self.journal.append(
            JournalLine(
                time=self.clock().strftime("%Y-%m-%dT%H:%M:%S"),
                identity="tester@jump-1",
                cluster=op.cluster,
                action=op.kind,
                objects=(op.object_ref,),
                result=result.value,
                message=message or op.summary,
            )
        )
