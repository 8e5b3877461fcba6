"""Corpora: labels of hand-checked tunes, each loader on a small subset, rejects, caching."""
from __future__ import annotations

import numpy as np
import pytest
from conftest import shared_path
from midifile import off, on, smf

from musicgate.cli import main
from musicgate.data.corpora import (_music21_corpus_dir, abc_tunes, load_prepared, parse_item, prepare, roll_to_notes,
                               summary)
from musicgate.errors import DataError
from musicgate.music.keys import Key
from musicgate.music.midi import write_midi
from musicgate.music.notes import Notes
from musicgate.tokens.tokenizer import make_tokenizer

MELODY = make_tokenizer("melody", pitch_range=(21, 108))


def parse_tune(collection: str, file: str, index: int, corpus: str):
    item = abc_tunes(_music21_corpus_dir() / collection / file, corpus)[index]
    return parse_item((item, MELODY.config, True))


def test_essen_minor_tune_written_with_explicit_flats_is_labelled_minor():
    # Das Hildebrandslied: "K: G" (tonic only) and flats written in the notes: G minor.
    r = parse_tune("essenFolksong", "altdeu10.abc", 0, "essen")
    assert r.reject is None and r.title == "Das Hildebrandslied"
    assert r.key == "G minor"
    assert "tonic from K:" in r.label and "thirds" in r.label
    assert MELODY.key_of(r.ids) == Key(7, "minor")


def test_oneills_dorian_tune_keeps_its_mode():
    r = parse_tune("oneills1850", "0001-0050.abc", 46, "oneills")  # Rory Dall's Sister's Lament, K:Ador
    assert r.title == "Rory Dall's Sister's Lament" and r.key == "A dorian"
    assert r.label.startswith("K: field")


def test_small_subsets_of_each_builtin_corpus(tmp_path):
    for corpus, vocab in (("essen", "melody"), ("ryans", "melody"), ("chorales", "event")):
        data = prepare(corpus, root=tmp_path, limit=6, workers=1, quiet=True)
        assert len(data) == 6 and data.tokenizer.kind == vocab
        for i in range(len(data)):
            ids = data.tune(i)
            assert ids[0] == data.tokenizer.bos_id and ids[-1] == data.tokenizer.eos_id
            assert len(data.tokenizer.decode(ids)) == data.manifest["tunes"][i]["notes"]
        assert sum(len(v) for v in data.splits.values()) == 6


def test_split_is_by_tune_and_deterministic(tmp_path):
    a = prepare("essen", root=tmp_path / "a", limit=20, workers=1, quiet=True, seed=3)
    b = prepare("essen", root=tmp_path / "b", limit=20, workers=1, quiet=True, seed=3)
    parts = [set(a.splits[k].tolist()) for k in ("train", "valid", "test")]
    assert parts[0].isdisjoint(parts[1]) and parts[0].isdisjoint(parts[2]) and parts[1].isdisjoint(parts[2])
    assert set().union(*parts) == set(range(20))
    assert all(np.array_equal(a.splits[k], b.splits[k]) for k in a.splits)
    assert np.array_equal(a.tokens, b.tokens)


@pytest.fixture
def midi_folder(tmp_path):
    root = tmp_path / "mine"
    (root / "sub").mkdir(parents=True)
    for i in range(4):
        write_midi(Notes.from_arrays([60 + i, 64, 67], [0, 1, 2], [1, 1, 1], key="E minor"), root / "sub" / f"ok{i}.mid")
    (root / "text.mid").write_text("not a midi file")
    (root / "empty.mid").write_bytes(smf([]))
    (root / "low.mid").write_bytes(smf([(0, on(5)), (480, off(5))]))  # below the pitch range
    return root


def test_midi_folder_rejects_are_counted_and_listed(midi_folder, tmp_path, capsys):
    data = prepare(f"midi:{midi_folder}", root=tmp_path / "ds", workers=1, quiet=True)
    assert len(data) == 4 and data.manifest["tunes"][0]["key"] == "E minor"
    reasons = {r["source"].split("/")[-1]: r["reason"] for r in data.manifest["rejects"]}
    assert set(reasons) == {"text.mid", "empty.mid", "low.mid"}
    assert "not a readable MIDI file" in reasons["text.mid"] and reasons["empty.mid"] == "no notes"
    assert "pitch 5 is outside" in reasons["low.mid"]
    s = summary(data)
    assert s["rejected"] == 3 and s["rejects_by_reason"]["no notes"] == 1
    assert main(["data", "info", data.name, "--root", str(tmp_path / "ds")]) == 0
    assert "rejected: 3" in capsys.readouterr().out


