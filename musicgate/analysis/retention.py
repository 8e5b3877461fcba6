"""Key retention: how long a note sequence stays in a target key, measured per position.

Pure functions over padded note arrays (numpy, vectorized over sequences and positions):

* :func:`in_signature_matrix` / :func:`windowed_in_signature`: is note ``i`` in the target key's
  signature, and the share of in-signature notes in the window of ``W`` notes ending at each
  position;
* :func:`windowed_agreement`: the key of the window of ``W`` notes ending at each position
  (:func:`~musicgate.analysis.keyfind.windowed_keys_batch`, duration-weighted), compared with the target
  key: exact agreement (1/0) and the MIREX score;
* :func:`bootstrap_mean_ci`: per-position means with percentile bootstrap 95% confidence
  intervals, resampling whole sequences (seeded; one matrix product per bootstrap batch);
* :func:`drift_times`, :func:`kaplan_meier`, :func:`km_median`: time to drift (the end of the
  first window whose key is not the target) as a survival curve, censored at the sequence end;
* :func:`measure_notes` / :func:`measure_midi`: all of the above for one piece (NaN and a
  warning for a piece without notes).

Position ``p`` (1-based, in notes) of a windowed measure is the window of notes ``p - W + 1 .. p``
(column ``p - W`` of the ``(B, L - W + 1)`` arrays). The experiment itself (sampling, the real-data
ceiling, the report) is :func:`run_retention` in :mod:`musicgate.experiments.retention_run`.
"""
from __future__ import annotations

import math
import os
import warnings
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from musicgate.errors import ParameterError

from musicgate.analysis.keyfind import windowed_keys_batch
from musicgate.music.keys import DEFAULT_PROFILE, MIREX_TABLE, Key, key_index, parse_key, profile_name, to_major_minor
from musicgate.music.notes import Notes


# -- padded batches ----------------------------------------------------------------------------
def pad_notes(notes: Sequence[Notes], *, length: int | None = None) -> tuple[np.ndarray, ...]:
    """Pad note sequences into arrays.

    Parameters
    ----------
    notes : list of Notes (B of them)
    length : int, optional
        Keep at most this many notes of each (default: the longest).

    Returns
    -------
    pitch : (B, L) int64 array, -1 after each sequence's end
    duration : (B, L) float64 array, 0 after the end
    lengths : (B,) int64 array
    """
    lens = np.array([len(n) for n in notes], np.int64)
    if length is not None:
        lens = np.minimum(lens, int(length))
    width = int(lens.max(initial=0)) if length is None else int(length)
    pitch = np.full((len(notes), width), -1, np.int64)
    duration = np.zeros((len(notes), width))
    for i, (n, k) in enumerate(zip(notes, lens)):
        pitch[i, :k] = n.pitch[:k]
        duration[i, :k] = n.duration[:k]
    return pitch, duration, lens


def _valid_mask(lengths: np.ndarray, width: int) -> np.ndarray:
    return np.arange(width)[None, :] < np.asarray(lengths)[:, None]


def target_indices(targets: Sequence["Key | str"]) -> np.ndarray:
    """(B,) index into MAJOR_MINOR_KEYS of each target (modes mapped with ``to_major_minor``)."""
    return np.array([key_index(to_major_minor(parse_key(k))) for k in targets], np.int64)


# -- in-signature ------------------------------------------------------------------------------
def in_signature_matrix(pitch: np.ndarray, lengths: np.ndarray, targets: Sequence["Key | str"]) -> np.ndarray:
    """1.0 where note ``i`` of sequence ``b`` is in ``targets[b]``'s signature, 0.0 where not.

    Parameters
    ----------
    pitch : (B, L) int array
    lengths : (B,) int array
    targets : B keys (modal keys use their own signature: A dorian's is G major's)

    Returns
    -------
    (B, L) float array, NaN after each sequence's end.
    """
    pitch = np.asarray(pitch)
    if len(targets) != pitch.shape[0]:
        raise ParameterError(f"{len(targets)} target keys for {pitch.shape[0]} sequences")
    table = np.zeros((pitch.shape[0], 12), bool)
    for b, k in enumerate(targets):
        table[b, list(parse_key(k).pitch_classes)] = True
    hit = np.take_along_axis(table, np.where(pitch >= 0, pitch, 0) % 12, axis=1).astype(np.float64)
    hit[~_valid_mask(lengths, pitch.shape[1])] = np.nan
    return hit


