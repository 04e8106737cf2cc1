"""The engine in-process against the simulator (official client to look and to interfere): plans, runs, record, lock."""

from __future__ import annotations

import json
import stat
import sys
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from kubernetes import client

from meshtui.cluster.kubeconfig import connect
from meshtui.cluster.rawapi import RawApi
from meshtui.domain.reasons import ReasonKind
from meshtui.engine.api import Progress
from meshtui.engine.executor import RunControl, StepResult
from meshtui.engine.installers import InstallerSpec, install_argv
from meshtui.engine.params import (
    DeletePodsParams,
    DeployParams,
    FinishParams,
    MoveTagParams,
    RestartParams,
    StartParams,
    SwitchParams,
)
from meshtui.engine.planners.common import restart_operation
from meshtui.engine.planners.finish import plan_offline
from meshtui.engine.record import JournalEntry, UpgradeRecord
from meshtui.engine.recordstore import RecordStore
from meshtui.engine.session import EngineSession
from meshtui.engine.upgradelock import UpgradeLock
from meshtui.sim import istio
from meshtui.sim.render import render_revision
from meshtui.sim.serviceproxy import XDS_STATUS_ANNOTATION
from tests.engine.support import Mesh, open_session
from tests.helpers import multi_kubeconfig, wait_until

NEW = "1-23-1"


def progress_sink() -> Callable[[Progress], None]:
    return lambda p: None


def with_target(mesh: Mesh) -> None:
    """Install 1-23-1 beside 1-22-3 (as an installer would) and wait until it is Ready."""
    mesh.store(lambda s: istio.install_target(s, "1.23.1"))
    wait_until(lambda: any(r.name == NEW and r.ready for r in mesh.view().revisions), what="1-23-1 Ready")


def started(mesh: Mesh, **kwargs: object) -> EngineSession:
    """A session that recorded the upgrade 1-22-3 -> 1-23-1 and holds the lock."""
    session, view = open_session(mesh, target=NEW, **kwargs)
    outcome = session.run(session.plan(view, StartParams()), RunControl(), progress_sink())
    assert outcome.ok, outcome.steps
    return session


def fresh_view(mesh: Mesh, session: EngineSession):  # type: ignore[no-untyped-def]
    base = mesh.view()
    source, target, _ = session.pair(base)
    return mesh.view(source, target)


def test_a_concurrent_label_change_between_plan_and_apply_is_never_overwritten(fresh: Mesh) -> None:
    with_target(fresh)
    session = started(fresh)
    view = fresh_view(fresh, session)
    plan = session.plan(view, SwitchParams(namespaces=("catalog", "payments", "shop")))
    assert [op.name for op in plan.operations] == ["catalog", "payments", "shop"]
    assert all(op.expect_rv for op in plan.operations), "every namespace patch is conditional"
    # Another writer: payments is pointed elsewhere, shop gains an unrelated label.
    fresh.core.patch_namespace("payments", {"metadata": {"labels": {"istio.io/rev": "prod-stable"}}})
    fresh.core.patch_namespace("shop", {"metadata": {"labels": {"team": "web"}}})
    outcome = session.run(plan, RunControl(), progress_sink())
    results = {s.operation.name: s for s in outcome.steps}
    assert results["catalog"].result is StepResult.APPLIED
    assert results["payments"].result is StepResult.CONFLICT
    assert "istio.io/rev] is now 'prod-stable' (planned from '1-22-3')" in results["payments"].message
    assert "nothing was overwritten" in results["payments"].message
    assert "shop" not in results, "the run stops at the conflict"
    labels = fresh.core.read_namespace("payments").metadata.labels
    assert labels["istio.io/rev"] == "prod-stable", "the other writer's value stands"

    # Re-planned: shop's unrelated change is kept and the switch goes through on top of it.
    again = session.plan(fresh_view(fresh, session), SwitchParams(namespaces=("shop",)))
    fresh.core.patch_namespace("shop", {"metadata": {"labels": {"owner": "ops"}}})
    assert session.run(again, RunControl(), progress_sink()).ok
    shop = fresh.core.read_namespace("shop").metadata.labels
    assert shop["istio.io/rev"] == NEW and shop["team"] == "web" and shop["owner"] == "ops"
    assert "istio-injection" not in shop
    record = fresh.record()
    assert record is not None
    conflict = next(e for e in record.journal if e.result == "conflict")
    assert conflict.objects == ["Namespace payments"] and conflict.action == "switch"
    assert record.switched["meshtui-sim/shop"].injection == "enabled"
    session.close()


