"""Medley mode: long streams of tunes in one key, read window by window (musicgate.data.medley)."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from musicgate.data.dataset import HEADER, WindowSampler, open_dataset, write_dataset
from musicgate.errors import ConfigError, DataError
from musicgate.music.keys import MODES, Key
from musicgate.train.config import config_from_dict
from synthetic_data import make_dataset


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return open_dataset(make_dataset(tmp_path_factory.mktemp("ds") / "mini", n_tunes=60, max_notes=80))


def medley(data, split="train", **kw):
    args = dict(window=32, batch_size=6, mode="medley", medley_tokens=480, seed=1)
    return WindowSampler(data, split, **{**args, **kw})


def stream(sampler, generation: int) -> np.ndarray:
    """Rows of one generation, rebuilt from its consecutive windows: (B, k * W + 1)."""
    k = sampler.stream_windows
    batches = [sampler.batch(generation * k + j) for j in range(k)]
    body = np.concatenate([b.inputs.numpy() for b in batches], axis=1)
    return np.concatenate([body, batches[-1].targets.numpy()[:, -1:]], axis=1)


def tune_segments(row: np.ndarray, eos: int) -> list[np.ndarray]:
    """The complete tunes of a stream (body ... EOS), without the header and the cut last tune."""
    ends = np.flatnonzero(row == eos)
    starts = np.r_[HEADER, ends[:-1] + 1]
    return [row[a:b + 1] for a, b in zip(starts, ends)]


def source_of(segment: np.ndarray, data, split: str = "train") -> tuple[int, int]:
    """(tune index, shift) of the split tune whose body, transposed, is ``segment``."""
    tok = data.tokenizer
    is_pitch = tok.pitch_of[segment] >= 0
    for t in data.splits[split]:
        body = data.tune(t)[HEADER:]
        if len(body) != len(segment) or not np.array_equal(tok.pitch_of[body] >= 0, is_pitch):
            continue
        diff = np.unique(segment[is_pitch].astype(np.int64) - body[is_pitch])
        if len(diff) == 1 and np.array_equal(segment[~is_pitch], body[~is_pitch]):
            return int(t), int(diff[0])
    raise AssertionError("segment is not a transposed tune body of the split")


def test_a_stream_is_one_header_then_whole_tunes_of_its_mode_in_its_key(data):
    tok = data.tokenizer
    s = medley(data)
    assert s.stream_windows == 15
    for g in range(3):
        rows = stream(s, g)
        assert rows.shape == (6, 15 * 32 + 1)
        for row in rows:
            assert row[0] == tok.bos_id and row[2] >= tok.meter_base
            keys = (row >= tok.key_base) & (row < tok.key_unknown_id)
            assert np.flatnonzero(keys).tolist() == [1]                 # one KEY token, at the start
            assert not np.any(row[1:] == tok.bos_id) and not np.any(row == tok.pad_id)
            key = tok.key_of(row[:HEADER])
            segments = tune_segments(row, tok.eos_id)
            assert len(segments) >= 2
            seen = []
            for seg in segments:
                t, shift = source_of(seg, data)
                own = tok.key_of(data.tune(t)[:HEADER])
                assert own.mode == key.mode and (own.tonic + shift) % 12 == key.tonic
                assert -12 < shift < 12
                seen.append(t)
            assert len(set(seen)) == len(seen)                           # no tune twice in a stream
            assert seg[-1] == tok.eos_id and row[HEADER] == tok.bar_id   # tunes start on a bar


def test_windows_continue_their_streams_then_new_streams_start(data):
    s = medley(data)
    k = s.stream_windows
    prev = None
    for step in range(3 * k):
        b = s.batch(step)
        assert b.continues == (step % k != 0)
        assert b.inputs.shape == b.targets.shape == (6, 32) and b.n_targets == 6 * 32
        np.testing.assert_array_equal(b.inputs.numpy()[:, 1:], b.targets.numpy()[:, :-1])
        if b.continues:
            np.testing.assert_array_equal(b.inputs.numpy()[:, 0], prev.targets.numpy()[:, -1])
            np.testing.assert_array_equal(b.tunes, prev.tunes)
        prev = b
    assert not np.array_equal(stream(s, 0), stream(s, 1))


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**31), step=st.integers(0, 10_000), world=st.sampled_from([1, 2, 3]))
def test_batches_are_pure_functions_of_seed_and_step_and_ranks_split_rows(data, seed, step, world):
    fresh = medley(data, seed=seed, batch_size=6)
    used = medley(data, seed=seed, batch_size=6)
    for other in (step + 1, 0, step + 37):     # whatever it built before
        used.batch(other)
    a, b = fresh.batch(step), used.batch(step)
    np.testing.assert_array_equal(a.inputs.numpy(), b.inputs.numpy())
    np.testing.assert_array_equal(a.targets.numpy(), b.targets.numpy())
    parts = [medley(data, seed=seed, batch_size=6, rank=r, world_size=world).batch(step) for r in range(world)]
    np.testing.assert_array_equal(np.concatenate([p.inputs.numpy() for p in parts]), a.inputs.numpy())
    assert all(p.n_targets == a.n_targets and p.continues == a.continues for p in parts)


def test_keys_modes_and_transposition(data):
    tok = data.tokenizer
    s = medley(data, batch_size=24, medley_tokens=32)
    assert s.stream_windows == 1 and not any(s.batch(i).continues for i in range(3))
    keys = [tok.key_of(row) for i in range(20) for row in s.batch(i).inputs.numpy()]
    assert {k.mode for k in keys} == {"major", "minor"}
    counts = np.bincount([k.tonic for k in keys], minlength=12)
    assert counts.min() > 0.4 * counts.mean()                            # all 12 tonics, roughly uniform
    only = medley(data, medley_modes="minor", batch_size=8)
    assert {tok.key_of(r).mode for r in only.batch(0).inputs.numpy()} == {"minor"}
    plain = medley(data, transpose=False, batch_size=8)
    b = plain.batch(0)
    for row, t, shift in zip(b.inputs.numpy(), b.tunes, b.shifts):
        assert shift == 0 and tok.key_of(row) == tok.key_of(data.tune(t))


def test_mode_weights_draw_modes_by_their_tokens_or_equally(data):
    tok = data.tokenizer
    major = minor = 0
    for t in data.splits["train"]:
        body = len(data.tune(t)) - HEADER
        mode = tok.key_of(data.tune(t)).mode
        major += body * (mode == "major")
        minor += body * (mode == "minor")
    assert minor < 0.8 * major                                           # the corpus is not balanced
    share = {}
    for weights in ("tokens", "equal"):
        s = medley(data, batch_size=50, medley_tokens=32, medley_mode_weights=weights)
        modes = [tok.key_of(row).mode for i in range(40) for row in s.batch(i).inputs.numpy()]
        share[weights] = modes.count("minor") / len(modes)               # 2,000 streams
    assert abs(share["tokens"] - minor / (major + minor)) < 0.04
    assert abs(share["equal"] - 0.5) < 0.04
    assert medley(data, medley_mode_weights="equal").state_dict()["medley_mode_weights"] == "equal"
    assert "medley_mode_weights" not in medley(data).state_dict()        # runs from before the option resume
    with pytest.raises(ConfigError, match="data.medley_mode_weights 'even' is not one of tokens, equal"):
        medley(data, medley_mode_weights="even")
    with pytest.raises(ConfigError, match="medley_mode_weights"):
        config_from_dict({"data": {"mode": "medley", "medley_mode_weights": "even"}})


def test_tunes_that_leave_the_pitch_range_are_moved_an_octave_or_left_out(tmp_path):
    tok = open_dataset(make_dataset(tmp_path / "ref", n_tunes=4)).tokenizer
    lo, hi = tok.pitch_range                                            # 48, 84
    C, G = tok.key_id(Key(0, "major")), tok.key_id(Key(7, "major"))

    def tune(key: int, *pitches: int) -> np.ndarray:
        body = [x for p in pitches for x in (tok.ids[f"PITCH_{p}"], tok.ids["DUR_12"])]
        return np.r_[tok.bos_id, key, tok.meter_base, tok.bar_id, body, tok.eos_id]

    tunes = [tune(C, hi - 1, hi),            # B C at the top: only downwards, except in C
             tune(G, lo, hi),                # C .. C spanning the whole range: fits only in G
             tune(G, lo + 2, lo + 4)]        # D E at the bottom: only upwards, except in G
    data = open_dataset(write_dataset(tmp_path / "d", tunes, tok, {"train": [0, 1, 2], "valid": [0]}))
    s = WindowSampler(data, window=8, batch_size=48, mode="medley", medley_tokens=16, seed=0,
                      medley_modes="major")
    rows = stream(s, 0)
    assert rows.shape == (48, 17) and not np.any(rows == tok.pad_id)
    wide = 0
    for row in rows:
        key = tok.key_of(row)
        pitch = tok.pitch_of[row][tok.pitch_of[row] >= 0]
        assert lo <= pitch.min() and pitch.max() <= hi
        assert set(((pitch - key.tonic) % 12).tolist()) <= {11, 0, 5, 7, 9}   # each tune moved into the key
        for seg in tune_segments(row, tok.eos_id):
            p = tok.pitch_of[seg][tok.pitch_of[seg] >= 0]
            if p.max() - p.min() == hi - lo:
                wide += 1
                assert key.tonic == 7                                   # the wide tune only where it fits
    assert wide > 0
    assert len({tok.key_of(row).tonic for row in rows}) == 12


def test_a_mode_with_too_few_tunes_is_one_clear_error(data, tmp_path):
    with pytest.raises(DataError, match=r"split 'train' .* 0 dorian tunes .*drop dorian from data.medley_modes"):
        medley(data, medley_modes="major,dorian")
    with pytest.raises(DataError, match=r"split 'valid' .*major tunes .*lower data.medley_tokens"):
        medley(data, "valid", medley_tokens=5000)
    with pytest.raises(ConfigError, match="locrain"):
        medley(data, medley_modes="locrain")
    with pytest.raises(ConfigError, match="data.mode 'medly' is not one of window, tune, medley"):
        WindowSampler(data, mode="medly")
    with pytest.raises(ConfigError, match="train.carry_state needs data.mode=medley"):
        config_from_dict({"train": {"carry_state": True}})
    with pytest.raises(ConfigError, match="data.medley_modes"):
        config_from_dict({"data": {"mode": "medley", "medley_modes": "major,blues"}})
    cfg = config_from_dict({"data": {"mode": "medley", "medley_modes": "all"}, "train": {"carry_state": True}})
    assert cfg.data.medley_tokens == 4096 and cfg.train.carry_state
    assert len(MODES) == 7


def test_cli_reports_a_too_small_mode_in_one_line(data, capsys):
    from musicgate.cli import main
    from synthetic_data import REPO

    rc = main(["-q", "train", str(REPO / "configs" / "tiny.yaml"), "--set", f"data.dataset={data.path}",
               "--set", "data.mode=medley", "--set", "data.medley_modes=mixolydian", "--set", "train.carry_state=true",
               "--run-dir", str(data.path.parent / "run"), "--device", "cpu"])
    err = capsys.readouterr().err
    assert rc == 2 and "mixolydian" in err and err.count("\n") == 1


def test_long_configs_match_the_shipped_models_and_carry_state():
    from musicgate.nn.models import RecurrentLM, count_params
    from musicgate.tokens.tokenizer import make_tokenizer
    from musicgate.train.config import load_config
    from musicgate.train.loop import resolve_model_args
    from synthetic_data import REPO

    vocab = len(make_tokenizer("melody", pitch_range=(21, 108)))
    counts = {}
    for cell in ("rnn", "lstm", "gru", "mingru", "minlstm"):
        long = load_config(REPO / "configs" / f"folk-{cell}-long.yaml")
        short = load_config(REPO / "configs" / f"folk-{cell if cell in ('rnn', 'lstm', 'gru') else 'lstm'}.yaml")
        assert long.model.cell == cell                                         # the same model, trained long
        # the same model (the min cells keep their own gate initialisation)
        assert dataclasses.replace(long.model, cell=short.model.cell, init=short.model.init) == short.model
        assert long.model.init == (short.model.init if cell in ("rnn", "lstm", "gru") else "default")
        assert (long.data.mode, long.data.window, long.data.medley_tokens) == ("medley", 256, 4096)
        assert long.train.carry_state and long.train.batch_size == short.train.batch_size
        assert long.train.eval_batches % (long.data.medley_tokens // long.data.window) == 0  # whole streams
        counts[cell] = count_params(RecurrentLM(**resolve_model_args(long.model, vocab)))
    assert max(counts.values()) / min(counts.values()) < 1.02
