"""minGRU / minLSTM: the log-space parallel scan against the step-by-step recurrence."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from musicgate.errors import ConfigError
from musicgate.nn.mincells import (
    MIN_CELLS, MinGRU, MinLSTM, core_params, g, log_g, parallel_scan_log, trace_min_gates)

CELLS = tuple(MIN_CELLS)


def _model(cell: str, input_size=5, hidden=7, layers=2, dtype=torch.float64, seed=0, **kw):
    torch.manual_seed(seed)
    return MIN_CELLS[cell](input_size, hidden, layers, **kw).to(dtype).eval()


def _stepwise(model, x, h=None):
    outs = []
    for t in range(x.shape[1]):
        out, h = model.step(x[:, t], h)
        outs.append(out)
    return torch.stack(outs, dim=1), h


def _reference(cell: str, linear: torch.nn.Linear, x: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
    """The paper's equations written out for one layer, one step at a time."""
    outs = []
    for t in range(x.shape[1]):
        pre = linear(x[:, t])
        if cell == "mingru":
            k, v = pre.chunk(2, dim=-1)
            z = torch.sigmoid(k)
            h = (1 - z) * h + z * g(v)
        else:
            kf, ki, v = pre.chunk(3, dim=-1)
            f, i = torch.sigmoid(kf), torch.sigmoid(ki)
            h = f / (f + i) * h + i / (f + i) * g(v)
        outs.append(h)
    return torch.stack(outs, dim=1)


def test_g_and_log_g():
    v = torch.tensor([-30.0, -2.0, -1e-3, 0.0, 1e-3, 2.0, 50.0], dtype=torch.float64)
    want = torch.tensor([1 / (1 + np.exp(30)), 1 / (1 + np.exp(2)), 1 / (1 + np.exp(1e-3)), 0.5,
                         0.501, 2.5, 50.5], dtype=torch.float64)
    assert torch.allclose(g(v), want, rtol=1e-12)
    assert torch.allclose(log_g(v), torch.log(want), rtol=1e-12)
    assert torch.isfinite(log_g(torch.tensor([-200.0]))).all()


def test_parallel_scan_matches_the_recurrence():
    torch.manual_seed(1)
    a = torch.rand(2, 50, 3, dtype=torch.float64) * 0.98 + 0.01
    b = torch.rand(2, 50, 3, dtype=torch.float64) + 0.1
    h0 = torch.rand(2, 3, dtype=torch.float64)
    h, want = h0, []
    for t in range(50):
        h = a[:, t] * h + b[:, t]
        want.append(h)
    got = parallel_scan_log(a.log(), b.log(), h0.log())
    assert torch.allclose(got, torch.stack(want, 1), rtol=1e-10)
    # no h0 means h0 = 0
    h, want = torch.zeros(2, 3, dtype=torch.float64), []
    for t in range(50):
        h = a[:, t] * h + b[:, t]
        want.append(h)
    assert torch.allclose(parallel_scan_log(a.log(), b.log()), torch.stack(want, 1), rtol=1e-10)


@pytest.mark.parametrize("cell", CELLS)
def test_layer_follows_the_paper_equations(cell):
    model = _model(cell, layers=1)
    x = torch.randn(3, 20, 5, dtype=torch.float64) * 3
    h0 = torch.rand(1, 3, 7, dtype=torch.float64)
    out, h_n = model(x, h0)
    want = _reference(cell, model.layers[0].linear, x, h0[0])
    assert torch.allclose(out, want, atol=1e-10)
    assert torch.equal(h_n[0], out[:, -1])


@pytest.mark.parametrize("cell", CELLS)
@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 10_000), steps=st.integers(1, 60), layers=st.integers(1, 3),
       batch=st.integers(1, 4), with_h0=st.booleans(), scale=st.floats(0.1, 6.0))
def test_parallel_and_step_paths_agree(cell, seed, steps, layers, batch, with_h0, scale):
    model = _model(cell, layers=layers, seed=seed)
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(batch, steps, 5, dtype=torch.float64, generator=gen) * scale
    h0 = torch.rand(layers, batch, 7, dtype=torch.float64, generator=gen) if with_h0 else None
    out, h_n = model(x, h0)
    out_s, h_s = _stepwise(model, x, h0)
    assert out.shape == (batch, steps, 7) and h_n.shape == (layers, batch, 7)
    torch.testing.assert_close(out, out_s, atol=1e-6, rtol=1e-6)
    torch.testing.assert_close(h_n, h_s, atol=1e-6, rtol=1e-6)


