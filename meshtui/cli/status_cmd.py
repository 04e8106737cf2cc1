"""`meshtui status`: one read of the mesh, printed as 80-column text or as the JSON contract."""

from __future__ import annotations

import argparse
import shutil
import sys
from collections.abc import Iterable
from typing import Any, BinaryIO

import orjson

from meshtui.cli import exitcodes
from meshtui.cli.status_text import render_status
from meshtui.cluster.errors import ClusterError, ConfigError
from meshtui.cluster.kubeconfig import ClusterTarget
from meshtui.cluster.live import Problem
from meshtui.domain.inventory import Inventory
from meshtui.domain.report import pod_entries, status_document
from meshtui.domain.text import inert_json
from meshtui.engine.precheck import pair_problem
from meshtui.engine.record import RecordError, UpgradeRecord


def load_inventory(args: argparse.Namespace) -> tuple[Inventory, list[Problem]]:
    """Fill an inventory from --from-file dumps, or from one read of every --context."""
    inventory, problems, _ = load_mesh(args)
    return inventory, problems


def load_mesh(args: argparse.Namespace) -> tuple[Inventory, list[Problem], UpgradeRecord | None]:
    """The inventory, the objects skipped as malformed, and the upgrade record when one exists."""
    inventory = Inventory()
    if args.from_file:
        from meshtui.cluster.dumps import load_dumps
        from meshtui.domain.objects import parse_object

        dumps = load_dumps(args.from_file)
        name = args.context[0] if args.context else "from-file"
        inventory.add_cluster(name, ", ".join(args.from_file))
        problems = [Problem(name, "file", "", "", p) for p in dumps.problems]
        order = [
            "Namespace",
            "MutatingWebhookConfiguration",
            "ValidatingWebhookConfiguration",
            "ConfigMap",
            "Service",
            "Deployment",
            "StatefulSet",
            "DaemonSet",
            "ReplicaSet",
            "Job",
            "CronJob",
            "PodDisruptionBudget",
            "Gateway",
            "Rollout",
            "Pod",
        ]
        read = 0
        for kind in sorted(dumps.objects, key=lambda k: order.index(k) if k in order else len(order)):
            models = []
            for raw in dumps.objects[kind]:
                try:
                    model = parse_object(name, raw, kind)
                except Exception as exc:
                    meta: dict[str, Any] = raw["metadata"] if isinstance(raw.get("metadata"), dict) else {}
                    problems.append(
                        Problem(
                            name,
                            kind,
                            str(meta.get("namespace") or ""),
                            str(meta.get("name") or "?"),
                            str(exc),
                        )
                    )
                    continue
                if model is not None:
                    models.append(model)
            read += len(models)
            inventory.replace(name, kind, models)
        if not read:
            # An empty mesh would read as "nothing to upgrade" to a pipeline: that is not what the files say.
            first = f" (first: {dumps.problems[0]})" if dumps.problems else ""
            raise ConfigError(
                f"{', '.join(args.from_file)} holds no Kubernetes object meshtui reads{first}; pass the output of "
                "`kubectl get namespaces,pods,deployments,mutatingwebhookconfigurations -A -o yaml`."
            )
        return inventory, problems, None
    from meshtui.cluster.kubeconfig import connect
    from meshtui.cluster.oneshot import load_once
    from meshtui.cluster.probe import probe

    # status and check only read: a read-only connection makes that a guarantee.
    targets = connect(args.kubeconfig, args.context or None, read_only=True)
    for t in targets:
        inventory.add_cluster(t.name, t.server)
    try:
        probe(targets)  # an unreachable cluster is one sentence within seconds, before any list
        problems = load_once(targets, inventory)
        record = _read_record(targets, inventory)
    finally:
        for t in targets:
            t.close()
    return inventory, problems, record


def _read_record(targets: list[ClusterTarget], inventory: Inventory) -> UpgradeRecord | None:
    """The upgrade record in the first cluster's control-plane namespace (it decides phase and pair)."""
    from meshtui.cluster.rawapi import RawApi
    from meshtui.engine.controlplanes import ISTIO_NAMESPACE
    from meshtui.engine.recordstore import RecordStore

    first = targets[0]
    plane = inventory.view().control_plane(first.name)
    namespaces = [ISTIO_NAMESPACE] + [r.istiod.split("/", 1)[0] for r in (plane.revisions if plane else ()) if r.istiod]
    api = RawApi(first.api_client, first.name)
    for ns in dict.fromkeys(namespaces):
        record = RecordStore(api, ns).read()
        if record is not None:
            return record
    return None


