"""The ambient step: upgrade istio-cni, then ztunnel, in place and node by node, against the target revision.

ztunnel and istio-cni cannot be canaried (docs/ambient.md): each is one DaemonSet that the chosen
installer updates in place, after which Kubernetes replaces its pod node by node (ztunnel: the new pod
starts beside the old, `maxSurge: 1, maxUnavailable: 0`; istio-cni: `maxUnavailable: 1`). The plan is
the installer's operations, then one wait per node, so progress, pause and the journal are per node and
every node says how many ambient pods' connections are at risk there.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from meshtui.cluster.errors import ClusterError
from meshtui.domain.actions import ActionId
from meshtui.domain.ambient import ambient_pods_by_node
from meshtui.domain.inventory import InventoryView
from meshtui.domain.plan import Operation, Plan, program_operation
from meshtui.engine.kube import Discovery, apply_operation, get, labels, list_all, meta
from meshtui.engine.planners.common import PlanContext

if TYPE_CHECKING:
    from meshtui.engine.executor import RunControl
    from meshtui.engine.installers import InstallerSpec

ZTUNNEL = "ztunnel"
CNI = "istio-cni-node"
COMPONENT_LABEL = "operator.istio.io/component"
#: How often a node wait re-reads the DaemonSet and the node's pods.
POLL_SECONDS = 0.5
#: Shown with every ztunnel plan (Istio's ambient upgrade documentation).
RESET_WARNING = (
    "upgrading ztunnel on a node resets long-lived connections: the old ztunnel drains for "
    "terminationGracePeriodSeconds (default 30 s) and then closes what is still open; "
    "application pods are not restarted"
)
CNI_WARNING = "while istio-cni restarts on a node, new pods cannot start there; running ambient pods keep working"
PAUSE_NOTE = (
    "pause holds meshtui before the next node; Kubernetes keeps rolling the DaemonSet (a DaemonSet rollout "
    "cannot be paused), so a pause stops meshtui's steps, not the replacement of pods"
)


@dataclass(frozen=True, slots=True)
class Component:
    """One in-place data-plane component: its DaemonSet, its container and its Helm chart/release."""

    key: str  # istio-cni or ztunnel, as the plan says it
    daemonset: str
    container: str
    chart: str
    release: str
    component: str  # operator.istio.io/component


COMPONENTS = (
    Component("istio-cni", CNI, "install-cni", "istio/cni", "istio-cni", "Cni"),
    Component("ztunnel", ZTUNNEL, "istio-proxy", "istio/ztunnel", "ztunnel", "Ztunnel"),
)


def is_ambient_object(obj: dict[str, Any]) -> bool:
    """True for an object of the istio-cni or ztunnel charts (upgraded in the ambient step, not with istiod)."""
    lab = labels(obj)
    if lab.get(COMPONENT_LABEL) in ("Cni", "Ztunnel"):
        return True
    if lab.get("app.kubernetes.io/name") in ("ztunnel", "istio-cni"):
        return True
    return obj.get("kind") == "DaemonSet" and meta(obj).get("name") in (ZTUNNEL, CNI)


def _component_of(obj: dict[str, Any]) -> Component | None:
    lab = labels(obj)
    if lab.get(COMPONENT_LABEL) == "Cni" or lab.get("app.kubernetes.io/name") == "istio-cni":
        return COMPONENTS[0]
    if lab.get(COMPONENT_LABEL) == "Ztunnel" or lab.get("app.kubernetes.io/name") == "ztunnel":
        return COMPONENTS[1]
    if obj.get("kind") == "DaemonSet":
        return next((c for c in COMPONENTS if c.daemonset == meta(obj).get("name")), None)
    return None


def _env(container: dict[str, Any], name: str) -> str | None:
    for e in container.get("env") or []:
        if e.get("name") == name and "value" in e:
            return str(e["value"])
    return None


def _container(template: dict[str, Any], name: str) -> dict[str, Any]:
    spec = template.get("spec") or {}
    return next((c for c in spec.get("containers") or [] if c.get("name") == name), {})


def istiod_address(target: str, namespace: str) -> str:
    """`istiod[-R].<ns>.svc:15012`, where ztunnel gets its configuration and certificates."""
    return f"istiod{'' if target == 'default' else '-' + target}.{namespace}.svc:15012"


def want(comp: Component, target: str, version: str, namespace: str) -> dict[str, str]:
    """What the upgraded DaemonSet template must show: the target's version, and for ztunnel its istiod."""
    out = {"container": comp.container, "tag": version}
    if comp.key == "ztunnel":
        out["xds"] = istiod_address(target, namespace)
    return out


