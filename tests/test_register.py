"""Each generated piece in its training tunes' octave: ``octave_shift`` and ``generate``'s placement."""
from __future__ import annotations

import importlib
import json

import numpy as np
import pytest
import torch
from hypothesis import given, strategies as st

from musicgate.cli import main
from musicgate.music.notes import Notes
from musicgate.nn.checkpoint import make_checkpoint, save_checkpoint
from musicgate.nn.models import RecurrentLM
from musicgate.tokens.tokenizer import make_tokenizer
from tests.test_generate import d_major_primer

gen = importlib.import_module("musicgate.generation.api")


def melody(pitch) -> Notes:
    return Notes.from_arrays(pitch, np.arange(len(pitch)) * 0.5, [0.5] * len(pitch), key="D major", meter=(6, 8))


@pytest.mark.parametrize("pitch, register, shift", [
    ([55, 57, 59, 62], 70, 12),        # median 58: up an octave to 70
    ([79, 83, 86, 88], 70, -12),       # median 84.5: down to 72.5
    ([43, 45, 47], 70, 24),            # median 45: two octaves up
    ([64, 65, 67], 70, 0),             # median 65: an octave up would be 77, further
    ([58, 60, 62, 64], 70, 12),        # median 61: 73 is nearer than 61
    ([61, 63, 65, 67], 70, 0),         # median 64 against 76: a tie stays where it is
])
def test_the_shift_brings_the_median_nearest_the_register(pitch, register, shift):
    assert gen.octave_shift(melody(pitch), register) == shift


def test_the_shift_keeps_every_pitch_inside_the_range():
    tune = melody([40, 41, 42, 84])   # median 41.5; +24 would put 84 at 108
    assert gen.octave_shift(tune, 70) == 24
    assert gen.octave_shift(tune, 70, (21, 100)) == 12
    assert gen.octave_shift(tune, 70, (40, 84)) == 0   # no room at all
    assert gen.octave_shift(Notes.empty(), 70) == 0


@given(st.lists(st.integers(30, 100), min_size=1, max_size=40), st.integers(50, 90))
def test_a_placed_tune_is_within_six_semitones_of_the_register_when_the_range_allows(pitch, register):
    tune = melody(pitch)
    shift = gen.octave_shift(tune, register, (0, 127))
    assert shift % 12 == 0
    moved = tune.transpose(shift)
    if min(pitch) + shift - 12 >= 0 and max(pitch) + shift + 12 <= 127:  # room to move both ways
        assert abs(float(np.median(moved.pitch)) - register) <= 6
    assert moved.key == tune.key and np.array_equal(np.diff(moved.pitch), np.diff(tune.pitch))


# -- generate ----------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def registered(tmp_path_factory):
    """A little melody model that plays low (its head favours pitches 33-45) whose checkpoint records a
    register (A4 = 69), and the same model without one."""
    folder = tmp_path_factory.mktemp("reg")
    tok = make_tokenizer("melody", pitch_range=(21, 108))
    torch.manual_seed(0)
    model = RecurrentLM(vocab_size=len(tok), cell="gru", hidden=16, layers=1)
    with torch.no_grad():
        low = (tok.pitch_of >= 33) & (tok.pitch_of <= 45)
        model.head.bias[torch.as_tensor(low)] += 6.0
    out = {}
    for name, dataset in (("with", {"name": "t", "register": {"median": 69.0, "lo": 62.0, "hi": 76.0}}),
                          ("without", {"name": "t"})):
        payload = make_checkpoint(model=model, config={"model": {"cell": "gru"}}, tokenizer=tok, dataset=dataset,
                                  step=0, best_val_loss=None)
        out[name] = str(save_checkpoint(payload, folder / f"{name}.pt"))
    return out


def test_generated_pieces_are_moved_into_the_register(registered):
    placed = gen.generate_run(registered["with"], key="G", num=12, seed=3, length=40)
    kept = gen.generate_run(registered["with"], key="G", num=12, seed=3, length=40, keep_octave=True)
    shifts = placed.settings["octave_shift"]
    assert placed.settings["register"] == 69.0 and kept.settings["octave_shift"] is None
    assert kept.settings["keep_octave"] is True and placed.settings["keep_octave"] is False
    assert all(s >= 12 for s in shifts)  # low tunes moved up
    for a, b, s in zip(placed.notes, kept.notes, shifts):
        assert s % 12 == 0 and np.array_equal(a.pitch, b.pitch + s) and np.array_equal(a.onset, b.onset)
        assert a.key == b.key and a.meter == b.meter and a.bars == b.bars
        assert abs(np.median(a.pitch) - 69) <= 6 or abs(np.median(b.pitch) - 69) <= abs(np.median(a.pitch) - 69)
    assert [len(n) for n in placed.notes] == [len(n) for n in kept.notes]


def test_no_register_or_a_primer_leaves_the_octave(registered):
    none = gen.generate_run(registered["without"], key="G", num=3, seed=3, length=30)
    assert none.settings["register"] is None and none.settings["octave_shift"] is None
    primed = gen.generate_run(registered["with"], primer=d_major_primer(), num=3, seed=3, length=30)
    assert primed.settings["octave_shift"] is None  # the primer sets the register
    assert primed.notes[0].pitch[:11].tolist() == d_major_primer().pitch.tolist()


def test_the_shipped_models_tunes_sit_where_folk_tunes_do():
    run = gen.generate_run("folk-gru", key="G major", num=24, seed=1)
    lo, hi = run.settings["register"] - 6, run.settings["register"] + 6
    assert all(lo <= np.median(n.pitch) <= hi for n in run.notes)
    kept = gen.generate_run("folk-gru", key="G major", num=24, seed=1, keep_octave=True)
    assert sum(not lo <= np.median(n.pitch) <= hi for n in kept.notes) >= 4  # as the model writes them


def test_cli_reports_and_records_the_octave(registered, tmp_path, capsys):
    out = tmp_path / "o"
    assert main(["generate", "--model", registered["with"], "--key", "G", "--num", "6", "--seed", "3",
                 "--length", "40", "-o", str(out)]) == 0
    text = capsys.readouterr().out
    record = json.loads((out / "with_G-major_3.json").read_text())
    moved = [i for i, s in enumerate(record["octave_shift"]) if s]
    assert moved and f"octave: piece(s) {moved[0]} (" in text and "--keep-octave leaves them" in text
    assert main(["generate", "--model", registered["with"], "--key", "G", "--num", "6", "--seed", "3",
                 "--length", "40", "-o", str(out), "--keep-octave"]) == 0
    assert "octave:" not in capsys.readouterr().out
    assert json.loads((out / "with_G-major_3.json").read_text())["keep_octave"] is True
