"""Musicality metrics of one tune: small pure functions over :class:`~musicgate.music.notes.Notes`.

Each metric reads a melody (one note at a time, as the melody vocabulary and ``Notes.skyline``
give) and, where it needs one, the key the tune was asked for. Every function returns a float
(1.0 / 0.0 for a yes-or-no question, so means over tunes are shares) and NaN when there is
nothing to measure: no notes, no time signature for the bar metrics, fewer notes than one
window. Following muspy's ``metrics.py``, they are tested exactly on hand-made tunes.

Bars come from the time signatures (``Notes.meters``) and the bar grid they start: bar lines at
the first meter's beat and every bar length after it (and before it, back to beat 0, so a pickup
written as a leading rest or an offset is the partial first bar). A meter change restarts the grid
at its beat.

:func:`measure` computes every metric of :data:`METRICS` for one tune; :func:`measure_batch` does
so for many tunes, with the windowed key agreement computed for all of them at once.
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from musicgate.analysis.keyfind import estimate_key
from musicgate.music.keys import DEFAULT_PROFILE, Key, in_signature_mask, parse_key, to_major_minor
from musicgate.music.notes import Notes

NAN = float("nan")
EPS = 1e-6
"""Beats within which two times count as equal (onsets, bar lines)."""
_TICKS = 960
"""Ticks per beat used to compare durations and onsets exactly (repetition metrics)."""
GRIDS = (4, 3)
"""Onset grids per beat that count as on the grid: sixteenths and eighth-note triplets."""


@dataclass(frozen=True)
class Metric:
    """One column of the musicality report.

    Attributes
    ----------
    name : str, the key in per-tune records and JSON
    label : str, what it measures, as the report's table prints it
    share : bool, a share in 0..1, else a count or size
    digits : int, decimals printed
    binary : bool, a yes-or-no question per tune (1.0 or 0.0), so its mean is a share of tunes
    """

    name: str
    label: str
    share: bool
    digits: int = 2
    binary: bool = False


METRICS: tuple[Metric, ...] = (
    Metric("key_signature", "whole-piece key, same signature as asked", True, binary=True),
    Metric("key_exact", "whole-piece key, same tonic and mode", True, binary=True),
    Metric("window_key", "32-note windows in the asked key (tonic and mode)", True),
    Metric("in_signature", "notes inside the asked key signature", True, 3),
    Metric("bars_filled", "inner bars filled exactly, no note crossing a bar line", True),
    Metric("off_grid", "onsets off the sixteenth and triplet grids", True, 3),
    Metric("repeated_chunks", "8-note chunks (pitch + duration) seen earlier in the tune", True),
    Metric("repeated_segments", "4-bar segments seen earlier in the tune", True),
    Metric("passage_loop", "most times a 1-4 bar passage comes in a row", False, 1),
    Metric("ends_on_tonic", "ends on the tonic", True, binary=True),
    Metric("pitch_range", "pitch range, semitones", False, 1),
    Metric("median_pitch", "register: median pitch, MIDI (69 = A4)", False, 1),
    Metric("leap_over_octave", "tunes with a leap over an octave", True, binary=True),
    Metric("largest_leap", "largest leap, semitones", False, 1),
    Metric("longest_run", "longest run of one repeated pitch, notes", False, 1),
    Metric("one_pitch_bars", "bars that repeat one pitch (of bars with 2+ notes)", True),
    Metric("pitch_classes", "pitch classes used", False, 1),
    Metric("notes", "length, notes", False, 0),
    Metric("bars", "length, bars", False, 1),
)
"""The metrics :func:`measure` returns, in report order."""
METRIC_NAMES: tuple[str, ...] = tuple(m.name for m in METRICS)


def _bool(x: bool) -> float:
    return 1.0 if x else 0.0


# -- keys ----------------------------------------------------------------------------------------
def estimated_key(notes: Notes, *, profile: str = DEFAULT_PROFILE) -> Key | None:
    """The whole piece's key, duration-weighted (music21's ``analyze('key')`` method, see
    :func:`~musicgate.analysis.keyfind.estimate_key`); None when there are no notes."""
    if len(notes) == 0 or not float(notes.duration.sum()) > 0:
        return None
    return estimate_key(notes.pitch, notes.duration, profile=profile).key


def key_signature_match(notes: Notes, key: "Key | str", *, profile: str = DEFAULT_PROFILE) -> float:
    """1.0 when the estimated key has the asked key's signature (D major for B minor or E dorian),
    else 0.0; NaN without notes."""
    est = estimated_key(notes, profile=profile)
    return NAN if est is None else _bool(est.signature == parse_key(key).signature)


def key_exact_match(notes: Notes, key: "Key | str", *, profile: str = DEFAULT_PROFILE) -> float:
    """1.0 when the estimated key has the asked key's tonic and mode, else 0.0; NaN without notes.

    The estimate is one of the 24 major and minor keys, so a modal key counts as the major or
    minor key with its third (A dorian as A minor, :func:`~musicgate.music.keys.to_major_minor`).
    """
    est = estimated_key(notes, profile=profile)
    return NAN if est is None else _bool(est == to_major_minor(parse_key(key)))


def window_key_agreement(notes: Notes, key: "Key | str", *, window: int = 32,
                         profile: str = DEFAULT_PROFILE) -> float:
    """Share of the windows of ``window`` consecutive notes (stride 1) whose estimated key is the
    asked key (tonic and mode, modes mapped as in :func:`key_exact_match`); NaN when the tune is
    shorter than one window."""
    return float(_window_agreement([notes], [parse_key(key)], window, profile)[0])


def _window_agreement(pieces: Sequence[Notes], keys: Sequence[Key], window: int, profile: str) -> np.ndarray:
    """(B,) mean exact agreement of each piece's full windows with its key (NaN: no full window)."""
    from musicgate.analysis.retention import pad_notes, windowed_agreement

    out = np.full(len(pieces), NAN)
    if not pieces:
        return out
    pitch, duration, lengths = pad_notes(list(pieces))
    if lengths.max(initial=0) < window:
        return out
    agr = windowed_agreement(pitch, duration, lengths, list(keys), window=window, profile=profile)
    has = lengths >= window
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        out[has] = np.nanmean(agr.exact[has], axis=1)
    return out


