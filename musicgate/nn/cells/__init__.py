"""Recurrent cells, one file each; :func:`get_cell` and :func:`cell_names` read the registry.

Every module in this folder is imported on first use and registers its cell, so adding a cell is
adding a file (see :mod:`musicgate.nn.cells.base`).
"""
from __future__ import annotations

import importlib
import pkgutil

from musicgate.errors import ConfigError
from musicgate.nn.cells.base import _REGISTRY, CellSpec, fused_params, register, unregister

BUILTIN_ORDER = ("rnn", "lstm", "gru")
"""Cells listed first, in this order (the vanilla baseline, then the gated cells)."""

_loaded = False


def _load() -> None:
    global _loaded
    if not _loaded:
        for info in pkgutil.iter_modules(__path__):
            if info.name != "base":
                importlib.import_module(f"{__name__}.{info.name}")
        _loaded = True


def cell_names() -> tuple[str, ...]:
    """Names of every registered cell: rnn, lstm, gru first, then the others in name order."""
    _load()
    rest = sorted(n for n in _REGISTRY if n not in BUILTIN_ORDER)
    return tuple(n for n in BUILTIN_ORDER if n in _REGISTRY) + tuple(rest)


def get_cell(name: str) -> CellSpec:
    """The spec of cell ``name``; a :class:`~musicgate.errors.ConfigError` lists the valid names."""
    _load()
    if not isinstance(name, str) or name not in _REGISTRY:
        raise ConfigError(f"unknown cell {name!r}: use one of {', '.join(cell_names())}")
    return _REGISTRY[name]


__all__ = ["CellSpec", "cell_names", "get_cell", "register", "unregister", "fused_params"]
