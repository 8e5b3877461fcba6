"""``musicgate analyze`` and the analysis library behind it, on MIDI files built in the test."""
from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from musicgate.analysis.analyze import analyze_notes
from musicgate.cli import main
from musicgate.music.keys import Key
from musicgate.music.midi import write_midi
from musicgate.music.notes import Notes

C_SCALE = [60, 62, 64, 65, 67, 69, 71, 72]


def melody(pitches, *, key=None) -> Notes:
    n = len(pitches)
    return Notes.from_arrays(pitches, np.arange(n, dtype=float), np.ones(n), key=key)


@pytest.fixture
def midi_dir(tmp_path):
    d = tmp_path / "in"
    write_midi(melody(C_SCALE * 6), d / "c_major.mid")
    write_midi(melody([p + 6 for p in C_SCALE] * 6), d / "sub" / "fsharp.mid")
    return d


def test_analyze_file(midi_dir, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["analyze", str(midi_dir / "c_major.mid"), "--window", "8", "-o", str(out)]) == 0
    text = capsys.readouterr().out
    assert "C major" in text and "100.0%" in text
    rows = list(csv.DictReader(open(out / "summary.csv")))
    assert rows[0]["key"] == "C major" and float(rows[0]["in_signature_by_count"]) == 1.0
    track = list(csv.DictReader(open(out / "c_major.keys.csv")))
    assert len(track) == 48 - 8 + 1 and track[0]["start"] == "0" and track[0]["end"] == "8"
    assert (out / "c_major.png").stat().st_size > 5000
    assert (out / "c_major.png").read_bytes()[:4] == b"\x89PNG"


def test_analyze_against_given_key(midi_dir, tmp_path):
    out = tmp_path / "out"
    assert main(["analyze", str(midi_dir / "c_major.mid"), "--key", "F#", "--no-plot",
                 "-o", str(out)]) == 0
    summary = json.loads((out / "summary.json").read_text())[0]
    # F# major holds F (E#) and B of the C major scale: 2 of 8 notes
    assert summary["target_key"] == Key(6).name
    assert summary["in_signature_by_count"] == 0.25
    assert summary["window_agreement"] == 0.0
    assert not (out / "c_major.png").exists()


def test_analyze_folder_in_beats(midi_dir, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["analyze", str(midi_dir), "--unit", "beats", "--window", "16", "--stride", "8",
                 "--profile", "krumhansl", "--no-plot", "-o", str(out)]) == 0
    summary = {s["file"]: s for s in json.loads((out / "summary.json").read_text())}
    assert summary["c_major.mid"]["key"] == "C major"
    assert summary["sub/fsharp.mid"]["key"] == Key(6).name
    assert summary["sub/fsharp.mid"]["profile"] == "krumhansl-kessler"
    assert [w["beat"] for w in summary["c_major.mid"]["key_track"]] == [0, 8, 16, 24, 32]
    assert (out / "sub__fsharp.keys.csv").exists()


def test_empty_midi_gives_nan_and_warning(tmp_path, capsys):
    path = write_midi(Notes.empty(), tmp_path / "empty.mid")
    out = tmp_path / "out"
    assert main(["analyze", str(path), "-o", str(out)]) == 0
    err = capsys.readouterr().err
    assert "no pitched notes" in err
    summary = json.loads((out / "summary.json").read_text())[0]
    assert summary["notes"] == 0 and summary["key"] is None
    assert summary["in_signature_by_count"] is None and summary["key_track"] == []
    assert (out / "empty.png").exists()


def test_drum_only_piece_is_empty():
    drums = Notes.from_arrays([36, 38], [0.0, 1.0], [0.5, 0.5], program=[-1, -1])
    with pytest.warns(RuntimeWarning):
        res = analyze_notes(drums, name="drums")
    assert res.key is None and np.isnan(res.in_signature.by_count)


@pytest.mark.parametrize("args, message", [
    (["--profile", "vuvan"], "valid profiles: krumhansl-kessler"),
    (["--key", "H minor"], "accepted forms"),
])
def test_bad_names_exit_2(midi_dir, tmp_path, capsys, args, message):
    assert main(["analyze", str(midi_dir), *args, "-o", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_missing_path_and_corrupt_file(tmp_path, midi_dir, capsys):
    assert main(["analyze", str(tmp_path / "nope.mid")]) == 2
    assert "no such file" in capsys.readouterr().err
    (midi_dir / "broken.mid").write_bytes(b"MThd\x00\x00\x00\x06garbage")
    out = tmp_path / "out"
    assert main(["analyze", str(midi_dir), "--no-plot", "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert "broken.mid" in err and "1 of 3 files" in err
    assert len(json.loads((out / "summary.json").read_text())) == 2


def test_file_key_and_agreement():
    res = analyze_notes(melody(C_SCALE * 4, key="A minor"), window=8)
    assert res.file_key == Key(9, "minor") and res.key == Key(0, "major")
    assert res.window_agreement == 1.0
    assert res.summary()["file_key"] == "A minor"


def test_modal_target_counts_as_its_major_or_minor():
    # A dorian melody (G major's notes, centred on A): windows in A minor agree with "Ador"
    tune = [57, 59, 60, 62, 64, 66, 67, 69, 69, 64, 60, 57] * 4
    res = analyze_notes(melody(tune), key="Ador", window=12, profile="temperley")
    assert res.target == Key(9, "dorian")
    assert res.in_signature.by_count == 1.0
    assert res.window_agreement == np.mean(res.windows.key == 21)
