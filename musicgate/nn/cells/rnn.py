"""The vanilla (Elman) RNN with tanh: ``h' = tanh(W_ih x + b_ih + W_hh h + b_hh)``; no gates,
so its memory fades at every step."""
from __future__ import annotations

from musicgate.nn.cells.base import CellSpec, fused_params, register


def build(input_size: int, hidden: int, layers: int, dropout: float):
    from torch import nn

    return nn.RNN(input_size=input_size, hidden_size=hidden, num_layers=layers, dropout=dropout,
                  batch_first=True, nonlinearity="tanh")


def step(gi, gh, h, c):
    import torch

    return torch.tanh(gi + gh), None, ()


SPEC = register(CellSpec(
    name="rnn", label="tanh RNN", colour="#8c8c8c", build=build, core_params=fused_params(1), step=step,
    panels=("h",), default_lr=3e-3))