def in_signature(notes: Notes, key: "Key | str") -> float:
    """Share of notes whose pitch class is in the asked key's signature; NaN without notes."""
    if len(notes) == 0:
        return NAN
    return float(in_signature_mask(notes.pitch, key).mean())


def ends_on_tonic(notes: Notes, key: "Key | str") -> float:
    """1.0 when the last note (the highest of the last onset) is the asked key's tonic (the mode's
    own: A for A dorian), else 0.0; NaN without notes."""
    if len(notes) == 0:
        return NAN
    last = np.flatnonzero(notes.onset == notes.onset.max())
    pitch = int(notes.pitch[last].max())
    return _bool(pitch % 12 == parse_key(key).tonic)


# -- pitch ---------------------------------------------------------------------------------------
def pitch_classes_used(notes: Notes) -> float:
    """Number of different pitch classes (0-12); NaN without notes."""
    return float(len(np.unique(notes.pitch % 12))) if len(notes) else NAN


def pitch_range(notes: Notes) -> float:
    """Highest minus lowest pitch, in semitones; NaN without notes."""
    return float(int(notes.pitch.max()) - int(notes.pitch.min())) if len(notes) else NAN


def median_pitch(notes: Notes) -> float:
    """The tune's register: the median of its notes' MIDI pitches (69 = A4; each note once, however
    long); NaN without notes."""
    return float(np.median(notes.pitch)) if len(notes) else NAN


def largest_leap(notes: Notes) -> float:
    """Largest interval between consecutive notes, in semitones (0 for one note); NaN without notes."""
    if len(notes) == 0:
        return NAN
    return float(np.abs(np.diff(notes.pitch.astype(np.int64))).max(initial=0))