def run(args: argparse.Namespace) -> int:
    """Print the status; exit 0, or the documented code of the failure."""
    try:
        inventory, problems, record = load_mesh(args)
    except ClusterError as exc:
        print(f"meshtui status: {exc.message}", file=sys.stderr)
        return exc.exit_code
    except RecordError as exc:
        print(f"meshtui status: {exc}", file=sys.stderr)
        return exitcodes.USAGE
    wrong = pair_problem((r.name for r in inventory.view().revisions), args.source, args.target)
    if wrong:
        print(f"meshtui status: {wrong}", file=sys.stderr)
        return exitcodes.USAGE
    from meshtui.engine.phase import DONE_PHASES, observed_phase

    source, target = args.source, args.target
    if record is not None and record.phase in DONE_PHASES and (source or target):
        record = None  # a finished upgrade is history: the flags name the next one (as `upgrade status` does)
    chosen, shown = None, False
    if record is not None:
        source, target = source or record.source, target or record.target
        chosen, shown = record.finish_choice, record.offline_plan_shown
    view = inventory.view(source, target, chosen, shown)
    # One rule for the phase, the one `meshtui upgrade status` and the dashboard use (engine/phase.py).
    phase = observed_phase(record, view, view.gates, view.target) if record is not None else None
    # Offline dumps carry no record: whether an upgrade was started is then unknown, not "no".
    started = None if getattr(args, "from_file", None) else record is not None
    # As JSON the pods are written as they are made: at 50,000 pods their entries and their text would
    # each take about as much memory as the models they come from.
    doc = status_document(view, phase=phase, all_pods=args.all_pods, started=started, with_pods=not args.json)
    if problems:
        doc["problems_skipped"] = [
            {
                "cluster": p.cluster,
                "kind": p.kind,
                "namespace": p.namespace,
                "name": p.name,
                "message": p.message,
            }
            for p in problems
        ]
    for p in problems:
        where = f"{p.kind} {p.namespace + '/' if p.namespace else ''}{p.name}".strip()
        print(f"meshtui status: skipped {where}: {p.message}", file=sys.stderr)
    if args.json:
        write_json(sys.stdout.buffer, doc, pod_entries(view, args.all_pods))
    else:
        # Cut names only for a terminal narrower than a table; a pipe or a file gets every name whole.
        width = shutil.get_terminal_size().columns if sys.stdout.isatty() else None
        sys.stdout.write(render_status(doc, width))
    sys.stdout.flush()
    return exitcodes.OK


_JSON_OPTIONS = orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS
#: Where the (empty) pods list sits in the document: the only top-level key indented by two spaces.
_PODS_AT = b'\n  "pods": []'
_PODS_CHUNK = 1000


def write_json(out: BinaryIO, doc: dict[str, Any], pods: Iterable[dict[str, Any]]) -> None:
    """`doc` (whose `pods` is empty) with `pods` in it, written a thousand entries at a time, in the very bytes
    that dumping the whole document at once (indented, keys sorted) gives, followed by a newline."""
    head = orjson.dumps(doc, option=_JSON_OPTIONS)
    at = head.index(_PODS_AT) + len(_PODS_AT) - 1  # at the list's closing bracket
    out.write(inert_json(head[: at - 1]))
    chunk: list[bytes] = []
    first = True
    for entry in pods:
        # An entry one level deeper: four more spaces after each of its line breaks (strings hold none).
        chunk.append(orjson.dumps(entry, option=_JSON_OPTIONS).replace(b"\n", b"\n    "))
        if len(chunk) == _PODS_CHUNK:
            out.write(inert_json((b"[\n    " if first else b",\n    ") + b",\n    ".join(chunk)))
            chunk, first = [], False
    if chunk:
        out.write(inert_json((b"[\n    " if first else b",\n    ") + b",\n    ".join(chunk)))
        first = False
    out.write(b"[]" if first else b"\n  ]")
    out.write(inert_json(head[at + 1 :]))
    out.write(b"\n")
