"""`meshtui check`: the pre-upgrade report (skew, jump, labels, risks, PDBs, restartability, dangling webhooks).

Exit 0 when nothing is an error (warnings are printed), 1 when something is: a dangling webhook, a
proxy newer than its istiod, an unsupported jump. Works on live clusters and on `--from-file` dumps.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any

import orjson

from meshtui.cli import exitcodes
from meshtui.cli.args import from_file_arg
from meshtui.domain.text import inert_json


def add_parser(sub: Any, cluster_args: Callable[[argparse.ArgumentParser], None]) -> None:
    """Register `meshtui check`."""
    p = sub.add_parser(
        "check",
        help="print the pre-upgrade report",
        epilog=exitcodes.DOC,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    cluster_args(p)
    p.add_argument("--json", action="store_true", help="print the findings as JSON")
    from_file_arg(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Print the report; 1 when any finding is an error."""
    from meshtui.cli.status_cmd import load_inventory
    from meshtui.cluster.errors import ClusterError
    from meshtui.domain.ambient_checks import ambient_findings
    from meshtui.engine.precheck import ERROR, Finding, pair_problem, precheck

    try:
        inventory, problems = load_inventory(args)
    except ClusterError as exc:
        print(f"meshtui check: {exc.message}", file=sys.stderr)
        return exc.exit_code
    from meshtui.engine.phase import choose_pair

    first = inventory.view(args.source, args.target)
    wrong = pair_problem((r.name for r in first.revisions), args.source, args.target)
    if wrong:
        print(f"meshtui check: {wrong}", file=sys.stderr)
        return exitcodes.USAGE
    source, target, _ = choose_pair(None, args.source, args.target, first.revisions)
    view = inventory.view(source, target) if source and target else first
    findings = precheck(view, inventory.snapshot(), source=source, target=target)
    findings += [Finding(f.severity, f.code, f.message, f.offenders, f.count) for f in ambient_findings(view, target)]
    order = {ERROR: 0, "warning": 1}
    findings.sort(key=lambda f: order.get(f.severity, 2))
    for p in problems:
        where = f"{p.kind} {p.namespace + '/' if p.namespace else ''}{p.name}".strip()
        print(f"meshtui check: skipped {where}: {p.message}", file=sys.stderr)
    if args.json:
        doc = [
            {
                "severity": f.severity,
                "code": f.code,
                "message": f.message,
                "count": f.count,
                "offenders": list(f.offenders),
            }
            for f in findings
        ]
        sys.stdout.buffer.write(inert_json(orjson.dumps(doc, option=orjson.OPT_INDENT_2)) + b"\n")
    else:
        for f in findings:
            print(f"{f.severity.upper():<8} {f.message}")
            for o in f.offenders:
                print(f"         - {o}")
        errors = sum(1 for f in findings if f.severity == ERROR)
        warnings = sum(1 for f in findings if f.severity == "warning")
        words = ("error" if errors == 1 else "errors", "warning" if warnings == 1 else "warnings")
        print(f"\n{errors} {words[0]}, {warnings} {words[1]}.")
    sys.stdout.flush()
    return exitcodes.REFUSED if any(f.severity == ERROR for f in findings) else exitcodes.OK
