"""The models that ship inside the package: present, small, parameter-matched, and generating."""
from __future__ import annotations

import json

from musicgate.cli import main
from musicgate.generation.api import generate, load_model, pretrained_dir
from musicgate.music.keys import Key
from musicgate.nn.models import count_params

NAMES = ("folk-rnn", "folk-lstm", "folk-gru")


def test_shipped_models_are_small_and_parameter_matched():
    folder = pretrained_dir()
    assert sum((folder / f"{n}.pt").stat().st_size for n in NAMES) <= 20 * 2**20
    counts = {n: count_params(load_model(n)[0]) for n in NAMES}
    assert {load_model(n)[0].cell for n in NAMES} == {"rnn", "lstm", "gru"}
    assert max(counts.values()) / min(counts.values()) < 1.02
    index = json.loads((folder / "models.json").read_text())
    assert {n: index[n]["params"] for n in NAMES} == counts  # the quoted numbers are these models'


def test_each_shipped_model_generates_in_the_asked_key():
    for name in NAMES:
        tunes = generate(name, key="E minor", length=24, num=2, seed=5)
        assert len(tunes) == 2 and all(len(t) == 24 for t in tunes)
        assert all(t.key == Key(4, "minor") for t in tunes)


def test_generate_with_no_arguments_writes_a_file(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["generate"]) == 0
    mids = list((tmp_path / "generated").glob("folk-lstm_*.mid"))
    assert len(mids) == 1 and mids[0].stat().st_size > 100
