"""The cell registry: everything musicgate knows about a recurrent cell, in one :class:`CellSpec`.

A cell is one file in this folder that calls :func:`register` with its spec; nothing else in
musicgate names cells. The spec says how to build the fused core, how to recompute its gates
step by step (for pictures and gate statistics), which gate keeps memory, how many parameters a
layer has (for :func:`~musicgate.nn.models.hidden_for_params`), and how it is drawn and named.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from musicgate.errors import ConfigError


def fused_params(blocks: int) -> Callable[[int, int, int], int]:
    """Parameter count of a PyTorch fused core with ``blocks`` gate blocks per layer
    (``W_ih``, ``W_hh``, ``b_ih``, ``b_hh``): the RNN has 1, the GRU 3, the LSTM 4."""
    def count(input_size: int, hidden: int, layers: int) -> int:
        first = blocks * hidden * (input_size + hidden + 2)
        return first + (layers - 1) * blocks * hidden * (2 * hidden + 2)
    return count


@dataclass(frozen=True)
class CellSpec:
    """One recurrent cell.

    Attributes
    ----------
    name : the config name (``"lstm"``).
    label : how people name it (``"LSTM"``, ``"tanh RNN"``).
    colour : its colour in every picture (colour-blind-safe palette).
    build : ``build(input_size, hidden, layers, dropout) -> nn.Module``, batch first, called as
        ``core(x, state) -> (out, state)``.
    core_params : ``core_params(input_size, hidden, layers) -> int`` parameters of the core.
    step : ``step(gi, gh, h, c) -> (h, c, values)``: one step from the input and hidden
        projections, ``values`` in the order of ``gates`` (``c`` is None for cells without one).
    gates : names of the traced per-step values besides ``h`` (``("input_gate", ...)``).
    sigmoid_gates : those with values in (0, 1), in the order figures show them.
    keep_gate : the gate that multiplies the old memory (LSTM ``forget_gate``, GRU
        ``update_gate``); None for a cell without one.
    panels : heatmaps drawn under a piano roll or a spectrogram.
    labels : how each traced value is labelled in pictures.
    keep_label : the keep gate in words, for text (``"forget gate f"``).
    state_pair : True when the state is a pair ``(h, c)``.
    default_lr : Adam learning rate that suits the small memory experiments (probe, tasks).
    trace : optional ``trace(core, x, state) -> GateTrace`` for a core that is not a PyTorch fused
        RNN (the generic step-by-step recomputation from ``weight_ih_l*`` is used otherwise).
    """

    name: str
    label: str
    colour: str
    build: Callable
    core_params: Callable[[int, int, int], int]
    step: Callable
    gates: tuple[str, ...] = ()
    sigmoid_gates: tuple[str, ...] = ()
    keep_gate: str | None = None
    panels: tuple[str, ...] = ("h",)
    labels: dict = field(default_factory=dict)
    keep_label: str = "keep gate"
    state_pair: bool = False
    default_lr: float = 1e-2
    trace: Callable | None = None

    @property
    def gated(self) -> bool:
        """True when the cell has a gate that keeps memory."""
        return self.keep_gate is not None

    def label_of(self, value: str) -> str:
        """Picture label of a traced value (``"forget_gate"`` -> ``"forget gate f"``)."""
        return self.labels.get(value, "hidden state h" if value == "h" else value.replace("_", " "))


_REGISTRY: dict[str, CellSpec] = {}


def register(spec: CellSpec) -> CellSpec:
    """Add a cell; its name must be new."""
    if spec.name in _REGISTRY and _REGISTRY[spec.name] is not spec:
        raise ConfigError(f"a cell named {spec.name!r} is registered already")
    _REGISTRY[spec.name] = spec
    return spec


def unregister(name: str) -> None:
    """Remove a cell (for tests that add a toy cell)."""
    _REGISTRY.pop(name, None)
