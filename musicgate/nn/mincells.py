"""minGRU and minLSTM (Feng et al. 2024, "Were RNNs All We Needed?"), trained by a parallel scan.

Both gates and the candidate depend on the input alone, so the recurrence is linear in ``h``::

    minGRU:   z = sigmoid(W_z x + b_z),  h~ = g(W_h x + b_h),  h_t = (1 - z) * h_{t-1} + z * h~
    minLSTM:  f = sigmoid(W_f x + b_f),  i = sigmoid(W_i x + b_i),  h~ = g(W_h x + b_h),
              f' = f / (f + i),  i' = i / (f + i),  h_t = f' * h_{t-1} + i' * h~

with ``g(v) = v + 1/2`` for ``v >= 0`` and ``sigmoid(v)`` below, so ``h~ > 0`` and a state that
starts non-negative stays positive. A sequence of ``h_t = a_t h_{t-1} + b_t`` is solved for all t at
once in log space (the paper's ``parallel_scan_log``: a cumulative sum of ``log a`` and one
``logcumsumexp``), with no Python loop over time; :meth:`step` runs the same cell one token at a
time for generation. The ``keep`` gate, the weight on ``h_{t-1}``, is ``1 - z`` (minGRU) and ``f'``
(minLSTM). Note that the minGRU's ``z`` is the paper's *write* gate, the opposite of
``nn.GRU``'s ``z``.

Layers have the call shape of ``nn.GRU(batch_first=True)``: ``forward(x, h0=None) -> (out, h_n)``
with ``x`` (B, T, input_size), ``out`` (B, T, hidden_size), ``h0`` and ``h_n`` (num_layers, B,
hidden_size). The minLSTM has no separate cell state: its state is one tensor, like the GRU's.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from musicgate.errors import ConfigError

#: Linear maps input -> hidden per layer, in the row order of ``layer.linear.weight``.
BLOCKS = {"mingru": ("z", "h"), "minlstm": ("f", "i", "h")}


def _positive_int(name: str, value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"{name} must be a positive integer, got {value!r}")
    return value


def core_params(cell: str, input_size: int, hidden: int, layers: int = 1) -> int:
    """Trainable parameters of a :class:`MinGRU` / :class:`MinLSTM` stack.

    Each layer has ``g`` linear maps from its input to ``hidden`` units, each with a weight matrix
    and one bias vector (there is no hidden-to-hidden matrix): ``g * hidden * (input + 1)``, with
    ``g = 2`` for the minGRU (z, h~) and ``g = 3`` for the minLSTM (f, i, h~). The first layer's
    input is ``input_size``, the others' is ``hidden``.
    """
    if cell not in BLOCKS:
        raise ConfigError(f"unknown min cell {cell!r}: use one of {', '.join(BLOCKS)}")
    for name, value in (("input_size", input_size), ("hidden", hidden), ("layers", layers)):
        _positive_int(name, value)
    maps = len(BLOCKS[cell])
    return maps * hidden * (input_size + 1) + (layers - 1) * maps * hidden * (hidden + 1)


def g(v: torch.Tensor) -> torch.Tensor:
    """The paper's positive activation: ``v + 0.5`` for ``v >= 0``, ``sigmoid(v)`` below."""
    return torch.where(v >= 0, v + 0.5, torch.sigmoid(v))


def log_g(v: torch.Tensor) -> torch.Tensor:
    """``log(g(v))`` computed stably: ``log(relu(v) + 0.5)`` above 0, ``-softplus(-v)`` below."""
    return torch.where(v >= 0, torch.log(F.relu(v) + 0.5), -F.softplus(-v))


