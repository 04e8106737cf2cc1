"""Deploying the target revision: rendered manifests applied server-side, istioctl, Helm, or an external installer.

Every adapter ends with waiting for the revision's istiod to be Ready. External programs are run with an
argument list (never through a shell), their paths given by the operator, with the kube context of each
cluster passed explicitly so they act on the same clusters meshtui reads.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from meshtui.cluster.errors import ClusterError
from meshtui.cluster.rawapi import RawApi
from meshtui.domain.inventory import InventoryView
from meshtui.domain.objects import REV_LABEL, TAG_LABEL
from meshtui.domain.plan import Operation
from meshtui.engine.kube import get, iter_docs, labels, list_all, meta
from meshtui.engine.planners.common import COMPONENT_LABEL, GATEWAY_COMPONENTS

MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")
WEBHOOKS = "/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations"
#: Seconds between two readiness reads of an externally served revision.
EXTERNAL_POLL = 2.0


@dataclass(frozen=True)
class InstallerSpec:
    """How the operator wants the target deployed."""

    kind: str  # manifests, istioctl, helm, external
    path: str | None = None  # the folder of manifests, or the istioctl / helm binary
    chart: str = "istio/istiod"
    chart_version: str | None = None
    extra_args: tuple[str, ...] = ()
    kubeconfig: str | None = None
    timeout: float = 600.0


@dataclass
class ManifestSet:
    """The objects of a manifest folder, and what could not be read."""

    objects: list[dict[str, Any]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def load_manifests(folder: str) -> ManifestSet:
    """Every object of every YAML/JSON file in a folder (sorted by file name, documents in order)."""
    out = ManifestSet()
    root = Path(folder)
    if not root.is_dir():
        out.problems.append(f"{folder} is not a folder")
        return out
    for path in sorted(p for p in root.iterdir() if p.suffix in MANIFEST_SUFFIXES and p.is_file()):
        try:
            docs = list(iter_docs(path.read_text()))
        except Exception as exc:  # YAML errors carry positions in their text
            out.problems.append(f"{path.name} cannot be read: {str(exc).splitlines()[0]}")
            continue
        for doc in docs:
            if (
                not isinstance(doc, dict)
                or not doc.get("kind")
                or not doc.get("apiVersion")
                or not meta(doc).get("name")
            ):
                out.problems.append(f"{path.name} holds a document without apiVersion, kind and metadata.name")
                continue
            out.objects.append(doc)
    if not out.objects and not out.problems:
        out.problems.append(f"{folder} holds no manifests (*.yaml, *.yml, *.json)")
    return out


def is_gateway(obj: dict[str, Any]) -> bool:
    """True for objects of istioctl's gateway components (upgraded in the gateways step, not with istiod)."""
    return labels(obj).get(COMPONENT_LABEL) in GATEWAY_COMPONENTS


def wait_operation(cluster: str, revision: str, namespace: str, timeout: float) -> Operation:
    """Wait for a revision's istiod Deployment to be rolled out (and its webhooks to exist)."""
    name = "istiod" if revision == "default" else f"istiod-{revision}"
    return Operation(
        cluster=cluster,
        verb="wait",
        api_path=f"/apis/apps/v1/namespaces/{namespace}/deployments",
        kind="Deployment",
        namespace=namespace,
        name=name,
        body={"revision": revision, "timeout": timeout},
        summary=f"revision {revision} Ready (up to {timeout:g}s)",
    )


def external_wait_operation(cluster: str, revision: str, timeout: float) -> Operation:
    """Wait for a revision served from outside the cluster: its injector webhooks in place, their Services served.

    A managed or remote control plane (Istio's `istiod-remote` chart) has no istiod Deployment here, so
    waiting for one would never end.
    """
    return Operation(
        cluster=cluster,
        verb="wait",
        api_path=WEBHOOKS,
        kind="Revision",
        namespace=None,
        name=revision,
        body={"revision": revision, "timeout": timeout, "external": True},
        summary=f"revision {revision} served from outside the cluster: its injector webhooks in place and "
        f"answering (up to {timeout:g}s)",
    )


