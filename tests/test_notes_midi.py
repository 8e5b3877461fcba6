"""Notes, MIDI reading and writing, pretty_midi and music21 conversion, and bad MIDI input."""
from __future__ import annotations

import io

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from midifile import off, on, smf

from musicgate.errors import MidiError
from musicgate.music.keys import Key
from musicgate.music.midi import from_pretty_midi, midi_bytes, read_midi, to_pretty_midi, write_midi
from musicgate.music.notes import DRUM_PROGRAM, Notes


def test_read_tiny_file_in_beats_and_seconds():
    tempo = b"\xff\x51\x03" + (1_000_000).to_bytes(3, "big")  # 60 qpm
    data = smf([(0, tempo), (0, b"\xff\x59\x02\x02\x01"), (0, on(60)), (480, off(60)), (240, on(64, 50)),
                (240, off(64))])
    n = read_midi(data)
    assert n.pitch.tolist() == [60, 64]
    assert n.onset.tolist() == [0.0, 1.5] and n.duration.tolist() == [1.0, 0.5]
    assert n.velocity.tolist() == [90, 50]
    assert n.onset_seconds.tolist() == [0.0, 1.5]  # 60 qpm: one beat per second
    assert n.key == Key(11, "minor")  # two sharps, minor
    assert n.tempos.tolist() == [[0.0, 60.0]]


def test_tempo_map_converts_beats_to_seconds():
    n = Notes.from_arrays([60, 62], [0, 4], [1, 1], tempos=[[0, 120], [2, 60]])
    assert n.seconds(np.array([0, 2, 4])).tolist() == [0.0, 1.0, 3.0]


def test_drums_excluded_by_default_and_kept_on_request():
    data = smf([(0, on(60)), (480, off(60))], [(0, on(36, ch=9)), (480, off(36, ch=9))])
    assert read_midi(data).pitch.tolist() == [60]
    both = read_midi(data, drums=True)
    assert sorted(both.program.tolist()) == [DRUM_PROGRAM, 0]


def test_write_then_read_is_identity_on_the_grid(tmp_path):
    n = Notes.from_arrays([60, 64, 67], [0, 0.5, 1 / 3], [0.5, 1, 2 / 3], [80, 90, 100], key="Eb major",
                          meter=(3, 4), tempos=[[0, 100]])
    path = write_midi(n, tmp_path / "x.mid")
    back = read_midi(path)
    assert np.allclose(back.onset, n.onset) and np.allclose(back.duration, n.duration)
    assert back.pitch.tolist() == n.pitch.tolist() and back.key == n.key and back.meter == (3, 4)
    assert not list(tmp_path.glob(".*tmp"))  # no temporary file left behind


def test_pretty_midi_round_trip():
    n = Notes.from_arrays([60, 64], [0, 1], [1, 2], [70, 80], key="A minor", meter=(4, 4))
    pm = to_pretty_midi(n)
    assert [note.pitch for note in pm.instruments[0].notes] == [60, 64]
    back = from_pretty_midi(pm)
    assert np.allclose(back.onset, n.onset) and np.allclose(back.duration, n.duration)
    assert back.key == Key(9, "minor") and back.meter == (4, 4)


def test_music21_round_trip_and_musicxml_keeps_the_key(tmp_path):
    music21 = pytest.importorskip("music21")
    from musicgate.music.score import from_music21, key_label, to_music21, write_musicxml

    n = Notes.from_arrays([62, 66, 69, 62], [0, 1, 2, 2], [1, 1, 2, 2], key="D dorian", meter=(4, 4))
    assert from_music21(to_music21(n)) == n
    path = write_musicxml(n, tmp_path / "x.musicxml")
    assert key_label(music21.converter.parse(path)) == Key(2, "dorian")


def test_skyline_keeps_highest_sounding_note():
    # chord C-E-G at 0 (2 beats); a low note starting under it is dropped; a higher one cuts it.
    n = Notes.from_arrays([60, 64, 67, 55, 72, 50], [0, 0, 0, 1, 1.5, 3], [2, 2, 2, 0.5, 1, 1])
    s = n.skyline()
    assert s.pitch.tolist() == [67, 72, 50]
    assert s.onset.tolist() == [0, 1.5, 3] and s.duration.tolist() == [1.5, 1, 1]


def test_empty_file_gives_empty_notes(shared_midi):
    n = read_midi(shared_midi / "one_track" / "empty.mid")
    assert len(n) == 0 and n.end == 0.0 and len(n.skyline()) == 0


