"""Finish: the revision going offline (docs/istio.md#taking-a-revision-offline), every object of it deleted safely.

Objects are found by the `istio.io/rev` label and by the chart's names (Helm leaves some unlabelled), webhooks
first so nothing new is sent to a dying istiod; only the control-plane namespace and cluster-scoped Istio
objects are touched, never an application that happens to carry the label.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from meshtui.cluster.kinds import KINDS, KindInfo
from meshtui.domain.actions import TITLES, ActionId
from meshtui.domain.gates import GateVerdict
from meshtui.domain.inventory import InventoryView
from meshtui.domain.objects import REV_LABEL, TAG_LABEL
from meshtui.domain.plan import Operation, Plan
from meshtui.domain.reasons import Reason, ReasonKind
from meshtui.engine.kube import Discovery, get, labels, list_all, meta
from meshtui.engine.params import FinishParams
from meshtui.engine.phase import gate_why
from meshtui.engine.planners.common import PlanContext, PlanRequest

#: Namespaced kinds looked for in the control-plane namespace, in deletion order (after the webhooks).
NAMESPACED = (
    "Deployment",
    "DaemonSet",
    "HorizontalPodAutoscaler",
    "PodDisruptionBudget",
    "Service",
    "ConfigMap",
    "Secret",
    "NetworkPolicy",
    "RoleBinding",
    "Role",
    "ServiceAccount",
)
CLUSTER_SCOPED = ("MutatingWebhookConfiguration", "ValidatingWebhookConfiguration", "ClusterRoleBinding", "ClusterRole")
ORDER = (
    "MutatingWebhookConfiguration",
    "ValidatingWebhookConfiguration",
    *NAMESPACED,
    "ClusterRoleBinding",
    "ClusterRole",
)
#: Never deleted even when labelled: meshtui's own record and lock, and what all revisions share.
KEEP_NAMES = frozenset(
    {"meshtui-upgrade", "meshtui-upgrade-lock", "istio-ca-root-cert", "istio-reader-service-account"}
)

#: The Finish gate's condition "choose Upgrade or Rollback first".
NOT_CHOSEN = "not_chosen"


def plan_finish(req: PlanRequest, params: FinishParams) -> Plan:
    """Take the revision the recorded choice gives up offline; refused until Upgrade or Rollback is chosen."""
    choice = req.record.finish_choice if req.record is not None else None
    if choice is None:
        unchosen = Reason(ReasonKind.GATE, NOT_CHOSEN, "choose Upgrade or Rollback first")
        return Plan(ActionId.FINISH, TITLES[ActionId.FINISH], refusals=(unchosen.message,), why=(unchosen,))
    gates = req.gates
    assert gates is not None
    revision, kept = offline_pair(choice, req.source, req.target)
    verdict = gates.upgrade if choice == "upgrade" else gates.rollback
    return plan_offline(req.ctx, req.view, revision, kept, verdict, choice.capitalize())


def offline_pair(choice: str, source: str, target: str) -> tuple[str, str]:
    """(the revision taken offline, the one kept) for a recorded choice."""
    return (source, target) if choice == "upgrade" else (target, source)


def chart_names(revision: str, namespace: str) -> dict[str, list[str]]:
    """The names the istiod chart gives a revision's objects (docs/istio.md#objects-of-a-revision), per kind."""
    sfx = "" if revision == "default" else f"-{revision}"
    istiod = f"istiod{sfx}"
    ns_sfx = "" if namespace == "istio-system" else f"-{namespace}"
    cluster_rbac = [
        f"istiod-clusterrole{sfx}-{namespace}",
        f"istiod-gateway-controller{sfx}-{namespace}",
        f"istio-reader-clusterrole{sfx}-{namespace}",
    ]
    return {
        "Deployment": [istiod],
        "Service": [istiod],
        "ServiceAccount": [istiod],
        "PodDisruptionBudget": [istiod],
        "HorizontalPodAutoscaler": [istiod],
        "NetworkPolicy": [istiod],
        "Role": [istiod],
        "RoleBinding": [istiod],
        "ConfigMap": [f"istio{sfx}", f"istio-sidecar-injector{sfx}", f"values{sfx}", f"pilot-jwks-extra-cacerts{sfx}"],
        "MutatingWebhookConfiguration": [f"istio-sidecar-injector{sfx}{ns_sfx}"],
        "ValidatingWebhookConfiguration": [f"istio-validator{sfx}-{namespace}"],
        "ClusterRole": cluster_rbac,
        "ClusterRoleBinding": cluster_rbac,
    }