@pytest.mark.parametrize("cell", CELLS)
def test_zero_state_is_the_default(cell):
    model = _model(cell)
    x = torch.randn(2, 9, 5, dtype=torch.float64)
    out, h_n = model(x)
    out0, h0_n = model(x, model.init_state(2))
    torch.testing.assert_close(out, out0, atol=1e-12, rtol=1e-12)
    torch.testing.assert_close(h_n, h0_n, atol=1e-12, rtol=1e-12)


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("split", [1, 17, 39])
def test_resume_from_state_equals_one_long_sequence(cell, split):
    """Truncated BPTT with carried state: two windows give exactly the long run."""
    model = _model(cell, layers=3)
    x = torch.randn(2, 40, 5, dtype=torch.float64)
    out, h_n = model(x)
    out1, h1 = model(x[:, :split])
    out2, h2 = model(x[:, split:], h1.detach())
    torch.testing.assert_close(torch.cat([out1, out2], 1), out, atol=1e-9, rtol=1e-9)
    torch.testing.assert_close(h2, h_n, atol=1e-9, rtol=1e-9)


@pytest.mark.parametrize("cell", CELLS)
def test_long_sequence_float32_stays_close_to_float64(cell):
    """4,096 steps in float32 (the training dtype): the log-space scan does not drift."""
    model = _model(cell, input_size=4, hidden=6, layers=1)
    x = torch.randn(2, 4096, 4, dtype=torch.float64)
    want, _ = model(x)
    got, _ = model.float()(x.float())
    assert torch.isfinite(got).all()
    rel = ((got.double() - want).abs() / want.abs()).max().item()
    assert rel < 1e-3, rel


@pytest.mark.parametrize("cell", CELLS)
def test_lengths_pick_each_rows_last_valid_state(cell):
    model = _model(cell)
    x = torch.randn(3, 10, 5, dtype=torch.float64)
    lengths = torch.tensor([10, 4, 1])
    out, h_n = model(x, lengths=lengths)
    for row, n in enumerate(lengths.tolist()):
        alone_out, alone_h = model(x[row:row + 1, :n])
        torch.testing.assert_close(out[row:row + 1, :n], alone_out)
        torch.testing.assert_close(h_n[:, row:row + 1], alone_h)
    with pytest.raises(ConfigError, match="lengths"):
        model(x, lengths=torch.tensor([11, 1, 1]))


@pytest.mark.parametrize("cell", CELLS)
def test_gradients_flow(cell):
    model = _model(cell, layers=2)
    x = torch.randn(2, 12, 5, dtype=torch.float64, requires_grad=True)
    h0 = torch.rand(2, 2, 7, dtype=torch.float64, requires_grad=True)
    out, h_n = model(x, h0)
    (out.square().mean() + h_n.sum()).backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0, name
    assert torch.isfinite(x.grad).all() and x.grad[:, 0].abs().sum() > 0  # reaches the first step
    assert torch.isfinite(h0.grad).all() and h0.grad.abs().sum() > 0
    # a zero state (log 0 = -inf) still gives finite gradients
    model.zero_grad()
    zero = torch.zeros(2, 2, 7, dtype=torch.float64, requires_grad=True)
    model(x, zero)[0].sum().backward()
    assert torch.isfinite(zero.grad).all()
    assert all(torch.isfinite(p.grad).all() for p in model.parameters())


@pytest.mark.parametrize("cell", CELLS)
def test_gradcheck_against_finite_differences(cell):
    model = _model(cell, input_size=3, hidden=2, layers=2)
    x = torch.randn(1, 6, 3, dtype=torch.float64, requires_grad=True)
    h0 = torch.rand(2, 1, 2, dtype=torch.float64) + 0.1
    h0.requires_grad_(True)
    assert torch.autograd.gradcheck(lambda a, b: model(a, b)[0], (x, h0))


@pytest.mark.parametrize("cell", CELLS)
def test_dropout_between_layers_only_in_training(cell):
    model = _model(cell, layers=2, dropout=0.5)
    x = torch.randn(2, 8, 5, dtype=torch.float64)
    assert torch.equal(model(x)[0], model(x)[0])  # eval: deterministic
    model.train()
    torch.manual_seed(0)
    a = model(x)[0]
    torch.manual_seed(1)
    assert not torch.equal(a, model(x)[0])
    assert _model(cell, layers=1, dropout=0.5).dropout == 0.0


@pytest.mark.parametrize("cell", CELLS)
def test_parameter_count_formula(cell):
    maps = {"mingru": 2, "minlstm": 3}[cell]
    for inp, hidden, layers in [(5, 7, 1), (64, 32, 3), (1, 1, 2)]:
        model = MIN_CELLS[cell](inp, hidden, layers)
        n = sum(p.numel() for p in model.parameters())
        assert n == core_params(cell, inp, hidden, layers)
        assert n == maps * hidden * (inp + 1) + (layers - 1) * maps * hidden * (hidden + 1)