def longest_run(notes: Notes) -> float:
    """Most consecutive notes on one pitch (1 when no pitch repeats at once); NaN without notes.

    A tune stuck on one note (``G G G G | G G G G``) shows here and in no other measure."""
    if len(notes) == 0:
        return NAN
    change = np.flatnonzero(np.diff(notes.pitch.astype(np.int64)) != 0)
    bounds = np.concatenate([[-1], change, [len(notes) - 1]])
    return float(np.diff(bounds).max())


def leap_over_octave(notes: Notes) -> float:
    """1.0 when two consecutive notes are more than 12 semitones apart, else 0.0; NaN without notes."""
    leap = largest_leap(notes)
    return NAN if math.isnan(leap) else _bool(leap > 12)


# -- rhythm and bars -----------------------------------------------------------------------------
def off_grid_onsets(notes: Notes, grids: Sequence[int] = GRIDS) -> float:
    """Share of onsets on none of the grids (steps per beat; default sixteenths and eighth-note
    triplets), counted from beat 0; NaN without notes."""
    if len(notes) == 0:
        return NAN
    on = notes.onset
    on_grid = np.zeros(len(on), bool)
    for g in grids:
        on_grid |= np.abs(on * g - np.rint(on * g)) < EPS * g
    return float(1.0 - on_grid.mean())


def bar_lines(notes: Notes, end: float | None = None) -> np.ndarray | None:
    """Beats of the bar lines from beat 0 up to and including the first at or after ``end``
    (default: the end of the last note); None without a time signature.

    The grid starts at each meter's beat and steps by its bar length (``num * 4 / den`` beats) up to
    the next meter; before the first meter it is extended back toward beat 0 with the first bar
    length, and beat 0 is a line too (the start of a pickup bar when the grid does not fall on it).
    """
    if not notes.meters:
        return None
    end = notes.end if end is None else float(end)
    meters = sorted(notes.meters)
    first, num, den = meters[0]
    length = num * 4.0 / den
    lines = [first - k * length for k in range(int(math.floor((first - EPS) / length)), 0, -1)]
    if first > EPS and (not lines or lines[0] > EPS):
        lines.insert(0, 0.0)
    stops = [b for b, _, _ in meters[1:]] + [math.inf]
    for (beat, num, den), stop in zip(meters, stops):
        length = num * 4.0 / den
        if stop == math.inf:  # up to the first line at or after the end
            count = max(int(math.ceil((end - beat) / length - EPS)), 0) + 1
        else:  # the lines before the next meter starts
            count = int(math.ceil((stop - beat) / length - EPS))
        lines.extend((beat + length * np.arange(count)).tolist())
    return np.array(lines, np.float64)


def _bar_span(notes: Notes, lines: np.ndarray) -> tuple[int, int]:
    """Indices of the bars (``lines[i]..lines[i + 1]``) holding the first onset and the end."""
    first = int(np.searchsorted(lines, notes.onset.min() + EPS, "right")) - 1
    last = int(np.searchsorted(lines, notes.end - EPS, "right")) - 1
    return max(first, 0), min(max(last, 0), len(lines) - 2)


def crossed_lines(notes: Notes, lines: np.ndarray) -> np.ndarray:
    """(len(lines),) bool: True where a note sounds across the bar line (starts before it and
    ends after it)."""
    lo = np.searchsorted(lines, notes.onset + EPS, "left")  # first line after the onset
    hi = np.maximum(np.searchsorted(lines, notes.onset + notes.duration - EPS, "left"), lo)  # before the end
    count = np.zeros(len(lines) + 1, np.int64)
    np.add.at(count, lo, 1)
    np.add.at(count, hi, -1)
    return np.cumsum(count)[:-1] > 0


