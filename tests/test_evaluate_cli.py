"""``musicgate evaluate`` through the CLI: generated folders, the reference, outputs and bad input."""
from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from conftest import shared_path
from midifile import off, on, smf
from musicgate.cli import main
from musicgate.generation.api import write_outputs
from musicgate.music.midi import write_midi
from musicgate.music.notes import Notes

D_PHRASE = [62, 66, 69, 74, 69, 66, 64, 62]  # D major, ends on D
G_PHRASE = [67, 71, 74, 79, 74, 72, 69, 67]  # G major, with a C


def reel(phrase, times: int = 4, *, key=None, meter=(4, 4)) -> Notes:
    """The phrase ``times`` times in quarter notes: two bars a phrase in 4/4."""
    pitch = phrase * times
    n = len(pitch)
    return Notes.from_arrays(pitch, np.arange(n, dtype=float), np.ones(n), key=key, meter=meter)


@pytest.fixture
def generated(tmp_path):
    """A folder as ``musicgate generate`` writes it: two tunes asked in D major, with the JSON record."""
    out = tmp_path / "gen"
    write_outputs([reel(D_PHRASE), reel(G_PHRASE)], out, model_name="folk-gru", key="D major", seed=1)
    return out


@pytest.fixture
def reference_dir(tmp_path):
    """A folder of real tunes whose keys are in their key signatures."""
    ref = tmp_path / "ref"
    for i in range(3):
        write_midi(reel(D_PHRASE, 4 + i, key="D major"), ref / f"d{i}.mid")
    write_midi(reel(G_PHRASE, 5, key="G major"), ref / "g.mid")
    return ref


def run(capsys, *argv) -> tuple[int, str, str]:
    code = main(["evaluate", *map(str, argv)])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_generated_folder_against_a_reference_folder(generated, reference_dir, capsys):
    code, out, err = run(capsys, generated, "--reference", reference_dir)
    assert code == 0, err
    assert "| measure | real tunes (4) | gen (2) |" in out
    report = generated / "evaluate"
    assert {p.name for p in report.iterdir()} == {"evaluate.md", "evaluate.json", "evaluate.png"}
    record = json.loads((report / "evaluate.json").read_text())
    assert record["command"].startswith("musicgate evaluate ") and "--reference" in record["command"]
    gen = record["sets"][0]
    assert gen["tunes"] == 2 and gen["key_sources"] == {"json": 2}
    d_tune, g_tune = gen["per_tune"]
    assert d_tune["name"].endswith("_0.mid") and d_tune["key"] == "D major" and d_tune["meter"] == "4/4"
    # the D tune: in the key, ends on D, 32 notes of the same phrase; the G tune: G major, ends on G
    assert d_tune["key_exact"] == 1.0 and d_tune["in_signature"] == 1.0 and d_tune["ends_on_tonic"] == 1.0
    assert d_tune["repeated_chunks"] == 17 / 25  # chunks 8 .. 24 start in a repeat
    assert d_tune["repeated_segments"] == 0.5  # 8 bars: two 4-bar segments, the second as the first
    assert d_tune["bars_filled"] == 1.0 and d_tune["notes"] == 32 and d_tune["bars"] == 8
    assert g_tune["key_exact"] == 0.0 and g_tune["key_signature"] == 0.0 and g_tune["ends_on_tonic"] == 0.0
    assert g_tune["in_signature"] == 7 / 8  # C is out of D major
    summary = gen["summary"]
    assert summary["key_exact"]["mean"] == 0.5 and summary["key_exact"]["tunes"] == 2
    assert summary["key_exact"]["lo"] <= 0.5 <= summary["key_exact"]["hi"]
    ref = record["reference"]
    assert ref["tunes"] == 4 and ref["key_sources"] == {"midi key signature": 4}
    assert ref["summary"]["key_exact"]["mean"] == 1.0
    md = (report / "evaluate.md").read_text()
    assert "| whole-piece key, same tonic and mode | 1.00 [1.00, 1.00] | 0.50 [0.00, 1.00] |" in md
    assert gen["by_mode"] == {"major": {"tunes": 2, "key_signature": 0.5, "key_exact": 0.5, "ends_on_tonic": 0.5}}
    assert "| major | 1.00 / 1.00 / 1.00 (4) | 0.50 / 0.50 / 0.50 (2) |" in md
    assert (report / "evaluate.png").read_bytes()[:4] == b"\x89PNG"


