"""Key keepers (the per-unit held-out key read-out), per-note gate columns, and their pictures."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from musicgate.analysis.keykeeper import key_keepers
from musicgate.errors import ParameterError
from musicgate.music.notes import Notes
from musicgate.tokens.tokenizer import make_tokenizer
from musicgate.viz.gates import memory_value, note_groups, panel_label, per_note
from musicgate.viz.keykeeper import keykeeper_figure
from musicgate.viz.plots import bar_starts


def synthetic_states(seed: int = 0, tunes: int = 6, n: int = 40, hidden: int = 10):
    """Unit 3 holds the key all tune long; unit 7 holds it for 5 notes and then forgets; the rest is noise."""
    rng = np.random.default_rng(seed)
    keys = ["D major", "A minor", "G mixolydian"]
    labels = [k for k in keys for _ in range(tunes)]
    states = rng.normal(0, 1, (len(labels), n, hidden))
    level = np.array([keys.index(k) for k in labels], float)
    states[:, :, 3] = level[:, None] * 3 + rng.normal(0, 0.1, (len(labels), n))
    states[:, :5, 7] = level[:, None] * 3
    return states, labels


def test_the_unit_that_holds_the_key_is_found_and_the_forgetful_one_is_at_chance():
    states, labels = synthetic_states()
    kk = key_keepers(states, labels, top=3, skip=8)
    assert kk.units[0] == 3 and kk.accuracy[3] == 1.0 and kk.best == 1.0
    assert kk.chance == pytest.approx(1 / 3) and kk.keys == ["D major", "A minor", "G mixolydian"]
    assert kk.accuracy[7] < 0.6  # it knew the key for 5 notes only: left out of the score (skip 8)
    noise = np.delete(kk.accuracy, [3])
    assert abs(noise.mean() - 1 / 3) < 0.1
    assert kk.by_note.shape == (3, 40) and np.all(kk.by_note[0] == 1.0)


def test_the_score_is_held_out():
    """A unit whose value differs per tune but not per key cannot score by memorising tunes."""
    rng = np.random.default_rng(1)
    states, labels = synthetic_states(seed=1)
    states[:, :, 5] = rng.normal(0, 5, (len(labels), 1))  # constant per tune, random across tunes
    kk = key_keepers(states, labels)
    assert kk.accuracy[5] < 0.7


def test_bad_key_keeper_input():
    states, labels = synthetic_states()
    with pytest.raises(ParameterError, match="two keys with two tunes"):
        key_keepers(states[:1], labels[:1])
    with pytest.raises(ParameterError, match="labels"):
        key_keepers(states, labels[:-1])
    with pytest.raises(ParameterError, match="tunes, notes, units"):
        key_keepers(states[0], labels)


@settings(max_examples=30, deadline=None)
@given(st.lists(st.integers(0, 238), max_size=80))
def test_per_note_columns_average_each_notes_tokens(ids):
    tok = make_tokenizer("melody", pitch_range=(48, 84), form=False)
    ids = np.array(ids, np.int64)
    index = tok.note_index(ids)
    values = np.arange(len(ids), dtype=float)[:, None] * np.array([1.0, -2.0])
    n = int(index[-1]) + 1 if len(ids) else 0
    mean, last = per_note(values, index), per_note(values, index, how="last")
    assert mean.shape == last.shape == (n, 2)
    groups = note_groups(index)
    for i in range(n):
        steps = np.flatnonzero(groups == i)
        assert len(steps) and index[steps[-1]] == i  # the note's last step completes it
        np.testing.assert_allclose(mean[i], values[steps].mean(axis=0))
        np.testing.assert_allclose(last[i], values[steps[-1]])


def test_memory_and_keep_labels_come_from_the_registry():
    assert memory_value("lstm") == "cell_state" and memory_value("gru") == "h" and memory_value("rnn") == "h"
    assert panel_label("lstm", "forget_gate").endswith("(keep)")
    assert panel_label("gru", "update_gate").endswith("(keep)")
    assert "(keep)" not in panel_label("lstm", "input_gate") and "(keep)" not in panel_label("rnn", "h")


def test_bar_lines_on_the_note_axis():
    notes = Notes.from_arrays([60, 62, 64, 65, 67], [0, 2, 4, 5, 8], [2, 2, 1, 3, 4], meter=(4, 4))
    assert bar_starts(notes).tolist() == [2, 4]  # bars at beats 4 and 8


@pytest.mark.parametrize("cell,gated", [("gru", True), ("rnn", False)])
def test_keykeeper_picture(tmp_path, cell, gated):
    from PIL import Image

    states, labels = synthetic_states(n=12)
    kk = key_keepers(states, labels, top=2)
    by_key = {k: states[[i for i, x in enumerate(labels) if x == k]] for k in kk.keys}
    notes = Notes.from_arrays(np.arange(60, 72), np.arange(12.0), np.ones(12), meter=(3, 4))
    keep = np.full((12, 10), 0.9) if gated else None
    path = keykeeper_figure(notes, cell=cell, key="D major", units=kk.units, accuracy=kk.accuracy, states=by_key,
                            keep=keep, path=tmp_path / "kk.png", chance=kk.chance)
    assert Image.open(path).size == (1200, int(round(100 * (2.3 + 1.55 * 2))))
    with pytest.raises(ParameterError, match="no states"):
        keykeeper_figure(notes, cell=cell, key="E minor", units=kk.units, accuracy=kk.accuracy, states=by_key,
                         keep=keep, path=tmp_path / "x.png", chance=kk.chance)