def template_upgraded(template: dict[str, Any], wanted: dict[str, str]) -> str | None:
    """None when a pod template is the upgraded one; otherwise what still differs, in one phrase."""
    c = _container(template, wanted["container"])
    image = str(c.get("image") or "")
    tag = image.rsplit(":", 1)[-1] if ":" in image.rsplit("/", 1)[-1] else ""
    if tag != wanted["tag"] and not tag.startswith(wanted["tag"] + "-"):
        return f"image {image or 'unset'} is not version {wanted['tag']}"
    xds = wanted.get("xds")
    if xds and _env(c, "XDS_ADDRESS") not in (xds, None):
        return f"XDS_ADDRESS is {_env(c, 'XDS_ADDRESS')}, not {xds}"
    return None


def _same_pod_template(pod: dict[str, Any], template: dict[str, Any], container: str) -> bool:
    """The pod runs the template's container: same image and same literal env (API defaults aside)."""
    pc, tc = _container(pod, container), _container(template, container)

    def literal(c: dict[str, Any]) -> dict[str, str]:
        return {str(e.get("name")): str(e["value"]) for e in c.get("env") or [] if "value" in e}

    return pc.get("image") == tc.get("image") and literal(pc) == literal(tc)


def _ready(pod: dict[str, Any]) -> bool:
    return any(
        c.get("type") == "Ready" and c.get("status") == "True"
        for c in (pod.get("status") or {}).get("conditions") or []
    )


def pods_at_risk(view: InventoryView, cluster: str) -> dict[str, int]:
    """Per node, how many live ambient-enrolled pods run there (their connections go through its ztunnel)."""
    counts = ambient_pods_by_node(row.pod for row in view.pods(cluster))
    return {node: n for (_, node), n in counts.items()}


