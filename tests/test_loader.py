"""The prepared-dataset reader and the window / whole-tune sampler with on-the-fly transposition."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from musicgate.errors import ConfigError, DataError
from musicgate.data.dataset import HEADER, BatchDataset, WindowSampler, open_dataset, write_dataset
from synthetic_data import make_dataset


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return open_dataset(make_dataset(tmp_path_factory.mktemp("ds") / "mini", n_tunes=60, max_notes=80))


@pytest.fixture(scope="module")
def event_data(tmp_path_factory):
    return open_dataset(make_dataset(tmp_path_factory.mktemp("ds") / "ev", n_tunes=20, vocab="event"))


def _window_start(tune: np.ndarray, row: np.ndarray, pad: int) -> int:
    """Where in ``tune`` the body of an untransposed window ``row`` (W+1 tokens) starts."""
    body = row[HEADER:]
    body = body[body != pad]
    for b in range(HEADER, len(tune) - len(body) + 1):
        if np.array_equal(tune[b:b + len(body)], body):
            return b
    raise AssertionError("window body is not a contiguous chunk of its tune")


def test_open_dataset_reads_the_layout(data):
    assert len(data.offsets) == 61 and data.offsets[-1] == len(data.tokens)
    assert set(data.splits) == {"train", "valid", "test"}
    assert sum(len(v) for v in data.splits.values()) == 60
    assert data.fingerprint and data.tune(0)[0] == data.tokenizer.bos_id


def test_open_dataset_rejects_bad_folders(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        open_dataset(tmp_path / "nothing")
    path = make_dataset(tmp_path / "d", n_tunes=10)
    (path / "COMPLETE").unlink()
    with pytest.raises(DataError, match="incomplete"):
        open_dataset(path)
    path = make_dataset(tmp_path / "e", n_tunes=10)
    np.save(path / "offsets.npy", np.array([0, 5, 3], np.int64))
    with pytest.raises(DataError, match="disagree"):
        open_dataset(path)
    path = make_dataset(tmp_path / "f", n_tunes=10)
    (path / "manifest.json").write_text("{not json")
    with pytest.raises(DataError, match="cannot be read"):
        open_dataset(path)


@pytest.mark.parametrize("window", [8, 40, 300])
def test_windows_keep_the_header_and_a_contiguous_chunk(data, window):
    tok = data.tokenizer
    plain = WindowSampler(data, window=window, batch_size=16, transpose=False, seed=3)
    for step in range(3):
        b = plain.batch(step)
        x, y = b.inputs.numpy(), b.targets.numpy()
        assert x.shape == y.shape == (16, window)
        n_valid = 0
        for row_x, row_y, t in zip(x, y, b.tunes):
            tune = data.tune(t)
            assert np.array_equal(row_x[:HEADER], tune[:HEADER])          # BOS KEY METER of its tune
            start = _window_start(tune, np.r_[row_x, row_y[-1]], tok.pad_id)
            expected_y = np.r_[row_x[1:], row_y[-1]]
            masked = row_y == tok.pad_id
            assert np.array_equal(row_y[~masked], expected_y[~masked])     # next-token targets
            assert masked[HEADER - 1] == (start > HEADER)                  # the seam is not a target
            n_valid += int((~masked).sum())
        assert n_valid == b.n_targets


def test_transposition_matches_the_tokenizer_and_stays_in_range(data):
    tok = data.tokenizer
    kw = dict(window=48, batch_size=32, seed=11)
    moved, plain = WindowSampler(data, **kw), WindowSampler(data, transpose=False, **kw)
    for step in range(4):
        a, b = moved.batch(step), plain.batch(step)
        assert np.array_equal(a.tunes, b.tunes)
        for xa, xb, shift in zip(a.inputs.numpy(), b.inputs.numpy(), a.shifts):
            lo, hi = tok.shift_range(xb)
            assert lo <= shift <= hi
            assert np.array_equal(xa, tok.transpose(xb, int(shift)))
            ka, kb = tok.key_of(xa), tok.key_of(xb)
            assert ka.mode == kb.mode and ka.tonic == (kb.tonic + shift) % 12


def test_event_vocabulary_windows_transpose_too(event_data):
    tok = event_data.tokenizer
    kw = dict(window=40, batch_size=8, seed=2)
    a, b = WindowSampler(event_data, **kw).batch(0), WindowSampler(event_data, transpose=False, **kw).batch(0)
    for xa, xb, shift in zip(a.inputs.numpy(), b.inputs.numpy(), a.shifts):
        assert np.array_equal(xa, tok.transpose(xb, int(shift)))


def test_all_twelve_keys_are_seen(data):
    tok = data.tokenizer
    sampler = WindowSampler(data, window=16, batch_size=64, seed=0)
    keys = np.concatenate([sampler.batch(s).inputs[:, 1].numpy() for s in range(30)])
    tonic = (keys - tok.key_base) % 12
    counts = np.bincount(tonic, minlength=12)
    assert np.all(counts > 0.5 * counts.mean())


def test_tunes_are_drawn_in_proportion_to_length(data):
    sampler = WindowSampler(data, window=16, batch_size=256, seed=0, transpose=False)
    drawn = np.concatenate([sampler.batch(s).tunes for s in range(60)])
    train = data.splits["train"]
    lengths = np.diff(data.offsets)[train]
    freq = np.array([(drawn == t).mean() for t in train])
    assert set(drawn) <= set(train)
    assert np.corrcoef(freq, lengths)[0, 1] > 0.9


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**31), step=st.integers(0, 10**9), world=st.sampled_from([1, 2, 4]))
def test_batches_are_pure_functions_and_ranks_share_the_global_batch(data, seed, step, world):
    whole = WindowSampler(data, window=24, batch_size=8, seed=seed).batch(step)
    again = WindowSampler(data, window=24, batch_size=8, seed=seed).batch(step)
    assert torch.equal(whole.inputs, again.inputs) and torch.equal(whole.targets, again.targets)
    parts = [WindowSampler(data, window=24, batch_size=8, seed=seed, rank=r, world_size=world).batch(step)
             for r in range(world)]
    assert torch.equal(torch.cat([p.inputs for p in parts]), whole.inputs)
    assert torch.equal(torch.cat([p.targets for p in parts]), whole.targets)
    assert all(p.n_targets == whole.n_targets for p in parts)
    assert int((whole.targets != data.tokenizer.pad_id).sum()) == whole.n_targets
    tok = data.tokenizer
    assert int(whole.inputs.min()) >= 0 and int(whole.inputs.max()) < len(tok)
    pitches = tok.pitch_of[whole.inputs.numpy()]
    assert pitches[pitches >= 0].min() >= tok.pitch_range[0] and pitches.max() <= tok.pitch_range[1]


def test_different_seeds_and_steps_differ(data):
    a = WindowSampler(data, window=24, batch_size=8, seed=0)
    b = WindowSampler(data, window=24, batch_size=8, seed=1)
    assert not torch.equal(a.batch(0).inputs, b.batch(0).inputs)
    assert not torch.equal(a.batch(0).inputs, a.batch(1).inputs)


def test_tune_mode_covers_each_tune_once_per_epoch(data):
    tok = data.tokenizer
    train = data.splits["train"]
    window = 120
    sampler = WindowSampler(data, mode="tune", window=window, batch_size=6, seed=5, transpose=False)
    n_batches = len(train) // 6  # 48 tunes, 8 full batches
    seen = []
    for step in range(n_batches):
        b = sampler.batch(step)
        x, y, lengths = b.inputs.numpy(), b.targets.numpy(), b.lengths.numpy()
        assert x.shape[1] == lengths.max() and b.n_targets == lengths.sum()
        for row_x, row_y, n, t in zip(x, y, lengths, b.tunes):
            tune = data.tune(t)[:window + 1]
            assert n == len(tune) - 1
            assert np.array_equal(row_x[:n], tune[:-1]) and np.array_equal(row_y[:n], tune[1:])
            assert np.all(row_x[n:] == tok.pad_id) and np.all(row_y[n:] == tok.pad_id)
        seen.extend(b.tunes)
    assert sorted(seen) == sorted(train)
    nxt = np.concatenate([sampler.batch(s).tunes for s in range(n_batches, 2 * n_batches)])
    assert sorted(nxt) == sorted(train) and not np.array_equal(nxt, seen)


def test_tune_mode_transposes_whole_tunes(data):
    tok = data.tokenizer
    kw = dict(mode="tune", window=400, batch_size=4, seed=1)
    a, b = WindowSampler(data, **kw).batch(2), WindowSampler(data, transpose=False, **kw).batch(2)
    for xa, xb, n, shift in zip(a.inputs.numpy(), b.inputs.numpy(), a.lengths.numpy(), a.shifts):
        assert np.array_equal(xa[:n], tok.transpose(xb[:n], int(shift)))


def test_torch_dataset_and_dataloader(data):
    sampler = WindowSampler(data, window=16, batch_size=4, seed=0)
    ds = BatchDataset(sampler, 5, start=2)
    assert len(ds) == 3
    loader = torch.utils.data.DataLoader(ds, batch_size=None)
    got = [b.inputs for b in loader]
    assert len(got) == 3 and torch.equal(got[0], sampler.batch(2).inputs)
    with pytest.raises(IndexError):
        ds[3]


def test_bad_sampler_settings(data, tmp_path):
    with pytest.raises(ConfigError, match="multiple"):
        WindowSampler(data, batch_size=3, world_size=2)
    with pytest.raises(ConfigError, match="window"):
        WindowSampler(data, window=2)
    with pytest.raises(DataError, match="no split"):
        WindowSampler(data, "holdout")
    path = write_dataset(tmp_path / "nv", [data.tune(0), data.tune(1)], data.tokenizer,
                         {"train": [0, 1], "valid": []})
    with pytest.raises(DataError, match="empty"):
        WindowSampler(open_dataset(path), "valid")


def test_one_layer_reads_what_either_writer_wrote(tmp_path, capsys):
    """write_dataset (tests, custom data) and data prepare write one layout; load_prepared, open_dataset
    and `data info` read both, and a damaged folder is refused by the same checks."""
    from musicgate.cli import main
    from musicgate.data.corpora import load_prepared, summary
    from musicgate.errors import DataError

    path = make_dataset(tmp_path / "custom", n_tunes=12)
    data = load_prepared(path)
    assert type(data) is type(open_dataset(path)) and len(data) == 12
    s = summary(data)
    assert s["tunes"] == 12 and sum(s["keys"].values()) == 12 and s["notes_per_tune"]["p50"] > 0
    assert main(["data", "info", str(path)]) == 0
    assert "custom" in capsys.readouterr().out
    np.save(path / "offsets.npy", np.array([0, 5, 3]))  # offsets that disagree with the tokens
    with pytest.raises(DataError, match="disagree"):
        load_prepared(path)
