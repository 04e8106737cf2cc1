"""Move tag: `istioctl tag set TAG --revision REV --overwrite` in every cluster, as conditional writes."""

from __future__ import annotations

from typing import Any

from meshtui.domain.actions import TITLES, ActionId
from meshtui.domain.inventory import InventoryView
from meshtui.domain.objects import INJECT_KEY, INJECTION_LABEL, REV_LABEL, TAG_LABEL
from meshtui.domain.plan import MERGE_PATCH, Operation, Plan
from meshtui.domain.versions import Version
from meshtui.engine import tags as tagrender
from meshtui.engine.kube import KINDS, get, labels, list_all, meta
from meshtui.engine.params import MoveTagParams
from meshtui.engine.planners.common import PlanContext, PlanRequest, control_plane, fmt


def plan_move_tag(req: PlanRequest, params: MoveTagParams) -> Plan:
    """Point `params.tag` at `params.to` (default: the target); a plan without a tag is refused."""
    if not params.tag:
        return Plan(ActionId.MOVE_TAG, TITLES[ActionId.MOVE_TAG], refusals=("name the tag to move",))
    return move_tag(req.ctx, req.view, params.tag, params.to or req.target)


def move_tag(ctx: PlanContext, view: InventoryView, tag: str, to: str) -> Plan:
    """`istioctl tag set TAG --revision TO --overwrite` in every cluster, as operations."""
    ops: list[Operation] = []
    refusals: list[str] = []
    skipped: list[str] = []
    notes: list[str] = []
    for cluster, api in ctx.apis.items():
        plane = control_plane(view, cluster)
        ns = ctx.cp[cluster]
        where = f" in cluster {cluster}" if ctx.multi() else ""
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
        ops += _put(
            ctx,
            cluster,
            "MutatingWebhookConfiguration",
            None,
            rendered,
            existing,
            f"tag {tag}: {fmt(old_rev)} -> {to} (webhooks call {_service_of(canonical)})",
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
            ops += _put(
                ctx,
                cluster,
                "ValidatingWebhookConfiguration",
                None,
                rendered_vwc,
                validator,
                f"unlabelled Istio config is validated by {to} (was {fmt(old)})",
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
                ops += _put(
                    ctx,
                    cluster,
                    "Service",
                    ns,
                    svc,
                    existing_svc,
                    f"tag Service {tag}: {fmt(old_svc)} -> {to}",
                    {f"metadata.labels[{REV_LABEL}]": old_svc},
                    {f"metadata.labels[{REV_LABEL}]": to},
                    skipped,
                )
        notes += _tag_impact(ctx, view, cluster, tag, to)
    return Plan(
        ActionId.MOVE_TAG,
        f"Move tag {tag} to {to}",
        tuple(ops),
        tuple(skipped),
        tuple(dict.fromkeys(refusals)),
        tuple(dict.fromkeys(notes)),
    )


def _put(
    ctx: PlanContext,
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
        skipped.append(f"{ctx.where(cluster, ref)}: already as planned")
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


def _tag_impact(ctx: PlanContext, view: InventoryView, cluster: str, tag: str, to: str) -> list[str]:
    """Which namespaces and pods move on their next restart when the tag moves."""
    plane = control_plane(view, cluster)
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
        return notes or [f"no namespace follows tag {tag}" + (f" in cluster {cluster}" if ctx.multi() else "")]
    pods = sum(ns.live - ns.no_sidecar for ns in follows)
    names = ", ".join(ctx.where(cluster, ns.name) for ns in follows[:8]) + (", …" if len(follows) > 8 else "")
    return [
        f"{len(follows)} namespace{' follows' if len(follows) == 1 else 's follow'} tag {tag} ({names}): their "
        f"{pods} sidecar pod{' moves' if pods == 1 else 's move'} from "
        f"{fmt(current)} to {to} on their next restart",
        *notes,
    ]


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
