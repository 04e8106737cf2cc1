"""`meshtui status`: one read of the mesh, printed as 80-column text or as the JSON contract."""

from __future__ import annotations

import argparse
import sys

import orjson

from meshtui.cli import exitcodes
from meshtui.cli.status_text import render_status
from meshtui.cluster.errors import ClusterError
from meshtui.cluster.live import Problem
from meshtui.domain.inventory import Inventory
from meshtui.domain.report import status_document


def load_inventory(args: argparse.Namespace) -> tuple[Inventory, list[Problem]]:
    """Fill an inventory from --from-file dumps, or from one read of every --context."""
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
        for kind in sorted(dumps.objects, key=lambda k: order.index(k) if k in order else len(order)):
            models = []
            for raw in dumps.objects[kind]:
                try:
                    model = parse_object(name, raw, kind)
                except Exception as exc:
                    meta = raw.get("metadata") if isinstance(raw.get("metadata"), dict) else {}
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
            inventory.replace(name, kind, models)
        return inventory, problems
    from meshtui.cluster.kubeconfig import connect
    from meshtui.cluster.oneshot import load_once

    targets = connect(args.kubeconfig, args.context or None)
    for t in targets:
        inventory.add_cluster(t.name, t.server)
    try:
        problems = load_once(targets, inventory)
    finally:
        for t in targets:
            t.api_client.close()
    return inventory, problems


def run(args: argparse.Namespace) -> int:
    """Print the status; exit 0, or the documented code of the failure."""
    try:
        inventory, problems = load_inventory(args)
    except ClusterError as exc:
        print(f"meshtui status: {exc.message}", file=sys.stderr)
        return exc.exit_code
    view = inventory.view(args.source, args.target)
    doc = status_document(view, all_pods=args.all_pods)
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
        sys.stdout.buffer.write(orjson.dumps(doc, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n")
    else:
        sys.stdout.write(render_status(doc))
    sys.stdout.flush()
    return exitcodes.OK
