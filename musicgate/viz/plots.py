"""Pictures for listening and teaching: piano rolls, key strips, retention curves.

Everything draws on a given matplotlib ``Axes`` or builds its own ``Figure`` (the object API with
the Agg canvas: no pyplot, no global backend switch, safe in threads and tests). Figures are
saved atomically as PNG with :func:`save_figure`. Gate pictures are in :mod:`musicgate.viz.gates`.
"""
from __future__ import annotations

import colorsys
from typing import Mapping, Sequence

import numpy as np

from musicgate.errors import ParameterError

from musicgate.figures import new_figure, save_figure  # noqa: F401  (the figure helpers, for viz callers)
from musicgate.music.keys import MAJOR_MINOR_KEYS, Key, key_index, parse_key, to_major_minor
from musicgate.music.notes import DRUM_PROGRAM, Notes

IN_KEY_COLOUR = "#3b6fb6"
OUT_OF_KEY_COLOUR = "#e4572e"


LINE_STYLES = ("-", "--", ":", "-.")


def line_styles(labels: Sequence[str]) -> list[tuple[str, str]]:
    """(colour, line style) per label: a cell's colour, and a darker shade of it with another dash
    pattern each time a colour comes again (``gru`` and ``gru-medley`` stay apart in a noisy panel,
    where dashes alone blur)."""
    seen: dict[str, int] = {}
    out = []
    for i, label in enumerate(labels):
        colour = cell_colour(label, i)
        k = seen.get(colour, 0)
        out.append((_darker(colour, min(0.3 * k, 0.6)), LINE_STYLES[k % len(LINE_STYLES)]))
        seen[colour] = k + 1
    return out


def _darker(colour: str, amount: float) -> str:
    """``#rrggbb`` mixed with black by ``amount`` (0: unchanged)."""
    rgb = [int(colour[j:j + 2], 16) for j in (1, 3, 5)]
    return "#" + "".join(f"{round(c * (1 - amount)):02x}" for c in rgb)


def cell_colour(label: str, fallback_index: int = 0) -> str:
    """The colour of the cell named in ``label`` ("lstm", "GRU 256" ...), else a tab10 colour."""
    from musicgate.nn.cells import cell_names, get_cell

    low = label.lower()
    for cell in sorted(cell_names(), key=len, reverse=True):  # longest first: "rnn" is inside "mingru"...
        if cell in low:
            return get_cell(cell).colour
    tab10 = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
             "#7f7f7f", "#bcbd22", "#17becf")
    return tab10[fallback_index % len(tab10)]


# -- piano roll --------------------------------------------------------------------------------
def bar_length(notes: Notes) -> float:
    """Beats per bar from the notes' first meter (4/4 when there is none)."""
    meter = notes.meter or (4, 4)
    return meter[0] * 4.0 / meter[1]


def draw_notes(ax, start: np.ndarray, end: np.ndarray, pitch: np.ndarray, *,
               out_of_key: np.ndarray | None = None, key_name: str | None = None) -> None:
    """Note rectangles from ``start`` to ``end`` on any x unit (beats, seconds, token steps).

    ``out_of_key`` (bool per note) marks notes outside the key in :data:`OUT_OF_KEY_COLOUR`
    and adds a legend naming ``key_name``.
    """
    from matplotlib.collections import PolyCollection
    from matplotlib.patches import Patch

    start, end = np.asarray(start, float), np.asarray(end, float)
    pitch = np.asarray(pitch, float)
    width = np.maximum(end - start, 1e-3)
    x0, x1, y0, y1 = start, start + width, pitch - 0.4, pitch + 0.4
    verts = np.stack([np.stack([x0, y0], 1), np.stack([x1, y0], 1),
                      np.stack([x1, y1], 1), np.stack([x0, y1], 1)], axis=1)
    bad = np.zeros(len(pitch), bool) if out_of_key is None else np.asarray(out_of_key, bool)
    colours = np.where(bad, OUT_OF_KEY_COLOUR, IN_KEY_COLOUR)
    ax.add_collection(PolyCollection(verts, facecolors=colours, edgecolors="black", linewidths=0.3))
    if len(pitch):
        ax.set_ylim(pitch.min() - 1.5, pitch.max() + 1.5)
        ax.set_xlim(min(0.0, float(start.min())), float(x1.max()))
        pitch_ticks(ax, int(pitch.min()), int(pitch.max()))
    if out_of_key is not None:
        n_bad = int(bad.sum())
        ax.legend(handles=[Patch(color=IN_KEY_COLOUR, label=f"in {key_name} signature"),
                           Patch(color=OUT_OF_KEY_COLOUR, label=f"outside it ({n_bad} of {len(bad)})")],
                  loc="upper right", fontsize="small", framealpha=0.85)
    ax.set_ylabel("pitch")


_NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")


def pitch_ticks(ax, low: int, high: int) -> None:
    """Label the y axis with note names (C4 = MIDI 60) at every C, and at every G when the range is
    under two octaves, instead of MIDI numbers."""
    classes = (0, 7) if high - low < 24 else (0,)
    ticks = [p for p in range(low - 1, high + 2) if p % 12 in classes]
    ax.set_yticks(ticks, [f"{_NAMES[p % 12]}{p // 12 - 1}" for p in ticks])


def out_of_key_mask(pitch: np.ndarray, key: "Key | str") -> np.ndarray:
    """(n,) bool: pitches whose pitch class is not in ``key.pitch_classes``."""
    pcs = np.array(sorted(parse_key(key).pitch_classes))
    return ~np.isin(np.asarray(pitch) % 12, pcs)


MAX_BAR_LINES = 1000
"""Bar lines are drawn only when there are at most this many bars."""


def piano_roll(ax, notes: Notes, *, key: "Key | str | None" = None, bar_beats: float | None = None,
               title: str | None = None):
    """Draw ``notes`` as rectangles over beats, with bar lines.

    Parameters
    ----------
    ax : matplotlib Axes
    notes : Notes
        Drums are left out (they have no pitch class).
    key : Key or str, optional
        Target key: notes whose pitch class is outside ``key.pitch_classes`` are drawn in
        :data:`OUT_OF_KEY_COLOUR`, with a legend.
    bar_beats : float, optional
        Beats per bar (default: from the notes' meter, 4/4 without one).

    Returns
    -------
    ax
    """
    notes = notes.select(notes.program != DRUM_PROGRAM)
    bar = bar_length(notes) if bar_beats is None else float(bar_beats)
    if bar <= 0:
        raise ParameterError(f"bar_beats must be positive, got {bar_beats}")
    target = None if key is None else parse_key(key)
    mask = None if target is None else out_of_key_mask(notes.pitch, target)
    draw_notes(ax, notes.onset, notes.onset + notes.duration, notes.pitch, out_of_key=mask,
               key_name=None if target is None else target.name)
    end = max(notes.end, bar)
    if end / bar <= MAX_BAR_LINES:  # beyond that they would be a grey wash (and cost minutes)
        for b in np.arange(0.0, end + 1e-9, bar):
            ax.axvline(b, color="0.55", linewidth=0.6, zorder=0)
    ax.set_xlim(0.0, end)
    if not len(notes):
        ax.set_ylim(59, 73)
        ax.text(0.5, 0.5, "no notes", transform=ax.transAxes, ha="center", va="center", color="0.4")
    ax.set_xlabel("beat (bar lines every %g beats)" % bar)
    if title is not None:
        ax.set_title(title)
    return ax


def bar_starts(notes: Notes) -> np.ndarray:
    """Indices of the notes that begin a bar (after the first bar): where bar lines go on a note axis.

    The bar lines are the notes' own (``notes.bars``) when they have them, else every bar of the
    first meter from beat 0 (4/4 without one). A bar line falls before the first note that starts
    at or after it.
    """
    notes = notes.select(notes.program != DRUM_PROGRAM)
    if not len(notes):
        return np.zeros(0, np.int64)
    if notes.bars:
        lines = np.array(sorted({float(b) for b, _ in notes.bars}))
    else:
        bar = bar_length(notes)
        lines = np.arange(bar, notes.end + 1e-9, bar) if notes.end / bar <= 100 * MAX_BAR_LINES else np.zeros(0)
    index = np.searchsorted(notes.onset, lines - 1e-6, side="left")
    return np.unique(index[(index > 0) & (index < len(notes))])