def parallel_scan_log(log_a: torch.Tensor, log_b: torch.Tensor,
                      log_h0: torch.Tensor | None = None) -> torch.Tensor:
    """All states of ``h_t = a_t * h_{t-1} + b_t`` (t = 1..T) from logs, for positive ``a, b, h0``.

    ``h_t = A_t * (h0 + sum_{s<=t} b_s / A_s)`` with ``A_t = a_1 ... a_t``, so in logs
    ``log h_t = log A_t + logcumsumexp(log b_s - log A_s)`` (Heinsen 2023; Feng et al. 2024).

    Parameters
    ----------
    log_a, log_b : Tensor (B, T, H)
    log_h0 : Tensor (B, H), optional
        Log of the state before step 1; none means ``h0 = 0``.

    Returns
    -------
    Tensor (B, T, H)
        ``h_1 .. h_T``.
    """
    a_star = torch.cumsum(log_a, dim=1)
    terms = log_b - a_star
    if log_h0 is not None:
        terms = torch.cat([log_h0.unsqueeze(1), terms], dim=1)
        return torch.exp(a_star + torch.logcumsumexp(terms, dim=1)[:, 1:])
    return torch.exp(a_star + torch.logcumsumexp(terms, dim=1))


class _MinLayer(nn.Module):
    """One min-cell layer; subclasses give the gates in normal and log space."""

    cell = ""

    def __init__(self, input_size: int, hidden_size: int) -> None:
        super().__init__()
        self.input_size = _positive_int("input_size", input_size)
        self.hidden_size = _positive_int("hidden_size", hidden_size)
        self.linear = nn.Linear(input_size, len(BLOCKS[self.cell]) * hidden_size)

    @staticmethod
    def log_coefficients(pre: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``log a`` (keep weight on ``h_{t-1}``) and ``log b`` (new value) from ``linear(x)``."""
        raise NotImplementedError

    @staticmethod
    def coefficients(pre: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``a`` and ``b`` from ``linear(x)``, computed without logs."""
        raise NotImplementedError

    @staticmethod
    def gates(pre: torch.Tensor) -> dict[str, torch.Tensor]:
        """Named gate values from ``linear(x)``, each (..., H); ``keep_gate`` is ``a``."""
        raise NotImplementedError

    def forward(self, x: torch.Tensor, h0: torch.Tensor | None = None) -> torch.Tensor:
        """All states (B, T, H) from input (B, T, input_size) and an optional state (B, H) >= 0."""
        log_a, log_b = self.log_coefficients(self.linear(x))
        if log_a.dtype in (torch.float16, torch.bfloat16):  # autocast: scan in float32
            log_a, log_b = log_a.float(), log_b.float()
        log_h0 = None
        if h0 is not None:
            if bool((h0 < 0).any()):
                raise ConfigError(f"the state of a {self.cell} must be >= 0 (its states are "
                                  f"positive); pass a state returned by a {self.cell}")
            # a zero state becomes log(tiny) (-87 in float32), a weight far below rounding;
            # the clamp keeps the gradient finite where log(0) would give -inf and NaN
            log_h0 = torch.log(h0.to(log_a.dtype).clamp_min(torch.finfo(log_a.dtype).tiny))
        return parallel_scan_log(log_a, log_b, log_h0)

    def step(self, x_t: torch.Tensor, h: torch.Tensor | None = None) -> torch.Tensor:
        """One step: input (B, input_size), state (B, H) -> new state (B, H)."""
        a, b = self.coefficients(self.linear(x_t))
        return b if h is None else a * h + b


class MinGRULayer(_MinLayer):
    """One minGRU layer: ``h_t = (1 - z) * h_{t-1} + z * g(W_h x + b_h)``, rows of ``linear`` (z, h)."""

    cell = "mingru"

    @staticmethod
    def log_coefficients(pre):
        k, v = pre.chunk(2, dim=-1)
        log_keep = -F.softplus(k)                              # log(1 - z)
        return log_keep, log_keep + k + log_g(v)               # log z = log(1 - z) + k

    @staticmethod
    def coefficients(pre):
        k, v = pre.chunk(2, dim=-1)
        z = torch.sigmoid(k)
        return 1 - z, z * g(v)

    @staticmethod
    def gates(pre):
        z = torch.sigmoid(pre.chunk(2, dim=-1)[0])
        return {"write_gate": z, "keep_gate": 1 - z}


class MinLSTMLayer(_MinLayer):
    """One minLSTM layer: ``h_t = f' h_{t-1} + i' g(W_h x + b_h)``, ``f', i'`` = f, i / (f + i).

    Rows of ``linear`` are (f, i, h).
    """

    cell = "minlstm"

    @staticmethod
    def log_coefficients(pre):
        kf, ki, v = pre.chunk(3, dim=-1)
        diff = F.softplus(-kf) - F.softplus(-ki)               # log(i / f)
        return -F.softplus(diff), -F.softplus(-diff) + log_g(v)  # log f', log i' + log h~

    @staticmethod
    def coefficients(pre):
        kf, ki, v = pre.chunk(3, dim=-1)
        f, i = torch.sigmoid(kf), torch.sigmoid(ki)
        return f / (f + i), i / (f + i) * g(v)

    @staticmethod
    def gates(pre):
        kf, ki, _ = pre.chunk(3, dim=-1)
        f, i = torch.sigmoid(kf), torch.sigmoid(ki)
        return {"forget_gate": f, "input_gate": i, "keep_gate": f / (f + i)}


class _MinStack(nn.Module):
    """Stacked min-cell layers with dropout between them, called like ``nn.GRU(batch_first=True)``."""

    layer_class: type[_MinLayer] = _MinLayer
    cell_name = ""  # the registry name
    batch_first = True
    bidirectional = False

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 dropout: float = 0.0) -> None:
        super().__init__()
        _positive_int("num_layers", num_layers)
        if isinstance(dropout, bool) or not 0.0 <= float(dropout) < 1.0:
            raise ConfigError(f"dropout must be in [0, 1), got {dropout!r}")
        self.input_size, self.hidden_size, self.num_layers = input_size, hidden_size, num_layers
        self.dropout = float(dropout) if num_layers > 1 else 0.0
        self.layers = nn.ModuleList(
            self.layer_class(input_size if k == 0 else hidden_size, hidden_size)
            for k in range(num_layers))
        self.drop = nn.Dropout(self.dropout)

    def init_state(self, batch: int) -> torch.Tensor:
        """Zero state (num_layers, batch, hidden_size) on the module's device and dtype."""
        w = self.layers[0].linear.weight
        return w.new_zeros((self.num_layers, batch, self.hidden_size))

    def _check(self, x: torch.Tensor, h0: torch.Tensor | None) -> None:
        if isinstance(x, nn.utils.rnn.PackedSequence):
            raise ConfigError(f"{type(self).__name__} takes a padded (B, T, F) tensor and "
                              f"lengths, not a PackedSequence")
        if x.dim() != 3 or x.shape[-1] != self.input_size:
            raise ConfigError(f"{type(self).__name__} input must be (batch, time, "
                              f"{self.input_size}), got {tuple(x.shape)}")
        want = (self.num_layers, x.shape[0], self.hidden_size)
        if h0 is not None and tuple(h0.shape) != want:
            raise ConfigError(f"{type(self).__name__} state must be {want}, got {tuple(h0.shape)}")

    def forward(self, x: torch.Tensor, h0: torch.Tensor | None = None,
                lengths: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Parallel scan over time, all layers.

        Parameters
        ----------
        x : Tensor (B, T, input_size)
        h0 : Tensor (num_layers, B, hidden_size), optional
            Non-negative state (a state this module returned); zeros by default.
        lengths : Tensor (B,), optional
            Valid length of each row: ``h_n`` is then the state after each row's last valid step.
            Outputs at valid positions never depend on the padding (the scan is causal).

        Returns
        -------
        out : Tensor (B, T, hidden_size), the last layer's states.
        h_n : Tensor (num_layers, B, hidden_size)
        """
        self._check(x, h0)
        index = None
        if lengths is not None:
            lengths = torch.as_tensor(lengths, device=x.device).long()
            if lengths.shape != (x.shape[0],) or int(lengths.min()) < 1 \
                    or int(lengths.max()) > x.shape[1]:
                raise ConfigError(f"lengths must be {x.shape[0]} values in [1, {x.shape[1]}], "
                                  f"got shape {tuple(lengths.shape)}")
            index = (lengths - 1).view(-1, 1, 1).expand(-1, 1, self.hidden_size)
        finals, out = [], x
        for k, layer in enumerate(self.layers):
            if k:
                out = self.drop(out)
            out = layer(out, None if h0 is None else h0[k])
            finals.append(out[:, -1] if index is None else out.gather(1, index)[:, 0])
        return out, torch.stack(finals)

    def step(self, x_t: torch.Tensor, h: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """One token for generation: ``x_t`` (B, input_size), ``h`` (num_layers, B, H) or None.

        Returns the last layer's output (B, H) and the new state (num_layers, B, H). Same
        equations as :meth:`forward`, computed without logs.
        """
        if x_t.dim() != 2 or x_t.shape[-1] != self.input_size:
            raise ConfigError(f"{type(self).__name__}.step input must be (batch, "
                              f"{self.input_size}), got {tuple(x_t.shape)}")
        states, out = [], x_t
        for k, layer in enumerate(self.layers):
            if k:
                out = self.drop(out)
            out = layer.step(out, None if h is None else h[k])
            states.append(out)
        return out, torch.stack(states)


class MinGRU(_MinStack):
    """Stacked minGRU layers (Feng et al. 2024). See the module docstring for the equations.

    Parameters
    ----------
    input_size, hidden_size, num_layers : int
    dropout : float
        Dropout between stacked layers (ignored when ``num_layers == 1``).
    """

    layer_class = MinGRULayer
    cell_name = "mingru"


class MinLSTM(_MinStack):
    """Stacked minLSTM layers (Feng et al. 2024). See the module docstring for the equations.

    Parameters
    ----------
    input_size, hidden_size, num_layers : int
    dropout : float
        Dropout between stacked layers (ignored when ``num_layers == 1``).
    """

    layer_class = MinLSTMLayer
    cell_name = "minlstm"


MIN_CELLS: dict[str, type[_MinStack]] = {"mingru": MinGRU, "minlstm": MinLSTM}


@torch.no_grad()
def trace_min_gates(module: _MinStack, x: torch.Tensor | np.ndarray,
                    h0: torch.Tensor | None = None) -> dict[str, np.ndarray]:
    """Gate values and states over time, per layer (eval mode: no dropout between layers).

    Parameters
    ----------
    module : MinGRU or MinLSTM
    x : float features (B, T, input_size)
    h0 : optional state (num_layers, B, H)

    Returns
    -------
    dict of float32 arrays (num_layers, B, T, H)
        ``h`` (the states), ``keep_gate`` (the weight on ``h_{t-1}``: ``1 - z`` for the minGRU,
        ``f / (f + i)`` for the minLSTM), and the raw sigmoid gates: ``write_gate`` (the
        minGRU's ``z``) or ``forget_gate``, ``input_gate`` (the minLSTM's ``f``, ``i``). The
        gates depend on the input only, so this is one pass, no loop.
    """
    if not isinstance(module, _MinStack):
        raise ConfigError(f"trace_min_gates takes a MinGRU or MinLSTM, got {type(module).__name__}")
    w = module.layers[0].linear.weight
    x = torch.as_tensor(x, dtype=w.dtype, device=w.device)
    module._check(x, h0)
    out: dict[str, list[torch.Tensor]] = {}
    layer_in = x
    for k, layer in enumerate(module.layers):
        h = layer(layer_in, None if h0 is None else h0[k])
        for name, value in {"h": h, **layer.gates(layer.linear(layer_in))}.items():
            out.setdefault(name, []).append(value)
        layer_in = h
    return {name: torch.stack(v).float().cpu().numpy() for name, v in out.items()}


def _trace(core: _MinStack, x: torch.Tensor, state: torch.Tensor | None = None):
    """``trace_min_gates`` as a :class:`~musicgate.nn.models.GateTrace` (the registry's hook)."""
    from musicgate.nn.models import GateTrace

    arrays = trace_min_gates(core, x, state)
    h = arrays.pop("h")
    sigmoid = tuple(n for n in arrays if n != "keep_gate") + ("keep_gate",)
    return GateTrace(cell=core.cell_name, h=h, gates=arrays, keep="keep_gate", sigmoid=sigmoid)


def _registry_step(cell: str):
    """``step(gi, gh, h, c) -> (h, None, values)`` for the registry; ``gi`` is ``linear(x)``."""
    layer_class = MIN_CELLS[cell].layer_class

    def step(gi, gh, h, c):
        a, b = layer_class.coefficients(gi)
        return a * h + b, None, tuple(layer_class.gates(gi).values())
    return step


