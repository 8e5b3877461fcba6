"""Musicality metrics on hand-made tunes, with exact values (muspy's habit)."""
from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from musicgate.analysis import musicality as mu
from musicgate.music.keys import Key, parse_key
from musicgate.music.notes import Notes


def tune(pitch, onset=None, duration=None, *, meter=(4, 4), meters=(), key=None) -> Notes:
    """A melody: one beat per note unless onsets and durations are given."""
    n = len(pitch)
    onset = list(range(n)) if onset is None else onset
    duration = [1.0] * n if duration is None else duration
    return Notes.from_arrays(pitch, onset, duration, meter=meter, meters=meters, key=key)


EMPTY = Notes.empty(meter=(4, 4))
NINE = tune([60, 62, 64, 65, 67, 69, 71, 61, 66])  # seven notes of C major, then C# and F#
# D major, tonic-heavy: D F# A D' A F# E D, twice, long notes on D
D_TUNE = tune([62, 66, 69, 74, 69, 66, 64, 62] * 2, duration=[2, 1, 1, 2, 1, 1, 1, 2] * 2,
              onset=np.cumsum([0, 2, 1, 1, 2, 1, 1, 1, 2, 2, 1, 1, 2, 1, 1, 1]).tolist())


# -- pitch -------------------------------------------------------------------------------------
def test_in_signature_counts_the_notes_of_the_key_signature():
    assert mu.in_signature(NINE, "C major") == 7 / 9
    assert mu.in_signature(NINE, "A minor") == 7 / 9  # the same signature
    assert mu.in_signature(NINE, "G major") == 7 / 9  # F# in, F out
    assert mu.in_signature(NINE, "D major") == 7 / 9  # F# and C# in; F and C out
    assert mu.in_signature(NINE, "Eb major") == 4 / 9  # C, D, F and G
    assert mu.in_signature(NINE, "F dorian") == 4 / 9  # E-flat major's signature


def test_pitch_classes_range_and_leaps():
    assert mu.pitch_classes_used(NINE) == 9
    assert mu.pitch_classes_used(tune([60, 72, 48, 62])) == 2
    assert mu.pitch_range(NINE) == 11
    assert mu.largest_leap(NINE) == 10  # 71 -> 61
    octave = tune([60, 72, 60, 67])
    assert mu.largest_leap(octave) == 12 and mu.leap_over_octave(octave) == 0.0  # an octave is not over one
    ninth = tune([60, 62, 76, 74])
    assert mu.largest_leap(ninth) == 14 and mu.leap_over_octave(ninth) == 1.0
    one = tune([60])
    assert mu.largest_leap(one) == 0 and mu.pitch_range(one) == 0 and mu.median_pitch(one) == 60.0


def test_the_register_is_the_median_pitch_of_the_notes():
    assert mu.median_pitch(tune([60, 72, 48, 62])) == 61.0   # even count: between 60 and 62
    assert mu.median_pitch(tune([55, 79, 81])) == 79.0        # one low note does not pull it down
    long_low = tune([48, 72, 74], duration=[8.0, 0.5, 0.5])
    assert mu.median_pitch(long_low) == 72.0                  # each note once, however long
    assert math.isnan(mu.median_pitch(tune([])))


def test_longest_run_counts_notes_on_one_pitch_in_a_row():
    assert mu.longest_run(NINE) == 1
    assert mu.longest_run(tune([67, 67, 67, 67, 69, 67, 67])) == 4  # G G G G A G G
    assert mu.longest_run(tune([60, 62, 62, 62])) == 3  # the run at the end counts
    assert mu.longest_run(tune([62] * 9)) == 9
    assert mu.longest_run(D_TUNE) == 2  # the last D of the phrase and the first of its repeat
    assert math.isnan(mu.longest_run(EMPTY))


def test_every_metric_is_nan_without_notes():
    values = mu.measure(EMPTY, "C major")
    assert set(values) == set(mu.METRIC_NAMES)
    assert values["notes"] == 0
    assert all(math.isnan(v) for k, v in values.items() if k != "notes")