def note_roll(ax, notes: Notes, *, key: "Key | str | None" = None, title: str | None = None):
    """Draw ``notes`` one column per note (x = note number from 0), with bar lines before the notes
    that begin a bar: the note axis the gate pictures share.

    Parameters
    ----------
    ax : matplotlib Axes
    notes : Notes
        Drums are left out.
    key : Key or str, optional
        Notes outside its signature are drawn in :data:`OUT_OF_KEY_COLOUR`, with a legend.

    Returns
    -------
    ax
    """
    notes = notes.select(notes.program != DRUM_PROGRAM)
    n = len(notes)
    target = None if key is None else parse_key(key)
    mask = None if target is None else out_of_key_mask(notes.pitch, target)
    x = np.arange(n, dtype=float)
    draw_notes(ax, x - 0.45, x + 0.45, notes.pitch, out_of_key=mask,
               key_name=None if target is None else target.name)
    legend = ax.get_legend()
    if legend is not None:  # above the notes, right of the title: it hides no note
        handles = legend.legend_handles if hasattr(legend, "legend_handles") else legend.legendHandles
        labels = [t.get_text() for t in legend.get_texts()]
        legend.remove()
        ax.legend(handles, labels, loc="lower right", bbox_to_anchor=(1.0, 1.0), ncol=2, fontsize=9,
                  frameon=False, borderaxespad=0.1)
    for b in bar_starts(notes):
        ax.axvline(b - 0.5, color="0.55", linewidth=0.7, zorder=0)
    ax.set_xlim(-0.5, max(n, 1) - 0.5)
    if not n:
        ax.set_ylim(59, 73)
        ax.text(0.5, 0.5, "no notes", transform=ax.transAxes, ha="center", va="center", color="0.4")
    ax.set_xlabel("note (grey lines: bar lines)")
    ax.set_ylabel("pitch")
    if title is not None:
        ax.set_title(title, loc="left")
    return ax


# -- key strip ---------------------------------------------------------------------------------
def key_colour(index: int) -> tuple[float, float, float]:
    """RGB colour of key ``index`` (0-11 major, 12-23 minor).

    Hue follows the tonic around the circle of fifths, so related keys look alike; minor keys
    are darker than major ones.
    """
    tonic, minor = int(index) % 12, int(index) >= 12
    hue = ((tonic * 7) % 12) / 12.0
    return colorsys.hls_to_rgb(hue, 0.38 if minor else 0.62, 0.75)


RELATION_COLOURS = {0: "#0072b2", 1: "#f5c26b", 2: "#e8e8e8", 3: "#bdbdbd"}
"""Key-strip colours by relation to the target key (Okabe-Ito blue and orange): the target dark blue,
a neighbour key light orange (hatched), a farther key pale grey, no estimate mid grey."""


def _relation(k: int, target: int) -> int:
    """0: the target key; 1: a neighbour (signature at most one sharp or flat away); 2: farther; 3: none."""
    if k < 0:
        return 3
    if k == target:
        return 0
    sig = lambda i: ((i % 12) + (3 if i >= 12 else 0)) * 7 % 12  # noqa: E731  sharps of the relative major
    d = abs(sig(k) - sig(target)) % 12
    return 1 if min(d, 12 - d) <= 1 else 2


def _target_index(target: "Key | str | int | None") -> int | None:
    if target is None:
        return None
    if isinstance(target, (int, np.integer)):
        if not 0 <= int(target) < 24:
            raise ParameterError(f"target key index must be in 0..23, got {target}")
        return int(target)
    return key_index(to_major_minor(target))


