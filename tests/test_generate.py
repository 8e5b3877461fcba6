"""Generation API and ``musicgate generate``: models by name or path, keys, primers, files, bad input."""
from __future__ import annotations

import importlib
import json

import numpy as np
import pytest
import torch

from musicgate.nn.checkpoint import make_checkpoint, save_checkpoint
from musicgate.cli import main
from musicgate.errors import CheckpointError, ConfigError, KeyNameError, MidiError
from musicgate.music.keys import MAJOR_MINOR_KEYS, parse_key
from musicgate.music.midi import read_midi, write_midi
from musicgate.nn.models import RecurrentLM
from musicgate.music.notes import Notes
from musicgate.tokens.tokenizer import make_tokenizer

gen = importlib.import_module("musicgate.generation.api")  # the module (musicgate.generation.api may be the function)
hub = importlib.import_module("musicgate.nn.hub")


def tiny_checkpoint(path, kind: str, cell: str = "gru", seed: int = 0):
    tok = make_tokenizer(kind, pitch_range=(21, 108), **({"velocity_bins": 16} if kind == "event" else {}))
    torch.manual_seed(seed)
    model = RecurrentLM(vocab_size=len(tok), cell=cell, hidden=16, layers=1)
    payload = make_checkpoint(model=model, config={"model": {"cell": cell}}, tokenizer=tok,
                              dataset={"name": "test"}, step=0, best_val_loss=None)
    return save_checkpoint(payload, path)


@pytest.fixture(scope="module")
def ckpts(tmp_path_factory):
    folder = tmp_path_factory.mktemp("ckpt")
    return {kind: tiny_checkpoint(folder / f"{kind}.pt", kind) for kind in ("melody", "event")}


@pytest.fixture
def shipped(tmp_path, monkeypatch):
    """A stand-in for musicgate/pretrained/ holding folk-lstm and folk-gru."""
    folder = tmp_path / "pretrained"
    folder.mkdir()
    tiny_checkpoint(folder / "folk-lstm.pt", "melody", "lstm")
    tiny_checkpoint(folder / "folk-gru.pt", "melody", "gru")
    monkeypatch.setattr(hub, "pretrained_dir", lambda: folder)
    return folder


def d_major_primer(path=None):
    notes = Notes.from_arrays([62, 64, 66, 67, 69, 71, 73, 74, 69, 66, 62], np.arange(11) * 0.5, [0.5] * 11,
                              meter=(6, 8))
    return notes if path is None else write_midi(notes, path)


# -- loading ---------------------------------------------------------------------------------------
def test_load_model_by_shipped_name_and_by_path(shipped, ckpts):
    model, tok, meta = gen.load_model("folk-gru")
    assert model.cell == "gru" and not model.training and meta["name"] == "folk-gru" and tok.kind == "melody"
    assert hub.shipped_models() == ["folk-gru", "folk-lstm"]
    model, tok, meta = gen.load_model(str(ckpts["event"]))
    assert tok.kind == "event" and meta["name"] == "event"


def test_unknown_model_name_lists_the_shipped_ones(shipped):
    with pytest.raises(CheckpointError, match="no shipped model named 'folk-transformer'.*folk-gru, folk-lstm"):
        gen.load_model("folk-transformer")


def test_not_a_checkpoint(tmp_path):
    bogus = tmp_path / "model.pt"
    bogus.write_bytes(b"not a checkpoint at all")
    with pytest.raises(CheckpointError, match="not a musicgate checkpoint"):
        gen.load_model(bogus)
    with pytest.raises(CheckpointError, match="no such checkpoint"):
        gen.load_model(tmp_path / "missing.pt")


def test_run_folder_names_files_by_run(tmp_path):
    run = tmp_path / "folk-lstm-20240101"
    run.mkdir()
    tiny_checkpoint(run / "best.pt", "melody")
    assert hub.model_label(run / "best.pt") == "folk-lstm-20240101-best"


# -- generate --------------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["melody", "event"])
@pytest.mark.parametrize("text, key", [("D major", "D major"), ("Dm", "D minor"), ("F# minor", "F# minor"),
                                       ("Bb", "Bb major"), ("Ador", "A dorian")])
def test_generate_in_the_asked_key(ckpts, kind, text, key):
    pieces = gen.generate(str(ckpts[kind]), key=text, length=12, num=2, seed=3)
    assert len(pieces) == 2
    assert all(len(p) == 12 and p.key == parse_key(key) for p in pieces)