def test_key_option_overrides_the_record_and_output_folder(generated, tmp_path, capsys):
    out = tmp_path / "report"
    code, stdout, err = run(capsys, generated, "--key", "G major", "--no-reference", "--no-plot", "-o", out)
    assert code == 0, err
    record = json.loads((out / "evaluate.json").read_text())
    assert record["reference"] is None and record["settings"]["key"] == "G major"
    tunes = record["sets"][0]["per_tune"]
    assert [t["key_exact"] for t in tunes] == [0.0, 1.0] and {t["key_source"] for t in tunes} == {"--key"}
    assert not (out / "evaluate.png").exists() and not (generated / "evaluate").exists()


def test_folders_are_columns_and_files_one_more(generated, reference_dir, capsys, tmp_path):
    other = tmp_path / "other"
    shutil.copytree(generated, other)
    code, out, err = run(capsys, generated, other, reference_dir / "g.mid", "--no-reference", "--no-plot",
                         "-o", tmp_path / "r")
    assert code == 0, err
    assert "| measure | gen (2) | other (2) | files (1) |" in out


def test_prepared_corpus_reference(generated, reference_dir, tmp_path, capsys):
    from musicgate.data.corpora import prepare

    root = tmp_path / "datasets"
    for i in range(16):  # enough tunes for a test split of two
        write_midi(reel(D_PHRASE if i % 2 else G_PHRASE, 4, key="D major" if i % 2 else "G major"),
                   reference_dir / f"more{i}.mid")
    data = prepare(f"midi:{reference_dir}", vocab="melody", root=root, workers=1, quiet=True)
    data.path.rename(root / "folk")  # stands in for 'musicgate data prepare folk'
    code, out, err = run(capsys, generated, "--root", root, "--no-plot")
    assert code == 0, err
    record = json.loads((generated / "evaluate" / "evaluate.json").read_text())
    ref = record["reference"]
    assert ref["tunes"] == len(data.splits["test"]) >= 2
    assert ref["source"]["split"] == "test" and ref["key_sources"] == {"label": ref["tunes"]}
    assert ref["summary"]["key_exact"]["mean"] == 1.0 and ref["summary"]["in_signature"]["mean"] == 1.0
    # the same draw again: the reference tunes are drawn with the seed
    code, out2, _ = run(capsys, generated, "--root", root, "--no-plot", "--reference-tunes", "1")
    assert code == 0 and "real tunes (1)" in out2


def test_the_prepared_reference_is_measured_as_played(tmp_path, monkeypatch):
    """Generated tunes are MIDI files, which hold the music as played; the corpus's tunes (written,
    with repeat signs) are unrolled the same way before they are measured."""
    from musicgate.experiments import evaluate as ev
    from musicgate.experiments import retention_run
    from musicgate.music.keys import parse_key

    written = reel(D_PHRASE, 2, key="D major")
    written = Notes.from_arrays(written.pitch, written.onset, written.duration, key="D major", meter=(4, 4),
                                bars=[(0.0, "|:"), (4.0, "|"), (8.0, "|"), (12.0, "|"), (16.0, ":|")])
    assert len(written.played()) == 2 * len(written)
    monkeypatch.setattr(retention_run, "real_tunes", lambda *a, **k: ([written], [parse_key("D major")], {}))
    (tmp_path / "folk").mkdir()
    (tmp_path / "folk" / "COMPLETE").write_text("")
    ref = ev.load_reference("folk", root=tmp_path)
    assert len(ref.pieces[0].notes) == 32 and "as played" in ref.source["kind"]