def test_corrupted_file_raises_our_error_naming_file_and_reason(shared_midi):
    path = shared_midi / "corrupted" / "ValueError_Control168.mid"
    with pytest.raises(MidiError, match="ValueError_Control168.mid.*control_value=168"):
        read_midi(path)


def test_every_real_file_reads(shared_midi):
    files = sorted((shared_midi / "one_track").glob("*.mid")) + sorted((shared_midi / "multitrack").glob("*.mid"))
    assert len(files) == 29
    for f in files:
        n = read_midi(f)
        assert (len(n) > 0) == (f.name != "empty.mid")
        assert np.all(np.diff(n.onset) >= 0)


@pytest.mark.parametrize("data, reason", [
    (b"", "shorter than a MIDI header"),  # symusic's "Invaild midi file! File size is less than 14!"
    (b"this is a text file, not MIDI at all", "does not start with MThd"),
    (smf([(0, on(60)), (480, off(60))])[:30], "chunk length"),
])
def test_bad_bytes_raise_midi_error(tmp_path, data, reason):
    path = tmp_path / "bad.mid"
    path.write_bytes(data)
    with pytest.raises(MidiError, match=reason):
        read_midi(path)


def test_missing_file():
    with pytest.raises(MidiError, match="no such MIDI file"):
        read_midi("/nonexistent/x.mid")


def test_absurd_tick_is_an_error_not_gigabytes():
    import resource

    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    far = [(2**28 - 1, b"\xff\x01\x01a")] * 7  # a text event pushed to tick ~2**31
    with pytest.raises(MidiError, match="outside 0"):
        read_midi(smf([(0, on(60)), (480, off(60))] + far + [(8, on(62)), (480, off(62))]))
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 200_000  # KiB


def test_zero_length_and_overlapping_notes_read_without_error():
    # note-on/off at the same tick; two overlapping notes on one pitch.
    data = smf([(0, on(60)), (0, off(60)), (0, on(62)), (240, on(62)), (240, off(62)), (240, off(62))])
    n = read_midi(data)
    assert sorted(n.duration.tolist())[0] == 0.0
    assert n.pitch.tolist().count(62) == 2


def test_write_refuses_out_of_range_pitch(tmp_path):
    n = Notes.from_arrays([130], [0], [1])
    with pytest.raises(MidiError, match="outside 0-127"):
        midi_bytes(n)


@st.composite
def writable_notes(draw):
    """Notes in up to three (track, program) groups, drums included; pitches unique, so no two notes
    of one pitch overlap (readers pair such note-offs differently)."""
    pitch = draw(st.lists(st.integers(0, 127), max_size=30, unique=True))
    n = len(pitch)
    floats = lambda lo, hi: st.lists(st.floats(lo, hi, allow_nan=False), min_size=n, max_size=n)  # noqa: E731
    groups = draw(st.lists(st.tuples(st.integers(0, 3), st.sampled_from([DRUM_PROGRAM, 0, 40, 127])),
                           min_size=1, max_size=3, unique=True))
    group = draw(st.lists(st.sampled_from(groups), min_size=n, max_size=n))
    beats = [0] + sorted(draw(st.lists(st.integers(1, 64), max_size=3, unique=True)))
    qpm = draw(st.lists(st.integers(20, 300), min_size=len(beats), max_size=len(beats), unique=True))  # pretty_midi
    tempos = [[b / 2, q] for b, q in zip(beats, qpm)]  # drops a change to the same tempo
    key = draw(st.none() | st.builds(Key, st.integers(0, 11), st.sampled_from(["major", "minor"])))
    meter = draw(st.none() | st.tuples(st.integers(1, 12), st.sampled_from([2, 4, 8, 16])))
    velocity = draw(st.lists(st.integers(0, 127), min_size=n, max_size=n))
    return Notes.from_arrays(pitch, draw(floats(0, 64)), draw(floats(-1, 8)), velocity, program=[p for _, p in group],
                             track=[t for t, _ in group], tempos=tempos, key=key, meter=meter)


