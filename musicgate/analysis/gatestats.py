"""Numbers about gates: memory half-life per unit and gate saturation.

Inputs are plain arrays (any leading shape, units last), or a
:class:`~musicgate.nn.models.GateTrace` from :func:`~musicgate.nn.models.trace_gates`.

The "keep" gate is the factor that multiplies the old memory at every step:

- LSTM: the forget gate ``f`` in ``c' = f * c + i * g``.
- GRU: the update gate ``z`` in ``h' = (1 - z) * n + z * h`` (PyTorch's convention), so a GRU's
  ``z`` plays the role of the LSTM's ``f``: ``z`` near 1 keeps the old state.
- vanilla RNN: none; it has no gate, so it has no half-life.

If a unit kept a constant fraction ``f`` per step, a memory would halve after
``t_half = ln 0.5 / ln f`` steps; :func:`memory_half_life` uses the unit's mean keep factor.
"""
from __future__ import annotations

from typing import Mapping

import numpy as np

from musicgate.errors import ParameterError


def keep_gate(trace) -> np.ndarray | None:
    """The (layers, B, T, H) keep factor of a GateTrace (``trace.keep`` names it: LSTM ``f``, GRU
    ``z``); None for a cell without one (the RNN)."""
    return None if trace.keep is None else getattr(trace, trace.keep)


def memory_half_life(forget_gates: np.ndarray) -> np.ndarray:
    """Memory half-life per unit, in steps: ``ln 0.5 / ln mean(f)``.

    Parameters
    ----------
    forget_gates : (..., H) array
        Keep-gate values in [0, 1] (LSTM ``f`` or GRU ``z``), averaged over every axis but the
        last. Pass one layer (``trace.forget_gate[k]``) to get that layer's units.

    Returns
    -------
    (H,) float array
        ``inf`` where the mean is 1 (nothing is ever forgotten), 0 where it is 0.
    """
    f = np.asarray(forget_gates, dtype=np.float64)
    if f.ndim == 0 or f.shape[-1] == 0:
        raise ParameterError(f"forget_gates must have units on the last axis, got shape {f.shape}")
    if f.size and (np.nanmin(f) < 0 or np.nanmax(f) > 1):
        raise ParameterError("gate values must lie in [0, 1]")
    mean = f.reshape(-1, f.shape[-1]).mean(axis=0)
    with np.errstate(divide="ignore"):
        log_mean = np.log(mean)
    out = np.empty_like(mean)
    never = mean >= 1.0
    instant = mean <= 0.0
    mid = ~(never | instant)
    out[never], out[instant] = np.inf, 0.0
    out[mid] = np.log(0.5) / log_mean[mid]
    return out


def _gate_dict(gates) -> dict[str, np.ndarray]:
    if hasattr(gates, "cell") and hasattr(gates, "arrays"):  # a GateTrace
        return {name: getattr(gates, name) for name in gates.sigmoid}
    if isinstance(gates, Mapping):
        return dict(gates)
    return {"gate": np.asarray(gates)}


def gate_saturation(gates, *, low: float = 0.1, high: float = 0.9) -> dict[str, dict]:
    """Share of steps each gate spends saturated (Karpathy, Johnson & Fei-Fei 2015).

    Parameters
    ----------
    gates : GateTrace, dict name -> (..., H) array, or one (..., H) array
        Gate values in [0, 1]. A GateTrace gives its sigmoid gates (LSTM i, f, o; GRU r, z);
        a 4-D (layers, B, T, H) array is pooled over layers (pass ``arr[k]`` for one layer).
    low, high : float
        A value ``< low`` is left-saturated, ``> high`` right-saturated.

    Returns
    -------
    dict name -> dict
        ``"low"`` and ``"high"``: (H,) share of steps per unit below ``low`` / above ``high``;
        ``"low_share"``, ``"high_share"``: the same over all units and steps (floats).
    """
    if not 0.0 <= low < high <= 1.0:
        raise ParameterError(f"need 0 <= low < high <= 1, got low={low}, high={high}")
    out = {}
    for name, arr in _gate_dict(gates).items():
        g = np.asarray(arr, dtype=np.float64)
        if g.ndim == 0 or g.size == 0:
            raise ParameterError(f"gate {name!r} has no values (shape {g.shape})")
        flat = g.reshape(-1, g.shape[-1])
        lo, hi = flat < low, flat > high
        out[name] = {"low": lo.mean(axis=0), "high": hi.mean(axis=0),
                     "low_share": float(lo.mean()), "high_share": float(hi.mean())}
    return out
