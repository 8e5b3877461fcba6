"""``musicgate.music.describe``: what ``musicgate info`` says about a MIDI file, as a library call."""
from __future__ import annotations


import pytest
from midifile import off, on, smf

from musicgate.errors import MidiError
from musicgate.music.describe import describe, describe_text


def test_describe_counts_tracks_pitches_length_and_tempo(tmp_path):
    tempo = b"\xff\x51\x03" + (1_000_000).to_bytes(3, "big")  # 60 qpm
    meter = b"\xff\x58\x04\x03\x02\x18\x08"  # 3/4
    key = b"\xff\x59\x02\x02\x01"  # two sharps, minor: B minor
    melody = [(0, tempo), (0, meter), (0, key), (0, on(60)), (480, off(60)), (0, on(67)), (960, off(67))]
    bass = [(0, on(36, ch=1)), (1440, off(36, ch=1))]
    drums = [(0, on(42, ch=9)), (240, off(42, ch=9))]
    path = tmp_path / "three.mid"
    path.write_bytes(smf(melody, bass, drums))
    d = describe(path)
    assert d["notes"] == 4 and d["beats"] == 3.0 and d["seconds"] == 3.0
    assert d["first_tempo_qpm"] == 60.0 and d["tempo_changes"] == 1
    assert d["time_signatures"] == [[0.0, "3/4"]] and d["key_signatures"] == [[0.0, "B minor"]]
    by_range = {tuple(t["pitch_range"]): t for t in d["tracks"]}
    assert by_range[(60, 67)]["notes"] == 2 and by_range[(36, 36)]["notes"] == 1
    assert by_range[(42, 42)]["program"] == "drums"
    text = describe_text(d)
    assert text.splitlines()[0].startswith(f"{path}: 4 notes in 3 tracks, 3.0 beats, 3.0 s, tempo 60.0 qpm")
    assert "time signatures: 3/4 at beat 0.0" in text and "program drums, 1 notes, pitches 42-42" in text


def test_describe_of_a_missing_file_is_our_error(tmp_path):
    with pytest.raises(MidiError, match="nope.mid"):
        describe(tmp_path / "nope.mid")
