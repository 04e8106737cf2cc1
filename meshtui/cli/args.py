"""Command-line arguments shared by several subcommands, and the rules that make them mean one thing.

Global options (`--kubeconfig`, `--context`, `--source`, `--target`, `--read-only`, ...) are accepted both
before and after the subcommand. argparse copies a subcommand's defaults over the values given before it,
so the copies after the subcommand are stored under their own names and merged by `resolve_positions`:
`--context` accumulates from both places, a flag is on when given in either, and a value given in both
places with two different values is a usage error (exit 2) rather than a silent choice.
"""

from __future__ import annotations

import argparse
import math
from dataclasses import dataclass, field
from typing import Any, NoReturn

from meshtui.cli import exitcodes

#: The subcommands that talk to a cluster through a kubeconfig ("" is the dashboard: no subcommand).
CLUSTER_COMMANDS = frozenset({"", "status", "check", "plan", "upgrade"})
#: The subcommands that open the dashboard.
DASHBOARD_COMMANDS = frozenset({"", "demo"})
_AFTER = "__after_subcommand"


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose usage errors are one sentence on stderr and exit 2 (no usage dump).

    The top-level parser (`merges_positions`) also merges the global options given on both sides of the
    subcommand, so every caller of `parse_args` gets one meaning per option.
    """

    merges_positions = False

    def parse_known_args(  # type: ignore[override]
        self, args: Any = None, namespace: Any = None
    ) -> tuple[argparse.Namespace, list[str]]:
        parsed, extras = super().parse_known_args(args, namespace)
        if self.merges_positions:
            resolve_positions(self, parsed)
        return parsed, extras

    def error(self, message: str) -> NoReturn:
        text = message[:1].upper() + message[1:]
        text = text if text.endswith(".") else text + "."
        self.exit(exitcodes.USAGE, f"{self.prog}: {text} See `{self.prog} --help`.\n")


@dataclass(frozen=True)
class GlobalOption:
    """One option accepted before and after the subcommand, and the subcommands it applies to."""

    flag: str
    dest: str
    kind: str  # "value", "append" or "flag"
    applies: frozenset[str]
    kwargs: dict[str, Any] = field(default_factory=dict)


def _theme_choices() -> tuple[str, ...]:
    from meshtui.tui.settings import THEMES

    return tuple(THEMES)


GLOBAL_OPTIONS: tuple[GlobalOption, ...] = (
    GlobalOption(
        "--kubeconfig",
        "kubeconfig",
        "value",
        CLUSTER_COMMANDS,
        {"metavar": "FILE", "help": "kubeconfig file (default: $KUBECONFIG or ~/.kube/config)"},
    ),
    GlobalOption(
        "--context",
        "context",
        "append",
        CLUSTER_COMMANDS,
        {
            "metavar": "NAME",
            "help": "kubeconfig context; repeat for a mesh over several clusters (default: current context)",
        },
    ),
    GlobalOption(
        "--source",
        "source",
        "value",
        CLUSTER_COMMANDS,
        {"metavar": "REV", "help": "source revision (default: from the upgrade record, else detected)"},
    ),
    GlobalOption(
        "--target",
        "target",
        "value",
        CLUSTER_COMMANDS,
        {"metavar": "REV", "help": "target revision (default: from the upgrade record, else detected)"},
    ),
    GlobalOption(
        "--read-only",
        "read_only",
        "flag",
        CLUSTER_COMMANDS | {"demo"},
        {"help": "never write to the cluster: no change, no dry run, no SelfSubjectAccessReview"},
    ),
    GlobalOption(
        "--request-timeout",
        "request_timeout",
        "value",
        CLUSTER_COMMANDS,
        {
            "metavar": "SECONDS",
            "type": lambda text: request_timeout(text),
            "help": "seconds to wait for each answer of an API server before giving up on it (default: 30)",
        },
    ),
    GlobalOption(
        "--disable-compression",
        "disable_compression",
        "flag",
        CLUSTER_COMMANDS,
        {"help": "do not ask API servers for gzip-compressed answers (also per cluster: disable-compression: true)"},
    ),
    GlobalOption(
        "--namespace-filter",
        "namespace_filter",
        "value",
        DASHBOARD_COMMANDS,
        {"metavar": "TEXT", "help": "start the namespaces view filtered by TEXT"},
    ),
    GlobalOption(
        "--theme",
        "theme",
        "value",
        DASHBOARD_COMMANDS,
        {
            "choices": _theme_choices(),
            "help": "colours: ansi-dark uses the terminal's own 16 colours (default: $MESHTUI_THEME, else "
            "ansi-dark on 16-colour terminals, else textual-dark); NO_COLOR is always honoured",
        },
    ),
)


def add_global_options(p: argparse.ArgumentParser, command: str | None = None) -> None:
    """The global options: on the top parser (`command` None), or the copies after `command`."""
    for opt in GLOBAL_OPTIONS:
        if command is not None and command not in opt.applies:
            continue
        kwargs = dict(opt.kwargs)
        if opt.kind == "flag":
            kwargs["action"] = "store_true"
        elif opt.kind == "append":
            kwargs["action"] = "append"
        if command is None:
            kwargs["default"] = [] if opt.kind == "append" else (False if opt.kind == "flag" else None)
            p.add_argument(opt.flag, dest=opt.dest, **kwargs)
        else:
            p.add_argument(opt.flag, dest=opt.dest + _AFTER, default=argparse.SUPPRESS, **kwargs)


def resolve_positions(parser: argparse.ArgumentParser, args: argparse.Namespace) -> argparse.Namespace:
    """Merge each global option given before and after the subcommand; exit 2 on a conflict or a misplaced one."""
    command = args.command or ""
    for opt in GLOBAL_OPTIONS:
        before = getattr(args, opt.dest)
        given_before = before not in (None, False, [])
        if given_before and command not in opt.applies:
            parser.error(f"{opt.flag} does not apply to `meshtui {command}`")
        after_key = opt.dest + _AFTER
        if not hasattr(args, after_key):
            continue
        after = getattr(args, after_key)
        delattr(args, after_key)
        if opt.kind == "append":
            merged: Any = list(before) + list(after)
        elif opt.kind == "flag":
            merged = bool(before or after)
        else:
            if given_before and before != after:
                parser.error(
                    f"{opt.flag} is given twice with different values ({before!r} before `{command}`, {after!r} "
                    "after it); give it once"
                )
            merged = after
        setattr(args, opt.dest, merged)
    return args


def from_file_arg(p: argparse.ArgumentParser) -> None:
    """`--from-file PATH` (repeatable): read dumps instead of a live cluster."""
    p.add_argument(
        "--from-file",
        metavar="PATH",
        action="append",
        default=[],
        help="analyse YAML/JSON dumps (files or folders) instead of a live cluster; repeatable",
    )


# ---------------------------------------------------------------------------------------------- value types
# Each raises ArgumentTypeError with the sentence argparse prints, so a bad number never reaches a plan.


def positive_int(text: str) -> int:
    """An integer >= 1 (a batch size, a count)."""
    try:
        value = int(text, 10)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text} is not a whole number of at least 1")
    return value


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"{text} is not a finite number of seconds")
    return value


def non_negative_seconds(text: str) -> float:
    """A finite number of seconds >= 0 (a pause)."""
    value = _seconds(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text} seconds is negative")
    return value


def positive_seconds(text: str) -> float:
    """A finite number of seconds > 0 (a timeout)."""
    value = _seconds(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text} seconds is not more than 0")
    return value


def port_number(text: str) -> int:
    """A TCP port 0-65535 (0 picks a free one)."""
    try:
        value = int(text, 10)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"{text} is not a port number (0-65535, 0 picks a free one)")
    return value


def any_int(text: str) -> int:
    """A whole number (a seed)."""
    try:
        return int(text, 10)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None


def non_negative_rate(text: str) -> float:
    """A finite rate >= 0 (changes per second)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"{text} is not a finite number of at least 0")
    return value


def request_timeout(text: str) -> float:
    """A per-answer timeout: more than 0 and at most an hour (also refuses nan and inf)."""
    value = positive_seconds(text)
    if value > 3600:
        raise argparse.ArgumentTypeError(f"{text} seconds is more than an hour")
    return value


def apply_connection_args(args: argparse.Namespace) -> None:
    """Make the connection options the defaults of every API client this process creates."""
    from meshtui.cluster.rawapi import ClientOptions, set_default_options

    defaults = ClientOptions()
    timeout = getattr(args, "request_timeout", None)
    set_default_options(
        ClientOptions(
            read_timeout_s=timeout if timeout is not None else defaults.read_timeout_s,
            compression=not getattr(args, "disable_compression", False),
        )
    )
