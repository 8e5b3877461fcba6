"""ABC writing: exact text on hand-made tunes, the reader's round trip as a property, on the folk
corpus and on generated tunes, and what bad input gets."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from musicgate.errors import MidiError
from musicgate.music.abc import read_abc
from musicgate.music.abcwrite import abc_key, to_abc, write_abc
from musicgate.music.keys import MODES, Key
from musicgate.music.notes import Notes, final_repeat_closed


def melody(notes: list[tuple[int, float, float]], *, meter=(6, 8), key=Key(2, "major"), bars=(), tempo=120.0):
    pitch, onset, duration = zip(*notes) if notes else ((), (), ())
    return Notes.from_arrays(pitch, onset, duration, [80] * len(notes), keys=[(0.0, key)],
                             meters=[(0.0, *meter)], tempos=[(0.0, tempo)], bars=bars)


def body(text: str) -> str:
    """The tune's body: the lines after the header's K: field."""
    lines = text.splitlines()
    return "\n".join(lines[next(i for i, line in enumerate(lines) if line.startswith("K:")) + 1:])


def same_music(a: Notes, b: Notes) -> bool:
    return (len(a) == len(b) and np.array_equal(a.pitch, b.pitch) and np.allclose(a.onset, b.onset)
            and np.allclose(a.duration, b.duration))


def test_a_jig_with_a_pickup_repeats_and_endings_is_written_as_a_fiddler_writes_it():
    # pickup A, then | d2 f a2 f | first ending: e3 e2 A :| second ending: e3 d2 || (6/8, D major)
    notes = melody([(69, 2.5, 0.5), (74, 3.0, 1.0), (78, 4.0, 0.5), (81, 4.5, 1.0), (78, 5.5, 0.5),
                    (76, 6.0, 1.5), (76, 7.5, 1.0), (69, 8.5, 0.5), (76, 9.0, 1.5), (74, 10.5, 1.0)],
                   bars=[(2.5, "|:"), (3.0, "|"), (6.0, "|1"), (9.0, ":|"), (9.0, "|2"), (11.5, "||")])
    text = to_abc(notes, title="Test Jig", comment="made\nby hand", rhythm="jig")  # a field stays on its line
    assert text.splitlines()[:8] == ["X:1", "T:Test Jig", "R:jig", "N:made by hand", "M:6/8", "L:1/8", "Q:1/4=120", "K:D"]
    assert body(text) == "|:A| d2f a2f|1 e3 e2A:|2 e3 d2|]"
    back = read_abc(text).notes
    assert same_music(back, notes) and back.bars == notes.bars
    assert back.keys == notes.keys and back.meters == notes.meters


def test_notes_are_spelled_in_the_key_and_a_sign_holds_to_the_bar_line():
    # D major: C natural needs '=', then holds for that C in the bar; the next bar is back to C sharp.
    # A natural C an octave lower gets its own sign (ABC 2.1 holds a sign for its octave only).
    notes = melody([(72, 0.0, 0.5), (72, 0.5, 0.5), (60, 1.0, 0.5), (73, 1.5, 0.5), (74, 2.0, 2.0), (73, 4.0, 4.0)],
                   meter=(2, 2))
    assert body(to_abc(notes)) == "=cc=C^c d4| c8|]"
    assert same_music(read_abc(to_abc(notes)).notes, notes)


@pytest.mark.parametrize("key, pitches, expected", [
    (Key(10, "major"), [70, 75, 66, 71], "B2e2 _G2=B2"),      # Bb major: Bb, Eb bare; Gb (a flat key), B natural
    (Key(9, "dorian"), [66, 67, 68, 65], "F2G2 ^G2=F2"),      # A dorian (one sharp): F#, G; G#, F natural
    (Key(11, "major"), [75, 70, 76, 77], "d2A2 e2=f2"),       # B major: D# and A# bare, E, F natural
    (Key(6, "major"), [77, 70, 71, 72], "f2B2 c2=c2"),        # F# major is written as Gb major: F, Bb, Cb; C natural
    (Key(3, "minor"), [62, 71, 69, 68], "=D2c2 =A2_A2"),      # Eb minor: D natural, Cb bare, A natural, Ab again
])
def test_spelling_in_sharp_flat_and_modal_keys(key, pitches, expected):
    notes = melody([(p, 0.5 * i, 0.5) for i, p in enumerate(pitches)], meter=(2, 4), key=key)
    text = to_abc(notes)
    assert body(text) == expected + "|]"
    assert same_music(read_abc(text).notes, notes)


def test_triplets_ties_across_bar_lines_rests_and_chords():
    notes = melody([(72, 0.0, 1 / 3), (74, 1 / 3, 1 / 3), (76, 2 / 3, 1 / 3), (79, 1.0, 3.0),   # (3cde g4- | g2
                    (67, 4.0, 1.0), (71, 4.0, 1.0), (74, 4.0, 1.0)], meter=(3, 4), key=Key(0, "major"))
    text = to_abc(notes)
    assert body(text) == "(3cde g4-| g2 [GBd]2 z2|]"
    back = read_abc(text).notes
    assert same_music(back, notes)


def test_the_header_names_modes_as_abc_does_and_meters_below_three_four_use_sixteenths():
    assert [abc_key(Key(2, m)) for m in MODES] == ["D", "Dm", "Ddor", "Dphr", "Dlyd", "Dmix", "Dloc"]
    assert abc_key(Key(10, "major")) == "Bb" and abc_key(Key(6, "minor")) == "F#m"
    text = to_abc(melody([(62, 0.0, 0.25), (64, 0.25, 0.75), (66, 1.0, 1.0)], meter=(2, 4)))
    assert "L:1/16" in text and body(text) == "DE3 F4|]"


def test_music_without_written_bar_lines_gets_the_meter_s_and_a_last_bar_filled_with_rests():
    notes = melody([(62, 0.0, 1.0), (64, 1.0, 1.0), (66, 2.0, 2.0), (67, 4.0, 1.0)], meter=(4, 4))
    assert body(to_abc(notes)) == "D2 E2 F4| G2 z6|]"


def test_overlapping_notes_are_refused_with_one_line_naming_the_file(tmp_path):
    notes = melody([(60, 0.0, 2.0), (64, 1.0, 1.0)], meter=(4, 4))
    with pytest.raises(MidiError, match=r"out\.abc: .*overlap at beat 1 .*MusicXML"):
        write_abc(notes, tmp_path / "out.abc")
    assert not (tmp_path / "out.abc").exists()


METERS = [(2, 4), (3, 4), (4, 4), (2, 2), (6, 8), (9, 8), (3, 8), (12, 8)]
STEPS = [3, 6, 9, 12, 18, 24]  # a sixteenth .. a half note, in twelfths of a beat; 0: a triplet of eighths


@st.composite
def written_tunes(draw) -> Notes:
    """A melody on the twelfth-of-a-beat grid with a pickup, ties across bar lines, rests, triplets,
    a key in any mode and bar lines of every kind (repeat signs, endings, part ends, together where
    ABC writes them together)."""
    num, den = draw(st.sampled_from(METERS))
    bar = 12 * 4 * num // den
    key = Key(draw(st.integers(0, 11)), draw(st.sampled_from(MODES[:-1])))  # music21 reads K:Cloc as C major
    pickup = draw(st.sampled_from([0, 0, 3, 6, 12])) if bar > 12 else 0
    n_bars = draw(st.integers(1, 6))
    events, t = [], bar - pickup if pickup else 0
    end = bar * (n_bars + (1 if pickup else 0))
    while t < end:
        room = end - t
        if room >= 12 and t % 12 == 0 and draw(st.integers(0, 5)) == 0:
            lengths = [4, 4, 4]
        else:
            lengths = [min(draw(st.sampled_from(STEPS)), room)]
        for steps in lengths:
            rest = bool(events) and draw(st.integers(0, 6)) == 0  # a pickup starts with a note
            events.append((None if rest else draw(st.integers(48, 90)), t, steps))
            t += steps
    lines = list(range(bar, end + 1, bar))
    kinds = st.sampled_from(["|"] * 6 + ["|:", ":|", "||", "|1", "|2", ":| |:", ":| |2", "|| |:"])
    bars = [(t0 / 12, k) for t0 in lines for k in draw(kinds).split()]
    if draw(st.booleans()):
        bars.insert(0, ((bar - pickup) / 12 if pickup else 0.0, "|:"))
    if len(lines) >= 2 and draw(st.booleans()):  # the tune ends without a bar line (one still stands inside it:
        bars = [b for b in bars if b[0] != end / 12]  # a tune of one short bar and no line would read as a pickup)
    notes = [(p, t0 / 12, s / 12) for p, t0, s in events if p is not None]
    for i in range(len(notes) - 1):  # some notes tied over the next onset, as one longer note
        (p, o, d), (_, o2, d2) = notes[i], notes[i + 1]
        if draw(st.integers(0, 8)) == 0 and abs(o + d - o2) < 1e-9:
            notes[i] = (p, o, d + d2)
            notes[i + 1] = None  # type: ignore[call-overload]
            break
    notes = [n for n in notes if n is not None]
    return melody(notes, meter=(num, den), key=key, bars=bars, tempo=draw(st.sampled_from([80.0, 120.0, 144.0])))


@settings(max_examples=150, deadline=None)
@given(written_tunes())
def test_read_abc_of_to_abc_is_the_written_tune(notes):
    text = to_abc(notes)
    back = read_abc(text).notes
    assert same_music(back, notes), text
    end = max(float(notes.end), max((b for b, _ in notes.bars), default=0.0))
    # a |: with no note at or after it opens nothing: read back as the final bar line
    written = final_repeat_closed(notes.bars, float(notes.onset.max()) if len(notes) else None)
    expected = written if written and written[-1][0] >= end else (*written, (end, "||"))
    assert [k for _, k in back.bars] == [k for _, k in expected], text
    assert np.allclose([b for b, _ in back.bars], [b for b, _ in expected]), text
    assert back.keys == notes.keys and back.meters == notes.meters
    assert back.tempos.tolist() == notes.tempos.tolist()


def test_the_folk_corpus_reads_back_the_same_through_abc():
    """Real tunes (the corpus's own ABC, read by read_abc) written by to_abc and read again."""
    from musicgate.data.corpora import source_files
    from musicgate.data.corpus import abc_tunes

    checked = refused = 0
    for i, path in enumerate(source_files("folk")):  # six tunes of each Essen and O'Neill file, every fifth Ryan's
        take = 6 if path.parent.name != "ryansMammoth" else int(i % 5 == 0)
        for item in abc_tunes(path, "folk")[:take]:
            try:
                notes = read_abc(item.text).notes.quantize(12)
            except MidiError:
                continue
            if not notes.bars:
                continue
            try:
                text = to_abc(notes)
            except MidiError:  # several voices at once
                refused += 1
                continue
            back = read_abc(text).notes
            assert same_music(back, notes), text
            assert [k for _, k in back.bars[:len(notes.bars)]] == [k for _, k in notes.bars], text
            assert np.allclose([b for b, _ in back.bars[:len(notes.bars)]], [b for b, _ in notes.bars]), text
            checked += 1
    assert checked >= 400 and refused <= checked // 20


def test_generate_abc_writes_each_tune_as_written_and_its_midi_is_it_played(tmp_path):
    from musicgate.cli import main
    from musicgate.music.midi import read_midi

    assert main(["-q", "generate", "--model", "folk-lstm", "--key", "A dorian", "--num", "3", "--seed", "4",
                 "--abc", "-o", str(tmp_path)]) == 0
    abc_files = sorted(tmp_path.glob("*.abc"))
    assert len(abc_files) == 3
    for path in abc_files:
        text = path.read_text()
        assert "K:Ador" in text and "T:folk-lstm in A dorian, seed 4, no. " in text
        written = read_abc(text).notes
        played = read_midi(path.with_suffix(".mid"))
        assert np.array_equal(written.played().pitch, played.pitch)
        assert np.allclose(written.played().onset, played.onset - played.onset.min() + written.played().onset.min())


def test_convert_writes_abc_and_refuses_chords_of_several_lengths_with_exit_2(tmp_path, capsys):
    from musicgate.cli import main
    from musicgate.music.midi import write_midi

    tune = melody([(74, 0.0, 1.0), (76, 1.0, 1.0), (78, 2.0, 2.0)], meter=(4, 4))
    write_midi(tune, tmp_path / "tune.mid")
    assert main(["convert", str(tmp_path / "tune.mid"), str(tmp_path / "tune.abc")]) == 0
    assert body((tmp_path / "tune.abc").read_text()) == "d2 e2 f4|]"
    write_midi(melody([(60, 0.0, 2.0), (64, 1.0, 1.0)], meter=(4, 4)), tmp_path / "two.mid")
    assert main(["convert", str(tmp_path / "two.mid"), str(tmp_path / "two.abc")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "two.abc" in err[0] and "MusicXML" in err[0]
    assert not (tmp_path / "two.abc").exists()


def test_generate_abc_from_a_model_of_several_voices_is_one_line_exit_2_and_writes_nothing(tmp_path, capsys):
    from musicgate.cli import main
    from tests.test_generate import tiny_checkpoint

    tiny_checkpoint(tmp_path / "event.pt", "event")  # the event vocabulary: chords and overlapping notes
    out = tmp_path / "out"
    assert main(["-q", "generate", "--model", str(tmp_path / "event.pt"), "--key", "D", "--num", "2", "--seed", "1",
                 "--length", "64", "--abc", "-o", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"{out / 'event_D-major_1_0.abc'}: ABC is written here as one line of melody" in err[0]
    assert ".musicgate-generate" not in err[0] and not out.exists()


def test_a_triplet_is_counted_from_its_bar_line_after_a_short_bar():
    # 2/4: a bar, a short bar of 1.5 beats (a part's end), then a triplet of quavers on the next bar line
    notes = melody([(74, 0.0, 2.0), (76, 2.0, 1.5), (72, 3.5, 1 / 3), (74, 3.5 + 1 / 3, 1 / 3), (76, 3.5 + 2 / 3, 1 / 3),
                    (78, 4.5, 1.0)], meter=(2, 4), bars=[(2.0, "|"), (3.5, "||"), (5.5, "||")])
    text = to_abc(notes)
    assert body(text) == "d8| e6||\n(3=c2d2e2 f4|]"  # D major: C natural
    assert same_music(read_abc(text).notes, notes)


def test_the_readme_s_jig_is_what_its_command_writes(tmp_path):
    from musicgate.cli import main

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    block = readme.split("```abc\n", 1)[1].split("```", 1)[0]
    command = 'musicgate generate --model folk-lstm --key "D major"\n--time-signature jig --seed 1 --abc'
    assert command in readme
    assert main(["-q", "generate", "--model", "folk-lstm", "--key", "D major", "--time-signature", "jig", "--seed", "1",
                 "--abc", "-o", str(tmp_path)]) == 0
    assert (tmp_path / "folk-lstm_D-major_1_0.abc").read_text() == block
