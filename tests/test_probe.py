"""The key-memory probe: data generator, score, parameter matching, a tiny run and the CLI."""
from __future__ import annotations

import json

import pytest
import torch
from torch import nn

from musicgate.errors import ConfigError
from musicgate.music.keys import MAJOR_MINOR_KEYS
from musicgate.nn.models import CELLS, count_params
from musicgate.experiments.probe import (CHANCE, PITCH_BASE, REST, VOCAB, ProbeConfig, ProbeResult, in_key_mass, longest_recalled,
                             probe_batch, probe_model, probe_score, probe_table, summarise_probe, train_probe)


@pytest.mark.parametrize("T", [0, 1, 17])
def test_probe_batch_key_gap_and_in_key_notes(T):
    gen = torch.Generator().manual_seed(0)
    ids, keys = probe_batch(64, T, notes=6, generator=gen)
    assert ids.shape == (64, 1 + T + 6)
    assert torch.equal(ids[:, 0], keys) and keys.min() >= 0 and keys.max() < 24
    assert torch.all(ids[:, 1:1 + T] == REST)
    notes = ids[:, 1 + T:]
    assert torch.all((notes >= PITCH_BASE) & (notes < PITCH_BASE + 12))
    for row, k in zip(notes, keys):
        pcs = set((row - PITCH_BASE).tolist())
        assert pcs <= MAJOR_MINOR_KEYS[int(k)].pitch_classes
    assert len(set(keys.tolist())) > 10   # keys vary


def test_probe_batch_chromatic_gap_carries_no_key_and_errors():
    ids, _ = probe_batch(3, 24, gap="chromatic", generator=torch.Generator().manual_seed(1))
    gap = ids[:, 1:25] - PITCH_BASE
    assert torch.equal(gap[0], torch.arange(24) % 12) and torch.equal(gap[0], gap[2])
    with pytest.raises(ConfigError, match="rests, chromatic"):
        probe_batch(2, 3, gap="noise")
    with pytest.raises(ConfigError, match="T >= 0"):
        probe_batch(2, -1)


class _Uniform(nn.Module):
    def forward(self, ids, state=None):
        return torch.zeros(ids.shape[0], ids.shape[1], VOCAB), None


class _Oracle(nn.Module):
    """Reads the key token and puts all pitch mass on its pitch classes (a perfect memory)."""

    def forward(self, ids, state=None):
        logits = torch.full((ids.shape[0], ids.shape[1], VOCAB), -1e9)
        for b, k in enumerate(ids[:, 0].tolist()):
            for pc in MAJOR_MINOR_KEYS[k].pitch_classes:
                logits[b, :, PITCH_BASE + pc] = 0.0
        return logits, None


def test_uniform_model_scores_chance_and_oracle_scores_one():
    s = probe_score(_Uniform(), 20, n=64, n_boot=100)
    assert s["score"] == pytest.approx(7 / 12) == pytest.approx(CHANCE)
    assert s["hi"] - s["lo"] == pytest.approx(0.0, abs=1e-12)
    assert s["local"] == pytest.approx(7 / 12)
    o = probe_score(_Oracle(), 20, n=32, n_boot=100)
    assert o["score"] == pytest.approx(1.0) and o["lo"] == pytest.approx(1.0)


def test_in_key_mass_only_counts_pitch_tokens():
    logits = torch.zeros(1, VOCAB)
    logits[0, REST] = 50.0                       # mass on REST does not count
    logits[0, PITCH_BASE + 1] = 3.0              # C# is not in C major
    m = in_key_mass(logits, torch.tensor([0]))
    p = torch.softmax(logits[0, PITCH_BASE:PITCH_BASE + 12], 0)
    assert float(m) == pytest.approx(float(1 - p[1] - p[3] - p[6] - p[8] - p[10]))


def test_probe_models_are_parameter_matched():
    cfg = ProbeConfig(lstm_hidden=32)
    counts = {c: count_params(probe_model(c, cfg)) for c in CELLS}
    assert max(counts.values()) / min(counts.values()) < 1.05
    assert probe_model("rnn", cfg).hidden > probe_model("gru", cfg).hidden > probe_model("lstm", cfg).hidden


def test_train_probe_tiny_and_longest_recalled():
    r = train_probe("gru", 3, ProbeConfig(steps=3, eval_size=32, lstm_hidden=8))
    assert r.cell == "gru" and r.T == 3 and r.steps == 3
    assert 0 <= r.lo <= r.score <= r.hi <= 1 and isinstance(r.recalled, bool)
    with pytest.raises(ConfigError, match="rnn, lstm, gru"):
        train_probe("transformer", 3)
    rows = [ProbeResult("rnn", t, 8, 100, 1, s, s - .01, s + .01, .7, 2.0, s > .65, 0.0)
            for t, s in ((10, 0.9), (30, 0.7), (100, 0.58))]
    rows += [ProbeResult("lstm", t, 8, 100, 1, .58, .57, .59, .7, 2.0, False, 0.0) for t in (10, 30)]
    assert longest_recalled(rows) == {"rnn": 30, "lstm": None}
    table = probe_table({"results": [r.__dict__ for r in rows]})
    assert "| rnn | default | 100 | 1 |" in table and "| lstm |" in table and "none" in table and "T=100" in table


