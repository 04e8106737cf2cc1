"""`meshtui upgrade` as a subprocess against the simulator: the whole upgrade, the rollback, and what goes wrong.

The CLI alone drives the mesh (the manifests come from `meshtui sim render-revision`); the tests only read
the cluster with the official client, inject faults, and do what meshtui tells the operator to do by hand.
"""

from __future__ import annotations

import json
import signal
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from kubernetes import client

from meshtui.domain.objects import REV_LABEL
from meshtui.engine.record import UpgradeRecord
from tests.engine.support import IDENTITY, Mesh, _isolated, cli, mesh_factory, popen, render
from tests.helpers import wait_until

__all__ = ["_isolated", "mesh_factory"]

OLD, NEW = "1-22-3", "1-23-1"
GATEWAY = "istio-system/istio-ingressgateway"


def upgrade(mesh: Mesh, *args: str, identity: str = IDENTITY) -> subprocess.CompletedProcess[str]:
    return cli("upgrade", *args, kubeconfig=mesh.kubeconfig, identity=identity)


def ok(done: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert done.returncode == 0, f"exit {done.returncode}\nSTDOUT:\n{done.stdout}\nSTDERR:\n{done.stderr}"
    assert "Traceback" not in done.stderr
    return done


def prepare(mesh: Mesh, manifests: Path, *, tags: bool = True) -> None:
    """Start, install the target from manifests, switch every namespace (and move the tags)."""
    ok(upgrade(mesh, "start", "--target", NEW, "--yes"))
    ok(upgrade(mesh, "install", "--manifests", str(manifests), "--yes"))
    ok(upgrade(mesh, "switch", "--all", "--yes"))
    if tags:
        ok(upgrade(mesh, "move-tag", "default", "--to", NEW, "--yes"))
        ok(upgrade(mesh, "move-tag", "prod-stable", "--to", NEW, "--yes"))


def control_plane_objects(mesh: Mesh, revision: str) -> list[str]:
    """Every control-plane object of a revision still in the cluster (labelled or named like it)."""
    core, apps = mesh.core, mesh.apps
    adm = client.AdmissionregistrationV1Api(mesh.api)
    rbac = client.RbacAuthorizationV1Api(mesh.api)
    policy = client.PolicyV1Api(mesh.api)
    sel = f"{REV_LABEL}={revision}"
    found: list[str] = []
    for kind, items in (
        ("Deployment", apps.list_namespaced_deployment("istio-system", label_selector=sel).items),
        ("Service", core.list_namespaced_service("istio-system", label_selector=sel).items),
        ("ConfigMap", core.list_namespaced_config_map("istio-system", label_selector=sel).items),
        ("ServiceAccount", core.list_namespaced_service_account("istio-system", label_selector=sel).items),
        ("PodDisruptionBudget", policy.list_namespaced_pod_disruption_budget("istio-system", label_selector=sel).items),
        ("MutatingWebhookConfiguration", adm.list_mutating_webhook_configuration(label_selector=sel).items),
        ("ValidatingWebhookConfiguration", adm.list_validating_webhook_configuration(label_selector=sel).items),
    ):
        found += [f"{kind} {i.metadata.name}" for i in items]
    named = f"istiod-{revision}"
    for kind, lister in (
        ("ServiceAccount", lambda: core.list_namespaced_service_account("istio-system").items),
        ("Role", lambda: rbac.list_namespaced_role("istio-system").items),
        ("RoleBinding", lambda: rbac.list_namespaced_role_binding("istio-system").items),
        ("ClusterRole", lambda: rbac.list_cluster_role().items),
        ("ClusterRoleBinding", lambda: rbac.list_cluster_role_binding().items),
        ("Pod", lambda: core.list_namespaced_pod("istio-system").items),
    ):
        found += [
            f"{kind} {i.metadata.name}"
            for i in lister()
            if f"-{revision}" in i.metadata.name and (kind != "Pod" or i.metadata.name.startswith(named))
        ]
    return sorted(set(found))


def assert_mesh_on(mesh: Mesh, revision: str, gone: str) -> None:
    """Every live sidecar pod runs `revision`; no webhook or tag points at a missing istiod."""
    view = mesh.view()
    assert [r.name for r in view.revisions] == [revision]
    off = [
        f"{p.namespace}/{p.name}:{p.revision}"
        for p in view.pods()
        if p.live and p.has_sidecar and p.revision != revision
    ]
    assert not off, off
    problems = [p.message for cp in view.control_planes for p in cp.problems]
    assert not [p for p in problems if "does not exist" in p or "no longer exists" in p], problems
    assert all(t.revision == revision and not t.dangling for t in view.tags), view.tags
    assert control_plane_objects(mesh, gone) == []


def journal_actions(record: UpgradeRecord) -> list[str]:
    return [e.action for e in record.journal]


def test_the_cli_takes_fresh_from_122_to_123(mesh_factory: Callable[..., Mesh], tmp_path: Path) -> None:
    mesh = mesh_factory("fresh")
    manifests = render("1.23.1", tmp_path / "m123", GATEWAY)
    before_complete = upgrade(mesh, "complete", "--yes", "--confirm-revision", OLD)
    assert before_complete.returncode == 1 and "no upgrade has been started" in before_complete.stderr

    prepare(mesh, manifests)
    plan = ok(upgrade(mesh, "restart", "--all"))
    assert "Not applied" in plan.stdout and "Pod batch/debug-shell (1 pods): bare pod" in plan.stdout
    assert "PodDisruptionBudget orders/orders allows no disruption ever" in plan.stdout
    assert "to include them: add --ignore-pdb" in plan.stdout  # the plan itself names no flag
    ok(upgrade(mesh, "restart", "--all", "--batch", "8", "--ignore-pdb", "--yes"))
    gateways = ok(upgrade(mesh, "gateways", "--manifests", str(manifests), "--yes"))
    assert "Deployment istio-system/istio-ingressgateway" in gateways.stdout
    verify = ok(upgrade(mesh, "verify"))
    assert "PASS     proxy-sync" in verify.stdout and "FAIL" not in verify.stdout

    refused = upgrade(mesh, "complete", "--yes", "--confirm-revision", OLD)
    assert refused.returncode == 1
    assert "1 pod still on 1-22-3: batch/debug-shell" in refused.stderr
    refusal = (mesh.record() or _empty()).journal[-1]
    assert refusal.result == "refused" and refusal.action == "upgrade" and "batch/debug-shell" in refusal.message
    # meshtui cannot recreate a bare pod: the operator deletes it, as the plan said.
    mesh.core.delete_namespaced_pod("debug-shell", "batch")
    wait_until(
        lambda: not [p for p in mesh.core.list_namespaced_pod("batch").items if p.metadata.name == "debug-shell"],
        what="the bare pod to go",
    )
    # The deletion changed the data plane after verify ran: Finish wants it run again (or a typed skip).
    stale = upgrade(mesh, "complete", "--yes", "--confirm-revision", OLD)
    assert stale.returncode == 1 and "the data plane changed since verify ran" in stale.stderr, stale.stderr
    assert "--skip-verify REASON" in stale.stderr
    assert json.loads(ok(upgrade(mesh, "status", "--json")).stdout)["verify"]["state"] == "stale"
    ok(upgrade(mesh, "verify"))
    unconfirmed = upgrade(mesh, "complete", "--yes")
    assert unconfirmed.returncode == 1 and "--confirm-revision 1-22-3" in unconfirmed.stderr
    done = ok(upgrade(mesh, "complete", "--yes", "--confirm-revision", OLD))
    assert "Revision 1-22-3 is offline; the upgrade is completed." in done.stdout

    assert_mesh_on(mesh, NEW, gone=OLD)
    record = mesh.record()
    assert record is not None and record.phase == "completed" and record.finished
    actions = journal_actions(record)
    story = ["start", "deploy", "switch", "move-tag", "restart", "gateways", "verify", "upgrade", "finish"]
    positions = [actions.index(a) for a in story]
    assert positions == sorted(positions), actions
    assert all(e.identity == IDENTITY and e.cluster == "meshtui-sim" for e in record.journal)
    switch = next(e for e in record.journal if e.action == "switch" and e.objects == ["Namespace shop"])
    assert switch.before == {"metadata.labels[istio-injection]": "enabled", "metadata.labels[istio.io/rev]": None}
    assert switch.after == {"metadata.labels[istio-injection]": None, "metadata.labels[istio.io/rev]": NEW}
    status = ok(upgrade(mesh, "status"))
    assert "phase: completed" in status.stdout


def test_the_cli_rolls_back_to_122(mesh_factory: Callable[..., Mesh], tmp_path: Path) -> None:
    mesh = mesh_factory("fresh")
    m123 = render("1.23.1", tmp_path / "m123", GATEWAY)
    m122 = render("1.22.3", tmp_path / "m122", GATEWAY)
    prepare(mesh, m123)
    ok(upgrade(mesh, "restart", "--all", "--batch", "8", "--ignore-pdb", "--yes"))
    ok(upgrade(mesh, "gateways", "--manifests", str(m123), "--yes"))
    preview = ok(upgrade(mesh, "rollback"))
    assert "move every tag that resolves to 1-23-1 back to 1-22-3" in preview.stdout
    done = ok(
        upgrade(
            mesh,
            "rollback",
            "--manifests",
            str(m122),
            "--batch",
            "8",
            "--ignore-pdb",
            "--yes",
            "--confirm-revision",
            NEW,
        )
    )
    assert "Revision 1-23-1 is offline; the upgrade is cancelled (rolled back)." in done.stdout

    assert_mesh_on(mesh, OLD, gone=NEW)
    labels = {ns.metadata.name: ns.metadata.labels or {} for ns in mesh.core.list_namespace().items}
    assert labels["shop"].get("istio-injection") == "enabled" and REV_LABEL not in labels["shop"]
    assert labels["orders"][REV_LABEL] == "prod-stable"
    assert labels["payments"][REV_LABEL] == OLD
    assert labels["legacy-billing"][REV_LABEL] == OLD, "1-20-8 serves nothing: back to the source instead"
    edge = mesh.apps.read_namespaced_deployment("edge-proxy", "edge")
    assert edge.spec.template.metadata.labels[REV_LABEL] == OLD
    record = mesh.record()
    assert record is not None and record.phase == "cancelled" and record.finish_choice == "rollback"
    assert "rollback" in journal_actions(record)
    assert "PASS     proxy-sync" in done.stdout, "the rollback verifies the source before taking the target offline"
    verified = [e for e in record.journal if e.action == "verify" and e.message.startswith(f"verify of {OLD} passed")]
    assert verified and journal_actions(record).index("verify") < journal_actions(record).index("finish")
    assert record.verify_run is not None and record.verify_run.revision == OLD


def test_a_second_meshtui_is_read_only_and_names_the_holder(mesh_factory: Callable[..., Mesh], tmp_path: Path) -> None:
    mesh = mesh_factory("fresh")
    prepare(mesh, render("1.23.1", tmp_path / "m", GATEWAY), tags=False)
    running = popen(
        "upgrade",
        "restart",
        "--all",
        "--batch",
        "2",
        "--pause",
        "30",
        "--ignore-pdb",
        "--yes",
        kubeconfig=mesh.kubeconfig,
    )
    try:
        wait_until(lambda: (mesh.record() or _empty()).restart is not None, timeout=30, what="the restart to start")
        other = upgrade(mesh, "switch", "--back", "--all", "--yes", identity="bob@jump-2")
        assert other.returncode == 5, other.stderr
        assert "is held by alice@jump-1" in other.stderr
        assert "--take-over" in other.stderr
        status = ok(upgrade(mesh, "status", identity="bob@jump-2"))
        assert "Lock     held by alice@jump-1" in status.stdout
        assert "Mode     read-only: the upgrade lock is held by alice@jump-1" in status.stdout
        same_user = upgrade(mesh, "switch", "--back", "--all", "--yes")
        assert same_user.returncode == 5 and "(meshtui pid" in same_user.stderr
    finally:
        running.kill()
        running.wait()


def _empty() -> UpgradeRecord:
    return UpgradeRecord(source="", target="", started="", updated="", started_by="")


def test_sigkill_mid_restart_then_the_next_run_finishes_the_batch(
    mesh_factory: Callable[..., Mesh], tmp_path: Path
) -> None:
    mesh = mesh_factory("fresh", ready_delay=0.3)
    prepare(mesh, render("1.23.1", tmp_path / "m", GATEWAY))
    running = popen("upgrade", "restart", "--all", "--batch", "3", "--ignore-pdb", "--yes", kubeconfig=mesh.kubeconfig)

    def first_batch_done() -> bool:
        rec = mesh.record()
        return rec is not None and rec.restart is not None and len(rec.restart.done) >= 3

    try:
        wait_until(first_batch_done, timeout=60, what="the first batch")
    finally:
        running.send_signal(signal.SIGKILL)
        running.wait()
    record = mesh.record()
    assert record is not None and record.restart is not None
    progress = record.restart
    assert progress.remaining, "killed before the end"
    stamp = progress.restarted_at
    status = ok(upgrade(mesh, "status"))
    assert f"{len(progress.done)} of {len(progress.workloads)} workloads done" in status.stdout

    # The recorded batch is never substituted for what the operator names: they say resume or discard.
    chosen = upgrade(mesh, "restart", "shop", "--yes")
    assert chosen.returncode == 1, chosen.stdout
    assert "recorded unfinished" in chosen.stderr and "resume it, or discard it" in chosen.stderr, chosen.stderr
    assert (mesh.record() or _empty()).restart == progress, "nothing was restarted or discarded"
    resumed = ok(upgrade(mesh, "restart", "--resume", "--yes"))
    assert "Resuming the restart" in resumed.stdout
    record = mesh.record()
    assert record is not None and record.restart is None, "the finished restart is cleared"
    for key in progress.workloads:
        _, kind, ns, name = key.split("|")
        if kind == "Deployment":
            obj = mesh.apps.read_namespaced_deployment(name, ns)
            rsets = [
                r
                for r in mesh.apps.list_namespaced_replica_set(ns).items
                if any(o.name == name for o in (r.metadata.owner_references or []))
            ]
            assert len(rsets) == 2, f"{ns}/{name} rolled exactly once: {[r.metadata.name for r in rsets]}"
        else:
            obj = mesh.apps.read_namespaced_stateful_set(name, ns)
        annotations = obj.spec.template.metadata.annotations or {}
        assert annotations.get("kubectl.kubernetes.io/restartedAt") == stamp, f"{ns}/{name} has the recorded stamp"
    view = mesh.view()
    stale = [
        p.name
        for p in view.pods()
        if p.live and p.has_sidecar and p.gateway is None and p.revision == OLD and p.name != "debug-shell"
    ]
    assert not stale


def test_403_on_namespace_patch_is_permission_denied_naming_it(
    mesh_factory: Callable[..., Mesh], tmp_path: Path
) -> None:
    mesh = mesh_factory("fresh")
    ok(upgrade(mesh, "start", "--target", NEW, "--yes"))
    ok(upgrade(mesh, "install", "--manifests", str(render("1.23.1", tmp_path / "m")), "--yes"))
    mesh.sim.faults.deny("patch", "namespaces")
    denied = upgrade(mesh, "switch", "--all", "--yes")
    assert denied.returncode == 4, denied.stderr
    assert "missing permission: patch namespaces" in denied.stderr
    assert not [r for r in mesh.sim.faults.writes() if r.resource == "namespaces"], "nothing was attempted"


def test_5xx_during_restart_is_retried_to_the_end(mesh_factory: Callable[..., Mesh], tmp_path: Path) -> None:
    mesh = mesh_factory("fresh")
    prepare(mesh, render("1.23.1", tmp_path / "m", GATEWAY))
    # Retry-After 0: the client honours the server's hint, and the default of 1s would only slow the test.
    mesh.sim.faults.fail(
        0.3,
        503,
        retry_after=0,
        verbs={"patch", "get", "watch", "update"},
        resources={"apps/deployments", "apps/statefulsets", "configmaps"},
    )
    running = popen("upgrade", "restart", "--all", "--batch", "10", "--ignore-pdb", "--yes", kubeconfig=mesh.kubeconfig)
    try:
        out, err = running.communicate(timeout=120)
    finally:
        mesh.sim.faults.clear()
    assert running.returncode == 0, err
    failures = [r for r in mesh.sim.faults.requests() if r.status == 503]
    assert {r.verb for r in failures} >= {"patch", "get"}, "restart patches and reads were hit"
    record = mesh.record()
    assert record is not None and record.restart is None
    assert [e for e in record.journal if e.action == "restart" and e.result == "applied"]
    assert "Done:" in out


def test_read_only_sends_no_request_that_writes(mesh_factory: Callable[..., Mesh], tmp_path: Path) -> None:
    mesh = mesh_factory("fresh")
    manifests = render("1.23.1", tmp_path / "m", GATEWAY)
    prepare(mesh, manifests)
    faults = mesh.sim.faults
    faults.clear_log()
    runs = [
        upgrade(mesh, "status", "--read-only"),
        upgrade(mesh, "restart", "--all", "--yes", "--read-only"),
        upgrade(mesh, "switch", "--back", "--all", "--yes", "--read-only"),
        upgrade(mesh, "gateways", "--manifests", str(manifests), "--yes", "--read-only", "--dry-run"),
        upgrade(mesh, "verify", "--read-only"),
        upgrade(mesh, "complete", "--yes", "--read-only", "--confirm-revision", OLD),
        cli("plan", "restart", "--all", "--dry-run", "--read-only", kubeconfig=mesh.kubeconfig),
    ]
    for done in runs:
        assert done.returncode in (0, 1), done.stderr
        assert "Traceback" not in done.stderr
    assert "Read-only: no server-side dry run was sent." in runs[1].stdout
    assert faults.writes() == []
    assert [r for r in faults.requests() if r.method != "GET"] == [], "not even an access review"


def test_plan_and_check_print_without_changing_anything(mesh_factory: Callable[..., Mesh], tmp_path: Path) -> None:
    mesh = mesh_factory("fresh")
    check = cli("check", kubeconfig=mesh.kubeconfig)
    assert check.returncode == 0, check.stderr
    for text in (
        "PodDisruptionBudgets allow no disruption",
        "payments/ledger: maxUnavailable: 0",
        "cannot be restarted by meshtui",
        "batch/Pod debug-shell",
        "1 namespace carries both istio-injection",  # agrees with its count, never "1 namespaces"
        "pods are at risk on restart",
    ):
        assert text in check.stdout
    # Every item a finding counts is listed under it (never "12 pods" over a list of 10).
    lines = check.stdout.splitlines()
    for i, line in enumerate(lines):
        if not line.startswith(("WARNING", "ERROR")) or not line.split()[1].isdigit():
            continue
        listed = 0
        for below in lines[i + 1 :]:
            if not below.startswith("         - "):
                break
            listed += 1
        assert listed == int(line.split()[1]), line
    assert "istio-system/istiod" not in check.stdout, "istiod's own budget is not a restart's concern"
    ok(upgrade(mesh, "start", "--target", NEW, "--yes"))
    ok(upgrade(mesh, "install", "--manifests", str(render("1.23.1", tmp_path / "m")), "--yes"))
    mesh.sim.faults.clear_log()
    plan = cli("plan", "switch", "shop", "--to", "prod-stable", "--dry-run", kubeconfig=mesh.kubeconfig)
    assert plan.returncode == 0, plan.stderr
    assert "patch Namespace shop: labels istio-injection=enabled removed, istio.io/rev=prod-stable added" in plan.stdout
    assert "Server-side dry run:" in plan.stdout
    assert all(r.dry_run for r in mesh.sim.faults.writes()), "plan never applies"
    finish = cli("plan", "finish", "--choice", "upgrade", kubeconfig=mesh.kubeconfig)
    assert finish.returncode == 1 and "Upgrade gate:" in finish.stdout
    assert "delete Deployment istio-system/istiod-1-22-3" in finish.stdout
    unknown = upgrade(mesh, "switch", "nowhere", "--yes")
    assert unknown.returncode == 1 and "namespace nowhere does not exist" in unknown.stderr


@pytest.mark.parametrize("step", ["switch", "restart", "gateways"])
def test_refusals_before_the_target_is_ready_name_the_reason(mesh_factory: Callable[..., Mesh], step: str) -> None:
    mesh = mesh_factory("fresh")
    ok(upgrade(mesh, "start", "--target", NEW, "--yes"))
    args = ["--all"] if step != "gateways" else []
    done = upgrade(mesh, step, *args, "--yes")
    assert done.returncode == 1
    assert "revision 1-23-1 is not deployed and Ready" in done.stderr
    assert done.stderr.count("\n") == 1, "one sentence"
