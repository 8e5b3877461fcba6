"""benchmarks/state_key.py reads the state as training carries it and its probe reads a linear code."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import torch

from musicgate.nn.models import RecurrentLM

_SPEC = importlib.util.spec_from_file_location(
    "state_key", Path(__file__).resolve().parents[1] / "benchmarks" / "state_key.py")
state_key = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(state_key)


def test_states_read_window_by_window_equal_one_pass():
    torch.manual_seed(0)
    for cell in ("rnn", "lstm", "gru"):
        model = RecurrentLM(vocab_size=20, cell=cell, hidden=12, layers=2).eval()
        ids = np.random.default_rng(1).integers(0, 20, (3, 37))
        whole = state_key._states(model, ids, window=37)
        cut = state_key._states(model, ids, window=5)      # the state carried across 8 windows
        assert cut.shape == (3, 37, 12)
        torch.testing.assert_close(cut, whole, rtol=0, atol=1e-6)
        assert not model.head._forward_hooks                  # the hook is removed


def test_the_probe_reads_a_linear_code_and_not_noise():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 24, 2000)
    code = rng.normal(size=(24, 16))
    x = torch.as_tensor(code[y] + 0.3 * rng.normal(size=(2000, 16)), dtype=torch.float32)
    predict = state_key._fit(x[:1500], y[:1500])
    assert (predict(x[1500:]) == y[1500:]).mean() > 0.95
    noise = torch.as_tensor(rng.normal(size=(2000, 16)), dtype=torch.float32)
    predict = state_key._fit(noise[:1500], y[:1500])
    assert (predict(noise[1500:]) == y[1500:]).mean() < 0.15     # chance is 1/24
