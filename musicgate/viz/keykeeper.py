"""The key-keeper picture: a tune's notes, and under them, on the same note axis, the units whose
state best tells the key (:mod:`musicgate.analysis.keykeeper`), each with its keep gate.

Each unit gets a panel of lines, one per tune: the tunes asked in the shown key in dark blue (the
shown tune thick), the tunes asked in the other keys in orange (dashed) and reddish purple (dotted)
-- colour, line style and weight differ, so they read without colour vision too. Under each panel a
one-row strip shows the unit's keep gate in the shown tune (LSTM forget gate, GRU update gate: the
registry's ``keep_gate``); a cell without one (the RNN) gets a strip that says so.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from musicgate.errors import ParameterError
from musicgate.music.notes import Notes
from musicgate.nn.cells import get_cell
from musicgate.viz.plots import bar_starts, new_figure, note_roll, save_figure

OTHER_STYLES = (("#e69f00", "--"), ("#cc79a7", ":"), ("#009e73", "-."), ("#56b4e9", (0, (5, 1, 1, 1))))
"""(colour, line style) of the tunes in each other key (Okabe-Ito colours)."""
SHOWN_COLOUR = "#0072b2"


def keykeeper_figure(notes: Notes, *, cell: str, key: str, units: np.ndarray, accuracy: np.ndarray,
                     states: dict, keep: np.ndarray | None, path: "str | os.PathLike", chance: float,
                     memory: str = "h", title: str | None = None, width: float = 12.0) -> Path:
    """Draw the key keepers of one model; saved as a PNG.

    Parameters
    ----------
    notes : Notes
        The shown tune (n notes).
    cell : registered cell name.
    key : the shown tune's key (a key of ``states``).
    units : (k,) the key-keeper units, best first.
    accuracy : (H,) held-out key read-out accuracy per unit.
    states : dict key -> (N_key, n, H) per-note states of every tune in that key; the shown tune
        is the first of ``states[key]``.
    keep : (n, H) the shown tune's keep gate per note, or None (a cell without one).
    chance : the read-out's chance level (one over the number of keys).
    memory : the traced value drawn (for the axis label).

    Returns
    -------
    Path
        The PNG, ``width`` x (2.3 + 1.55 per unit) inches at 100 dpi.
    """
    from matplotlib.lines import Line2D

    spec = get_cell(cell)
    if key not in states:
        raise ParameterError(f"the shown key {key!r} has no states; give states for it")
    n = len(notes)
    for k, s in states.items():
        if np.asarray(s).ndim != 3 or np.asarray(s).shape[1] != n:
            raise ParameterError(f"states[{k!r}] must be (tunes, {n} notes, units), got {np.asarray(s).shape}")
    units = np.asarray(units, np.int64)
    fig = new_figure(width, 2.3 + 1.55 * len(units))
    ratios = (1.5,) + (1.0, 0.28) * len(units)
    grid = fig.add_gridspec(len(ratios), 1, height_ratios=ratios, hspace=0.12)
    roll = fig.add_subplot(grid[0])
    note_roll(roll, notes, key=key)
    roll.tick_params(labelbottom=False)
    roll.set_xlabel("")
    roll.set_title(title or f"{spec.label}: the {len(units)} units that best tell the key", loc="left", fontsize=12)
    bars = bar_starts(notes)
    x = np.arange(n)
    others = [k for k in states if k != key]
    axes = [roll]
    for i, u in enumerate(units):
        ax = fig.add_subplot(grid[1 + 2 * i], sharex=roll)
        for j, k in enumerate(others):
            colour, style = OTHER_STYLES[j % len(OTHER_STYLES)]
            for s in np.asarray(states[k])[:, :, u]:
                ax.plot(x, s, color=colour, linestyle=style, linewidth=0.9, alpha=0.7)
        own = np.asarray(states[key])[:, :, u]
        for s in own[1:]:
            ax.plot(x, s, color=SHOWN_COLOUR, linewidth=0.9, alpha=0.45)
        ax.plot(x, own[0], color=SHOWN_COLOUR, linewidth=2.4)
        for b in bars:
            ax.axvline(b - 0.5, color="0.8", linewidth=0.6, zorder=0)
        ax.set_ylabel(f"unit {u}\n{spec.label_of(memory).split(' ')[-1] if memory != 'h' else 'h'}", fontsize=10)
        low, high = ax.get_ylim()
        ax.set_ylim(low, high + 0.5 * (high - low))  # room for the score above the lines
        ax.text(0.005, 0.95, f"tells the key right {accuracy[u]:.0%} of the time (chance {chance:.0%})",
                transform=ax.transAxes, ha="left", va="top", fontsize=10,
                bbox=dict(facecolor="white", edgecolor="none", alpha=0.8, pad=1.5))
        ax.tick_params(labelbottom=False, labelsize=8)
        strip = fig.add_subplot(grid[2 + 2 * i], sharex=roll)
        if keep is not None:
            strip.imshow(np.asarray(keep)[:, u][None, :], aspect="auto", cmap="viridis", vmin=0.0, vmax=1.0,
                         interpolation="nearest", extent=(-0.5, n - 0.5, -0.5, 0.5))
            gate = spec.label_of(spec.keep_gate).split(" (")[0]
            strip.set_ylabel(f"{gate.split(' ')[0]}\ngate", fontsize=8, rotation=0, ha="right", va="center")
        else:
            strip.text(0.5, 0.5, "no gate: this state is rewritten at every note", transform=strip.transAxes,
                       ha="center", va="center", fontsize=9, color="0.3")
            strip.set_facecolor("0.94")
        strip.set_yticks([])
        last = i == len(units) - 1
        strip.tick_params(labelbottom=last)
        if last:
            strip.set_xlabel("note (grey lines: bar lines)")
        axes += [ax, strip]
    handles = [Line2D([], [], color=SHOWN_COLOUR, linewidth=2.4, label=f"this tune ({key})"),
               Line2D([], [], color=SHOWN_COLOUR, linewidth=0.9, alpha=0.6, label=f"other tunes in {key}")]
    handles += [Line2D([], [], color=OTHER_STYLES[j % 4][0], linestyle=OTHER_STYLES[j % 4][1], label=f"tunes in {k}")
                for j, k in enumerate(others)]
    if keep is not None:
        from matplotlib.patches import Patch
        import matplotlib

        cmap = matplotlib.colormaps["viridis"]
        handles += [Patch(color=cmap(1.0), label="keep gate open: keeps"),
                    Patch(color=cmap(0.0), label="keep gate shut: erases")]
    fig.legend(handles=handles, loc="upper right", ncol=3 if keep is not None else 2, fontsize=9,
               bbox_to_anchor=(0.995, 0.998), frameon=False)
    fig.subplots_adjust(left=0.08, right=0.985, top=1 - 0.75 / fig.get_figheight(), bottom=0.45 / fig.get_figheight())
    return save_figure(fig, path)


__all__ = ["keykeeper_figure"]
