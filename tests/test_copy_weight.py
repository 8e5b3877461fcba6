"""benchmarks/copy_weight.py: within its block the copy head's bias is scaled, and only there."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import torch

from musicgate.nn.models import RecurrentLM
from musicgate.tokens.tokenizer import make_tokenizer

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "copy_weight.py"
TOK = make_tokenizer("melody", pitch_range=(60, 84))


def _script():
    spec = importlib.util.spec_from_file_location("copy_weight", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _model(cell: str, *, seed: int) -> RecurrentLM:
    """A small model with a copy head whose weights are not zero (a fresh head starts at zero)."""
    torch.manual_seed(seed)
    model = RecurrentLM(vocab_size=len(TOK.vocab), cell=cell, hidden=8, layers=1, lookback=[1, 2],
                        lookback_clock=TOK.lookback_clock(), lookback_runs=True, lookback_position=True,
                        lookback_copy=True).eval()
    with torch.no_grad():
        model.look.copy_state.weight.normal_()
        model.look.copy_run.weight.normal_()
    return model


def test_the_weight_scales_the_copy_bias_and_is_undone_after_the_block():
    model = _model("gru", seed=0)
    bar = ["PITCH_62", "DUR_12", "PITCH_64", "DUR_12", "PITCH_66", "DUR_24", "BAR"]
    ids = torch.tensor([[TOK.ids[t] for t in ["BOS", "KEY_D_major", "METER_4/4", *bar * 4]]])
    copy_weight = _script().copy_weight
    with torch.no_grad():
        plain = model(ids)[0]
        with copy_weight(0.0):
            head = model(ids)[0]
        with copy_weight(2.0):
            double = model(ids)[0]
        with pytest.raises(RuntimeError), copy_weight(3.0):
            raise RuntimeError("a failed run inside the block")
        after = model(ids)[0]
    bias = plain - head
    assert bias.abs().max() > 0.1                      # the repeated bars name tokens to copy
    assert torch.allclose(double, head + 2 * bias, atol=1e-5)
    assert torch.equal(after, plain)                  # undone, after an error too


def test_from_run_scales_only_the_distances_already_copying_that_long():
    model = _model("lstm", seed=1)
    h, runs = torch.randn(1, 4, 8), torch.tensor([[[0, 3], [8, 7], [20, 0], [9, 16]]])
    copy_weight = _script().copy_weight
    with torch.no_grad():
        plain = model.look.copy_biases(h, runs)
        with copy_weight(3.0, from_run=8):
            scaled = model.look.copy_biases(h, runs)
        with copy_weight(3.0, from_run=10**6):
            untouched = model.look.copy_biases(h, runs)
    long = runs >= 8
    assert long.any() and (~long).any()
    assert torch.allclose(scaled[long], 3 * plain[long]) and torch.equal(scaled[~long], plain[~long])
    assert torch.equal(untouched, plain)
