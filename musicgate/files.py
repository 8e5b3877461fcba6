"""Atomic file writes: a temporary file in the same folder, then a rename (no fsync: this guards
against a killed process, not against power loss).

A run stopped at any moment leaves either the old file or the new one, never half of one.
"""
from __future__ import annotations

import json
import itertools
import os
import secrets
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator


_TOKEN = secrets.token_hex(4)  # with the pid and a counter: temporary names no one else uses
_COUNTER = itertools.count()


@contextmanager
def atomic_path(path: "str | os.PathLike") -> Iterator[Path]:
    """Yield a temporary path beside ``path`` for the caller to write; on success it is renamed
    to ``path``, on any error it is removed.

    The caller creates the file, so it gets the usual mode (0666 less the umask). Few system
    calls (a stat, the caller's writes, a rename): writing many small MIDI files stays cheap.
    """
    path = os.fspath(path)
    folder = os.path.dirname(path)
    if folder and not os.path.isdir(folder):
        os.makedirs(folder, exist_ok=True)
    tmp = Path(f"{folder or '.'}/.{os.path.basename(path)}.{os.getpid()}-{_TOKEN}-{next(_COUNTER)}.tmp")
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def atomic_write_bytes(path: "str | os.PathLike", data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically; returns the path."""
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            fh.write(data)
    return Path(path)


def atomic_write_text(path: "str | os.PathLike", text: str) -> Path:
    """Write UTF-8 ``text`` to ``path`` atomically; returns the path."""
    return atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: "str | os.PathLike", obj: Any) -> Path:
    """Write ``obj`` as indented JSON to ``path`` atomically; returns the path."""
    return atomic_write_text(path, json.dumps(obj, indent=1, sort_keys=False) + "\n")