# -- keys --------------------------------------------------------------------------------------
def test_whole_piece_key_against_the_asked_key():
    assert mu.estimated_key(D_TUNE) == Key(2, "major")
    assert mu.key_signature_match(D_TUNE, "D major") == 1.0
    assert mu.key_exact_match(D_TUNE, "D major") == 1.0
    # B minor and E dorian share D major's signature, but not its tonic
    assert mu.key_signature_match(D_TUNE, "B minor") == 1.0 and mu.key_exact_match(D_TUNE, "B minor") == 0.0
    assert mu.key_signature_match(D_TUNE, "E dorian") == 1.0 and mu.key_exact_match(D_TUNE, "E dorian") == 0.0
    assert mu.key_signature_match(D_TUNE, "G major") == 0.0
    # a modal key counts as the major or minor key with its third: D mixolydian as D major
    assert mu.key_exact_match(D_TUNE, "D mixolydian") == 1.0
    assert mu.key_signature_match(D_TUNE, "D mixolydian") == 0.0  # G major's signature


def test_windowed_key_agreement():
    long = tune([62, 66, 69, 74, 69, 66, 64, 62] * 5)  # 40 notes: 9 windows of 32, all in D major
    assert mu.window_key_agreement(long, "D major") == 1.0
    assert mu.window_key_agreement(long, "G major") == 0.0
    assert mu.window_key_agreement(long, "D major", window=8) == 1.0
    assert math.isnan(mu.window_key_agreement(D_TUNE, "D major"))  # 16 notes: no window of 32
    # the first 32 notes in D major, the last 32 in E-flat major: 2 of the 9 windows fully in D major
    half = tune([62, 66, 69, 74, 69, 66, 64, 62] * 4 + [63, 67, 70, 75, 70, 67, 65, 63] * 4)
    values = [mu.window_key_agreement(half, "D major"), mu.window_key_agreement(half, "Eb major")]
    assert values[0] > 0 and values[1] > 0 and values[0] + values[1] <= 1.0
    assert mu.window_key_agreement(tune([62, 66, 69, 74, 69, 66, 64, 62] * 4), "D major") == 1.0


def test_ends_on_the_tonic_of_the_mode():
    a_dorian = tune([69, 71, 72, 74, 76, 78, 67, 69])
    assert mu.ends_on_tonic(a_dorian, "A dorian") == 1.0
    assert mu.ends_on_tonic(a_dorian, "G major") == 0.0  # same signature, other tonic
    assert mu.ends_on_tonic(a_dorian, "A minor") == 1.0
    chord_end = Notes.from_arrays([60, 67, 64, 72], [0, 1, 2, 2], [1, 1, 1, 1])  # last onset: E and C
    assert mu.ends_on_tonic(chord_end, "C major") == 1.0  # the highest note of the last onset


# -- rhythm and bars ---------------------------------------------------------------------------
def test_off_grid_onsets():
    notes = tune([60] * 6, onset=[0, 0.25, 1 / 3, 0.5, 0.2, 5 / 12], duration=[0.05] * 6)
    assert mu.off_grid_onsets(notes) == pytest.approx(2 / 6)  # 0.2 and 5/12 are on neither grid
    assert mu.off_grid_onsets(tune([60] * 4, onset=[0, 2 / 3, 1.75, 7 / 3])) == 0.0


def test_bar_lines_from_the_time_signatures():
    assert mu.bar_lines(tune([60] * 9, meter=(2, 4))).tolist() == [0, 2, 4, 6, 8, 10]
    assert mu.bar_lines(tune([60] * 6, meter=(6, 8))).tolist() == [0, 3, 6]
    # a pickup written as an offset: the grid starts at the time signature, beat 0 opens the pickup bar
    assert mu.bar_lines(tune([60] * 9, meter=None, meters=[(3, 2, 4)])).tolist() == [0, 1, 3, 5, 7, 9]
    # a meter change restarts the grid
    assert mu.bar_lines(tune([60] * 9, meter=None, meters=[(0, 2, 4), (4, 3, 4)])).tolist() == [0, 2, 4, 7, 10]
    assert mu.bar_lines(tune([60, 62], meter=None)) is None


