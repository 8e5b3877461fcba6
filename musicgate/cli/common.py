"""Checks shared by every sub-command: one line and exit code 2 for each kind of bad value.

The argparse types here turn a bad value into ``musicgate CMD: error: argument --x: ...`` (one
line, exit 2, see :class:`OneLineParser`): whole numbers in a range, probabilities, seeds, torch
devices, output folders and files that can really be written, and names that must not be paths.
This module adds no sub-command (``register`` is a no-op).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Callable, NoReturn

SEED_LIMIT = 2 ** 32
"""Seeds are whole numbers 0 .. 2**32 - 1 (numpy's legacy seeding and every sampler accept them)."""


def register(sub) -> None:  # noqa: ARG001 - the CLI package imports every module for its commands
    """Nothing: this module holds the shared checks."""


class OneLineParser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line (no usage block) and exit code 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


class ManualFormatter(argparse.RawDescriptionHelpFormatter):
    """Help that reads as a manual: the description and examples as written, every default shown.

    An option's default is appended as ``(default: X)`` unless its help already says what the
    default is, or there is nothing to show (a flag, or no value at all).
    """

    def __init__(self, prog: str, indent_increment: int = 2, max_help_position: int = 28,
                 width: int | None = None) -> None:
        super().__init__(prog, indent_increment, max_help_position, width)
        self._action_max_length = 14  # command names up to 10 letters keep their summary on their line

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        default = action.default
        if ("default" in text.lower() or default is None or default is False or default == []
                or default is argparse.SUPPRESS or not action.option_strings):
            return text
        shown = default if isinstance(default, (int, float, str)) else str(default)
        return f"{text} (default: {str(shown).replace('%', '%%')})"


def command(sub, name: str, summary: str, *examples: str, description: str | None = None,
            aliases: tuple[str, ...] = ()) -> argparse.ArgumentParser:
    """Add sub-command ``name`` to ``sub`` with a one-line summary, a description and examples.

    Parameters
    ----------
    sub : the ``add_subparsers()`` object of the parent command.
    name : the sub-command's name.
    summary : one line, shown in the parent's command list and at the top of the command's help.
    examples : full command lines (``musicgate ...``), shown under ``examples:`` in ``--help``.
    description : more text after the summary (plain text, printed as written).
    """
    if not examples:
        raise ValueError(f"command {name!r}: give at least one example")
    text = summary[0].upper() + summary[1:] + "."
    if description:
        text += "\n\n" + description
    epilog = "example:\n" if len(examples) == 1 else "examples:\n"
    epilog += "\n".join(f"  {e}" for e in examples)
    parser = sub.add_parser(name, help=summary, description=text, epilog=epilog,
                            formatter_class=ManualFormatter, aliases=list(aliases))
    parser.set_defaults(command_name=parser.prog)  # errors name the command, as argparse's do
    return parser


def output_alias(parser: argparse.ArgumentParser, old: str, **kwargs) -> None:
    """Accept ``old`` (a former name of ``-o/--output``) silently, so old scripts keep working."""
    parser.add_argument(old, dest="output", default=argparse.SUPPRESS, help=argparse.SUPPRESS, **kwargs)


def _number(text: str, kind: type, what: str):
    try:
        return kind(text)
    except (TypeError, ValueError):
        raise argparse.ArgumentTypeError(f"{text!r} is not {what}") from None


def int_at_least(low: int, high: int | None = None) -> Callable[[str], int]:
    """An argparse type: a whole number >= ``low`` (and < ``high`` when given)."""
    def parse(text: str) -> int:
        value = _number(text, int, "a whole number")
        if value < low or (high is not None and value >= high):
            rng = f">= {low}" if high is None else f"from {low} to {high - 1}"
            raise argparse.ArgumentTypeError(f"must be a whole number {rng}, got {text}")
        return value

    parse.__name__ = "whole number"
    return parse


positive_int = int_at_least(1)
"""An argparse type: a whole number >= 1."""
nonneg_int = int_at_least(0)
"""An argparse type: a whole number >= 0."""
seed = int_at_least(0, SEED_LIMIT)
"""An argparse type: a seed, 0 .. 2**32 - 1."""


def int_list(low: int) -> Callable[[str], list[int]]:
    """An argparse type: comma-separated whole numbers, each >= ``low`` (``10,100,1000``)."""
    def parse(text: str) -> list[int]:
        try:
            values = [int(x) for x in str(text).split(",") if x.strip()]
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be comma-separated whole numbers, got {text!r}") from None
        if not values or min(values) < low:
            raise argparse.ArgumentTypeError(f"must be comma-separated whole numbers >= {low}, got {text!r}")
        return values

    parse.__name__ = "list of whole numbers"
    return parse


def given(**options) -> dict:
    """The options the user gave: ``options`` without those left at None (for a config builder)."""
    return {k: v for k, v in options.items() if v is not None}


def set_threads(n: int | None) -> None:
    """Use ``n`` torch CPU threads (None: torch's choice)."""
    if n is not None:
        import torch

        torch.set_num_threads(n)


def positive_float(text: str) -> float:
    """An argparse type: a finite number > 0."""
    value = _number(text, float, "a number")
    if not (value > 0 and value != float("inf")):
        raise argparse.ArgumentTypeError(f"must be a number > 0, got {text}")
    return value


def nonneg_float(text: str) -> float:
    """An argparse type: a finite number >= 0."""
    value = _number(text, float, "a number")
    if not (value >= 0 and value != float("inf")):
        raise argparse.ArgumentTypeError(f"must be a number >= 0, got {text}")
    return value


def probability(text: str) -> float:
    """An argparse type: a number in (0, 1]."""
    value = _number(text, float, "a number")
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"must be in (0, 1], got {text}")
    return value


