"""Atomic writes: the old file or the new one, never half; usual file mode; no temporary left."""
from __future__ import annotations

import os
import threading

import pytest

from musicgate.files import atomic_path, atomic_write_bytes, atomic_write_json


def test_writes_make_folders_and_get_the_usual_mode(tmp_path):
    old = os.umask(0o027)
    try:
        path = atomic_write_bytes(tmp_path / "a" / "b" / "x.bin", b"\x00\x01")
    finally:
        os.umask(old)
    assert path.read_bytes() == b"\x00\x01"
    assert path.stat().st_mode & 0o777 == 0o640
    assert os.listdir(path.parent) == ["x.bin"]


def test_an_error_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    path = atomic_write_json(tmp_path / "x.json", {"v": 1})
    with pytest.raises(RuntimeError):
        with atomic_path(path) as tmp:
            tmp.write_text('{"v": 2, "half')
            raise RuntimeError("killed while writing")
    assert path.read_text() == '{\n "v": 1\n}\n'
    assert os.listdir(tmp_path) == ["x.json"]


def test_a_writer_that_writes_nothing_fails_instead_of_leaving_an_empty_file(tmp_path):
    with pytest.raises(FileNotFoundError):
        with atomic_path(tmp_path / "x.bin"):
            pass
    assert os.listdir(tmp_path) == []


def test_threads_writing_one_path_never_share_a_temporary(tmp_path):
    path, errors = tmp_path / "x.bin", []

    def write(i: int) -> None:
        try:
            for _ in range(50):
                atomic_write_bytes(path, bytes([i]) * 1000)
        except Exception as exc:  # a shared temporary name would surface here
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    data = path.read_bytes()
    assert len(data) == 1000 and len(set(data)) == 1
    assert os.listdir(tmp_path) == ["x.bin"]
