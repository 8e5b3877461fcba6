"""``musicgate bench``: the polyphonic and memory commands, end to end on tiny budgets."""
from __future__ import annotations

import json

import pytest
import torch
from conftest import shared_path

from musicgate.cli import main


@pytest.fixture(autouse=True)
def _restore_threads():
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


def test_bench_polyphonic_one_epoch(tmp_path, capsys):
    config = tmp_path / "tiny.yaml"
    config.write_text("hidden: 8\nbatch_size: 64\n")
    out = tmp_path / "res.json"
    code = main(["-q", "bench", "polyphonic", "--dataset", "jsb", "--cell", "gru", "--config", str(config),
                 "--data-dir", str(shared_path("polyphonic")), "--epochs", "1", "-o", str(out)])
    assert code == 0
    printed = capsys.readouterr().out
    assert "| jsb | gru | 8 |" in printed and "Bai et al. 2018" in printed
    saved = json.loads(out.read_text())
    (result,) = saved["results"]
    assert result["config"]["hidden"] == 8 and result["epochs"] == 1
    assert 0 < result["test_nll"] < 30


def test_bench_polyphonic_bad_input(tmp_path, capsys):
    assert main(["bench", "polyphonic", "--dataset", "jsb", "--cell", "tcn"]) == 2
    assert "rnn, lstm, gru" in capsys.readouterr().err
    assert main(["bench", "polyphonic", "--dataset", "jsb", "--cell", "gru",
                 "--data-dir", str(tmp_path)]) == 2
    assert "not found" in capsys.readouterr().err
    bad = tmp_path / "bad.yaml"
    bad.write_text("hiden: 3\n")
    assert main(["bench", "polyphonic", "--dataset", "jsb", "--cell", "gru", "--config", str(bad)]) == 2
    assert "hiden'; valid keys: dataset, cell, hidden" in capsys.readouterr().err


def test_bench_memory_tiny(tmp_path, capsys):
    png, out = tmp_path / "m.png", tmp_path / "m.md"
    code = main(["-q", "bench", "memory", "--T", "4,6", "--cell", "lstm,gru", "--steps", "2",
                 "--hidden", "4", "--plot", str(png), "-o", str(out)])
    assert code == 0
    printed = capsys.readouterr().out
    assert printed.count("| adding |") == 4 and printed.count("| copy |") == 4
    assert png.stat().st_size > 1000 and "| copy | 6 | gru |" in out.read_text()
    assert main(["bench", "memory", "--T", "50,x"]) == 2
    assert main(["bench", "memory", "--task", "reverse"]) == 2