def bars_filled(notes: Notes) -> float:
    """Share of inner bars filled exactly: no note sounds across either of the bar's lines.

    Inner bars are those between the bar of the first note and the bar of the last note's end
    (both left out: a pickup and the last bar may be partial). A rest is part of a bar, as in
    notation, so what leaves a bar unfilled is a note crossing a bar line (both bars it touches).
    NaN without notes, without a time signature, or with no inner bar.
    """
    span = _bars_of(notes)
    if span is None or span[2] - span[1] < 2:
        return NAN
    lines, first, last = span
    crossed = crossed_lines(notes, lines)
    inner = np.arange(first + 1, last)
    return float(np.mean(~crossed[inner] & ~crossed[inner + 1]))


def _bars_of(notes: Notes):
    """(bar lines, first bar, last bar) of the notes, or None without notes or a time signature."""
    if len(notes) == 0:
        return None
    lines = bar_lines(notes)
    if lines is None or len(lines) < 2:
        return None
    return (lines, *_bar_span(notes, lines))


def length_bars(notes: Notes) -> float:
    """Bars from the one holding the first onset to the one holding the end, both counted (a pickup
    counts as a bar); NaN without notes or time signature."""
    span = _bars_of(notes)
    return NAN if span is None else float(span[2] - span[1] + 1)


# -- repetition ----------------------------------------------------------------------------------
def _seen_before(rows: np.ndarray) -> np.ndarray:
    """(n,) bool: True where row i equals some row j < i."""
    rows = np.ascontiguousarray(rows)
    return _seen_before_items(rows.view(np.dtype((np.void, rows.dtype.itemsize * rows.shape[1]))).ravel().tolist())


def _seen_before_items(items: Sequence) -> np.ndarray:
    """(n,) bool: True where item i equals some item j < i (items hashable)."""
    seen: set = set()
    out = np.zeros(len(items), bool)
    for i, item in enumerate(items):
        out[i] = item in seen
        seen.add(item)
    return out


def repeated_chunks(notes: Notes, size: int = 8) -> float:
    """Share of the chunks of ``size`` consecutive notes (every start) whose pitches and durations
    occurred as a chunk starting earlier in the tune; NaN with fewer than ``size`` notes."""
    n = len(notes)
    if n < size:
        return NAN
    pitch = notes.pitch.astype(np.int64)
    dur = np.rint(notes.duration * _TICKS).astype(np.int64)
    idx = np.arange(n - size + 1)[:, None] + np.arange(size)[None, :]
    return float(_seen_before(np.hstack([pitch[idx], dur[idx]])).mean())


def _bar_contents(notes: Notes) -> list[tuple] | None:
    """Per bar from the first one that starts at or after the first note (a pickup is left out) to
    the last one that begins before the tune ends: its notes (onset in the bar, pitch, duration);
    None without notes or a time signature."""
    if len(notes) == 0:
        return None
    lines = bar_lines(notes)
    if lines is None or len(lines) < 2:
        return None
    f = int(np.searchsorted(lines, notes.onset.min() - EPS, "left"))
    on, end = notes.onset, notes.end
    out = []
    for b in range(f, len(lines) - 1):
        if lines[b] >= end - EPS:
            break
        sel = (on >= lines[b] - EPS) & (on < lines[b + 1] - EPS)
        out.append((tuple(np.rint((on[sel] - lines[b]) * _TICKS).astype(np.int64).tolist()),
                    tuple(notes.pitch[sel].tolist()),
                    tuple(np.rint(notes.duration[sel] * _TICKS).astype(np.int64).tolist())))
    return out


def repeated_segments(notes: Notes, bars: int = 4) -> float:
    """Share of the ``bars``-bar segments whose notes (onset within the bar, pitch, duration)
    equal those of an earlier segment.

    Segments are aligned on the bar grid: bars ``f .. f + bars - 1``, ``f + bars ..`` where ``f`` is
    the first bar that starts at or after the first note (a pickup is left out); a segment counts
    when its last bar has begun before the tune ends, and when it holds a note. NaN without notes,
    without a time signature, or without a segment.
    """
    contents = _bar_contents(notes)
    if contents is None:
        return NAN
    keys = [tuple(contents[s:s + bars]) for s in range(0, len(contents) - bars + 1, bars)
            if any(b[1] for b in contents[s:s + bars])]
    if not keys:
        return NAN
    return float(_seen_before_items(keys).mean())


