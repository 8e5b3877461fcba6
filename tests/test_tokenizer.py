"""Tokenizers: exact round trip on the grid (property tests and real files), transposition,
grammar, persistence and bad input."""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from musicgate.errors import TokenizerError
from musicgate.music.keys import MODES, Key
from musicgate.music.midi import read_midi
from musicgate.music.notes import Notes
from musicgate.tokens.tokenizer import MELODY_VELOCITY, METERS, load_tokenizer, make_tokenizer

TOKENIZERS = [make_tokenizer("melody"), make_tokenizer("event"),
              make_tokenizer("melody", grid=4, pitch_range=(48, 84), max_beats=4),
              make_tokenizer("event", grid=8, velocity_bins=16, max_shift_beats=1),
              make_tokenizer("melody", form=False), make_tokenizer("event", programs=True)]
IDS = [f"{t.kind}-grid{t.grid}" + ("-noform" if getattr(t, "form", True) is False else "")
       + ("-programs" if getattr(t, "programs", False) else "") for t in TOKENIZERS]
BAR_KIND_LIST = ["|", "|", "|", "|:", ":|", "|1", "|2", "||"]


@st.composite
def notes_strategy(draw, pitch_range=(0, 127)):
    n = draw(st.integers(0, 40))
    pitch = draw(st.lists(st.integers(*pitch_range), min_size=n, max_size=n))
    onset = draw(st.lists(st.floats(0, 64, allow_nan=False), min_size=n, max_size=n))
    duration = draw(st.lists(st.floats(-1, 12, allow_nan=False), min_size=n, max_size=n))
    velocity = draw(st.lists(st.integers(1, 127), min_size=n, max_size=n))
    key = draw(st.none() | st.builds(Key, st.integers(0, 11), st.sampled_from(MODES)))
    meter = draw(st.none() | st.sampled_from([(3, 4), (6, 8), (4, 4), (5, 16)]))
    meters = draw(st.lists(st.tuples(st.floats(0.5, 64), st.sampled_from([(2, 4), (3, 8), (4, 4)])), max_size=2))
    bars = draw(st.lists(st.tuples(st.floats(-1, 70, allow_nan=False), st.sampled_from(BAR_KIND_LIST)), max_size=12)
                | st.just([]))
    return Notes.from_arrays(pitch, onset, duration, velocity, key=key, meter=meter,
                             meters=[(b, n, d) for b, (n, d) in meters] if meter else (), bars=bars)


@pytest.mark.parametrize("tok", TOKENIZERS, ids=IDS)
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_round_trip_is_exact_on_the_grid(tok, data):
    notes = data.draw(notes_strategy(tok.pitch_range))
    ids = tok.encode(notes)
    assert tok.decode(ids) == tok.quantize(notes)
    assert tok.quantize(tok.quantize(notes)) == tok.quantize(notes)  # quantize is a projection
    assert tok.grammar().is_valid(ids)


@pytest.mark.parametrize("tok", TOKENIZERS[:2], ids=IDS[:2])
def test_round_trip_on_every_real_file(tok, shared_midi):
    files = sorted(shared_midi.glob("*/*.mid"))
    files = [f for f in files if f.parent.name != "corrupted"]
    for f in files:
        notes = read_midi(f)
        assert tok.decode(tok.encode(notes)) == tok.quantize(notes), f.name


def test_melody_tokens_read_as_documented():
    n = Notes.from_arrays([62, 66], [0, 2], [1, 2.5], key="D major", meter=(3, 4))
    words = [make_tokenizer("melody", form=False).vocab[i] for i in make_tokenizer("melody", form=False).encode(n)]
    assert words == ["BOS", "KEY_D_major", "METER_3/4", "BAR", "PITCH_62", "DUR_12", "REST", "DUR_12",
                     "PITCH_66", "DUR_30", "EOS"]
    tok = make_tokenizer("melody")  # form: the note across the bar line is tied there
    words = [tok.vocab[i] for i in tok.encode(n)]
    assert words == ["BOS", "KEY_D_major", "METER_3/4", "BAR", "PITCH_62", "DUR_12", "REST", "DUR_12",
                     "PITCH_66", "DUR_12", "BAR", "TIE", "DUR_18", "EOS"]
    assert tok.decode(tok.encode(n)).duration.tolist() == [1.0, 2.5]


def test_rests_split_at_bar_lines():
    tok = make_tokenizer("melody")
    n = Notes.from_arrays([60, 62], [0, 9], [1, 1], meter=(4, 4))
    words = [tok.vocab[i] for i in tok.encode(n)][3:-1]
    assert words == ["BAR", "PITCH_60", "DUR_12", "REST", "DUR_36", "BAR", "REST", "DUR_48", "BAR", "REST",
                     "DUR_12", "PITCH_62", "DUR_12"]