def test_seed_reproduces_and_draws_the_key(ckpts):
    a = gen.generate_run(str(ckpts["melody"]), length=10, num=2, seed=11)
    b = gen.generate_run(str(ckpts["melody"]), length=10, num=2, seed=11)
    assert a.key == b.key and all(x == y for x, y in zip(a.notes, b.notes))
    assert a.settings["key_source"] == "drawn with the seed" and a.key in MAJOR_MINOR_KEYS
    drawn = {gen.generate_run(str(ckpts["melody"]), length=1, seed=s).key for s in range(12)}
    assert len(drawn) > 3  # the seed picks among the 24 keys


def test_loaded_triple_is_accepted(ckpts):
    triple = gen.load_model(ckpts["melody"])
    pieces = gen.generate(triple, key="G", length=8, seed=0)
    assert len(pieces[0]) == 8 and pieces[0].key == parse_key("G major")


def test_primer_key_is_estimated_and_continued(ckpts, tmp_path):
    primer = d_major_primer(tmp_path / "primer.mid")
    run = gen.generate_run(str(ckpts["melody"]), primer=primer, length=10, seed=0)
    piece = run.notes[0]
    assert run.key == parse_key("D major") and run.settings["key_source"] == "estimated from the primer"
    assert len(piece) == 11 + 10
    assert piece.pitch[:11].tolist() == read_midi(primer).pitch.tolist()


def test_primer_moves_into_the_asked_key(ckpts):
    run = gen.generate_run(str(ckpts["event"]), primer=d_major_primer(), key="Eb major", length=5, seed=0)
    assert run.settings["primer_transpose"] == 1
    assert run.notes[0].pitch[:11].tolist() == (d_major_primer().pitch + 1).tolist()
    modal = gen.generate_run(str(ckpts["melody"]), primer=d_major_primer(), key="E dorian", length=5, seed=0)
    assert modal.settings["primer_transpose"] == 0  # E dorian shares D major's signature


def test_key_mask_is_recorded(ckpts):
    run = gen.generate_run(str(ckpts["melody"]), key="A minor", length=40, seed=1, key_mask=True)
    assert set(run.notes[0].pitch % 12) <= parse_key("A minor").pitch_classes
    assert run.settings["key_pushing_flags"] == ["key_mask"]
    plain = gen.generate_run(str(ckpts["melody"]), key="A minor", length=4, seed=1)
    assert plain.settings["key_pushing_flags"] == [] and plain.settings["key_mask"] is False


@pytest.mark.parametrize("kwargs, error, phrase", [
    ({"key": "H major"}, KeyNameError, "accepted forms"),
    ({"length": 0}, ConfigError, "length must be a positive"),
    ({"temperature": -0.5}, ConfigError, "temperature"),
    ({"top_p": 1.01}, ConfigError, "top-p must be in"),
    ({"top_p": 0}, ConfigError, "top-p must be in"),
    ({"min_p": 1.0}, ConfigError, "min-p must be in"),
    ({"num": 0}, ConfigError, "num must be"),
])
def test_generate_bad_settings(ckpts, kwargs, error, phrase):
    with pytest.raises(error, match=phrase):
        gen.generate(str(ckpts["melody"]), **{"length": 4, **kwargs})


def test_bad_primers(ckpts, tmp_path):
    empty = tmp_path / "empty.mid"
    empty.write_bytes(b"")
    corrupt = tmp_path / "corrupt.mid"
    corrupt.write_bytes(b"MThd\x00\x00\x00\x06\x00\x01\x00\x02")
    silent = write_midi(Notes.empty(), tmp_path / "silent.mid")
    for path, phrase in [(empty, "empty"), (corrupt, "not a readable MIDI"), (silent, "no notes"),
                         (tmp_path / "absent.mid", "no such")]:
        with pytest.raises(MidiError, match=phrase):
            gen.generate(str(ckpts["melody"]), primer=path, length=4)


# -- files -----------------------------------------------------------------------------------------
def test_write_outputs_names_and_record(ckpts, tmp_path):
    run = gen.generate_run(str(ckpts["melody"]), key="F# minor", length=6, num=2, seed=42, top_k=5)
    paths = gen.write_outputs(run.notes, tmp_path / "out", model_name=run.model_name, key=run.key,
                              seed=run.seed, settings=run.settings)
    names = [p.name for p in paths]
    assert names == ["melody_Fsharp-minor_42_0.mid", "melody_Fsharp-minor_42_1.mid", "melody_Fsharp-minor_42.json"]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(names)  # no temp files left
    back = read_midi(paths[0])
    assert len(back) == 6 and back.key.signature == parse_key("F# minor").signature
    record = json.loads(paths[-1].read_text())
    assert record["seed"] == 42 and record["top_k"] == 5 and record["key"] == "F# minor"
    assert record["key_pushing_flags"] == [] and record["files"] == names[:2]


