"""The cell registry: a new cell is one spec, and every part of musicgate picks it up."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from musicgate.errors import ConfigError
from musicgate.nn.cells import CellSpec, cell_names, fused_params, get_cell, register, unregister
from musicgate.nn.models import RecurrentLM, count_params, hidden_for_params, trace_gates


def _build(input_size, hidden, layers, dropout):
    return torch.nn.RNN(input_size=input_size, hidden_size=hidden, num_layers=layers, dropout=dropout,
                        batch_first=True, nonlinearity="relu")


def _step(gi, gh, h, c):
    return torch.relu(gi + gh), None, ()


@pytest.fixture
def toy():
    """A toy cell (a ReLU RNN) added the way a new cell file adds itself: one register() call."""
    spec = register(CellSpec(name="toyrelu", label="ReLU RNN", colour="#009e73", build=_build,
                             core_params=fused_params(1), step=_step, default_lr=1e-3))
    yield spec
    unregister("toyrelu")


def test_builtin_cells_and_what_they_know():
    assert cell_names()[:3] == ("rnn", "lstm", "gru")
    lstm, gru, rnn = get_cell("lstm"), get_cell("gru"), get_cell("rnn")
    assert (lstm.keep_gate, gru.keep_gate, rnn.keep_gate) == ("forget_gate", "update_gate", None)
    assert lstm.gated and gru.gated and not rnn.gated
    assert "(keep)" in lstm.label_of("forget_gate") and "(keep)" in gru.label_of("update_gate")
    assert len({lstm.colour, gru.colour, rnn.colour}) == 3
    with pytest.raises(ConfigError, match="unknown cell 'transformer': use one of rnn, lstm, gru"):
        get_cell("transformer")
    with pytest.raises(ConfigError, match="registered already"):
        register(CellSpec(name="lstm", label="x", colour="#000", build=_build, core_params=fused_params(1),
                          step=_step))


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_parameter_blocks_count_what_torch_counts(cell):
    for layers in (1, 3):
        model = RecurrentLM(vocab_size=30, cell=cell, hidden=17, layers=layers, embed=9)
        core = sum(p.numel() for p in model.rnn.parameters())
        assert get_cell(cell).core_params(9, 17, layers) == core


def test_a_new_cell_is_one_spec(toy, tmp_path):
    from musicgate.train.config import config_from_dict
    from musicgate.viz.gates import gate_view
    from musicgate.viz.plots import cell_colour
    from musicgate.music.notes import Notes

    assert "toyrelu" in cell_names()
    model = RecurrentLM(vocab_size=20, cell="toyrelu", hidden=12, layers=2)
    ids = torch.randint(0, 20, (2, 7))
    logits, state = model(ids)
    assert logits.shape == (2, 7, 20) and state.shape == (2, 2, 12)
    trace = trace_gates(model, ids)
    assert trace.cell == "toyrelu" and trace.keep is None and trace.forget_gate is None
    np.testing.assert_allclose(trace.h[-1][:, -1], state[-1].detach().numpy(), atol=1e-5)  # the real equations
    h = hidden_for_params("toyrelu", 5_000, vocab_size=20)
    assert abs(count_params(RecurrentLM(vocab_size=20, cell="toyrelu", hidden=h, layers=1)) - 5_000) < 200
    assert config_from_dict({"model": {"cell": "toyrelu"}}).model.cell == "toyrelu"
    assert cell_colour("toyrelu run 3") == "#009e73"
    notes = Notes.from_arrays([60, 62, 64], [0, 1, 2], [1, 1, 1])
    path = gate_view(trace, notes, path=tmp_path / "toy.png")
    assert path.stat().st_size > 1000


def test_cli_lists_registered_cells(toy, capsys):
    from musicgate.cli import main

    assert main(["speech", "train", "--help"]) == 0
    assert "toyrelu" in capsys.readouterr().out
