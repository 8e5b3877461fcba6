"""Speech datasets: the digits.npz layout, FSDD and Speech Commands folders, and their splits."""
from __future__ import annotations

import numpy as np
import pytest
from conftest import shared_path
from hypothesis import given, settings
from hypothesis import strategies as st
from speechclips import make_commands, make_fsdd

from musicgate.errors import AudioError, DataError
from musicgate.speech.data import (SpeechSet, commands_hash_split, commands_splits, fsdd_official_split,
                                   leave_one_speaker_out, load_commands, load_fsdd, load_npz,
                                   save_npz, speaker_folds, stratified_split)
from musicgate.speech.features import FeatureConfig
from musicgate.speech.sources import load_spec

SMALL = FeatureConfig(deltas=False)


def toy_set(n: int = 12, dim: int = 3) -> SpeechSet:
    rng = np.random.default_rng(0)
    feats = [rng.standard_normal((int(rng.integers(1, 9)), dim)).astype(np.float32) for _ in range(n)]
    return SpeechSet(feats, np.arange(n) % 3, ("a", "b", "c"), speakers=np.array(["s"] * n))


def test_npz_round_trip_keeps_every_sequence(tmp_path):
    data = toy_set()
    back = load_npz(save_npz(data, tmp_path / "x.npz"))
    assert back.label_names == data.label_names and np.array_equal(back.labels, data.labels)
    assert all(np.array_equal(a, b) for a, b in zip(back.features, data.features))
    assert list(back.speakers) == list(data.speakers)
    assert [p.name for p in tmp_path.iterdir()] == ["x.npz"]  # no temp file left behind


def test_real_digits_npz():
    data = load_npz(shared_path("speech", "digits.npz"))
    assert len(data) == 3000 and data.dim == 13
    assert np.bincount(data.labels).tolist() == [300] * 10
    assert sum(len(f) for f in data.features) == 53999
    split = load_spec(str(shared_path("speech", "digits.npz")), seed=3)
    assert len(split.train) == len(split.test) == 1500
    assert np.bincount(split.test.labels).tolist() == [150] * 10


def test_npz_that_does_not_fit_is_a_data_error(tmp_path):
    np.savez(tmp_path / "bad.npz", X=np.zeros((5, 2)), lengths=np.array([2, 2]), y=np.array([0, 1]))
    with pytest.raises(DataError, match="lengths sum to 4"):
        load_npz(tmp_path / "bad.npz")
    np.savez(tmp_path / "other.npz", a=np.zeros(3))
    with pytest.raises(DataError, match="missing arrays"):
        load_npz(tmp_path / "other.npz")
    (tmp_path / "junk.npz").write_bytes(b"junk")
    with pytest.raises(DataError, match="junk.npz"):
        load_npz(tmp_path / "junk.npz")
    with pytest.raises(DataError, match="no such file"):
        load_npz(tmp_path / "absent.npz")


@settings(max_examples=30, deadline=None)
@given(counts=st.lists(st.integers(1, 20), min_size=2, max_size=5), seed=st.integers(0, 2**16),
       frac=st.floats(0.1, 0.9))
def test_stratified_split_partitions_and_keeps_proportions(counts, seed, frac):
    labels = np.repeat(np.arange(len(counts)), counts)
    rng = np.random.default_rng(seed)
    labels = labels[rng.permutation(len(labels))]
    tr, te = stratified_split(labels, test_fraction=frac, seed=seed)
    assert sorted(np.concatenate([tr, te]).tolist()) == list(range(len(labels)))
    for c, n in enumerate(counts):
        assert (labels[te] == c).sum() == int(round(n * frac))
    tr2, te2 = stratified_split(labels, test_fraction=frac, seed=seed)
    assert np.array_equal(te, te2)


def test_stratified_split_depends_on_the_seed():
    labels = np.repeat(np.arange(4), 50)
    assert not np.array_equal(stratified_split(labels, seed=0)[1], stratified_split(labels, seed=1)[1])