def test_trace_gates():
    model = _model("minlstm", layers=2)
    x = torch.randn(2, 11, 5, dtype=torch.float64)
    tr = trace_min_gates(model, x)
    assert set(tr) == {"h", "forget_gate", "input_gate", "keep_gate"}
    assert all(a.shape == (2, 2, 11, 7) and a.dtype == np.float32 for a in tr.values())
    f, i = tr["forget_gate"], tr["input_gate"]
    np.testing.assert_allclose(tr["keep_gate"], f / (f + i), rtol=1e-5)
    np.testing.assert_allclose(tr["h"][-1], model(x)[0].detach().numpy(), rtol=1e-5)
    # the keep gate really is the weight on h_{t-1}: h_t = keep * h_{t-1} + (new value)
    gru = _model("mingru", layers=1)
    tr = trace_min_gates(gru, x)
    assert set(tr) == {"h", "write_gate", "keep_gate"}
    np.testing.assert_allclose(tr["keep_gate"], 1 - tr["write_gate"], rtol=1e-6)
    lin = gru.layers[0].linear
    v = lin(x)[..., 7:]
    new = (torch.from_numpy(tr["write_gate"][0]).double() * g(v)).detach().numpy()
    np.testing.assert_allclose(tr["h"][0, :, 1:], tr["keep_gate"][0, :, 1:] * tr["h"][0, :, :-1]
                               + new[:, 1:], rtol=1e-4, atol=1e-6)


def test_bad_input():
    model = _model("mingru")
    with pytest.raises(ConfigError, match=r"\(batch, time, 5\)"):
        model(torch.randn(2, 3, 4, dtype=torch.float64))
    with pytest.raises(ConfigError, match="state must be"):
        model(torch.randn(2, 3, 5, dtype=torch.float64), torch.rand(1, 2, 7, dtype=torch.float64))
    with pytest.raises(ConfigError, match=">= 0"):
        model(torch.randn(2, 3, 5, dtype=torch.float64), -torch.rand(2, 2, 7, dtype=torch.float64))
    with pytest.raises(ConfigError, match="num_layers"):
        MinGRU(3, 4, 0)
    with pytest.raises(ConfigError, match="hidden_size"):
        MinLSTM(3, 0)
    with pytest.raises(ConfigError, match="dropout"):
        MinLSTM(3, 4, 2, dropout=1.0)
    with pytest.raises(ConfigError, match="unknown min cell"):
        core_params("gru", 3, 4)
    with pytest.raises(ConfigError, match="MinGRU or MinLSTM"):
        trace_min_gates(torch.nn.GRU(3, 4), torch.zeros(1, 2, 3))


@pytest.fixture(params=CELLS)
def registered(request):
    """The min cell as its file in musicgate/nn/cells/ registers it."""
    from musicgate.nn.cells import get_cell

    return get_cell(request.param)


def test_registered_cell_works_in_the_language_model(registered):
    from musicgate.nn.init import init_gates, time_scales
    from musicgate.nn.models import RecurrentLM, count_params, hidden_for_params, trace_gates

    name = registered.name
    h = hidden_for_params(name, 20_000, vocab_size=30, layers=2, embed=16)
    model = RecurrentLM(vocab_size=30, cell=name, hidden=h, layers=2, embed=16).double().eval()
    assert abs(count_params(model) - 20_000) < 400
    assert registered.core_params(16, h, 2) == sum(p.numel() for p in model.rnn.parameters())
    init_gates(model, "chrono", t_max=64)
    assert time_scales(model).shape == (2, h) and time_scales(model).max() <= 64 + 1e-6
    ids = torch.randint(0, 30, (2, 25))
    logits, state = model(ids)
    assert state.shape == (2, 2, h) and torch.equal(model.init_state(2), torch.zeros(2, 2, h))
    # generation one token at a time gives the training-path logits
    s, steps = None, []
    for t in range(25):
        out, s = model.step(ids[:, t], s)
        steps.append(out)
    torch.testing.assert_close(torch.stack(steps, 1), logits, atol=1e-6, rtol=1e-6)
    trace = trace_gates(model, ids)
    assert trace.cell == name and trace.keep == "keep_gate"
    assert trace.h.shape == (2, 2, 25, h) and trace.keep_gate.shape == (2, 2, 25, h)
    assert set(trace.gates) == set(registered.gates)
    np.testing.assert_allclose(trace.h[-1], model.rnn(model.embed(ids))[0].detach().numpy(),
                               rtol=1e-5)
    # the registry's per-step function agrees with the layer
    layer = model.rnn.layers[0]
    x = model.embed(ids)[:, 0]
    h_prev = torch.rand(2, h, dtype=torch.float64)
    new, _, values = registered.step(layer.linear(x), None, h_prev, None)
    torch.testing.assert_close(new, layer.step(x, h_prev))
    assert len(values) == len(registered.gates)
