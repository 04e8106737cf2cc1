"""Each action turned into a plan: the exact API operations, read fresh from the clusters and printable.

The inventory view says what to change; the objects themselves are read again here, so every
operation carries the resourceVersion it was planned against (a later change by someone else is a 409,
never a silent overwrite) and shows before and after.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from meshtui.cluster.rawapi import RawApi
from meshtui.domain.gateways import (
    UPGRADE_INSTALLER,
    UPGRADE_REINJECT,
    UPGRADE_RELABEL,
    UPGRADE_SWITCH,
)
from meshtui.domain.injection import IGNORED_NAMESPACES
from meshtui.domain.inventory import InventoryView
from meshtui.domain.namespaces import NamespaceRow
from meshtui.domain.objects import INJECT_KEY, INJECTION_LABEL, REV_LABEL, TAG_LABEL
from meshtui.domain.plan import (
    MERGE_PATCH,
    REMEDY_IGNORE_PDB,
    REMEDY_MANIFESTS,
    STRATEGIC_MERGE_PATCH,
    Operation,
    Plan,
)
from meshtui.domain.pods import PodRow
from meshtui.domain.revisions import ControlPlane
from meshtui.domain.templates import PINNED
from meshtui.domain.versions import Version
from meshtui.engine import tags as tagrender
from meshtui.engine.kube import KINDS, get, labels, list_all, meta
from meshtui.engine.record import RECORD_NAME, OriginalLabels, SwitchMark, UpgradeRecord

RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"
RESTARTABLE = ("Deployment", "StatefulSet", "DaemonSet", "Rollout")
NS_INJECTION = f"metadata.labels[{INJECTION_LABEL}]"
NS_REV = f"metadata.labels[{REV_LABEL}]"
TEMPLATE_REV = f"spec.template.metadata.labels[{REV_LABEL}]"
TEMPLATE_RESTARTED = f"spec.template.metadata.annotations[{RESTARTED_AT}]"
GATEWAY_COMPONENTS = ("IngressGateways", "EgressGateways")
COMPONENT_LABEL = "operator.istio.io/component"


def rfc3339(t: datetime) -> str:
    """`2026-03-02T10:15:00Z`, the form `kubectl rollout restart` writes."""
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def workload_key(cluster: str, kind: str, namespace: str, name: str) -> str:
    """The key a restart is recorded under: `cluster|Kind|ns|name`."""
    return f"{cluster}|{kind}|{namespace}|{name}"


def workload_path(kind: str, namespace: str, name: str) -> str:
    """The URL path of a workload object."""
    return f"{KINDS[kind].collection(namespace)}/{name}"


@dataclass
class PlanContext:
    """Where the planner reads from: one RawApi per cluster, each cluster's control-plane namespace, the clock."""

    apis: dict[str, RawApi]
    cp: dict[str, str]
    now: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))

    @property
    def first(self) -> str:
        """The first cluster (where the record and the lock live)."""
        return next(iter(self.apis))

    def multi(self) -> bool:
        """True for a mesh of several clusters."""
        return len(self.apis) > 1

    def where(self, cluster: str, *parts: str) -> str:
        """`ns/name`, prefixed with the cluster in a multi-cluster mesh."""
        return "/".join((cluster, *parts) if self.multi() else parts)


def _fmt(value: str | None) -> str:
    return "(none)" if value is None else value


def _labels_summary(before: dict[str, str | None], after: dict[str, str | None]) -> str:
    parts = []
    for key in before:
        old, new = before[key], after.get(key)
        if old == new:
            continue
        if new is None:
            parts.append(f"{key}={old} removed")
        elif old is None:
            parts.append(f"{key}={new} added")
        else:
            parts.append(f"{key}: {old} -> {new}")
    return "labels " + ", ".join(parts)


def select_namespaces(
    ctx: PlanContext, view: InventoryView, refs: list[str] | None, wanted: Callable[[NamespaceRow], bool]
) -> tuple[list[NamespaceRow], list[str]]:
    """Namespaces by `name` or `cluster/name` (a bare name means that namespace in every cluster), or all.

    Returns (rows, refusals for names that exist nowhere).
    """
    if refs is None:
        rows = [ns for ns in view.namespaces if ns.known and ns.name not in IGNORED_NAMESPACES and wanted(ns)]
        return rows, []
    rows, refusals = [], []
    for ref in refs:
        cluster, _, name = ref.rpartition("/")
        found = [ns for ns in view.namespaces if ns.name == name and (not cluster or ns.cluster == cluster)]
        if not found:
            refusals.append(f"namespace {ref} does not exist")
        rows.extend(f for f in found if f not in rows)
    return rows, refusals


def _control_plane(view: InventoryView, cluster: str) -> ControlPlane:
    cp = view.control_plane(cluster)
    assert cp is not None
    return cp