def key_strip(ax, times: np.ndarray, key_index: np.ndarray, confidence: np.ndarray, *,
              target: "Key | str | int | None" = None, label_runs: bool = True, end: float | None = None):
    """The windowed key estimate as a coloured strip, with its confidence.

    Parameters
    ----------
    ax : matplotlib Axes
    times : (W,) float array
        Start of each window (beats, notes or steps; increasing). Window ``i`` is drawn over
        ``[times[i], times[i + 1])``; the last one to ``end``, or as wide as the one before.
    key_index : (W,) int array
        Estimated key per window: 0-11 C..B major, 12-23 C..B minor
        (:data:`~musicgate.music.keys.MAJOR_MINOR_KEYS`); -1 for a window with no estimate (grey).
    confidence : (W,) float array
        Confidence (e.g. the profile correlation). Clipped to [0, 1] it sets each window's
        opacity, and it is drawn as a black line.
    target : Key, str or int, optional
        The intended key (modes map to major/minor). With it, windows are coloured by their
        relation to it (:data:`RELATION_COLOURS`: the target dark blue, a neighbour key light and
        hatched, a farther key pale; lightness and hatching, not hue alone, tell them apart), run
        labels still name each key, and windows that agree get a dark band under the strip with the
        share that agrees in the legend. Without it, each key has its own colour
        (:func:`key_colour`).

    The legend sits right of the axes: leave it about 2 inches of figure width
    (``fig.subplots_adjust(right=...)``).

    Returns
    -------
    ax
    """
    from matplotlib.collections import PolyCollection
    from matplotlib.patches import Patch

    times = np.asarray(times, float).reshape(-1)
    keys = np.asarray(key_index, np.int64).reshape(-1)
    conf = np.asarray(confidence, float).reshape(-1)
    if not (len(times) == len(keys) == len(conf)):
        raise ParameterError(f"times, key_index and confidence must have one value per window, got "
                         f"{len(times)}, {len(keys)} and {len(conf)}")
    if len(times) and np.any(np.diff(times) <= 0):
        raise ParameterError("times must increase")
    if len(times) == 0:
        ax.text(0.5, 0.5, "no windows", transform=ax.transAxes, ha="center", va="center")
        ax.set_yticks([])
        return ax
    step = np.diff(times)
    last = step[-1] if len(step) else 1.0
    if end is not None and end <= times[-1]:
        raise ParameterError(f"end ({end}) must come after the last window's start ({times[-1]})")
    right = np.r_[times[1:], times[-1] + last if end is None else end]
    alpha = np.clip(np.nan_to_num(conf, nan=0.0), 0.0, 1.0) * 0.8 + 0.2
    tgt = _target_index(target)
    verts = [[(a, 0), (b, 0), (b, 1), (a, 1)] for a, b in zip(times, right)]
    if tgt is None:
        colours = [(*key_colour(k), a) if k >= 0 else (0.85, 0.85, 0.85, 1.0) for k, a in zip(keys, alpha)]
        ax.add_collection(PolyCollection(verts, facecolors=colours, edgecolors="none"))
    else:  # by how far each estimate is from the target: dark, light and hatched, pale (not by hue alone)
        relation = np.array([_relation(k, tgt) for k in keys.tolist()], np.int64)
        colours = [RELATION_COLOURS[r] for r in relation]
        ax.add_collection(PolyCollection(verts, facecolors=colours, edgecolors="none"))
        hatched = [v for v, r in zip(verts, relation) if r == 1]
    ax.plot((times + right) / 2, np.clip(conf, 0, 1), color="black", linewidth=1.0,
            label="confidence")
    handles = []
    bottom = 0.0
    if tgt is not None:
        agree = keys == tgt
        verts = [[(a, -0.18), (b, -0.18), (b, -0.04), (a, -0.04)]
                 for a, b, ok in zip(times, right, agree) if ok]
        ax.add_collection(PolyCollection(verts, facecolors=RELATION_COLOURS[0], edgecolors="none"))
        share = agree[keys >= 0].mean() if (keys >= 0).any() else 0.0
        heard = MAJOR_MINOR_KEYS[tgt].name
        asked = parse_key(target).name if isinstance(target, str) else getattr(target, "name", heard)
        named = heard if asked == heard else f"{asked}, heard as {heard}"  # a mode counts as major/minor
        handles.append(Patch(color=RELATION_COLOURS[0], label=f"target {named}: {share:.0%} agree"))
        if hatched:  # after the agreement band, so collections stay (windows, band, ...)
            ax.add_collection(PolyCollection(hatched, facecolors="none", edgecolors="#7a5200", hatch="///",
                                             linewidths=0))
        handles.append(Patch(facecolor=RELATION_COLOURS[1], edgecolor="#7a5200", hatch="///",
                             label="a neighbour key (one sharp or flat away)"))
        handles.append(Patch(color=RELATION_COLOURS[2], label="a farther key"))
        bottom = -0.2
    if label_runs:
        span = right[-1] - times[0]
        change = np.r_[0, np.flatnonzero(np.diff(keys)) + 1, len(keys)]
        for a, b in zip(change[:-1], change[1:]):
            k = keys[a]
            if k >= 0 and (right[b - 1] - times[a]) > 0.06 * span:
                dark = tgt is not None and k == tgt  # white on the target's dark blue
                ax.text((times[a] + right[b - 1]) / 2, 0.5, MAJOR_MINOR_KEYS[k].name,
                        ha="center", va="center", fontsize="small", color="white" if dark else "black",
                        fontweight="bold" if dark else "normal")
    if tgt is None:
        shown = sorted(set(keys[keys >= 0].tolist()), key=lambda k: -np.sum(keys == k))[:6]
        handles += [Patch(color=key_colour(k), label=MAJOR_MINOR_KEYS[k].name) for k in shown]
    from matplotlib.lines import Line2D

    handles.append(Line2D([], [], color="black", label="confidence"))
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.05), fontsize="x-small",
              frameon=False, labelspacing=0.25)
    ax.set_xlim(times[0], right[-1])
    ax.set_ylim(bottom, 1.05)
    ax.set_yticks([0, 0.5, 1])
    ax.set_ylabel("confidence")
    return ax


