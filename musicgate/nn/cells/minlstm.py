"""minLSTM (Feng et al. 2024, "Were RNNs All We Needed?"): ``h' = f' * h + i' * W_h x`` with
``f' = f / (f + i)``; gates see the input only, so training runs as a parallel scan over time.

The layers are :class:`musicgate.nn.mincells.MinLSTM` (imported when a model is built, so listing cells
needs no torch).
"""
from __future__ import annotations

from musicgate.nn.cells.base import CellSpec, register


def build(input_size: int, hidden: int, layers: int, dropout: float):
    from musicgate.nn.mincells import MinLSTM

    return MinLSTM(input_size, hidden, layers, dropout)


def core_params(input_size: int, hidden: int, layers: int) -> int:
    """3 input-to-hidden maps (weight and bias) per layer, no hidden-to-hidden matrix."""
    return 3 * hidden * (input_size + 1) + (layers - 1) * 3 * hidden * (hidden + 1)


def step(gi, gh, h, c):
    from musicgate.nn.mincells import _registry_step

    return _registry_step("minlstm")(gi, gh, h, c)


def trace(core, x, state=None):
    from musicgate.nn.mincells import _trace

    return _trace(core, x, state)


SPEC = register(CellSpec(
    name="minlstm", label="minLSTM", colour="#56b4e9", build=build, core_params=core_params, step=step,
    gates=("forget_gate", "input_gate", "keep_gate"), sigmoid_gates=("forget_gate", "input_gate", "keep_gate"), keep_gate="keep_gate", panels=("forget_gate", "keep_gate", "h"),
    labels={"forget_gate": "forget gate f", "input_gate": "input gate i", "keep_gate": "keep f / (f + i)"}, keep_label="keep weight f / (f + i)", default_lr=1e-2, trace=trace))