def test_bars_filled_exactly():
    # 2/4, a pickup of one beat (leading rest), then four full bars and a last bar of one beat
    pickup = tune([62, 64, 66, 67, 69, 71, 73, 74, 62], onset=list(range(1, 10)), meter=(2, 4))
    assert mu.bars_filled(pickup) == 1.0
    assert mu.length_bars(pickup) == 5
    # the third note (1.5 .. 2.5) crosses the line at beat 2: inner bars 1 and 2, bar 1 not filled
    crossing = tune([62, 64, 66, 67, 69, 71, 73, 74, 62], onset=[0, 1, 1.5, 2.5, 3, 4, 5, 6, 7],
                    duration=[1, 0.5, 1, 0.5, 1, 1, 1, 1, 1], meter=(2, 4))
    assert mu.crossed_lines(crossing, mu.bar_lines(crossing)).tolist() == [False, True, False, False, False]
    assert mu.bars_filled(crossing) == 0.5
    # a note crossing the line into the first inner bar unfills it too; a rest fills its place
    rests = tune([60, 62, 64, 65, 67], onset=[0, 3, 5, 7, 9], duration=[1.5, 2, 1, 1, 1], meter=(2, 4))
    assert mu.crossed_lines(rests, mu.bar_lines(rests)).tolist() == [False, False, True, False, False, False]
    assert mu.bars_filled(rests) == pytest.approx(1 / 3)  # inner bars 1, 2, 3: only bar 3 is clear
    assert math.isnan(mu.bars_filled(tune([60, 62], meter=None)))  # no time signature
    assert math.isnan(mu.bars_filled(tune([60, 62, 64, 65], meter=(2, 4))))  # two bars: no inner bar
    assert mu.length_bars(tune([60, 62, 64, 65], meter=(2, 4))) == 2


# -- repetition --------------------------------------------------------------------------------
def test_repeated_chunks():
    phrase = [62, 64, 66, 67, 69, 71, 73, 74]
    twice = tune(phrase * 2)  # 9 chunks of 8; the last is the first again
    assert mu.repeated_chunks(twice) == 1 / 9
    # the same pitches with other durations are not a repeat
    other = tune(phrase * 2, onset=list(range(8)) + [8 + 0.5 * i for i in range(8)], duration=[1] * 8 + [0.5] * 8)
    assert mu.repeated_chunks(other) == 0.0
    assert mu.repeated_chunks(tune([60] * 10)) == 2 / 3  # chunks 1 and 2 repeat chunk 0
    assert math.isnan(mu.repeated_chunks(tune(phrase[:7])))
    assert mu.repeated_chunks(tune(phrase * 3 + phrase[:1]), size=4) == 14 / 22  # chunks 8 .. 21 start in a repeat


def test_repeated_segments_aligned_on_bars():
    a = [62, 66, 69, 74]  # one whole note per bar in 4/4
    b = [64, 67, 71, 76]
    aabb = tune(a + a + b + b, onset=[4 * i for i in range(16)], duration=[4] * 16)
    assert mu.repeated_segments(aabb) == 0.5  # segments A A B B
    abab = tune(a + b + a + b, onset=[4 * i for i in range(16)], duration=[4] * 16)
    assert mu.repeated_segments(abab) == 0.5
    # a pickup before the first full bar is left out of the segments
    with_pickup = tune([57] + a + a, onset=[3] + [4 + 4 * i for i in range(8)], duration=[1] + [4] * 8)
    assert mu.repeated_segments(with_pickup) == 0.5
    # the same pitches placed differently inside the bars are not a repeat
    shifted = tune(a + a, onset=[4 * i for i in range(4)] + [16 + 4 * i + 1 for i in range(4)], duration=[3] * 8)
    assert mu.repeated_segments(shifted) == 0.0
    assert math.isnan(mu.repeated_segments(tune(a, meter=None)))


def _bars(*bars: list[int], pickup: int | None = None, meter=(4, 4)) -> Notes:
    """A tune of 4/4 bars of four quarter notes each (pitches per bar), after an optional one-beat pickup."""
    pitch = ([pickup] if pickup is not None else []) + [p for bar in bars for p in bar]
    start = 3 if pickup is not None else 0
    return tune(pitch, onset=list(range(start, start + len(pitch))), meter=meter)