class Planner:
    """Builds the plan of every action."""

    def __init__(self, ctx: PlanContext):
        self.ctx = ctx

    # -------------------------------------------------------------------------------------- start

    def start(
        self,
        source: str,
        target: str,
        me: str,
        view: InventoryView,
        previous: UpgradeRecord | None = None,
        previous_rv: str | None = None,
    ) -> Plan:
        """Create the upgrade record (the lock is taken beside it); a finished one is replaced."""
        cluster = self.ctx.first
        cp = self.ctx.cp[cluster]
        refusals = []
        for plane in view.control_planes:
            if plane.revision(source) is None:
                refusals.append(f"revision {source} does not exist in cluster {plane.cluster}")
        if source == target:
            refusals.append("the source and the target are the same revision")
        now = rfc3339(self.ctx.now())
        record = UpgradeRecord(
            source=source,
            target=target,
            started=now,
            updated=now,
            started_by=me,
            clusters=list(self.ctx.apis),
            original=self._original_labels(),
        )
        metadata: dict[str, Any] = {
            "name": RECORD_NAME,
            "namespace": cp,
            "labels": {"app.kubernetes.io/managed-by": "meshtui"},
        }
        body: dict[str, Any] = {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": metadata,
            "data": record.to_configmap_data(),
        }
        if previous is not None:
            if previous.phase not in ("completed", "cancelled"):
                refusals.append(f"an upgrade from {previous.source} to {previous.target} is already recorded")
            record.journal_dropped = previous.journal_dropped + len(previous.journal)
            body["data"] = record.to_configmap_data()
            metadata["resourceVersion"] = previous_rv
        op = Operation(
            cluster=cluster,
            verb="create" if previous is None else "replace",
            api_path=f"/api/v1/namespaces/{cp}/configmaps",
            kind="ConfigMap",
            namespace=cp,
            name=RECORD_NAME,
            body=body,
            summary=f"the upgrade record: {source} -> {target}"
            + (f" (replacing the finished {previous.source} -> {previous.target})" if previous else ""),
            expect_rv=previous_rv if previous is not None else None,
            after={"source": source, "target": target},
        )
        return Plan(
            "start",
            f"Start the upgrade {source} -> {target}",
            (op,),
            refusals=tuple(refusals),
            notes=(f"takes the upgrade lock (Lease {cp}/meshtui-upgrade-lock) as {me}",),
        )

    def _original_labels(self) -> dict[str, OriginalLabels]:
        """Every namespace's injection labels as they are now, read fresh: what a switch back restores."""
        out: dict[str, OriginalLabels] = {}
        for cluster, api in self.ctx.apis.items():
            for raw in list_all(api, "/api/v1/namespaces"):
                found = labels(raw)
                injection, rev = found.get(INJECTION_LABEL), found.get(REV_LABEL)
                if injection is not None or rev is not None:
                    out[f"{cluster}/{meta(raw).get('name', '')}"] = OriginalLabels(injection=injection, rev=rev)
        return out

    # -------------------------------------------------------------------------------------- switch

    def switch(
        self,
        view: InventoryView,
        *,
        namespaces: list[str] | None,
        to: str | None,
        back: bool,
        source: str,
        target: str,
        record: UpgradeRecord | None,
    ) -> Plan:
        """Label namespaces for the target (or a tag of it), or back; pinned workload templates follow."""
        value = source if back else (to or target)
        refusals: list[str] = []
        dest: dict[str, str] = {}
        for plane in view.control_planes:
            rev = plane.resolve(value)
            if rev is None:
                refusals.append(
                    f"{value} is neither a revision nor a tag in cluster {plane.cluster}: pods created under "
                    "it would get no sidecar"
                )
                continue
            found = plane.revision(rev)
            if found is None or not found.ready:
                refusals.append(f"revision {rev} is not Ready in cluster {plane.cluster}")
            dest[plane.cluster] = rev
        rows, missing = select_namespaces(
            self.ctx,
            view,
            namespaces,
            lambda ns: ns.injection.asks and ns.injection.revision != dest.get(ns.cluster),
        )
        refusals += missing
        ops: list[Operation] = []
        skipped: list[str] = []
        notes: list[str] = []
        fresh: dict[str, dict[str, dict[str, Any]]] = {}
        for cluster in {r.cluster for r in rows}:
            fresh[cluster] = {
                meta(o).get("name", ""): o for o in list_all(self.ctx.apis[cluster], "/api/v1/namespaces")
            }
        for row in rows:
            raw = fresh.get(row.cluster, {}).get(row.name)
            where = self.ctx.where(row.cluster, row.name)
            if raw is None:
                skipped.append(f"{where}: the namespace no longer exists")
                continue
            current = labels(raw)
            before = {INJECTION_LABEL: current.get(INJECTION_LABEL), REV_LABEL: current.get(REV_LABEL)}
            after: dict[str, str | None] = {INJECTION_LABEL: None, REV_LABEL: value}
            if back and row.injection.asks and row.injection.revision == dest.get(row.cluster):
                skipped.append(f"{where}: already resolves to {row.injection.revision}; nothing to switch back")
                continue
            if back and record is not None:
                plane = _control_plane(view, row.cluster)
                after = _restored(record, f"{row.cluster}/{row.name}", plane, source) or after
            if before == after:
                skipped.append(f"{where}: already labelled {after[REV_LABEL] or after[INJECTION_LABEL]}")
                continue
            if not row.injection.asks:
                why = _not_switchable(row, _control_plane(view, row.cluster))
                if why:
                    skipped.append(f"{where}: {why}")
                    continue
            if not row.injection.asks:
                notes.append(f"{where} did not ask for injection: its pods get a sidecar on their next restart")
            elif row.injection.revision is None:
                notes.append(
                    f"{where} asks for {row.injection.value}, which nothing serves: its pods get a "
                    f"sidecar from {dest.get(row.cluster)} on their next restart"
                )
            ops.append(
                Operation(
                    cluster=row.cluster,
                    verb="patch",
                    api_path="/api/v1/namespaces",
                    kind="Namespace",
                    namespace=None,
                    name=row.name,
                    body={
                        "metadata": {"labels": {INJECTION_LABEL: after[INJECTION_LABEL], REV_LABEL: after[REV_LABEL]}}
                    },
                    content_type=MERGE_PATCH,
                    expect_rv=str(meta(raw).get("resourceVersion") or ""),
                    summary=_labels_summary(before, after),
                    before={NS_INJECTION: before[INJECTION_LABEL], NS_REV: before[REV_LABEL]},
                    after={NS_INJECTION: after[INJECTION_LABEL], NS_REV: after[REV_LABEL]},
                )
            )
        scope = None if namespaces is None else {(r.cluster, r.name) for r in rows}
        pinned_ops, pinned_notes = self._pinned(view, scope, dest, value, back, source, record)
        ops += pinned_ops
        notes += pinned_notes
        where_to = f"back to {source}" if back else f"to {value}"
        return Plan(
            "switch-back" if back else "switch",
            f"Switch namespaces {where_to}",
            tuple(ops),
            tuple(skipped),
            tuple(dict.fromkeys(refusals)),
            tuple(dict.fromkeys(notes)),
        )

    def _pinned(
        self,
        view: InventoryView,
        scope: set[tuple[str, str]] | None,
        dest: dict[str, str],
        value: str,
        back: bool,
        source: str,
        record: UpgradeRecord | None,
    ) -> tuple[list[Operation], list[str]]:
        """Workloads whose pod-template `istio.io/rev` decides their revision and names another revision."""
        found: dict[tuple[str, str, str, str], str] = {}
        follow_default: dict[tuple[str, str], int] = {}
        for row in view.pods():
            if scope is not None and (row.cluster, row.namespace) not in scope:
                continue
            if not row.live or row.gateway is not None or row.workload_kind not in RESTARTABLE:
                continue
            wanted = dest.get(row.cluster)
            if wanted is None or row.revision_on_restart == wanted:
                continue
            ns_row = view.namespace(row.cluster, row.namespace)
            if ns_row is not None and ns_row.injection.label is not None:
                continue  # the namespace's label decides (and a switch changes it)
            plane = _control_plane(view, row.cluster)
            label = row.pod.labels.get(REV_LABEL)
            if label and plane.resolve(label) == row.revision_on_restart and row.revision_on_restart is not None:
                assert row.workload_name is not None
                found.setdefault((row.cluster, row.namespace, row.workload_kind, row.workload_name), label)
            elif not label and row.pod.labels.get(INJECT_KEY) == "true" and row.has_sidecar:
                key = (row.cluster, row.namespace)
                follow_default[key] = follow_default.get(key, 0) + 1
        # Templates decide the next pods whether or not pods run now (a Deployment at 0, a CronJob).
        for t in view.templates:
            if scope is not None and (t.cluster, t.namespace) not in scope:
                continue
            wanted = dest.get(t.cluster)
            if t.gateway is not None or t.driver != PINNED or wanted is None or t.revision_on_restart == wanted:
                continue
            if t.kind in (*RESTARTABLE, "CronJob", "ReplicaSet"):
                found.setdefault((t.cluster, t.namespace, t.kind, t.name), "")
        ops: list[Operation] = []
        notes = [
            f"{self.ctx.where(c, ns)}: {n} pods follow the default revision (pod label {INJECT_KEY}=true): "
            "move the default tag to switch them"
            for (c, ns), n in sorted(follow_default.items())
        ]
        for cluster, ns, kind, name in sorted(found):
            new = value
            if back and record is not None:
                mark = record.templates.get(f"{cluster}/{ns}/{kind}/{name}")
                if mark is not None and mark.rev and _control_plane(view, cluster).resolve(mark.rev) == source:
                    new = mark.rev
            raw = get(self.ctx.apis[cluster], workload_path(kind, ns, name))
            if raw is None:
                continue
            spec = raw.get("spec") or {}
            if kind == "CronJob":
                spec = (spec.get("jobTemplate") or {}).get("spec") or {}
            tpl_labels = (spec.get("template") or {}).get("metadata", {}).get("labels") or {}
            current = tpl_labels.get(REV_LABEL)
            if current == new:
                continue
            body: dict[str, Any] = {"spec": {"template": {"metadata": {"labels": {REV_LABEL: new}}}}}
            if kind == "CronJob":
                body = {"spec": {"jobTemplate": body}}
            ops.append(
                Operation(
                    cluster=cluster,
                    verb="patch",
                    api_path=KINDS[kind].collection(ns),
                    kind=kind,
                    namespace=ns,
                    name=name,
                    body=body,
                    content_type=MERGE_PATCH if kind == "Rollout" else STRATEGIC_MERGE_PATCH,
                    expect_rv=str(meta(raw).get("resourceVersion") or ""),
                    summary=f"pod-template label {REV_LABEL}: {current} -> {new} ("
                    + (
                        "its pods roll out now: the pod label decides their revision)"
                        if kind in RESTARTABLE
                        else "the pods it creates from now on get it)"
                    ),
                    before={TEMPLATE_REV: current},
                    after={TEMPLATE_REV: new},
                )
            )
        return ops, notes

    # -------------------------------------------------------------------------------------- tags

    def move_tag(self, view: InventoryView, tag: str, to: str) -> Plan:
        """`istioctl tag set TAG --revision TO --overwrite` in every cluster, as operations."""
        ops: list[Operation] = []
        refusals: list[str] = []
        skipped: list[str] = []
        notes: list[str] = []
        for cluster, api in self.ctx.apis.items():
            plane = _control_plane(view, cluster)
            ns = self.ctx.cp[cluster]
            where = f" in cluster {cluster}" if self.ctx.multi() else ""
            rev = plane.revision(to)
            if rev is None:
                refusals.append(f"revision {to} does not exist{where}")
                continue
            if not rev.ready:
                refusals.append(f"revision {to} is not Ready{where}")
            if tag != "default" and plane.revision(tag) is not None:
                refusals.append(f"{tag} is the name of a revision{where}: a tag may not shadow it")
                continue
            canonicals = list_all(
                api,
                KINDS["MutatingWebhookConfiguration"].collection(None),
                label_selector=f"{REV_LABEL}={to},!{TAG_LABEL}",
            )
            if len(canonicals) != 1:
                refusals.append(
                    f"revision {to} has {len(canonicals)} injector MutatingWebhookConfigurations{where}; "
                    "a tag is copied from exactly one"
                )
                continue
            canonical = canonicals[0]
            rendered = tagrender.render_tag_mwc(canonical, tag, to, ns)
            name = rendered["metadata"]["name"]
            existing = get(api, f"{KINDS['MutatingWebhookConfiguration'].collection(None)}/{name}")
            old_rev = labels(existing).get(REV_LABEL) if existing else None
            ops += self._put(
                cluster,
                "MutatingWebhookConfiguration",
                None,
                rendered,
                existing,
                f"tag {tag}: {_fmt(old_rev)} -> {to} (webhooks call {_service_of(canonical)})",
                {f"metadata.labels[{REV_LABEL}]": old_rev},
                {f"metadata.labels[{REV_LABEL}]": to},
                skipped,
            )
            if tag == "default":
                vwc_path = KINDS["ValidatingWebhookConfiguration"].collection(None)
                validator = get(api, f"{vwc_path}/{tagrender.DEFAULT_VALIDATOR}")
                policy = "Ignore"
                if validator and validator.get("webhooks"):
                    policy = str(validator["webhooks"][0].get("failurePolicy") or "Ignore")
                sfx = "" if to == "default" else f"-{to}"
                canonical_vwc = get(api, f"{vwc_path}/istio-validator{sfx}-{ns}")
                rendered_vwc = tagrender.render_default_validator(canonical, to, ns, policy, canonical_vwc)
                old = labels(validator).get(REV_LABEL) if validator else None
                ops += self._put(
                    cluster,
                    "ValidatingWebhookConfiguration",
                    None,
                    rendered_vwc,
                    validator,
                    f"unlabelled Istio config is validated by {to} (was {_fmt(old)})",
                    {f"metadata.labels[{REV_LABEL}]": old},
                    {f"metadata.labels[{REV_LABEL}]": to},
                    skipped,
                )
                if to != "default":
                    mwc_path = KINDS["MutatingWebhookConfiguration"].collection(None)
                    for legacy in list_all(api, mwc_path, label_selector=f"{REV_LABEL}=default,!{TAG_LABEL}"):
                        hooks = tagrender.deactivated_webhooks(legacy)
                        if hooks is None:
                            continue
                        lname = meta(legacy).get("name", "")
                        ops.append(
                            Operation(
                                cluster=cluster,
                                verb="patch",
                                api_path=mwc_path,
                                kind="MutatingWebhookConfiguration",
                                namespace=None,
                                name=lname,
                                body={"webhooks": hooks},
                                content_type=MERGE_PATCH,
                                expect_rv=str(meta(legacy).get("resourceVersion") or ""),
                                summary="deactivate the non-revisioned injector (never-match selectors), as "
                                "`istioctl tag set default` does; the default tag takes over",
                            )
                        )
            version = Version.parse(rev.version)
            svc_path = f"/api/v1/namespaces/{ns}/services"
            existing_svc = get(api, f"{svc_path}/{tagrender.tag_service_name(tag)}")
            if existing_svc is not None or (
                version is not None and (version.major, version.minor) >= tagrender.TAG_SERVICES_FROM
            ):
                istiod_svc = get(api, f"{svc_path}/istiod{'' if to == 'default' else '-' + to}")
                if istiod_svc is not None:
                    svc = tagrender.render_tag_service(istiod_svc, tag, to, ns)
                    old_svc = labels(existing_svc).get(REV_LABEL) if existing_svc else None
                    ops += self._put(
                        cluster,
                        "Service",
                        ns,
                        svc,
                        existing_svc,
                        f"tag Service {tag}: {_fmt(old_svc)} -> {to}",
                        {f"metadata.labels[{REV_LABEL}]": old_svc},
                        {f"metadata.labels[{REV_LABEL}]": to},
                        skipped,
                    )
            notes += self._tag_impact(view, cluster, tag, to)
        return Plan(
            "move-tag",
            f"Move tag {tag} to {to}",
            tuple(ops),
            tuple(skipped),
            tuple(dict.fromkeys(refusals)),
            tuple(dict.fromkeys(notes)),
        )

    def _put(
        self,
        cluster: str,
        kind: str,
        namespace: str | None,
        rendered: dict[str, Any],
        existing: dict[str, Any] | None,
        summary: str,
        before: dict[str, Any],
        after: dict[str, Any],
        skipped: list[str],
    ) -> list[Operation]:
        """Create `rendered`, or replace `existing` conditionally on its resourceVersion."""
        info = KINDS[kind]
        name = rendered["metadata"]["name"]
        ref = f"{kind} {namespace + '/' if namespace else ''}{name}"
        if existing is None:
            return [
                Operation(
                    cluster,
                    "create",
                    info.collection(namespace),
                    kind,
                    namespace,
                    name,
                    rendered,
                    summary=summary,
                    before=before,
                    after=after,
                )
            ]
        if _same_content(existing, rendered):
            skipped.append(f"{self.ctx.where(cluster, ref)}: already as planned")
            return []
        rv = str(meta(existing).get("resourceVersion") or "")
        body = dict(rendered)
        body["metadata"] = {**rendered["metadata"], "resourceVersion": rv}
        if kind == "Service":
            spec = dict(body.get("spec") or {})
            ip = (existing.get("spec") or {}).get("clusterIP")
            if ip:
                spec["clusterIP"] = ip
            body["spec"] = spec
        return [
            Operation(
                cluster,
                "replace",
                info.collection(namespace),
                kind,
                namespace,
                name,
                body,
                expect_rv=rv,
                summary=summary,
                before=before,
                after=after,
            )
        ]

    def _tag_impact(self, view: InventoryView, cluster: str, tag: str, to: str) -> list[str]:
        """Which namespaces and pods move on their next restart when the tag moves."""
        plane = _control_plane(view, cluster)
        current = plane.resolve(tag)
        if current == to:
            return []
        if tag == "default":
            follows = [
                ns
                for ns in view.namespaces
                if ns.cluster == cluster and ns.injection.label == INJECTION_LABEL and ns.injection.value == "enabled"
            ]
        else:
            follows = [
                ns
                for ns in view.namespaces
                if ns.cluster == cluster and ns.injection.label == REV_LABEL and ns.injection.value == tag
            ]
        notes = []
        if tag == "default":
            loose: dict[str, int] = {}
            for ns in view.namespaces:
                if ns.cluster != cluster or ns.injection.label is not None:
                    continue
                for row in view.pods(cluster, ns.name):
                    if row.live and row.revision_on_restart == current and not row.pod.labels.get(REV_LABEL):
                        loose[ns.name] = loose.get(ns.name, 0) + 1
            if loose:
                notes.append(
                    f"{sum(loose.values())} pods in unlabelled namespaces ({', '.join(sorted(loose))}) follow the "
                    f"default revision ({INJECT_KEY}=true): they move to {to} on their next restart"
                )
        if not follows:
            return notes or [f"no namespace follows tag {tag}" + (f" in cluster {cluster}" if self.ctx.multi() else "")]
        pods = sum(ns.live - ns.no_sidecar for ns in follows)
        names = ", ".join(self.ctx.where(cluster, ns.name) for ns in follows[:8]) + (", …" if len(follows) > 8 else "")
        return [
            f"{len(follows)} namespaces follow tag {tag} ({names}): their {pods} sidecar pods move from "
            f"{_fmt(current)} to {to} on their next restart",
            *notes,
        ]

    # -------------------------------------------------------------------------------------- restart

    def restart(
        self,
        view: InventoryView,
        *,
        namespaces: list[str] | None,
        batch: int,
        pause: float,
        ignore_pdb: bool,
        restarted_at: str | None = None,
    ) -> Plan:
        """Roll every workload whose pods would come back on another revision (or gain a sidecar)."""
        rows, refusals = select_namespaces(self.ctx, view, namespaces, lambda ns: True)
        refusals += self._behind(rows)
        scope = {(r.cluster, r.name) for r in rows}
        stamp = restarted_at or rfc3339(self.ctx.now())
        workloads: dict[tuple[str, str, str, str], list[PodRow]] = {}
        skipped: list[str] = []
        lost: dict[tuple[str, str, str | None, str | None], tuple[int, str]] = {}
        blocked: dict[tuple[str, str, str | None, str | None], tuple[int, str]] = {}
        components: set[tuple[str, str, str | None, str | None]] = set()
        for row in view.pods():
            if (row.cluster, row.namespace) not in scope or not row.live or row.gateway is not None:
                continue
            if row.revision == row.revision_on_restart:
                continue
            if row.pod.component is not None:
                # ztunnel / istio-cni: upgraded in place by the ambient step; a restart only resets connections.
                components.add((row.cluster, row.namespace, row.workload_kind, row.workload_name))
                continue
            if row.has_sidecar and row.revision_on_restart is None:
                key = (row.cluster, row.namespace, row.workload_kind, row.workload_name)
                n, _ = lost.get(key, (0, ""))
                lost[key] = (n + 1, row.reason or row.injection.cause)
                continue
            if not row.restartable:
                key = (row.cluster, row.namespace, row.workload_kind or "Pod", row.workload_name or row.name)
                n, _ = blocked.get(key, (0, ""))
                blocked[key] = (n + 1, row.restart_blocker or "it cannot be restarted")
                continue
            assert row.workload_kind is not None and row.workload_name is not None
            workloads.setdefault((row.cluster, row.namespace, row.workload_kind, row.workload_name), []).append(row)
        for cluster, ns, kind, name in sorted(components, key=str):
            skipped.append(
                f"{self._c(cluster)}{kind} {ns}/{name}: a node agent (ztunnel, istio-cni), upgraded in place by "
                "the ambient step, not restarted"
            )
        for (cluster, ns, kind, name), (n, why) in sorted(lost.items(), key=lambda kv: str(kv[0])):
            what = f"{kind} {ns}/{name}" if kind else f"pod(s) in {ns}"
            skipped.append(
                f"{self._c(cluster)}{what}: {n} pods would lose their sidecar on restart ({why}); fix its labels first"
            )
        for (cluster, ns, kind, name), (n, why) in sorted(blocked.items(), key=lambda kv: str(kv[0])):
            what = f"{kind} {ns}/{name}" if kind else f"pod(s) in {ns}"
            if kind == "Deployment" and "paused" in why:
                skipped.append(f"{self._c(cluster)}{what}: can't restart paused deployment (run rollout resume first)")
            else:
                skipped.append(f"{self._c(cluster)}{what} ({n} pods): {why}")
        remedies: set[str] = set()
        pdbs: dict[str, list[dict[str, Any]]] = {}
        for cluster in {k[0] for k in workloads}:
            pdbs[cluster] = list_all(self.ctx.apis[cluster], KINDS["PodDisruptionBudget"].collection(None))
        ops: list[Operation] = []
        notes: list[str] = []
        for (cluster, ns, kind, name), pods in sorted(workloads.items()):
            if kind == "Deployment" and self._paused(cluster, ns, name):
                skipped.append(
                    f"{self._c(cluster)}Deployment {ns}/{name}: can't restart paused deployment "
                    "(run rollout resume first)"
                )
                continue
            budget = blocking_pdb(pdbs.get(cluster, []), ns, pods[0].pod.labels, permanent=True)
            if budget is not None:
                msg = (
                    f"{self._c(cluster)}{kind} {ns}/{name}: PodDisruptionBudget {ns}/{budget[0]} allows no "
                    f"disruption ever ({budget[1]})"
                )
                if not ignore_pdb:
                    skipped.append(
                        msg + "; ignoring PodDisruptionBudgets rolls it anyway (its own rolling-update "
                        "settings still apply)"
                    )
                    remedies.add(REMEDY_IGNORE_PDB)
                    continue
                notes.append(msg + "; restarting anyway (PodDisruptionBudgets ignored)")
            moves = sorted({f"{_fmt(p.revision)} -> {_fmt(p.revision_on_restart)}" for p in pods})
            ops.append(
                restart_operation(cluster, kind, ns, name, stamp, f"restart ({len(pods)} pods {', '.join(moves)})")
            )
            if sum(1 for p in pods if p.live) == 1:
                notes.append(f"{self._c(cluster)}{kind} {ns}/{name} has a single pod: it is briefly unavailable")
        return Plan(
            "restart",
            f"Restart workloads ({len(ops)} in batches of {batch}, {pause:g}s apart)",
            tuple(ops),
            tuple(skipped),
            tuple(refusals),
            tuple(notes),
            batch_size=max(1, batch),
            pause_seconds=max(0.0, pause),
            remedies=tuple(sorted(remedies)),
        )

    def _behind(self, rows: list[NamespaceRow]) -> list[str]:
        """Namespaces whose injection labels changed since the view was taken (a watch still catching up).

        A restart planned from such a view would miss the pods a switch just moved, or roll pods that no
        longer need it: refuse, and let the operator plan again once the tables show the change.
        """
        fresh: dict[tuple[str, str], dict[str, str]] = {}
        for cluster in sorted({r.cluster for r in rows}):
            for raw in list_all(self.ctx.apis[cluster], "/api/v1/namespaces"):
                fresh[(cluster, str(meta(raw).get("name") or ""))] = labels(raw)
        behind = []
        for row in rows:
            now = fresh.get((row.cluster, row.name))
            if now is None:
                continue
            label = INJECTION_LABEL if INJECTION_LABEL in now else REV_LABEL if REV_LABEL in now else None
            if (label, now.get(label) if label else None) != (row.injection.label, row.injection.value):
                behind.append(self.ctx.where(row.cluster, row.name))
        if not behind:
            return []
        return [
            f"the labels of {', '.join(behind[:5])}{' and others' if len(behind) > 5 else ''} changed since this "
            "view was read (the watch is catching up): plan the restart again in a moment"
        ]

    def resume_restart(self, workloads: list[str], restarted_at: str, batch: int, pause: float, action: str) -> Plan:
        """The rest of a recorded restart, with its recorded timestamp: a workload already patched is unchanged
        by the same patch, so only its rollout is awaited."""
        ops = []
        for key in workloads:
            cluster, kind, ns, name = key.split("|", 3)
            if cluster in self.ctx.apis and kind in RESTARTABLE:
                ops.append(restart_operation(cluster, kind, ns, name, restarted_at, "resume the recorded restart"))
        return Plan(
            action,
            f"Resume the interrupted restart ({len(ops)} workloads left, batches of {batch})",
            tuple(ops),
            batch_size=max(1, batch),
            pause_seconds=max(0.0, pause),
        )

    def _c(self, cluster: str) -> str:
        return f"[{cluster}] " if self.ctx.multi() else ""

    def _paused(self, cluster: str, namespace: str, name: str) -> bool:
        raw = get(self.ctx.apis[cluster], workload_path("Deployment", namespace, name))
        return bool(raw and (raw.get("spec") or {}).get("paused"))

    # -------------------------------------------------------------------------------------- gateways

    def gateways(
        self,
        view: InventoryView,
        *,
        back: bool,
        source: str,
        target: str,
        record: UpgradeRecord | None,
        manifests: list[dict[str, Any]] | None,
        batch: int,
        pause: float,
    ) -> Plan:
        """Move every gateway to the target (or back), each the way its kind is upgraded."""
        dest = source if back else target
        stamp = rfc3339(self.ctx.now())
        ops: list[Operation] = []
        skipped: list[str] = []
        notes: list[str] = []
        refusals: list[str] = []
        remedies: set[str] = set()
        for g in view.gateways:
            ref = self.ctx.where(g.cluster, g.namespace, g.name)
            if g.revision == dest and g.revision_on_restart == dest and set(g.revisions) <= {dest}:
                skipped.append(f"{ref}: already on {dest}")
                continue
            api = self.ctx.apis[g.cluster]
            plane = _control_plane(view, g.cluster)
            if g.upgrade in (UPGRADE_SWITCH, UPGRADE_REINJECT) and g.workload:
                kind, _, name = g.workload.partition("/")
                if kind not in RESTARTABLE:
                    skipped.append(f"{ref}: owned by {g.workload}, which meshtui cannot restart")
                    continue
                raw = get(api, workload_path(kind, g.namespace, name))
                if raw is None:
                    skipped.append(f"{ref}: {g.workload} no longer exists")
                    continue
                tpl = ((raw.get("spec") or {}).get("template") or {}).get("metadata") or {}
                label = (tpl.get("labels") or {}).get(REV_LABEL)
                body: dict[str, Any] = {"spec": {"template": {"metadata": {"annotations": {RESTARTED_AT: stamp}}}}}
                before: dict[str, Any] = {}
                after: dict[str, Any] = {TEMPLATE_RESTARTED: stamp}
                summary = f"restart: re-injected by {dest}"
                expect = None
                if label:
                    new = label
                    if plane.resolve(label) != dest:
                        new = dest
                        if back and record is not None:
                            mark = record.templates.get(f"{g.cluster}/{g.namespace}/{kind}/{name}")
                            if mark is not None and mark.rev and plane.resolve(mark.rev) == dest:
                                new = mark.rev
                    if new != label:
                        body["spec"]["template"]["metadata"]["labels"] = {REV_LABEL: new}
                        before[TEMPLATE_REV] = label
                        after[TEMPLATE_REV] = new
                        summary = f"pod-template label {REV_LABEL}: {label} -> {new}, and restart"
                        expect = str(meta(raw).get("resourceVersion") or "")
                elif g.revision_on_restart != dest:
                    skipped.append(
                        f"{ref}: follows its namespace or the default revision (now {_fmt(g.revision_on_restart)}): "
                        f"switch its namespace or move the default tag to {dest} first"
                    )
                    continue
                ops.append(
                    Operation(
                        cluster=g.cluster,
                        verb="patch",
                        api_path=KINDS[kind].collection(g.namespace),
                        kind=kind,
                        namespace=g.namespace,
                        name=name,
                        body=body,
                        content_type=MERGE_PATCH if kind == "Rollout" else STRATEGIC_MERGE_PATCH,
                        expect_rv=expect,
                        summary=summary,
                        before=before,
                        after=after,
                        await_rollout=True,
                    )
                )
            elif g.upgrade == UPGRADE_RELABEL:
                path = KINDS["Gateway"].collection(g.namespace)
                raw = get(api, f"{path}/{g.name}")
                if raw is None:
                    skipped.append(f"{ref}: the Gateway no longer exists")
                    continue
                old = labels(raw).get(REV_LABEL)
                new_value = dest
                if back and record is not None:
                    mark = record.templates.get(f"{g.cluster}/{g.namespace}/Gateway/{g.name}")
                    if mark is not None and mark.rev and plane.resolve(mark.rev) == dest:
                        new_value = mark.rev
                ops.append(
                    Operation(
                        cluster=g.cluster,
                        verb="patch",
                        api_path=path,
                        kind="Gateway",
                        namespace=g.namespace,
                        name=g.name,
                        body={"metadata": {"labels": {REV_LABEL: new_value}}},
                        content_type=MERGE_PATCH,
                        expect_rv=str(meta(raw).get("resourceVersion") or ""),
                        summary=f"label {REV_LABEL}: {_fmt(old)} -> {new_value} (istiod {dest} re-renders its "
                        "Deployment)",
                        before={NS_REV: old},
                        after={NS_REV: new_value},
                    )
                )
            elif g.upgrade == UPGRADE_INSTALLER:
                if manifests is None:
                    skipped.append(
                        f"{ref}: rendered by istioctl, so it is upgraded in place through the installer: give "
                        f"the folder of the {dest} gateway manifests, or re-run istioctl install "
                        f"--set revision={dest} with its gateway components"
                    )
                    remedies.add(REMEDY_MANIFESTS)
                    continue
                docs = [
                    d
                    for d in manifests
                    if labels(d).get(COMPONENT_LABEL) in GATEWAY_COMPONENTS
                    and meta(d).get("namespace") == g.namespace
                    and (labels(d).get("app") == g.name or meta(d).get("name") == g.name)
                ]
                if not any(d.get("kind") == "Deployment" for d in docs):
                    skipped.append(f"{ref}: the manifests hold no Deployment {g.namespace}/{g.name}")
                    continue
                revs = {labels(d).get(REV_LABEL) for d in docs} - {None}
                if revs and plane.resolve(next(iter(revs)) or "") != dest:
                    refusals.append(
                        f"the manifests of {ref} are for revision {', '.join(sorted(r for r in revs if r))}, not {dest}"
                    )
                    continue
                for d in docs:
                    kind = str(d.get("kind"))
                    info = KINDS.get(kind)
                    if info is None:
                        continue
                    ops.append(
                        Operation(
                            cluster=g.cluster,
                            verb="apply",
                            api_path=info.collection(g.namespace),
                            kind=kind,
                            namespace=g.namespace,
                            name=meta(d)["name"],
                            body=d,
                            summary=f"server-side apply of the {dest} gateway manifest",
                            after={f"metadata.labels[{REV_LABEL}]": labels(d).get(REV_LABEL)},
                            await_rollout=kind == "Deployment",
                        )
                    )
            else:
                skipped.append(f"{ref}: no way to upgrade a {g.kind} is known")
        # Rollouts are batched together; the other writes go first so their gateways re-render meanwhile.
        ops.sort(key=lambda op: op.await_rollout)
        return Plan(
            "gateways-back" if back else "gateways",
            f"Move gateways {'back to' if back else 'to'} {dest}",
            tuple(ops),
            tuple(skipped),
            tuple(refusals),
            tuple(notes),
            batch_size=max(1, batch),
            pause_seconds=max(0.0, pause),
            remedies=tuple(sorted(remedies)),
        )


