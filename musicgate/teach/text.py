"""The gallery's comparison of RNN, LSTM and GRU, written from measured numbers.

Every sentence is built from the numbers it quotes: orders come from sorting them, and "clearly
higher" is said only when 95% bootstrap intervals over the samples do not overlap (otherwise the
sentence says the samples cannot tell the cells apart). Nothing here is a canned claim about
which cell is better.

The input is one :class:`CellNumbers` per model.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from musicgate.errors import ConfigError
from musicgate.nn.cells import get_cell


def cell_label(cell: str) -> str:
    """How a cell is named on the page ("LSTM", "tanh RNN"); an unregistered name as it is, upper case."""
    try:
        return get_cell(cell).label
    except ConfigError:
        return cell.upper()

NLL_TIE = 0.02
"""Validation NLL differences below this (nats per note) are called "about the same"."""


@dataclass
class CellNumbers:
    """What was measured for one model.

    Attributes
    ----------
    label : model name shown on the page.
    cell : ``"rnn"``, ``"lstm"`` or ``"gru"``.
    params : parameter count (None: unknown).
    nll_per_note : validation NLL in nats per note from ``models.json`` (None: not recorded).
    in_signature : (n,) share of each sample's notes in the target key signature.
    agreement : (n,) share of each sample's windows whose estimated key is the target.
    half_lives : (H,) memory half-life per unit in token steps (empty for an RNN).
    saturation : gate name -> share of steps below 0.1 or above 0.9.
    keepers : the key-keeper read-out (:class:`~musicgate.analysis.keykeeper.KeyKeepers`), or None.
    tonic_frame : the model reads every tune as if its tonic were C (:mod:`musicgate.nn.tonic`), so the
        keys it is asked for differ to it only in their mode.
    """

    label: str
    cell: str
    params: int | None = None
    nll_per_note: float | None = None
    in_signature: np.ndarray = field(default_factory=lambda: np.zeros(0))
    agreement: np.ndarray = field(default_factory=lambda: np.zeros(0))
    half_lives: np.ndarray = field(default_factory=lambda: np.zeros(0))
    saturation: dict = field(default_factory=dict)
    keepers: object = None
    tonic_frame: bool = False

    @property
    def name(self) -> str:
        """``label (CELL)``, or just the label when it already names the cell."""
        cell = cell_label(self.cell)
        return self.label if cell.lower() in self.label.lower() else f"{self.label} ({cell})"

    @property
    def median_half_life(self) -> float | None:
        """Median half-life over units (None without gates)."""
        h = np.asarray(self.half_lives, float)
        return float(np.median(h)) if h.size else None


def mean_ci(values, *, n_boot: int = 2000, level: float = 0.95, seed: int = 0) -> tuple[float, float, float]:
    """Mean of ``values`` (NaN ignored) and a percentile-bootstrap interval: (mean, lo, hi).

    One value gives an interval of zero width around it; no values give NaNs.
    """
    v = np.asarray(values, float).reshape(-1)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return (math.nan, math.nan, math.nan)
    if v.size == 1:
        return (float(v[0]),) * 3
    rng = np.random.default_rng(seed)
    means = v[rng.integers(0, v.size, size=(n_boot, v.size))].mean(axis=1)
    a = (1.0 - level) / 2.0
    return float(v.mean()), float(np.quantile(means, a)), float(np.quantile(means, 1.0 - a))


def _pct(x: float) -> str:
    return f"{100.0 * x:.0f}%"


def _points(diff: float) -> str:
    """A difference of shares in percentage points: ``"7 percentage points"``, ``"under 1 ..."``."""
    p = 100.0 * abs(diff)
    if p < 0.5:
        return "under 1 percentage point"
    return f"{p:.0f} percentage point{'' if round(p) == 1 else 's'}"


def _steps(x: float) -> str:
    return f"{x:.1f} steps" if x < 10 else f"{x:.0f} steps"


def _join(parts: list[str]) -> str:
    if len(parts) <= 1:
        return "".join(parts)
    return ", ".join(parts[:-1]) + " and " + parts[-1]


def _rate_sentences(cells: list[CellNumbers], attr: str, what: str, explain: str) -> list[str]:
    stats = [(c, mean_ci(getattr(c, attr))) for c in cells]
    stats = [(c, s) for c, s in stats if math.isfinite(s[0])]
    if not stats:
        return []
    stats.sort(key=lambda cs: -cs[1][0])
    n = {len(np.asarray(getattr(c, attr))[np.isfinite(getattr(c, attr))]) for c, _ in stats}
    n_text = f"{n.pop()} samples each" if len(n) == 1 else "its samples"
    listing = _join([f"{c.name} {_pct(s[0])} (95% interval {_pct(s[1])}-{_pct(s[2])})" for c, s in stats])
    out = [f"{what.capitalize()} ({explain}), mean over {n_text}: {listing}."]
    pairs = [(stats[0], stats[-1])] if len(stats) >= 2 else []
    if len(stats) >= 3:
        pairs.append((stats[0], stats[1]))  # the top against the runner-up, too
    for (top, ts), (low, ls) in pairs:
        gap = _points(ts[0] - ls[0])
        if ts[1] > ls[2]:
            out.append(f"{top.name} is clearly higher than {low.name} on {what} here "
                       f"({gap}; the 95% intervals do not overlap).")
        else:
            out.append(f"On {what}, these samples do not separate {top.name} from {low.name}: "
                       f"the gap is {gap} and the 95% intervals overlap, "
                       f"so more samples are needed to tell them apart.")
    return out


def _nll_sentences(cells: list[CellNumbers]) -> list[str]:
    have = sorted((c for c in cells if c.nll_per_note is not None), key=lambda c: c.nll_per_note)
    missing = [c.name for c in cells if c.nll_per_note is None]
    out = []
    if have:
        listing = _join([f"{c.name} {c.nll_per_note:.3f}" for c in have])
        best = have[0]
        out.append(f"Validation NLL in nats per note (lower: held-out tunes surprise the model less): {listing}. "
                   f"For {best.name} that is as unsure, on average, as a choice among "
                   f"{math.exp(best.nll_per_note):.1f} equally likely notes.")
        if len(have) >= 2:
            worst = have[-1]
            gap = worst.nll_per_note - best.nll_per_note
            if gap < NLL_TIE:
                out.append(f"All {len(have)} models are within {NLL_TIE} nats per note of each other: "
                           "on likelihood they are about the same.")
            else:
                out.append(f"{best.name} has the lowest NLL, {gap:.3f} nats per note below {worst.name} "
                           f"({math.exp(gap):.2f}x less surprised per note).")
        params = [c for c in have if c.params]
        if len(params) >= 2:
            lo, hi = min(c.params for c in params), max(c.params for c in params)
            if hi <= 1.1 * lo:
                out.append(f"The models have about the same size ({lo:,} to {hi:,} parameters), "
                           "so the differences come from the cell, not from capacity.")
            else:
                out.append(f"Their sizes differ ({lo:,} to {hi:,} parameters): part of any difference "
                           "may come from capacity, not from the cell.")
    if missing:
        out.append(f"No validation NLL is recorded for {_join(missing)} (no models.json entry beside "
                   f"{'its checkpoint' if len(missing) == 1 else 'their checkpoints'}).")
    return out


def _half_life_sentences(cells: list[CellNumbers]) -> list[str]:
    gated = [c for c in cells if c.median_half_life is not None]
    plain = [c.name for c in cells if c.median_half_life is None]
    out = []
    if gated:
        parts = []
        for c in sorted(gated, key=lambda c: -c.median_half_life):
            h = np.asarray(c.half_lives, float)
            finite = h[np.isfinite(h)]
            longest = "never forgets" if np.isinf(h).any() else _steps(float(finite.max()))
            gate = get_cell(c.cell).keep_label
            parts.append(f"{c.name} {c.median_half_life:.1f} token steps (from its {gate}; "
                         f"longest-lived unit: {longest})")
        out.append("Memory half-life per unit, t½ = ln 0.5 / ln mean(keep gate), median over units while "
                   f"playing these samples: {_join(parts)}.")
        if len(gated) >= 2:
            srt = sorted(gated, key=lambda c: -c.median_half_life)
            a, b = srt[0], srt[-1]
            if b.median_half_life > 0:
                ratio = a.median_half_life / b.median_half_life
                if ratio < 1.1:
                    out.append(f"The median {a.name} unit and the median {b.name} unit hold a memory about "
                               f"equally long (within {100 * (ratio - 1):.0f}%).")
                else:
                    out.append(f"The median {a.name} unit holds a memory {ratio:.1f}x as long as the median "
                               f"{b.name} unit.")
    if plain:
        out.append(f"{_join(plain)} {'has' if len(plain) == 1 else 'have'} no gate, so no half-life: "
                   "every step rewrites the whole hidden state through tanh.")
    sat = [c for c in cells if c.saturation]
    if sat:
        parts = [f"{c.name} {_pct(float(np.mean(list(c.saturation.values()))))}" for c in
                 sorted(sat, key=lambda c: -float(np.mean(list(c.saturation.values()))))]
        out.append("Share of steps a gate is saturated, that is nearly shut (below 0.1) or nearly open (above 0.9) "
                   f"and so acting as a switch (the measure of Karpathy et al. 2015), averaged over the gates: "
                   f"{_join(parts)}.")
    return out


def _cross_sentence(cells: list[CellNumbers]) -> list[str]:
    have = [c for c in cells if c.nll_per_note is not None and np.isfinite(c.in_signature).any()]
    if len(have) < 2:
        return []
    best_nll = min(have, key=lambda c: c.nll_per_note)
    ranked = sorted(have, key=lambda c: -mean_ci(c.in_signature)[0])
    best_sig = ranked[0]
    if best_sig is best_nll:
        return [f"Here the model with the lowest NLL, {best_nll.name}, also has the highest in-signature "
                "rate on its samples."]
    return [f"The lowest NLL ({best_nll.name}) and the highest in-signature rate ({best_sig.name}) belong to "
            "different models here: a model can predict held-out tunes better and still wander from the "
            "key in its own samples (or the samples are too few to show it)."]


def comparison_sentences(cells: list[CellNumbers], *, window: int = 32) -> list[str]:
    """The comparison of the models as plain sentences, each quoting the numbers it rests on.

    Parameters
    ----------
    cells : list of CellNumbers
        One per model, in any order.
    window : int
        Notes per window of the key agreement (named in its sentence).

    Returns
    -------
    list of str
        Likelihood, in-signature rate, key agreement, memory half-life and saturation, and
        whether the likelihood ranking matches the in-key ranking; empty without models.
    """
    if not cells:
        return []
    out = _nll_sentences(cells)
    out += _rate_sentences(cells, "in_signature", "in-signature rate",
                           "share of notes whose pitch class is in the target key signature")
    out += _rate_sentences(cells, "agreement", "key agreement",
                           f"share of {window}-note windows whose estimated key is the target key")
    out += _half_life_sentences(cells)
    out += _cross_sentence(cells)
    return out


# -- plain words for the class ------------------------------------------------------------------
GATE_WORDS = {
    "input_gate": "decides which new notes to write down in the memory (1: write, 0: ignore).",
    "forget_gate": "decides which old notes to erase from the memory (1: keep them, 0: erase them).",
    "output_gate": "decides what of the memory to use now, to guess the next note (1: use, 0: hold back).",
    "cell_state": "is the memory itself: a value changes only as far as the forget and input gates let it.",
    "reset_gate": "decides how much of the old memory to look at when working out what to write next "
                  "(1: look, 0: start afresh).",
    "update_gate": "decides, unit by unit, whether to keep the old memory (1) or write the new note over it (0).",
    "h": "is what the network remembers and passes on from note to note; it also guesses the next note from it.",
}
"""What each traced value does, in words a class can follow (keyed by the registry's value names)."""


def gate_explanations(cell: str) -> list[tuple[str, str]]:
    """(picture label, plain sentence) for each panel the gate pictures draw for ``cell``, in their order.

    The gate that keeps memory (the registry's ``keep_gate``) is labelled "(keep)"; a value without
    words of its own is described by its label.
    """
    from musicgate.viz.gates import panel_label

    spec = get_cell(cell)
    out = []
    for name in spec.panels:
        label = panel_label(cell, name)
        words = GATE_WORDS.get(name)
        if words is None:
            words = ("is a gate between 0 and 1" if name in spec.sigmoid_gates else "is a state value") + \
                    (" that keeps the memory where it is near 1." if name == spec.keep_gate else ".")
        if name == "h" and not spec.gated:
            words += " Without gates, every note rewrites all of it."
        out.append((label, words))
    return out


def _tenths(x: float) -> str:
    return f"{10 * x:.1f}" if math.isfinite(x) else "?"


def _in_key_stats(cells: list[CellNumbers]) -> list:
    stats = [(c, mean_ci(c.in_signature)) for c in cells]
    stats = [(c, s) for c, s in stats if math.isfinite(s[0])]
    stats.sort(key=lambda cs: -cs[1][0])
    return stats


def plain_sentences(cells: list[CellNumbers]) -> list[str]:
    """What the measurements say, in words a class can follow (the numbers stay in the folds):
    :func:`plain_in_key` then :func:`plain_keepers`."""
    return plain_in_key(cells) + plain_keepers(cells)


def plain_in_key(cells: list[CellNumbers]) -> list[str]:
    """Who stays in key more, in tenths of notes, or that these tunes cannot tell (95% intervals overlap)."""
    out: list[str] = []
    stats = _in_key_stats(cells)
    if stats:
        listing = _join([f"the {cell_label(c.cell)} about {_tenths(s[0])}" for c, s in stats])
        out.append(f"Out of every 10 notes, {listing} are in the key they were asked for "
                   f"(measured over {len(np.asarray(stats[0][0].in_signature))} tunes each).")
        if len(stats) >= 2:
            (top, ts), (low, ls) = stats[0], stats[-1]
            if ts[1] > ls[2]:
                out.append(f"The {cell_label(top.cell)} stays in key clearly more than the {cell_label(low.cell)}.")
            else:
                out.append(f"The {cell_label(top.cell)} and the {cell_label(low.cell)} are too close to call on "
                           "these few tunes.")
    return out


def plain_keepers(cells: list[CellNumbers]) -> list[str]:
    """Which cells keep the key in a few units and which do not (from the key-keeper read-out), and,
    when the cell whose units hold memory longest is not the one that stays in key best, why that is
    no contradiction."""
    out: list[str] = []
    stats = _in_key_stats(cells)
    kept = [c for c in cells if c.keepers is not None and len(c.keepers.units)]
    if kept:
        kept.sort(key=lambda c: -c.keepers.best)
        chance = kept[0].keepers.chance
        holds = [c for c in kept if c.keepers.best >= chance + 0.3]
        fades = [c for c in kept if c.keepers.best < chance + 0.15]
        if holds:
            out.append(f"The {_join([cell_label(c.cell) for c in holds])} "
                       f"{'keeps' if len(holds) == 1 else 'keep'} the key in a few units: from one unit alone you "
                       f"can tell the key right {_join([f'{100 * c.keepers.best:.0f}%' for c in holds])} of the time "
                       f"(guessing: {100 * chance:.0f}%).")
        for c in fades:
            early = float(np.mean(c.keepers.by_note[:, :3])) if c.keepers.by_note.size else chance
            when = ("it knows the key at the first notes, then its memory of it fades" if early >= chance + 0.3 else
                    "not even at the first note: each new note rewrites its memory, so the key it was asked for "
                    "is soon gone")
            out.append(f"No unit of the {cell_label(c.cell)} tells the key much better than guessing ({when}); "
                       "it stays near the key only by following the notes it just played.")
    framed = [c for c in kept if c.tonic_frame]
    if framed:
        out.append(f"The {_join([cell_label(c.cell) for c in framed])} "
                   f"{'reads' if len(framed) == 1 else 'read'} every tune as if it were in C (the tonic is handed to "
                   "the network at every note), so to "
                   f"{'it' if len(framed) == 1 else 'them'} these keys differ only in their mode (major, minor, "
                   "mixolydian...): what these units keep is the mode.")
    gated = [c for c in cells if c.median_half_life is not None]
    if gated and stats:
        longest = max(gated, key=lambda c: c.median_half_life)
        in_key = stats[0][0]
        if longest is not in_key and cell_label(longest.cell) != cell_label(in_key.cell):
            out.append(f"The {cell_label(longest.cell)}'s units hold their memory longest, yet the "
                       f"{cell_label(in_key.cell)} stays in key more: no contradiction. Holding memory long "
                       "says nothing about what is held; staying in key needs a few units that hold the key, "
                       "and the key-keeper pictures show them.")
    return out