def test_passage_loop_counts_one_passage_played_again_and_again():
    a, b, c, d = [62, 64, 66, 67], [69, 67, 66, 64], [62, 66, 69, 74], [74, 72, 71, 69]
    assert mu.passage_loop(_bars(a, b, c, d)) == 1                 # nothing comes straight back
    assert mu.passage_loop(_bars(a, a, b, c)) == 2                 # one bar twice
    assert mu.passage_loop(_bars(a, b, a, b, a, b, c)) == 3        # a two-bar phrase three times in a row
    assert mu.passage_loop(_bars(*[a, b, c, d] * 7)) == 7          # stuck: a four-bar phrase seven times
    assert mu.passage_loop(_bars(a, b, c, a, b, c, d)) == 2        # a three-bar phrase twice
    assert mu.passage_loop(_bars(a, b, c, a, b, c, d), longest=2) == 1   # ... longer than two bars
    assert mu.passage_loop(_bars(a, b, a, b, c, pickup=57)) == 2   # the pickup is left out, the bars still line up
    assert mu.passage_loop(_bars(a, b, c, [62, 62, 62, 62], [62, 62, 62, 62])) == 2
    rests = tune([62, 64], onset=[0, 20], duration=[1, 1])         # bars 1-4 hold no onset: not a loop
    assert mu.passage_loop(rests) == 1
    assert math.isnan(mu.passage_loop(tune(a, meter=None))) and math.isnan(mu.passage_loop(EMPTY))


def test_one_pitch_bars_counts_the_bars_that_mark_time_on_one_pitch():
    a, b = [62, 64, 66, 67], [69, 69, 69, 69]                      # a scale; A A A A
    assert mu.one_pitch_bars(_bars(a, a, a, a)) == 0.0
    assert mu.one_pitch_bars(_bars(a, b, a, b)) == 0.5
    assert mu.one_pitch_bars(_bars(b, b, b, a)) == 0.75
    assert mu.one_pitch_bars(_bars(a, b, pickup=69)) == 0.5         # the pickup is left out
    held = tune([62, 64, 66, 67, 74, 66], onset=[0, 1, 2, 3, 4, 8], duration=[1, 1, 1, 1, 4, 4])
    assert mu.one_pitch_bars(held) == 0.0    # bars of one held note are not counted: nothing repeats there
    octave = tune([62, 74, 62, 74])
    assert mu.one_pitch_bars(octave) == 0.0  # one pitch class in two octaves moves
    assert math.isnan(mu.one_pitch_bars(tune([62, 64], onset=[0, 4], duration=[4, 4])))   # no bar of 2+ notes
    assert math.isnan(mu.one_pitch_bars(tune(a, meter=None))) and math.isnan(mu.one_pitch_bars(EMPTY))


# -- everything at once ------------------------------------------------------------------------
def test_measure_batch_equals_measure_one_by_one():
    pieces = [NINE, D_TUNE, tune([62, 66, 69, 74, 69, 66, 64, 62] * 5), EMPTY]
    keys = ["C major", "D major", "B minor", "A dorian"]
    batch = mu.measure_batch(pieces, keys)
    for notes, key, row in zip(pieces, keys, batch):
        one = mu.measure(notes, key)
        assert list(one) == list(mu.METRIC_NAMES)
        assert np.allclose([one[m] for m in mu.METRIC_NAMES], [row[m] for m in mu.METRIC_NAMES], equal_nan=True)
    assert batch[2]["window_key"] == 0.0 and batch[2]["key_signature"] == 1.0
    with pytest.raises(ValueError):
        mu.measure_batch(pieces, keys[:2])


melodies = st.lists(st.tuples(st.integers(48, 84), st.sampled_from([0.25, 0.5, 1.0, 1.5, 2.0])),
                    min_size=1, max_size=60)


@settings(max_examples=60, deadline=None)
@given(melodies, st.integers(0, 11), st.sampled_from(["major", "minor", "dorian", "mixolydian"]),
       st.integers(-12, 12))
