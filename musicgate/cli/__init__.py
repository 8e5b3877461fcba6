"""The ``musicgate`` command: a thin layer over the library.

Each module in this package adds one group of sub-commands through ``register(subparsers)`` and
calls library functions. Errors from the library (:class:`~musicgate.errors.MusicgateError`) are
printed as one line on stderr; the exit code is 2 for bad input and 1 for a failed run. Argument
errors are one line too (:class:`~musicgate.cli.common.OneLineParser`), and an operating-system
error that escapes a command (a full disk, a folder that went read-only) is one line naming the
file. The shared argument checks live in :mod:`musicgate.cli.common`.
"""
from __future__ import annotations

import argparse
import errno
import importlib
import pkgutil
import sys

from musicgate.cli.common import ManualFormatter, OneLineParser
from musicgate.errors import MusicgateError

_USER_ERRNOS = {errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOTDIR, errno.EISDIR, errno.ENOENT,
                errno.EEXIST, errno.ENAMETOOLONG, errno.ENOSPC, errno.EDQUOT}


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser, with every command module's sub-commands."""
    parser = OneLineParser(
        prog="musicgate", formatter_class=ManualFormatter,
        description="Music with gated recurrent networks, and what the gates buy.\n\n"
        "Read MIDI, ABC and MusicXML; tokenize; train RNN, LSTM and GRU language models; generate\n"
        "in a chosen key; measure how long each cell keeps the key; draw the gates; recognize spoken\n"
        "digits. 'musicgate COMMAND --help' explains each command with examples.",
        epilog="examples:\n  musicgate generate --model folk-lstm --key \"D major\" --num 4 --wav\n"
        "  musicgate gates --model folk-lstm --melody tune.mid\n  musicgate demo")
    parser.add_argument("-q", "--quiet", action="store_true",
                        help="no progress bars or progress lines (give it before COMMAND)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True, title="commands")
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{__name__}.{info.name}")
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the exit code."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, or a bad argument (one line already printed)
        return exc.code if isinstance(exc.code, int) else 2
    prog = getattr(args, "command_name", "musicgate")
    try:
        result = args.func(args)
    except MusicgateError as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except OSError as exc:  # the operating system said no: a file or folder the user can fix
        where = exc.filename if exc.filename is not None else "a file"
        print(f"{prog}: error: {where}: {exc.strerror or exc}", file=sys.stderr)
        return 2 if exc.errno in _USER_ERRNOS else 1
    except KeyboardInterrupt:
        print("musicgate: interrupted", file=sys.stderr)
        return 130
    return int(result or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