def fraction(text: str) -> float:
    """An argparse type: a number in [0, 1)."""
    value = _number(text, float, "a number")
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"must be in [0, 1), got {text}")
    return value


def device(text: str) -> str:
    """An argparse type: a torch device that exists here (auto, cpu, cuda, cuda:N, mps).

    ``auto`` is resolved (cuda, then mps, then cpu); ``cuda:N`` is checked against the GPUs torch
    sees, so a missing GPU is one line instead of a CUDA traceback later.
    """
    from musicgate.errors import MusicgateError
    from musicgate.train.util import pick_device

    try:
        dev = pick_device(text)
    except MusicgateError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    if dev.type == "cuda":
        import torch

        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise argparse.ArgumentTypeError(
                f"device {text!r}: this machine has {torch.cuda.device_count()} CUDA GPU(s); use cuda:0 .. "
                f"cuda:{torch.cuda.device_count() - 1} or cpu")
    return dev.type if text == "auto" else text


def _typed(check: Callable, what: str) -> Callable[[str], Path]:
    def parse(text: str) -> Path:
        from musicgate.errors import MusicgateError

        try:
            return check(text)
        except MusicgateError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    parse.__name__ = what
    return parse


def _out_dir(text: str) -> Path:
    from musicgate.files import check_writable_dir

    return check_writable_dir(text)


def _out_file(text: str) -> Path:
    from musicgate.files import check_writable_file

    return check_writable_file(text)


def _plain_name(text: str) -> str:
    from musicgate.files import check_name

    return check_name(text)


out_dir = _typed(_out_dir, "output folder")
"""An argparse type: a folder that exists or can be made, and can be written (checked, not made)."""
out_file = _typed(_out_file, "output file")
"""An argparse type: a file whose folder can be written, and which is not a folder."""
plain_name = _typed(_plain_name, "name")
"""An argparse type: a name without a folder part (``../../evil`` is refused)."""


def check_layer(layer: int, layers: int, *, where: str) -> int:
    """Return ``layer`` when ``where`` has it; raise ConfigError (see :func:`musicgate.nn.hub.check_layer`)."""
    from musicgate.nn.hub import check_layer as check

    return check(layer, layers, where=where)


def warn(message: str) -> None:
    """One ``musicgate: warning:`` line on stderr."""
    print(f"musicgate: warning: {message}", file=sys.stderr)
