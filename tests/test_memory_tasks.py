"""Adding problem and copy memory: generators, baselines measured on data, a tiny run, the plot."""
from __future__ import annotations

import math

import pytest
import torch

from musicgate.errors import ConfigError
from musicgate.experiments.memory import (
    cell_inits, result_dicts, results_from_dicts, summarise,
    ADDING_BASELINE, COPY_MARKER, MemoryConfig, adding_batch, copy_baseline, copy_batch,
    memory_sweep, memory_table, plot_memory, run_memory_task)


@pytest.mark.parametrize("T", [2, 50, 400])
def test_adding_batch_shapes_and_targets(T):
    x, y = adding_batch(64, T, generator=torch.Generator().manual_seed(T))
    assert x.shape == (64, T, 2) and y.shape == (64,)
    assert torch.all(x[..., 1].sum(1) == 2)                       # exactly two distinct markers
    assert set(x[..., 1].unique().tolist()) <= {0.0, 1.0}
    assert torch.allclose((x[..., 0] * x[..., 1]).sum(1), y)
    assert 0 <= x[..., 0].min() and x[..., 0].max() < 1


def test_adding_baseline_from_data():
    x, y = adding_batch(200_000, 20, generator=torch.Generator().manual_seed(0))
    mse_of_one = float(((y - 1) ** 2).mean())
    assert abs(mse_of_one - ADDING_BASELINE) < 0.003
    assert abs(ADDING_BASELINE - 1 / 6) < 1e-12


@pytest.mark.parametrize("T", [1, 50, 200])
def test_copy_batch_layout(T):
    x, y = copy_batch(16, T, generator=torch.Generator().manual_seed(T))
    assert x.shape == y.shape == (16, T + 20) and x.dtype == y.dtype == torch.long
    assert torch.all((x[:, :10] >= 1) & (x[:, :10] <= 8))
    assert torch.all(x[:, 10:T + 9] == 0) and torch.all(x[:, T + 9:] == COPY_MARKER)
    assert torch.all(y[:, :T + 10] == 0) and torch.equal(y[:, -10:], x[:, :10])


def test_copy_baseline_from_data():
    T = 30
    _, y = copy_batch(20_000, T, generator=torch.Generator().manual_seed(1))
    # blanks where the target is blank, a uniform guess over 1..8 for the last 10 steps
    logits = torch.full((T + 20, 10), -1e9)
    logits[:T + 10, 0] = 0.0
    logits[T + 10:, 1:9] = 0.0
    ce = torch.nn.functional.cross_entropy(logits.expand(len(y), -1, -1).reshape(-1, 10), y.reshape(-1))
    assert abs(float(ce) - copy_baseline(T)) < 1e-4
    assert abs(copy_baseline(T) - 10 * math.log(8) / 50) < 1e-12


def test_generators_reject_bad_lengths_and_names():
    with pytest.raises(ConfigError):
        adding_batch(2, 1)
    with pytest.raises(ConfigError):
        copy_batch(2, 0)
    with pytest.raises(ConfigError, match="adding, copy"):
        run_memory_task("reverse", 10, "gru")
    with pytest.raises(ConfigError, match="rnn, lstm, gru"):
        run_memory_task("copy", 10, "tcn")