def windowed_in_signature(in_sig: np.ndarray, lengths: np.ndarray, window: int) -> np.ndarray:
    """Share of in-signature notes in each window of ``window`` notes.

    Parameters
    ----------
    in_sig : (B, L) float array from :func:`in_signature_matrix`
    lengths : (B,) int array
    window : int

    Returns
    -------
    (B, L - window + 1) float array; column ``j`` is notes ``j .. j + window - 1`` (position
    ``j + window``); NaN where the window runs past the sequence's end.
    """
    b, width = in_sig.shape
    n_win = max(width - window + 1, 0)
    cs = np.zeros((b, width + 1))
    np.cumsum(np.nan_to_num(in_sig, nan=0.0), axis=1, out=cs[:, 1:])
    out = (cs[:, window:window + n_win] - cs[:, :n_win]) / window
    ends = np.arange(n_win)[None, :] + window
    out[ends > np.asarray(lengths)[:, None]] = np.nan
    return out


# -- windowed key agreement --------------------------------------------------------------------
@dataclass(frozen=True)
class Agreement:
    """Windowed key estimates against the targets; (B, L - W + 1) arrays, NaN where no window.

    Attributes
    ----------
    key : int array, the estimated key index (-1 where no window)
    exact : float array, 1.0 where the window's key is the target, else 0.0
    mirex : float array, the MIREX score of the window's key against the target
    window : int
    """

    key: np.ndarray
    exact: np.ndarray
    mirex: np.ndarray
    window: int


def windowed_agreement(pitch: np.ndarray, duration: np.ndarray | None, lengths: np.ndarray,
                       targets: Sequence["Key | str"], *, window: int,
                       profile: str = DEFAULT_PROFILE) -> Agreement:
    """Key of every full window of ``window`` notes (stride 1) against each sequence's target.

    Parameters
    ----------
    pitch : (B, L) int array, padded with -1
    duration : (B, L) float array or None (None: each note counts once)
    lengths : (B,) int array
    targets : B keys (a modal target counts as the major or minor key with its third)
    window : int
    profile : str, a name from :data:`~musicgate.music.keys.PROFILE_NAMES`

    Returns
    -------
    Agreement
        Arrays of shape (B, L - window + 1); windows shorter than ``window`` (sequences shorter
        than one window) are NaN / -1.
    """
    name = profile_name(profile)
    pitch = np.asarray(pitch)
    b, width = pitch.shape
    tgt = target_indices(targets)
    n_win = max(width - window + 1, 0)
    key = np.full((b, n_win), -1, np.int64)
    if b and n_win and np.asarray(lengths).max(initial=0) >= window:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            wk = windowed_keys_batch(pitch, duration, lengths, window=window, stride=1, profile=name)
        full = wk.valid & (wk.end - wk.start == window)
        cols = min(wk.key.shape[1], n_win)
        key[:, :cols] = np.where(full[:, :cols], wk.key[:, :cols], -1)
    ok = key >= 0
    exact = np.where(ok, (key == tgt[:, None]).astype(np.float64), np.nan)
    mirex = np.where(ok, MIREX_TABLE[np.maximum(key, 0), tgt[:, None]], np.nan)
    return Agreement(key, exact, mirex, int(window))