def test_write_outputs_all_or_nothing(ckpts, tmp_path, monkeypatch):
    pieces = gen.generate(str(ckpts["melody"]), key="C", length=4, num=3, seed=0)
    midi = importlib.import_module("musicgate.music.midi")
    real, calls = midi.write_midi, []

    def flaky(notes, path, **kw):
        calls.append(path)
        if len(calls) == 3:
            raise MidiError(f"{path}: disk full")
        return real(notes, path, **kw)

    monkeypatch.setattr(midi, "write_midi", flaky)
    out = tmp_path / "new" / "out"
    with pytest.raises(MidiError, match="disk full"):
        gen.write_outputs(pieces, out, model_name="m", key="C", seed=0)
    assert not (tmp_path / "new").exists()  # the folders it made are gone too
    existing = tmp_path / "kept"
    existing.mkdir()
    (existing / "mine.txt").write_text("x")
    calls.clear()
    with pytest.raises(MidiError):
        gen.write_outputs(pieces, existing, model_name="m", key="C", seed=0)
    assert [p.name for p in existing.iterdir()] == ["mine.txt"]


# -- CLI -------------------------------------------------------------------------------------------
def test_cli_default_model_writes_a_file(shipped, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["generate", "--seed", "5"]) == 0
    out = capsys.readouterr().out
    files = sorted((tmp_path / "generated").glob(f"{gen.DEFAULT_MODEL}_*_5_0.mid"))
    record = json.loads(next((tmp_path / "generated").glob(f"{gen.DEFAULT_MODEL}_*_5.json")).read_text())
    (n,) = record["new_notes"]
    assert len(files) == 1 and 32 <= n <= gen.DEFAULT_LENGTH and record["note_counts"] == [n]
    assert len(read_midi(files[0])) >= n  # the MIDI file plays the repeats
    assert record["length_mode"] == "model ends" and record["meter_grammar"] is True
    assert record["temperature"] == gen.DEFAULT_TEMPERATURE == 1.0 and record["model"] == gen.DEFAULT_MODEL == "folk-lstm"
    assert record["min_p"] == gen.DEFAULT_MIN_P == 0.05 and record["max_run"] == gen.DEFAULT_MAX_RUN == 6
    assert record["max_loop"] == gen.DEFAULT_MAX_LOOP == 4 and record["rules_of_style"] is True
    assert record["last_part_at_least"] == 0.6
    assert (record["min_length"], record["max_length"]) == (32, gen.DEFAULT_LENGTH)
    assert record["ended_by_model"] == [n < gen.DEFAULT_LENGTH] and record["cut"] == [n == gen.DEFAULT_LENGTH]
    assert f"wrote generated/{files[0].name}" in out and "key-pushing flags: none" in out
    assert "meter grammar on" in out


def test_cli_options(ckpts, tmp_path, capsys):
    primer = d_major_primer(tmp_path / "p.mid")
    args = ["generate", "--model", str(ckpts["event"]), "--key", "Bb", "--length", "9", "--num", "2",
            "--temperature", "0.7", "--top-k", "30", "--top-p", "0.95", "--primer", str(primer), "--seed", "8",
            "-o", str(tmp_path / "o"), "--key-mask", "--no-repeat-ngram", "3", "--max-run", "0"]
    assert main(args) == 0
    names = sorted(p.name for p in (tmp_path / "o").iterdir())
    assert names == ["event_Bb-major_8.json", "event_Bb-major_8_0.mid", "event_Bb-major_8_1.mid"]
    record = json.loads((tmp_path / "o" / "event_Bb-major_8.json").read_text())
    assert record["key_pushing_flags"] == ["key_mask"] and record["no_repeat_ngram"] == 3
    assert record["max_run"] is None and record["max_loop"] is None  # 0: no limit
    assert record["primer"] == str(primer) and record["temperature"] == 0.7 and record["note_counts"] == [20, 20]
    text = capsys.readouterr().out
    assert "in Bb major (given) in 6/8 (the primer's), seed 8; 0 of 2 ended by the model; meter grammar n/a; " \
        "key-pushing flags: key_mask" in text


