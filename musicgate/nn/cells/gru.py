"""The GRU (PyTorch's equations, rows ordered r|z|n)::

    r, z = sigmoid(.), n = tanh(W_in x + b_in + r * (W_hn h + b_hn)), h' = (1 - z) * n + z * h

The update gate ``z`` plays the LSTM forget gate's part: ``z`` near 1 keeps the old state.
"""
from __future__ import annotations

from musicgate.nn.cells.base import CellSpec, fused_params, register


def build(input_size: int, hidden: int, layers: int, dropout: float):
    from torch import nn

    return nn.GRU(input_size=input_size, hidden_size=hidden, num_layers=layers, dropout=dropout,
                  batch_first=True)


def step(gi, gh, h, c):
    import torch

    i_r, i_z, i_n = gi.chunk(3, dim=-1)
    h_r, h_z, h_n = gh.chunk(3, dim=-1)
    r, z = torch.sigmoid(i_r + h_r), torch.sigmoid(i_z + h_z)
    n = torch.tanh(i_n + r * h_n)
    return (1 - z) * n + z * h, None, (r, z, n)


SPEC = register(CellSpec(
    name="gru", label="GRU", colour="#d55e00", build=build, core_params=fused_params(3), step=step,
    gates=("reset_gate", "update_gate", "candidate"), sigmoid_gates=("reset_gate", "update_gate"),
    keep_gate="update_gate", panels=("reset_gate", "update_gate", "h"),
    labels={"reset_gate": "reset gate r", "update_gate": "update gate z (keep)", "candidate": "candidate n"},
    keep_label="update gate z", default_lr=1e-2))