def test_stale_cache_is_rebuilt_and_fresh_one_reused(midi_folder, tmp_path):
    root = tmp_path / "ds"
    first = prepare(f"midi:{midi_folder}", root=root, workers=1, quiet=True)
    again = prepare(f"midi:{midi_folder}", root=root, workers=1, quiet=True)
    assert again.fingerprint == first.fingerprint
    write_midi(Notes.from_arrays([70, 72], [0, 1], [1, 3]), midi_folder / "new.mid")
    rebuilt = prepare(f"midi:{midi_folder}", root=root, workers=1, quiet=True)
    assert rebuilt.fingerprint != first.fingerprint and len(rebuilt) == 5


def test_interrupted_prepare_leaves_nothing_trusted(midi_folder, tmp_path, monkeypatch):
    import musicgate.data.corpora as corpora

    def crash(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(corpora.np, "savez", crash)
    with pytest.raises(KeyboardInterrupt):
        prepare(f"midi:{midi_folder}", root=tmp_path / "ds", workers=1, quiet=True)
    monkeypatch.undo()
    with pytest.raises(DataError, match="no complete prepared dataset"):
        load_prepared("midi-mine", root=tmp_path / "ds")
    assert len(prepare(f"midi:{midi_folder}", root=tmp_path / "ds", workers=1, quiet=True)) == 4


def test_unknown_corpus_lists_the_valid_ones(capsys):
    with pytest.raises(DataError, match="valid: essen, oneills, ryans, folk, chorales, midi:PATH"):
        prepare("bach")
    assert main(["data", "prepare", "nope"]) == 2
    assert "valid:" in capsys.readouterr().err


def test_parallel_workers_give_the_same_cache(midi_folder, tmp_path):
    one = prepare(f"midi:{midi_folder}", root=tmp_path / "a", workers=1, quiet=True)
    two = prepare(f"midi:{midi_folder}", root=tmp_path / "b", workers=2, quiet=True)
    assert np.array_equal(one.tokens, two.tokens) and one.manifest["tunes"] == two.manifest["tunes"]


def test_piano_roll_benchmark_keeps_its_fixed_splits(tmp_path):
    path = shared_path("polyphonic", "JSB_Chorales.mat")
    data = prepare(f"pianoroll:{path}", root=tmp_path, workers=1, quiet=True)
    assert {k: len(v) for k, v in data.splits.items()} == {"train": 229, "valid": 76, "test": 77}


def test_roll_to_notes_merges_runs_of_frames():
    roll = np.zeros((6, 88), np.uint8)
    roll[0:3, 39] = roll[4:6, 39] = roll[1, 43] = 1
    n = roll_to_notes(roll)
    assert n.pitch.tolist() == [60, 64, 60] and n.onset.tolist() == [0, 1, 4] and n.duration.tolist() == [3, 1, 2]


def test_an_unforeseen_reader_error_rejects_the_tune_and_the_run_goes_on(monkeypatch):
    import musicgate.music.abc

    def broken(text, name="<abc>"):
        raise ValueError("a bug in a reader")

    monkeypatch.setattr(musicgate.music.abc, "read_abc", broken)
    item = abc_tunes(_music21_corpus_dir() / "essenFolksong" / "altdeu10.abc", "essen")[0]
    r = parse_item((item, MELODY.config, True))
    assert r.ids is None and r.reject == "cannot read it (ValueError: a bug in a reader)"


@pytest.mark.parametrize("field, song, want", [("Reel", False, "reel"), ("Double Jig", False, "jig"),
                                               ("SlipJig", False, "slip jig"), ("slip-jig", False, "slip jig"),
                                               ("waltz", False, None), ("", False, None),
                                               ("Romanze, Ballade", True, "song")])
def test_dance_names_from_the_rhythm_field(field, song, want):
    from musicgate.music.meters import dance_of

    assert dance_of(field, song=song) == want


def test_each_tune_s_dance_is_recorded_and_counted(tmp_path):
    from musicgate.data.corpus import Item, corpus_for
    from musicgate.data.prepared import open_dataset
    from synthetic_data import make_dataset

    tune = "X:1\nT:Test\nR:double jig\nM:6/8\nK:D\nDFA dfa|\n"
    assert corpus_for("oneills").dance(Item("t#X:1", "abc", "oneills", text=tune)) == "jig"
    assert corpus_for("ryans").dance(Item("t#X:2", "abc", "ryans", text=tune.replace("R:double jig\n", ""))) is None
    assert corpus_for("essen").dance(Item("t#X:3", "abc", "essen", text=tune)) == "song"   # R: names song genres there
    assert corpus_for("folk").dance(Item("x.mid", "midi", "folk")) is None
    r = parse_tune("ryansMammoth", "42dHighlandRegimentStrathspey.abc", 0, "ryans")   # R:strathspey
    assert r.reject is None and r.dance == "strathspey"
    assert parse_tune("oneills1850", "0001-0050.abc", 0, "oneills").dance is None       # no R: field
    data = open_dataset(make_dataset(tmp_path / "d", n_tunes=6, dances=["reel", None, "song", "polka"]))
    assert summary(data)["dances"] == {"reel": 2, "song": 1, "polka": 1}   # what `data info` prints