def test_event_tokens_read_as_documented():
    tok = make_tokenizer("event", velocity_bins=32)
    n = Notes.from_arrays([60, 64], [0, 0], [1, 0.5], [100, 100], key="C minor")
    words = [tok.vocab[i] for i in tok.encode(n)]
    assert words == ["BOS", "KEY_C_minor", "METER_unknown", "VEL_25", "NOTE_ON_60", "NOTE_ON_64", "SHIFT_6",
                     "NOTE_OFF_64", "SHIFT_6", "NOTE_OFF_60", "EOS"]


def test_event_decode_follows_the_rule_on_hand_written_tokens():
    # A NOTE_ON ends at the next event of its pitch; one left sounding ends at the last time; notes
    # take the last VEL before them (the middle bin before any); each lasts one step at least.
    tok = make_tokenizer("event", velocity_bins=32)
    words = ["BOS", "KEY_D_major", "METER_3/4", "NOTE_ON_60", "SHIFT_3", "NOTE_ON_60", "VEL_31", "NOTE_ON_67",
             "NOTE_OFF_67", "SHIFT_12", "NOTE_OFF_60", "NOTE_OFF_62", "NOTE_ON_64", "SHIFT_1", "EOS"]
    n = tok.decode([tok.ids[w] for w in words])
    assert n.pitch.tolist() == [60, 60, 67, 64]
    assert (n.onset * 12).round().tolist() == [0, 3, 3, 15]
    assert (n.duration * 12).round().tolist() == [3, 12, 1, 1]
    middle, loud = tok.bin_velocity(np.array([16, 31])).tolist()
    assert n.velocity.tolist() == [middle, middle, loud, loud]
    assert n.key == Key(2, "major") and n.meter == (3, 4)


def test_same_pitch_overlap_is_cut_and_duplicates_merge():
    tok = make_tokenizer("event")
    n = Notes.from_arrays([60, 60, 60], [0, 0, 1], [4, 2, 2])
    q = tok.quantize(n)
    assert q.onset.tolist() == [0, 1] and q.duration.tolist() == [1, 2]


def test_zero_and_negative_durations_become_one_grid_step():
    for tok in TOKENIZERS[:2]:
        q = tok.quantize(Notes.from_arrays([60, 62], [0, 1], [0, -3]))
        assert q.duration.tolist() == [1 / 12, 1 / 12]


@pytest.mark.parametrize("tok", TOKENIZERS, ids=IDS)
def test_pitch_outside_range_is_a_clear_error(tok):
    lo, hi = tok.pitch_range
    for p in {lo - 1, hi + 1} & set(range(128)) or {hi + 1}:
        with pytest.raises(TokenizerError, match=f"pitch {p} is outside"):
            tok.encode(Notes.from_arrays([p], [0], [1]))


@pytest.mark.parametrize("tok", TOKENIZERS[:2], ids=IDS[:2])
def test_transpose_moves_pitches_and_key_together(tok):
    n = Notes.from_arrays([60, 64, 67], [0, 1, 2], [1, 1, 1], key="A dorian", meter=(4, 4))
    ids = tok.encode(n)
    up = tok.transpose(ids, 5)
    assert tok.decode(up) == tok.quantize(n.transpose(5))
    assert tok.key_of(up) == Key(2, "dorian")
    assert np.array_equal(tok.transpose(up, -5), ids)
    assert tok.shift_range(ids) == (-11, 11)


def test_transpose_out_of_range_is_refused():
    tok = make_tokenizer("melody", pitch_range=(48, 84))
    ids = tok.encode(Notes.from_arrays([50, 80], [0, 1], [1, 1]))
    assert tok.shift_range(ids) == (-2, 4)
    with pytest.raises(TokenizerError, match="allowed shifts are -2..4"):
        tok.transpose(ids, 5)


@pytest.mark.parametrize("tok", TOKENIZERS, ids=IDS)
def test_random_grammar_walks_always_decode(tok):
    rng = np.random.default_rng(0)
    g = tok.grammar()
    batch = 16
    state = g.start(batch)
    seqs = [[tok.bos_id] for _ in range(batch)]
    for _ in range(300):
        mask = g.allowed(state)
        assert mask.any(axis=1).all()
        logits = rng.normal(size=mask.shape)
        logits[:, tok.eos_id] -= 4  # keep sequences going
        choice = np.argmax(np.where(mask, logits, -np.inf), axis=1)
        g.advance(state, choice)
        for s, c in zip(seqs, choice):
            s.append(int(c))
    for s in seqs:
        assert g.is_valid(s)
        notes = tok.decode(s)
        assert np.all(notes.duration > 0)
        assert tok.decode(tok.encode(notes)) == tok.quantize(notes)


def test_grammar_forbids_what_would_not_decode():
    tok = make_tokenizer("event")
    g = tok.grammar()
    state = g.start(1, prefix=np.array([[tok.bos_id, tok.key_id(None), tok.meter_id(None), tok.ids["NOTE_ON_60"]]]))
    mask = g.allowed(state)[0]
    assert not mask[tok.ids["NOTE_OFF_60"]]  # zero-length note
    assert not mask[tok.ids["NOTE_ON_60"]]  # already sounding
    assert not mask[tok.eos_id]  # a note still sounds
    assert mask[tok.ids["SHIFT_1"]] and mask[tok.ids["NOTE_ON_61"]]