def restart_operation(cluster: str, kind: str, namespace: str, name: str, stamp: str, summary: str) -> Operation:
    """`kubectl rollout restart` as an operation (Argo Rollouts: `spec.restartAt`), awaited until rolled out."""
    if kind == "Rollout":
        body: dict[str, Any] = {"spec": {"restartAt": stamp}}
        after = {"spec.restartAt": stamp}
        ctype = MERGE_PATCH
    else:
        body = {"spec": {"template": {"metadata": {"annotations": {RESTARTED_AT: stamp}}}}}
        after = {TEMPLATE_RESTARTED: stamp}
        ctype = STRATEGIC_MERGE_PATCH
    return Operation(
        cluster=cluster,
        verb="patch",
        api_path=KINDS[kind].collection(namespace),
        kind=kind,
        namespace=namespace,
        name=name,
        body=body,
        content_type=ctype,
        summary=summary,
        after=after,
        await_rollout=True,
    )


def _service_of(mwc: dict[str, Any]) -> str:
    for hook in mwc.get("webhooks") or []:
        svc = (hook.get("clientConfig") or {}).get("service") or {}
        if svc:
            return f"Service {svc.get('namespace')}/{svc.get('name')}"
        return str((hook.get("clientConfig") or {}).get("url") or "?")
    return "?"