def passage_loop(notes: Notes, longest: int = 4) -> float:
    """The most times one passage of 1 to ``longest`` whole bars is played in a row (1: no passage
    comes straight back; a part of four bars played twice by its repeat signs is 2). Passages start
    on any bar line from the first full bar; a passage of bars without a note onset never counts.
    NaN without notes, without a time signature, or without a full bar. A tune stuck in a loop, a
    phrase again and again, scores high where the shares of repeated chunks and segments cannot
    tell a loop from a form."""
    bars = _bar_contents(notes)
    if not bars:
        return NAN
    best = 1
    for p in range(1, longest + 1):
        for s in range(len(bars) - 2 * p + 1):
            block = bars[s:s + p]
            if not any(b[1] for b in block):
                continue
            k = 1
            while bars[s + k * p:s + (k + 1) * p] == block:
                k += 1
            best = max(best, k)
    return float(best)


def one_pitch_bars(notes: Notes) -> float:
    """Share of the bars holding two or more note onsets whose notes are all one pitch (``A A A A``):
    a static bar, which a listener hears where a tune marks time. Bars as :func:`repeated_segments`
    reads them (a pickup is left out); NaN without notes, without a time signature, or without a bar
    of two notes."""
    bars = _bar_contents(notes)
    if bars is None:
        return NAN
    busy = [len(set(pitches)) == 1 for _, pitches, _ in bars if len(pitches) >= 2]
    return float(np.mean(busy)) if busy else NAN


# -- everything ----------------------------------------------------------------------------------
def measure(notes: Notes, key: "Key | str", *, window: int = 32, profile: str = DEFAULT_PROFILE) -> dict[str, float]:
    """Every metric of :data:`METRICS` for one melody against the asked ``key``.

    Returns
    -------
    dict
        Metric name -> float (NaN where there is nothing to measure, see each function).
    """
    return measure_batch([notes], [key], window=window, profile=profile)[0]


def measure_batch(pieces: Sequence[Notes], keys: Sequence["Key | str"], *, window: int = 32,
                  profile: str = DEFAULT_PROFILE) -> list[dict[str, float]]:
    """:func:`measure` of many melodies; the windowed key agreement is one batched computation."""
    if len(pieces) != len(keys):
        raise ValueError(f"{len(keys)} keys for {len(pieces)} pieces")
    keys = [parse_key(k) for k in keys]
    windows = _window_agreement(pieces, keys, window, profile)
    out = []
    for notes, key, win in zip(pieces, keys, windows):
        est = estimated_key(notes, profile=profile)
        leap = largest_leap(notes)
        out.append({
            "key_signature": NAN if est is None else _bool(est.signature == key.signature),
            "key_exact": NAN if est is None else _bool(est == to_major_minor(key)),
            "window_key": float(win),
            "in_signature": in_signature(notes, key),
            "bars_filled": bars_filled(notes),
            "off_grid": off_grid_onsets(notes),
            "repeated_chunks": repeated_chunks(notes),
            "repeated_segments": repeated_segments(notes),
            "passage_loop": passage_loop(notes),
            "ends_on_tonic": ends_on_tonic(notes, key),
            "pitch_range": pitch_range(notes),
            "median_pitch": median_pitch(notes),
            "leap_over_octave": NAN if math.isnan(leap) else _bool(leap > 12),
            "largest_leap": leap,
            "longest_run": longest_run(notes),
            "one_pitch_bars": one_pitch_bars(notes),
            "pitch_classes": pitch_classes_used(notes),
            "notes": float(len(notes)),
            "bars": length_bars(notes),
        })
    return out