def on_the_tick_grid(n: Notes, tpb: int = 480) -> Notes:
    """What writing keeps: times on the tick grid (a note at least one tick long), velocities 1-127, and the
    tracks numbered by (track, program) group."""
    on = np.rint(n.onset * tpb)
    end = np.maximum(np.rint((n.onset + n.duration) * tpb), on + 1)
    group = n.track.astype(np.int64) * 256 + n.program + 1
    return Notes.from_arrays(n.pitch, on / tpb, (end - on) / tpb, np.clip(n.velocity, 1, 127), program=n.program,
                             track=np.unique(group, return_inverse=True)[1].reshape(-1), keys=n.keys, meters=n.meters,
                             tempos=n.tempos)


@settings(max_examples=150, deadline=None)
@given(n=writable_notes())
def test_written_files_read_back_the_same_through_symusic_and_pretty_midi(n):
    import pretty_midi

    expected = on_the_tick_grid(n)
    data = midi_bytes(n)
    for back in (read_midi(data, drums=True), from_pretty_midi(pretty_midi.PrettyMIDI(io.BytesIO(data)), drums=True)):
        assert back.pitch.tolist() == expected.pitch.tolist() and back.track.tolist() == expected.track.tolist()
        assert back.program.tolist() == expected.program.tolist()
        assert back.velocity.tolist() == expected.velocity.tolist()
        assert np.allclose(back.onset, expected.onset) and np.allclose(back.duration, expected.duration)
        assert back.keys == expected.keys and back.meters == expected.meters
        assert np.allclose(back.tempos, expected.tempos, rtol=1e-5)


def test_overlapping_notes_of_one_pitch_are_written_in_order():
    # Same pitch, same onset: note-ons in the notes' order, note-offs before note-ons at one tick.
    n = Notes.from_arrays([60, 60, 60], [0, 0, 1], [0.5, 1, 1], [90, 80, 60])
    assert read_midi(midi_bytes(n)) == n


@pytest.mark.parametrize("notes, reason", [
    (Notes.from_arrays([60], [-1], [2]), "a note from beat -1 to 1, outside"),
    (Notes.from_arrays([60], [0], [2.0**20]), "a note from beat 0 to 1.04858e\\+06, outside the 0..559240 beats"),
    (Notes.from_arrays([60], [float("nan")], [1]), "a note from beat nan"),
    (Notes.from_arrays([60], [0], [1], tempos=[[0, 120], [-2, 60]]), "a tempo, key or time signature at beat -2"),
    (Notes.from_arrays([60], [0], [1], meter=(300, 4)), "time signature of 300/4"),
])
def test_what_a_midi_file_cannot_hold_is_refused(notes, reason, tmp_path):
    with pytest.raises(MidiError, match=reason):
        midi_bytes(notes)
    with pytest.raises(MidiError, match=reason):
        write_midi(notes, tmp_path / "x.mid")
    assert not list(tmp_path.iterdir())  # no file, not even a temporary one


def test_tempo_is_clamped_to_what_midi_holds():
    n = Notes.from_arrays([60], [0], [1], tempos=[[0, 1.0], [1, 1e9]])
    assert np.allclose(read_midi(midi_bytes(n)).tempos[:, 1], [6e7 / 0xFFFFFF, 6e7])


def _few_or_many(lo: int, hi: int):
    return st.one_of(st.integers(lo, lo + 1), st.integers(lo, hi))  # small ranges make ties


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(_few_or_many(0, 50), _few_or_many(0, 127), _few_or_many(0, 40), _few_or_many(-5, 1000),
                          _few_or_many(0, 300), _few_or_many(-1, 127)), min_size=1, max_size=40))
def test_canonical_order_sorts_by_every_field_whatever_the_values(rows):
    from musicgate.music.notes import canonical_order

    on, pi, du, ve, tr, pr = (np.array(c, np.int64) for c in zip(*rows))
    order = canonical_order(on, pi, du, ve, tr, pr)
    # onset, pitch, duration, velocity, track, then program with drums (-1) after program 127
    expected = sorted(rows, key=lambda r: (*r[:5], r[5] & 0xFF))
    assert [rows[i] for i in order] == expected


def test_write_makes_missing_folders_and_an_unwritable_place_is_a_midi_error(tmp_path):
    notes = Notes.from_arrays([60, 64], [0.0, 1.0], [1.0, 1.0])
    path = write_midi(notes, tmp_path / "new" / "deeper" / "x.mid")
    assert read_midi(path) == notes and sorted(p.name for p in path.parent.iterdir()) == ["x.mid"]
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(MidiError, match="cannot write the MIDI file"):
        write_midi(notes, blocker / "x.mid")
    assert blocker.read_text() == "not a folder"
