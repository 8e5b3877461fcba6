"""The dataset fingerprint hashes content, so two clones of the same data agree (runs move)."""
from __future__ import annotations

import os
import shutil

import numpy as np
from midifile import off, on, smf
from synthetic_data import make_dataset

from musicgate.data.corpora import load_prepared, prepare
from musicgate.data.dataset import open_dataset


def _age(folder, seconds: float) -> None:
    for p in folder.rglob("*"):
        st = p.stat()
        os.utime(p, (st.st_atime - seconds, st.st_mtime - seconds))


def test_two_copies_in_other_folders_with_other_times_fingerprint_the_same(tmp_path):
    a = make_dataset(tmp_path / "laptop" / "folk", n_tunes=12)
    b = tmp_path / "gpu-box" / "datasets" / "folk-copy"
    shutil.copytree(a, b)
    _age(b, 86_400 * 3)
    (b / "manifest.json").write_text((b / "manifest.json").read_text().replace('"name"', '"name" ', 1))
    fa, fb = open_dataset(a).fingerprint, open_dataset(b).fingerprint
    assert fa == fb and len(fa) == 16


def test_other_content_gives_another_fingerprint(tmp_path):
    a = make_dataset(tmp_path / "a", n_tunes=12)
    b = tmp_path / "b"
    shutil.copytree(a, b)
    tokens = np.load(b / "tokens.npy")
    tokens[5] = tokens[5] + 1 if tokens[5] + 1 < 40 else tokens[5] - 1
    np.save(b / "tokens.npy", tokens)
    assert open_dataset(a).fingerprint != open_dataset(b).fingerprint
    with np.load(a / "splits.npz") as z:
        splits = {k: z[k] for k in z.files}
    splits["train"], splits["valid"] = splits["valid"], splits["train"]
    c = tmp_path / "c"
    shutil.copytree(a, c)
    np.savez(c / "splits.npz", **splits)
    assert open_dataset(a).fingerprint != open_dataset(c).fingerprint


def test_prepared_corpus_in_two_clones_has_one_fingerprint(tmp_path):
    """The same MIDI sources in two clones (other paths, other mtimes) prepare to the same
    fingerprint, and the second clone's cache is up to date after a copy."""
    tune = smf([(0, on(60)), (480, off(60)), (0, on(64)), (480, off(64)), (0, on(67)), (480, off(67))])
    for clone in ("one", "two"):
        src = tmp_path / clone / "midi"
        src.mkdir(parents=True)
        for i in range(6):
            (src / f"t{i}.mid").write_bytes(tune)
        if clone == "two":
            _age(src, 5_000)
    one = prepare(f"midi:{tmp_path / 'one' / 'midi'}", root=tmp_path / "one" / "datasets", workers=1, quiet=True)
    two = prepare(f"midi:{tmp_path / 'two' / 'midi'}", root=tmp_path / "two" / "datasets", workers=1, quiet=True)
    assert one.fingerprint == two.fingerprint
    assert one.manifest["sources"] == two.manifest["sources"]
    assert load_prepared(one.path).fingerprint == open_dataset(one.path).fingerprint == one.fingerprint
