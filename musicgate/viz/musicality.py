"""The musicality report's picture: each metric's generated means beside the real tunes.

One small panel per metric of :data:`~musicgate.analysis.musicality.METRICS`, one row per set of
tunes: the real tunes on top in grey, then each generated set, coloured by cell (rnn, lstm, gru)
when its name says which; a dot at the mean, a bar for its 95% interval. The real tunes' mean runs
down the panel as a dashed line over a light band: the middle 80% of the real tunes, for metrics
measured on a scale (pitch range, share of notes in the signature ...).
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from musicgate.analysis.musicality import METRICS
from musicgate.figures import new_figure, save_figure
from musicgate.viz.plots import cell_colour

REFERENCE_COLOUR = "#4d4d4d"


@dataclass(frozen=True)
class SetSummary:
    """Means and 95% intervals of one set of tunes, per metric (arrays in METRICS order).

    ``spread_lo`` and ``spread_hi`` (reference only) are the tunes' own 10th and 90th percentiles,
    NaN where a metric is a yes-or-no question.
    """

    name: str
    tunes: int
    mean: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    spread_lo: np.ndarray | None = None
    spread_hi: np.ndarray | None = None


def _limits(i: int, sets: Sequence[SetSummary], reference: SetSummary | None) -> tuple[float, float]:
    m = METRICS[i]
    if m.share and m.digits < 3:
        return -0.03, 1.03
    vals = [v for s in list(sets) + ([reference] if reference else [])
            for v in (s.lo[i], s.hi[i], s.mean[i], *((s.spread_lo[i], s.spread_hi[i]) if s.spread_lo is not None else ()))
            if not math.isnan(v)]
    if not vals:
        return 0.0, 1.0
    if m.share:  # a share near 0 or 1 (notes in the signature, onsets off the grid): zoom in
        lo, hi = min(vals), max(vals)
        span = max(hi - lo, 0.1)
        lo, hi = max(lo - 0.08 * span, 0.0 if lo > 0.5 else -0.01), min(hi + 0.08 * span, 1.0 if hi < 0.5 else 1.01)
        return (lo, max(hi, lo + 0.1)) if lo < 0.5 else (min(lo, hi - 0.1), hi)
    lo, hi = min(vals + [0.0]), max(vals)
    pad = 0.06 * (hi - lo or 1.0)
    return lo - pad, hi + pad


def plot_musicality(sets: Sequence[SetSummary], path: "str | os.PathLike", *,
                    reference: SetSummary | None = None, title: str = "", columns: int = 3) -> Path:
    """Draw the report's PNG (one panel per metric) and save it atomically; returns the path.

    Rows of each panel: the real tunes (grey) on top, then each generated set; a dot is a mean, a
    bar its 95% interval. The real tunes' mean is also a vertical line across the panel, over a
    light band for the middle 80% of the real tunes (where a metric is measured on a scale).
    """
    n = len(METRICS)
    rows = int(math.ceil(n / columns))
    shown = ([reference] if reference is not None else []) + list(sets)
    n_rows = max(len(shown), 1)
    panel_h = 0.62 + 0.24 * n_rows
    fig = new_figure(4.6 * columns, 1.0 + rows * panel_h, dpi=110)
    axes = fig.subplots(rows, columns, squeeze=False)
    ys = np.arange(n_rows)[::-1].astype(float)
    colours = [REFERENCE_COLOUR if s is reference else cell_colour(s.name, k) for k, s in enumerate(shown)]
    for i, m in enumerate(METRICS):
        ax = axes[i // columns][i % columns]
        ax.set_title(m.label, fontsize=8.5, loc="left", pad=3)
        if reference is not None and not math.isnan(reference.mean[i]):
            if reference.spread_lo is not None and not math.isnan(reference.spread_lo[i]):
                ax.axvspan(reference.spread_lo[i], reference.spread_hi[i], color="#e3e3e3", lw=0, zorder=0)
            ax.axvline(reference.mean[i], color=REFERENCE_COLOUR, lw=1.0, ls="--", zorder=1)
        for s, y, colour in zip(shown, ys, colours):
            if math.isnan(s.mean[i]):
                ax.text(0.01, y, "n/a", fontsize=7, va="center", color=colour, transform=ax.get_yaxis_transform())
                continue
            err = None if math.isnan(s.lo[i]) else np.array([[s.mean[i] - s.lo[i]], [s.hi[i] - s.mean[i]]])
            ax.errorbar([s.mean[i]], [y], xerr=err, fmt="o", color=colour, ms=4.5, capsize=2.5, lw=1.3, zorder=3)
        ax.set_xlim(*_limits(i, sets, reference))
        ax.set_ylim(-0.6, n_rows - 0.4)
        ax.set_yticks(ys)
        ax.set_yticklabels([f"{s.name} ({s.tunes})" for s in shown] if i % columns == 0 else [], fontsize=8)
        for label, colour in zip(ax.get_yticklabels(), colours):
            label.set_color(colour)
        ax.tick_params(axis="x", labelsize=7.5, pad=1.5)
        ax.tick_params(axis="y", length=0)
        ax.grid(axis="x", color="#eeeeee", lw=0.6)
        ax.set_axisbelow(True)
    for j in range(n, rows * columns):
        axes[j // columns][j % columns].set_visible(False)
    names = ", ".join(s.name for s in sets)
    room = int(fig.get_figwidth() * 72 / (11 * 0.62)) - len("Musicality: ")   # characters of 11-point text
    if len(names) > room:
        names = names[:room - 1].rsplit(", ", 1)[0] + ", ..."
    fig.suptitle(title or f"Musicality: {names}", fontsize=11, x=0.01, y=1 - 0.08 / fig.get_figheight(),
                 ha="left", va="top")
    note = "dots: means over tunes; bars: bootstrap 95% intervals"
    if reference is not None:
        note += (f"; dashed line: mean of the {reference.tunes} real tunes; light band: the middle 80% "
                 "of the real tunes")
    fig.text(0.01, 1 - 0.34 / fig.get_figheight(), note, fontsize=8, color="#555555", va="top")
    fig.subplots_adjust(left=_left_margin(fig, axes[0][0]), right=0.985, top=1 - 0.85 / fig.get_figheight(),
                        bottom=0.3 / fig.get_figheight(), hspace=0.62 / (0.24 * n_rows + 0.1), wspace=0.1)
    return save_figure(fig, path)


def _left_margin(fig, ax) -> float:
    """The share of the figure's width left of the panels: room for the widest set name (at least 0.1)."""
    renderer = fig.canvas.get_renderer()
    widest = max((t.get_window_extent(renderer).width for t in ax.get_yticklabels()), default=0.0)
    return min(max(0.1, (widest + 12 + 4) / (fig.get_figwidth() * fig.dpi)), 0.45)  # label, tick pad, a margin