def test_fsdd_folder_official_and_speaker_splits(tmp_path):
    folder = make_fsdd(tmp_path / "fsdd")
    data = load_fsdd(folder, config=SMALL)
    assert len(data) == 3 * 2 * 7 and data.dim == 13
    assert sorted(set(data.speakers)) == ["ann", "bob"]
    tr, te = fsdd_official_split(data)
    takes = np.array([int(n.split("_")[2].split(".")[0]) for n in data.names])
    assert (takes[te] <= 4).all() and (takes[tr] >= 5).all() and len(te) == 3 * 2 * 5
    tr, te = leave_one_speaker_out(data, "bob")
    assert set(data.speakers[te]) == {"bob"} and set(data.speakers[tr]) == {"ann"}
    assert [f[0] for f in speaker_folds(data)] == ["ann", "bob"]
    with pytest.raises(DataError, match="speakers are ann, bob"):
        leave_one_speaker_out(data, "carl")
    split = load_spec(f"fsdd:{folder}", config=SMALL, holdout_speaker="ann")
    assert set(split.test.speakers) == {"ann"}
    # a subset keeps each clip's take number, so the official split still applies to it
    bob = data.subset(np.flatnonzero(data.speakers == "bob"))
    tr, te = fsdd_official_split(bob)
    assert len(te) == 3 * 5 and all(n.endswith(("_0.wav", "_1.wav", "_2.wav", "_3.wav", "_4.wav"))
                                    for n in bob.names[te])


def test_fsdd_folder_rejects_bad_names_and_clips(tmp_path):
    folder = make_fsdd(tmp_path / "fsdd", digits=(1,), speakers=("ann",), takes=1)
    (folder / "readme.wav").write_bytes(b"x")
    with pytest.raises(DataError, match="readme.wav.*rename or remove"):
        load_fsdd(folder)
    (folder / "readme.wav").rename(folder / "2_ann_0.wav")
    with pytest.raises(AudioError, match="2_ann_0.wav"):
        load_fsdd(folder)
    with pytest.raises(DataError, match="not a folder"):
        load_fsdd(tmp_path / "absent")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DataError, match="no .wav"):
        load_fsdd(empty)


def test_commands_lists_decide_the_split(tmp_path):
    root = make_commands(tmp_path / "sc")
    split = commands_splits(root)
    assert {r.split("/")[1].split("_")[0] for r in split["validation"]} == {"bb22"}
    assert {r.split("/")[1].split("_")[0] for r in split["testing"]} == {"cc33"}
    assert {r.split("/")[1].split("_")[0] for r in split["training"]} == {"aa11", "dd44"}
    assert not any(r.startswith("_") for rels in split.values() for r in rels)
    sets = load_commands(root, config=SMALL)
    assert sets["training"].label_names == ("no", "yes") and len(sets["testing"]) == 4
    assert set(sets["testing"].speakers) == {"cc33"}
    only_yes = commands_splits(root, words=["yes"])
    assert all(r.startswith("yes/") for rels in only_yes.values() for r in rels)


def test_commands_without_lists_uses_the_hash_rule(tmp_path):
    root = make_commands(tmp_path / "sc", lists=False)
    split = commands_splits(root)
    for name, rels in split.items():
        assert all(commands_hash_split(r) == name for r in rels)
    # one speaker's clips always share a split, whatever the word or take
    assert commands_hash_split("yes/aa11_nohash_0.wav") == commands_hash_split("no/aa11_nohash_7.wav")


def test_commands_hash_rule_matches_the_readme_proportions():
    names = [f"w/{i:08x}_nohash_0.wav" for i in range(4000)]
    counts = {s: 0 for s in ("training", "validation", "testing")}
    for n in names:
        counts[commands_hash_split(n)] += 1
    assert 0.08 < counts["validation"] / 4000 < 0.12 and 0.08 < counts["testing"] / 4000 < 0.12


def test_commands_bad_folders(tmp_path):
    root = make_commands(tmp_path / "sc")
    (root / "testing_list.txt").write_text("yes/zz99_nohash_0.wav\n")
    with pytest.raises(DataError, match="zz99"):
        commands_splits(root)
    (root / "testing_list.txt").unlink()
    with pytest.raises(DataError, match="only one of"):
        commands_splits(root)
    with pytest.raises(DataError, match="no folder for words"):
        commands_splits(make_commands(tmp_path / "sc2"), words=["maybe"])


def test_unknown_spec_and_misplaced_options():
    with pytest.raises(DataError, match="unknown --data"):
        load_spec("mnist")
    with pytest.raises(DataError, match="holdout-speaker"):
        load_spec("x.npz", holdout_speaker="ann")


def test_speech_set_checks_its_arrays():
    with pytest.raises(DataError, match="labels"):
        SpeechSet([np.zeros((2, 3))], [0, 1], ("a",))
    with pytest.raises(DataError, match="0..0"):
        SpeechSet([np.zeros((2, 3))], [1], ("a",))
    with pytest.raises(DataError, match="non-empty"):
        SpeechSet([np.zeros((0, 3))], [0], ("a",))
