"""The LSTM (PyTorch's equations, rows of ``weight_ih`` ordered i|f|g|o)::

    i, f, o = sigmoid(.), g = tanh(.), c' = f * c + i * g, h' = o * tanh(c')

The cell state ``c`` is the protected lane: the forget gate ``f`` decides what of it to keep.
"""
from __future__ import annotations

from musicgate.nn.cells.base import CellSpec, fused_params, register


def build(input_size: int, hidden: int, layers: int, dropout: float):
    from torch import nn

    return nn.LSTM(input_size=input_size, hidden_size=hidden, num_layers=layers, dropout=dropout,
                   batch_first=True)


def step(gi, gh, h, c):
    import torch

    i, f, g, o = (gi + gh).chunk(4, dim=-1)
    i, f, g, o = torch.sigmoid(i), torch.sigmoid(f), torch.tanh(g), torch.sigmoid(o)
    c = f * c + i * g
    return o * torch.tanh(c), c, (i, f, g, o, c)


SPEC = register(CellSpec(
    name="lstm", label="LSTM", colour="#0072b2", build=build, core_params=fused_params(4), step=step,
    gates=("input_gate", "forget_gate", "cell_candidate", "output_gate", "cell_state"),
    sigmoid_gates=("input_gate", "forget_gate", "output_gate"), keep_gate="forget_gate",
    panels=("input_gate", "forget_gate", "output_gate", "cell_state"),
    labels={"input_gate": "input gate i", "forget_gate": "forget gate f (keep)", "output_gate": "output gate o",
            "cell_state": "cell state c", "cell_candidate": "candidate g"},
    keep_label="forget gate f", state_pair=True, default_lr=2e-2))
