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
    """Return ``layer`` (Python indexing: -1 is the last) when ``where`` has it; raise ConfigError."""
    from musicgate.errors import ConfigError

    if not -layers <= layer < layers:
        raise ConfigError(f"--layer {layer}: {where} has {layers} layer(s); use 0 .. {layers - 1} "
                          f"(or -1 for the last)")
    return layer


def warn(message: str) -> None:
    """One ``musicgate: warning:`` line on stderr."""
    print(f"musicgate: warning: {message}", file=sys.stderr)
