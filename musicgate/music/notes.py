"""The :class:`Notes` type: the one value for music that travels the whole data path.

Notes are parallel numpy arrays (pitch, onset, duration, velocity, program, track) with onsets
and durations in beats (quarter notes). The tempo map is kept so beats convert to seconds; key and
time signatures are kept as metadata. Readers and writers for MIDI, pretty_midi and music21 live in
:mod:`musicgate.music.midi` and :mod:`musicgate.music.score`.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Iterable

import numpy as np

from musicgate.errors import ParameterError

from musicgate.music.keys import Key

DRUM_PROGRAM = -1
"""Program number of drum notes (General MIDI channel 10), as in MidiTok."""

_INT_FIELDS = ("pitch", "velocity", "program", "track")
_FLOAT_FIELDS = ("onset", "duration")


BAR_KINDS = ("|", "|:", ":|", "|1", "|2", "||")
"""Kinds of bar line a :class:`Notes` may carry in ``bars``: plain, repeat start, repeat end, first
ending, second ending, part end (``||`` and ``|]``)."""

_DEFAULT_TEMPOS = np.array([[0.0, 120.0]])
_DEFAULT_TEMPOS.setflags(write=False)  # shared by every Notes without a tempo map


def _tempo_array(tempos: Iterable | np.ndarray | None) -> np.ndarray:
    arr = _DEFAULT_TEMPOS if tempos is None else np.asarray(tempos, dtype=np.float64).reshape(-1, 2)
    return arr if len(arr) else _DEFAULT_TEMPOS


def canonical_order(onset: np.ndarray, pitch: np.ndarray, duration: np.ndarray, velocity: np.ndarray,
                    track: np.ndarray, program: np.ndarray) -> np.ndarray:
    """Indices that sort note arrays canonically: by onset, pitch, duration, velocity, track, program.

    Integer onsets, pitches, durations (ticks or grid steps), velocities and tracks that are not
    negative, with program in -1..127, are packed into one int64 key and sorted stably, which is
    quick on the sorted runs that readers give; floats, negative or too wide values go through ``np.lexsort``.
    """
    ints = (onset, pitch, duration, velocity, track)
    if onset.dtype.kind == "i" and len(onset) and min(a.min() for a in ints) >= 0:
        on_bits, pi_bits, du_bits, ve_bits, tr_bits = (int(a.max()).bit_length() for a in ints)
        if on_bits + pi_bits + du_bits + ve_bits + tr_bits + 8 <= 63:
            key = onset.astype(np.int64)
            fields = ((pitch, pi_bits), (duration, du_bits), (velocity, ve_bits), (track, tr_bits), (program & 0xFF, 8))
            for col, bits in fields:
                key = (key << bits) | col
            return np.argsort(key, kind="stable")
    rest = ((velocity.astype(np.int64) << 34) | ((track.astype(np.int64) & 0xFFFF) << 17)
            | (program.astype(np.int64) & 0x1FFFF))
    return np.lexsort((rest, duration, pitch, onset))


def skyline_index(onset: np.ndarray, duration: np.ndarray, pitch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The notes :meth:`Notes.skyline` keeps of notes in canonical order (beats, or integer grid steps):
    their indices, and their durations cut where the next kept note starts."""
    if len(onset) == 0:
        return np.zeros(0, np.intp), duration[:0]
    top = np.flatnonzero(np.concatenate((onset[1:] != onset[:-1], [True])))  # the highest note of each onset
    keep, cur_end, cur_pitch = [], -np.inf, -1
    for i, on, du, p in zip(top.tolist(), onset[top].tolist(), duration[top].tolist(), pitch[top].tolist()):
        if on >= cur_end - 1e-9 or p > cur_pitch:
            keep.append(i)
            cur_end, cur_pitch = on + du, p
    index = np.array(keep, np.intp)
    on, duration = onset[index], duration[index]
    np.minimum(duration[:-1], on[1:] - on[:-1], out=duration[:-1])
    return index, duration


