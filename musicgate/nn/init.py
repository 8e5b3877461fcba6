"""Gate initialisation: PyTorch's default, forget-gate bias 1, and chrono initialisation.

* ``"default"``: leave the module as PyTorch built it (no change, no random numbers drawn).
* ``"forget1"``: the gate that keeps memory gets bias 1 (Jozefowicz et al. 2015): the LSTM's
  forget gate, the GRU's update gate ``z`` (in PyTorch ``h' = (1 - z) * n + z * h``, so ``z`` keeps),
  the minLSTM's ``f``; the minGRU's ``z`` gets -1 (its keep weight is ``1 - z``).
* ``"chrono"``: Tallec & Ollivier (2018): with ``u ~ U(1, t_max - 1)`` per unit, the keep gate's
  bias is ``log u`` and the LSTM's (and minLSTM's) input gate bias is ``-log u``; the GRU's ``z``
  bias is ``+log u``, the minGRU's ``z`` bias ``-log u``. At zero input the keep gate is then
  ``u / (1 + u)`` and the unit's characteristic time ``1 / (1 - keep) = 1 + u``, uniform on
  ``[2, t_max]``.

PyTorch's fused modules hold two bias vectors per layer, ``b_ih`` and ``b_hh``, and only their sum
acts: the value is written to ``b_ih`` and the same rows of ``b_hh`` are set to 0. Rows of the
weights are (i, f, g, o) for ``nn.LSTM`` and (r, z, n) for ``nn.GRU``; other rows keep PyTorch's
initialisation. ``nn.LSTMCell`` and ``nn.GRUCell`` use the same layouts and are handled too.
"""
from __future__ import annotations

import math
import re

import numpy as np
import torch
from torch import nn

from musicgate.errors import ConfigError
from musicgate.nn.mincells import BLOCKS, MinGRULayer, MinLSTMLayer, _MinLayer

SCHEMES = ("default", "forget1", "chrono")
GATED = ("lstm", "gru", "mingru", "minlstm")

# cell -> (number of row blocks, keep-gate block, sign of its bias, input-gate block or None)
_LAYOUT = {
    "lstm": (4, 1, 1.0, 0),                                   # i, f, g, o
    "gru": (3, 1, 1.0, None),                                 # r, z, n
    "mingru": (len(BLOCKS["mingru"]), 0, -1.0, None),         # z, h
    "minlstm": (len(BLOCKS["minlstm"]), 0, 1.0, 1),           # f, i, h
}


def _kind(module: nn.Module) -> str | None:
    if isinstance(module, (nn.LSTM, nn.LSTMCell)):
        return "lstm"
    if isinstance(module, (nn.GRU, nn.GRUCell)):
        return "gru"
    if isinstance(module, (nn.RNN, nn.RNNCell)):
        return "rnn"
    if isinstance(module, _MinLayer):
        return module.cell
    return None


def _cores(module: nn.Module) -> list[tuple[str, nn.Module]]:
    """Every recurrent cell in ``module`` (itself included), with its kind."""
    found = [(kind, m) for m in module.modules() if (kind := _kind(m)) is not None]
    if not found:
        raise ConfigError(f"no recurrent cell (nn.RNN/LSTM/GRU, MinGRU, MinLSTM) found in "
                          f"{type(module).__name__}")
    return found


def _bias_pairs(kind: str, core: nn.Module) -> list[tuple[str, torch.Tensor, torch.Tensor | None]]:
    """(suffix, bias that receives the value, bias whose rows are zeroed or None) per layer."""
    if isinstance(core, (MinGRULayer, MinLSTMLayer)):
        return [("", core.linear.bias, None)] if core.linear.bias is not None else []
    params = dict(core.named_parameters(recurse=False))
    pairs = []
    for name, b_ih in params.items():
        match = re.fullmatch(r"bias_ih(.*)", name)
        if match:
            pairs.append((match.group(1), b_ih, params.get(f"bias_hh{match.group(1)}")))
    return pairs


def _check(scheme: str, t_max: float | None) -> None:
    if not isinstance(scheme, str) or scheme not in SCHEMES:
        raise ConfigError(f"unknown gate initialisation {scheme!r}: use one of {', '.join(SCHEMES)}")
    if scheme != "chrono":
        if t_max is not None:
            raise ConfigError(f"t_max={t_max!r} is used only by the chrono initialisation, "
                              f"not by {scheme!r}: drop it or use chrono")
        return
    if t_max is None:
        raise ConfigError("the chrono initialisation needs t_max, the longest time span to "
                          "remember in steps (for example the training sequence length)")
    if isinstance(t_max, bool) or not isinstance(t_max, (int, float)) or not t_max > 1 \
            or not math.isfinite(t_max):
        raise ConfigError(f"chrono t_max must be a number of steps > 1, got {t_max!r}")


