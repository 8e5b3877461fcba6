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
import tempfile
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


# -- output folders ---------------------------------------------------------------------------------
def _probe(folder: str) -> None:
    """Create and remove a hidden file in ``folder``; raises OSError when that is not possible."""
    fd, name = tempfile.mkstemp(prefix=".musicgate-probe-", dir=folder)
    os.close(fd)
    os.unlink(name)


def check_writable_dir(path: "str | os.PathLike", *, what: str = "output folder") -> Path:
    """Raise :class:`~musicgate.errors.OutputError` unless ``path`` is (or can become) a writable folder.

    Nothing is created: the nearest folder that exists is checked by making and removing a hidden
    file in it, which really fails on a read-only mount, under ``/proc``, or where a file stands in
    the way (``os.access`` alone says yes to root everywhere). Returns ``Path(path)``.
    """
    from musicgate.errors import OutputError

    path = Path(path)
    probe = path
    while not os.path.lexists(probe):
        if probe.parent == probe:
            break
        probe = probe.parent
    if probe.exists() and not probe.is_dir():
        where = "" if probe == path else f" (in {path})"
        raise OutputError(f"{probe} is a file, not a folder{where}; choose another {what}")
    try:
        _probe(str(probe))
    except OSError as exc:
        raise OutputError(f"{path}: cannot write there ({exc.strerror or exc}); choose another {what}") from None
    return path


def check_writable_file(path: "str | os.PathLike") -> Path:
    """Raise :class:`~musicgate.errors.OutputError` unless ``path`` can be written as a file (its
    folder is writable and it is not a folder). Returns ``Path(path)``."""
    from musicgate.errors import OutputError

    path = Path(path)
    if path.is_dir():
        raise OutputError(f"{path} is a folder; give a file name to write")
    check_writable_dir(path.parent if str(path.parent) else ".", what="folder for the output file")
    return path


def check_name(name: str, *, what: str = "name") -> str:
    """Return ``name`` when it is a plain file name (no folder part, not ``.``/``..``, not hidden);
    raise :class:`~musicgate.errors.OutputError` otherwise, so it cannot write outside its folder."""
    from musicgate.errors import OutputError

    seps = [s for s in (os.sep, os.altsep, "/", "\\") if s]
    if (not name or name in (".", "..") or name.startswith(".") or "\0" in name
            or any(s in name for s in seps)):
        raise OutputError(f"{what} {name!r} is not a plain name; give a name such as folk-lstm, without "
                          "folders, slashes or a leading dot")
    return name


# -- leftovers of killed runs -------------------------------------------------------------------------
_STALE = re.compile(r"^\.(?:musicgate-[a-z]+-(?P<pid>\d+)-.*|.+\.(?P<tpid>\d+)-[0-9a-f]+-\d+\.tmp)$")


def pid_alive(pid: int) -> bool:
    """Whether a process with this id runs on this machine."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_temporaries(folder: "str | os.PathLike") -> list[Path]:
    """Remove what killed runs left in ``folder``: hidden ``.musicgate-<what>-<pid>-*`` staging
    folders and ``.<name>.<pid>-<token>-<n>.tmp`` files whose process is gone. Returns what was
    removed (nothing when the folder does not exist)."""
    import shutil

    removed = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in entries:
        m = _STALE.match(entry.name)
        if not m:
            continue
        pid = int(m.group("pid") or m.group("tpid"))
        if pid == os.getpid() or pid_alive(pid):
            continue
        path = Path(entry.path)
        if entry.is_dir(follow_symlinks=False):
            shutil.rmtree(path, ignore_errors=True)
        else:
            _discard(str(path))
        removed.append(path)
    return removed


def staging_dir(outdir: "str | os.PathLike", what: str) -> Path:
    """A new hidden staging folder ``outdir/.musicgate-<what>-<pid>-<random>``, after removing the
    stale ones of dead processes (a ``kill -9`` leaves its staging folder behind)."""
    remove_stale_temporaries(outdir)
    return Path(tempfile.mkdtemp(prefix=f".musicgate-{what}-{os.getpid()}-", dir=outdir))


# -- locks --------------------------------------------------------------------------------------------
@contextmanager
def pid_lock(path: "str | os.PathLike", *, what: str, wait: bool = False) -> Iterator[Path]:
    """Hold an exclusive lock on the file ``path`` (which records the holder's pid) for the block.

    The lock is an ``flock`` on the file, so a killed holder's lock is released by the kernel and
    its stale file (a dead pid in it) is simply taken over. With ``wait`` a second process waits for
    the first; without it :class:`~musicgate.errors.BusyError` names the holder's pid. The file is
    removed on release (a waiter that locked the removed file notices and locks the new one).
    """
    import fcntl

    from musicgate.errors import BusyError

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "another process"
            os.close(fd)
            raise BusyError(f"{what} is in use by process {holder} (lock {path}); wait for it to finish "
                            "or stop it") from None
        try:
            same = os.path.samestat(os.fstat(fd), os.stat(path))
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)  # the holder before us removed this file: lock the current one
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield path
    finally:
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


# -- inputs ---------------------------------------------------------------------------------------------
def require_file(path: "str | os.PathLike", error: type, what: str, hint: str = "") -> Path:
    """Return ``Path(path)`` when it is an existing file; otherwise raise ``error`` with one line that
    tells a folder from a missing file ("X is a folder, not a MIDI file" / "X: no such MIDI file").
    ``hint`` (e.g. "; give a .mid file") ends the message."""
    path = Path(path)
    if path.is_dir():
        raise error(f"{path} is a folder, not a {what}{hint}")
    if not path.exists():
        raise error(f"{path}: no such {what}{hint}")
    if not path.is_file():
        raise error(f"{path} is not a regular file, so not a {what}{hint}")
    return path


def read_yaml(path: "str | os.PathLike", *, what: str = "config file") -> dict:
    """The mapping in a YAML file; raises :class:`~musicgate.errors.ConfigError` (naming the file)
    when it is missing, a folder, not text, not YAML, empty, or not a mapping at the top level."""
    import yaml

    from musicgate.errors import ConfigError

    path = require_file(path, ConfigError, what, "; give a YAML file such as the ones in configs/")
    try:
        text = path.read_bytes().decode("utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the {what} ({exc.strerror or exc})") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not a text file, so not a YAML {what}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        line = getattr(getattr(exc, "problem_mark", None), "line", None)
        where = f" at line {line + 1}" if line is not None else ""
        raise ConfigError(f"{path}: not valid YAML{where}; fix the syntax") from None
    if data is None:
        raise ConfigError(f"{path}: the {what} is empty; give the settings (see configs/ for examples)")
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of settings (key: value lines), got "
                          f"{type(data).__name__} {str(data)[:40]!r}")
    return data