def _selector(ds: dict[str, Any]) -> str:
    match = ((ds.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
    return ",".join(f"{k}={v}" for k, v in sorted(match.items()))


def _helm_argv(spec: InstallerSpec, comp: Component, target: str, context: str, namespace: str) -> list[str]:
    binary = spec.path or "helm"
    values = ["--set", "profile=ambient"] if comp.key == "istio-cni" else ["--set", f"revision={target}"]
    version = ["--version", spec.chart_version] if spec.chart_version else []
    kubeconfig = ["--kubeconfig", spec.kubeconfig] if spec.kubeconfig else []
    return [
        binary,
        "upgrade",
        comp.release,
        comp.chart,
        "--namespace",
        namespace,
        *values,
        *version,
        "--kube-context",
        context,
        *kubeconfig,
        *spec.extra_args,
    ]


def _istioctl_argv(spec: InstallerSpec, target: str, context: str) -> list[str]:
    kubeconfig = ["--kubeconfig", spec.kubeconfig] if spec.kubeconfig else []
    return [
        spec.path or "istioctl",
        "install",
        "-y",
        "--set",
        "profile=ambient",
        "--set",
        f"revision={target}",
        "--context",
        context,
        *kubeconfig,
        *spec.extra_args,
    ]


def plan_ambient(
    ctx: PlanContext,
    view: InventoryView,
    target: str,
    spec: InstallerSpec,
    *,
    components: tuple[str, ...] = ("istio-cni", "ztunnel"),
    manifests: list[dict[str, Any]] | None = None,
) -> Plan:
    """Upgrade istio-cni then ztunnel in place with the chosen installer, then wait for each node in turn.

    `manifests` are the objects of a manifest folder (for `spec.kind == "manifests"`); only the istio-cni and
    ztunnel objects among them are applied. Refused when the target revision is not Ready (the control
    plane goes first) or the mesh has no ambient data plane.
    """
    ops: list[Operation] = []
    refusals: list[str] = []
    skipped: list[str] = []
    notes: list[str] = []
    chosen = [c for c in COMPONENTS if c.key in components]
    unknown = sorted(set(components) - {c.key for c in COMPONENTS})
    if unknown:
        refusals.append(f"unknown component {', '.join(unknown)}: choose istio-cni and/or ztunnel")
    title = f"Upgrade {' and '.join(c.key for c in chosen) or 'nothing'} in place to {target}"
    for cluster, api in ctx.apis.items():
        ns = ctx.cp[cluster]
        where = f" in cluster {cluster}" if ctx.multi() else ""
        plane = next((cp for cp in view.control_planes if cp.cluster == cluster), None)
        rev = plane.revision(target) if plane is not None else None
        if rev is None or not rev.ready:
            refusals.append(
                f"revision {target} is not deployed and Ready{where}: the control plane is upgraded before "
                "istio-cni and ztunnel"
            )
            continue
        version = rev.version
        if not version:
            refusals.append(f"the version of revision {target} is unknown{where}: its istiod image names none")
            continue
        present: list[tuple[Component, dict[str, Any]]] = []
        for comp in chosen:
            ds = get(api, f"/apis/apps/v1/namespaces/{ns}/daemonsets/{comp.daemonset}")
            if ds is None:
                skipped.append(f"{ctx.where(cluster, ns, comp.daemonset)}: no {comp.key} DaemonSet")
                continue
            strategy = ((ds.get("spec") or {}).get("updateStrategy") or {}).get("type") or "RollingUpdate"
            if strategy != "RollingUpdate":
                refusals.append(
                    f"DaemonSet {ns}/{comp.daemonset}{where} uses updateStrategy {strategy}: Kubernetes replaces its "
                    "pods only when they are deleted; set it back to RollingUpdate (the chart's) first"
                )
                continue
            present.append((comp, ds))
        if not present:
            refusals.append(f"no istio-cni or ztunnel DaemonSet in {ns}{where}: this mesh has no ambient data plane")
            continue
        if spec.kind == "istioctl":
            summary = (
                f"istioctl installs istio-cni and ztunnel with revision {target} "
                f"(istiod {target} is applied again, harmlessly)"
            )
            ops.append(program_operation(cluster, _istioctl_argv(spec, target, cluster), summary))
        for comp, ds in present:
            wanted = want(comp, target, version, ns)
            differs = template_upgraded((ds.get("spec") or {}).get("template") or {}, wanted)
            if spec.kind == "manifests":
                objs = [o for o in manifests or [] if _component_of(o) is comp]
                if not objs:
                    refusals.append(f"the manifests hold no {comp.key} objects (DaemonSet {comp.daemonset})")
                    continue
                for obj in objs:
                    if obj.get("kind") == "DaemonSet":
                        bad = template_upgraded((obj.get("spec") or {}).get("template") or {}, wanted)
                        if bad:
                            refusals.append(f"the {comp.key} DaemonSet in the manifests is not for {target}: {bad}")
                ops += _apply_ops(api, cluster, ns, objs, comp, refusals)
            elif spec.kind == "helm":
                if not spec.path:
                    refusals.append("the path of the helm binary is required")
                against = f" (configured against istiod-{target})" if comp.key == "ztunnel" else ""
                summary = f"upgrade the {comp.release} release in place{against}"
                ops.append(program_operation(cluster, _helm_argv(spec, comp, target, cluster, ns), summary))
            elif spec.kind not in ("istioctl", "external"):
                refusals.append(f"unknown installer {spec.kind!r}")
            if differs is None and spec.kind != "external":
                notes.append(f"{comp.key}{where} already runs {target}: applying again is harmless")
            pods = list_all(api, f"/api/v1/namespaces/{ns}/pods", label_selector=_selector(ds))
            if spec.kind == "external" and differs is None and all(template_upgraded(p, wanted) is None for p in pods):
                # Nothing will change and nothing is in flight: waiting on each node would only look busy.
                skipped.append(f"{ctx.where(cluster, ns, comp.daemonset)}: every {comp.key} pod already runs {version}")
                continue
            nodes = sorted({str((p.get("spec") or {}).get("nodeName") or "") for p in pods} - {""})
            risk_by_node = pods_at_risk(view, cluster) if comp.key == "ztunnel" else {}
            for node in nodes:
                at_risk = risk_by_node.get(node, 0)
                risk = (
                    f"{at_risk} ambient pod{'s' if at_risk != 1 else ''}' connections at risk"
                    if comp.key == "ztunnel"
                    else "new pods wait there while it restarts"
                )
                ops.append(
                    Operation(
                        cluster=cluster,
                        verb="wait",
                        api_path=f"/apis/apps/v1/namespaces/{ns}/daemonsets",
                        kind="DaemonSet",
                        namespace=ns,
                        name=comp.daemonset,
                        body={"node": node, "want": wanted, "timeout": spec.timeout, "at_risk": at_risk},
                        summary=f"node {node}: {comp.key} replaced by {version} ({risk})",
                    )
                )
            if comp.key == "ztunnel":
                notes.append(RESET_WARNING)
            else:
                notes.append(CNI_WARNING)
    if spec.kind in ("istioctl", "helm"):
        notes.append(f"{spec.kind} is run without a shell; a server-side dry run does not cover it")
    if spec.kind == "helm":
        notes.append(
            "helm upgrade without --reuse-values renders the chart's defaults plus the --set values above: "
            "give any custom values of the istio-cni and ztunnel releases again (--set)"
        )
    if spec.kind == "external":
        notes.append("installed by other means: meshtui waits for each node to run the target")
    if any(op.verb == "wait" for op in ops):
        notes.append(PAUSE_NOTE)
    return Plan(
        ActionId.AMBIENT,
        title,
        tuple(ops),
        tuple(skipped),
        tuple(dict.fromkeys(refusals)),
        tuple(dict.fromkeys(notes)),
    )


def _apply_ops(
    api: Any, cluster: str, ns: str, objs: list[dict[str, Any]], comp: Component, refusals: list[str]
) -> list[Operation]:
    """Server-side apply of one component's objects (the DaemonSet last, so its config is there first)."""
    discovery = Discovery(api)
    out: list[Operation] = []
    for obj in sorted(objs, key=lambda o: o.get("kind") == "DaemonSet"):
        info = discovery.lookup(str(obj.get("apiVersion")), str(obj.get("kind")))
        if info is None:
            refusals.append(f"cluster {cluster} does not serve {obj.get('kind')} ({obj.get('apiVersion')})")
            continue
        out.append(apply_operation(cluster, info, obj, ns, f"server-side apply ({comp.key}, in place)"))
    return out


def wait_node(
    api: Any, op: Operation, control: RunControl, timeout: float, status: Callable[[str], None]
) -> tuple[bool, str]:
    """Wait until the node runs the upgraded pod of the DaemonSet, Ready, and its old pod is gone (or draining).

    Says what it waits for (the DaemonSet not yet updated, the new pod starting, the old one draining)
    through `status`; (False, why) on abort or timeout.
    """
    node = str((op.body or {}).get("node"))
    wanted = dict((op.body or {}).get("want") or {})
    deadline = time.monotonic() + timeout
    last = "not observed yet"
    while True:
        if control.aborted:
            return False, "aborted by the operator"
        try:
            last, done = _node_state(api, op, node, wanted)
        except ClusterError as exc:
            last, done = exc.message, False
        status(f"{op.name} on {node}: {last}")
        if done:
            return True, f"node {node}: {last}"
        if time.monotonic() >= deadline:
            return False, f"node {node}: timed out after {timeout:g}s: {last}"
        if not control.sleep(POLL_SECONDS):
            return False, "aborted by the operator"


def _node_state(api: Any, op: Operation, node: str, wanted: dict[str, str]) -> tuple[str, bool]:
    ds = get(api, op.path)
    if ds is None:
        return f"DaemonSet {op.namespace}/{op.name} does not exist", False
    template = (ds.get("spec") or {}).get("template") or {}
    differs = template_upgraded(template, wanted)
    if differs:
        return f"the DaemonSet is not upgraded yet ({differs})", False
    pods = list_all(
        api,
        f"/api/v1/namespaces/{op.namespace}/pods",
        label_selector=_selector(ds),
        field_selector=f"spec.nodeName={node}",
    )
    container = wanted.get("container", "")
    new = [p for p in pods if _same_pod_template(p, template, container) and not meta(p).get("deletionTimestamp")]
    old = [p for p in pods if not _same_pod_template(p, template, container)]
    old_live = [p for p in old if not meta(p).get("deletionTimestamp")]
    if not new:
        return "waiting for the new pod", False
    if not all(_ready(p) for p in new):
        return "the new pod is starting" + (" beside the old one" if old_live else ""), False
    if old_live:
        return "the new pod is Ready; the old one is still running", False
    if old:
        return "upgraded; the old pod is draining its connections", True
    return "upgraded", True
