"""Table rows as the dashboard shows them: domain rows in, cell tuples out, plus the filter language.

Pure (no Textual): the refresh worker builds cells off the UI thread, and tests check them directly.
Every cell holding cluster data is a plain string or a (string, style) pair: a name or a message is
never read as markup.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from meshtui.domain.gateways import GatewayRow
from meshtui.domain.namespaces import NamespaceRow
from meshtui.domain.pods import PodRow
from meshtui.engine.api import JournalLine
from meshtui.tui.widgets.virtual_table import Cell, Column, Row, cell_plain

NONE = "none"
DASH = "-"
RISK_STYLE = "bold red"
WARN_STYLE = "yellow"
GOOD_STYLE = "green"
MUTED_STYLE = "dim"
#: Starts the reason of an at-risk pod, so it shows without colour and the `risk` filter finds it.
RISK_MARK = "! "

NsKey = tuple[str, str]  # (cluster, namespace)
PodKey = tuple[str, str, str]  # (cluster, namespace, name)
Predicate = Callable[[object, Row], bool]


@dataclass(frozen=True, slots=True)
class Revisions:
    """The upgrade pair the rows are rendered against."""

    source: str | None
    target: str | None
    #: The chosen direction: "rollback" makes `todo` mean "not on the source yet".
    goal: str | None = None

    @property
    def keep(self) -> str | None:
        """The revision the operator is moving to: the source when rolling back, else the target."""
        return self.source if self.goal == "rollback" else self.target

    @property
    def away(self) -> str | None:
        """The revision the operator is moving away from."""
        return self.target if self.goal == "rollback" else self.source


# ---------------------------------------------------------------------------------------------- namespaces

NAMESPACE_COLUMNS = (
    Column("name", "NAMESPACE", 14, flex=3, priority=100),
    Column("injection", "INJECTION", 18, flex=2, priority=65),
    Column("revision", "REVISION", 8, flex=1, priority=90),
    Column("live", "LIVE", 4, flex=1, align="right", priority=60),
    Column("source", "ON SRC", 6, flex=1, align="right", priority=80),
    Column("target", "ON TGT", 6, flex=1, align="right", priority=85),
    Column("no_sidecar", "NO SC", 5, flex=1, align="right", priority=50),
    Column("at_risk", "RISK", 4, flex=1, align="right", priority=70),
    Column("progress", "RESTART", 7, flex=1, align="right", priority=75),  # pods left to restart
)
CLUSTER_COLUMN = Column("cluster", "CLUSTER", 10, priority=95)
_NS = {c.key: i for i, c in enumerate(NAMESPACE_COLUMNS)}


def namespace_columns(multi_cluster: bool) -> tuple[Column, ...]:
    """The namespace table's columns; a CLUSTER column first when the mesh spans clusters."""
    return (CLUSTER_COLUMN, *NAMESPACE_COLUMNS) if multi_cluster else NAMESPACE_COLUMNS


def injection_text(row: NamespaceRow) -> str:
    """The label that governs injection, shortened: `rev=prod-stable`, `injection=enabled`."""
    inj = row.injection
    if inj.label is None:
        return DASH
    short = inj.label.replace("istio.io/", "").replace("istio-injection", "injection")
    text = f"{short}={inj.value}"
    return f"{text} +both" if inj.conflict else text


def restart_progress(pods: Sequence[PodRow]) -> tuple[int, int]:
    """(pods already running what their replacement would run, pods that get a sidecar on restart).

    Live pods that are not gateways' count when a restart would give them a sidecar; a pod without one
    that would stay without one (an opt-out) is not the restart's business, nor is an ambient pod that a
    restart would only push out of ambient (the restart skips it).
    """
    done = total = 0
    for pod in pods:
        if not pod.live or pod.gateway is not None or pod.revision_on_restart is None or pod.leaves_ambient:
            continue
        total += 1
        if pod.has_sidecar and pod.revision == pod.revision_on_restart:
            done += 1
    return done, total


#: A pod count not known yet: the cluster's pods are still being listed (never a 0 that reads as "none").
LOADING = "…"


def namespace_cells(
    row: NamespaceRow, revs: Revisions, multi_cluster: bool, pods: Sequence[PodRow] = (), *, pods_listed: bool = True
) -> Row:
    """One namespace row's cells; `pods` are its pod rows (for the restart progress).

    Until the cluster's pods have listed once (`pods_listed`), every count taken from pods reads `…`.
    """
    inj = row.injection
    if inj.revision is not None:
        revision: Cell = inj.revision
        if revs.target and inj.revision == revs.target:
            revision = (inj.revision, GOOD_STYLE)
    elif inj.asks:
        revision = (NONE, RISK_STYLE)
    else:
        revision = DASH
    on_source = row.by_revision.get(revs.source or "", 0) if revs.source else 0
    on_target = row.by_revision.get(revs.target or "", 0) if revs.target else 0
    done, total = restart_progress(pods)
    progress: Cell
    # Pods left to restart: "13/13" read as "restarted" where a restart would simply change nothing.
    if not total:
        progress = DASH
    elif done == total:
        progress = ("0 left", GOOD_STYLE)
    else:
        progress = (f"{total - done} left", WARN_STYLE)
    risk: Cell = (str(row.at_risk), RISK_STYLE) if row.at_risk else "0"
    counts: tuple[Cell, ...] = (str(row.live), str(on_source), str(on_target), str(row.no_sidecar), risk, progress)
    if not pods_listed:
        counts = ((LOADING, MUTED_STYLE),) * len(counts)
    cells: tuple[Cell, ...] = (row.name, injection_text(row), revision, *counts)
    return (row.cluster, *cells) if multi_cluster else cells