# -- bad input -------------------------------------------------------------------------------------
def test_folk_reference_not_prepared(generated, tmp_path, capsys):
    code, out, err = run(capsys, generated, "--root", tmp_path / "nothing")
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "the folk corpus is not prepared; run 'musicgate data prepare folk --root" in err


def test_empty_folder(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    code, out, err = run(capsys, tmp_path / "empty", "--no-reference")
    assert code == 2 and err.count("\n") == 1 and "no .mid, .midi or .abc files" in err


def test_a_missing_path_names_the_files_evaluate_reads(tmp_path, capsys):
    code, out, err = run(capsys, tmp_path / "tunes.abc", "--no-reference")
    assert code == 2 and err.count("\n") == 1 and "no such file or folder; give a MIDI or ABC file" in err


def test_drum_only_file(tmp_path, capsys):
    path = tmp_path / "drums.mid"
    path.write_bytes(smf([(0, on(36, ch=9)), (480, off(36, ch=9)), (0, on(38, ch=9)), (480, off(38, ch=9))]))
    code, out, err = run(capsys, path, "--key", "C", "--no-reference")
    assert code == 2 and err.count("\n") == 1 and "drums.mid: only drum notes" in err


def test_empty_file_in_a_real_folder(capsys, tmp_path):
    folder = shared_path("midi", "one_track")
    code, out, err = run(capsys, folder, "--key", "C", "--no-reference", "-o", tmp_path / "r")
    assert code == 2 and err.count("\n") == 1 and "empty.mid: no notes" in err


def test_corrupted_file(capsys, tmp_path):
    path = shared_path("midi", "corrupted", "ValueError_Control168.mid")
    code, out, err = run(capsys, path, "--key", "C", "--no-reference", "-o", tmp_path / "r")
    assert code == 2 and err.count("\n") == 1 and "not a readable MIDI file" in err


def test_files_without_a_key(tmp_path, capsys):
    folder = tmp_path / "nokey"
    write_midi(reel(D_PHRASE), folder / "a.mid")  # no key signature, no JSON record
    code, out, err = run(capsys, folder, "--no-reference")
    assert code == 2 and err.count("\n") == 1
    assert "a.mid: no key to measure against; give --key" in err
    code, out, err = run(capsys, folder, "--no-reference", "--key", "D", "--no-plot")
    assert code == 0, err


def test_no_time_signature_gives_nan_bar_measures_and_a_warning(tmp_path, capsys):
    folder = tmp_path / "nometer"
    write_midi(reel(D_PHRASE, meter=None), folder / "a.mid")
    code, out, err = run(capsys, folder, "--no-reference", "--key", "D")
    assert code == 0, err
    assert "1 of 1 tunes have no time signature" in err
    tune = json.loads((folder / "evaluate" / "evaluate.json").read_text())["sets"][0]["per_tune"][0]
    assert tune["bars_filled"] is None and tune["bars"] is None and tune["repeated_segments"] is None
    assert tune["key_exact"] == 1.0 and tune["repeated_chunks"] == 17 / 25  # chunks 8 .. 24 start in a repeat
    assert "| inner bars filled exactly, no note crossing a bar line | n/a |" in out


def test_bad_key_and_profile(generated, capsys):
    code, out, err = run(capsys, generated, "--key", "H major", "--no-reference")
    assert code == 2 and "unknown key 'H major'" in err
    code, out, err = run(capsys, generated, "--profile", "nope", "--no-reference")
    assert code == 2 and "unknown key profile" in err


def test_polyphonic_files_are_measured_on_their_top_line(capsys, tmp_path):
    folder = shared_path("midi", "multitrack")
    code, out, err = run(capsys, folder, "--key", "C", "--no-reference", "--no-plot", "-o", tmp_path / "r")
    assert code == 0, err
    record = json.loads((tmp_path / "r" / "evaluate.json").read_text())
    tunes = record["sets"][0]["per_tune"]
    assert len(tunes) == 12 and all(t["notes"] > 100 for t in tunes)
    assert all(0 <= t["in_signature"] <= 1 and t["pitch_classes"] <= 12 for t in tunes)


def test_by_mode_splits_the_key_measures_by_the_asked_mode(tmp_path):
    from musicgate.experiments.evaluate import by_mode, by_mode_table, evaluate

    major, dorian = tmp_path / "major", tmp_path / "dorian"
    write_outputs([reel(D_PHRASE), reel(G_PHRASE)], major, model_name="m", key="D major", seed=1)
    write_outputs([reel(D_PHRASE)], dorian, model_name="m", key="E dorian", seed=1)  # ends on D, not E
    ev = evaluate([major, dorian], reference=None)
    assert by_mode(ev.sets[0]) == {"major": {"tunes": 2, "key_signature": 0.5, "key_exact": 0.5, "ends_on_tonic": 0.5}}
    assert by_mode(ev.sets[1])["dorian"]["ends_on_tonic"] == 0.0 and "major" not in by_mode(ev.sets[1])
    # a D major phrase asked as E dorian: the finder's D major has the signature, not the tonic and mode
    assert (by_mode(ev.sets[1])["dorian"]["key_signature"], by_mode(ev.sets[1])["dorian"]["key_exact"]) == (1.0, 0.0)
    rows = by_mode_table(ev).splitlines()
    assert rows[0] == "| asked mode | major | dorian |"
    assert rows[2].startswith("| major | 0.50 / 0.50 / 0.50 (2) | - |") and rows[3].startswith("| dorian | - | ")


# -- ABC -------------------------------------------------------------------------------------------
def test_abc_files_are_measured_as_their_midi_files_are(tmp_path, capsys):
    """generate --abc writes each tune twice; measured from the ABC alone (as played) it is the MIDI's tune."""
    from musicgate.generation.api import generate_run
    from musicgate.music.abcwrite import write_abc

    out = tmp_path / "gen"
    run_ = generate_run("folk-lstm", key="A dorian", num=4, seed=3, time_signature="jig")
    write_outputs(run_.notes, out, model_name="folk-lstm", key=run_.key, seed=3, abc=True, settings=run_.settings)
    abc_only = tmp_path / "abc"
    abc_only.mkdir()
    for f in out.glob("*.abc"):
        shutil.copy(f, abc_only / f.name)
    shutil.copy(next(out.glob("*.json")), abc_only)  # the record: the asked key
    both = [run(capsys, folder, "--no-reference", "--no-plot", "-o", tmp_path / f"r-{folder.name}")
            for folder in (out, abc_only)]
    assert all(code == 0 for code, _, _ in both), both
    midi, abc = (json.loads((tmp_path / f"r-{f}" / "evaluate.json").read_text())["sets"][0] for f in ("gen", "abc"))
    assert len(midi["per_tune"]) == len(abc["per_tune"]) == 4  # a folder with both: its MIDI files only
    for a, b in zip(midi["per_tune"], abc["per_tune"]):
        assert {k: v for k, v in a.items() if k != "name"} == {k: v for k, v in b.items() if k != "name"}
    # an ABC file of several tunes (X:1, X:2 ...) is one piece each, keyed by its K: field
    book = tmp_path / "book.abc"
    write_abc([reel(D_PHRASE, key="D major"), reel(G_PHRASE, key="G major")], book)
    code, text, err = run(capsys, book, "--no-reference", "--no-plot", "-o", tmp_path / "r-book")
    assert code == 0, err
    pieces = json.loads((tmp_path / "r-book" / "evaluate.json").read_text())["sets"][0]["per_tune"]
    assert [p["name"] for p in pieces] == ["book.abc#1", "book.abc#2"]
    assert [p["key_exact"] for p in pieces] == [1.0, 1.0]


def test_an_abc_tune_without_a_key_is_one_line(tmp_path, capsys):
    path = tmp_path / "tunes.abc"
    path.write_text("X:1\nM:4/4\nL:1/8\nK:D\nDFAd|\n\nX:2\nM:4/4\nL:1/8\nCDEF|\n")  # the second has no K:
    code, out, err = run(capsys, path, "--no-reference")
    assert code == 2 and err.count("\n") == 1 and "tunes.abc#2: no key to measure against" in err