@torch.no_grad()
def init_gates(module: nn.Module, scheme: str, *, t_max: float | None = None,
               generator: torch.Generator | None = None) -> nn.Module:
    """Initialise the gate biases of every recurrent cell in ``module``, in place.

    Parameters
    ----------
    module : nn.Module
        An ``nn.LSTM`` / ``nn.GRU`` / ``nn.RNN`` (or their ``*Cell``), a :class:`MinGRU` /
        :class:`MinLSTM`, or any model that contains them (every one found is initialised).
    scheme : {"default", "forget1", "chrono"}
        See the module docstring.
    t_max : float, optional
        Chrono only (and required there): the longest dependency, in steps, > 1.
    generator : torch.Generator, optional
        Source of the chrono draws (default: torch's global generator, so ``torch.manual_seed``
        makes them repeatable).

    Returns
    -------
    nn.Module
        ``module`` itself.

    Raises
    ------
    ConfigError
        Unknown scheme, ``t_max`` missing or <= 1 for chrono (or given for another scheme), no
        recurrent cell in ``module``, or forget1/chrono on a cell without gates (tanh RNN) or
        without biases.
    """
    _check(scheme, t_max)
    cores = _cores(module)
    if scheme == "default":
        return module
    for kind, core in cores:
        if kind not in _LAYOUT:
            raise ConfigError(f"the {scheme} initialisation needs a gated cell ({', '.join(GATED)}):"
                              f" {type(core).__name__}, a plain tanh RNN, has no gates; use "
                              f"'default' for it")
        if not _bias_pairs(kind, core):
            raise ConfigError(f"the {scheme} initialisation sets gate biases, but this "
                              f"{type(core).__name__} was built with bias=False")
    for kind, core in cores:
        blocks, keep, sign, input_gate = _LAYOUT[kind]
        for _, b_main, b_other in _bias_pairs(kind, core):
            hidden = b_main.shape[0] // blocks
            rows = lambda block: slice(block * hidden, (block + 1) * hidden)  # noqa: E731
            if scheme == "forget1":
                value = torch.ones(hidden, dtype=b_main.dtype, device=b_main.device)
            else:
                u = torch.empty(hidden, dtype=torch.float64).uniform_(
                    1.0, float(t_max) - 1.0, generator=generator)
                value = torch.log(u).to(b_main.dtype).to(b_main.device)
            b_main[rows(keep)] = sign * value
            if b_other is not None:
                b_other[rows(keep)] = 0.0
            if scheme == "chrono" and input_gate is not None:
                b_main[rows(input_gate)] = -value
                if b_other is not None:
                    b_other[rows(input_gate)] = 0.0
    return module


def keep_gate_at_rest(module: nn.Module) -> np.ndarray:
    """The keep gate of every unit at zero input and zero state, from the biases alone.

    The keep gate is the weight on the previous state: the LSTM's ``f``, the GRU's ``z``, the
    minGRU's ``1 - z``, the minLSTM's ``f / (f + i)``.

    Returns
    -------
    ndarray (n_layers, H)
        One row per layer (and direction) of every gated cell in ``module``, in module order.
    """
    rows = []
    for kind, core in _cores(module):
        if kind not in _LAYOUT:
            raise ConfigError(f"time scales need a gated cell ({', '.join(GATED)}): "
                              f"{type(core).__name__}, a plain tanh RNN, has no gates")
        blocks, keep, sign, _ = _LAYOUT[kind]
        pairs = _bias_pairs(kind, core)
        if not pairs:  # no bias: every gate is sigmoid(0) at rest
            size = core.hidden_size
            pairs = [("", torch.zeros(blocks * size), None)]
        for _, b_main, b_other in pairs:
            bias = b_main.detach().double().cpu()
            if b_other is not None:
                bias = bias + b_other.detach().double().cpu()
            pre = bias.view(blocks, -1)
            if kind == "minlstm":
                f, i = torch.sigmoid(pre[0]), torch.sigmoid(pre[1])
                rows.append((f / (f + i)).numpy())
            else:
                rows.append(torch.sigmoid(sign * pre[keep]).numpy())
    return np.stack(rows)


def time_scales(module: nn.Module) -> np.ndarray:
    """Characteristic memory time of every unit at rest, ``1 / (1 - keep)`` steps.

    A unit whose keep gate is ``a`` forgets like ``a**t``: after ``1 / (1 - a)`` steps about
    ``1/e`` of a stored value is left. PyTorch's default init gives ~2 steps; chrono with
    ``t_max`` gives values spread uniformly over ``[2, t_max]``.

    Returns
    -------
    ndarray (n_layers, H)
        As :func:`keep_gate_at_rest` (``inf`` where the keep gate is exactly 1).
    """
    keep = keep_gate_at_rest(module)
    with np.errstate(divide="ignore"):
        return 1.0 / (1.0 - keep)
