"""Tokenizers: :class:`~musicgate.notes.Notes` to integer ids and back.

Two vocabularies share one small interface (``encode``, ``decode``, ``quantize``, ``vocab``,
``transpose``, ``grammar``, ``save``/``load``):

* ``melody`` for monophonic tunes: ``BOS KEY METER`` then ``BAR`` markers and, per note, a
  ``PITCH`` (or ``REST``) token followed by a ``DUR`` token on a grid (default 1/12 beat).
* ``event`` for polyphonic music (Performance-RNN style): ``BOS KEY METER`` then ``NOTE_ON``,
  ``NOTE_OFF``, ``SHIFT`` (time shift on the beat grid) and ``VEL`` (velocity bin) events.

The round trip is exact on the grid: ``decode(encode(n)) == quantize(n)``. ``quantize`` says
what the vocabulary keeps: drums are dropped; onsets and durations are rounded to the grid
(durations at least one step); velocities fall into bins (melody: one fixed velocity); program,
track and tempo are dropped; only the first key and meter are kept, at beat 0. The melody
vocabulary also reduces to a monophonic line (:meth:`Notes.skyline`) and clips notes longer than
``max_beats``. Pitches outside ``pitch_range`` are an error, never clamped or wrapped.
"""
from __future__ import annotations

import hashlib
import json
import os
from dataclasses import replace
from pathlib import Path

import numpy as np

from .errors import TokenizerError
from .files import atomic_write_json
from .keys import MODES, Key
from .notes import DRUM_PROGRAM, Notes

METERS = ("2/2", "3/2", "4/2", "2/4", "3/4", "4/4", "5/4", "6/4", "7/4", "3/8", "5/8", "6/8", "7/8", "9/8", "12/8")
"""Time signatures with a METER token; others are encoded as METER_unknown."""
MELODY_VELOCITY = 96
"""Velocity of every note decoded from the melody vocabulary."""
MAX_TOKENS = 10_000_000
"""Longest token sequence ``encode`` will build; longer means absurd timing, and is an error."""