def _run(cell, init, T, seed, score, recalled=True):
    return ProbeResult(cell, T, 8, 100, 1, score, score - .01, score + .01, .7, 2.0, recalled, 0.0,
                       init=init, seed=seed)


def test_seeds_are_pooled_with_a_t_interval_and_inits_are_separate_rows():
    rows = [_run("lstm", "default", 10, s, v) for s, v in enumerate((0.90, 0.92, 0.94))]
    rows += [_run("lstm", "default", 30, s, v, v > .65) for s, v in enumerate((0.95, 0.58, 0.58))]
    rows += [_run("lstm", "chrono", 30, s, v) for s, v in enumerate((0.90, 0.91, 0.92))]
    summary = {(r["label"], r["T"]): r for r in summarise_probe(rows)}
    tight = summary[("lstm", 10)]
    assert tight["score"] == pytest.approx(0.92) and tight["seeds"] == [0, 1, 2]
    # t(0.975, 2) = 4.303, sd 0.02: half-width 4.303 * 0.02 / sqrt(3)
    assert tight["hi"] - tight["score"] == pytest.approx(4.303 * 0.02 / 3 ** 0.5, rel=1e-3)
    one_of_three = summary[("lstm", 30)]
    assert one_of_three["recalled_seeds"] == 1 and not one_of_three["recalled"]  # one lucky seed is not recall
    assert summary[("lstm chrono", 30)]["recalled"]
    assert longest_recalled(rows) == {"lstm": 10, "lstm chrono": 30}
    table = probe_table({"results": [r.__dict__ for r in rows]})
    assert "| lstm | chrono | 100 | 3 |" in table and "(1/3)" in table


def test_probe_init_is_applied_recorded_and_checked():
    from musicgate.nn.init import time_scales

    cfg = ProbeConfig(steps=1, eval_size=16, lstm_hidden=8, init="chrono")
    r = train_probe("lstm", 20, cfg)
    assert r.init == "chrono" and r.t_max == 20 + cfg.notes + 1
    model = probe_model("lstm", cfg)
    torch.manual_seed(0)
    from musicgate.nn.init import init_gates
    init_gates(model, "chrono", t_max=29.0)
    assert time_scales(model).max() <= 29.0 + 1e-6 and time_scales(model).min() >= 2.0 - 1e-6
    with pytest.raises(ConfigError, match="no gates"):
        train_probe("rnn", 3, ProbeConfig(steps=1, init="forget1"))
    with pytest.raises(ConfigError, match="orthogonal.*default, forget1, chrono"):
        ProbeConfig(init="orthogonal")
    with pytest.raises(ConfigError, match="> 1"):
        ProbeConfig(init="chrono", init_t_max=1)


def test_cli_probe_writes_report(tmp_path, capsys):
    from musicgate.cli import main

    assert main(["-q", "experiment", "probe", "--T", "2,4", "--cells", "rnn,lstm", "--steps", "2",
                 "--hidden", "8", "-o", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "| rnn |" in out and "| lstm |" in out and "chance 7/12" in out
    (run,) = tmp_path.glob("probe-*")
    data = json.loads((run / "results.json").read_text())
    assert [r["T"] for r in data["results"]] == [2, 4, 2, 4]
    assert (run / "probe.png").stat().st_size > 0 and (run / "probe.csv").is_file()
    assert main(["experiment", "probe", "--T", "2", "--cells", "bogus"]) == 2
    assert "rnn, lstm, gru" in capsys.readouterr().err
    assert main(["experiment", "probe", "--T", "x"]) == 2
    for bad in (["--init", "chrono", "--cells", "rnn"], ["--init", "nope"], ["--init", "chrono", "--init-t-max", "1"],
                ["--seeds", "0,0"], ["--seeds", "x"], ["--seed", "1", "--seeds", "2"]):
        capsys.readouterr()
        assert main(["experiment", "probe", "--T", "2", *bad]) == 2, bad
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "Traceback" not in err[0], bad


def test_cli_probe_seeds_and_init_recorded(tmp_path, capsys):
    from musicgate.cli import main

    assert main(["-q", "experiment", "probe", "--T", "3", "--cells", "lstm", "--steps", "2", "--hidden", "8",
                 "--seeds", "2", "--init", "default,forget1", "-o", str(tmp_path)]) == 0
    (run,) = tmp_path.glob("probe-*")
    data = json.loads((run / "results.json").read_text())
    assert data["seeds"] == [0, 1] and data["inits"] == ["default", "forget1"]
    assert [(r["init"], r["seed"]) for r in data["results"]] == [("default", 0), ("default", 1),
                                                                ("forget1", 0), ("forget1", 1)]
    assert len(data["summary"]) == 2 and "--cells lstm,lstm:forget1 " in (run / "report.md").read_text()
    capsys.readouterr()
    assert main(["-q", "experiment", "probe", "--T", "3", "--cells", "rnn,lstm:chrono", "--steps", "1", "--hidden", "8",
                 "-o", str(tmp_path / "b")]) == 0
    (run,) = (tmp_path / "b").glob("probe-*")
    data = json.loads((run / "results.json").read_text())
    assert [(r["cell"], r["init"]) for r in data["results"]] == [("rnn", "default"), ("lstm", "chrono")]
