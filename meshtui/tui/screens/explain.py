"""Why a pod (or a namespace) gets the revision it gets: the chain of labels, tag and webhook."""

from __future__ import annotations

from rich.text import Text

from meshtui.domain.namespaces import NamespaceRow
from meshtui.domain.pods import PodRow
from meshtui.tui.rows import RISK_STYLE
from meshtui.tui.screens.dialog import Dialog


def pod_explanation(row: PodRow) -> Text:
    """The pod's revisions now and on restart, the decision chain step by step, risk and restartability."""
    text = Text()
    now = row.revision or ("unknown" if row.has_sidecar else "no sidecar")
    text.append("Now: ", style="bold")
    text.append(now)
    if row.has_sidecar:
        text.append(f" (proxy {row.proxy_version or 'unknown'}")
        if row.pod.revision_source:
            text.append(f", from {row.pod.revision_source}")
        text.append(")")
    text.append("\nOn restart: ", style="bold")
    text.append(row.revision_on_restart or "no sidecar")
    text.append(f"\nDecided from {row.workload_kind or 'the pod'} {row.workload_name or ''}:\n".replace("  ", " "))
    for step in row.injection.steps or (row.injection.cause,):
        text.append(f"  {step}\n")
    if row.injection.overlaps:
        text.append(f"  several webhooks matched: {', '.join(row.injection.overlaps)}\n", style=RISK_STYLE)
    if row.at_risk and row.reason:
        text.append(f"At risk: {row.reason}\n", style=RISK_STYLE)
    if row.restartable:
        text.append("meshtui can restart it (r restarts the selected namespaces).")
    elif row.restart_blocker:
        text.append(f"meshtui cannot restart it: {row.restart_blocker}")
    text.append(f"\n\nIn one line: {row.explain()}", style="dim")
    return text


def namespace_explanation(row: NamespaceRow) -> Text:
    """What the namespace's labels ask for and the revision they resolve to."""
    inj = row.injection
    text = Text()
    text.append("Label: ", style="bold")
    text.append(f"{inj.label}={inj.value}" if inj.label else "none (pods decide with their own labels)")
    text.append("\nResolves to: ", style="bold")
    text.append(inj.revision or ("nothing" if inj.asks else "no injection asked"))
    text.append("\n")
    for step in inj.steps:
        text.append(f"  {step}\n")
    if inj.conflict:
        text.append(
            "Both istio-injection and istio.io/rev are set: istio-injection wins (IST0123).\n", style=RISK_STYLE
        )
    if inj.problem:
        text.append(f"{inj.problem}\n", style=RISK_STYLE)
    text.append("Open its pods (enter) and press e on a pod to see why that pod gets its revision.", style="dim")
    return text


class ExplainScreen(Dialog[None]):
    """The explanation of one pod or namespace."""

    def __init__(self, row: PodRow | NamespaceRow) -> None:
        if isinstance(row, PodRow):
            title = f"Why {row.namespace}/{row.name} gets {row.revision_on_restart or 'no sidecar'} on restart"
            body = pod_explanation(row)
        else:
            title = f"Namespace {row.name}: what its labels ask for"
            body = namespace_explanation(row)
        super().__init__(title, body, "esc close")
