"""Gate pictures: per-step heatmaps under a piano roll, half-life and saturation comparisons.

The trace comes from :func:`musicgate.nn.models.trace_gates` (a ``GateTrace`` whose arrays have
shape (layers, B, T, H)). What is shown per cell:

- LSTM: input gate ``i``, forget gate ``f``, output gate ``o`` and the cell state ``c``.
- GRU: reset gate ``r``, update gate ``z`` (its keep factor, see :mod:`musicgate.analysis.gatestats`)
  and the hidden state ``h``.
- RNN: the hidden state ``h`` (it has no gates).
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Mapping

import numpy as np

from musicgate.errors import ParameterError

from musicgate.nn.cells import get_cell
from musicgate.music.notes import DRUM_PROGRAM, Notes
from musicgate.viz.plots import cell_colour, draw_notes, new_figure, save_figure



def note_steps_from_tokens(tokenizer, ids) -> np.ndarray:
    """(n, 2) token step where each decoded note starts and ends.

    A note "starts" at the step whose token completes it (the first prefix whose decoding has
    it) and lasts until the next note is completed (the last note: to the end). One linear pass
    (:meth:`~musicgate.tokens.tokenizer.Tokenizer.note_index`).
    """
    ids = np.asarray(ids).reshape(-1)
    index = tokenizer.note_index(ids) if len(ids) else np.zeros(0, np.int64)
    n = int(index[-1]) + 1 if len(index) else 0
    start = np.searchsorted(index, np.arange(n), side="left").astype(np.float64)
    end = np.r_[start[1:], len(ids)]
    return np.stack([start, np.maximum(end, start + 1)], axis=1)


def note_groups(note_index: np.ndarray) -> np.ndarray:
    """(T,) the note each token step helps write: the steps after note ``i - 1`` is complete, up to
    and including the step that completes note ``i``, belong to note ``i`` (the steps after the last
    note belong to ``n``, none)."""
    index = np.asarray(note_index, np.int64).reshape(-1)
    return np.r_[0, index[:-1] + 1] if len(index) else index


def per_note(values: np.ndarray, note_index: np.ndarray, *, how: str = "mean") -> np.ndarray:
    """Token-step values (T, H) as one row per note (n, H).

    Parameters
    ----------
    values : (T, H) array
        A gate or a state over token steps.
    note_index : (T,) int array
        From :meth:`Tokenizer.note_index` on the traced ids.
    how : {"mean", "last"}
        ``mean``: the average over the steps that write the note (gates: pitch and duration
        tokens averaged, so no stripes); ``last``: the value after the note is complete (states:
        what is in memory once the note is read).
    """
    values = np.asarray(values)
    groups = note_groups(note_index)
    if len(groups) != len(values):
        raise ParameterError(f"note_index has {len(groups)} steps for {len(values)} traced steps")
    n = int(np.asarray(note_index)[-1]) + 1 if len(groups) else 0
    keep = groups < n
    g, v = groups[keep], values[keep]
    if not n:
        return np.zeros((0,) + values.shape[1:], values.dtype)
    starts = np.searchsorted(g, np.arange(n), side="left")
    if how == "last":
        return v[np.r_[starts[1:], len(g)] - 1]
    if how != "mean":
        raise ParameterError(f"how must be 'mean' or 'last', not {how!r}")
    sums = np.add.reduceat(v.astype(np.float64), starts, axis=0)
    return (sums / np.diff(np.r_[starts, len(g)])[:, None]).astype(values.dtype)


def memory_value(cell: str) -> str:
    """The traced value that is the cell's memory (its last panel that is not a gate: the LSTM's
    cell state, ``h`` for the others), read from the cell registry."""
    spec = get_cell(cell)
    states = [p for p in spec.panels if p not in spec.sigmoid_gates]
    return states[-1] if states else "h"


def _steps_by_time(notes: Notes, steps: int) -> np.ndarray:
    end = max(notes.end, 1e-9)
    return np.stack([notes.onset, notes.onset + notes.duration], axis=1) / end * steps - 0.5


def _choose_units(trace, layer: int, sample: int, max_units: int) -> np.ndarray:
    """Units to show: the ``max_units`` most active over time, sorted by mean keep factor."""
    ref = getattr(trace, trace.keep or "h")[layer, sample]  # (T, H)
    H = ref.shape[-1]
    units = np.arange(H)
    if H > max_units:
        units = np.sort(np.argsort(-ref.std(axis=0), kind="stable")[:max_units])
    if trace.keep is not None:
        units = units[np.argsort(ref[:, units].mean(axis=0), kind="stable")]
    return units


def gate_view(trace, notes: Notes, *, path: "str | os.PathLike", layer: int = -1, sample: int = 0,
              note_steps: np.ndarray | None = None, tokens: list[str] | None = None,
              key=None, max_units: int = 48, title: str | None = None, width: float = 11.0) -> Path:
    """Per-step heatmaps of the gates, aligned under a piano roll; saved as a PNG.

    Parameters
    ----------
    trace : GateTrace
        From ``trace_gates(model, ids)``; arrays (layers, B, T, H).
    notes : Notes
        The melody the ids encode (drawn on the token-step axis).
    path : path
        Where the PNG goes.
    layer, sample : int
        Which layer and which batch row to show.
    note_steps : (n, 2) float array, optional
        Start and end token step of each note (see :func:`note_steps_from_tokens`). Without it,
        notes are spread over the T steps in proportion to their onsets in beats.
    tokens : list of str, optional
        Token names, shown as x tick labels when T <= 64.
    key : Key or str, optional
        Marks out-of-signature notes in the roll.
    max_units : int
        At most this many units (the most active over time); rows are sorted by mean keep
        factor (forget gate ``f`` / update gate ``z``) so forgetful units sit at the bottom.

    Returns
    -------
    Path
        The PNG, ``width`` x (1.8 + 1.35 per panel) inches at 100 dpi.
    """
    from musicgate.viz.plots import out_of_key_mask

    get_cell(trace.cell)  # an unknown cell is a ConfigError that names the valid ones
    layers, batch, steps, hidden = trace.h.shape
    if not -layers <= layer < layers or not 0 <= sample < batch:
        raise ParameterError(f"layer {layer} / sample {sample} out of range for a trace of shape "
                         f"{trace.h.shape} (layers, B, T, H)")
    notes = notes.select(notes.program != DRUM_PROGRAM)
    if note_steps is None:
        note_steps = _steps_by_time(notes, steps)
    note_steps = np.asarray(note_steps, dtype=np.float64).reshape(-1, 2)
    if len(note_steps) != len(notes):
        raise ParameterError(f"note_steps has {len(note_steps)} rows for {len(notes)} notes")
    units = _choose_units(trace, layer, sample, max_units)
    panels = get_cell(trace.cell).panels
    fig = new_figure(width, 1.8 + 1.35 * len(panels))
    grid = fig.add_gridspec(1 + len(panels), 2, width_ratios=(60, 1),
                            height_ratios=(1.6,) + (1.0,) * len(panels), hspace=0.12, wspace=0.02)
    roll = fig.add_subplot(grid[0, 0])
    mask = None if key is None else out_of_key_mask(notes.pitch, key)
    draw_notes(roll, note_steps[:, 0] - 0.5, note_steps[:, 1] - 0.5, notes.pitch, out_of_key=mask,
               key_name=None if key is None else str(key))
    roll.set_xlim(-0.5, steps - 0.5)
    roll.tick_params(labelbottom=False)
    if not len(notes):
        roll.text(0.5, 0.5, "no notes", transform=roll.transAxes, ha="center", va="center")
    layer_no = layer % layers
    roll.set_title(title or f"{get_cell(trace.cell).label} gates, layer {layer_no + 1} of {layers}, "
                   f"{len(units)} of {hidden} units, {steps} steps")
    for row, name in enumerate(panels, start=1):
        ax = fig.add_subplot(grid[row, 0], sharex=roll)
        data = getattr(trace, name)[layer, sample][:, units].T  # (units, T)
        if name in trace.sigmoid:
            image = ax.imshow(data, aspect="auto", interpolation="nearest", cmap="viridis",
                              vmin=0.0, vmax=1.0, origin="lower",
                              extent=(-0.5, steps - 0.5, -0.5, len(units) - 0.5))
        else:
            # Colour scale from the 99th percentile: a few large cell-state values (±50 in a
            # trained LSTM) would otherwise wash every other unit out to white.
            lim = float(np.percentile(np.abs(data), 99)) if data.size else 0.0
            lim = lim or float(np.abs(data).max()) or 1.0
            image = ax.imshow(data, aspect="auto", interpolation="nearest", cmap="RdBu_r",
                              vmin=-lim, vmax=lim, origin="lower",
                              extent=(-0.5, steps - 0.5, -0.5, len(units) - 0.5))
        ax.set_ylabel(get_cell(trace.cell).label_of(name), fontsize="small")
        ax.set_yticks([])
        fig.colorbar(image, cax=fig.add_subplot(grid[row, 1]))
        if row < len(panels):
            ax.tick_params(labelbottom=False)
        else:
            ax.set_xlabel("token step")
            if tokens is not None and steps <= 64:
                ax.set_xticks(np.arange(steps))
                ax.set_xticklabels([str(t) for t in tokens[:steps]], rotation=90, fontsize=6)
    fig.subplots_adjust(left=0.07, right=0.95, top=0.94, bottom=0.08)
    return save_figure(fig, path)


def panel_label(cell: str, name: str) -> str:
    """How a traced value is labelled in pictures, with "(keep)" on the gate that keeps memory
    (the registry's ``keep_gate``)."""
    spec = get_cell(cell)
    label = spec.label_of(name)
    return label if name != spec.keep_gate or "keep" in label else f"{label} (keep)"


def note_gate_view(trace, notes: Notes, note_index: np.ndarray, *, path: "str | os.PathLike", layer: int = -1,
                   sample: int = 0, key=None, max_units: int = 32, title: str | None = None,
                   width: float = 12.0) -> Path:
    """The gates on the note axis: the tune's notes on top (one column per note, bar lines), then one
    heatmap per gate and state with one column per note and one row per unit; saved as a PNG.

    Gates are averaged over the token steps that write each note (a note is a pitch token and a
    duration token: per token, the heatmaps would stripe); states are shown once the note is read.

    Parameters
    ----------
    trace : GateTrace
        Arrays (layers, B, T, H) over the token steps of ``note_index``.
    notes : Notes
        The decoded tune (``len(notes) == note_index[-1] + 1``).
    note_index : (T,) int array
        :meth:`~musicgate.tokens.tokenizer.Tokenizer.note_index` of the traced ids.
    key : Key or str, optional
        Marks out-of-signature notes in the roll.
    max_units : int
        At most this many units (the most active); rows sorted by mean keep factor, keepers on top.

    Returns
    -------
    Path
        The PNG, ``width`` x (2.4 + 1.25 per panel) inches at 100 dpi.
    """
    from musicgate.viz.plots import note_roll

    spec = get_cell(trace.cell)
    layers, batch, steps, hidden = trace.h.shape
    if not -layers <= layer < layers or not 0 <= sample < batch:
        raise ParameterError(f"layer {layer} / sample {sample} out of range for a trace of shape "
                             f"{trace.h.shape} (layers, B, T, H)")
    note_index = np.asarray(note_index, np.int64).reshape(-1)
    if len(note_index) != steps:
        raise ParameterError(f"note_index has {len(note_index)} steps for a trace of {steps}")
    notes = notes.select(notes.program != DRUM_PROGRAM)
    n = int(note_index[-1]) + 1 if steps else 0
    if n != len(notes):
        raise ParameterError(f"note_index counts {n} notes, the tune has {len(notes)}")
    values = {name: per_note(getattr(trace, name)[layer, sample], note_index,
                             how="mean" if name in trace.sigmoid else "last") for name in spec.panels}
    ref = values.get(trace.keep) if trace.keep in values else per_note(
        getattr(trace, trace.keep or "h")[layer, sample], note_index)
    units = np.arange(hidden)
    if hidden > max_units:
        units = np.sort(np.argsort(-ref.std(axis=0), kind="stable")[:max_units])
    if trace.keep is not None:
        units = units[np.argsort(ref[:, units].mean(axis=0), kind="stable")]
    panels = spec.panels
    fig = new_figure(width, 2.4 + 1.25 * len(panels))
    grid = fig.add_gridspec(1 + len(panels), 2, width_ratios=(70, 1),
                            height_ratios=(1.7,) + (1.0,) * len(panels), hspace=0.14, wspace=0.015)
    roll = fig.add_subplot(grid[0, 0])
    note_roll(roll, notes, key=key)
    roll.tick_params(labelbottom=False)
    roll.set_xlabel("")
    roll.set_title(title or f"{spec.label}: {len(units)} of {hidden} units, layer {layer % layers + 1} of {layers}",
                   loc="left", fontsize=12)
    from musicgate.viz.plots import bar_starts

    bars = bar_starts(notes)
    for row, name in enumerate(panels, start=1):
        ax = fig.add_subplot(grid[row, 0], sharex=roll)
        data = values[name][:, units].T  # (units, n)
        if name in trace.sigmoid:
            image = ax.imshow(data, aspect="auto", interpolation="nearest", cmap="viridis", vmin=0.0, vmax=1.0,
                              origin="lower", extent=(-0.5, n - 0.5, -0.5, len(units) - 0.5))
            cbar = fig.colorbar(image, cax=fig.add_subplot(grid[row, 1]), ticks=[0, 0.5, 1])
            cbar.ax.set_yticklabels(["0 shut", "0.5", "1 open"])
        else:
            lim = float(np.percentile(np.abs(data), 99)) if data.size else 0.0
            lim = lim or (float(np.abs(data).max()) if data.size else 0.0) or 1.0
            image = ax.imshow(data, aspect="auto", interpolation="nearest", cmap="RdBu_r", vmin=-lim, vmax=lim,
                              origin="lower", extent=(-0.5, n - 0.5, -0.5, len(units) - 0.5))
            cbar = fig.colorbar(image, cax=fig.add_subplot(grid[row, 1]), ticks=[-lim, 0, lim])
            cbar.ax.set_yticklabels([f"{-lim:.2g}", "0", f"{lim:.2g}"])
        cbar.ax.tick_params(labelsize=9)
        for b in bars:
            ax.axvline(b - 0.5, color="white", linewidth=0.6, alpha=0.7)
        ax.set_ylabel(panel_label(trace.cell, name).replace(" (keep)", "\n(keep)") + "\nunits", fontsize=10)
        ax.set_yticks([])
        if row < len(panels):
            ax.tick_params(labelbottom=False)
        else:
            ax.set_xlabel("note (white lines: bar lines)")
    fig.subplots_adjust(left=0.085, right=0.93, top=1 - 0.42 / fig.get_figheight(), bottom=0.5 / fig.get_figheight())
    return save_figure(fig, path)


def half_life_figure(half_lives: Mapping[str, np.ndarray], *, path: "str | os.PathLike",
                     title: str = "Memory half-life per unit", width: float = 7.0,
                     height: float = 4.0) -> Path:
    """The distribution of per-unit half-lives across cells, as cumulative curves; saved as PNG.

    Parameters
    ----------
    half_lives : dict label -> (H,) array
        From :func:`~musicgate.analysis.gatestats.memory_half_life` (LSTM ``f``, GRU ``z``). ``inf``
        values (never forgets) are counted at the right edge. A vanilla RNN has no gates: leave
        it out or give an empty array (it is then listed as "no gate").
    """
    fig = new_figure(width, height)
    ax = fig.add_subplot(1, 1, 1)
    finite_all = np.concatenate([np.asarray(v, float)[np.isfinite(v) & (np.asarray(v) > 0)]
                                 for v in half_lives.values()] + [np.array([1.0])])
    right = max(float(finite_all.max()) * 2.0, 10.0)
    left = max(min(float(finite_all.min()) / 2.0, 0.5), 1e-3)
    for i, (label, values) in enumerate(half_lives.items()):
        v = np.asarray(values, float).reshape(-1)
        if len(v) == 0:
            ax.plot([], [], color=cell_colour(label, i), label=f"{label}: no gate")
            continue
        x = np.sort(np.clip(np.where(np.isinf(v), right, v), left, right))
        y = np.arange(1, len(x) + 1) / len(x)
        median = float(np.median(v))
        ax.step(x, y, where="post", color=cell_colour(label, i), linewidth=1.8,
                label=f"{label}: median {median:.1f} steps, {int(np.isinf(v).sum())} never forget")
    ax.set_xscale("log")
    ax.set_xlim(left, right)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("half-life t½ = ln 0.5 / ln mean(keep gate) (token steps, log scale)")
    ax.set_ylabel("share of units with t½ ≤ x")
    ax.set_title(title)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize="small", loc="lower right")
    fig.subplots_adjust(left=0.11, right=0.97, top=0.9, bottom=0.14)
    return save_figure(fig, path)


