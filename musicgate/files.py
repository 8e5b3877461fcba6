"""Atomic file writes: a temporary file in the same folder, then a rename (no fsync: this guards
against a killed process, not against power loss).

A run stopped at any moment leaves either the old file or the new one, never half of one. The
temporary file is named here (pid, a random token, a counter) and created by the writer, so it gets
the usual mode (0666 less the umask). Writing many small files (decoded MIDI) stays cheap: on the
happy path :func:`atomic_write_with` costs the writer's own system calls and one rename.
"""
from __future__ import annotations

import itertools
import json
import os
import re
import secrets
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator

_TOKEN = secrets.token_hex(4)
_COUNTER = itertools.count()
_PID = os.getpid()


def _new_pid() -> None:
    global _PID
    _PID = os.getpid()


os.register_at_fork(after_in_child=_new_pid)


def _temporary(path: str) -> str:
    folder, name = os.path.split(path)
    return f"{folder or '.'}/.{name}.{_PID}-{_TOKEN}-{next(_COUNTER)}.tmp"


def _discard(tmp: str) -> None:
    try:
        os.unlink(tmp)
    except FileNotFoundError:
        pass


def atomic_write_with(path: "str | os.PathLike", write: Callable[[str], object]) -> Path:
    """Call ``write(tmp)`` to create a temporary file beside ``path``, then rename it to ``path``.

    The folder is made when it is missing. On any error the temporary file is removed and the
    error raised; ``path`` keeps its old content.
    """
    path = os.fspath(path)
    tmp = _temporary(path)
    try:
        try:
            write(tmp)
        except Exception:
            folder = os.path.dirname(path)
            if not folder or os.path.isdir(folder):
                raise
            os.makedirs(folder, exist_ok=True)  # the write failed for want of its folder: once more
            write(tmp)
        os.replace(tmp, path)
    except BaseException:
        _discard(tmp)
        raise
    return Path(path)


@contextmanager
def atomic_path(path: "str | os.PathLike") -> Iterator[Path]:
    """Yield a temporary path beside ``path`` for the caller to write; on success it is renamed
    to ``path``, on any error it is removed."""
    path = os.fspath(path)
    folder = os.path.dirname(path)
    if folder and not os.path.isdir(folder):
        os.makedirs(folder, exist_ok=True)
    tmp = _temporary(path)
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    except BaseException:
        _discard(tmp)
        raise


def atomic_write_bytes(path: "str | os.PathLike", data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically; returns the path."""
    def write(tmp: str) -> None:
        with open(tmp, "wb") as fh:
            fh.write(data)

    return atomic_write_with(path, write)


def atomic_write_text(path: "str | os.PathLike", text: str) -> Path:
    """Write UTF-8 ``text`` to ``path`` atomically; returns the path."""
    return atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: "str | os.PathLike", obj: Any) -> Path:
    """Write ``obj`` as indented JSON to ``path`` atomically; returns the path."""
    return atomic_write_text(path, json.dumps(obj, indent=1, sort_keys=False) + "\n")


def safe_name(text: str, default: str = "model") -> str:
    """``text`` as one safe file-name part: letters, digits, ``.``, ``+`` and ``-`` only (``_`` is the
    separator between parts), never empty, never a path (``../x`` -> ``x``)."""
    return re.sub(r"[^A-Za-z0-9.+-]+", "-", str(text)).strip("-.") or default
