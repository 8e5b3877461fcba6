"""Figures without pyplot: the one place musicgate makes a matplotlib figure and saves it.

Every picture is a ``Figure`` on the Agg canvas (the object API: no global backend switch, no
``matplotlib.use``, safe in threads and tests), saved atomically as PNG. Matplotlib is imported
on first use, so importing musicgate stays light.
"""
from __future__ import annotations

import os
from pathlib import Path

from musicgate.files import atomic_path


def new_figure(width: float = 8.0, height: float = 3.0, *, dpi: int = 100):
    """A matplotlib ``Figure`` on the Agg canvas (``width`` x ``height`` inches)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=dpi)
    FigureCanvasAgg(fig)
    return fig


def save_figure(fig, path: "str | os.PathLike", *, dpi: int | None = None) -> Path:
    """Save ``fig`` as a PNG atomically (never a half-written image); returns the path.

    The image is ``figsize * dpi`` pixels (no tight cropping, so sizes are predictable).
    """
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=dpi or fig.dpi)
    return path
