"""Tokenizers: :class:`~musicgate.music.notes.Notes` to integer ids and back.

Two vocabularies share one small interface (``encode``, ``decode``, ``quantize``, ``vocab``,
``transpose``, ``grammar``, ``save``/``load``):

* ``melody`` for monophonic tunes: ``BOS KEY METER`` then ``BAR`` markers and, per note, a
  ``PITCH`` (or ``REST``) token followed by a ``DUR`` token on a grid (default 1/12 beat). With
  ``form=True`` (the default for new tokenizers) bar lines stand where the music's bar lines are (a
  pickup before the first), a note that crosses a bar line is split into PITCH DUR ... TIE DUR, and
  repeat signs, first and second endings and part ends are tokens (see :mod:`musicgate.tokens.bars`).
* ``event`` for polyphonic music (Performance-RNN style): ``BOS KEY METER`` then ``NOTE_ON``,
  ``NOTE_OFF``, ``SHIFT`` (time shift on the beat grid) and ``VEL`` (velocity bin) events; with
  ``programs=True`` also ``PROGRAM`` (instrument changes) and ``DRUM`` (drum hits) events.

The round trip is exact on the grid: ``decode(encode(n)) == quantize(n)``. ``quantize`` says
what the vocabulary keeps: drums are dropped; onsets and durations are rounded to the grid
(durations at least one step); velocities fall into bins (melody: one fixed velocity); program,
track and tempo are dropped (the event vocabulary with ``programs=True`` keeps program and drums,
drum hits one step long); only the first key and meter are kept, at beat 0; with ``form``, the
bar lines are kept (as :mod:`musicgate.tokens.bars` places them, and a pickup moved so the first
bar line falls one bar after beat 0), without it they are dropped. The melody vocabulary also reduces to a monophonic line (:meth:`Notes.skyline`) and clips notes longer than
``max_beats``. Pitches outside ``pitch_range`` are an error, never clamped or wrapped; so are notes
that start before beat 0 (time counts from the first token).
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np

from musicgate.errors import TokenizerError
from musicgate.files import atomic_write_json
from musicgate.music.keys import MODES, Key
from musicgate.music.notes import DRUM_PROGRAM, Notes, canonical_order, final_repeat_closed, skyline_index
from musicgate.tokens.bars import FORM_TOKENS, bar_fill, normal_lines, place, start_step

METERS = ("2/2", "3/2", "4/2", "2/4", "3/4", "4/4", "5/4", "6/4", "7/4", "3/8", "5/8", "6/8", "7/8", "9/8", "12/8")
"""Time signatures with a METER token; others are encoded as METER_unknown."""
MELODY_VELOCITY = 96
"""Velocity of every note decoded from the melody vocabulary."""
MAX_TOKENS = 10_000_000
"""Longest token sequence ``encode`` will build; longer means absurd timing, and is an error."""


def _first(ids: np.ndarray, lo: int, hi: int) -> int | None:
    """The first id in ``lo..hi-1`` (looked for in the header first), or None."""
    for x in ids[:3].tolist():
        if lo <= x < hi:
            return x
    hits = ids[(ids >= lo) & (ids < hi)]
    return int(hits[0]) if len(hits) else None


def _voice_onset_longest_first(voice: np.ndarray, on: np.ndarray, du: np.ndarray) -> np.ndarray:
    """Indices that order notes by voice (pitch, or program and pitch), then onset step, then longest first
    (stable)."""
    if len(on) and voice.min() >= 0 and on.min() >= 0 and du.min() >= 0:
        vo_bits, on_bits, du_bits = (int(a.max()).bit_length() for a in (voice, on, du))
        if vo_bits + on_bits + du_bits <= 63:
            longest_first = (1 << du_bits) - 1 - du
            return np.argsort((voice.astype(np.int64) << (on_bits + du_bits)) | (on << du_bits) | longest_first,
                              kind="stable")
    return np.lexsort((-du, on, voice))


class Tokenizer:
    """Base class: the shared header (``BOS KEY METER``), key transposition and persistence.

    Subclasses set ``kind`` and build ``vocab`` in ``_event_tokens``.
    """

    kind = ""
    #: whether the vocabulary has bar lines, so a sampler can keep the meter
    has_meter = False

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
        self._keys = [Key(t, m) for m in MODES for t in range(12)]  # by KEY id - key_base
        self._meters = [(0.0, *(int(x) for x in m.split("/"))) for m in METERS]  # by METER id - meter_base
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
        """A :class:`~musicgate.tokens.grammar.Grammar` for constrained sampling."""
        raise NotImplementedError

    def fillers(self) -> np.ndarray:
        """(V,) bool: the tokens that add no note (bar lines, rests, ties; time shifts, velocities)."""
        raise NotImplementedError

    def close(self, grammar, state, mask: np.ndarray, rows: np.ndarray) -> None:
        """Restrict ``mask[rows]`` (the allowed tokens of sequences that have all their notes, under
        ``grammar`` in ``state``) to the tokens that end them soonest; EOS where the grammar allows it."""
        raise NotImplementedError

    # -- sampling: the same for every vocabulary unless one says otherwise -----------------------------
    def note_starts(self) -> np.ndarray:
        """(V,) bool: the tokens that start a note (PITCH in the melody vocabulary, NOTE_ON in the event one)."""
        return self.pitch_of >= 0

    def token_of_pitch(self) -> np.ndarray:
        """(128,) int: the note-start token of each MIDI pitch (:meth:`note_starts`), -1 where there is none."""
        out = np.full(128, -1, np.int64)
        ids = np.flatnonzero(self.note_starts())
        out[self.pitch_of[ids]] = ids
        return out

    def sampling_grammar(self, meter: bool | None = None):
        """The grammar a sampler applies; ``meter`` True asks for whole bars of the meter.

        Raises
        ------
        ConfigError
            ``meter`` is True and the vocabulary has no bar lines.
        """
        if meter:
            from musicgate.errors import ConfigError

            raise ConfigError(f"the meter grammar needs a melody-vocabulary model; this one uses the "
                              f"{self.kind} vocabulary (leave the meter setting out)")
        return self.grammar()

    def check_primer(self, ids: np.ndarray) -> None:
        """Raise :class:`TokenizerError` unless ``ids`` (EOS and padding cut off) can start a sequence."""
        if len(ids) < 3 or not self.grammar().is_valid(ids):
            raise TokenizerError(f"primer ids ({len(ids)} tokens) are not a valid start of a {self.kind} "
                                 "sequence (BOS KEY METER ...); build them with tokenizer.encode(notes)")

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
        k = _first(np.asarray(ids), self.key_base, self.key_unknown_id)
        return None if k is None else self._keys[k - self.key_base]

    def meter_of(self, ids) -> tuple[int, int] | None:
        """The time signature named by the first known METER token of ``ids``, or None."""
        m = _first(np.asarray(ids), self.meter_base, self.meter_unknown_id)
        return None if m is None else self._meters[m - self.meter_base][1:]

    def meter_id(self, meter: tuple[int, int] | None) -> int:
        """The METER token id for (numerator, denominator); unknown when not in :data:`METERS`."""
        name = f"{meter[0]}/{meter[1]}" if meter else None
        return self.meter_base + METERS.index(name) if name in METERS else self.meter_unknown_id

    def _header(self, keys: tuple, meters: tuple) -> list[int]:
        """BOS, KEY and METER ids for the keys and meters ``quantize`` keeps."""
        key, meter = keys[0][1] if keys else None, meters[0][1:] if meters else None
        return [self.bos_id, self.key_id(key), self.meter_id(meter)]

    def _meta_from_ids(self, ids: np.ndarray) -> dict:
        """The keys and meters (Notes fields) named by the first KEY and known METER tokens."""
        key, met = self.key_of(ids), _first(ids, self.meter_base, self.meter_unknown_id)
        meters = (self._meters[met - self.meter_base],) if met is not None else ()
        return {"keys": ((0.0, key),) if key else (), "meters": meters}

    def _check_encodable(self, pitch: np.ndarray, on: np.ndarray, du: np.ndarray) -> None:
        """Pitches must lie in ``pitch_range``; onsets (grid steps) must not be before 0; durations must be
        numbers."""
        lo, hi = self.pitch_range
        if len(pitch) and (pitch.min() < lo or pitch.max() > hi):
            bad = pitch[(pitch < lo) | (pitch > hi)][0]
            raise TokenizerError(f"pitch {bad} is outside this vocabulary's range {lo}-{hi}; transpose "
                                 "the music or build the tokenizer with a wider pitch_range")
        if len(on) and (on.min() < 0 or du.min() < 1):  # NaN became a negative integer
            raise TokenizerError("a note starts before beat 0, or has no numeric onset or duration; "
                                 f"{self.kind} tokens count time from beat 0")

    def _base_quantize(self, notes: Notes) -> tuple[np.ndarray, dict]:
        """Shared part of quantize: which notes stay (no drums) and the metadata the header keeps."""
        key = notes.key
        meter = notes.meter if self.meter_id(notes.meter) != self.meter_unknown_id else None
        meta = {"keys": ((0.0, key),) if key else (), "meters": ((0.0, *meter),) if meter else ()}
        return notes.program != DRUM_PROGRAM, meta

    def _notes(self, pitch, on_steps, du_steps, velocity, meta: dict) -> Notes:
        """Notes in canonical order from integer grid steps (none negative), on one track with program 0
        and the default tempo."""
        zeros = np.zeros(len(pitch), np.int16)
        return Notes._from_grid(pitch, on_steps, du_steps, velocity, zeros, zeros, self.grid, **meta)

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

    def note_index(self, ids) -> np.ndarray:
        """(T,) int64: for each token position, the index of the last note that ``decode(ids[:t + 1])``
        has (so ``note_index(ids)[t] + 1 == len(decode(ids[:t + 1]))``), -1 before the first note.

        One linear pass over the tokens, where decoding every prefix would be quadratic; it maps
        token steps (gate traces) to notes (pictures on a note axis).
        """
        raise NotImplementedError


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
    form : bool
        Bar lines where the music has them, a pickup before the first, ``TIE`` at bar lines, and the
        tokens ``REPEAT_START`` ``REPEAT_END`` ``ENDING_1`` ``ENDING_2`` ``PART_END`` (``|: :| |1 |2 ||``),
        each standing where a bar line stands, instead of the BAR. False: the vocabulary of musicgate
        0.x (BARs from beat 0 on the first meter's grid, notes crossing them; a saved config without
        ``form`` loads so).
    """

    kind = "melody"
    has_meter = True

    def __init__(self, *, grid: int = 12, pitch_range: tuple[int, int] = (0, 127), max_beats: int = 8,
                 form: bool = True) -> None:
        self.max_steps = int(max_beats) * int(grid)
        if self.max_steps < 1:
            raise TokenizerError(f"max_beats must be positive, not {max_beats}")
        self.max_beats, self.form = int(max_beats), bool(form)
        super().__init__(grid=grid, pitch_range=pitch_range)
        self.bar_id, self.rest_id = self.ids["BAR"], self.ids["REST"]
        self.pitch_base, self.dur_base = self.ids[f"PITCH_{self.pitch_range[0]}"], self.ids["DUR_1"]
        self._is_event = (self.pitch_of >= 0) | (np.arange(len(self.vocab)) >= self.dur_base)  # PITCH, REST, DUR
        self._is_event[self.rest_id] = True
        self.tie_id: int | None = self.ids.get("TIE")
        """Id of TIE (the rest of a note split at a bar line; it stands where a PITCH stands), None without form."""
        self.line_kind = {self.bar_id: "|", **({self.ids[t]: k for k, t in FORM_TOKENS.items()} if self.form else {})}
        """Bar-line kind (``|``, ``|:``, ``:|``, ``|1``, ``|2``, ``||``) of each token id that marks a bar line."""
        self.barline_ids = np.array(sorted(self.line_kind), np.int64)
        """(k,) ids of every token that marks a bar line: BAR and, with form, the form tokens."""
        self._is_head = self._is_event & (np.arange(len(self.vocab)) < self.dur_base)  # PITCH, REST, TIE
        if self.tie_id is not None:
            self._is_head[self.tie_id] = True
        self._line_kinds = sorted(set(self.line_kind.values()))
        self._line_code = np.full(len(self.vocab), -1, np.int64)
        for token, kind in self.line_kind.items():
            self._line_code[token] = self._line_kinds.index(kind)

    @property
    def config(self) -> dict:
        return {**super().config, "max_beats": self.max_beats, **({"form": True} if self.form else {})}

    def lookback_clock(self) -> dict:
        """The token tables of the bar clock that lookback inputs read (:mod:`musicgate.nn.lookback`):
        each DUR's grid steps, the tokens after which a DUR is due (PITCH, REST, TIE), the bar lines."""
        pending = [*np.flatnonzero(self.pitch_of >= 0).tolist(), self.rest_id,
                   *([] if self.tie_id is None else [self.tie_id])]
        return {"dur_ids": list(range(self.dur_base, self.dur_base + self.max_steps)),
                "dur_steps": list(range(1, self.max_steps + 1)), "pending_ids": [int(i) for i in pending],
                "line_ids": [int(i) for i in self.barline_ids], "pad_id": int(self.pad_id)}

    def _event_tokens(self) -> list[str]:
        lo, hi = self.pitch_range
        form = ["TIE", *FORM_TOKENS.values()] if self.form else []
        return (["BAR", "REST", *form] + [f"PITCH_{p}" for p in range(lo, hi + 1)]
                + [f"DUR_{d}" for d in range(1, self.max_steps + 1)])

    def _fill_pitch_of(self) -> None:
        base = self.ids[f"PITCH_{self.pitch_range[0]}"]
        n = self.pitch_range[1] - self.pitch_range[0] + 1
        self.pitch_of[base:base + n] = np.arange(self.pitch_range[0], self.pitch_range[1] + 1)

    def _line(self, notes: Notes) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict]:
        """(pitch, onset steps, duration steps, meta): the skyline of the notes this vocabulary keeps,
        on the grid, notes clipped to ``max_steps``."""
        keep, meta = self._base_quantize(notes)
        pitch, onset, duration = notes.pitch, notes.onset, notes.duration
        if not keep.all():
            pitch, onset, duration = pitch[keep], onset[keep], duration[keep]
        on = np.rint(onset * self.grid).astype(np.int64)
        du = np.maximum(np.rint(duration * self.grid), 1).astype(np.int64)
        zeros = np.zeros(len(on), np.int16)  # velocity, track and program do not matter here
        order = canonical_order(on, pitch, du, zeros, zeros, zeros)
        index, du = skyline_index(on[order], du[order], pitch[order])
        index = order[index]
        return pitch[index], on[index], np.minimum(du, self.max_steps), meta

    def quantize(self, notes: Notes) -> Notes:
        pitch, on, du, meta = self._line(notes)
        if self.form:
            on, lines = self._placed(notes, on, du, meta)
            meta = {**meta, "bars": tuple((p / self.grid, k) for p, k in lines)}
        return self._notes(pitch, on, du, np.full(len(pitch), MELODY_VELOCITY, np.int16), meta)

    def bar_steps(self, meter: tuple[int, int] | None) -> int:
        """Grid steps in one bar of ``meter`` (numerator, denominator); 4/4 for None."""
        num, den = meter or (4, 4)
        return max(int(round(num * 4 / den * self.grid)), 1)

    _bar_steps = bar_steps  # the name before form tokens

    def _placed(self, notes: Notes, on: np.ndarray, du: np.ndarray, meta: dict) -> tuple[np.ndarray, list]:
        """(onsets, bar lines) in steps, the pickup placed (see :mod:`musicgate.tokens.bars`)."""
        step = lambda b: int(np.rint(b * self.grid))  # noqa: E731
        written = [(step(b), k) for b, k in notes.bars] if notes.bars else None
        if len(on) and (on[-1] + du[-1]) // self.max_steps > MAX_TOKENS // 2:
            raise TokenizerError(f"encoding would take over {MAX_TOKENS:,} tokens; the timing is absurd")
        lines, shift = place(written, self._header_bar(meta), on, du)
        return on + shift, lines

    def _header_bar(self, meta: dict) -> int:
        return self.bar_steps(meta["meters"][0][1:] if meta["meters"] else None)

    def encode(self, notes: Notes) -> np.ndarray:
        pitch, on, du, meta = self._line(notes)
        self._check_encodable(pitch, on, du)
        if self.form:
            return self._encode_form(pitch, *self._placed(notes, on, du, meta), du, meta)
        if len(on) and (on[-1] + du[-1]) // self.max_steps > MAX_TOKENS // 2:  # a DUR per max_steps at least
            raise TokenizerError(f"encoding would take over {MAX_TOKENS:,} tokens; the timing is absurd")
        bar = self._bar_steps(meta["meters"][0][1:] if meta["meters"] else None)
        # Segments: a rest before each note where there is a gap, then the note. Rests are cut at
        # bar lines and at max_steps, so every segment fits one DUR token.
        prev_end = np.concatenate(([0], on[:-1] + du[:-1]))
        starts, lengths = [], []
        for t, end in zip(prev_end[on > prev_end].tolist(), on[on > prev_end].tolist()):
            while t < end:
                step = min(end - t, self.max_steps, (t // bar + 1) * bar - t)
                starts.append(t), lengths.append(step)
                t += step
        seg_start, seg_len = on, du
        seg_tok = self.pitch_base - self.pitch_range[0] + pitch.astype(np.int64)
        if starts:  # rests first, so a rest sorts before a note at its start
            seg_start = np.concatenate((starts, on))
            order = np.argsort(seg_start, kind="stable")
            seg_start, seg_len = seg_start[order], np.concatenate((lengths, du))[order]
            seg_tok = np.concatenate((np.full(len(starts), self.rest_id), seg_tok))[order]
        bar_no = seg_start // bar
        n_bars = np.diff(bar_no, prepend=-1)  # BAR tokens before each segment (one at the start)
        ends = np.cumsum(n_bars + 2) + 3  # after the header
        total = int(ends[-1]) + 1 if len(ends) else 4
        if total > MAX_TOKENS:
            raise TokenizerError(f"encoding would take {total:,} tokens (limit {MAX_TOKENS:,}); the timing is absurd")
        out = np.full(total, self.bar_id, np.int32)
        out[ends - 2] = seg_tok
        out[ends - 1] = self.dur_base - 1 + seg_len
        out[:3], out[-1] = self._header(**meta), self.eos_id
        return out

    def _encode_form(self, pitch: np.ndarray, on: np.ndarray, lines: list, du: np.ndarray, meta: dict) -> np.ndarray:
        from musicgate.tokens.eventloop import form_tokens

        heads = self.pitch_base - self.pitch_range[0] + pitch.astype(np.int64)
        line_at = np.array([p for p, _ in lines], np.int64)
        line_tokens = np.array([self.ids[FORM_TOKENS.get(k, "BAR")] for _, k in lines], np.int64)
        body = form_tokens(heads, on.astype(np.int64), du.astype(np.int64), line_at, line_tokens,
                           start_step(lines, on, self._header_bar(meta)), self.rest_id, self.tie_id,
                           self.dur_base - 1, self.max_steps)
        total = len(body) + 4
        if total > MAX_TOKENS:
            raise TokenizerError(f"encoding would take {total:,} tokens (limit {MAX_TOKENS:,}); the timing is absurd")
        return np.concatenate((self._header(**meta), body, [self.eos_id])).astype(np.int32)

    def _walk(self, ids: np.ndarray) -> tuple[np.ndarray, list, int]:
        """((N, 3) rows of pitch, onset and steps, [(position, kind)] per bar line, end) from token ids,
        onsets from the start of the tokens (the pickup not yet placed); a TIE joins the note before
        it. One compiled pass (:func:`musicgate.tokens.eventloop.melody_walk`)."""
        from musicgate.tokens.eventloop import melody_walk

        notes, at, codes, end = melody_walk(ids.astype(np.int64, copy=False), self.pitch_of, self._is_head,
                                            self._line_code, self.dur_base, -1 if self.tie_id is None else self.tie_id)
        return notes, list(zip(at.tolist(), [self._line_kinds[c] for c in codes.tolist()])), int(end)

    def _pickup(self, lines: list, bar: int) -> int:
        """Steps to move decoded music by: ``bar`` minus the length before the first bar line with
        music before it, when that is shorter than a bar; else 0."""
        first = next((p for p, _ in lines if p > 0), None)
        return bar - first if first is not None and first < bar else 0

    def bar_fill(self, ids) -> tuple[int, int]:
        """(bars filled exactly, bars counted) of a token sequence: bars between bar-line tokens, the
        pickup and the final bar left out (see :func:`musicgate.tokens.bars.bar_fill`); the bar length
        is the header METER's (4/4 for none or unknown)."""
        ids = self._as_ids(ids)
        notes, lines, end = self._walk(ids)
        return bar_fill(normal_lines(lines), end, self._header_bar(self._meta_from_ids(ids)))

    def decode(self, ids) -> Notes:
        ids = self._as_ids(ids)
        if self.form:
            meta = self._meta_from_ids(ids)
            arr, lines, _ = self._walk(ids)
            # a |: with no note after it (a model that learned O'Neill's |:|) reads as the final bar line
            lines = normal_lines(final_repeat_closed(lines, int(arr[:, 1].max()) if len(arr) else None))
            shift = self._pickup(lines, self._header_bar(meta))
            meta["bars"] = tuple(((p + shift) / self.grid, k) for p, k in lines)
            return self._notes(arr[:, 0], arr[:, 1] + shift, arr[:, 2],
                               np.full(len(arr), MELODY_VELOCITY, np.int16), meta)
        ev = ids[self._is_event[ids]]
        is_dur = ev >= self.dur_base
        # An event is a PITCH or REST token immediately followed by a DUR token.
        ok = ~is_dur[:-1] & is_dur[1:]
        head, steps = ev[:-1][ok], ev[1:][ok] - (self.dur_base - 1)
        on = np.cumsum(steps) - steps
        note = head != self.rest_id
        return self._notes(self.pitch_of[head[note]], on[note], steps[note],
                           np.full(np.count_nonzero(note), MELODY_VELOCITY, np.int16), self._meta_from_ids(ids))

    def note_index(self, ids) -> np.ndarray:
        ids = self._as_ids(ids)
        # A note is complete at a DUR token whose last event token before it is a PITCH (as in decode;
        # a TIE continues the note before it, a REST is no note).
        event = self._is_event[ids] | (ids == (-1 if self.tie_id is None else self.tie_id))
        pos = np.flatnonzero(event)
        ev = ids[pos]
        is_dur = ev >= self.dur_base
        done = np.zeros(len(ids), np.int64)
        if len(ev) > 1:
            ok = is_dur[1:] & ~is_dur[:-1] & (self.pitch_of[ev[:-1]] >= 0)
            done[pos[1:][ok]] = 1
        return np.cumsum(done) - 1

    def grammar(self):
        from musicgate.tokens.grammar import MelodyGrammar

        return MelodyGrammar(self)

    def sampling_grammar(self, meter: bool | None = None):
        """Meter-true (whole bars, :class:`~musicgate.tokens.grammar.MelodyGrammar`) unless ``meter`` is False."""
        from musicgate.tokens.grammar import MelodyGrammar

        return MelodyGrammar(self, meter=meter is None or bool(meter))

    def fillers(self) -> np.ndarray:
        out = np.zeros(len(self.vocab), bool)
        out[self.barline_ids] = True
        out[self.rest_id] = True
        if self.tie_id is not None:
            out[self.tie_id] = True  # a TIE goes on with a note: no new note
        return out

    def close(self, grammar, state, mask: np.ndarray, rows: np.ndarray) -> None:
        """No new PITCH: a DUR, a filler or EOS, and EOS alone as soon as the grammar allows it (the meter
        grammar without its rules of style: a tune cut at its maximum may end in a short part); where a
        repeat or a first ending is open and its ``:|`` may stand, that alone (the end comes after it, or
        after the second ending the grammar then asks for)."""
        closing = self.fillers()
        closing[self.dur_base:] = True
        closing[self.eos_id] = True
        m = mask[rows]
        if getattr(grammar, "meter", False):   # the rules of style give way: the tune ends as soon as it decodes
            strict, loose = grammar.allowed(state), grammar.allowed(state, style=False)
            m = m | (loose & ~strict)[rows]
        m = m & closing
        end = m[:, self.eos_id].copy()
        m[end] = False
        m[end, self.eos_id] = True
        repeat_end = self.ids.get("REPEAT_END")
        if repeat_end is not None and getattr(state, "open", None) is not None:
            # an open repeat or a first ending: its :| as soon as it may stand (the second ending follows)
            shut = ~end & m[:, repeat_end] & ((state.open[rows] == 2) | (state.ending[rows] == 1))
            m[shut] = False
            m[shut, repeat_end] = True
        mask[rows] = m


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
    programs : bool
        Keep instruments (off by default: then drums are dropped and every note is program 0, so
        unisons of two instruments merge). On, the vocabulary gains ``PROGRAM_0..127`` (General MIDI
        programs) and ``DRUM_<pitch>`` tokens. A PROGRAM token comes before a NOTE_ON or NOTE_OFF
        whose program differs from the current one (program 0 before the first PROGRAM), so a
        NOTE_OFF ends the note of its pitch in the current program; a note is one (program, pitch)
        voice. Drum notes are hits: one DRUM token, one grid step long, whatever the program state.
        Tracks still merge: two tracks with one program are one instrument.
    """

    kind = "event"

    def __init__(self, *, grid: int = 12, pitch_range: tuple[int, int] = (0, 127), velocity_bins: int = 32,
                 max_shift_beats: int = 2, programs: bool = False) -> None:
        if not 1 <= int(velocity_bins) <= 128:
            raise TokenizerError(f"velocity_bins must be in 1..128, not {velocity_bins}")
        if not isinstance(programs, (bool, np.bool_)):
            raise TokenizerError(f"programs must be true or false, not {programs!r}")
        self.velocity_bins, self.max_shift_beats = int(velocity_bins), int(max_shift_beats)
        self.programs = bool(programs)
        self.max_shift = self.max_shift_beats * int(grid)
        if self.max_shift < 1:
            raise TokenizerError(f"max_shift_beats must be positive, not {max_shift_beats}")
        super().__init__(grid=grid, pitch_range=pitch_range)
        lo, v = self.pitch_range[0], len(self.vocab)
        self.on_base, self.off_base = self.ids[f"NOTE_ON_{lo}"], self.ids[f"NOTE_OFF_{lo}"]
        self.shift_base, self.vel_base = self.ids["SHIFT_1"], self.ids["VEL_0"]
        self.vel_end = self.vel_base + self.velocity_bins
        self.n_pitch = self.pitch_range[1] - lo + 1
        # PROGRAM and DRUM tokens come last, so the vocabulary without them is the one of before.
        self.program_base = self.ids["PROGRAM_0"] if self.programs else v
        self.drum_base = self.ids[f"DRUM_{lo}"] if self.programs else v
        # Lookup tables: steps of each token (SHIFTs), bin of each MIDI velocity, velocity of each bin,
        # program of each PROGRAM token and pitch of each DRUM token (-1 for the others), token of
        # each event code (see encode).
        self._steps = np.zeros(v, np.int64)
        self._steps[self.shift_base:self.shift_base + self.max_shift] = np.arange(1, self.max_shift + 1)
        self._bin_of = self.velocity_bin(np.arange(128))
        self._velocity_of = self.bin_velocity(np.arange(self.velocity_bins)).astype(np.int16)
        self._velocity_of64 = self._velocity_of.astype(np.int64)  # for the compiled decode loop
        self._program_of, self._drum_of = np.full(v, -1, np.int64), np.full(v, -1, np.int64)
        codes = np.arange(self.n_pitch)
        self._code_token = np.zeros((129 if self.programs else 1) << 8, np.int32)
        if self.programs:
            self._program_of[self.program_base:self.program_base + 128] = np.arange(128)
            self._drum_of[self.drum_base:self.drum_base + self.n_pitch] = codes + lo
            self._code_token[codes | 128] = self.drum_base + codes  # channel 0: drums
            for chan in range(1, 129):  # channel 1 + program
                self._code_token[(chan << 8) | codes] = self.off_base + codes
                self._code_token[(chan << 8) | codes | 128] = self.on_base + codes
        else:
            self._code_token[codes], self._code_token[codes | 128] = self.off_base + codes, self.on_base + codes

    @property
    def config(self) -> dict:
        extra = {"programs": True} if self.programs else {}  # absent when off: old configs and fingerprints hold
        return {**super().config, "velocity_bins": self.velocity_bins, "max_shift_beats": self.max_shift_beats,
                **extra}

    def _event_tokens(self) -> list[str]:
        lo, hi = self.pitch_range
        words = ([f"NOTE_ON_{p}" for p in range(lo, hi + 1)] + [f"NOTE_OFF_{p}" for p in range(lo, hi + 1)]
                 + [f"SHIFT_{s}" for s in range(1, self.max_shift + 1)] + [f"VEL_{b}" for b in range(self.velocity_bins)])
        if self.programs:
            words += [f"PROGRAM_{p}" for p in range(128)] + [f"DRUM_{p}" for p in range(lo, hi + 1)]
        return words

    def _fill_pitch_of(self) -> None:
        lo, hi = self.pitch_range
        for prefix in ("NOTE_ON", "NOTE_OFF"):  # DRUM tokens carry no pitch that transposes
            base = self.ids[f"{prefix}_{lo}"]
            self.pitch_of[base:base + hi - lo + 1] = np.arange(lo, hi + 1)

    def velocity_bin(self, velocity: np.ndarray) -> np.ndarray:
        """Bin index of MIDI velocities."""
        return np.clip(np.asarray(velocity, np.int64), 0, 127) * self.velocity_bins // 128

    def bin_velocity(self, b: np.ndarray) -> np.ndarray:
        """Representative MIDI velocity of bin indices (the bin's middle, at least 1)."""
        return np.clip(((2 * np.asarray(b, np.int64) + 1) * 128) // (2 * self.velocity_bins), 1, 127)

    def _grid(self, notes: Notes) -> tuple[np.ndarray, ...]:
        """(pitch, onset steps, duration steps, velocity bin, program (None without programs), meta) of the notes this vocabulary
        keeps, by voice (program and pitch) then onset. A note is cut where the next of its voice
        starts; notes at one (voice, onset) merge into the longest (the first of equals); drum hits
        last one step."""
        if self.programs:
            keep, meta = np.ones(len(notes), bool), self._base_quantize(notes)[1]
        else:
            keep, meta = self._base_quantize(notes)
        pitch, onset, duration, velocity = notes.pitch, notes.onset, notes.duration, notes.velocity
        program = notes.program
        if not keep.all():
            pitch, onset, duration, velocity = pitch[keep], onset[keep], duration[keep], velocity[keep]
        on = np.rint(onset * self.grid).astype(np.int64)
        du = np.maximum(np.rint(duration * self.grid), 1).astype(np.int64)
        if self.programs:
            program = program.astype(np.int64)
            if len(program) and (program.min() < DRUM_PROGRAM or program.max() > 127):
                bad = program[(program < DRUM_PROGRAM) | (program > 127)][0]
                raise TokenizerError(f"program {bad} is neither a General MIDI program (0-127) nor drums "
                                     f"({DRUM_PROGRAM}); fix the notes' program numbers")
            du[program == DRUM_PROGRAM] = 1
            voice = ((program + 1) << 16) | (pitch.astype(np.int64) + 32768)  # int16 pitches: any value sorts
        else:
            voice = pitch
        order = _voice_onset_longest_first(voice, on, du)
        p, o, d, v = pitch[order], on[order], du[order], velocity[order]
        voice, g = (voice[order], program[order]) if self.programs else (p, None)
        same = voice[1:] == voice[:-1]
        dup = same & (o[1:] == o[:-1])  # not the first (longest) note at its (voice, onset)
        if dup.any():
            first = np.concatenate(([True], ~dup))
            p, o, d, v = p[first], o[first], d[first], v[first]
            voice, g = (voice[first], g[first]) if self.programs else (p, None)
            same = voice[1:] == voice[:-1]
        np.minimum(d[:-1], o[1:] - o[:-1], out=d[:-1], where=same)  # a later note cuts the sounding one
        return p, o, d, self._bin_of[np.minimum(np.maximum(v, 0), 127)], g, meta

    def _event_notes(self, pitch, on_steps, du_steps, velocity, program, meta: dict) -> Notes:
        """Notes in canonical order from grid steps, on one track, with the default tempo (program 0 where
        ``program`` is None)."""
        zeros = np.zeros(len(pitch), np.int16)
        return Notes._from_grid(pitch, on_steps, du_steps, velocity, zeros if program is None else program, zeros,
                                self.grid, **meta)

    def quantize(self, notes: Notes) -> Notes:
        p, o, d, vb, g, meta = self._grid(notes)
        return self._event_notes(p, o, d, self._velocity_of[vb], g, meta)

    def encode(self, notes: Notes) -> np.ndarray:
        pitch, on, du, vb, program, meta = self._grid(notes)
        self._check_encodable(pitch, on, du)
        off = on + du
        if len(off) and off.max() // self.max_shift > MAX_TOKENS:
            raise TokenizerError(f"encoding would take over {MAX_TOKENS:,} tokens; the timing is absurd")
        # Events as time << 23 | code << 7 | velocity bin, code = channel << 8 | 128 for a start | pitch - low,
        # channel 0 for drums and 1 + program for the others (always 0 without programs). Sorted, they run
        # by time, then by channel (one PROGRAM token per instrument and step at most), NOTE_OFFs before
        # NOTE_ONs, then by pitch. Drum hits have no NOTE_OFF.
        rel = (pitch - self.pitch_range[0]).astype(np.int64)
        pitched = slice(None)
        if self.programs:
            chan = (program + 1) << 8
            rel |= chan
            pitched = program != DRUM_PROGRAM
        key = np.concatenate(((off[pitched] << 23) | (rel[pitched] << 7), (on << 23) | ((rel | 128) << 7) | vb))
        key.sort()
        if self.programs:  # every other time step lists channels high to low, so a step often starts with
            t = key >> 23  # the program the last one ended with (12% fewer PROGRAM tokens)
            odd = (np.cumsum(t[1:] != t[:-1]) & 1).astype(bool)
            key[1:][odd] ^= 0xFF << 15
            key.sort()  # the times stay where they were
            key[1:][odd] ^= 0xFF << 15
        t, code, vbin = key >> 23, (key >> 7) & 0xFFFF, key & 0x7F
        gap = np.empty_like(t)
        gap[:1] = t[:1]
        np.subtract(t[1:], t[:-1], out=gap[1:])
        full, rest = np.divmod(gap, self.max_shift)
        # A VEL token before a note start whose bin differs from the previous start's.
        on_at = np.flatnonzero(code & 128)
        vel_change = np.zeros(len(t), bool)
        vel_change[on_at] = np.concatenate(([True], vbin[on_at[1:]] != vbin[on_at[:-1]]))
        partial = rest > 0
        per_event = full + partial + vel_change + 1  # SHIFTs, maybe a PROGRAM (below), maybe a VEL, its token
        if self.programs:  # a PROGRAM before a NOTE_ON / NOTE_OFF whose channel is not the last one's (1 at first)
            voiced = np.flatnonzero(code >> 8)
            chan = code[voiced] >> 8
            prog_change = np.zeros(len(t), bool)
            prog_change[voiced] = chan != np.concatenate(([1], chan[:-1]))
            per_event += prog_change
        ends = np.cumsum(per_event) + 3
        total = int(ends[-1]) + 1 if len(ends) else 4
        if total > MAX_TOKENS:
            raise TokenizerError(f"encoding would take {total:,} tokens (limit {MAX_TOKENS:,}); the timing is absurd")
        out = np.full(total, self.shift_base + self.max_shift - 1, np.int32)  # SHIFTs are whole max_shifts ...
        before = ends - 2 - vel_change  # the token before the VEL, or before the event's own token
        if self.programs:
            out[before[prog_change]] = self.program_base - 1 + (code[prog_change] >> 8)
            before -= prog_change
        out[before[partial]] = self.shift_base - 1 + rest[partial]  # ... but an event's last
        out[(ends - 2)[vel_change]] = self.vel_base + vbin[vel_change]
        out[ends - 1] = self._code_token[code]
        out[:3], out[-1] = self._header(**meta), self.eos_id
        return out

    def decode(self, ids) -> Notes:
        from musicgate.tokens.eventloop import event_notes

        ids = self._as_ids(ids)
        # A NOTE_ON ends at the next event of its voice (its NOTE_OFF, or a new NOTE_ON, in the same
        # program); a note still sounding at the end ends at the last time. It takes the bin of the last
        # VEL token before it.
        pitch, onset, duration, velocity, program = event_notes(
            ids, self._steps, self.pitch_of, self.on_base + self.n_pitch, self.vel_base, self.vel_end,
            self._velocity_of64, int(self._velocity_of[self.velocity_bins // 2]), self._program_of, self._drum_of)
        return self._event_notes(pitch, onset, duration, velocity, program, self._meta_from_ids(ids))

    def note_index(self, ids) -> np.ndarray:
        ids = self._as_ids(ids)
        # A NOTE_ON (or DRUM hit) starts a note that decode has at once; notes that merge (one voice, one
        # step) make the count run ahead, so it is capped by the notes decoded.
        starts = ((ids >= self.on_base) & (ids < self.on_base + self.n_pitch)) | (self._drum_of[ids] >= 0)
        return np.minimum(np.cumsum(starts) - 1, len(self.decode(ids)) - 1)

    def grammar(self):
        from musicgate.tokens.grammar import EventGrammar

        return EventGrammar(self)

    def note_starts(self) -> np.ndarray:
        out = self.pitch_of >= 0
        out[self.off_base:self.off_base + self.n_pitch] = False  # NOTE_OFF carries a pitch but starts nothing
        return out

    def fillers(self) -> np.ndarray:
        out = np.zeros(len(self.vocab), bool)
        out[self.shift_base:] = True  # SHIFT and VEL (and PROGRAM, DRUM)
        return out

    def close(self, grammar, state, mask: np.ndarray, rows: np.ndarray) -> None:
        """NOTE_OFFs first (or the PROGRAM token that reaches one), else a SHIFT, else EOS."""
        m = mask[rows]
        ends = m & grammar.closing(state)[rows]
        has_off = ends.any(axis=1)
        sounding = state.sounding[rows].any(axis=1)
        new = ends & has_off[:, None]
        wait = ~has_off & sounding  # notes on since the last SHIFT: they must last a step first
        new[wait, self.shift_base:self.vel_base] = True
        new[~has_off & ~sounding, self.eos_id] = True
        mask[rows] = new

    def check_primer(self, ids: np.ndarray) -> None:
        super().check_primer(ids)
        if self.grammar().start(1, ids[None]).sounding.any():
            raise TokenizerError("primer ids end with notes still sounding; encode a whole piece as the primer")


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
    if data.get("kind") == "melody":
        data.setdefault("form", False)  # saved before form tokens: today's vocabulary of then
    tok = make_tokenizer(data.pop("kind"), **data)
    if vocab is not None and vocab != tok.vocab:
        raise TokenizerError(f"{name}: its vocabulary differs from the one this version of musicgate "
                             "builds from the same settings; re-tokenize the data")
    return tok