def plan_offline(
    ctx: PlanContext, view: InventoryView, revision: str, keep: str, verdict: GateVerdict, action: str
) -> Plan:
    """Delete everything of `revision` in every cluster; refused while the gate (`verdict`) does not hold."""
    refused = (
        [replace(r, message=f"{action} gate: {r.message}") for r in gate_why(verdict)] if not verdict.enabled else []
    )
    ops: list[Operation] = []
    notes: list[str] = []
    skipped: list[str] = []
    detached: list[str] = []
    for cluster, api in ctx.apis.items():
        cp = ctx.cp[cluster]
        plane = view.control_plane(cluster)
        going = plane.revision(revision) if plane is not None else None
        # Served from outside (managed, or Istio's istiod-remote chart): this only detaches the cluster.
        remote = going is not None and going.managed
        if remote:
            detached.append(cluster)
        discovery = Discovery(api)
        found: dict[tuple[str, str | None, str], tuple[dict[str, Any], str]] = {}

        served: dict[str, KindInfo] = {}
        for kind in (*NAMESPACED, *CLUSTER_SCOPED):
            info = KINDS[kind]
            if kind in ("HorizontalPodAutoscaler", "NetworkPolicy") and not discovery.served(info):
                continue
            served[kind] = info
            coll = info.collection(cp if info.namespaced else None)
            for obj in list_all(api, coll, label_selector=f"{REV_LABEL}={revision}"):
                why = f"{REV_LABEL}={revision}"
                if labels(obj).get(TAG_LABEL):
                    why += f" (tag {labels(obj)[TAG_LABEL]} still points at it)"
                _add(found, kind, obj, why)
        for kind, names in chart_names(revision, cp).items():
            named_info = served.get(kind)
            if named_info is None:
                continue
            for name in names:
                named = get(api, f"{named_info.collection(cp if named_info.namespaced else None)}/{name}")
                if named is None:
                    continue
                rev_label = labels(named).get(REV_LABEL)
                if rev_label is not None and rev_label != revision:
                    skipped.append(f"{kind} {name} is named like {revision}'s but labelled {REV_LABEL}={rev_label}")
                    continue
                _add(found, kind, named, f"the chart's name for revision {revision}")
        for (kind, ns, name), (obj, why) in sorted(found.items(), key=lambda kv: (ORDER.index(kv[0][0]), kv[0])):
            info = served[kind]
            if remote and kind == "ServiceAccount":
                skipped.append(
                    f"ServiceAccount {ns}/{name} kept: a remote secret (`istioctl create-remote-secret "
                    f"--service-account {name}`) may still use it to read this cluster; delete it yourself once "
                    "no remote secret names it"
                )
                continue
            ops.append(
                Operation(
                    cluster=cluster,
                    verb="delete",
                    api_path=info.collection(ns),
                    kind=kind,
                    namespace=ns,
                    name=name,
                    expect_rv=str(meta(obj).get("resourceVersion") or ""),
                    summary=why,
                    before={f"metadata.labels[{REV_LABEL}]": labels(obj).get(REV_LABEL)},
                )
            )
        if remote:
            notes.append(
                f"revision {revision} runs outside this cluster{_in(ctx, cluster)}: this removes its webhooks and "
                "configuration here (the cluster is detached from it); the external istiod keeps running"
            )
        if plane is not None:
            if going is not None and going.is_default:
                notes.append(
                    f"revision {revision} is the default revision{_in(ctx, cluster)}: istio-injection=enabled "
                    f"namespaces would lose injection; move the default tag to {keep} first"
                )
            if plane.validation_default == revision:
                notes.append(f"istiod-default-validator points at {revision}{_in(ctx, cluster)}: it is deleted too")
        left = [
            p for p in view.pods(cluster) if p.live and p.has_sidecar and p.revision == revision and p.namespace != cp
        ]
        if left:
            notes.append(f"{len(left)} pods still run a sidecar of {revision}{_in(ctx, cluster)}")
    title = f"Take revision {revision} offline (irreversible)"
    if detached and len(detached) == len(ctx.apis):
        title = f"Detach the cluster from revision {revision} (irreversible here; its istiod keeps running outside)"
    return Plan(
        ActionId.FINISH,
        title,
        tuple(ops),
        tuple(skipped),
        tuple(r.message for r in refused),
        tuple(notes),
        why=tuple(refused),
    )


def _add(
    found: dict[tuple[str, str | None, str], tuple[dict[str, Any], str]], kind: str, obj: dict[str, Any], why: str
) -> None:
    m = meta(obj)
    name = str(m.get("name") or "")
    if not name or name in KEEP_NAMES:
        return
    found.setdefault((kind, m.get("namespace"), name), (obj, why))


def _in(ctx: PlanContext, cluster: str) -> str:
    return f" in cluster {cluster}" if ctx.multi() else ""