def test_the_record_is_written_conditionally_and_an_append_survives_a_race(fresh: Mesh) -> None:
    api = RawApi(fresh.targets()[0].api_client, "meshtui-sim")
    mine, theirs = RecordStore(api, "istio-system"), RecordStore(api, "istio-system")
    now = "2026-03-02T10:00:00Z"
    mine.create(UpgradeRecord(source="1-22-3", target=NEW, started=now, updated=now, started_by="a"))
    theirs.read()

    def entry(who: str) -> JournalEntry:
        return JournalEntry(time=now, identity=who, action="note", result="applied")

    theirs.update(lambda r: r.append(entry("bob")))
    writes = theirs.writes
    mine.update(lambda r: r.append(entry("alice")))  # planned on a stale resourceVersion: 409, re-read, re-applied
    record = fresh.record()
    assert record is not None
    assert [e.identity for e in record.journal] == ["bob", "alice"]
    assert theirs.writes == writes
    conflicts = [r for r in fresh.sim.faults.requests() if r.status == 409 and r.resource == "configmaps"]
    assert conflicts, "the stale write was refused by the server, not skipped"


def test_the_lock_names_its_holder_expires_and_is_taken_over(fresh: Mesh) -> None:
    api = RawApi(fresh.targets()[0].api_client, "meshtui-sim")
    now = datetime.now(UTC)
    alice = UpgradeLock(api, "istio-system", "alice@jump-1", clock=lambda: now)
    assert alice.acquire() is None
    bob = UpgradeLock(api, "istio-system", "bob@jump-2", clock=lambda: now)
    state = bob.state()
    assert state.holder == "alice@jump-1" and not state.mine and not state.expired
    refusal = bob.acquire()
    assert refusal is not None and refusal.kind is ReasonKind.LOCK and refusal.code == "lock-held"
    assert "held by alice@jump-1" in refusal.message
    later = UpgradeLock(api, "istio-system", "bob@jump-2", clock=lambda: now + timedelta(minutes=5))
    assert later.state().expired
    assert later.acquire() is None
    assert later.took_over_from == "alice@jump-1"
    carol = UpgradeLock(api, "istio-system", "carol@jump-3", clock=lambda: now + timedelta(minutes=5))
    assert carol.acquire(take_over=True) is None, "a live lease only with an explicit take-over"
    lease = client.CoordinationV1Api(fresh.api).read_namespaced_lease("meshtui-upgrade-lock", "istio-system")
    assert lease.spec.holder_identity == "carol@jump-3" and lease.spec.lease_transitions == 2


