"""The command line speaks the dashboard's vocabulary: every step and flag is documented, old names still work."""

from __future__ import annotations

import argparse
import subprocess
import sys

import pytest

from meshtui.cli.main import build_parser
from meshtui.cli.upgrade_cmd import STEPS


def _parsers(parser: argparse.ArgumentParser, path: str = "meshtui") -> list[tuple[str, argparse.ArgumentParser]]:
    out = [(path, parser)]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            seen: set[int] = set()
            for name, sub in action.choices.items():
                if id(sub) not in seen:
                    seen.add(id(sub))
                    out += _parsers(sub, f"{path} {name}")
    return out


def test_every_flag_and_argument_has_help_text() -> None:
    missing = [
        f"{path} {action.option_strings or action.dest}"
        for path, parser in _parsers(build_parser())
        for action in parser._actions
        if not isinstance(action, argparse._SubParsersAction | argparse._HelpAction | argparse._VersionAction)
        and not action.help
    ]
    assert missing == []


def test_top_level_help_names_every_upgrade_step() -> None:
    text = " ".join(build_parser().format_help().split())
    for step in STEPS:
        assert step in text, step


@pytest.mark.parametrize(("typed", "runs"), [("install", "deploy"), ("rollback", "cancel"), ("deploy", "deploy")])
def test_old_step_names_are_aliases_of_the_new_ones(typed: str, runs: str) -> None:
    extra = ["--external"] if runs == "deploy" else []
    args = build_parser().parse_args(["upgrade", typed, *extra])
    assert args.step == runs
    assert runs in STEPS


def test_plan_without_arguments_asks_only_for_the_action() -> None:
    done = subprocess.run([sys.executable, "-m", "meshtui", "plan"], capture_output=True, text=True, check=False)
    assert done.returncode == 2
    assert "required: ACTION" in done.stderr
    assert "NAMESPACE" not in done.stderr.splitlines()[-1]


@pytest.mark.parametrize("argv", [["plan", "promote"], ["plan", "finish", "--choice", "keep"]])
def test_an_unknown_action_is_answered_with_the_action_names(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(argv)
    err = capsys.readouterr().err
    assert "'upgrade', 'rollback'" in err and "ActionId" not in err, err
