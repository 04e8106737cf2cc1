"""The human form of `meshtui status`: the JSON document rendered as text tables.

Names are cut only to fit a terminal narrower than a table; written to a pipe or a file, every cell is
whole (the tables then grow as wide as their longest cell).
"""

from __future__ import annotations

from typing import Any

#: Each table's column widths when it must fit 80 columns.
WIDTH = 80

Spec = list[tuple[str, int, str]]  # (header, width at 80 columns, align)


def _text(value: Any) -> str:
    return "-" if value is None or value == "" else str(value)


def _fit(text: Any, width: int | None) -> str:
    s = _text(text)
    return s if width is None or len(s) <= width else s[: width - 1] + "…"


def _table(spec: Spec, rows: list[list[Any]], width: int | None) -> list[str]:
    """Header and rows; natural widths unless a terminal of `width` columns is narrower than them."""
    natural = [max([len(h), *(len(_text(r[i])) for r in rows)]) for i, (h, _, _) in enumerate(spec)]
    total = sum(natural) + len(spec) - 1
    widths = natural if width is None or total <= width else [w for _, w, _ in spec]
    out = []
    for cells in [[h for h, _, _ in spec], *rows]:
        parts = []
        for value, w, (_, _, align) in zip(cells, widths, spec, strict=True):
            text = _fit(value, w) if value != "" else ""
            parts.append(text.rjust(w) if align == ">" else text.ljust(w))
        out.append(" ".join(parts).rstrip())
    return out


def render_status(doc: dict[str, Any], width: int | None = None) -> str:
    """Revisions and tags, one line a namespace, then the gates.

    `width` is the terminal's, when printing to one: a table wider than it has its cells cut (with …);
    None (a pipe or a file) cuts nothing.
    """
    lines: list[str] = []
    clusters = doc.get("clusters") or []
    multi = len(clusters) > 1
    for c in clusters:
        lines.append(f"Cluster  {c['name']}  {c.get('server') or ''}".rstrip())
    up = doc.get("upgrade") or {}
    source, target = up.get("source"), up.get("target")
    if source and target:
        lines.append(f"Upgrade  {source} -> {target}   phase: {up.get('phase') or '-'}")
    else:
        lines.append("Upgrade  no source/target: the mesh does not have exactly two revisions (use --source/--target)")
    lines.append("")
    spec: Spec = [
        ("REVISION", 14, "<"),
        ("VERSION", 9, "<"),
        ("READY", 5, "<"),
        ("DEFAULT", 7, "<"),
        ("TAGS", 18, "<"),
        ("ISTIOD", 22, "<"),
    ]
    rows: list[list[Any]] = []
    for r in doc.get("revisions") or []:
        rows.append(
            [
                f"{r['cluster']}/{r['name']}" if multi else r["name"],
                r.get("version"),
                "yes" if r.get("ready") else "NO",
                "yes" if r.get("default") else "",
                ", ".join(r.get("tags") or []),
                r.get("istiod") or ("external" if r.get("managed") else "-"),
            ]
        )
    lines += _table(spec, rows, width)
    for t in doc.get("tags") or []:
        if t.get("dangling"):
            lines.append(f"  ! tag {t['name']} points at {t['revision']}, which has no running istiod")
    lines.append("")
    if source and target:
        lines.append(f"SRC = live pods on {source}, TGT = on {target}, NONE = no sidecar, RISK = at risk")
    spec = [
        ("NAMESPACE", 18, "<"),
        ("INJECTION", 22, "<"),
        ("REVISION", 9, "<"),
        ("LIVE", 5, ">"),
        ("SRC" if source else "-", 5, ">"),
        ("TGT" if target else "-", 5, ">"),
        ("NONE", 4, ">"),
        ("RISK", 4, ">"),
    ]
    rows = []
    for ns in doc.get("namespaces") or []:
        inj = ns.get("injection")
        label = f"{inj['label']}={inj['value']}" if inj else "-"
        if ns.get("label_conflict"):
            label = "CONFLICT " + label
        pods = ns.get("pods") or {}
        by_rev = pods.get("by_revision") or {}
        rows.append(
            [
                f"{ns['cluster']}/{ns['name']}" if multi else ns["name"],
                label,
                ns.get("revision"),
                pods.get("live", 0),
                by_rev.get(source, 0) if source else "",
                by_rev.get(target, 0) if target else "",
                pods.get("no_sidecar", 0),
                pods.get("at_risk", 0),
            ]
        )
    lines += _table(spec, rows, width)
    at_risk = [p for p in doc.get("pods") or [] if p.get("at_risk")]
    if at_risk:
        lines.append("")
        lines.append(f"AT RISK ({len(at_risk):,} {'pod' if len(at_risk) == 1 else 'pods'})")
        for p in at_risk[:10]:
            lines.append(f"  {p['namespace']}/{p['name']}: {p.get('reason') or ''}")
        if len(at_risk) > 10:
            lines.append(f"  … and {len(at_risk) - 10:,} more (meshtui status --json lists them all)")
    gateways = doc.get("gateways") or []
    if gateways:
        lines.append("")
        spec = [("GATEWAY", 30, "<"), ("KIND", 16, "<"), ("REVISION", 14, "<"), ("ON RESTART", 14, "<")]
        rows = [
            [f"{g['namespace']}/{g['name']}", g.get("kind"), g.get("revision"), g.get("revision_on_restart")]
            for g in gateways
        ]
        lines += _table(spec, rows, width)
    components = doc.get("data_plane_components") or []
    if components:
        lines.append("")
        spec = [("NODE AGENT", 30, "<"), ("KIND", 9, "<"), ("VERSION", 9, "<"), ("ISTIOD", 14, "<"), ("NODES", 12, "<")]
        rows = []
        for c in components:
            nodes = c.get("nodes") or {}
            updated = nodes.get("updated") if nodes.get("updated") is not None else "?"
            progress = f"{updated}/{nodes.get('desired') if nodes.get('desired') is not None else '?'}"
            name = f"{c['cluster']}/{c['namespace']}/{c['name']}" if multi else f"{c['namespace']}/{c['name']}"
            rows.append(
                [
                    name,
                    c.get("kind"),
                    c.get("version"),
                    c.get("revision"),
                    progress + (" rolling" if c.get("rolling") else ""),
                ]
            )
        lines += _table(spec, rows, width)
    lines.append("")
    lines.append("GATES")
    actions = up.get("actions") or {}
    for key, title in (("upgrade", "Upgrade"), ("rollback", "Rollback"), ("finish", "Finish")):
        verdict = actions.get(key) or {}
        state = "enabled" if verdict.get("enabled") else "blocked"
        lines.append(f"  {title:<9} {state}")
        for reason in verdict.get("reasons") or []:
            lines.append(f"    - {reason}")
    for p in doc.get("problems") or []:
        lines.append(f"! {p.get('message')}")
    return "\n".join(lines) + "\n"