def test_metrics_are_the_same_after_transposing_tune_and_key(events, tonic, mode, shift):
    pitch = [p for p, _ in events]
    dur = [d for _, d in events]
    notes = tune(pitch, onset=np.cumsum([0] + dur[:-1]).tolist(), duration=dur, meter=(6, 8))
    key = Key(tonic, mode)
    a = mu.measure(notes, key)
    b = mu.measure(notes.transpose(shift), key.transpose(shift))
    for name in mu.METRIC_NAMES:
        if name.startswith("key_") or name == "window_key":
            continue  # a near tie in the key estimate may fall either way after rotation
        want = a[name] + shift if name == "median_pitch" else a[name]  # the register moves with the tune
        assert want == b[name] or (math.isnan(a[name]) and math.isnan(b[name])), name


@settings(max_examples=40, deadline=None)
@given(melodies)
def test_a_tune_played_twice_repeats_its_chunks_and_bars(events):
    pitch = [p for p, _ in events] * 2
    dur = [d for _, d in events] * 2
    bar = 4.0
    first_len = float(np.ceil(sum(dur[: len(events)]) / bar) * bar)
    on_once = np.cumsum([0] + dur[: len(events) - 1]).tolist()
    notes = tune(pitch, onset=on_once + [first_len + o for o in on_once], duration=dur)
    n = len(events)
    if n >= 8:
        assert mu.repeated_chunks(notes) >= (n - 7) / (2 * n - 7)  # every chunk of the second playing
    segments = mu.repeated_segments(notes)
    assert segments >= 0.5 - 1e-9 or (first_len / bar) % 4 != 0 or math.isnan(segments)
    if first_len / bar <= 4:  # a passage of at most four bars, played twice in a row
        assert mu.passage_loop(notes) >= 2
    assert mu.in_signature(notes, parse_key("C")) == mu.in_signature(tune(pitch[:n]), "C")


@pytest.mark.parametrize("name", ["lstm", "runs-folk-lstm-tonic-copy-calibrate-with-a-long-name"])
def test_the_report_picture_leaves_room_for_every_set_name(name, tmp_path, monkeypatch):
    """The set names left of the panels are inside the picture, however long (none cut at its left edge)."""
    import musicgate.viz.musicality as vm

    kept = {}
    monkeypatch.setattr(vm, "save_figure", lambda fig, path: kept.setdefault("fig", fig) and path)
    k = len(mu.METRICS)
    summary = vm.SetSummary(name, 288, np.full(k, 0.5), np.full(k, 0.4), np.full(k, 0.6))
    vm.plot_musicality([summary, vm.SetSummary("gru", 48, np.full(k, 0.5), np.full(k, 0.4), np.full(k, 0.6))],
                       tmp_path / "e.png")
    fig = kept["fig"]
    renderer = fig.canvas.get_renderer()
    labels = [t for ax in fig.axes for t in ax.get_yticklabels() if t.get_text()]
    assert any(name in t.get_text() for t in labels)
    assert min(t.get_window_extent(renderer).x0 for t in labels) >= 0
    left = fig.subplotpars.left
    assert left == 0.1 if name == "lstm" else 0.1 < left < 0.45   # short names keep the usual margin


def test_the_report_picture_title_fits_however_many_sets(tmp_path, monkeypatch):
    import musicgate.viz.musicality as vm

    kept = {}
    monkeypatch.setattr(vm, "save_figure", lambda fig, path: kept.setdefault("fig", fig) and path)
    k = len(mu.METRICS)
    sets = [vm.SetSummary(f"folk-lstm-w1.{i}-run8", 288, np.full(k, 0.5), np.full(k, 0.4), np.full(k, 0.6))
            for i in range(12)]
    vm.plot_musicality(sets, tmp_path / "e.png")
    fig = kept["fig"]
    title = fig._suptitle
    assert title.get_text().startswith("Musicality: folk-lstm-w1.0-run8, ") and title.get_text().endswith(", ...")
    assert title.get_window_extent(fig.canvas.get_renderer()).x1 <= fig.get_figwidth() * fig.dpi