def saturation_figure(saturation: Mapping[str, Mapping[str, Mapping]], *,
                      path: "str | os.PathLike", width_per_cell: float = 3.6,
                      height: float = 3.6) -> Path:
    """Left- vs right-saturation of every unit per gate, one panel per cell (as in Karpathy et
    al. 2015, fig. 3); saved as PNG.

    Parameters
    ----------
    saturation : dict label -> gate_saturation(...) result
        Each inner dict maps gate name -> {"low": (H,), "high": (H,), ...}.
    """
    labels = list(saturation)
    fig = new_figure(width_per_cell * max(len(labels), 1), height)
    markers = ("o", "s", "^", "D")
    for i, label in enumerate(labels):
        ax = fig.add_subplot(1, max(len(labels), 1), i + 1)
        ax.plot([0, 1], [1, 0], color="0.7", linewidth=0.8)
        for j, (gate, stats) in enumerate(saturation[label].items()):
            ax.scatter(stats["low"], stats["high"], s=12, alpha=0.7, marker=markers[j % 4],
                       label=f"{gate.replace('_', ' ')} ({stats['low_share'] + stats['high_share']:.0%})")
        ax.set_xlim(-0.02, 1.02)
        ax.set_ylim(-0.02, 1.02)
        ax.set_aspect("equal")
        ax.set_title(label)
        ax.set_xlabel("share of steps < 0.1")
        if i == 0:
            ax.set_ylabel("share of steps > 0.9")
        if saturation[label]:
            ax.legend(fontsize="x-small", loc="upper right")
        else:
            ax.text(0.5, 0.5, "no gates", ha="center", va="center", transform=ax.transAxes)
    fig.subplots_adjust(left=0.12, right=0.98, top=0.9, bottom=0.15, wspace=0.3)
    return save_figure(fig, path)


