"""Adding problem and copy memory: generators, baselines measured on data, a tiny run, the plot."""
from __future__ import annotations

import math

import pytest
import torch

from musicgate.errors import ConfigError
from musicgate.experiments.memory import (
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
