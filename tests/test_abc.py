"""The fast ABC reader: ABC semantics on small tunes, and music21's own result on real ones."""
from __future__ import annotations

from dataclasses import replace

import music21
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from musicgate.music.abc import read_abc
from musicgate.data.corpora import _music21_corpus_dir, abc_tunes
from musicgate.errors import MidiError
from musicgate.music.keys import Key
from musicgate.music.score import from_music21


def notes_of(body: str, header: str = "X:1\nM:4/4\nL:1/8\nK:C\n"):
    n = read_abc(header + body).notes
    return n.pitch.tolist(), n.onset.tolist(), n.duration.tolist()


def test_tuplets_broken_rhythm_and_lengths():
    pitch, onset, duration = notes_of("(3cde f>g A2 B/2 z3/2|")  # a whole bar: no pickup
    assert pitch == [72, 74, 76, 77, 79, 69, 71]
    assert np.allclose(onset, [0, 1 / 3, 2 / 3, 1, 1.75, 2, 3])
    assert np.allclose(duration, [1 / 3, 1 / 3, 1 / 3, 0.75, 0.25, 1, 0.25])


def test_accidentals_carry_through_the_bar_and_across_a_tie():
    # ABC 2.1: ^F holds to the bar line; the tied B keeps the flat it was tied from.
    pitch, onset, duration = notes_of("^F2 F2 z2 _B2-|B2 F2 z4|")
    assert pitch == [66, 66, 70, 65]
    assert onset == [0.0, 1.0, 3.0, 5.0] and duration == [1.0, 1.0, 2.0, 1.0]


def test_a_tie_between_different_letters_is_a_slur_and_keeps_both_notes():
    pitch, _, duration = notes_of("G3-A B2-B2|", "X:1\nM:2/4\nL:1/16\nK:Gm\n")  # one pickup bar
    assert pitch == [67, 69, 70] and duration == [0.75, 0.25, 1.0]


def test_grace_notes_and_chord_symbols_take_no_time_chords_keep_every_pitch():
    pitch, onset, duration = notes_of('{g}A2 "Am"[CEG]2 ">"B2 c2|')
    assert pitch == [69, 60, 64, 67, 71, 72]
    assert onset == [0.0, 1.0, 1.0, 1.0, 2.0, 3.0] and duration == [1.0] * 6


def test_voices_become_tracks_and_key_meter_tempo_are_kept():
    n = read_abc("X:1\nT:Two voices\nM:3/4\nQ:1/4=90\nL:1/4\nK:Ador\nV:1\nABc|\nV:2\nA,B,C|\n")
    assert read_abc("X:1\nT:Two voices\nK:C\n").title == "Two voices"
    assert sorted(set(n.notes.track.tolist())) == [0, 1]
    upper = n.notes.pitch[n.notes.track == 0].tolist()
    assert upper == [69, 71, 72]
    assert n.notes.keys == ((0.0, Key(9, "dorian")),)
    assert n.notes.meters == ((0.0, 3, 4),)
    assert n.notes.tempos.tolist() == [[0.0, 90.0]]


def test_a_key_change_mid_tune_is_placed_where_it_happens():
    n = read_abc("X:1\nM:4/4\nL:1/4\nK:G\nGABc|\nK:F\nFGAB|\n").notes
    assert n.keys == ((0.0, Key(7, "major")), (4.0, Key(5, "major")))
    assert n.pitch.tolist()[-1] == 70  # B is flat in F


def test_bad_abc_raises_the_library_error_and_an_empty_tune_has_no_notes():
    for bad in ("garbage \x00\x01 ][[", "X:1\nL:1/0\nK:C\nABC|", "X:1\nL:1/8\nQ:abc\nK:C\nABC|",
                "X:1\nL:1/8\nQ:1/0=120\nK:C\nABC|"):
        with pytest.raises(MidiError, match="music21 cannot parse it"):
            read_abc(bad, name="bad.abc")
    assert len(read_abc("X:1\nK:C\n").notes) == 0


@pytest.mark.parametrize("collection, file, indices", [
    ("essenFolksong", "altdeu10.abc", range(0, 30, 3)),
    ("essenFolksong", "han1.abc", range(0, 30, 3)),
    ("ryansMammoth", "7thRegimentReel.abc", [0]),
    ("ryansMammoth", "AcaciaReel.abc", [0]),
])
def test_real_tunes_read_as_music21_reads_them(collection, file, indices):
    tunes = abc_tunes(_music21_corpus_dir() / collection / file, "folk")
    for i in indices:
        tune = read_abc(tunes[i].text)
        ours = replace(tune.notes, onset=tune.notes.onset - tune.pickup_shift)  # music21 starts a pickup at 0
        theirs = from_music21(music21.converter.parse("%abc-2.1\n" + tunes[i].text, format="abc"))
        for field in ("pitch", "duration", "track", "velocity"):
            assert np.array_equal(getattr(ours, field), getattr(theirs, field)), (tunes[i].source, field)
        assert np.allclose(ours.onset, theirs.onset, rtol=0, atol=1e-9), tunes[i].source  # shift back: rounding
        assert ours.keys == theirs.keys


def test_load_notes_reads_the_first_tune_of_an_abc_file(tmp_path):
    from musicgate.music.load import load_notes

    path = tmp_path / "two.abc"
    path.write_text("%abc-2.1\nX:1\nM:2/4\nL:1/8\nK:Gm\nG3-A B2-B2|\n\nX:2\nK:C\nC|\n")
    notes = load_notes(path)
    assert notes.pitch.tolist() == [67, 69, 70] and notes.key == Key(7, "minor")
    (tmp_path / "bad.abc").write_text("garbage \x00")
    with pytest.raises(MidiError, match="bad.abc: music21 cannot parse it"):
        load_notes(tmp_path / "bad.abc")


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="ABCDEFGabcdefg,'^_=/0123456789()[]{}-<>|:zxyKMLQV \n\"!.~HTuv", max_size=40))
def test_any_text_reads_or_raises_the_library_error(body):
    try:
        read_abc("X:1\nL:1/8\nK:C\n" + body)
    except MidiError:
        pass
