"""Gate initialisation: the right rows get the right biases, chrono's time scales, bad input."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import stats
from torch import nn

from musicgate.errors import ConfigError
from musicgate.nn.init import SCHEMES, init_gates, keep_gate_at_rest, time_scales
from musicgate.nn.mincells import MinGRU, MinLSTM
from musicgate.nn.models import RecurrentLM, trace_gates

H = 16


def _core(kind: str, layers: int = 2, **kw) -> nn.Module:
    torch.manual_seed(0)
    if kind in ("mingru", "minlstm"):
        return (MinGRU if kind == "mingru" else MinLSTM)(5, H, layers)
    cls = {"lstm": nn.LSTM, "gru": nn.GRU, "rnn": nn.RNN}[kind]
    return cls(5, H, layers, batch_first=True, **kw)


def _biases(core: nn.Module, layer: int, blocks: int) -> torch.Tensor:
    """Sum of the two bias vectors of a fused layer, as (blocks, H)."""
    total = getattr(core, f"bias_ih_l{layer}") + getattr(core, f"bias_hh_l{layer}")
    return total.detach().view(blocks, H)


def test_default_changes_nothing_and_draws_nothing():
    for kind in ("lstm", "gru", "rnn", "mingru", "minlstm"):
        core = _core(kind)
        before = {k: v.clone() for k, v in core.state_dict().items()}
        assert init_gates(core, "default") is core
        torch.manual_seed(5)
        expected = torch.rand(1)
        torch.manual_seed(5)
        init_gates(core, "default")
        assert torch.equal(torch.rand(1), expected)  # no random numbers consumed
        for k, v in core.state_dict().items():
            assert torch.equal(v, before[k]), (kind, k)


def test_forget1_lstm_rows():
    core = _core("lstm")
    before = _biases(core, 1, 4).clone()
    init_gates(core, "forget1")
    for layer in range(2):
        b = _biases(core, layer, 4)
        assert torch.allclose(b[1], torch.ones(H))                 # f: b_ih + b_hh = 1
        assert torch.equal(core.bias_hh_l0.detach().view(4, H)[1], torch.zeros(H))
    b = _biases(core, 1, 4)
    for row in (0, 2, 3):                                          # i, g, o untouched
        assert torch.equal(b[row], before[row])


def test_forget1_gru_sets_the_keep_gate_z():
    core = _core("gru")
    before = _biases(core, 0, 3).clone()
    init_gates(core, "forget1")
    b = _biases(core, 0, 3)
    assert torch.allclose(b[1], torch.ones(H))                     # z (keep in PyTorch's GRU)
    assert torch.equal(b[0], before[0]) and torch.equal(b[2], before[2])
    # z = sigmoid(1) at rest, so the GRU keeps 73% of h per step
    np.testing.assert_allclose(keep_gate_at_rest(core), 1 / (1 + np.exp(-1)), rtol=1e-12)


def test_chrono_lstm_rows_and_range():
    core = _core("lstm")
    before = _biases(core, 0, 4).clone()
    torch.manual_seed(3)
    init_gates(core, "chrono", t_max=100)
    for layer in range(2):
        b = _biases(core, layer, 4).double()
        assert torch.allclose(b[0], -b[1], atol=1e-6)               # input = -forget
        u = torch.exp(b[1])
        assert (u >= 1 - 1e-5).all() and (u <= 99 + 1e-3).all()
    b = _biases(core, 0, 4)
    assert torch.equal(b[2], before[2]) and torch.equal(b[3], before[3])
    # the two layers got different draws
    assert not torch.allclose(_biases(core, 0, 4)[1], _biases(core, 1, 4)[1])


def test_chrono_is_repeatable_with_a_seed():
    a, b = _core("gru"), _core("gru")
    torch.manual_seed(9)
    init_gates(a, "chrono", t_max=50)
    torch.manual_seed(9)
    init_gates(b, "chrono", t_max=50)
    assert torch.equal(a.bias_ih_l0, b.bias_ih_l0)
    c = _core("gru")
    init_gates(c, "chrono", t_max=50, generator=torch.Generator().manual_seed(1))
    assert not torch.equal(a.bias_ih_l0, c.bias_ih_l0)


def test_chrono_gru_update_gate_is_positive_log_u():
    core = _core("gru")
    before = _biases(core, 0, 3).clone()
    init_gates(core, "chrono", t_max=30)
    b = _biases(core, 0, 3).double()
    assert (b[1] >= -1e-6).all() and (b[1] <= np.log(29) + 1e-6).all()   # z bias = +log u
    assert torch.equal(b[0].float(), before[0]) and torch.equal(b[2].float(), before[2])


def test_chrono_lstm_forget_gates_at_t0_have_uniform_time_scales():
    """Run the LSTM one step from rest: 1 / (1 - f) is uniform on [2, t_max] (Tallec & Ollivier)."""
    t_max, hidden = 200, 400
    torch.manual_seed(0)
    core = nn.LSTM(3, hidden, 1, batch_first=True)
    init_gates(core, "chrono", t_max=t_max)
    trace = trace_gates(core, torch.zeros(1, 1, 3))
    f = trace.forget_gate[0, 0, 0].astype(np.float64)
    scales = 1 / (1 - f)
    assert scales.min() >= 2 - 1e-3 and scales.max() <= t_max + 0.5
    assert stats.kstest(scales, stats.uniform(loc=2, scale=t_max - 2).cdf).pvalue > 1e-3
    # the input gate is the forget gate's complement at rest
    np.testing.assert_allclose(trace.input_gate[0, 0, 0], 1 - f, atol=1e-5)
    np.testing.assert_allclose(time_scales(core)[0], scales, rtol=1e-3)
    # PyTorch's default: f = sigmoid(b) with b ~ U(-2/sqrt(H), 2/sqrt(H)), about two steps
    default = time_scales(nn.LSTM(3, hidden))
    assert 1.8 < default.min() and default.max() < 2.3


@pytest.mark.parametrize("kind", ["mingru", "minlstm"])
def test_chrono_min_cells_time_scales_uniform(kind):
    torch.manual_seed(0)
    core = (MinGRU if kind == "mingru" else MinLSTM)(3, 400, 2)
    init_gates(core, "chrono", t_max=100)
    scales = time_scales(core)
    assert scales.shape == (2, 400)
    for row in scales:
        assert stats.kstest(row, stats.uniform(loc=2, scale=98).cdf).pvalue > 1e-3
    # and at rest the layer's keep weight really is that gate: a zero input keeps h like keep**t
    layer = core.layers[0]
    x = torch.zeros(1, 1, 3)
    h0 = torch.rand(1, 400)
    h1 = layer(x, h0)[0, 0]
    new = layer(x)[0, 0]                                           # from h0 = 0
    keep = torch.from_numpy(keep_gate_at_rest(core)[0]).float()
    torch.testing.assert_close(h1, keep * h0[0] + new, atol=1e-5, rtol=1e-5)


def test_min_cell_rows():
    gru = MinGRU(3, H)
    init_gates(gru, "forget1")
    b = gru.layers[0].linear.bias.detach().view(2, H)
    assert torch.equal(b[0], -torch.ones(H))                       # z = write gate: keep = 1 - z
    lstm = MinLSTM(3, H)
    before = lstm.layers[0].linear.bias.detach().view(3, H).clone()
    init_gates(lstm, "chrono", t_max=10)
    b = lstm.layers[0].linear.bias.detach().view(3, H)
    assert torch.allclose(b[0], -b[1]) and (b[0] >= 0).all()       # f = log u, i = -log u
    assert torch.equal(b[2], before[2])                            # candidate untouched


def test_whole_model_and_cells():
    torch.manual_seed(0)
    model = RecurrentLM(vocab_size=11, cell="lstm", hidden=H, layers=2)
    init_gates(model, "forget1")
    assert torch.allclose(_biases(model.rnn, 1, 4)[1], torch.ones(H))
    cell = nn.GRUCell(3, H)
    init_gates(cell, "chrono", t_max=20)
    assert torch.equal(cell.bias_hh.detach().view(3, H)[1], torch.zeros(H))
    assert (cell.bias_ih.detach().view(3, H)[1] >= 0).all()
    bi = nn.LSTM(3, H, bidirectional=True)
    init_gates(bi, "forget1")
    assert time_scales(bi).shape == (2, H)
    np.testing.assert_allclose(keep_gate_at_rest(bi), 1 / (1 + np.exp(-1)), rtol=1e-6)


def test_bad_input():
    lstm = _core("lstm")
    with pytest.raises(ConfigError, match="unknown gate initialisation 'xavier'.*default, forget1, chrono"):
        init_gates(lstm, "xavier")
    assert SCHEMES == ("default", "forget1", "chrono")
    with pytest.raises(ConfigError, match="needs t_max"):
        init_gates(lstm, "chrono")
    for bad in (1, 0.5, -3, float("inf"), True, "100"):
        with pytest.raises(ConfigError, match="t_max"):
            init_gates(lstm, "chrono", t_max=bad)
    with pytest.raises(ConfigError, match="only by the chrono"):
        init_gates(lstm, "forget1", t_max=100)
    for scheme, t_max in (("chrono", 10), ("forget1", None)):
        with pytest.raises(ConfigError, match="plain tanh RNN, has no gates"):
            init_gates(_core("rnn"), scheme, t_max=t_max)
    with pytest.raises(ConfigError, match="no gates"):
        time_scales(_core("rnn"))
    with pytest.raises(ConfigError, match="no recurrent cell"):
        init_gates(nn.Linear(3, 4), "forget1")
    with pytest.raises(ConfigError, match="bias=False"):
        init_gates(_core("gru", bias=False), "chrono", t_max=10)
    # a failed call changes nothing
    before = lstm.bias_ih_l0.clone()
    with pytest.raises(ConfigError):
        init_gates(nn.Sequential(lstm, nn.RNN(3, 4)), "forget1")
    assert torch.equal(lstm.bias_ih_l0, before)
