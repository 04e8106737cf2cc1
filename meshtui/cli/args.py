"""Command-line arguments shared by several subcommands."""

from __future__ import annotations

import argparse


def from_file_arg(p: argparse.ArgumentParser) -> None:
    """`--from-file PATH` (repeatable): read dumps instead of a live cluster."""
    p.add_argument(
        "--from-file",
        metavar="PATH",
        action="append",
        default=[],
        help="analyse YAML/JSON dumps (files or folders) instead of a live cluster; repeatable",
    )


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not (0 < value <= 3600):  # also refuses nan and inf
        raise argparse.ArgumentTypeError(f"{text!r} must be more than 0 and at most 3600 seconds")
    return value


def connection_args(p: argparse.ArgumentParser) -> None:
    """How to talk to the API servers: `--request-timeout SECONDS` and `--disable-compression` (as kubectl)."""
    p.add_argument(
        "--request-timeout",
        metavar="SECONDS",
        type=_seconds,
        help="seconds to wait for each answer of an API server before giving up on it (default: 30)",
    )
    p.add_argument(
        "--disable-compression",
        action="store_true",
        help="do not ask API servers for gzip-compressed answers (also per cluster: disable-compression: true)",
    )


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