def gate_pictures(models: Mapping[str, tuple], notes: Notes, outdir: "str | os.PathLike", *,
                  max_steps: int = 256, layer: int = -1) -> dict:
    """Trace each model on one melody and write its gate view, plus half-life and saturation
    figures comparing the models.

    Parameters
    ----------
    models : dict label -> (model, tokenizer)
        Token language models (``RecurrentLM``) and the tokenizers they were trained with.
    notes : Notes
        The melody; it is encoded with each model's tokenizer and cut to ``max_steps`` tokens.
    outdir : path
        Gets ``gates_LABEL.png``, ``half_life.png`` and ``saturation.png``.

    Returns
    -------
    dict
        ``"files"``: the PNG paths; ``"cells"``: per label the cell, steps, median half-life
        (None for an RNN) and the saturated shares per gate.
    """
    from musicgate.analysis.gatestats import gate_saturation, keep_gate, memory_half_life
    from musicgate.nn.models import trace_gates

    outdir = Path(outdir)
    files, cells, half_lives, saturation = [], {}, {}, {}
    for label, (model, tokenizer) in models.items():
        ids = np.asarray(tokenizer.encode(notes))[:max_steps]
        shown = tokenizer.decode(ids)
        model.eval()
        trace = trace_gates(model, ids[None, :])
        key = notes.key or tokenizer.key_of(ids)
        files.append(note_gate_view(trace, shown, tokenizer.note_index(ids), path=outdir / f"gates_{_slug(label)}.png",
                                    layer=layer, key=key,
                                    title=f"{label}: {get_cell(trace.cell).label} gates on {len(shown)} notes"))
        keep = keep_gate(trace)
        half = memory_half_life(keep[layer]) if keep is not None else np.array([])
        half_lives[label] = half
        saturation[label] = gate_saturation({k: v[layer] for k, v in
                                             ((n, getattr(trace, n)) for n in trace.sigmoid)})
        cells[label] = {"cell": trace.cell, "steps": int(len(ids)),
                        "median_half_life": float(np.median(half)) if len(half) else None,
                        "saturation": {g: {"low": s["low_share"], "high": s["high_share"]}
                                       for g, s in saturation[label].items()}}
    files.append(half_life_figure(half_lives, path=outdir / "half_life.png"))
    files.append(saturation_figure(saturation, path=outdir / "saturation.png"))
    return {"files": files, "cells": cells}


def _slug(label: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in label) or "model"