class Tokenizer:
    """Base class: the shared header (``BOS KEY METER``), key transposition and persistence.

    Subclasses set ``kind`` and build ``vocab`` in ``_event_tokens``.
    """

    kind = ""

    def __init__(self, *, grid: int = 12, pitch_range: tuple[int, int] = (0, 127)) -> None:
        lo, hi = (int(p) for p in pitch_range)
        if not (0 <= lo <= hi <= 127):
            raise TokenizerError(f"pitch_range {pitch_range} must lie within 0..127, low <= high")
        if int(grid) < 1:
            raise TokenizerError(f"grid must be a positive number of steps per beat, not {grid}")
        self.grid, self.pitch_range = int(grid), (lo, hi)
        keys = [f"KEY_{Key(t, m).tonic_name}_{m}" for m in MODES for t in range(12)]
        head = ["PAD", "BOS", "EOS", *keys, "KEY_unknown", *(f"METER_{m}" for m in METERS), "METER_unknown"]
        self.vocab: list[str] = head + self._event_tokens()
        self.ids: dict[str, int] = {tok: i for i, tok in enumerate(self.vocab)}
        self.pad_id, self.bos_id, self.eos_id = 0, 1, 2
        self.key_base = 3
        self.key_unknown_id = self.key_base + 12 * len(MODES)
        self.meter_base = self.key_unknown_id + 1
        self.meter_unknown_id = self.meter_base + len(METERS)
        self.pitch_of = np.full(len(self.vocab), -1, np.int64)
        """(V,) pitch carried by each token id, -1 for none."""
        self._fill_pitch_of()

    # -- to be provided by each vocabulary ------------------------------------------------------
    def _event_tokens(self) -> list[str]:
        raise NotImplementedError

    def _fill_pitch_of(self) -> None:
        raise NotImplementedError

    def quantize(self, notes: Notes) -> Notes:
        """The notes as this vocabulary represents them (see the module docstring)."""
        raise NotImplementedError

    def encode(self, notes: Notes) -> np.ndarray:
        """Token ids (int32) for ``notes``: ``BOS KEY METER ... EOS``."""
        raise NotImplementedError

    def decode(self, ids) -> Notes:
        """Notes for token ids. Any sequence the grammar allows decodes; stray tokens are ignored."""
        raise NotImplementedError

    def grammar(self):
        """A :class:`~musicgate.grammar.Grammar` for constrained sampling."""
        raise NotImplementedError

    # -- shared --------------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.vocab)

    @property
    def config(self) -> dict:
        """Everything needed to rebuild this tokenizer (see :func:`load_tokenizer`)."""
        return {"kind": self.kind, "grid": self.grid, "pitch_range": list(self.pitch_range)}

    @property
    def fingerprint(self) -> str:
        """A short hash of the config and vocabulary: equal fingerprints, equal ids."""
        blob = json.dumps([self.config, self.vocab]).encode()
        return hashlib.sha256(blob).hexdigest()[:16]

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Tokenizer) and self.config == other.config

    def __repr__(self) -> str:
        return f"{type(self).__name__}({len(self)} tokens, {self.config})"

    def save(self, path: "str | os.PathLike") -> Path:
        """Write the config and vocabulary as JSON (atomically)."""
        return atomic_write_json(path, {**self.config, "vocab": self.vocab})

    def key_id(self, key: Key | None) -> int:
        """The KEY token id for ``key`` (``KEY_unknown`` for None)."""
        if key is None:
            return self.key_unknown_id
        return self.key_base + MODES.index(key.mode) * 12 + key.tonic

    def key_of(self, ids) -> Key | None:
        """The key named by the first KEY token of ``ids``, or None."""
        ids = np.asarray(ids)
        hits = ids[(ids >= self.key_base) & (ids < self.key_unknown_id)]
        if len(hits) == 0:
            return None
        k = int(hits[0]) - self.key_base
        return Key(k % 12, MODES[k // 12])

    def meter_id(self, meter: tuple[int, int] | None) -> int:
        """The METER token id for (numerator, denominator); unknown when not in :data:`METERS`."""
        name = f"{meter[0]}/{meter[1]}" if meter else None
        return self.meter_base + METERS.index(name) if name in METERS else self.meter_unknown_id

    def _header(self, notes: Notes) -> list[int]:
        return [self.bos_id, self.key_id(notes.key), self.meter_id(notes.meter)]

    def _meta_from_ids(self, ids: np.ndarray) -> dict:
        key = self.key_of(ids)
        met = ids[(ids >= self.meter_base) & (ids < self.meter_unknown_id)]
        meter = tuple(int(x) for x in METERS[int(met[0]) - self.meter_base].split("/")) if len(met) else None
        return {"key": key, "meter": meter}

    def _check_pitch(self, notes: Notes) -> None:
        lo, hi = self.pitch_range
        if len(notes) and (notes.pitch.min() < lo or notes.pitch.max() > hi):
            bad = notes.pitch[(notes.pitch < lo) | (notes.pitch > hi)][0]
            raise TokenizerError(f"pitch {bad} is outside this vocabulary's range {lo}-{hi}; transpose "
                                 "the music or build the tokenizer with a wider pitch_range")

    def _base_quantize(self, notes: Notes) -> tuple[np.ndarray, dict]:
        """Shared part of quantize: which notes stay (no drums) and the metadata the header keeps."""
        key = notes.key
        meter = notes.meter if self.meter_id(notes.meter) != self.meter_unknown_id else None
        meta = {"keys": ((0.0, key),) if key else (), "meters": ((0.0, *meter),) if meter else ()}
        return notes.program != DRUM_PROGRAM, meta

    def _notes(self, pitch, on_steps, du_steps, velocity, meta: dict) -> Notes:
        """Sorted Notes from grid steps, on one track with program 0 and the default tempo."""
        zeros = np.zeros(len(pitch), np.int16)
        return Notes(pitch, on_steps / self.grid, du_steps / self.grid, velocity, zeros, zeros, **meta).sorted()

    def transpose(self, ids, semitones: int) -> np.ndarray:
        """Move pitch tokens and the KEY token by ``semitones``.

        Raises
        ------
        TokenizerError
            If a pitch would leave ``pitch_range`` (see :meth:`shift_range`).
        """
        ids = np.asarray(ids)
        lo_shift, hi_shift = self.shift_range(ids)
        if not lo_shift <= semitones <= hi_shift:
            raise TokenizerError(f"cannot transpose by {semitones}: pitches would leave "
                                 f"{self.pitch_range}; allowed shifts are {lo_shift}..{hi_shift}")
        out = ids.copy()
        is_pitch = self.pitch_of[ids] >= 0
        out[is_pitch] = ids[is_pitch] + semitones  # pitch tokens of one kind are contiguous
        is_key = (ids >= self.key_base) & (ids < self.key_unknown_id)
        k = ids[is_key] - self.key_base
        out[is_key] = self.key_base + (k // 12) * 12 + (k % 12 + semitones) % 12
        return out

    def shift_range(self, ids) -> tuple[int, int]:
        """(lowest, highest) transposition in semitones that keeps every pitch in range."""
        pitches = self.pitch_of[np.asarray(ids)]
        pitches = pitches[pitches >= 0]
        if len(pitches) == 0:
            return -11, 11
        lo, hi = self.pitch_range
        return max(lo - int(pitches.min()), -11), min(hi - int(pitches.max()), 11)

    def _as_ids(self, ids) -> np.ndarray:
        ids = np.asarray(ids, dtype=np.int64).reshape(-1)
        if len(ids) and (ids.min() < 0 or ids.max() >= len(self.vocab)):
            bad = ids[(ids < 0) | (ids >= len(self.vocab))][0]
            raise TokenizerError(f"token id {bad} is not in this {self.kind} vocabulary of {len(self)} tokens")
        return ids


class MelodyTokenizer(Tokenizer):
    """Monophonic tunes: per note a PITCH (or REST) token and a DUR token; BAR markers.

    Parameters
    ----------
    grid : int
        Grid steps per beat (12: sixteenths and triplets both fit).
    pitch_range : (low, high)
        Lowest and highest MIDI pitch with a token.
    max_beats : int
        Longest note in beats; longer notes are clipped by ``quantize``, longer rests split.
    """

    kind = "melody"

    def __init__(self, *, grid: int = 12, pitch_range: tuple[int, int] = (0, 127), max_beats: int = 8) -> None:
        self.max_steps = int(max_beats) * int(grid)
        if self.max_steps < 1:
            raise TokenizerError(f"max_beats must be positive, not {max_beats}")
        self.max_beats = int(max_beats)
        super().__init__(grid=grid, pitch_range=pitch_range)
        self.bar_id, self.rest_id = self.ids["BAR"], self.ids["REST"]
        self.pitch_base, self.dur_base = self.ids[f"PITCH_{self.pitch_range[0]}"], self.ids["DUR_1"]

    @property
    def config(self) -> dict:
        return {**super().config, "max_beats": self.max_beats}

    def _event_tokens(self) -> list[str]:
        lo, hi = self.pitch_range
        return (["BAR", "REST"] + [f"PITCH_{p}" for p in range(lo, hi + 1)]
                + [f"DUR_{d}" for d in range(1, self.max_steps + 1)])

    def _fill_pitch_of(self) -> None:
        base = self.ids[f"PITCH_{self.pitch_range[0]}"]
        n = self.pitch_range[1] - self.pitch_range[0] + 1
        self.pitch_of[base:base + n] = np.arange(self.pitch_range[0], self.pitch_range[1] + 1)

    def quantize(self, notes: Notes) -> Notes:
        keep, meta = self._base_quantize(notes)
        on = np.round(notes.onset[keep] * self.grid)
        du = np.maximum(np.round(notes.duration[keep] * self.grid), 1)
        line = self._notes(notes.pitch[keep], on, du, notes.velocity[keep], meta).skyline()
        steps = np.minimum(np.round(line.duration * self.grid), self.max_steps)
        return self._notes(line.pitch, np.round(line.onset * self.grid), steps,
                           np.full(len(line), MELODY_VELOCITY), meta)

    def _bar_steps(self, meter: tuple[int, int] | None) -> int:
        num, den = meter or (4, 4)
        return max(int(round(num * 4 / den * self.grid)), 1)

    def encode(self, notes: Notes) -> np.ndarray:
        q = self.quantize(notes)
        self._check_pitch(q)
        on = np.round(q.onset * self.grid).astype(np.int64)
        du = np.round(q.duration * self.grid).astype(np.int64)
        bar = self._bar_steps(q.meter)
        # Segments: a rest before each note where there is a gap, then the note. Rests are cut at
        # bar lines and at max_steps, so every segment fits one DUR token.
        prev_end = np.r_[0, on[:-1] + du[:-1]]
        starts, lengths, tokens = [], [], []
        for i in np.flatnonzero(on > prev_end):
            t, end = int(prev_end[i]), int(on[i])
            while t < end:
                step = min(end - t, self.max_steps, (t // bar + 1) * bar - t)
                starts.append(t), lengths.append(step), tokens.append(self.rest_id)
                t += step
        seg_start = np.r_[np.array(starts, np.int64), on]
        seg_len = np.r_[np.array(lengths, np.int64), du]
        seg_tok = np.r_[np.array(tokens, np.int64), self.pitch_base + q.pitch.astype(np.int64) - self.pitch_range[0]]
        order = np.argsort(seg_start, kind="stable")
        seg_start, seg_len, seg_tok = seg_start[order], seg_len[order], seg_tok[order]
        bar_no = seg_start // bar
        n_bars = np.diff(np.r_[-1, bar_no])  # BAR tokens before each segment (one at the start)
        total = 4 + int(n_bars.sum()) + 2 * len(seg_start)
        if total > MAX_TOKENS:
            raise TokenizerError(f"encoding would take {total:,} tokens (limit {MAX_TOKENS:,}); the timing is absurd")
        per_seg = n_bars + 2
        ends = np.cumsum(per_seg)
        body = np.full(int(ends[-1]) if len(ends) else 0, self.bar_id, np.int64)
        body[ends - 2] = seg_tok
        body[ends - 1] = self.dur_base + seg_len - 1
        return np.r_[self._header(q), body, self.eos_id].astype(np.int32)

    def decode(self, ids) -> Notes:
        ids = self._as_ids(ids)
        meta = self._meta_from_ids(ids)
        ev = ids[(ids == self.rest_id) | (self.pitch_of[ids] >= 0) | (ids >= self.dur_base)]
        is_dur = ev >= self.dur_base
        # An event is a PITCH or REST token immediately followed by a DUR token.
        ok = ~is_dur[:-1] & is_dur[1:]
        head, dur_tok = ev[:-1][ok], ev[1:][ok]
        steps = dur_tok - self.dur_base + 1
        on = np.r_[0, np.cumsum(steps)[:-1]]
        note = head != self.rest_id
        pitch = self.pitch_of[head[note]]
        return Notes.from_arrays(pitch, on[note] / self.grid, steps[note] / self.grid,
                                 np.full(len(pitch), MELODY_VELOCITY), **meta)

    def grammar(self):
        from .grammar import MelodyGrammar

        return MelodyGrammar(self)


class EventTokenizer(Tokenizer):
    """Polyphonic music as NOTE_ON / NOTE_OFF / SHIFT / VEL events (Performance-RNN style).

    Parameters
    ----------
    grid : int
        Grid steps per beat.
    pitch_range : (low, high)
        Lowest and highest MIDI pitch with NOTE_ON/NOTE_OFF tokens.
    velocity_bins : int
        16 or 32 (or any 1..128) equal bins over MIDI velocity.
    max_shift_beats : int
        Longest single SHIFT token; longer gaps use several.
    """

    kind = "event"

    def __init__(self, *, grid: int = 12, pitch_range: tuple[int, int] = (0, 127), velocity_bins: int = 32,
                 max_shift_beats: int = 2) -> None:
        if not 1 <= int(velocity_bins) <= 128:
            raise TokenizerError(f"velocity_bins must be in 1..128, not {velocity_bins}")
        self.velocity_bins, self.max_shift_beats = int(velocity_bins), int(max_shift_beats)
        self.max_shift = self.max_shift_beats * int(grid)
        if self.max_shift < 1:
            raise TokenizerError(f"max_shift_beats must be positive, not {max_shift_beats}")
        super().__init__(grid=grid, pitch_range=pitch_range)
        lo = self.pitch_range[0]
        self.on_base, self.off_base = self.ids[f"NOTE_ON_{lo}"], self.ids[f"NOTE_OFF_{lo}"]
        self.shift_base, self.vel_base = self.ids["SHIFT_1"], self.ids["VEL_0"]
        self.n_pitch = self.pitch_range[1] - lo + 1

    @property
    def config(self) -> dict:
        return {**super().config, "velocity_bins": self.velocity_bins, "max_shift_beats": self.max_shift_beats}

    def _event_tokens(self) -> list[str]:
        lo, hi = self.pitch_range
        return ([f"NOTE_ON_{p}" for p in range(lo, hi + 1)] + [f"NOTE_OFF_{p}" for p in range(lo, hi + 1)]
                + [f"SHIFT_{s}" for s in range(1, self.max_shift + 1)] + [f"VEL_{b}" for b in range(self.velocity_bins)])

    def _fill_pitch_of(self) -> None:
        lo, hi = self.pitch_range
        for prefix in ("NOTE_ON", "NOTE_OFF"):
            base = self.ids[f"{prefix}_{lo}"]
            self.pitch_of[base:base + hi - lo + 1] = np.arange(lo, hi + 1)

    def velocity_bin(self, velocity: np.ndarray) -> np.ndarray:
        """Bin index of MIDI velocities."""
        return np.clip(np.asarray(velocity, np.int64), 0, 127) * self.velocity_bins // 128

    def bin_velocity(self, b: np.ndarray) -> np.ndarray:
        """Representative MIDI velocity of bin indices (the bin's middle, at least 1)."""
        return np.clip(((2 * np.asarray(b, np.int64) + 1) * 128) // (2 * self.velocity_bins), 1, 127)

    def _grid(self, notes: Notes) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict]:
        """(pitch, onset steps, duration steps, velocity bin, meta) of the quantized notes,
        in canonical order (onset, pitch)."""
        keep, meta = self._base_quantize(notes)
        on = np.round(notes.onset[keep] * self.grid).astype(np.int64)
        du = np.maximum(np.round(notes.duration[keep] * self.grid), 1).astype(np.int64)
        pitch, vel = notes.pitch[keep].astype(np.int64), notes.velocity[keep]
        # Same pitch: a later note cuts the sounding one; two at one onset merge into the longer.
        order = np.lexsort((-du, (pitch << 40) | on))
        p, o, d, v = pitch[order], on[order], du[order], vel[order]
        dup = np.zeros(len(p), bool)  # not the first (longest) note at its (pitch, onset)
        dup[1:] = (p[1:] == p[:-1]) & (o[1:] == o[:-1])
        if dup.any():
            p, o, d, v = p[~dup], o[~dup], d[~dup], v[~dup]
        if len(p):
            same_next = np.empty(len(p), bool)
            same_next[:-1], same_next[-1] = p[1:] == p[:-1], False
            nxt = np.empty_like(o)
            nxt[:-1], nxt[-1] = o[1:], 0
            d = np.where(same_next, np.minimum(d, nxt - o), d)
        order = np.argsort((o << 7) | p)
        return p[order], o[order], d[order], self.velocity_bin(v[order]), meta

    def quantize(self, notes: Notes) -> Notes:
        p, o, d, vb, meta = self._grid(notes)
        zeros = np.zeros(len(p), np.int16)
        return Notes._trusted(p.astype(np.int16), o / self.grid, d / self.grid, self.bin_velocity(vb).astype(np.int16),
                              zeros, zeros.copy(), None, meta["keys"], meta["meters"])

    def encode(self, notes: Notes) -> np.ndarray:
        pitch, on, du, vb, meta = self._grid(notes)
        lo, hi = self.pitch_range
        if len(pitch) and (pitch.min() < lo or pitch.max() > hi):
            self._check_pitch(Notes._trusted(pitch.astype(np.int16), *(np.zeros(len(pitch)),) * 2,
                                             *(np.zeros(len(pitch), np.int16),) * 3))
        n = len(pitch)
        off = on + du
        rel = pitch - lo
        # Events sorted by time; at one time NOTE_OFFs come before NOTE_ONs.
        t = np.concatenate([off, on])
        is_on = np.concatenate([np.zeros(n, bool), np.ones(n, bool)])
        tok = np.concatenate([self.off_base + rel, self.on_base + rel])
        vbin = np.concatenate([np.full(n, -1), vb])
        order = np.argsort((t << 20) | (is_on.astype(np.int64) << 19) | tok)  # by time, OFF first, token
        t, is_on, tok, vbin = t[order], is_on[order], tok[order], vbin[order]
        gap = np.diff(t, prepend=0)
        full, rem = gap // self.max_shift, gap % self.max_shift
        n_shift = full + (rem > 0)
        on_vbin = vbin[is_on]
        vel_change = np.zeros(len(t), bool)
        vel_change[is_on] = np.diff(on_vbin, prepend=-1) != 0
        per_event = n_shift + vel_change + 1
        total = 4 + int(per_event.sum())
        if total > MAX_TOKENS:
            raise TokenizerError(f"encoding would take {total:,} tokens (limit {MAX_TOKENS:,}); the timing is absurd")
        ends = np.cumsum(per_event)
        starts = ends - per_event
        body = np.empty(int(ends[-1]) if len(ends) else 0, np.int64)
        body[ends - 1] = tok
        body[(ends - 2)[vel_change]] = self.vel_base + vbin[vel_change]
        # SHIFT tokens: the first `full` of an event's shifts are max_shift long, then the remainder.
        ev = np.repeat(np.arange(len(t)), n_shift)
        j = np.arange(len(ev)) - np.repeat(np.cumsum(n_shift) - n_shift, n_shift)
        length = np.where(j < full[ev], self.max_shift, rem[ev])
        body[starts[ev] + j] = self.shift_base + length - 1
        key, meter = (meta["keys"][0][1] if meta["keys"] else None), (meta["meters"][0][1:] if meta["meters"] else None)
        header = [self.bos_id, self.key_id(key), self.meter_id(meter)]
        return np.concatenate([header, body, [self.eos_id]]).astype(np.int32)

    def decode(self, ids) -> Notes:
        ids = self._as_ids(ids)
        meta = self._meta_from_ids(ids)
        is_shift = (ids >= self.shift_base) & (ids < self.shift_base + self.max_shift)
        time = np.cumsum(np.where(is_shift, ids - self.shift_base + 1, 0))
        is_vel = ids >= self.vel_base
        last_vel = np.maximum.accumulate(np.where(is_vel, np.arange(len(ids)), -1)) if len(ids) else ids
        vel_bin = np.where(last_vel >= 0, ids[np.maximum(last_vel, 0)] - self.vel_base, self.velocity_bins // 2)
        is_on = (ids >= self.on_base) & (ids < self.on_base + self.n_pitch)
        is_off = (ids >= self.off_base) & (ids < self.off_base + self.n_pitch)
        pos = np.flatnonzero(is_on | is_off)
        pitch = self.pitch_of[ids[pos]]
        order = np.lexsort((pos, pitch))  # per pitch, in sequence order
        pos, pitch = pos[order], pitch[order]
        on = is_on[pos]
        same_next = np.r_[pitch[1:] == pitch[:-1], False]
        # A NOTE_ON ends at the next event of its pitch (its NOTE_OFF, or a new NOTE_ON);
        # a note still sounding at the end of the sequence ends at the last time (one step at least).
        end_time = np.where(same_next, time[np.r_[pos[1:], 0]], time[-1] if len(time) else 0)
        start = time[pos]
        sel = on
        start, end, p, vb = start[sel], end_time[sel], pitch[sel], vel_bin[pos[sel]]
        dur = np.maximum(end - start, 1)
        return Notes.from_arrays(p, start / self.grid, dur / self.grid, self.bin_velocity(vb), **meta)

    def grammar(self):
        from .grammar import EventGrammar

        return EventGrammar(self)


TOKENIZERS = {"melody": MelodyTokenizer, "event": EventTokenizer}


def make_tokenizer(kind: str = "melody", **config) -> Tokenizer:
    """A tokenizer of the named kind (``melody`` or ``event``) with the given settings."""
    if kind not in TOKENIZERS:
        raise TokenizerError(f"unknown vocabulary {kind!r}; valid: {', '.join(TOKENIZERS)}")
    try:
        return TOKENIZERS[kind](**config)
    except TypeError as exc:
        raise TokenizerError(f"bad setting for the {kind} vocabulary: {exc}") from None


def load_tokenizer(source: "str | os.PathLike | dict") -> Tokenizer:
    """Rebuild a tokenizer from its saved JSON (a path, or the dict :meth:`Tokenizer.save` wrote)."""
    if isinstance(source, dict):
        data, name = dict(source), "tokenizer config"
    else:
        name = str(source)
        try:
            data = json.loads(Path(source).read_text())
        except (OSError, ValueError) as exc:
            raise TokenizerError(f"{name}: not a readable tokenizer JSON ({exc})") from None
    if not isinstance(data, dict) or "kind" not in data:
        raise TokenizerError(f"{name}: not a musicgate tokenizer (no 'kind' field)")
    vocab = data.pop("vocab", None)
    tok = make_tokenizer(data.pop("kind"), **data)
    if vocab is not None and vocab != tok.vocab:
        raise TokenizerError(f"{name}: its vocabulary differs from the one this version of musicgate "
                             "builds from the same settings; re-tokenize the data")
    return tok
