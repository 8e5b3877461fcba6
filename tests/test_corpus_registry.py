"""The corpus registry: a new corpus is one class; `data prepare NAME` finds it there."""
from __future__ import annotations

from pathlib import Path

import pytest

from musicgate.cli import main
from musicgate.data.corpora import load_prepared, prepare, summary
from musicgate.data.corpus import CORPORA, Corpus, abc_tunes, corpus_for, corpus_specs, register_corpus
from musicgate.errors import DataError
from musicgate.music.keys import parse_abc_key

KEYS = ["G", "D", "Am", "Em", "F", "C", "Bb", "Dm", "A", "Gm"]


class ToyReels(Corpus):
    """The whole of a new corpus: a folder of ABC files, labelled by their K: field."""

    name, takes_path, path_hint = "toyreels", True, "DIR"
    description, licence, vocab = "reels written by the test", "the test's own", "melody"

    def files(self) -> list[Path]:
        if not self.path.is_dir():
            raise DataError(f"{self.path}: not a folder")
        return sorted(self.path.glob("*.abc"))

    def items(self, files):
        return [item for f in files for item in abc_tunes(f, self)]

    def label(self, item, notes, stream=None):
        return notes.key, f"toy: K: field {notes.key.name if notes.key else 'missing'}"


@pytest.fixture
def toy(tmp_path):
    register_corpus(ToyReels)
    folder = tmp_path / "reels"
    folder.mkdir()
    for part in range(2):
        tunes = [f"X:{i}\nT:Reel {i}\nM:4/4\nL:1/8\nK:{KEYS[i]}\n|:ABcd efge|dBAG FGAB:|\n"
                 for i in range(part * 5, part * 5 + 5)]
        (folder / f"set{part}.abc").write_text("\n".join(tunes))
    yield folder
    CORPORA.pop(ToyReels.name, None)


def test_a_toy_corpus_is_one_class_and_prepares(toy, tmp_path):
    assert "toyreels:DIR" in corpus_specs()
    data = prepare(f"toyreels:{toy}", root=tmp_path / "datasets", workers=1, quiet=True)
    assert data.path.name == "toyreels-reels" and data.tokenizer.kind == "melody"
    assert len(data) == 10 and sum(len(v) for v in data.splits.values()) == 10
    tunes = data.manifest["tunes"]
    assert [t["title"] for t in tunes] == [f"Reel {i}" for i in range(10)]
    assert all(t["label"].startswith("toy: K: field") for t in tunes)  # the class's own labelling
    for i, name in enumerate(KEYS):  # the key token of each tune is the one its K: field names
        assert data.tokenizer.key_of(data.tune(i)) == parse_abc_key(name)
        assert tunes[i]["key"] == parse_abc_key(name).name
    decoded = data.tokenizer.decode(data.tune(0))
    assert len(decoded) == 16 and decoded.pitch[0] == 69  # A above middle C starts "ABcd efge"
    assert summary(load_prepared(data.path))["tunes"] == 10


def test_cli_prepares_a_registered_corpus_and_lists_it(toy, tmp_path, capsys):
    assert main(["-q", "data", "prepare", f"toyreels:{toy}", "--workers", "2", "--root", str(tmp_path / "d")]) == 0
    assert "10 tunes" in capsys.readouterr().out
    assert main(["data", "prepare", "--help"]) == 0
    assert "toyreels:DIR" in capsys.readouterr().out


def test_unknown_names_and_misused_paths_list_the_registered_corpora(toy):
    for spec in ("toyreel", "toyreels", "folk:somewhere"):
        with pytest.raises(DataError, match="valid: essen, oneills, ryans, folk, chorales, midi:PATH, "
                                            r"pianoroll:PATH.mat, toyreels:DIR"):
            corpus_for(spec)
    with pytest.raises(DataError, match="registered already"):
        register_corpus(type("Other", (ToyReels,), {}))
    assert corpus_for("folk").vocab == "melody" and corpus_for("midi:x").cache_name() == "midi-x"