def namespace_filter(text: str, revs: Revisions, multi_cluster: bool) -> Predicate | None:
    """The namespace filter: words match any column; `rev:R`, `risk`, `todo` (not all on the revision the
    chosen direction keeps: the target, or the source once Rollback is the goal)."""
    offset = 1 if multi_cluster else 0

    def cell(row: Row, key: str) -> str:
        return cell_plain(row[_NS[key] + offset])

    def special(word: str) -> Callable[[Row], bool] | None:
        if word in ("risk", "at-risk"):
            return lambda row: cell(row, "at_risk") not in ("0", "")
        if word.startswith("rev:"):
            wanted = word[4:]
            return lambda row: cell(row, "revision") == wanted
        if word == "todo":
            keep = revs.keep or ""
            away = "target" if revs.goal == "rollback" else "source"

            def todo(row: Row) -> bool:
                revision = cell(row, "revision")
                left = cell(row, "progress")
                return (
                    (revision != DASH and revision != keep)
                    or (left not in (DASH, "0 left"))
                    or (cell(row, away) not in ("0", ""))
                )

            return todo
        return None

    return _compile(text, special)


# ---------------------------------------------------------------------------------------------- pods

POD_COLUMNS = (
    Column("namespace", "NAMESPACE", 12, priority=40),
    Column("name", "POD", 28, flex=2, priority=100),
    Column("workload", "WORKLOAD", 16, flex=1, priority=35),
    Column("status", "STATUS", 11, priority=80),
    Column("revision", "REV", 8, priority=90),
    Column("proxy", "PROXY", 7, priority=45),
    Column("on_restart", "ON RESTART", 10, priority=85),
    Column("restarts", "RST", 3, align="right", priority=30),
    Column("reason", "REASON", 16, flex=3, priority=60),
)
_POD = {c.key: i for i, c in enumerate(POD_COLUMNS)}
_KIND_SHORT = {
    "Deployment": "deploy",
    "StatefulSet": "sts",
    "DaemonSet": "ds",
    "ReplicaSet": "rs",
    "Job": "job",
    "CronJob": "cronjob",
    "Rollout": "rollout",
}


def pod_status(row: PodRow) -> Cell:
    """kubectl-like status: Terminating, the waiting reason, NotReady, or the phase."""
    pod = row.pod
    if pod.terminating:
        return ("Terminating", WARN_STYLE)
    if pod.waiting_reasons:
        return (pod.waiting_reasons[0], RISK_STYLE)
    if pod.phase == "Running" and not pod.ready:
        return ("NotReady", WARN_STYLE)
    return pod.phase or "Unknown"


def pod_cells(row: PodRow, revs: Revisions) -> Row:
    """One pod row's cells."""
    if row.has_sidecar:
        revision: Cell = row.revision or "unknown"
        if revs.target and row.revision == revs.target:
            revision = (row.revision, GOOD_STYLE)
    else:
        revision = DASH
    on_restart: Cell
    if row.revision_on_restart is None:
        on_restart = (NONE, RISK_STYLE) if row.has_sidecar else NONE
    elif revs.target and row.revision_on_restart == revs.target:
        on_restart = (row.revision_on_restart, GOOD_STYLE)
    else:
        on_restart = row.revision_on_restart
    if row.workload_kind:
        workload = f"{_KIND_SHORT.get(row.workload_kind, row.workload_kind.lower())}/{row.workload_name}"
    else:
        workload = "bare pod"
    reason: Cell = ""
    if row.at_risk and row.reason:
        reason = (f"{RISK_MARK}{row.reason}", RISK_STYLE)
    elif not row.live:
        reason = ("completed or failed: blocks nothing", MUTED_STYLE)
    elif not row.restartable and row.restart_blocker and row.has_sidecar:
        reason = (f"not restartable: {row.restart_blocker}", MUTED_STYLE)
    return (
        row.namespace,
        row.name,
        workload,
        pod_status(row),
        revision,
        row.proxy_version or DASH,
        on_restart,
        str(row.pod.restarts),
        reason,
    )


