"""Recurrent models: shapes, streaming, packing, gate tracing against the fused kernels, sizes."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from musicgate.errors import ConfigError
from musicgate.nn.cells import get_cell
from musicgate.nn.models import (
    CELLS, PianoRollRNN, RecurrentLM, count_params, hidden_for_params, recurrent, trace_gates)


def _lm(cell: str, **kw) -> RecurrentLM:
    torch.manual_seed(0)
    return RecurrentLM(vocab_size=kw.pop("vocab_size", 17), cell=cell, hidden=kw.pop("hidden", 12),
                       layers=kw.pop("layers", 2), **kw).eval()


@pytest.mark.parametrize("cell", CELLS)
def test_forward_shapes_and_state(cell):
    model = _lm(cell, embed=5)
    ids = torch.randint(0, 17, (3, 7))
    logits, state = model(ids)
    assert logits.shape == (3, 7, 17)
    h = state[0] if cell == "lstm" else state
    assert h.shape == (2, 3, 12)
    assert isinstance(state, tuple) == (cell == "lstm")
    init = model.init_state(3)
    init_h = init[0] if cell == "lstm" else init
    assert init_h.shape == (2, 3, 12) and not init_h.any()
    # an explicit zero state is the default state
    assert torch.allclose(model(ids, init)[0], logits)


@pytest.mark.parametrize("cell", CELLS)
def test_model_args_rebuild(cell):
    model = _lm(cell, embed=5, dropout=0.1)
    clone = RecurrentLM(**model.model_args)
    assert clone.model_args == model.model_args
    clone.load_state_dict(model.state_dict())
    assert (clone.cell, clone.hidden, clone.layers) == (cell, 12, 2)
    roll = PianoRollRNN(cell=cell, hidden=9, layers=2, dropout=0.2)
    assert PianoRollRNN(**roll.model_args).model_args == roll.model_args


@pytest.mark.parametrize("cell", CELLS)
def test_step_streaming_equals_full_forward(cell):
    model = _lm(cell, layers=3)
    ids = torch.randint(0, 17, (4, 11))
    with torch.no_grad():
        full, full_state = model(ids)
        state = model.init_state(4)
        streamed = []
        for t in range(ids.shape[1]):
            logits, state = model.step(ids[:, t], state)
            streamed.append(logits)
    assert (torch.stack(streamed, 1) - full).abs().max() < 1e-5
    pairs = zip(state, full_state) if cell == "lstm" else [(state, full_state)]
    for a, b in pairs:
        assert (a - b).abs().max() < 1e-5


@pytest.mark.parametrize("cell", CELLS)
def test_packed_lengths_ignore_padding(cell):
    model = _lm(cell)
    lengths = torch.tensor([6, 2, 4])
    ids = torch.randint(0, 17, (3, 6))
    noisy = ids.clone()
    for row, n in enumerate(lengths):
        noisy[row, n:] = torch.randint(0, 17, (6 - int(n),))
    with torch.no_grad():
        a, state_a = model(ids, lengths=lengths)
        b, state_b = model(noisy, lengths=lengths)
        for row, n in enumerate(lengths.tolist()):
            alone, alone_state = model(ids[row:row + 1, :n])
            assert (a[row, :n] - alone[0]).abs().max() < 1e-5
            h_a = state_a[0] if cell == "lstm" else state_a
            h_alone = alone_state[0] if cell == "lstm" else alone_state
            assert (h_a[:, row] - h_alone[:, 0]).abs().max() < 1e-5
    for row, n in enumerate(lengths.tolist()):
        assert torch.equal(a[row, :n], b[row, :n])
    h_a = state_a[0] if cell == "lstm" else state_a
    h_b = state_b[0] if cell == "lstm" else state_b
    assert torch.equal(h_a, h_b)


def test_bad_lengths_rejected():
    with pytest.raises(ConfigError, match="lengths"):
        _lm("gru")(torch.zeros(2, 4, dtype=torch.long), lengths=torch.tensor([5, 1]))


@pytest.mark.parametrize("cell", CELLS)
def test_trace_gates_matches_fused_core(cell):
    torch.manual_seed(1)
    rnn = recurrent(cell, input_size=5, hidden=8, layers=3).eval()
    for p in rnn.parameters():  # larger random weights so the gates saturate somewhere
        nn.init.uniform_(p, -0.8, 0.8)
    x = torch.randn(4, 9, 5)
    h0 = torch.rand(3, 4, 8) * 0.5  # positive: the min cells' states are (their scan runs in log space)
    state = (h0, torch.randn(3, 4, 8)) if cell == "lstm" else h0
    with torch.no_grad():
        out, final = rnn(x, state)
    trace = trace_gates(rnn, x, state)
    assert trace.cell == cell
    assert trace.h.shape == (3, 4, 9, 8)
    assert np.abs(trace.h[-1] - out.numpy()).max() <= 1e-5
    final_h = final[0] if cell == "lstm" else final
    assert np.abs(trace.h[:, :, -1] - final_h.numpy()).max() <= 1e-5
    expected = {"rnn": {"h"},
                "lstm": {"h", "input_gate", "forget_gate", "cell_candidate", "output_gate", "cell_state"},
                "gru": {"h", "reset_gate", "update_gate", "candidate"}}.get(cell, {"h", *get_cell(cell).gates})
    arrays = trace.arrays()
    assert set(arrays) == expected
    for name, value in arrays.items():
        assert value.shape == (3, 4, 9, 8), name
        if name.endswith("_gate"):
            assert value.min() >= 0.0 and value.max() <= 1.0, name
        if name in ("cell_candidate", "candidate") or (name == "h" and cell in ("rnn", "lstm")):
            assert np.abs(value).max() <= 1.0, name  # tanh (GRU's h mixes in h0, which may exceed 1)
    if cell == "lstm":
        assert np.abs(trace.cell_state[:, :, -1] - final[1].numpy()).max() <= 1e-5
        # c_t = f c_{t-1} + i g, and h = o tanh(c), recomputed from the traced gates
        c_prev = np.concatenate([state[1].numpy()[:, :, None], trace.cell_state[:, :, :-1]], axis=2)
        c = trace.forget_gate * c_prev + trace.input_gate * trace.cell_candidate
        assert np.abs(c - trace.cell_state).max() < 1e-5
        assert np.abs(trace.output_gate * np.tanh(c) - trace.h).max() < 1e-5


@pytest.mark.parametrize("cell", CELLS)
def test_trace_gates_on_models(cell):
    lm = _lm(cell, layers=2)
    ids = torch.randint(0, 17, (2, 6))
    with torch.no_grad():
        out, _ = lm.rnn(lm.embed(ids))
    assert np.abs(trace_gates(lm, ids).h[-1] - out.numpy()).max() <= 1e-5
    torch.manual_seed(2)
    roll_model = PianoRollRNN(cell=cell, hidden=10, layers=2).eval()
    roll = (torch.rand(3, 5, 88) < 0.1).float()
    with torch.no_grad():
        out, _ = roll_model.rnn(roll)
    assert np.abs(trace_gates(roll_model, roll.numpy()).h[-1] - out.numpy()).max() <= 1e-5


def test_trace_gates_time_major_core():
    torch.manual_seed(3)
    rnn = nn.GRU(4, 6, num_layers=2, batch_first=False)
    x = torch.randn(7, 3, 4)  # (T, B, F)
    with torch.no_grad():
        out, _ = rnn(x)
    trace = trace_gates(rnn, x)
    assert trace.h.shape == (2, 3, 7, 6)
    assert np.abs(trace.h[-1] - out.transpose(0, 1).numpy()).max() <= 1e-5


@settings(max_examples=15, deadline=None)
@given(cell=st.sampled_from(CELLS), hidden=st.integers(1, 40), layers=st.integers(1, 3),
       embed=st.one_of(st.none(), st.integers(1, 20)), vocab=st.integers(2, 50))
def test_param_count_formula_matches_modules(cell, hidden, layers, embed, vocab):
    lm = RecurrentLM(vocab_size=vocab, cell=cell, hidden=hidden, layers=layers, embed=embed)
    h = hidden_for_params(cell, count_params(lm), vocab_size=vocab, layers=layers, embed=embed)
    assert h == hidden
    roll = PianoRollRNN(cell=cell, hidden=hidden, layers=layers)
    assert hidden_for_params(cell, count_params(roll), input_size=88, output_size=88,
                             layers=layers) == hidden


def test_hidden_for_params_reproduces_chung_2014():
    # Chung et al. 2014, Table 1: ~20k parameters = tanh 100, GRU 46, LSTM 36 units on 88 keys.
    # They counted the recurrent layer (input and recurrent weights): within 10% of theirs.
    for cell, theirs in (("rnn", 100), ("gru", 46), ("lstm", 36)):
        ours = hidden_for_params(cell, 20_000, input_size=88)
        assert abs(ours - theirs) / theirs <= 0.10, (cell, ours)
    sizes = {c: hidden_for_params(c, 20_000, input_size=88, output_size=88) for c in CELLS}
    assert sizes["rnn"] > sizes["gru"] > sizes["lstm"]
    for cell, h in sizes.items():
        n = count_params(PianoRollRNN(cell=cell, hidden=h))
        for other in (h - 1, h + 1):
            m = count_params(PianoRollRNN(cell=cell, hidden=other))
            assert abs(n - 20_000) <= abs(m - 20_000)


def test_unknown_cell_and_bad_sizes():
    for build in (lambda: recurrent("transformer", 4, 4), lambda: RecurrentLM(vocab_size=5, cell="LSTM"),
                  lambda: PianoRollRNN(cell="tcn"), lambda: hidden_for_params("elman", 100, input_size=3)):
        with pytest.raises(ConfigError, match="rnn, lstm, gru"):
            build()
    with pytest.raises(ConfigError, match="hidden"):
        RecurrentLM(vocab_size=5, hidden=0)
    with pytest.raises(ConfigError, match="dropout"):
        PianoRollRNN(dropout=1.5)
    with pytest.raises(ConfigError, match="exactly one"):
        hidden_for_params("gru", 100)
    with pytest.raises(ConfigError, match="trace_gates"):
        trace_gates(nn.Linear(3, 3), torch.zeros(1, 2, 3))


def test_core_types_and_state_follow_module_dtype():
    assert isinstance(recurrent("rnn", 3, 4), nn.RNN) and recurrent("rnn", 3, 4).nonlinearity == "tanh"
    assert isinstance(recurrent("lstm", 3, 4), nn.LSTM) and isinstance(recurrent("gru", 3, 4), nn.GRU)
    assert recurrent("gru", 3, 4, layers=2, dropout=0.3).dropout == 0.3
    model = _lm("lstm").double()
    h, c = model.init_state(2)
    assert h.dtype == torch.float64 and c.dtype == torch.float64 and h.device == model.head.weight.device