def _same_content(existing: dict[str, Any], rendered: dict[str, Any]) -> bool:
    """True when `existing` already carries the rendered labels and body (nothing to write)."""
    if any(labels(existing).get(k) != v for k, v in labels(rendered).items()):
        return False
    for key in ("webhooks", "spec"):
        if key in rendered:
            if key == "spec":
                mine = rendered["spec"]
                theirs = existing.get("spec") or {}
                if any(theirs.get(k) != v for k, v in mine.items() if k not in ("type",)):
                    return False
            elif existing.get(key) != rendered[key]:
                return False
    return True


def _not_switchable(row: NamespaceRow, plane: ControlPlane) -> str | None:
    """Why a namespace that asks for no injection is left alone by a switch, or None to label it.

    Labelling such a namespace puts every workload in it into the mesh on its next restart: right for one
    whose sidecar pods would otherwise lose their sidecar, wrong for the control plane's own namespace or
    one that holds only gateways (they move with the gateways action) or no sidecar pod at all.
    """
    if any(r.istiod and r.istiod.split("/", 1)[0] == row.name for r in plane.revisions):
        return "it runs the control plane: meshtui never labels it for injection"
    if not sum(row.mesh_pods.values()):
        if any(row.by_revision.values()):
            return "it asks for no injection and its only sidecar pods are gateways: move them with the gateways action"
        return (
            "it asks for no injection and has no sidecar pod: labelling it would put it in the mesh; "
            "label it yourself if that is meant"
        )
    return None


