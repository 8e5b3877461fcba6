"""Event vocabulary with instruments (``programs=True``): PROGRAM and DRUM tokens keep every note of a
multitrack file that the grid can keep, the round trip stays exact, drums do not transpose, and the
grammar (and the sampler that uses it) only makes sequences that decode."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from musicgate.errors import TokenizerError
from musicgate.generation.sample import sample
from musicgate.music.keys import MODES, Key
from musicgate.music.midi import read_midi
from musicgate.music.notes import DRUM_PROGRAM, Notes
from musicgate.tokens.tokenizer import load_tokenizer, make_tokenizer

TOK = make_tokenizer("event", programs=True)
SMALL = make_tokenizer("event", programs=True, grid=4, pitch_range=(36, 84), velocity_bins=8, max_shift_beats=1)


@st.composite
def band_strategy(draw, pitch_range=(0, 127)):
    """Notes of a few instruments (drums included) on few pitches, so unisons across instruments are common."""
    n = draw(st.integers(0, 40))
    lo, hi = pitch_range
    pitches = st.integers(lo, hi) | st.sampled_from([lo, min(lo + 24, hi), hi])
    pitch = draw(st.lists(pitches, min_size=n, max_size=n))
    onset = draw(st.lists(st.sampled_from([0, 0.5, 1, 1.01, 2]) | st.floats(0, 16, allow_nan=False),
                          min_size=n, max_size=n))
    duration = draw(st.lists(st.floats(-1, 6, allow_nan=False), min_size=n, max_size=n))
    velocity = draw(st.lists(st.integers(1, 127), min_size=n, max_size=n))
    program = draw(st.lists(st.sampled_from([DRUM_PROGRAM, 0, 1, 30, 127]), min_size=n, max_size=n))
    track = draw(st.lists(st.integers(0, 3), min_size=n, max_size=n))
    key = draw(st.none() | st.builds(Key, st.integers(0, 11), st.sampled_from(MODES)))
    return Notes.from_arrays(pitch, onset, duration, velocity, program=program, track=track, key=key, meter=(4, 4))


def voices(notes: Notes, grid: int) -> set:
    """The distinct (program, pitch, onset step) of some notes."""
    on = np.rint(notes.onset * grid).astype(int)
    return set(zip(notes.program.tolist(), notes.pitch.tolist(), on.tolist()))


@pytest.mark.parametrize("tok", [TOK, SMALL], ids=["grid12", "grid4-small"])
@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_round_trip_with_programs_is_exact_and_keeps_every_voice(tok, data):
    notes = data.draw(band_strategy(tok.pitch_range))
    ids = tok.encode(notes)
    q = tok.quantize(notes)
    assert tok.decode(ids) == q
    assert tok.quantize(q) == q  # a projection
    assert tok.grammar().is_valid(ids)
    # Nothing merges but notes of one instrument at one pitch and grid step; drums are one-step hits.
    assert voices(q, tok.grid) == voices(notes, tok.grid)
    assert len(q) == len(voices(notes, tok.grid))
    assert np.all(q.duration[q.program == DRUM_PROGRAM] == 1 / tok.grid)
    assert np.all(q.track == 0)


def test_unisons_of_two_instruments_stay_two_notes():
    n = Notes.from_arrays([60, 60, 60], [0, 0, 0], [1, 0.5, 2], [100, 100, 100], program=[0, 40, 0])
    assert len(make_tokenizer("event").quantize(n)) == 1
    q = TOK.quantize(n)
    assert sorted(zip(q.program.tolist(), q.duration.tolist())) == [(0, 2.0), (40, 0.5)]


def test_program_tokens_read_as_documented():
    # Piano (program 0, the state before any PROGRAM token) and violin (40) on one pitch, a bass drum.
    n = Notes.from_arrays([60, 60, 36], [0, 0, 0], [1, 0.5, 3], [100, 100, 100], program=[0, 40, DRUM_PROGRAM],
                          key="C minor")
    words = [TOK.vocab[i] for i in TOK.encode(n)]
    assert words == ["BOS", "KEY_C_minor", "METER_unknown", "VEL_25", "DRUM_36", "NOTE_ON_60", "PROGRAM_40",
                     "NOTE_ON_60", "SHIFT_6", "NOTE_OFF_60", "SHIFT_6", "PROGRAM_0", "NOTE_OFF_60", "EOS"]


def test_every_other_step_lists_programs_high_to_low():
    # Two instruments playing together: step 0 goes 0 -> 33, step 1 goes 33 -> 0, and so on, so
    # each step starts with the program the one before ended with.
    n = Notes.from_arrays([40, 60] * 3, np.repeat([0, 1, 2], 2), [1] * 6, [100] * 6, program=[33, 0] * 3)
    words = [TOK.vocab[i] for i in TOK.encode(n)][4:-1]
    assert words == ["NOTE_ON_60", "PROGRAM_33", "NOTE_ON_40", "SHIFT_12",
                     "NOTE_OFF_40", "NOTE_ON_40", "PROGRAM_0", "NOTE_OFF_60", "NOTE_ON_60", "SHIFT_12",
                     "NOTE_OFF_60", "NOTE_ON_60", "PROGRAM_33", "NOTE_OFF_40", "NOTE_ON_40", "SHIFT_12",
                     "NOTE_OFF_40", "PROGRAM_0", "NOTE_OFF_60"]


def test_decode_rule_with_programs_on_hand_written_tokens():
    # A NOTE_OFF ends the note of its pitch in the current program only; DRUM tokens are one-step
    # hits whatever the program; notes left sounding end at the last time.
    words = ["BOS", "KEY_D_major", "METER_3/4", "NOTE_ON_60", "PROGRAM_40", "NOTE_ON_60", "SHIFT_3",
             "NOTE_OFF_60", "SHIFT_3", "PROGRAM_0", "NOTE_OFF_60", "DRUM_36", "PROGRAM_127", "NOTE_ON_72",
             "SHIFT_2", "EOS"]
    n = TOK.decode([TOK.ids[w] for w in words])
    got = sorted(zip(n.program.tolist(), n.pitch.tolist(), (n.onset * 12).round().tolist(),
                     (n.duration * 12).round().tolist()))
    assert got == [(DRUM_PROGRAM, 36, 6, 1), (0, 60, 0, 6), (40, 60, 0, 3), (127, 72, 6, 2)]


def test_without_programs_the_vocabulary_and_config_are_as_before(tmp_path):
    plain, full = make_tokenizer("event"), TOK
    assert full.vocab[:len(plain)] == plain.vocab  # old ids keep their meaning
    assert "programs" not in plain.config and full.config["programs"] is True
    assert load_tokenizer({k: v for k, v in plain.config.items()}) == plain  # configs saved before load as before
    back = load_tokenizer(full.save(tmp_path / "tok.json"))
    assert back == full and back.programs and back.fingerprint == full.fingerprint
    assert back.fingerprint != plain.fingerprint
    with pytest.raises(TokenizerError, match="programs must be true or false"):
        make_tokenizer("event", programs="yes")


def test_a_program_outside_general_midi_is_a_clear_error():
    for bad in (128, -2):
        with pytest.raises(TokenizerError, match=f"program {bad} is neither"):
            TOK.encode(Notes.from_arrays([60, 62], [0, 1], [1, 1], program=[0, bad]))


def test_one_instrument_at_program_zero_encodes_as_without_programs():
    n = Notes.from_arrays([60, 64, 67], [0, 0.5, 1], [1, 1, 1], [80, 90, 100], key="G major")
    assert np.array_equal(TOK.encode(n), make_tokenizer("event").encode(n))


def test_transpose_moves_pitched_notes_not_drums():
    n = Notes.from_arrays([60, 64, 36, 42], [0, 1, 0, 1], [1, 1, 1, 1], program=[0, 30, DRUM_PROGRAM, DRUM_PROGRAM],
                          key="A dorian")
    ids = TOK.encode(n)
    up = TOK.transpose(ids, 5)
    assert TOK.decode(up) == TOK.quantize(n.transpose(5))
    drums = TOK.decode(up).program == DRUM_PROGRAM
    assert sorted(TOK.decode(up).pitch[drums].tolist()) == [36, 42]
    assert np.array_equal(TOK.transpose(up, -5), ids)
    # A drum at the top of the range does not limit the shifts: only pitched notes do.
    high = TOK.encode(Notes.from_arrays([60, 127], [0, 0], [1, 1], program=[0, DRUM_PROGRAM]))
    assert TOK.shift_range(high) == (-11, 11)


def test_grammar_tracks_voices_per_program():
    g = TOK.grammar()
    prefix = ["BOS", "KEY_unknown", "METER_unknown", "NOTE_ON_60", "PROGRAM_40", "NOTE_ON_60", "DRUM_36"]
    state = g.start(1, prefix=np.array([[TOK.ids[w] for w in prefix]]))
    mask = g.allowed(state)[0]
    allowed = {w for w in ("NOTE_ON_60", "NOTE_OFF_60", "PROGRAM_40", "PROGRAM_0", "DRUM_36", "DRUM_38", "EOS")
               if mask[TOK.ids[w]]}
    assert allowed == {"PROGRAM_0", "DRUM_38"}  # 60 sounds in 40 (too fresh to end); 36 was hit this step
    g.advance(state, [TOK.ids["PROGRAM_0"]])
    mask = g.allowed(state)[0]
    assert not mask[TOK.ids["NOTE_ON_60"]] and not mask[TOK.ids["PROGRAM_40"]]  # no two changes in a row
    g.advance(state, [TOK.ids["SHIFT_1"]])
    mask = g.allowed(state)[0]
    assert mask[TOK.ids["NOTE_OFF_60"]] and mask[TOK.ids["DRUM_36"]] and not mask[TOK.eos_id]
    # Program 0's note ends: 40's still sounds, so EOS waits, and closing points at PROGRAM_40.
    g.advance(state, [TOK.ids["NOTE_OFF_60"]])
    assert not g.allowed(state)[0, TOK.eos_id]
    assert np.flatnonzero(g.closing(state)[0]).tolist() == [TOK.ids["PROGRAM_40"]]
    for w in ("PROGRAM_40", "NOTE_OFF_60"):
        g.advance(state, [TOK.ids[w]])
    assert g.allowed(state)[0, TOK.eos_id]


def test_random_grammar_walks_with_programs_decode_to_notes_on_the_vocabulary():
    rng = np.random.default_rng(1)
    for tok in (TOK, SMALL):
        g, batch = tok.grammar(), 12
        state = g.start(batch)
        seqs = np.full((batch, 1), tok.bos_id)
        for _ in range(400):
            mask = g.allowed(state)
            assert mask.any(axis=1).all()
            logits = rng.normal(size=mask.shape)
            logits[:, tok.eos_id] -= 4
            choice = np.argmax(np.where(mask, logits, -np.inf), axis=1)
            g.advance(state, choice)
            seqs = np.concatenate((seqs, choice[:, None]), axis=1)
        assert len(set(state.program.tolist())) > 1
        for s in seqs:
            assert g.is_valid(s)
            notes = tok.decode(s)
            assert (notes.program != 0).any()
            assert tok.quantize(notes) == notes  # the grammar allows nothing the vocabulary would change
            assert tok.decode(tok.encode(notes)) == notes


class RandomLogits(torch.nn.Module):
    """A stand-in model with random logits."""

    def __init__(self, vocab: int, seed: int) -> None:
        super().__init__()
        self.anchor = torch.nn.Parameter(torch.zeros(1))
        self.vocab, self.gen = vocab, torch.Generator().manual_seed(seed)

    def forward(self, ids, state=None):
        b, t = ids.shape
        return torch.randn(b, t, self.vocab, generator=self.gen) * 3, torch.zeros(1, b, 1)

    def step(self, token, state):
        return torch.randn(token.shape[0], self.vocab, generator=self.gen) * 3, state


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_sampled_sequences_with_programs_end_and_decode(seed):
    # Random logits jump between programs all the time; when a sequence has its notes, the sampler
    # must close the notes of every program (switching program to reach them) before EOS.
    g = TOK.grammar()
    seqs = sample(RandomLogits(len(TOK), seed), TOK, keys=[None] * 6, length=20, seed=seed)
    for s in seqs:
        assert s[-1] == TOK.eos_id and g.is_valid(s)
        notes = TOK.decode(s)
        assert TOK.decode(TOK.encode(notes)) == notes
        assert np.count_nonzero(np.isin(s, np.arange(TOK.on_base, TOK.on_base + TOK.n_pitch))) == 20


def test_every_real_file_round_trips_with_programs_and_drums(shared_midi):
    files = [f for f in sorted(shared_midi.glob("*/*.mid")) if f.parent.name != "corrupted"]
    assert files
    g = TOK.grammar()
    for f in files:
        notes = read_midi(f, drums=True)
        ids = TOK.encode(notes)
        assert TOK.decode(ids) == TOK.quantize(notes), f.name
        if f.parent.name == "multitrack":
            assert voices(TOK.quantize(notes), TOK.grid) == voices(notes, TOK.grid), f.name
            assert g.is_valid(ids), f.name


def test_in_too_deep_keeps_every_instrument(shared_midi):
    path = shared_midi / "multitrack" / "In Too Deep.mid"
    if not path.exists():
        pytest.skip(f"{path} is absent")
    notes = read_midi(path)
    off, on = make_tokenizer("event").quantize(notes), TOK.quantize(notes)
    assert len(notes) == 3774 and len(off) == 1966  # without programs, unisons across instruments merge
    # With programs only doubled parts merge (tracks 2, 4 and 8 double tracks 1, 3 and 7 on the same
    # programs, 1/60 beat later): every (program, pitch, grid step) stays.
    assert len(on) == len(voices(notes, 12)) == 2464
