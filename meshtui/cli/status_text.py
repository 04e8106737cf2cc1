"""The human form of `meshtui status`: the JSON document rendered in 80 columns."""

from __future__ import annotations

from typing import Any

WIDTH = 80


def _fit(text: Any, width: int) -> str:
    s = "-" if text is None or text == "" else str(text)
    return s if len(s) <= width else s[: width - 1] + "…"


def _row(cells: list[tuple[Any, int, str]]) -> str:
    out = []
    for value, width, align in cells:
        s = _fit(value, width)
        out.append(s.rjust(width) if align == ">" else s.ljust(width))
    return " ".join(out).rstrip()


def render_status(doc: dict[str, Any]) -> str:
    """Revisions and tags, one line a namespace, then the gates; every line fits 80 columns."""
    lines: list[str] = []
    clusters = doc.get("clusters") or []
    multi = len(clusters) > 1
    for c in clusters:
        lines.append(_fit(f"Cluster  {c['name']}  {c.get('server') or ''}", WIDTH))
    up = doc.get("upgrade") or {}
    source, target = up.get("source"), up.get("target")
    if source and target:
        lines.append(_fit(f"Upgrade  {source} -> {target}   phase: {up.get('phase') or '-'}", WIDTH))
    else:
        lines.append(
            "Upgrade  no source/target: the mesh does not have exactly two revisions (use --source/--target)"[:WIDTH]
        )
    lines.append("")
    lines.append(
        _row(
            [
                ("REVISION", 14, "<"),
                ("VERSION", 9, "<"),
                ("READY", 5, "<"),
                ("DEFAULT", 7, "<"),
                ("TAGS", 18, "<"),
                ("ISTIOD", 22, "<"),
            ]
        )
    )
    for r in doc.get("revisions") or []:
        name = f"{r['cluster']}/{r['name']}" if multi else r["name"]
        istiod = r.get("istiod") or ("external" if r.get("managed") else "-")
        lines.append(
            _row(
                [
                    (name, 14, "<"),
                    (r.get("version"), 9, "<"),
                    ("yes" if r.get("ready") else "NO", 5, "<"),
                    ("yes" if r.get("default") else "", 7, "<"),
                    (", ".join(r.get("tags") or []), 18, "<"),
                    (istiod, 22, "<"),
                ]
            )
        )
    dangling = [t for t in doc.get("tags") or [] if t.get("dangling")]
    for t in dangling:
        lines.append(_fit(f"  ! tag {t['name']} points at {t['revision']}, which has no running istiod", WIDTH))
    lines.append("")
    src_h = "SRC" if source else "-"
    tgt_h = "TGT" if target else "-"
    if source and target:
        lines.append(_fit(f"SRC = live pods on {source}, TGT = on {target}, NONE = no sidecar, RISK = at risk", WIDTH))
    lines.append(
        _row(
            [
                ("NAMESPACE", 18, "<"),
                ("INJECTION", 22, "<"),
                ("REVISION", 9, "<"),
                ("LIVE", 5, ">"),
                (src_h, 5, ">"),
                (tgt_h, 5, ">"),
                ("NONE", 4, ">"),
                ("RISK", 4, ">"),
            ]
        )
    )
    for ns in doc.get("namespaces") or []:
        inj = ns.get("injection")
        label = f"{inj['label']}={inj['value']}" if inj else ""
        if ns.get("label_conflict"):
            label = "CONFLICT " + label
        pods = ns.get("pods") or {}
        by_rev = pods.get("by_revision") or {}
        name = f"{ns['cluster']}/{ns['name']}" if multi else ns["name"]
        lines.append(
            _row(
                [
                    (name, 18, "<"),
                    (label, 22, "<"),
                    (ns.get("revision"), 9, "<"),
                    (pods.get("live", 0), 5, ">"),
                    (by_rev.get(source, 0) if source else "", 5, ">"),
                    (by_rev.get(target, 0) if target else "", 5, ">"),
                    (pods.get("no_sidecar", 0), 4, ">"),
                    (pods.get("at_risk", 0), 4, ">"),
                ]
            )
        )
    at_risk = [p for p in doc.get("pods") or [] if p.get("at_risk")]
    if at_risk:
        lines.append("")
        lines.append(f"AT RISK ({len(at_risk)} pods)")
        for p in at_risk[:10]:
            lines.append(_fit(f"  {p['namespace']}/{p['name']}: {p.get('reason') or ''}", WIDTH))
        if len(at_risk) > 10:
            lines.append(f"  … and {len(at_risk) - 10} more (meshtui status --json lists them all)")
    gateways = doc.get("gateways") or []
    if gateways:
        lines.append("")
        lines.append(_row([("GATEWAY", 30, "<"), ("KIND", 16, "<"), ("REVISION", 14, "<"), ("ON RESTART", 14, "<")]))
        for g in gateways:
            lines.append(
                _row(
                    [
                        (f"{g['namespace']}/{g['name']}", 30, "<"),
                        (g.get("kind"), 16, "<"),
                        (g.get("revision"), 14, "<"),
                        (g.get("revision_on_restart"), 14, "<"),
                    ]
                )
            )
    components = doc.get("data_plane_components") or []
    if components:
        lines.append("")
        header = [("NODE AGENT", 30, "<"), ("KIND", 9, "<"), ("VERSION", 9, "<"), ("ISTIOD", 14, "<")]
        lines.append(_row([*header, ("NODES", 12, "<")]))
        for c in components:
            nodes = c.get("nodes") or {}
            updated = nodes.get("updated") if nodes.get("updated") is not None else "?"
            progress = f"{updated}/{nodes.get('desired') if nodes.get('desired') is not None else '?'}"
            name = f"{c['cluster']}/{c['namespace']}/{c['name']}" if multi else f"{c['namespace']}/{c['name']}"
            lines.append(
                _row(
                    [
                        (name, 30, "<"),
                        (c.get("kind"), 9, "<"),
                        (c.get("version"), 9, "<"),
                        (c.get("revision"), 14, "<"),
                        (progress + (" rolling" if c.get("rolling") else ""), 12, "<"),
                    ]
                )
            )
    lines.append("")
    lines.append("GATES")
    actions = up.get("actions") or {}
    for key, title in (("upgrade", "Upgrade"), ("rollback", "Rollback"), ("finish", "Finish")):
        verdict = actions.get(key) or {}
        state = "enabled" if verdict.get("enabled") else "blocked"
        lines.append(f"  {title:<9} {state}")
        for reason in verdict.get("reasons") or []:
            lines.append(_fit(f"    - {reason}", WIDTH))
    for p in doc.get("problems") or []:
        lines.append(_fit(f"! {p.get('message')}", WIDTH))
    return "\n".join(line[:WIDTH] for line in lines) + "\n"