def test_tiny_sweep_matched_sizes_table_and_plot(tmp_path):
    cfg = MemoryConfig(lstm_hidden=8, steps=30, batch_size=16, eval_size=64, lr=1e-2)
    results = memory_sweep(["adding", "copy"], [5], ["rnn", "lstm", "gru"], cfg)
    assert len(results) == 6
    for task in ("adding", "copy"):
        rows = [r for r in results if r.task == task]
        params = [r.params for r in rows]
        assert max(params) / min(params) < 1.15                     # matched sizes
        assert {r.cell for r in rows} == {"rnn", "lstm", "gru"}
        assert rows[0].hidden > rows[2].hidden > rows[1].hidden     # rnn > gru > lstm units
    copy_rows = [r for r in results if r.task == "copy"]
    # even a short run learns to emit blanks: better than a uniform guess everywhere
    assert all(r.loss < math.log(10) for r in copy_rows)
    assert all(math.isfinite(r.loss) for r in results)
    table = memory_table(results)
    assert table.count("\n") == 7 and "| copy | 5 | gru |" in table
    png = plot_memory(results, tmp_path / "sub" / "memory.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_seeds_inits_summary_and_interval(tmp_path):
    cfg = MemoryConfig(lstm_hidden=6, steps=4, batch_size=8, eval_size=32)
    results = memory_sweep(["adding"], [5], ["lstm"], cfg, seeds=[0, 1, 2], inits=["default", "chrono"])
    assert [(r.init, r.seed) for r in results] == [(i, s) for i in ("default", "chrono") for s in (0, 1, 2)]
    assert all(r.t_max is None for r in results[:3]) and all(r.t_max == 5 for r in results[3:])
    assert len({r.loss for r in results[:3]}) == 3                      # the seeds differ
    assert results[0].history and results[0].history[-1][0] == 4
    (default, chrono) = summarise(results)
    losses = [r.loss for r in results[:3]]
    mean = sum(losses) / 3
    sd = (sum((v - mean) ** 2 for v in losses) / 2) ** 0.5
    assert default.loss == pytest.approx(mean) and default.seeds == [0, 1, 2]
    assert default.hi - mean == pytest.approx(4.3027 * sd / 3 ** 0.5, rel=1e-3)
    assert default.lo == pytest.approx(max(0.0, mean - 4.3027 * sd / 3 ** 0.5), rel=1e-3)
    assert chrono.init == "chrono" and 0 <= chrono.solved <= 3
    assert "| adding | 5 | lstm | chrono |" in memory_table(results)
    table = memory_table(results, {"adding": (5, {"lstm": 0.164})})
    assert table.splitlines()[2].endswith("| 0.164 |") and table.splitlines()[3].endswith("| - |")
    assert memory_table(results, {"adding": (600, {"lstm": 0.164})}).splitlines()[2].endswith("| - |")
    assert results_from_dicts(result_dicts(results)) == results
    assert plot_memory(results, tmp_path / "m.png").stat().st_size > 0


def test_same_seed_same_run_and_chrono_sets_time_scales():
    from musicgate.experiments.memory import _model
    from musicgate.nn.init import init_gates, time_scales

    cfg = MemoryConfig(lstm_hidden=6, steps=3, batch_size=4, eval_size=16, init="forget1")
    a, b = (run_memory_task("copy", 4, "gru", cfg) for _ in range(2))
    assert a.loss == b.loss and a.init == "forget1"
    model = init_gates(_model("adding", "lstm", 8), "chrono", t_max=600.0)
    scales = time_scales(model)
    assert scales.min() >= 2 - 1e-6 and scales.max() <= 600 + 1e-6 and scales.max() > 100


def test_bad_init_seeds_and_config_values():
    from musicgate.experiments.memory import parse_seeds

    with pytest.raises(ConfigError, match="no gates"):
        memory_sweep(["adding"], [5], ["rnn", "lstm"], MemoryConfig(steps=1), inits=["chrono"])
    with pytest.raises(ConfigError, match="no gates"):
        cell_inits(["lstm", "rnn:forget1"], ["default"])
    assert cell_inits(["rnn", "lstm:chrono", "gru"], ["default", "forget1"][:1]) == [
        ("rnn", "default"), ("lstm", "chrono"), ("gru", "default")]
    assert cell_inits(["lstm"], ["default", "forget1"]) == [("lstm", "default"), ("lstm", "forget1")]
    with pytest.raises(ConfigError, match="xavier.*default, forget1, chrono"):
        MemoryConfig(init="xavier")
    with pytest.raises(ConfigError, match="> 1"):
        MemoryConfig(init="chrono", init_t_max=1.0)
    with pytest.raises(ConfigError, match="only by the chrono"):
        MemoryConfig(init="forget1", init_t_max=50.0)
    with pytest.raises(ConfigError, match="optimizer"):
        MemoryConfig(optimizer="sgd")
    assert parse_seeds("3") == [0, 1, 2] and parse_seeds("4,7") == [4, 7] and parse_seeds(2) == [0, 1]
    for bad in ("0", "1,1", "a", "-1,2"):
        with pytest.raises(ConfigError, match="seeds"):
            parse_seeds(bad)


def test_bai_preset_sizes_and_settings():
    from musicgate.experiments.memory import _model, memory_preset
    from musicgate.nn.models import count_params

    preset = memory_preset("bai")
    (T_add, add), (T_copy, copy) = preset["tasks"]["adding"], preset["tasks"]["copy"]
    assert (T_add, add.optimizer, add.lr, add.clip, add.batch_size) == (600, "adam", 0.004, 0.0, 32)
    assert (T_copy, copy.optimizer, copy.lr, copy.clip, copy.batch_size) == (1000, "rmsprop", 0.0005, 1.0, 32)
    for cell in ("rnn", "lstm", "gru"):
        assert abs(count_params(_model("adding", cell, 32, add.params)) - 70_000) < 1_000
        assert abs(count_params(_model("copy", cell, 32, copy.params)) - 16_000) < 500
    assert preset["published"]["adding"]["gru"] == pytest.approx(5.3e-5)
    with pytest.raises(ConfigError, match="bai"):
        memory_preset("nope")


def test_cli_memory_seeds_init_preset_and_bad_input(tmp_path, capsys):
    import json

    from musicgate.cli import main

    out = tmp_path / "m.json"
    assert main(["-q", "bench", "memory", "--task", "adding", "--T", "4", "--cell", "lstm,gru", "--steps", "2",
                 "--hidden", "4", "--seeds", "2", "--init", "default,forget1", "-o", str(out)]) == 0
    data = json.loads(out.read_text())
    assert data["seeds"] == [0, 1] and data["inits"] == ["default", "forget1"] and len(data["results"]) == 8
    assert data["configs"]["adding"]["steps"] == 2 and len(data["summary"]) == 4
    assert "| adding | 4 | gru | forget1 |" in out.with_suffix(".md").read_text()
    assert main(["-q", "bench", "memory", "--task", "adding", "--T", "4", "--cell", "gru", "--steps", "2",
                 "--hidden", "4", "--until-solved", "-o", str(out)]) == 0
    assert json.loads(out.read_text())["configs"]["adding"]["until_solved"] is True
    curves = tmp_path / "c.png"
    assert main(["-q", "bench", "memory", "--task", "adding,copy", "--T", "4", "--cell", "gru,lstm:chrono",
                 "--steps", "3", "--hidden", "4", "--seeds", "2", "--curves", str(curves)]) == 0
    assert curves.read_bytes()[:4] == b"\x89PNG"
    for bad in (["--init", "chrono", "--cell", "rnn"], ["--init", "warm"], ["--init", "chrono", "--init-t-max", "1"],
                ["--seeds", "1,1"], ["--preset", "nobody"], ["--seed", "1", "--seeds", "2"]):
        capsys.readouterr()
        assert main(["bench", "memory", "--T", "4", "--steps", "1", *bad]) == 2, bad
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "Traceback" not in err[0], bad


def test_until_solved_stops_early_and_the_table_gives_the_steps():
    cfg = MemoryConfig(lstm_hidden=16, steps=3000, batch_size=32, eval_size=256, lr=0.01, until_solved=True)
    stopped = run_memory_task("adding", 5, "gru", cfg)
    assert 50 <= stopped.steps < 3000 and stopped.max_steps == 3000
    assert stopped.loss < 0.1 * stopped.baseline               # held-out: solved, not only training
    assert stopped.history[-1][0] == stopped.steps
    full = run_memory_task("adding", 5, "gru", MemoryConfig(lstm_hidden=16, steps=60, batch_size=32, eval_size=32))
    assert full.steps == full.max_steps == 60                    # off by default: the whole budget
    row = memory_table([stopped, full]).splitlines()
    assert f"| {stopped.steps:,} of 3,000 |" in row[2] and "| 60 |" in row[3]
    old = {k: v for k, v in result_dicts([full])[0].items() if k != "max_steps"}  # saved before it existed
    assert summarise(results_from_dicts([old]))[0].steps == 60