# -- bootstrap ---------------------------------------------------------------------------------
def bootstrap_ratio_ci(sums: np.ndarray, counts: np.ndarray, *, n_boot: int = 1000, level: float = 0.95,
                       seed: int = 0, chunk: int = 250) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pooled ratio ``sum(sums) / sum(counts)`` per column, with a percentile bootstrap interval.

    Rows (sequences, tunes) are resampled with replacement; each resample is a vector of
    multinomial weights, so a batch of resamples is one matrix product.

    Parameters
    ----------
    sums, counts : (n, P) float arrays (or (n,))
    n_boot : int, resamples
    level : float, coverage of the interval
    seed : int

    Returns
    -------
    estimate, lo, hi : (P,) float arrays (scalars for 1-D input); NaN where a column has no data.
    """
    sums = np.asarray(sums, np.float64)
    counts = np.asarray(counts, np.float64)
    flat = sums.ndim == 1
    if flat:
        sums, counts = sums[:, None], counts[:, None]
    n, p = sums.shape
    with np.errstate(invalid="ignore", divide="ignore"):
        est = sums.sum(0) / counts.sum(0)
    lo = np.full(p, np.nan)
    hi = np.full(p, np.nan)
    if n > 0 and n_boot > 0:
        rng = np.random.default_rng(seed)
        boots = np.empty((n_boot, p))
        for start in range(0, n_boot, chunk):
            m = min(chunk, n_boot - start)
            w = rng.multinomial(n, np.full(n, 1.0 / n), size=m).astype(np.float64)
            with np.errstate(invalid="ignore", divide="ignore"):
                boots[start:start + m] = (w @ sums) / (w @ counts)
        alpha = (1.0 - level) / 2.0
        has = ~np.all(np.isnan(boots), axis=0)
        if has.any():
            lo[has], hi[has] = np.nanquantile(boots[:, has], [alpha, 1.0 - alpha], axis=0)
        # rounding in the weighted sums must not put the estimate outside its own interval
        lo, hi = np.fmin(lo, est), np.fmax(hi, est)
    if flat:
        return est[0], lo[0], hi[0]
    return est, lo, hi


def bootstrap_mean_ci(values: np.ndarray, *, n_boot: int = 1000, level: float = 0.95,
                      seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-column mean over rows (NaN ignored) with a percentile bootstrap interval.

    Parameters
    ----------
    values : (n, P) float array (or (n,)); NaN marks a missing value
    n_boot, level, seed : see :func:`bootstrap_ratio_ci`

    Returns
    -------
    mean, lo, hi : (P,) float arrays (scalars for 1-D input)
    """
    values = np.asarray(values, np.float64)
    valid = ~np.isnan(values)
    return bootstrap_ratio_ci(np.where(valid, values, 0.0), valid.astype(np.float64),
                              n_boot=n_boot, level=level, seed=seed)


