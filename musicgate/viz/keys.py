"""The picture of one analysed piece: piano roll with out-of-key notes over its windowed key strip."""
from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np

from musicgate.analysis.analyze import KeyAnalysis
from musicgate.viz.plots import key_strip, new_figure, piano_roll, save_figure


def plot_analysis(res: KeyAnalysis, path: "str | os.PathLike") -> Path:
    """Piano roll (out-of-key notes marked) over the windowed key strip, on one beat axis; PNG."""
    notes = res.notes
    fig = new_figure(11, 5)
    ax, strip = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [4, 1]})
    title = f"{res.name or 'piece'}: {res.key.name if res.key else 'no key'}"
    if res.target is not None and res.target != res.key:
        title += f" (target {res.target.name})"
    if not math.isnan(res.in_signature.by_count):
        title += f", in signature {res.in_signature.by_count:.0%} of notes"
    if len(notes):
        piano_roll(ax, notes, key=res.target, title=title)
    else:
        ax.set_title(title, fontsize=10)
        ax.text(0.5, 0.5, "no notes", ha="center", va="center", transform=ax.transAxes)
    w = res.windows
    valid = np.asarray(w.valid, bool) & (np.asarray(w.start) < len(notes))
    if valid.any() and len(notes):
        times = notes.onset[np.asarray(w.start)[valid]]
        keep = np.r_[True, np.diff(times) > 0]  # windows that start on the same beat: the first
        key_strip(strip, times[keep], np.asarray(w.key)[valid][keep], np.asarray(w.correlation)[valid][keep],
                  target=res.target)
    else:
        strip.text(0.5, 0.5, "no key windows", ha="center", va="center", transform=strip.transAxes)
    strip.set_xlabel("beats")
    fig.subplots_adjust(left=0.07, right=0.84, top=0.93, bottom=0.1, hspace=0.25)
    return save_figure(fig, path)