@pytest.mark.parametrize("tok", TOKENIZERS, ids=IDS)
def test_save_and_load(tok, tmp_path):
    path = tok.save(tmp_path / "tok.json")
    back = load_tokenizer(path)
    assert back == tok and back.vocab == tok.vocab and back.fingerprint == tok.fingerprint


def test_load_rejects_other_files(tmp_path):
    (tmp_path / "x.json").write_text("[1, 2]")
    with pytest.raises(TokenizerError, match="not a musicgate tokenizer"):
        load_tokenizer(tmp_path / "x.json")
    with pytest.raises(TokenizerError, match="unknown vocabulary 'remi'"):
        make_tokenizer("remi")


def test_bad_ids_are_refused():
    tok = make_tokenizer("melody")
    with pytest.raises(TokenizerError, match="token id 9999 is not in"):
        tok.decode([1, 9999])


def test_absurd_timing_is_refused_before_allocating():
    tok = make_tokenizer("event")
    with pytest.raises(TokenizerError, match="absurd"):
        tok.encode(Notes.from_arrays([60, 62], [0, 1e9], [1, 1]))


def test_unknown_meter_and_key_tokens():
    tok = make_tokenizer("melody")
    ids = tok.encode(Notes.from_arrays([60], [0], [1], meter=(11, 8)))
    assert tok.vocab[ids[1]] == "KEY_unknown" and tok.vocab[ids[2]] == "METER_unknown"
    assert len(METERS) + 1 == sum(w.startswith("METER_") for w in tok.vocab)


@pytest.mark.filterwarnings("ignore:invalid value encountered in cast")
@pytest.mark.parametrize("tok", TOKENIZERS[:2], ids=IDS[:2])
def test_notes_before_beat_zero_or_without_numbers_are_refused(tok):
    for onset, duration in [(-1, 1), (float("nan"), 1), (0, float("nan"))]:
        with pytest.raises(TokenizerError, match="before beat 0"):
            tok.encode(Notes.from_arrays([60, 62], [onset, 1], [duration, 1]))


def test_absurd_melody_timing_is_refused_before_looping():
    with pytest.raises(TokenizerError, match="absurd"):
        make_tokenizer("melody").encode(Notes.from_arrays([60, 62], [0, 1e9], [1, 1]))


@settings(max_examples=100, deadline=None)
@given(data=st.data())
def test_melody_quantize_is_the_skyline_of_the_notes_on_the_grid(data):
    # Pitches past 127 too: quantize does not check them (encode does), but must still order them right.
    tok = make_tokenizer("melody", form=False)  # form moves a pickup and keeps bar lines: tested in test_form.py
    n = data.draw(notes_strategy((0, 300)))
    line = n.quantize(tok.grid).skyline()
    steps = np.minimum(np.round(line.duration * tok.grid), tok.max_steps)  # back on the grid after the cuts
    expected = Notes.from_arrays(line.pitch, line.onset, steps / tok.grid, np.full(len(line), MELODY_VELOCITY),
                                 keys=n.keys[:1])
    assert tok.quantize(n) == replace(expected, meters=tok.quantize(n).meters)  # meters: tested above


def _walk_reference(tok, ids):
    """The melody walk written plainly (the rule the compiled loop must keep): a DUR gives its length
    to the PITCH, REST or TIE before it; a TIE after a note lengthens that note."""
    notes, lines, pos, head, tied = [], [], 0, -1, False
    for x in ids:
        if x in tok.line_kind:
            lines.append((pos, tok.line_kind[x]))
        elif x >= tok.dur_base:
            if head >= 0:
                d = x - tok.dur_base + 1
                if tok.pitch_of[head] >= 0:
                    notes.append([int(tok.pitch_of[head]), pos, d])
                    tied = True
                elif head == tok.tie_id and tied:
                    notes[-1][2] += d
                else:
                    tied = False
                pos, head = pos + d, -1
        elif x < tok.dur_base and (tok._is_event[x] or x == tok.tie_id):
            head = x
    return notes, lines, pos


@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_compiled_melody_walk_equals_the_plain_rule_on_any_ids(data):
    # Any ids, not only grammatical ones: a model's output and hand-written tokens go through it too.
    tok = TOKENIZERS[0]
    groups = [[i for i, w in enumerate(tok.vocab) if w.startswith(p)] for p in ("PITCH", "DUR", "KEY", "METER")]
    groups.append([tok.rest_id, tok.tie_id, tok.eos_id, tok.pad_id, *tok.barline_ids.tolist()])
    # each kind of token about equally often, so ties after notes, after rests and after bar lines all occur
    ids = data.draw(st.lists(st.sampled_from(groups).flatmap(st.sampled_from), max_size=120))
    notes, lines, end = tok._walk(np.array(ids, np.int64))
    want_notes, want_lines, want_end = _walk_reference(tok, ids)
    assert notes.tolist() == want_notes and lines == want_lines and end == want_end
