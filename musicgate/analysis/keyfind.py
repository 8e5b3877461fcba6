"""Key estimation: Pearson correlation of pitch-class histograms with 24 rotated key profiles.

Everything is vectorized: :func:`estimate_keys` scores a batch of histograms at once and
:func:`windowed_keys_batch` scores every sliding window of a padded batch of note sequences
through cumulative sums (1,000 sequences x 1,024 notes in well under a second).

The method is music21's ``analyze('key')`` (``analysis/discrete.py``): the histogram sums note
durations (quarter lengths) per pitch class, every key is scored by the Pearson correlation of
that histogram with its rotated profile, a histogram with no variance scores 0 for every key,
and ties go to the key music21 picks (the higher tonic pitch class, then minor over major).
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from musicgate.errors import KeyNameError, ParameterError
from musicgate.music.keys import DEFAULT_PROFILE, MAJOR_MINOR_KEYS, Key, profile_name, rotated_profiles
from musicgate.music.keys import profile as _profile_weights

# music21 sorts (correlation, tonic pitch, mode) and takes the largest: among equal
# correlations the higher tonic pitch class wins, then "minor" over "major".
_TIE_TOL = 1e-12
_NEAR_TIE = 1e-9  # two best keys closer than this: decide with music21's own arithmetic
_CHUNK_WINDOWS = 1 << 16  # windows (plus notes) scored at once: bounds the memory used
_TIE_ORDER = np.array(sorted(range(24), key=lambda k: (k % 12, k // 12), reverse=True))
_TIE_ORDER_LIST = _TIE_ORDER.tolist()
_FROM_TIE_ORDER = np.argsort(_TIE_ORDER)  # corr[k] = corr_t[_FROM_TIE_ORDER[k]]


@lru_cache(maxsize=None)
def _unit_profiles(name: str) -> np.ndarray:
    """(12, 24) centred, unit-norm rotated profiles (columns in tie-break order)."""
    prof = rotated_profiles(name)
    prof = prof - prof.mean(axis=1, keepdims=True)
    prof /= np.linalg.norm(prof, axis=1, keepdims=True)
    out = np.ascontiguousarray(prof[_TIE_ORDER].T)
    out.setflags(write=False)
    return out


@lru_cache(maxsize=None)
def _unit_profiles_and_ones(name: str) -> np.ndarray:
    """(12, 25): :func:`_unit_profiles` and a column of ones (the histogram's total)."""
    out = np.ascontiguousarray(np.hstack([_unit_profiles(name), np.ones((12, 1))]))
    out.setflags(write=False)
    return out


def _valid_pitch(pitch: np.ndarray) -> np.ndarray:
    return pitch >= 0


def pc_histogram(pitch: np.ndarray, duration: np.ndarray | None = None, *,
                 weighted: bool = True) -> np.ndarray:
    """Pitch-class histogram of a note sequence.

    Parameters
    ----------
    pitch : (n,) int array
        MIDI pitches; negative values (padding) are ignored.
    duration : (n,) float array, optional
        Note lengths (beats); each note adds its length to its pitch class.
    weighted : bool
        False, or no ``duration``: each note counts 1.

    Returns
    -------
    (12,) float array
    """
    pitch = np.asarray(pitch).reshape(-1).astype(np.int64, copy=False)
    keep = _valid_pitch(pitch)
    if weighted and duration is not None:
        w = np.asarray(duration, dtype=np.float64).reshape(-1)
        if w.shape != pitch.shape:
            raise ParameterError(f"duration has {w.size} values but pitch has {pitch.size}")
        return np.bincount(pitch[keep] % 12, weights=w[keep], minlength=12)
    return np.bincount(pitch[keep] % 12, minlength=12).astype(np.float64)


def key_correlations(hists: np.ndarray, profile: str = DEFAULT_PROFILE) -> np.ndarray:
    """Pearson correlation of each histogram with the 24 key profiles.

    Parameters
    ----------
    hists : (..., 12) float array
        Pitch-class histograms.
    profile : str
        A name from :data:`~musicgate.music.keys.PROFILE_NAMES`.

    Returns
    -------
    (..., 24) float array
        Columns in :data:`~musicgate.music.keys.MAJOR_MINOR_KEYS` order. Rows with no notes are NaN;
        rows with notes but no variance (all pitch classes equal) are 0, as in music21.
    """
    corr = _correlations_tie_order(np.asarray(hists, dtype=np.float64), profile_name(profile))
    out = np.empty_like(corr)
    out[..., _TIE_ORDER] = corr
    return out


def _correlations_tie_order(hists: np.ndarray, name: str) -> np.ndarray:
    if hists.shape[-1] != 12:
        raise ParameterError(f"histograms must have 12 pitch classes in the last axis, not {hists.shape}")
    total = hists.sum(axis=-1)
    # 12 x the variance; sum((p - mean p) * (h - mean h)) == h . (p - mean p) as p is centred
    var = np.einsum("...i,...i->...", hists, hists) - total * total / 12.0
    corr = hists @ _unit_profiles(name)
    ok = var > 1e-12 * total * total  # else no variance: music21 scores every key 0
    inv = np.zeros_like(var)
    np.divide(1.0, np.sqrt(np.maximum(var, 0.0)), out=inv, where=ok)
    corr *= inv[..., None]
    empty = ~(total > 0)
    if np.any(empty):
        corr[empty] = np.nan
    return corr


def estimate_keys(hists: np.ndarray, profile: str = DEFAULT_PROFILE) -> tuple[np.ndarray, np.ndarray]:
    """Best key of each histogram in a batch.

    Parameters
    ----------
    hists : (N, 12) float array
    profile : str
        A name from :data:`~musicgate.music.keys.PROFILE_NAMES`.

    Returns
    -------
    key_index : (N,) int array
        Index into :data:`~musicgate.music.keys.MAJOR_MINOR_KEYS`; -1 where a histogram is empty.
    corr : (N, 24) float array
        All correlations (NaN rows where empty).
    """
    hists = np.asarray(hists, dtype=np.float64)
    corr_t = _correlations_tie_order(hists, profile_name(profile))
    key_index, _ = _best(corr_t, hists, profile_name(profile))
    corr = np.empty_like(corr_t)
    corr[..., _TIE_ORDER] = corr_t
    return key_index, corr


def _best(corr_t: np.ndarray, hists: np.ndarray, name: str) -> tuple[np.ndarray, np.ndarray]:
    """Best key index (-1 for NaN rows) and its column, from correlations in tie order.

    Rows whose two best keys are within ``_NEAR_TIE`` are decided by :func:`_music21_pick`, so
    ties go the way music21 sends them.
    """
    top = corr_t.max(axis=-1, keepdims=True)  # NaN for rows without notes (all NaN)
    pos = np.argmax(corr_t >= top - _TIE_TOL, axis=-1)
    key = np.where(np.isnan(top[..., 0]), -1, _TIE_ORDER[pos]).astype(np.int64)
    near = np.flatnonzero(((corr_t >= top - _NEAR_TIE).sum(axis=-1) > 1).reshape(-1))
    if len(near):
        flat_key, flat_pos = key.reshape(-1), pos.reshape(-1)
        flat_hist = hists.reshape(-1, 12)
        for r in near:
            flat_key[r] = _music21_pick(flat_hist[r].tolist(), name)
            flat_pos[r] = _FROM_TIE_ORDER[flat_key[r]]
    return key, pos


def _music21_pick(hist: list[float], name: str) -> int:
    """music21's choice for one histogram, computed with its own arithmetic and tie-break.

    ``KeyWeightKeyAnalysis._getDifference`` sums in this order, in Python floats; ``process``
    then takes the largest (correlation, tonic, mode), so exact ties go to the higher tonic
    pitch class and then to minor. Used only where two keys are within ``_NEAR_TIE``: there
    the last bits of the arithmetic decide.
    """
    hist_avg = sum(hist) / len(hist)
    best: tuple[float, int, str] | None = None
    for mode, weights in zip(("major", "minor"), _profile_weights(name).tolist()):
        prof_avg = sum(weights) / len(weights)
        for i in range(12):
            top = right = left = 0.0
            for j in range(12):
                top = top + ((weights[(j - i) % 12] - prof_avg) * (hist[j] - hist_avg))
                right = right + ((weights[(j - i) % 12] - prof_avg) ** 2)
                left = left + ((hist[j] - hist_avg) ** 2)
            coef = 0.0 if right == 0 or left == 0 else float(top / ((right * left) ** 0.5))
            cand = (coef, i, mode)
            if best is None or cand > best:
                best = cand
    assert best is not None
    return best[1] + (12 if best[2] == "minor" else 0)


@dataclass(frozen=True)
class KeyEstimate:
    """The estimated key of a piece.

    Attributes
    ----------
    key : Key or None
        The best of the 24 major and minor keys (None when there were no notes).
    correlation : float
        Its Pearson correlation with the profile (NaN when there were no notes).
    correlations : (24,) float array
        All correlations, in :data:`~musicgate.music.keys.MAJOR_MINOR_KEYS` order.
    profile : str
        The profile used.
    """

    key: Key | None
    correlation: float
    correlations: np.ndarray
    profile: str


def estimate_key(pitch: np.ndarray, duration: np.ndarray | None = None, *,
                 profile: str = DEFAULT_PROFILE, weighted: bool = True) -> KeyEstimate:
    """Estimate the key of one note sequence (music21's ``analyze('key')`` on arrays).

    Parameters
    ----------
    pitch : (n,) int array
        MIDI pitches (negative values are ignored).
    duration : (n,) float array, optional
        Note lengths; the histogram is duration-weighted when given and ``weighted``.
    profile : str
        A name from :data:`~musicgate.music.keys.PROFILE_NAMES`.

    Returns
    -------
    KeyEstimate
        With ``key=None`` and NaN correlations (and a warning) when there are no notes.
    """
    name = profile_name(profile)
    pitch = np.asarray(pitch)
    hist = None
    if pitch.ndim == 1 and pitch.dtype.kind in "iu" and weighted and duration is not None:
        duration = np.asarray(duration, dtype=np.float64)  # fast path: ~10 us a tune
        if duration.shape != pitch.shape:
            raise ParameterError(f"duration has {duration.size} values but pitch has {pitch.size}")
        try:
            hist = np.bincount(pitch % 12, weights=duration, minlength=12)
        except ValueError:  # negative pitches (padding): the general path drops them
            hist = None
    if hist is None:
        hist = pc_histogram(pitch, duration, weighted=weighted)
    scores = hist @ _unit_profiles_and_ones(name)  # 24 dot products, then the total
    total = float(scores[24])
    if not total > 0:
        warnings.warn("estimate_key: no notes (or zero total duration); the key is unknown",
                      RuntimeWarning, stacklevel=2)
        return KeyEstimate(None, float("nan"), np.full(24, np.nan), name)
    var = float(hist @ hist) - total * total / 12.0  # 12 x the variance of the histogram
    if var > 1e-12 * total * total:
        corr_t = scores[:24] * (1.0 / math.sqrt(var))
    else:  # every pitch class equally present: music21 scores every key 0
        corr_t = np.zeros(24)
    values = corr_t.tolist()
    ranked = sorted(values)
    if ranked[-1] - ranked[-2] < _NEAR_TIE:  # a (near) tie: decide as music21 does
        k = _music21_pick(hist.tolist(), name)
        pos = int(_FROM_TIE_ORDER[k])
    else:
        pos = values.index(ranked[-1])
    corr = corr_t[_FROM_TIE_ORDER]
    return KeyEstimate(MAJOR_MINOR_KEYS[_TIE_ORDER_LIST[pos]], values[pos], corr, name)


@dataclass(frozen=True)
class WindowedKeys:
    """Keys of sliding windows; arrays are (W,) for one sequence or (B, W) for a batch.

    Attributes
    ----------
    start, end : int arrays
        Note indices of each window, ``[start, end)``.
    time : float array
        Start of each window in beats (the first note's onset for note windows without onsets:
        NaN).
    key : int array
        Best key (index into :data:`~musicgate.music.keys.MAJOR_MINOR_KEYS`); -1 for padding and
        windows without notes.
    correlation : float array
        Correlation of the best key (NaN for padding and empty windows).
    valid : bool array
        True for real windows, False for padding in a batch.
    correlations : float array or None
        (..., 24) all correlations when asked for.
    """

    start: np.ndarray
    end: np.ndarray
    time: np.ndarray
    key: np.ndarray
    correlation: np.ndarray
    valid: np.ndarray
    correlations: np.ndarray | None = None


def _note_windows(lengths: np.ndarray, window: int, stride: int) -> tuple[np.ndarray, ...]:
    """(B, W) start, end, valid for windows of ``window`` notes every ``stride`` notes."""
    n_win = np.where(lengths > 0, np.maximum(lengths - window, 0) // stride + 1, 0)
    width = int(n_win.max(initial=0))
    starts = np.arange(width)[None, :] * stride
    valid = np.arange(width)[None, :] < n_win[:, None]
    ends = np.minimum(starts + window, lengths[:, None])
    starts = np.broadcast_to(starts, valid.shape)
    return np.where(valid, starts, 0), np.where(valid, ends, 0), valid


def _beat_windows(onset: np.ndarray, lengths: np.ndarray, window: float,
                  stride: float) -> tuple[np.ndarray, ...]:
    """(B, W) start, end, valid, time for windows of ``window`` beats every ``stride`` beats."""
    rows = []
    for b in range(len(lengths)):
        on = onset[b, : lengths[b]]
        if len(on) == 0:
            rows.append((np.zeros(0), np.zeros(0, int), np.zeros(0, int)))
            continue
        if np.any(np.diff(on) < 0):
            raise ParameterError(f"onsets of sequence {b} are not sorted; sort the notes by onset")
        first, last = float(on[0]), float(on[-1])
        # full windows from the first onset on, plus one more if the last onset is not covered
        n = int(np.floor(max(last - first - window, 0.0) / stride + 1e-9)) + 1
        if first + (n - 1) * stride + window <= last:
            n += 1
        times = first + np.arange(n) * stride
        rows.append((times, np.searchsorted(on, times, "left"),
                     np.searchsorted(on, times + window, "left")))
    width = max((len(r[0]) for r in rows), default=0)
    shape = (len(lengths), width)
    time, start, end = np.full(shape, np.nan), np.zeros(shape, int), np.zeros(shape, int)
    valid = np.zeros(shape, bool)
    for b, (t, s, e) in enumerate(rows):
        time[b, : len(t)], start[b, : len(t)], end[b, : len(t)], valid[b, : len(t)] = t, s, e, True
    return start, end, valid, time


def _window_correlations(pitch: np.ndarray, duration: np.ndarray | None, lengths: np.ndarray,
                         start: np.ndarray, end: np.ndarray, valid: np.ndarray,
                         name: str) -> tuple[np.ndarray, np.ndarray]:
    """(b, W, 12) histograms and (b, W, 24) correlations (tie order) of the windows of a few
    rows, via cumulative sums."""
    n_seq, max_len = pitch.shape
    real = (np.arange(max_len)[None, :] < lengths[:, None]) & _valid_pitch(pitch)
    w = np.where(real, duration, 0.0) if duration is not None else real.astype(np.float64)
    # cum[b, i, pc]: total weight of the notes before note i with pitch class pc
    cum = np.zeros((n_seq, max_len + 1, 12))
    pcs = np.where(real, pitch, 0).astype(np.int64) % 12
    np.put_along_axis(cum[:, 1:], pcs[..., None], w[..., None], axis=2)
    np.cumsum(cum, axis=1, out=cum)
    rows = np.arange(n_seq)[:, None]
    hists = cum[rows, end] - cum[rows, start]
    # cumulative sums leave rounding residue where a pitch class is absent: clear it
    hists[hists <= 1e-12 * hists.sum(axis=-1, keepdims=True)] = 0.0
    hists[~valid] = 0.0
    return hists, _correlations_tie_order(hists, name)


def windowed_keys_batch(pitch: np.ndarray, duration: np.ndarray | None = None,
                        lengths: np.ndarray | None = None, onset: np.ndarray | None = None, *,
                        window: float = 32, stride: float = 1, unit: str = "notes",
                        profile: str = DEFAULT_PROFILE, weighted: bool = True,
                        return_correlations: bool = False) -> WindowedKeys:
    """Keys of sliding windows over a padded batch of note sequences.

    Parameters
    ----------
    pitch : (B, L) int array
        MIDI pitches, padded on the right (padding: any value, see ``lengths``; negative
        pitches are ignored).
    duration : (B, L) float array, optional
        Note lengths for duration weighting; without it each note counts 1.
    lengths : (B,) int array, optional
        Real notes per row (default: all L).
    onset : (B, L) float array, optional
        Onsets in beats, sorted per row; needed for ``unit="beats"``.
    window, stride : float
        Window length and step, in notes (integers) or beats. A sequence shorter than one
        window gets one window over all its notes.
    unit : {"notes", "beats"}
        Beat windows hold the notes whose onsets fall in ``[t, t + window)``.
    profile : str
        A name from :data:`~musicgate.music.keys.PROFILE_NAMES`.
    return_correlations : bool
        Also return all 24 correlations per window ((B, W, 24); memory: 192 bytes a window).

    Returns
    -------
    WindowedKeys
        (B, W) arrays, W the most windows of any row.
    """
    name = profile_name(profile)
    pitch = np.asarray(pitch)
    if pitch.ndim != 2:
        raise ParameterError(f"pitch must be a (B, L) array, not shape {pitch.shape}")
    n_seq, max_len = pitch.shape
    lengths = (np.full(n_seq, max_len) if lengths is None
               else np.minimum(np.asarray(lengths, dtype=np.int64).reshape(-1), max_len))
    if len(lengths) != n_seq:
        raise ParameterError(f"lengths has {len(lengths)} values for {n_seq} sequences")
    if stride <= 0 or window <= 0:
        raise ParameterError(f"window and stride must be positive, not {window} and {stride}")
    if unit == "notes":
        if int(window) != window or int(stride) != stride:
            raise ParameterError(f"note windows need whole numbers, not window={window} stride={stride}")
        start, end, valid = _note_windows(lengths, int(window), int(stride))
        time = np.full(start.shape, np.nan)
        if onset is not None:
            on = np.asarray(onset, dtype=np.float64)
            time = np.where(valid, np.take_along_axis(on, np.minimum(start, max_len - 1), 1), np.nan)
    elif unit == "beats":
        if onset is None:
            raise ParameterError("unit='beats' needs the onsets")
        start, end, valid, time = _beat_windows(np.asarray(onset, dtype=np.float64), lengths,
                                                float(window), float(stride))
    else:
        raise KeyNameError(f"unknown window unit {unit!r}; valid: 'notes', 'beats'")

    if weighted and duration is not None:
        duration = np.asarray(duration, dtype=np.float64)
        if duration.shape != pitch.shape:
            raise ParameterError(f"duration has shape {duration.shape} but pitch has {pitch.shape}")
    else:
        duration = None
    key = np.full(start.shape, -1, dtype=np.int64)
    best = np.full(start.shape, np.nan)
    corr = np.full(start.shape + (24,), np.nan) if return_correlations else None
    step = max(1, _CHUNK_WINDOWS // max(start.shape[1] + max_len, 1))
    for lo in range(0, n_seq, step):
        rows = slice(lo, min(lo + step, n_seq))
        hists, corr_t = _window_correlations(
            pitch[rows], None if duration is None else duration[rows], lengths[rows],
            start[rows], end[rows], valid[rows], name)
        k, pos = _best(corr_t, hists, name)
        key[rows] = np.where(valid[rows], k, -1)
        best[rows] = np.where(key[rows] >= 0, np.take_along_axis(corr_t, pos[..., None], -1)[..., 0],
                              np.nan)
        if corr is not None:
            corr[rows][..., _TIE_ORDER] = corr_t
    if not valid.any():
        warnings.warn("windowed_keys: no notes; no windows", RuntimeWarning, stacklevel=2)
    return WindowedKeys(start, end, time, key, best, valid, corr)


def windowed_keys(pitch: np.ndarray, duration: np.ndarray | None = None,
                  onset: np.ndarray | None = None, *, window: float = 32, stride: float = 1,
                  unit: str = "notes", profile: str = DEFAULT_PROFILE, weighted: bool = True,
                  return_correlations: bool = False) -> WindowedKeys:
    """Keys of sliding windows over one note sequence; see :func:`windowed_keys_batch`.

    Parameters
    ----------
    pitch : (n,) int array
    duration, onset : (n,) float arrays, optional

    Returns
    -------
    WindowedKeys
        (W,) arrays (W = 0 and a warning when there are no notes).
    """
    pitch = np.asarray(pitch).reshape(1, -1)
    dur = None if duration is None else np.asarray(duration, dtype=np.float64).reshape(1, -1)
    on = None if onset is None else np.asarray(onset, dtype=np.float64).reshape(1, -1)
    for label, arr in (("duration", dur), ("onset", on)):
        if arr is not None and arr.shape != pitch.shape:
            raise ParameterError(f"{label} has {arr.size} values but pitch has {pitch.size}")
    res = windowed_keys_batch(pitch, dur, None, on, window=window, stride=stride, unit=unit,
                              profile=profile, weighted=weighted,
                              return_correlations=return_correlations)
    return WindowedKeys(*(None if v is None else v[0] for v in (
        res.start, res.end, res.time, res.key, res.correlation, res.valid, res.correlations)))