@dataclass(frozen=True, eq=False)
class Notes:
    """A piece of music as parallel arrays, sorted by onset then pitch.

    Parameters
    ----------
    pitch : (n,) int array
        MIDI pitch numbers, 0-127.
    onset, duration : (n,) float arrays
        Start and length in beats (quarter notes).
    velocity : (n,) int array
        MIDI velocities, 1-127.
    program : (n,) int array
        General MIDI program, 0-127, or ``DRUM_PROGRAM`` (-1) for drums.
    track : (n,) int array
        Index of the track the note came from.
    tempos : (k, 2) float array
        Tempo map: rows of (beat, quarter notes per minute), first row at beat 0.
    keys : tuple of (beat, Key)
        Key signatures (or key labels) and where they start.
    meters : tuple of (beat, numerator, denominator)
        Time signatures and where they start.
    bars : tuple of (beat, kind)
        The written bar lines, by beat, ``kind`` one of :data:`BAR_KINDS` (empty: bar lines follow
        the time signatures from beat 0). The notes are the *written* form, each repeated passage
        once; :meth:`played` unrolls the repeats and endings.
    """

    pitch: np.ndarray
    onset: np.ndarray
    duration: np.ndarray
    velocity: np.ndarray
    program: np.ndarray
    track: np.ndarray
    tempos: np.ndarray = field(default_factory=lambda: _tempo_array(None))
    keys: tuple[tuple[float, Key], ...] = ()
    meters: tuple[tuple[float, int, int], ...] = ()
    bars: tuple[tuple[float, str], ...] = ()

    def __post_init__(self) -> None:
        n = len(np.asarray(self.pitch))
        for name in _INT_FIELDS + _FLOAT_FIELDS:
            dtype = np.float64 if name in _FLOAT_FIELDS else np.int16
            value = getattr(self, name)
            if isinstance(value, np.ndarray) and not value.flags.writeable and value.dtype == dtype and value.ndim == 1:
                arr = value  # already an immutable array of the right type (from another Notes)
            else:
                arr = np.array(value, dtype=dtype).reshape(-1)
                arr.setflags(write=False)
            if len(arr) != n:
                raise ParameterError(f"Notes.{name} has {len(arr)} values but pitch has {n}")
            object.__setattr__(self, name, arr)
        tempos = _tempo_array(self.tempos)
        tempos.setflags(write=False)
        object.__setattr__(self, "tempos", tempos)
        object.__setattr__(self, "keys", tuple((float(b), k) for b, k in self.keys))
        object.__setattr__(self, "meters", tuple((float(b), int(a), int(d)) for b, a, d in self.meters))
        bars = tuple((float(b), str(k)) for b, k in self.bars)
        if any(k not in BAR_KINDS for _, k in bars):
            raise ValueError(f"Notes.bars kinds must be among {BAR_KINDS}, not {sorted({k for _, k in bars})}")
        object.__setattr__(self, "bars", tuple(sorted(bars, key=lambda m: m[0])))

    # -- construction -------------------------------------------------------------------------
    @classmethod
    def from_arrays(
        cls,
        pitch,
        onset,
        duration,
        velocity=None,
        *,
        program=None,
        track=None,
        tempos=None,
        key: Key | str | None = None,
        meter: tuple[int, int] | None = None,
        keys: Iterable[tuple[float, Key]] = (),
        meters: Iterable[tuple[float, int, int]] = (),
        bars: Iterable[tuple[float, str]] = (),
    ) -> "Notes":
        """Build sorted Notes from arrays; missing velocity, program and track get defaults.

        ``key`` and ``meter`` are shorthands for a single key / time signature at beat 0.
        """
        from musicgate.music.keys import parse_key

        n = len(np.asarray(pitch))
        full = lambda v, d: np.full(n, d) if v is None else v  # noqa: E731
        keys = tuple(keys) + (((0.0, parse_key(key)),) if key is not None else ())
        meters = tuple(meters) + (((0.0, meter[0], meter[1]),) if meter is not None else ())
        notes = cls(pitch, onset, duration, full(velocity, 80), full(program, 0), full(track, 0),
                    _tempo_array(tempos), keys, meters, tuple(bars))
        return notes.sorted()

    @classmethod
    def _trusted(cls, pitch, onset, duration, velocity, program, track, tempos=None, keys=(), meters=(),
                 bars=()) -> "Notes":
        """Fast path for readers: arrays already of the right dtype, length and canonical order."""
        self = object.__new__(cls)
        for name, arr in zip(_INT_FIELDS + _FLOAT_FIELDS, (pitch, velocity, program, track, onset, duration)):
            arr.setflags(write=False)
            object.__setattr__(self, name, arr)
        tempos = _tempo_array(tempos)
        tempos.setflags(write=False)
        object.__setattr__(self, "tempos", tempos)
        object.__setattr__(self, "keys", tuple(keys))
        object.__setattr__(self, "meters", tuple(meters))
        object.__setattr__(self, "bars", tuple(bars))
        return self

    @classmethod
    def _from_grid(cls, pitch, on, dur, velocity, program, track, per_beat: int, tempos=None, keys=(),
                   meters=(), bars=()) -> "Notes":
        """Fast path for readers and decoders: integer onsets and durations in steps of ``1/per_beat``
        beat, values as :func:`canonical_order` packs them, put in canonical order."""
        key = (on << 7) | pitch
        if len(key) > 1 and not (key[1:] > key[:-1]).all():  # not yet by onset then pitch, all different
            order = canonical_order(on, pitch, dur, velocity, track, program)
            pitch, on, dur, velocity, program, track = (a[order] for a in (pitch, on, dur, velocity, program, track))
        as16 = lambda a: a.astype(np.int16, copy=False)  # noqa: E731
        return cls._trusted(as16(pitch), on / per_beat, dur / per_beat, as16(velocity), as16(program), as16(track),
                            tempos, keys, meters, bars)

    @classmethod
    def empty(cls, **meta) -> "Notes":
        """Notes with no notes (metadata may still be given)."""
        return cls.from_arrays([], [], [], **meta)

    # -- basic views ---------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.pitch)

    @property
    def key(self) -> Key | None:
        """The first key signature or label, or None."""
        return self.keys[0][1] if self.keys else None

    @property
    def meter(self) -> tuple[int, int] | None:
        """The first time signature as (numerator, denominator), or None."""
        return self.meters[0][1:] if self.meters else None

    @property
    def end(self) -> float:
        """Beat at which the last note ends (0.0 when empty)."""
        return float((self.onset + self.duration).max()) if len(self) else 0.0

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Notes):
            return NotImplemented
        same = all(np.array_equal(getattr(self, f), getattr(other, f)) for f in _INT_FIELDS + _FLOAT_FIELDS)
        return (same and np.array_equal(self.tempos, other.tempos) and self.keys == other.keys
                and self.meters == other.meters and self.bars == other.bars)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        key = self.key.name if self.key else None
        return f"Notes({len(self)} notes, {self.end:.2f} beats, key={key}, meter={self.meter})"

    def _take(self, index) -> "Notes":
        return replace(self, **{f: getattr(self, f)[index] for f in _INT_FIELDS + _FLOAT_FIELDS})

    def sorted(self) -> "Notes":
        """Notes in canonical order: by onset, then pitch, then duration, velocity, track, program."""
        if len(self) < 2:
            return self
        order = np.lexsort((self.pitch, self.onset))
        o, p = self.onset[order], self.pitch[order]
        if np.any((o[1:] == o[:-1]) & (p[1:] == p[:-1])):  # ties: break them by the other fields
            order = canonical_order(self.onset, self.pitch, self.duration, self.velocity, self.track, self.program)
        if np.all(order[1:] > order[:-1]):
            return self
        return self._take(order)

    # -- time ------------------------------------------------------------------------------------
    def seconds(self, beats: np.ndarray | float) -> np.ndarray:
        """Convert beat positions to seconds with the tempo map."""
        beats = np.asarray(beats, dtype=np.float64)
        starts, qpm = self.tempos[:, 0], self.tempos[:, 1]
        sec_per_beat = 60.0 / qpm
        start_sec = np.concatenate([[0.0], np.cumsum(np.diff(starts) * sec_per_beat[:-1])])
        i = np.clip(np.searchsorted(starts, beats, side="right") - 1, 0, len(starts) - 1)
        return start_sec[i] + (beats - starts[i]) * sec_per_beat[i]

    @property
    def onset_seconds(self) -> np.ndarray:
        """(n,) onsets in seconds."""
        return self.seconds(self.onset)

    @property
    def end_seconds(self) -> np.ndarray:
        """(n,) note ends in seconds."""
        return self.seconds(self.onset + self.duration)

    # -- transformations ---------------------------------------------------------------------
    def select(self, mask: np.ndarray) -> "Notes":
        """The notes where the boolean ``mask`` is true (metadata kept)."""
        return self._take(np.asarray(mask, dtype=bool))

    def without_drums(self) -> "Notes":
        """The notes that are not drums."""
        return self.select(self.program != DRUM_PROGRAM)

    def transpose(self, semitones: int) -> "Notes":
        """Pitches and key signatures moved by ``semitones`` (drums untouched)."""
        pitched = self.program != DRUM_PROGRAM
        pitch = np.where(pitched, self.pitch.astype(np.int64) + semitones, self.pitch)
        if len(pitch) and (pitch.min() < 0 or pitch.max() > 127):
            from musicgate.errors import TokenizerError

            raise TokenizerError(f"transposing by {semitones} moves pitches outside MIDI's 0-127")
        keys = tuple((b, k.transpose(semitones)) for b, k in self.keys)
        return replace(self, pitch=pitch, keys=keys)

    def skyline(self) -> "Notes":
        """Monophonic reduction: the highest sounding note at every moment (drums excluded).

        At each onset the highest note is kept; a note that starts while a higher one still
        sounds is dropped; a kept note is cut where the next kept note starts.
        """
        notes = self.without_drums()
        index, duration = skyline_index(notes.onset, notes.duration, notes.pitch)
        return replace(notes._take(index), duration=duration)

    def quantize(self, grid: int = 12, *, min_steps: int = 1, max_steps: int | None = None) -> "Notes":
        """Onsets and durations rounded to ``1/grid`` beat (durations at least ``min_steps``).

        Durations longer than ``max_steps`` grid steps are clipped to it.
        """
        on = np.round(self.onset * grid)
        du = np.maximum(np.round(self.duration * grid), min_steps)
        if max_steps is not None:
            du = np.minimum(du, max_steps)
        bars = tuple((float(np.round(b * grid)) / grid, k) for b, k in self.bars)
        return replace(self, onset=on / grid, duration=du / grid, bars=bars).sorted()

    # -- form --------------------------------------------------------------------------------------
    @property
    def form_marks(self) -> tuple[tuple[float, str], ...]:
        """The bar lines that are not plain: repeat signs, endings and part ends."""
        return tuple(m for m in self.bars if m[1] != "|")

    def played(self) -> "Notes":
        """The notes as played: repeats and first/second endings unrolled (AABB).

        A repeat end ``:|`` goes back to the last repeat start ``|:``, part end ``||`` or earlier
        repeat end, or to the start of the tune when there is none (as musicians do); on the second
        time through, a first ending ``|1`` inside the repeat is skipped and playing goes on after
        the ``:|`` (where the second ending stands). A repeat back to the start of a tune with a
        pickup goes back to the pickup's first note, which follows the short last bar at once (the
        silence before the pickup is played once, at the start). Notes without repeat ends are returned
        as they are. The result carries plain bar lines only; tempo, key and meter marks stay where
        they were.
        """
        lines = [b for b, _ in self.bars if b > 0]
        pickup = float(self.onset.min()) if len(self) and lines and 0 < self.onset.min() < lines[0] else 0.0
        spans = form_spans(self.bars, max(self.end, self.bars[-1][0] if self.bars else 0.0), begin=pickup)
        if len(spans) <= 1:
            return self
        parts, lines, t = [], [], 0.0
        for a, c in spans:
            inside = (self.onset >= a) & (self.onset < c)
            parts.append((np.flatnonzero(inside), t - a))
            lines += [(b - a + t, "|") for b, _ in self.bars if a < b <= c]
            t += c - a
        index = np.concatenate([i for i, _ in parts])
        onset = np.concatenate([self.onset[i] + shift for i, shift in parts])
        out = replace(self._take(index), onset=onset, bars=tuple(dict.fromkeys(lines)))
        return out.sorted()