# -- retention curves --------------------------------------------------------------------------
def retention_curves(ax, positions: np.ndarray,
                     curves: Mapping[str, Sequence[np.ndarray]], *,
                     ceiling: "float | np.ndarray | None" = None, ylabel: str,
                     xlabel: str = "position (notes)", ceiling_label: str = "real data"):
    """Curves with 95% confidence bands and the real-data ceiling as a dashed line.

    Parameters
    ----------
    ax : matplotlib Axes
    positions : (P,) float array
        x values shared by all curves.
    curves : dict label -> (mean, lo, hi)
        Each a (P,) array; ``lo`` and ``hi`` bound the 95% band (NaN leaves a gap). A label
        naming a cell ("lstm", "GRU") gets that cell's colour.
    ceiling : float or (P,) array, optional
        The value on real data, drawn dashed.
    ylabel : str

    Returns
    -------
    ax
    """
    positions = np.asarray(positions, float).reshape(-1)
    styles = line_styles(list(curves))
    for i, (label, curve) in enumerate(curves.items()):
        if len(curve) != 3:
            raise ParameterError(f"curve {label!r} must be (mean, lo, hi), got {len(curve)} arrays")
        mean, lo, hi = (np.asarray(c, float).reshape(-1) for c in curve)
        if not (len(mean) == len(lo) == len(hi) == len(positions)):
            raise ParameterError(f"curve {label!r} needs {len(positions)} values in mean, lo and hi, "
                             f"got {len(mean)}, {len(lo)} and {len(hi)}")
        colour, style = styles[i]
        ax.fill_between(positions, lo, hi, color=colour, alpha=0.22, linewidth=0)
        ax.plot(positions, mean, color=colour, linestyle=style, linewidth=1.8, label=f"{label} (95% CI band)")
    if ceiling is not None:
        ceil = np.broadcast_to(np.asarray(ceiling, float), positions.shape)
        ax.plot(positions, ceil, color="black", linestyle="--", linewidth=1.2, label=ceiling_label)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(True, alpha=0.3)
    if curves or ceiling is not None:
        ax.legend(fontsize="small")
    return ax
