"""Keys, key profiles, key comparison, in-signature rate and key estimation."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from musicgate.errors import KeyNameError
from musicgate.analysis.keyfind import (estimate_key, estimate_keys, key_correlations, pc_histogram,
                               windowed_keys, windowed_keys_batch)
from musicgate.music.keys import (MAJOR_MINOR_KEYS, MIREX_TABLE, PROFILE_NAMES, Key, fifths_distance,
                            in_signature_mask, in_signature_rate, key_index, mirex_score,
                            parse_abc_key, parse_key, profile, profile_name, rotated_profiles,
                            to_major_minor)

C_MAJOR_SCALE = [60, 62, 64, 65, 67, 69, 71, 72]


# -- names and signatures ---------------------------------------------------------------------
@pytest.mark.parametrize("text, tonic, mode", [
    ("C", 0, "major"), ("D major", 2, "major"), ("Dm", 2, "minor"), ("F# minor", 6, "minor"),
    ("Bb", 10, "major"), ("Eb minor", 3, "minor"), ("f#", 6, "minor"),
    ("Ador", 9, "dorian"), ("Dmix", 2, "mixolydian"), ("D Mixo", 2, "mixolydian"),
    ("Em", 4, "minor"), ("Gmaj", 7, "major"), ("Bphr", 11, "phrygian"), ("Glyd", 7, "lydian"),
    ("A Dorian", 9, "dorian"), ("Bloc", 11, "locrian"), ("Aaeolian", 9, "minor"),
])
def test_parse_key(text, tonic, mode):
    assert parse_key(text) == Key(tonic, mode)


@pytest.mark.parametrize("field, expected", [
    ("K: G", "G major"), ("K:Ador", "A dorian"), ("K:D Mix", "D mixolydian"),
    ("K:Em clef=bass", "E minor"), ("K:D exp _b ^f", "D major"), ("Gm", "G minor"),
])
def test_parse_abc_key(field, expected):
    assert parse_abc_key(field) == parse_key(expected)


@pytest.mark.parametrize("bad", ["H", "Xdor", "Dmixer", "C majestic", ""])
def test_unknown_key_lists_forms(bad):
    with pytest.raises(KeyNameError, match="accepted forms"):
        parse_key(bad)


def test_abc_field_without_key():
    with pytest.raises(KeyNameError):
        parse_abc_key("K:none")


@pytest.mark.parametrize("key, same_set_as", [
    ("A dorian", "G major"), ("E phrygian", "C major"), ("F lydian", "C major"),
    ("D mixolydian", "G major"), ("B locrian", "C major"), ("F# minor", "A major"),
])
def test_modes_share_signature(key, same_set_as):
    a, b = parse_key(key), parse_key(same_set_as)
    assert a.signature == b.signature
    assert a.pitch_classes == b.pitch_classes


def test_signatures_of_major_keys():
    sigs = [Key(t).signature for t in range(12)]
    assert sigs == [0, -5, 2, -3, 4, -1, -6, 1, -4, 3, -2, 5]
    assert Key(2).pitch_classes == frozenset({2, 4, 6, 7, 9, 11, 1})


def test_key_index_and_major_minor():
    assert [key_index(k) for k in MAJOR_MINOR_KEYS] == list(range(24))
    assert to_major_minor("A dorian") == Key(9, "minor")
    assert to_major_minor("D mixolydian") == Key(2, "major")
    with pytest.raises(KeyNameError):
        key_index("A dorian")


# -- comparing keys ---------------------------------------------------------------------------
@pytest.mark.parametrize("est, ref, score", [
    ("C", "C", 1.0), ("G", "C", 0.5), ("F", "C", 0.5), ("Em", "Am", 0.5), ("Dm", "Am", 0.5),
    ("Am", "C", 0.3), ("C", "Am", 0.3), ("Cm", "C", 0.2), ("C", "Cm", 0.2),
    ("D", "C", 0.0), ("Gm", "C", 0.0), ("Em", "C", 0.0), ("Eb", "Cm", 0.3), ("A dorian", "Am", 1.0),
])
def test_mirex_score(est, ref, score):
    assert mirex_score(est, ref) == score


def test_mirex_table_is_the_score():
    for e in range(24):
        for r in range(24):
            assert MIREX_TABLE[e, r] == mirex_score(MAJOR_MINOR_KEYS[e], MAJOR_MINOR_KEYS[r])
    assert (MIREX_TABLE.sum(axis=1) == 1.0 + 0.5 * 2 + 0.3 + 0.2).all()


@pytest.mark.parametrize("a, b, by, d", [
    ("C", "G", "signature", 1), ("C", "F", "signature", 1), ("C", "F#", "signature", 6),
    ("C", "Am", "signature", 0), ("A dorian", "G", "signature", 0), ("Eb", "A", "signature", 6),
    ("C", "Cm", "signature", 3), ("C", "Cm", "tonic", 0), ("C", "Am", "tonic", 3),
    ("Db", "B", "tonic", 2),
])
def test_fifths_distance(a, b, by, d):
    assert fifths_distance(a, b, by=by) == d == fifths_distance(b, a, by=by)


# -- profiles ---------------------------------------------------------------------------------
M21_CLASSES = {
    "krumhansl-kessler": "KrumhanslSchmuckler", "aarden-essen": "AardenEssen",
    "bellman-budge": "BellmanBudge", "temperley-kostka-payne": "TemperleyKostkaPayne",
    "sapp-simple": "SimpleWeights",
}


@pytest.mark.parametrize("name", list(M21_CLASSES))
def test_profiles_equal_music21(name):
    from music21.analysis import discrete

    analyzer = getattr(discrete, M21_CLASSES[name])()
    assert profile(name).tolist() == [analyzer.getWeights("major"), analyzer.getWeights("minor")]


def test_profile_sanity():
    for name in PROFILE_NAMES:
        w = profile(name)
        assert w.shape == (2, 12) and (w >= 0).all()
        # tonic and dominant outweigh the tritone; minor profiles favour the minor third
        assert (w[:, 0] > w[:, 6]).all() and (w[:, 7] > w[:, 6]).all()
        assert w[1, 3] > w[1, 4] and w[0, 4] > w[0, 3]
        rot = rotated_profiles(name)
        assert rot.shape == (24, 12)
        assert rot[7, 7] == w[0, 0] and rot[12 + 9, 0] == w[1, 3]  # G major tonic, A minor's C


def test_profile_names_and_errors():
    assert profile_name("Temperley") == "temperley-kostka-payne"
    assert profile_name("albrecht_shanahan") == "albrecht-shanahan"
    with pytest.raises(KeyNameError, match="krumhansl-kessler"):
        profile_name("vuvan")
    with pytest.raises(KeyNameError, match="valid profiles"):
        estimate_key(C_MAJOR_SCALE, profile="nope")


# -- in-signature rate ------------------------------------------------------------------------
def test_in_signature_rate_exact_fractions():
    # nine notes, two outside C major (C#, F#), durations 1 except C# (3) and F# (2)
    pitch = [60, 61, 62, 64, 65, 66, 67, 69, 71]
    dur = [1, 3, 1, 1, 1, 2, 1, 1, 1]
    rate = in_signature_rate(pitch, "C", dur)
    assert rate.by_count == 7 / 9
    assert rate.by_duration == 7 / 12
    # A dorian's set is G major's: F# in, F out
    assert in_signature_rate(pitch, "A dorian", dur) == (7 / 9, 8 / 12)
    assert in_signature_rate(pitch, "C").by_duration == 7 / 9  # no durations: by count


def test_in_signature_mask_any_octave():
    assert in_signature_mask(np.array([[0, 13], [127, 66]]), "G").tolist() == [[True, False],
                                                                                 [True, True]]


def test_empty_input_gives_nan_and_warning():
    with pytest.warns(RuntimeWarning):
        rate = in_signature_rate([], "C", [])
    assert np.isnan(rate.by_count) and np.isnan(rate.by_duration)
    with pytest.warns(RuntimeWarning):
        est = estimate_key([], [])
    assert est.key is None and np.isnan(est.correlation) and np.isnan(est.correlations).all()
    with pytest.warns(RuntimeWarning):
        est = estimate_key([60, 64], [0.0, 0.0])  # zero total duration
    assert est.key is None
    with pytest.warns(RuntimeWarning):
        wk = windowed_keys([], [])
    assert wk.key.shape == (0,)
    key, corr = estimate_keys(np.zeros((2, 12)))
    assert key.tolist() == [-1, -1] and np.isnan(corr).all()


# -- estimation -------------------------------------------------------------------------------
def test_estimate_scales():
    for t in range(12):
        pitch = [p + t for p in C_MAJOR_SCALE] + [60 + t] * 2
        assert estimate_key(pitch, np.ones(len(pitch))).key == Key(t, "major")
    # A harmonic minor, tonic-heavy
    est = estimate_key([57, 59, 60, 62, 64, 65, 68, 69, 69, 57], np.ones(10), profile="krumhansl")
    assert est.key == Key(9, "minor")
    assert est.correlation == pytest.approx(est.correlations.max())


def test_histogram_weighting():
    hist = pc_histogram([60, 72, 66, -1], [3.0, 1.0, 2.0, 9.0])
    assert hist[0] == 4.0 and hist[6] == 2.0 and hist.sum() == 6.0
    assert pc_histogram([60, 72, 66], [3.0, 1.0, 2.0], weighted=False)[0] == 2.0


def test_correlation_is_pearson():
    rng = np.random.default_rng(1)
    hist = rng.random(12)
    corr = key_correlations(hist, "aarden-essen")
    rot = rotated_profiles("aarden-essen")
    assert np.allclose(corr, [np.corrcoef(hist, rot[k])[0, 1] for k in range(24)])


def test_uniform_histogram_ties_like_music21():
    # all correlations are 0; music21 then picks the highest tonic, minor first: B minor
    est = estimate_key(np.arange(60, 72), np.ones(12))
    assert est.key == Key(11, "minor") and (est.correlations == 0).all()


durations = st.sampled_from([0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0])


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(30, 100), durations), min_size=1, max_size=80),
       st.integers(1, 20), st.integers(1, 5), st.sampled_from(PROFILE_NAMES))
def test_windows_equal_one_at_a_time(notes, window, stride, name):
    pitch = np.array([p for p, _ in notes])
    dur = np.array([d for _, d in notes])
    wk = windowed_keys(pitch, dur, window=window, stride=stride, profile=name,
                       return_correlations=True)
    assert wk.start[0] == 0 and len(pitch) - stride < wk.end[-1] <= len(pitch)
    for s, e, k, c, cs in zip(wk.start, wk.end, wk.key, wk.correlation, wk.correlations):
        assert e - s == min(window, len(pitch))
        one = estimate_key(pitch[s:e], dur[s:e], profile=name)
        assert MAJOR_MINOR_KEYS[k] == one.key
        assert c == pytest.approx(one.correlation, abs=1e-12)
        assert np.allclose(cs, one.correlations, atol=1e-12)
    # the batched histogram path agrees too
    hists = np.stack([pc_histogram(pitch[s:e], dur[s:e]) for s, e in zip(wk.start, wk.end)])
    assert estimate_keys(hists, name)[0].tolist() == wk.key.tolist()


@settings(max_examples=25, deadline=None)
@given(st.lists(st.lists(st.tuples(st.integers(40, 90), durations), min_size=0, max_size=40),
                min_size=1, max_size=6), st.integers(1, 12), st.integers(1, 4))
def test_batch_equals_single(seqs, window, stride):
    width = max(len(s) for s in seqs)
    pitch = np.full((len(seqs), width), -1)
    dur = np.zeros((len(seqs), width))
    for i, s in enumerate(seqs):
        pitch[i, : len(s)] = [p for p, _ in s]
        dur[i, : len(s)] = [d for _, d in s]
    lengths = np.array([len(s) for s in seqs])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        batch = windowed_keys_batch(pitch, dur, lengths, window=window, stride=stride)
        for i in range(len(seqs)):
            one = windowed_keys(pitch[i, : lengths[i]], dur[i, : lengths[i]], window=window,
                                stride=stride)
            n = len(one.key)
            assert batch.valid[i].sum() == n
            assert batch.key[i, :n].tolist() == one.key.tolist()
            assert (batch.key[i, n:] == -1).all()


def test_beat_windows():
    # one bar of C major then one bar of F# major, 4 beats each, quarter notes
    pitch = np.array([60, 64, 67, 72, 66, 70, 73, 78])
    onset = np.arange(8.0)
    wk = windowed_keys(pitch, np.ones(8), onset, window=4, stride=4, unit="beats")
    assert wk.time.tolist() == [0.0, 4.0]
    assert wk.start.tolist() == [0, 4] and wk.end.tolist() == [4, 8]
    assert [MAJOR_MINOR_KEYS[k] for k in wk.key] == [Key(0), Key(6)]
    with pytest.raises(ValueError, match="onsets"):
        windowed_keys(pitch, np.ones(8), window=4, unit="beats")
    with pytest.raises(KeyNameError):
        windowed_keys(pitch, np.ones(8), window=4, unit="bars")


# -- agreement with music21 -------------------------------------------------------------------
def _essen_sample(n: int = 30):
    from music21 import corpus, note

    # two small Essen files (20 + 16 tunes): parsing a big one would dominate the test's time
    scores = [s for name in ("essenFolksong/test1", "essenFolksong/test0")
              for s in corpus.parse(name).scores]
    out = []
    for score in scores[:n]:
        flat = score.flatten()
        notes = flat.notesAndRests.getElementsNotOfClass(note.Unpitched).notes
        pitch = np.array([p.midi for x in notes for p in x.pitches])
        dur = np.array([float(x.quarterLength) for x in notes for _ in x.pitches])
        out.append((flat, pitch, dur))
    return out


def test_agrees_with_music21_on_essen():
    from music21.analysis import discrete

    tunes = _essen_sample(30)
    agree = total = 0
    for name, cls in M21_CLASSES.items():
        for flat, pitch, dur in tunes:
            ref = getattr(discrete, cls)().getSolution(flat)
            ours = estimate_key(pitch, dur, profile=name)
            total += 1
            agree += (ours.key == Key(ref.tonic.pitchClass, ref.mode))
            if ours.key == Key(ref.tonic.pitchClass, ref.mode):
                assert ours.correlation == pytest.approx(ref.correlationCoefficient, abs=1e-9)
    assert agree / total >= 0.99, f"{agree}/{total} agree with music21"
    # analyze('key') is Aarden-Essen in music21
    flat, pitch, dur = tunes[0]
    ref = flat.analyze("key")
    assert estimate_key(pitch, dur, profile="aarden-essen").key == Key(ref.tonic.pitchClass,
                                                                        ref.mode)


@pytest.mark.parametrize("tiny", ["c4 d e f g a", "g4 a b c' d e", "d4 e f g a c'", "c4 d f g a"])
def test_exact_ties_go_where_music21_sends_them(tiny):
    # Sapp's simple weights tie exactly on these (C and F major, ...); music21's own
    # arithmetic decides, and so must ours
    from music21 import converter
    from music21.analysis import discrete

    stream = converter.parse("tinynotation: 4/4 " + tiny)
    ref = discrete.SimpleWeights().getSolution(stream)
    pitch = np.array([n.pitch.midi for n in stream.flatten().notes])
    corr = np.sort(key_correlations(pc_histogram(pitch, np.ones(len(pitch))), "sapp"))
    assert corr[-1] - corr[-2] < 1e-12  # really a tie
    expected = Key(ref.tonic.pitchClass, ref.mode)
    assert estimate_key(pitch, np.ones(len(pitch)), profile="sapp").key == expected
    wk = windowed_keys(pitch, np.ones(len(pitch)), window=len(pitch), profile="sapp")
    assert MAJOR_MINOR_KEYS[wk.key[0]] == expected