# -- time to drift -----------------------------------------------------------------------------
def drift_times(exact: np.ndarray, lengths: np.ndarray, window: int, *, stride: int | None = None,
                patience: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Time to drift: the end (in notes) of the first window whose key is not the target.

    Parameters
    ----------
    exact : (B, P) float array from :attr:`Agreement.exact` (column ``j``: notes ``j .. j+window-1``)
    lengths : (B,) int array
    window : int
    stride : int, optional
        Look at every ``stride``-th window (default ``window``: non-overlapping windows).
    patience : int
        Drift needs this many consecutive off-target windows (1: the first one); the time is the
        end of the first of them.

    Returns
    -------
    times : (B,) float array; the drift time, or the censoring time (the end of the last window
        looked at) for sequences that never drift; NaN for sequences with no full window
    observed : (B,) bool array; True where a drift was seen
    """
    stride = int(window if stride is None else stride)
    if stride < 1 or patience < 1:
        raise ParameterError(f"stride and patience must be >= 1, got {stride} and {patience}")
    cols = np.arange(0, exact.shape[1], stride)
    sel = exact[:, cols]
    valid = ~np.isnan(sel)
    off = valid & (sel == 0.0)
    if patience > 1:
        cs = np.zeros((off.shape[0], off.shape[1] + 1))
        np.cumsum(off, axis=1, out=cs[:, 1:])
        runs = np.zeros_like(off)
        k = off.shape[1] - patience + 1
        if k > 0:
            runs[:, :k] = (cs[:, patience:patience + k] - cs[:, :k]) == patience
        off = runs
    ends = cols + window
    observed = off.any(axis=1)
    first = np.argmax(off, axis=1)
    n_valid = valid.sum(axis=1)
    last = np.where(n_valid > 0, ends[np.maximum(n_valid - 1, 0)] if len(ends) else 0, 0)
    times = np.where(observed, ends[first] if len(ends) else 0, last).astype(np.float64)
    times[n_valid == 0] = np.nan
    return times, observed & (n_valid > 0)


def kaplan_meier(times: np.ndarray, observed: np.ndarray, *, z: float = 1.96
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Kaplan-Meier survival curve with Greenwood confidence bands.

    Parameters
    ----------
    times : (n,) float array (NaN entries are left out)
    observed : (n,) bool array, True for an event (drift), False for a censored time
    z : float, normal quantile of the band (1.96: 95%)

    Returns
    -------
    t : (K,) the distinct event times, increasing
    surv : (K,) S(t), the share still in key just after each event time
    lo, hi : (K,) the band, clipped to [0, 1]
    """
    times = np.asarray(times, np.float64)
    observed = np.asarray(observed, bool)
    keep = ~np.isnan(times)
    times, observed = times[keep], observed[keep]
    t, events = np.unique(times[observed], return_counts=True)
    at_risk = len(times) - np.searchsorted(np.sort(times), t, side="left")
    surv = np.cumprod(1.0 - events / at_risk)
    with np.errstate(divide="ignore", invalid="ignore"):
        term = np.where(at_risk > events, events / (at_risk * (at_risk - events)), np.inf)
    with np.errstate(invalid="ignore"):
        se = np.where(surv > 0, surv * np.sqrt(np.cumsum(term)), 0.0)
    se = np.where(np.isfinite(se), se, 0.0)
    return t, surv, np.clip(surv - z * se, 0.0, 1.0), np.clip(surv + z * se, 0.0, 1.0)


def km_median(t: np.ndarray, surv: np.ndarray) -> float:
    """Median survival time: the first time with S(t) <= 0.5 (``inf`` if never reached)."""
    hit = np.flatnonzero(np.asarray(surv) <= 0.5)
    return float(np.asarray(t)[hit[0]]) if hit.size else math.inf


def survival_at(t: np.ndarray, curve: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """The step function ``curve`` (at event times ``t``) evaluated at ``positions`` (1 before t[0])."""
    idx = np.searchsorted(np.asarray(t), np.asarray(positions, np.float64), side="right") - 1
    return np.where(idx >= 0, np.asarray(curve)[np.maximum(idx, 0)] if len(t) else 1.0, 1.0)


# -- one piece ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class PieceRetention:
    """Retention measures of one piece against a target key (NaN when there is nothing to measure).

    Attributes
    ----------
    notes : int
    in_signature : float, share of all notes in the target's signature
    agreement, mirex : float, mean over the piece's full windows
    drift_time : float, end of the first off-target window (censoring time if none; NaN: no window)
    drifted : bool
    """

    notes: int
    in_signature: float
    agreement: float
    mirex: float
    drift_time: float
    drifted: bool


def measure_notes(notes: Notes, key: "Key | str", *, window: int = 32, profile: str = DEFAULT_PROFILE,
                  drift_stride: int | None = None) -> PieceRetention:
    """Retention measures of one piece (drums left out) against ``key``.

    Returns NaN measures and a warning (never an exception) for a piece without notes or
    shorter than one window. An unknown key or profile raises :class:`KeyNameError` listing the
    valid ones.
    """
    target = parse_key(key)
    name = profile_name(profile)
    notes = notes.without_drums().sorted()
    pitch, duration, lengths = pad_notes([notes])
    nan = float("nan")
    if len(notes) == 0:
        warnings.warn("measure_notes: no notes (empty or drum-only); retention measures are NaN",
                      RuntimeWarning, stacklevel=2)
        return PieceRetention(0, nan, nan, nan, nan, False)
    in_sig = float(np.mean(in_signature_matrix(pitch, lengths, [target])))
    if len(notes) < window:
        warnings.warn(f"measure_notes: {len(notes)} notes, fewer than one window of {window}; "
                      "windowed measures are NaN", RuntimeWarning, stacklevel=2)
        return PieceRetention(len(notes), in_sig, nan, nan, nan, False)
    agr = windowed_agreement(pitch, duration, lengths, [target], window=window, profile=name)
    times, seen = drift_times(agr.exact, lengths, window, stride=drift_stride)
    return PieceRetention(len(notes), in_sig, float(np.nanmean(agr.exact)), float(np.nanmean(agr.mirex)),
                          float(times[0]), bool(seen[0]))


def measure_midi(path: "str | os.PathLike", key: "Key | str", **kwargs) -> PieceRetention:
    """:func:`measure_notes` of a MIDI file (empty or drum-only: NaN measures and a warning)."""
    from musicgate.music.midi import read_midi

    target = parse_key(key)  # a bad key fails before the file is read
    return measure_notes(read_midi(path), target, **kwargs)


# -- measuring a set ---------------------------------------------------------------------------------
@dataclass
class Measured:
    """Per-sequence measures of a set of note sequences against their targets.

    ``agreement[W]`` and ``in_sig_window[W]`` are (B, L - W + 1); ``in_sig`` is (B, L);
    ``drift`` is (times, observed), each (B,).
    """

    pitch: np.ndarray
    duration: np.ndarray
    lengths: np.ndarray
    targets: list
    in_sig: np.ndarray
    in_sig_window: dict = field(default_factory=dict)
    agreement: dict = field(default_factory=dict)
    drift: tuple = ()


def measure(notes: list[Notes], targets: list[Key], *, windows: list[int], profile: str, length: int | None,
            drift_window: int, drift_patience: int) -> Measured:
    """All retention measures of ``notes[b]`` against ``targets[b]`` (see :mod:`musicgate.analysis.retention`)."""
    pitch, duration, lengths = pad_notes(notes, length=length)
    m = Measured(pitch, duration, lengths, list(targets), in_signature_matrix(pitch, lengths, targets))
    for w in sorted(set(windows) | {drift_window}):
        m.in_sig_window[w] = windowed_in_signature(m.in_sig, lengths, w)
        m.agreement[w] = windowed_agreement(pitch, duration, lengths, targets, window=w, profile=profile)
    m.drift = drift_times(m.agreement[drift_window].exact, lengths, drift_window, patience=drift_patience)
    return m


def pooled_ci(values: np.ndarray, *, n_boot: int, level: float, seed: int) -> tuple[float, float, float]:
    """Mean of all non-NaN entries of (n, P) ``values`` (every window weighs the same), with a
    bootstrap interval that resamples rows (tunes or sequences)."""
    valid = ~np.isnan(values)
    sums = np.where(valid, values, 0.0).sum(axis=1)
    est, lo, hi = bootstrap_ratio_ci(sums, valid.sum(axis=1).astype(float), n_boot=n_boot, level=level, seed=seed)
    return float(est), float(lo), float(hi)


def drift_median(m: Measured) -> tuple[float, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Kaplan-Meier median time to drift and the curve (t, S, lo, hi) of a measured set."""
    t, s, lo, hi = kaplan_meier(*m.drift)
    return km_median(t, s), t, s, lo, hi
