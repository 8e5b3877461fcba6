"""``musicgate --help`` reads as a manual: every (sub)command has a description and an example,
every option has help and shows its default, and the output is ``-o/--output`` everywhere.

The walk goes over :func:`musicgate.cli.build_parser`, so a new command or option without help
fails here.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from musicgate.cli import build_parser, main

OLD_OUTPUT_NAMES = {"--output-dir", "--dest", "--run-dir", "--png"}


def _subparsers(parser: argparse.ArgumentParser):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return action
    return None


def walk(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()):
    """(command path, parser) for the root and every sub-command below it."""
    yield path, parser
    sub = _subparsers(parser)
    if sub is not None:
        for name, child in sub.choices.items():
            yield from walk(child, path + (name,))


COMMANDS = [(" ".join(path), p) for path, p in walk(build_parser())]


def test_the_walk_finds_every_command():
    names = {name for name, _ in COMMANDS}
    assert {"info", "generate", "train", "gates", "demo", "speech predict", "speech gates", "data prepare",
            "bench memory", "bench polyphonic", "experiment retention", "experiment probe", "evaluate",
            "export"} <= names
    assert len(names) >= 28


@pytest.mark.parametrize("name,parser", COMMANDS, ids=[n or "musicgate" for n, _ in COMMANDS])
def test_command_has_description_and_example(name, parser):
    assert parser.description and parser.description.strip(), f"'musicgate {name}' has no description"
    epilog = parser.epilog or ""
    assert epilog.startswith("example"), f"'musicgate {name}' has no example in --help"
    lines = [line.strip() for line in epilog.splitlines()[1:] if line.strip()]
    assert lines and all(line.startswith(("musicgate ", "torchrun ")) for line in lines)
    # every example names this command: it is an example of it, not of another one
    assert all(f"musicgate {name}" in line or "-m musicgate " + name in line for line in lines), lines
    text = parser.format_help()
    assert "%%" not in text and "example" in text


@pytest.mark.parametrize("name,parser", COMMANDS, ids=[n or "musicgate" for n, _ in COMMANDS])
def test_every_option_has_help_and_shows_its_default(name, parser):
    formatter = parser._get_formatter()
    for action in parser._actions:
        if isinstance(action, (argparse._HelpAction, argparse._SubParsersAction)):
            continue
        if action.help == argparse.SUPPRESS:
            assert set(action.option_strings) <= OLD_OUTPUT_NAMES, f"{name}: {action.option_strings} is hidden"
            continue
        what = f"'musicgate {name}' {'/'.join(action.option_strings) or action.dest}"
        assert action.help and action.help.strip(), f"{what} has no help"
        shown = formatter._get_help_string(action)
        has_value = action.default not in (None, False, [], argparse.SUPPRESS)
        if action.option_strings and has_value:
            assert "default" in shown.lower(), f"{what} does not show its default {action.default!r}"
        assert not set(action.option_strings) & OLD_OUTPUT_NAMES, f"{what}: use -o/--output"


def test_outputs_are_dash_o_everywhere():
    for name, parser in COMMANDS:
        for action in parser._actions:
            if "-o" in action.option_strings:
                assert "--output" in action.option_strings, f"'musicgate {name}': -o is not --output"


def test_top_level_help_lists_every_command_with_its_summary(capsys):
    assert main(["--help"]) == 0
    text = capsys.readouterr().out
    top = _subparsers(build_parser())
    for choice in top._choices_actions:
        assert choice.help and choice.help in " ".join(text.split()), choice.dest


def test_percent_is_printed_once(capsys):
    assert main(["experiment", "retention", "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "95% bootstrap" in text and "%%" not in text


def test_defaults_are_shown_once(capsys):
    assert main(["speech", "train", "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "units per layer (default: 64)" in text
    assert "--no-deltas no deltas / delta-deltas --cache-dir" in text  # a flag gets no "(default: False)"
    assert main(["analyze", "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "(default 32)" in text and "(default 32) (default" not in text


@pytest.mark.parametrize("argv,old,dest", [
    (["generate"], "--output-dir", "output"),
    (["train", "x.yaml"], "--run-dir", "run_dir"),
    (["export", "runs/x", "name"], "--dest", "output"),
    (["speech", "eval", "runs/x"], "--png", "output"),
])
def test_old_output_names_still_parse(tmp_path, argv, old, dest):
    parser = build_parser()
    target = tmp_path / ("out.png" if old == "--png" else "out")
    new = parser.parse_args([*argv, "-o", str(target)])
    legacy = parser.parse_args([*argv, old, str(target)])
    assert Path(getattr(new, dest)) == Path(getattr(legacy, dest)) == target


def test_the_command_list_has_one_line_per_command(monkeypatch):
    """The README says ``musicgate --help`` lists every command on one line (an 80-column terminal)."""
    monkeypatch.setenv("COLUMNS", "80")
    text = build_parser().format_help()
    block = text.split("commands:")[1].split("examples:")[0]
    lines = [line for line in block.splitlines()[2:] if line.strip()]
    names = {name for name, _ in COMMANDS if name and " " not in name}
    assert len(lines) == len(names), lines   # a wrapped summary adds a line with no command name
    assert {line.split()[0] for line in lines} == names