@pytest.mark.parametrize("extra, phrase", [
    (["--key", "Q minor"], "unknown key 'Q minor'; accepted forms"),
    (["--length", "0"], "argument --length: must be a whole number >= 1, got 0"),
    (["--min-length", "9"], "min-length 9 is greater than the maximum length 4"),
    (["--min-length", "0"], "argument --min-length: must be a whole number >= 1, got 0"),
    (["--exact-length", "0", "--length", "-"], "argument --exact-length: must be a whole number >= 1, got 0"),
    (["--exact-length", "8"], "exact-length fixes the number of notes; leave out length"),
    (["--exact-length", "11", "--length", "-", "--primer", "PRIMER"], "the primer has 11 notes"),
    (["--temperature", "-1"], "argument --temperature: must be a number > 0"),
    (["--max-run", "-2"], "argument --max-run: must be a whole number >= 0, got -2"),
    (["--max-loop", "1"], "max-loop must be a whole number of times >= 2"),
    (["--max-loop", "-1"], "argument --max-loop: must be a whole number >= 0, got -1"),
    (["--top-p", "0"], "argument --top-p: must be in (0, 1]"),
    (["--top-p", "2"], "argument --top-p: must be in (0, 1]"),
    (["--min-p", "1.5"], "min-p must be in [0, 1)"),
    (["--min-p", "-0.1"], "min-p must be in [0, 1)"),
    (["--primer", "EMPTY"], "the primer file is empty"),
    (["--primer", "CORRUPT"], "not a readable MIDI file"),
    (["--model", "NOTCKPT"], "not a musicgate checkpoint"),
    (["--model", "folk-nothing"], "no shipped model named 'folk-nothing'"),
])
def test_cli_bad_input_one_line_and_nothing_written(ckpts, tmp_path, capsys, extra, phrase):
    (tmp_path / "empty.mid").write_bytes(b"")
    (tmp_path / "corrupt.mid").write_bytes(b"MThd\x00\x00")
    (tmp_path / "model.pt").write_bytes(b"\x80\x04junk")
    swap = {"EMPTY": tmp_path / "empty.mid", "CORRUPT": tmp_path / "corrupt.mid", "NOTCKPT": tmp_path / "model.pt",
            "PRIMER": d_major_primer(tmp_path / "p.mid")}
    extra = [str(swap.get(a, a)) for a in extra]
    out = tmp_path / "out"
    length = [] if "-" in extra else ["--length", "4"]
    extra = [a for a in extra if a not in ("--length", "-")] if length == [] else extra
    args = ["generate", "--model", str(ckpts["melody"]), *length, "-o", str(out), *extra]
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert phrase in err and len(err.splitlines()) == 1
    assert not out.exists()


def test_cli_lengths_endings_and_meter_are_recorded(ckpts, tmp_path, capsys):
    out = tmp_path / "o"
    assert main(["generate", "--model", str(ckpts["melody"]), "--key", "D", "--length", "30", "--min-length",
                 "30", "--num", "2", "--seed", "1", "-o", str(out), "--free-meter"]) == 0
    text = capsys.readouterr().out
    record = json.loads((out / "melody_D-major_1.json").read_text())
    assert record["new_notes"] == [30, 30] and record["cut"] == [True, True]  # min = max: always cut
    assert record["ended_by_model"] == [False, False] and record["meter_grammar"] is False
    assert "cut at the maximum of 30 new notes (--length), not ended by the model: piece(s) 0, 1" in text
    assert "meter grammar off (--free-meter)" in text
    primer = d_major_primer(tmp_path / "p.mid")
    assert main(["generate", "--model", str(ckpts["melody"]), "--key", "D", "--exact-length", "20", "--num", "3",
                 "--primer", str(primer), "--seed", "2", "-o", str(out)]) == 0
    record = json.loads((out / "melody_D-major_2.json").read_text())
    assert record["note_counts"] == [20, 20, 20] and record["new_notes"] == [9, 9, 9]  # the primer's 11 count
    assert record["length_mode"] == "exact" and record["exact_length"] == 20 and record["cut"] == [False] * 3
    assert "exactly 20 notes each (--exact-length)" in capsys.readouterr().out
    assert all(len(read_midi(out / f"melody_D-major_2_{i}.mid")) >= 20 for i in range(3))  # repeats played


def test_generate_ends_where_the_model_ends(ckpts):
    run = gen.generate_run(str(ckpts["melody"]), key="G", length=400, min_length=5, num=6, seed=4)
    lengths = [len(n) for n in run.notes]
    assert all(5 <= n <= 400 for n in lengths) and run.settings["new_notes"] == lengths
    assert run.cut == [n == 400 for n in lengths] and run.settings["max_length"] == 400
    assert any(n < 400 for n in lengths)  # an untrained model chooses EOS now and then
    exact = gen.generate_run(str(ckpts["melody"]), key="G", exact_length=40, num=3, seed=4, meter=False)
    assert [len(n) for n in exact.notes] == [40, 40, 40] and exact.settings["meter_grammar"] is False


def test_cli_wav_and_musicxml(ckpts, tmp_path):
    pytest.importorskip("midirenderer")
    assert main(["generate", "--model", str(ckpts["melody"]), "--key", "G", "--length", "6", "--seed", "1",
                 "-o", str(tmp_path), "--wav", "--musicxml"]) == 0
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["melody_G-major_1.json", "melody_G-major_1_0.mid", "melody_G-major_1_0.musicxml",
                     "melody_G-major_1_0.wav"]
    assert (tmp_path / "melody_G-major_1_0.wav").stat().st_size > 1000