def _restored(record: UpgradeRecord, key: str, plane: ControlPlane, source: str) -> dict[str, str | None] | None:
    """The labels a switch back restores: those at `start`, else those before meshtui's first switch.

    Only labels that lead to the source now qualify (a tag still on the target would not); None means
    the namespace is labelled with the source revision itself.
    """
    original = record.original.get(key)
    candidates: list[SwitchMark] = []
    if original is not None:
        candidates.append(SwitchMark(at=record.started, injection=original.injection, rev=original.rev))
    mark = record.switched.get(key)
    if mark is not None:
        candidates.append(mark)
    for c in candidates:
        if _original_resolves(c, plane, source):
            # istio-injection=enabled governs alone; a stale istio.io/rev beside it is kept as it was.
            return {INJECTION_LABEL: c.injection, REV_LABEL: c.rev}
    return None


def _original_resolves(mark: SwitchMark, plane: ControlPlane, source: str) -> bool:
    """Whether a namespace's labels from before the switch still lead to the source revision."""
    if mark.injection == "enabled":
        return plane.default_revision == source
    if mark.injection:
        return False
    return bool(mark.rev) and plane.resolve(mark.rev or "") == source


def _int_or_percent(value: Any, total: int) -> int | None:
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.endswith("%") and value[:-1].isdigit():
        return -(-int(value[:-1]) * total // 100)
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None


def blocking_pdb(
    pdbs: list[dict[str, Any]], namespace: str, pod_labels: Any, *, permanent: bool
) -> tuple[str, str] | None:
    """The first PDB over these pods that allows no disruption (`permanent`: by its spec, forever), with why."""
    from meshtui.domain.selectors import LabelSelector, SelectorError

    for pdb in pdbs:
        if meta(pdb).get("namespace") != namespace:
            continue
        spec = pdb.get("spec") or {}
        try:
            selector = LabelSelector.from_dict(spec.get("selector"))
        except SelectorError:
            continue
        if not spec.get("selector") or not selector.matches(dict(pod_labels)):
            continue
        status = pdb.get("status") or {}
        expected = int(status.get("expectedPods") or 0)
        name = str(meta(pdb).get("name"))
        if permanent:
            if spec.get("maxUnavailable") is not None:
                allowed = _int_or_percent(spec["maxUnavailable"], max(expected, 1))
                if allowed == 0:
                    return name, f"maxUnavailable: {spec['maxUnavailable']}"
            elif spec.get("minAvailable") is not None:
                need = _int_or_percent(spec["minAvailable"], expected)
                if spec["minAvailable"] == "100%" or (need is not None and expected and need >= expected):
                    return name, f"minAvailable: {spec['minAvailable']} of {expected} pods"
        elif int(status.get("disruptionsAllowed") or 0) == 0 and expected > 0:
            healthy = status.get("currentHealthy")
            desired = status.get("desiredHealthy")
            return name, f"{healthy} healthy, {desired} required"
    return None
