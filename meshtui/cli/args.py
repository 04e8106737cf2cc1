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