def test_a_take_over_is_journalled(fresh: Mesh, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    with_target(fresh)
    first = started(fresh)
    first.lock.lease._stop.set()  # alice's meshtui hangs: no release, no renewal
    monkeypatch.setenv("MESHTUI_IDENTITY", "bob@jump-2")
    second, view = open_session(fresh)
    assert second.state(view).lock.holder == "alice@jump-1"
    assert not second.state(view).action("switch").enabled
    refusal = second.lock.acquire()
    assert refusal is not None and second.acquire() == (False, refusal.message)
    held, _ = second.acquire(take_over=True)
    assert held
    record = fresh.record()
    assert record is not None
    entry = record.journal[-1]
    assert entry.action == "take-over" and entry.identity == "bob@jump-2"
    assert "took over the upgrade lock from alice@jump-1" in entry.message

    # Alice's meshtui comes back: its next refresh names bob, it stops writing, and taking the lock back
    # is a real take-over (the lease says alice again), not a stale "held" flag.
    first.refresh()
    assert first.lock_state.holder == "bob@jump-2" and not first.lock_state.mine
    view = fresh_view(fresh, first)
    switch = first.state(view).action("switch")
    assert not switch.enabled and any("held by bob@jump-2" in r for r in switch.reasons)
    assert first.acquire(take_over=True)[0]
    lease = client.CoordinationV1Api(fresh.api).read_namespaced_lease("meshtui-upgrade-lock", "istio-system")
    assert lease.spec.holder_identity == "alice@jump-1"
    second.refresh()
    assert second.lock_state.holder == "alice@jump-1" and not second.lock_state.mine
    second.close()
    first.close()


def test_restart_skips_what_cannot_be_restarted_and_refuses_a_paused_deployment(fresh: Mesh) -> None:
    with_target(fresh)
    session = started(fresh)
    session.run(
        session.plan(fresh_view(fresh, session), SwitchParams(namespaces=("shop", "batch", "payments"))),
        RunControl(),
        progress_sink(),
    )
    fresh.apps.patch_namespaced_deployment("checkout", "shop", {"spec": {"paused": True}})
    plan = session.plan(fresh_view(fresh, session), RestartParams(namespaces=("shop", "batch", "payments")))
    names = [op.name for op in plan.operations]
    assert "checkout" not in names and "cart" in names
    assert any(
        "Deployment shop/checkout: can't restart paused deployment (run rollout resume first)" in s
        for s in plan.skipped
    )
    assert any("Pod batch/debug-shell (1 pods): bare pod" in s for s in plan.skipped)
    assert any("payments/ledger allows no disruption ever (maxUnavailable: 0)" in s for s in plan.skipped)
    # Paused after the plan was made: refused at run time with kubectl's words.
    fresh.apps.patch_namespaced_deployment("cart", "shop", {"spec": {"paused": True}})
    outcome = session.run(plan, RunControl(), progress_sink())
    cart = next(s for s in outcome.steps if s.operation.name == "cart")
    assert cart.result is StepResult.REFUSED
    assert cart.message == "can't restart paused deployment (run rollout resume first)"
    assert not outcome.ok
    record = fresh.record()
    assert record is not None and record.restart is not None
    assert any(f.startswith("meshtui-sim|Deployment|shop|cart: can't restart paused") for f in record.restart.failed)
    session.close()


def test_a_batch_waits_while_a_pdb_allows_no_disruption(fresh: Mesh) -> None:
    with_target(fresh)
    session = started(fresh, rollout_timeout=20)
    session.run(
        session.plan(fresh_view(fresh, session), SwitchParams(namespaces=("shop",))), RunControl(), progress_sink()
    )
    plan = session.plan(fresh_view(fresh, session), RestartParams(namespaces=("shop",)))
    assert [op.name for op in plan.operations] == ["cart", "checkout", "frontend"]

    policy = client.PolicyV1Api(fresh.api)
    policy.patch_namespaced_pod_disruption_budget("frontend", "shop", {"spec": {"minAvailable": 7}})
    # One frontend pod stops being Ready: 7 healthy, 7 required, no disruption allowed for now.
    sick = next(p for p in fresh.core.list_namespaced_pod("shop", label_selector="app=frontend").items)
    conditions = [
        {"type": c.type, "status": "False" if c.type in ("Ready", "ContainersReady") else c.status}
        for c in sick.status.conditions
    ]
    fresh.core.patch_namespaced_pod_status(sick.metadata.name, "shop", {"status": {"conditions": conditions}})
    wait_until(
        lambda: policy.read_namespaced_pod_disruption_budget("frontend", "shop").status.disruptions_allowed == 0,
        what="the PDB to allow no disruption",
    )
    seen: list[str] = []
    done = threading.Event()

    def run() -> None:
        session.run(plan, RunControl(), lambda p: seen.append(p.message))
        done.set()

    worker = threading.Thread(target=run)
    worker.start()
    wait_until(
        lambda: any("PodDisruptionBudget shop/frontend allows no disruption" in m for m in seen),
        what="the PDB wait to be reported",
    )
    assert not done.is_set()
    frontend = fresh.apps.read_namespaced_deployment("frontend", "shop")
    assert "kubectl.kubernetes.io/restartedAt" not in (frontend.spec.template.metadata.annotations or {})
    policy.patch_namespaced_pod_disruption_budget("frontend", "shop", {"spec": {"minAvailable": 4}})
    worker.join(30)
    assert done.is_set()
    frontend = fresh.apps.read_namespaced_deployment("frontend", "shop")
    assert "kubectl.kubernetes.io/restartedAt" in frontend.spec.template.metadata.annotations
    session.close()


def test_a_rollout_that_never_completes_times_out_and_stops_the_run(fresh: Mesh) -> None:
    with_target(fresh)
    session = started(fresh, rollout_timeout=1.5)
    session.run(
        session.plan(fresh_view(fresh, session), SwitchParams(namespaces=("notifications",))),
        RunControl(),
        progress_sink(),
    )
    fresh.apps.patch_namespaced_deployment(
        "mailer",
        "notifications",
        {"spec": {"template": {"metadata": {"annotations": {"sim.meshtui.io/crashloop": "true"}}}}},
    )
    wait_until(
        lambda: any(
            p.revision == NEW for p in fresh.view().pods("meshtui-sim", "notifications") if p.workload_name == "mailer"
        ),
        what="mailer rolled by the label change",
    )
    plan = session.plan(fresh_view(fresh, session), RestartParams(namespaces=("notifications",), batch=1))
    assert next(op.name for op in plan.operations) in ("mailer", "push")
    outcome = session.run(plan, RunControl(), progress_sink())
    failed = outcome.stopped_by
    assert failed is not None and failed.result is StepResult.FAILED
    assert "timed out after 1.5s" in failed.message
    assert len(outcome.steps) < len(plan.operations), "no batch after the failed one"
    session.close()


def test_installers_run_argument_lists_never_a_shell(fresh: Mesh, tmp_path: Path) -> None:
    args_file = tmp_path / "argv.json"
    fake = tmp_path / "istioctl"
    fake.write_text(f"#!{sys.executable}\nimport json, sys\njson.dump(sys.argv, open({str(args_file)!r}, 'w'))\n")
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    with_target(fresh)  # the fake installer does nothing: the revision is already there to wait for
    session = started(fresh)
    spec = InstallerSpec("istioctl", str(fake), extra_args=("--set", "profile=minimal; rm -rf /"))
    plan = session.plan(fresh_view(fresh, session), DeployParams(installer=spec))
    assert [op.verb for op in plan.operations] == ["exec", "wait"]
    outcome = session.run(plan, RunControl(), progress_sink())
    assert outcome.ok, outcome.steps
    argv = json.loads(args_file.read_text())
    assert argv == [
        str(fake),
        "install",
        "-y",
        "--set",
        "revision=1-23-1",
        "--context",
        "meshtui-sim",
        "--set",
        "profile=minimal; rm -rf /",
    ], "passed through as one argument, no shell"
    helm = install_argv(
        InstallerSpec("helm", "/usr/bin/helm", chart_version="1.23.1", kubeconfig="/k"), NEW, "ctx", "istio-system"
    )
    assert helm == [
        "/usr/bin/helm",
        "upgrade",
        "--install",
        "istiod-1-23-1",
        "istio/istiod",
        "--namespace",
        "istio-system",
        "--set",
        "revision=1-23-1",
        "--version",
        "1.23.1",
        "--kube-context",
        "ctx",
        "--kubeconfig",
        "/k",
    ]
    missing = session.run(
        session.plan(
            fresh_view(fresh, session), DeployParams(installer=InstallerSpec("istioctl", str(tmp_path / "nope")))
        ),
        RunControl(),
        progress_sink(),
    )
    assert missing.stopped_by is not None and "was not found" in missing.stopped_by.message
    session.close()


def test_verify_fails_a_stale_proxy_and_is_unknown_without_the_service_proxy(mesh_factory) -> None:  # type: ignore[no-untyped-def]
    demo = mesh_factory("demo")
    session, view = open_session(demo)
    checks = {c.name: c for c in session.verify(view)}
    assert checks["proxy-sync"].result == "pass", checks["proxy-sync"]
    assert checks["istiod"].result == "pass"
    pod = next(p for p in view.pods("meshtui-sim", "reviews") if p.revision == NEW)
    demo.core.patch_namespaced_pod(pod.name, "reviews", {"metadata": {"annotations": {XDS_STATUS_ANNOTATION: "STALE"}}})
    stale = {c.name: c for c in session.verify(demo.view())}["proxy-sync"]
    assert stale.result == "fail" and any(pod.name in o and "STALE" in o for o in stale.offenders)
    demo.sim.faults.deny("get", "services/proxy")
    unknown = {c.name: c for c in session.verify(demo.view())}["proxy-sync"]
    assert unknown.result == "unknown" and "no permission to get services/proxy" in unknown.detail
    session.close()


def test_moving_default_takes_over_from_a_non_revisioned_injector(mesh_factory) -> None:  # type: ignore[no-untyped-def]
    demo = mesh_factory("demo")
    adm = client.AdmissionregistrationV1Api(demo.api)
    legacy = adm.read_mutating_webhook_configuration("istio-sidecar-injector")
    hooks = [
        {
            "name": h.name,
            "clientConfig": {"service": {"name": "istiod", "namespace": "istio-system", "path": "/inject"}},
            "rules": [{"operations": ["CREATE"], "apiGroups": [""], "apiVersions": ["v1"], "resources": ["pods"]}],
            "sideEffects": "None",
            "admissionReviewVersions": ["v1"],
            "namespaceSelector": {},
            "objectSelector": {},
        }
        for h in legacy.webhooks
    ]
    adm.patch_mutating_webhook_configuration("istio-sidecar-injector", {"webhooks": hooks})
    session = started(demo)
    view = fresh_view(demo, session)
    plan = session.plan(view, MoveTagParams(tag="default", to=NEW))
    described = [op.describe() for op in plan.operations]
    assert any("replace MutatingWebhookConfiguration istio-revision-tag-default" in d for d in described)
    assert any("replace ValidatingWebhookConfiguration istiod-default-validator" in d for d in described)
    assert any("deactivate the non-revisioned injector" in d for d in described)
    assert all(op.expect_rv for op in plan.operations if op.verb != "create")
    assert session.run(plan, RunControl(), progress_sink()).ok
    after = adm.read_mutating_webhook_configuration("istio-sidecar-injector")
    assert all(h.namespace_selector.match_labels == {"istio.io/deactivated": "never-match"} for h in after.webhooks)
    tag = adm.read_mutating_webhook_configuration("istio-revision-tag-default")
    assert tag.metadata.labels["istio.io/rev"] == NEW and tag.metadata.labels["istio.io/tag"] == "default"
    assert {h.name for h in tag.webhooks} >= {"namespace.sidecar-injector.istio.io", "object.sidecar-injector.istio.io"}
    assert all(h.client_config.service.name == "istiod-1-23-1" for h in tag.webhooks)
    plane = demo.view().control_planes[0]
    assert plane.default_revision == NEW and plane.validation_default == NEW
    session.close()


def test_the_offline_plan_lists_every_object_and_is_refused_while_the_gate_fails(mesh_factory) -> None:  # type: ignore[no-untyped-def]
    demo = mesh_factory("demo")
    session, view = open_session(demo)
    state = session.state(view)
    assert state.gates is not None
    plan = plan_offline(session.ctx, view, "1-22-3", NEW, state.gates.upgrade, "Upgrade")
    assert plan.refused and all(r.startswith("Upgrade gate: ") for r in plan.refusals)
    refs = [op.object_ref for op in plan.operations]
    for expected in (
        "MutatingWebhookConfiguration istio-sidecar-injector-1-22-3",
        "ValidatingWebhookConfiguration istio-validator-1-22-3-istio-system",
        "Deployment istio-system/istiod-1-22-3",
        "Service istio-system/istiod-1-22-3",
        "ConfigMap istio-system/istio-sidecar-injector-1-22-3",
        "ConfigMap istio-system/istio-1-22-3",
        "ServiceAccount istio-system/istiod-1-22-3",
        "PodDisruptionBudget istio-system/istiod-1-22-3",
        "MutatingWebhookConfiguration istio-revision-tag-default",
        "ValidatingWebhookConfiguration istiod-default-validator",
    ):
        assert expected in refs, refs
    assert refs.index("MutatingWebhookConfiguration istio-sidecar-injector-1-22-3") < refs.index(
        "Deployment istio-system/istiod-1-22-3"
    ), "webhooks first"
    tag_op = next(op for op in plan.operations if op.name == "istio-revision-tag-default")
    assert "tag default still points at it" in tag_op.summary
    assert all(op.namespace in (None, "istio-system") for op in plan.operations)
    assert all(op.verb == "delete" and op.expect_rv for op in plan.operations)
    demo.sim.faults.clear_log()
    assert session.plan(view, FinishParams()).refused
    assert demo.sim.faults.writes() == [], "planning writes nothing"
    session.close()


def test_a_mesh_of_two_clusters(mesh_factory, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    east, west = mesh_factory("fresh"), mesh_factory("fresh")
    for m in (east, west):
        with_target(m)
    config = multi_kubeconfig(tmp_path / "both.yaml", {"east": east.sim, "west": west.sim}, "east")
    targets = connect(str(config), ["east", "west"])
    from meshtui.cluster.oneshot import load_once
    from meshtui.domain.inventory import Inventory

    def view_of(source: str | None = None, target: str | None = None):  # type: ignore[no-untyped-def]
        inventory = Inventory()
        for t in targets:
            inventory.add_cluster(t.name, t.server)
        load_once(targets, inventory)
        return inventory.view(source, target)

    session = EngineSession(targets, view_of(), target=NEW)
    session.refresh()
    assert session.run(session.plan(view_of(), StartParams()), RunControl(), progress_sink()).ok
    assert east.record() is not None and west.record() is None, "the record lives in the first context"
    everywhere = session.plan(view_of("1-22-3", NEW), SwitchParams(namespaces=("shop",)))
    assert sorted(op.cluster for op in everywhere.operations) == ["east", "west"]
    one = session.plan(view_of("1-22-3", NEW), SwitchParams(namespaces=("east/shop",)))
    assert [op.cluster for op in one.operations] == ["east"]
    assert session.run(one, RunControl(), progress_sink()).ok
    state = session.state(view_of("1-22-3", NEW))
    assert state.gates is not None
    namespaces = next(c for c in state.gates.upgrade.conditions if c.code == "namespaces")
    assert namespaces.count == 2 * 11 - 1, "a gate holds only when it holds in every cluster"
    assert all(o.startswith(("east/", "west/")) for o in namespaces.first_offenders)
    assert not state.action("upgrade").enabled
    record = east.record()
    assert record is not None
    assert [e.cluster for e in record.journal if e.action == "switch"] == ["east"]
    session.close()


def test_rendered_manifests_are_the_simulators_own_revision(tmp_path: Path) -> None:
    objects = render_revision("1.23.1")
    kinds = {(o["kind"], o["metadata"]["name"]) for o in objects}
    pairs = istio.revision_objects("1-23-1", "1.23.1", installer="helm")
    assert {(k.split("/")[-1], o["metadata"]["name"]) for k, o in pairs} <= {
        (k.lower() + "s" if not k.endswith("y") else k[:-1].lower() + "ies", n) for k, n in kinds
    } | {(k, n) for k, n in kinds} or kinds
    assert ("ClusterRole", "istiod-clusterrole-1-23-1-istio-system") in kinds
    assert ("Role", "istiod-1-23-1") in kinds
    assert [o["kind"] for o in objects][-1] == "MutatingWebhookConfiguration", "webhooks last"
    assert all(o["apiVersion"] for o in objects)


def test_argo_rollouts_restart_through_spec_restart_at() -> None:
    op = restart_operation("c", "Rollout", "shop", "web", "2026-03-02T10:15:00Z", "restart")
    assert op.body == {"spec": {"restartAt": "2026-03-02T10:15:00Z"}}
    assert op.content_type == "application/merge-patch+json" and op.await_rollout
    assert op.path == "/apis/argoproj.io/v1alpha1/namespaces/shop/rollouts/web"


def test_pods_that_would_lose_their_sidecar_are_never_restarted(mesh_factory) -> None:  # type: ignore[no-untyped-def]
    demo = mesh_factory("demo")
    session = started(demo)
    plan = session.plan(fresh_view(demo, session), RestartParams(namespaces=("analytics",)))
    assert not any(op.namespace == "analytics" and op.name == "collector" for op in plan.operations)
    assert any("analytics/collector" in s and "would lose their sidecar on restart" in s for s in plan.skipped)
    session.close()


class HeldControl(RunControl):
    """A RunControl that tells when the run it controls is held by a pause."""

    def __init__(self) -> None:
        super().__init__()
        self.held = threading.Event()

    def wait_if_paused(self) -> bool:
        if self.paused:
            self.held.set()
        return super().wait_if_paused()


def test_pause_and_abort_between_batches(fresh: Mesh) -> None:
    with_target(fresh)
    session = started(fresh)
    session.run(
        session.plan(fresh_view(fresh, session), SwitchParams(namespaces=("shop", "notifications"))),
        RunControl(),
        progress_sink(),
    )
    plan = session.plan(
        fresh_view(fresh, session), RestartParams(namespaces=("shop", "notifications"), batch=2, pause=0.5)
    )
    control = HeldControl()
    control.pause()
    outcome_box: list[object] = []
    worker = threading.Thread(target=lambda: outcome_box.append(session.run(plan, control, progress_sink())))
    worker.start()
    assert control.held.wait(30), "the run never reached its first step"
    assert all(
        "kubectl.kubernetes.io/restartedAt" not in (d.spec.template.metadata.annotations or {})
        for d in fresh.apps.list_namespaced_deployment("shop").items
    ), "paused before the first batch"
    control.resume()
    wait_until(
        lambda: (
            sum(
                1
                for d in fresh.apps.list_deployment_for_all_namespaces().items
                if "kubectl.kubernetes.io/restartedAt" in (d.spec.template.metadata.annotations or {})
            )
            >= 2
        ),
        what="the first batch",
    )
    control.abort()
    worker.join(30)
    outcome = outcome_box[0]
    assert any(s.result is StepResult.ABORTED for s in outcome.steps)  # type: ignore[attr-defined]
    record = fresh.record()
    assert record is not None and record.restart is not None and record.restart.remaining
    session.close()


def test_a_switch_leaves_the_control_plane_and_gateway_only_namespaces_alone(mesh_factory: Callable[..., Mesh]) -> None:
    demo = mesh_factory("demo")
    session = started(demo)
    plan = session.plan(
        fresh_view(demo, session), SwitchParams(namespaces=("istio-system", "gateways", "default", "analytics", "shop"))
    )
    # analytics lost its label after its pods were injected: labelling it is how they keep a sidecar.
    assert sorted(op.name for op in plan.operations if op.kind == "Namespace") == ["analytics", "shop"]
    said = "\n".join(plan.skipped)
    assert "istio-system: it runs the control plane" in said
    assert "gateways: it asks for no injection and its only sidecar pods are gateways" in said
    assert "default: it asks for no injection and has no sidecar pod" in said
    session.close()


def test_delete_pods_removes_a_bare_pod_and_refuses_a_workloads_pod(mesh_factory: Callable[..., Mesh]) -> None:
    demo = mesh_factory("demo")
    session = started(demo)
    view = fresh_view(demo, session)
    owned = next(p.name for p in view.pods("meshtui-sim", "shop") if p.workload_kind == "Deployment")
    refused = session.plan(view, DeletePodsParams(pods=("batch/debug-shell", f"shop/{owned}")))
    assert refused.refused and f"shop/{owned} belongs to ReplicaSet" in refused.refusals[0]
    assert "restart its workload instead" in refused.refusals[0]

    plan = session.plan(view, DeletePodsParams(pods=("batch/debug-shell",)))
    assert [(op.verb, op.object_ref) for op in plan.operations] == [("delete", "Pod batch/debug-shell")]
    assert "bare pod with a 1-22-3 sidecar: nothing recreates it" in plan.operations[0].summary
    # A status write after the plan moves the resourceVersion but not the uid: still the pod planned.
    demo.core.patch_namespaced_pod("debug-shell", "batch", {"metadata": {"labels": {"touched": "yes"}}})
    assert session.run(plan, RunControl(), progress_sink()).ok
    wait_until(
        lambda: not [p for p in demo.core.list_namespaced_pod("batch").items if p.metadata.name == "debug-shell"],
        what="debug-shell gone",
    )
    record = demo.record()
    assert record is not None
    entry = record.journal[-1]
    assert entry.action == "delete-pods" and entry.objects == ["Pod batch/debug-shell"] and entry.result == "applied"
    assert session.plan(fresh_view(demo, session), DeletePodsParams(pods=("batch/debug-shell",))).refused
    session.close()


def test_a_restart_planned_from_a_view_older_than_a_switch_is_refused(fresh: Mesh) -> None:
    with_target(fresh)
    session = started(fresh)
    before = fresh_view(fresh, session)
    assert session.run(session.plan(before, SwitchParams(namespaces=("shop",))), RunControl(), progress_sink()).ok
    stale = session.plan(before, RestartParams(namespaces=("shop",), batch=5, pause=0))
    assert stale.refused
    assert "the labels of shop changed since this view was read" in stale.refusals[0]
    current = session.plan(fresh_view(fresh, session), RestartParams(namespaces=("shop",), batch=5, pause=0))
    assert not current.refused and {op.name for op in current.operations} >= {"cart", "checkout"}
    session.close()