def form_spans(bars: Iterable[tuple[float, str]], end: float, begin: float = 0.0) -> list[tuple[float, float]]:
    """The (start, stop) beat spans of the written music in the order they are played (see
    :meth:`Notes.played`); one span (0, end) when nothing repeats. A repeat back to the start of the
    tune goes back to ``begin`` (a pickup's first note: the silence before it is played once)."""
    spans, pos, start, first = [], 0.0, float(begin), None
    for b, kind in bars:
        if kind == ":|" and b > pos:
            back_to = first if first is not None and start <= first < b else b
            spans += [(pos, b), (start, back_to)]
            pos, start, first = b, b, None
        elif kind in ("|:", "||"):
            start, first = b, None
        elif kind == "|1":
            first = b
    spans.append((pos, end))
    return [(a, c) for a, c in spans if c > a]


def final_repeat_closed(bars: Iterable[tuple], last_onset: float | None) -> list[tuple]:
    """``bars`` ((position, kind), any unit) with each ``|:`` that has no note at or after it (after
    ``last_onset``; every one when there is no note) read as the final bar line ``||``: a repeat sign
    that opens nothing, as O'Neill's ``|:|`` after a tune's last note is (music21 reads it as ``|:``
    then ``|``). Order kept, repeats dropped."""
    out = [(b, "||" if k == "|:" and (last_onset is None or b > last_onset) else k) for b, k in bars]
    return list(dict.fromkeys(out))


def form_problems(bars: Iterable[tuple[float, str]]) -> list[str]:
    """Unbalanced repeat signs and endings, as short phrases ('repeat end without start', ...);
    empty when the form is balanced. Such music is still read as written (see :meth:`Notes.played`)."""
    problems, open_start, open_first, first_seen = [], False, False, False
    for _, kind in bars:
        if kind == "|:":
            if open_start:
                problems.append("repeat start without end")
            open_start = True
        elif kind == ":|":
            if not open_start:
                problems.append("repeat end without start")
            open_start, open_first = False, False
        elif kind == "|1":
            open_first = first_seen = True
        elif kind == "|2":
            if not first_seen:
                problems.append("second ending without first")
            first_seen = False
        elif kind == "||" and open_first:
            problems.append("first ending without repeat end")
            open_first = False
    if open_start:
        problems.append("repeat start without end")
    if open_first:
        problems.append("first ending without repeat end")
    return list(dict.fromkeys(problems))
