"""minGRU (Feng et al. 2024, "Were RNNs All We Needed?"): ``h' = (1 - z) * h + z * W_h x`` with
``z = sigmoid(W_z x)``; gates see the input only, so training runs as a parallel scan over time.

The layers are :class:`musicgate.nn.mincells.MinGRU` (imported when a model is built, so listing cells
needs no torch).
"""
from __future__ import annotations

from musicgate.nn.cells.base import CellSpec, register


def build(input_size: int, hidden: int, layers: int, dropout: float):
    from musicgate.nn.mincells import MinGRU

    return MinGRU(input_size, hidden, layers, dropout)


def core_params(input_size: int, hidden: int, layers: int) -> int:
    """2 input-to-hidden maps (weight and bias) per layer, no hidden-to-hidden matrix."""
    return 2 * hidden * (input_size + 1) + (layers - 1) * 2 * hidden * (hidden + 1)


def step(gi, gh, h, c):
    from musicgate.nn.mincells import _registry_step

    return _registry_step("mingru")(gi, gh, h, c)


def trace(core, x, state=None):
    from musicgate.nn.mincells import _trace

    return _trace(core, x, state)


SPEC = register(CellSpec(
    name="mingru", label="minGRU", colour="#cc79a7", build=build, core_params=core_params, step=step,
    gates=("write_gate", "keep_gate"), sigmoid_gates=("write_gate", "keep_gate"), keep_gate="keep_gate", panels=("keep_gate", "h"),
    labels={"write_gate": "write gate z", "keep_gate": "keep 1 - z"}, keep_label="keep weight 1 - z", default_lr=1e-2, trace=trace))