def external_readiness(api: RawApi, revision: str) -> tuple[bool, str]:
    """Whether an externally served revision is Ready here, and why not (read fresh).

    Ready when its own injector webhooks exist and each one can be called: a `url` is the external istiod's;
    a Service must exist and have ready endpoints, else the API server fails every pod the webhook selects
    (or, with failurePolicy Ignore, creates it without a sidecar).
    """
    hooks = list_all(api, WEBHOOKS, label_selector=f"{REV_LABEL}={revision},!{TAG_LABEL}", what="listing webhooks")
    calls = [(meta(c).get("name", ""), h) for c in hooks for h in c.get("webhooks") or [] if isinstance(h, dict)]
    if not calls:
        return False, f"no injector webhook of revision {revision} exists yet"
    services = 0
    for config, hook in calls:
        client = hook.get("clientConfig") or {}
        service = client.get("service")
        if client.get("url") or not isinstance(service, dict):
            continue
        ns, name = str(service.get("namespace") or ""), str(service.get("name") or "")
        where = f"webhook {config}/{hook.get('name', '')}"
        if get(api, f"/api/v1/namespaces/{ns}/services/{name}") is None:
            return False, f"{where} calls Service {ns}/{name}, which does not exist"
        if not ready_addresses(api, ns, name):
            policy = str(hook.get("failurePolicy") or "Fail")
            effect = (
                "the API server rejects every pod it selects"
                if policy == "Fail"
                else "pods it selects are created without a sidecar"
            )
            return False, (
                f"Service {ns}/{name} behind {where} has no ready endpoints: {effect} (failurePolicy {policy})"
            )
        services += 1
    via = f"; {services} Service-backed ones have ready endpoints" if services else ""
    return True, f"the injector webhooks of {revision} are in place{via}"


def unreachable_revisions(apis: dict[str, RawApi], view: InventoryView | None) -> dict[tuple[str, str], str]:
    """Revisions served from outside whose webhooks cannot be called here (a Service with no endpoints), with why.

    Read per refresh: the inventory does not hold endpoints.
    """
    out: dict[tuple[str, str], str] = {}
    if view is None:
        return out
    for plane in view.control_planes:
        api = apis.get(plane.cluster)
        for rev in plane.revisions:
            if api is None or not rev.managed or not rev.ready:
                continue
            try:
                ready, why = external_readiness(api, rev.name)
            except ClusterError:
                continue  # the connection state says why; the view's own readiness stands
            if not ready:
                out[(plane.cluster, rev.name)] = why
    return out


def ready_addresses(api: RawApi, namespace: str, service: str) -> int:
    """Ready endpoint addresses of a Service (EndpointSlices, else the Endpoints object)."""
    count = 0
    slices = list_all(
        api,
        f"/apis/discovery.k8s.io/v1/namespaces/{namespace}/endpointslices",
        label_selector=f"kubernetes.io/service-name={service}",
        what="listing EndpointSlices",
    )
    for s in slices:
        for e in s.get("endpoints") or []:
            if isinstance(e, dict) and (e.get("conditions") or {}).get("ready") is not False:
                count += len(e.get("addresses") or [])
    if count:
        return count
    endpoints = get(api, f"/api/v1/namespaces/{namespace}/endpoints/{service}") or {}
    return sum(len(s.get("addresses") or []) for s in endpoints.get("subsets") or [] if isinstance(s, dict))


def wait_external(
    api: RawApi, revision: str, timeout: float, sleep: Callable[[float], bool], status: Callable[[str], None]
) -> tuple[bool, str]:
    """Poll `external_readiness` until Ready, the timeout, or `sleep` answering False (aborted)."""
    end = time.monotonic() + timeout
    while True:
        ok, why = external_readiness(api, revision)
        if ok:
            return True, why
        status(f"waiting for revision {revision}: {why}")
        left = end - time.monotonic()
        if left <= 0:
            return False, f"revision {revision} is not Ready after {timeout:g}s: {why}"
        if not sleep(min(EXTERNAL_POLL, left)):
            return False, f"aborted while waiting for revision {revision}: {why}"


def install_argv(spec: InstallerSpec, target: str, context: str, namespace: str) -> list[str]:
    """The argument list of the installer for one cluster (kube context)."""
    binary = spec.path or spec.kind
    kubeconfig = ["--kubeconfig", spec.kubeconfig] if spec.kubeconfig else []
    if spec.kind == "istioctl":
        return [
            binary,
            "install",
            "-y",
            "--set",
            f"revision={target}",
            "--context",
            context,
            *kubeconfig,
            *spec.extra_args,
        ]
    version = ["--version", spec.chart_version] if spec.chart_version else []
    release = "istiod" if target == "default" else f"istiod-{target}"
    return [
        binary,
        "upgrade",
        "--install",
        release,
        spec.chart,
        "--namespace",
        namespace,
        "--set",
        f"revision={'' if target == 'default' else target}",
        *version,
        "--kube-context",
        context,
        *kubeconfig,
        *spec.extra_args,
    ]


def refuse_program(argv: list[str], timeout: float) -> tuple[int, str]:
    """The program runner of a read-only session: an installer would write, so none is started."""
    return 126, f"read-only mode: {argv[0] if argv else 'the installer'} was not started"


def run_program(argv: list[str], timeout: float) -> tuple[int, str]:
    """Run an installer (no shell); (exit code, the last lines of its output)."""
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False, shell=False)
    except FileNotFoundError:
        return 127, f"{argv[0]} was not found"
    except PermissionError:
        return 126, f"{argv[0]} is not executable"
    except subprocess.TimeoutExpired:
        return 124, f"{argv[0]} did not finish within {timeout:g}s"
    tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-5:])
    return done.returncode, tail