def pod_filter(
    text: str, namespaces: frozenset[NsKey] | None, keys: frozenset[PodKey] | None = None
) -> Predicate | None:
    """Pods of the chosen namespaces (None: all) or the chosen keys, matching the words of `text`."""

    def special(word: str) -> Callable[[Row], bool] | None:
        if word in ("risk", "at-risk"):
            return lambda row: cell_plain(row[_POD["reason"]]).startswith(RISK_MARK)
        if word.startswith("rev:"):
            wanted = word[4:]
            return lambda row: cell_plain(row[_POD["revision"]]) == wanted
        if word == "todo":
            return lambda row: cell_plain(row[_POD["revision"]]) not in (DASH, cell_plain(row[_POD["on_restart"]]))
        return None

    words = _compile(text, special)
    if namespaces is None and keys is None:
        return words

    def predicate(key: object, row: Row) -> bool:
        if keys is not None and key not in keys:
            return False
        if namespaces is not None and (key[0], key[1]) not in namespaces:  # type: ignore[index]
            return False
        return words is None or words(key, row)

    return predicate


# ---------------------------------------------------------------------------------------------- gateways

GATEWAY_COLUMNS = (
    Column("namespace", "NAMESPACE", 12, priority=60),
    Column("name", "GATEWAY", 18, flex=2, priority=100),
    Column("kind", "KIND", 16, priority=50),
    Column("revision", "REV", 8, priority=90),
    Column("on_restart", "ON RESTART", 10, priority=85),
    Column("pods", "PODS", 4, align="right", priority=40),
    Column("upgrade", "HOW IT IS UPGRADED", 20, flex=2, priority=70),
)


def gateway_cells(row: GatewayRow, revs: Revisions) -> Row:
    """One gateway row's cells."""
    revision: Cell = ", ".join(row.revisions) if len(row.revisions) > 1 else (row.revision or DASH)
    if revs.target and row.revisions == (revs.target,):
        revision = (revs.target, GOOD_STYLE)
    on_restart: Cell = row.revision_on_restart or NONE
    if revs.target and row.revision_on_restart == revs.target:
        on_restart = (revs.target, GOOD_STYLE)
    return (row.namespace, row.name, row.kind, revision, on_restart, str(row.pods), row.upgrade)


def gateway_filter(text: str) -> Predicate | None:
    """Gateways matching the words of `text` (`rev:R` matches the running revision)."""

    def special(word: str) -> Callable[[Row], bool] | None:
        if word.startswith("rev:"):
            wanted = word[4:]
            return lambda row: wanted in cell_plain(row[3]).split(", ")
        return None

    return _compile(text, special)


# ---------------------------------------------------------------------------------------------- journal

JOURNAL_COLUMNS = (
    Column("time", "TIME", 19, priority=90),
    Column("identity", "WHO", 14, priority=40),
    Column("cluster", "CLUSTER", 10, priority=30),
    Column("action", "ACTION", 12, priority=80),
    Column("result", "RESULT", 9, priority=85),
    Column("what", "WHAT", 24, flex=3, priority=100),
)


def journal_cells(line: JournalLine) -> Row:
    """One journal line's cells: the objects and the message in the WHAT column."""
    style = {
        "applied": GOOD_STYLE,
        "refused": RISK_STYLE,
        "failed": RISK_STYLE,
        "conflict": RISK_STYLE,
        "denied": RISK_STYLE,
    }.get(line.result)
    what = ", ".join(line.objects)
    if line.message:
        what = f"{what}: {line.message}" if what else line.message
    result: Cell = (line.result, style) if style else line.result
    return (line.time.replace("T", " ")[:19], line.identity, line.cluster, line.action, result, what)


def journal_filter(text: str) -> Predicate | None:
    """Journal lines matching the words of `text`."""
    return _compile(text, lambda word: None)


# ---------------------------------------------------------------------------------------------- filter language


def _compile(text: str, special: Callable[[str], Callable[[Row], bool] | None]) -> Predicate | None:
    """AND of the words: a special word (`rev:R`, `risk`...) or a case-insensitive substring of any cell.

    A leading `!` negates a word. Empty text gives None (no filter).
    """
    tests: list[tuple[bool, Callable[[Row], bool]]] = []
    for raw in text.split():
        negate = raw.startswith("!") and len(raw) > 1
        word = raw[1:] if negate else raw
        test = special(word.lower()) if not word.startswith("rev:") else special("rev:" + word[4:])
        if test is None:
            needle = word.lower()

            def test(row: Row, needle: str = needle) -> bool:
                return any(needle in cell_plain(c).lower() for c in row)

        tests.append((negate, test))
    if not tests:
        return None

    def predicate(_key: object, row: Row) -> bool:
        return all(test(row) != negate for negate, test in tests)

    return predicate


def plain(row: Sequence[Cell]) -> tuple[str, ...]:
    """The plain text of every cell (tests and the palette)."""
    return tuple(cell_plain(c) for c in row)
