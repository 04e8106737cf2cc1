"""The Control plane tab: revisions, tags, the default revision, istiod readiness, webhooks, the ambient
node agents (ztunnel, istio-cni: the istiod each uses, node by node) and skew."""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.padding import Padding
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll

from meshtui.domain.inventory import InventoryView
from meshtui.domain.revisions import ControlPlane
from meshtui.tui.inert import InertStatic
from meshtui.tui.rows import GOOD_STYLE, RISK_STYLE, WARN_STYLE


def render_control_plane(cp: ControlPlane, source: str | None, target: str | None, multi: bool) -> RenderableType:
    """One cluster's control plane as a few small tables."""
    parts: list[RenderableType] = []
    if multi:
        parts.append(Text(f"Cluster {cp.cluster}", style="bold underline"))
    parts.append(Text("Revisions", style="bold"))
    for r in sorted(cp.revisions, key=lambda r: r.name):
        role = "source" if r.name == source else "target" if r.name == target else "other"
        if r.is_default:
            role += ", default"
        line = Text.assemble((f"  {r.name}", "bold"), f"  {role}  version {r.version or 'unknown'}  ")
        if r.ready:
            line.append(f"Ready {r.istiod_replicas or ''}".strip(), style=GOOD_STYLE)
        else:
            line.append(f"NOT Ready {r.istiod_replicas or ''}".strip(), style=RISK_STYLE)
        parts.append(line)
        istiod = "managed outside the cluster (its webhooks are the evidence)" if r.managed else r.istiod
        parts.append(
            Padding(
                Text(
                    f"istiod {istiod or '-'}; tags {', '.join(r.tags) or 'none'}; webhooks "
                    f"{', '.join(r.webhooks) or 'none'}; injects {r.proxy_image or 'unknown'}"
                ),
                (0, 0, 0, 4),
            )
        )
    if not cp.revisions:
        parts.append(Text("  no revision found: is Istio installed?", style=WARN_STYLE))
    parts.append(Text(""))

    # One tag a line, its webhooks under it: names are never cut, whatever the width.
    parts.append(Text("Tags", style="bold"))
    for tag in sorted(cp.tags, key=lambda t: t.name):
        line = Text.assemble(
            ("  ", ""), (tag.name, "bold"), " -> ", (tag.revision or "nothing", RISK_STYLE if tag.dangling else "")
        )
        if tag.problem:
            line.append(f"  ! {tag.problem}", style=RISK_STYLE)
        elif source and target and tag.revision == source:
            line.append(f"  still on the source {source}", style=WARN_STYLE)
        parts.append(line)
        parts.append(Padding(Text(f"webhooks {', '.join(tag.webhooks) or 'none'}"), (0, 0, 0, 4)))
    if not cp.tags:
        parts.append(Text("  no tags"))
    parts.append(Text(""))

    default = Text.assemble(("Default revision: ", "bold"), (cp.default_revision or "none", ""))
    if cp.default_webhook:
        default.append(f"  (webhook {cp.default_webhook})")
    if cp.validation_default:
        default.append(f"  validation: {cp.validation_default}")
    parts += [default, Text("")]
    for problem in cp.problems:
        parts.append(Text(f"! {problem.message}", style=RISK_STYLE))
    return Group(*parts)


def render_ambient(view: InventoryView) -> RenderableType | None:
    """The ambient node agents (ztunnel, istio-cni) with one line a node, None for a mesh without them."""
    if not view.components:
        return None
    multi = len(view.clusters) > 1
    keep = view.target
    parts: list[RenderableType] = [Text("Ambient node agents (upgraded in place, node by node)", style="bold")]
    for c in view.components:
        where = f"{c.cluster}/{c.ref}" if multi else c.ref
        on_keep = keep is not None and c.revision == keep and not c.rolling
        line = Text.assemble(
            (f"  {c.kind}", "bold"),
            f"  {where}  version {c.version or 'unknown'}  istiod ",
            (c.revision or c.configured or "unknown", GOOD_STYLE if on_keep else ""),
            f"  {c.progress} nodes updated",
        )
        if c.rolling:
            line.append("  rolling", style=WARN_STYLE)
        parts.append(line)
        # One node a line, never a fixed-width table: node and pod names are read whole at 80 columns.
        for p in c.pods:
            node = Text.assemble(f"    {p.node}  {p.pod}  version {p.version or 'unknown'}  ")
            node.append("ready" if p.ready else "NOT ready", style="" if p.ready else RISK_STYLE)
            node.append(
                "  current template" if p.current else "  older template", style="" if p.current else WARN_STYLE
            )
            parts.append(node)
        for problem in c.problems:
            parts.append(Text(f"  ! {problem}", style=RISK_STYLE))
    parts.append(Text(""))
    return Group(*parts)


def render_skew(view: InventoryView) -> RenderableType:
    """The skew warnings, or a line saying there are none."""
    if not view.skew:
        return Text("Version skew: none (every proxy is within one minor of its istiod, none newer).")
    lines: list[RenderableType] = [Text("Version skew", style="bold")]
    for w in view.skew:
        more = f" ({w.count} proxies: {', '.join(w.first_offenders)})" if w.count else ""
        lines.append(Text(f"! {w.message}{more}", style=WARN_STYLE))
    return Group(*lines)


class ControlPlaneView(VerticalScroll):
    """Revisions, tags and skew of every cluster; re-rendered only when the control plane changes."""

    DEFAULT_CSS = """
    ControlPlaneView { padding: 0 1; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._key: object = None
        self.body = InertStatic(Text("Waiting for the cluster…"))

    def compose(self) -> ComposeResult:
        yield self.body

    def show(self, view: InventoryView) -> None:
        """Render the view's control planes, skew and problems (skipped when they did not change)."""
        key = (view.control_planes, view.skew, view.problems, view.source, view.target, view.components)
        if key == self._key:
            return
        self._key = key
        multi = len(view.control_planes) > 1
        parts: list[RenderableType] = []
        if view.source and view.target:
            parts.append(Text.assemble(("Upgrade ", "bold"), (view.source, ""), (" -> ", ""), (view.target, "bold")))
        else:
            parts.append(
                Text(
                    "No source and target revision: the mesh needs exactly two revisions, or name them "
                    "with --source and --target.",
                    style=WARN_STYLE,
                )
            )
        parts.append(Text(""))
        for cp in view.control_planes:
            parts.append(render_control_plane(cp, view.source, view.target, multi))
        ambient = render_ambient(view)
        if ambient is not None:
            parts.append(ambient)
        parts.append(render_skew(view))
        if view.problems:
            parts.append(Text(""))
            parts.append(Text("Objects that could not be read", style="bold"))
            parts += [Text(f"! {p}", style=WARN_STYLE) for p in view.problems[:20]]
        self.body.update(Group(*parts))
