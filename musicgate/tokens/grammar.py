"""Grammars: which tokens may come next, so sampling always yields a sequence that decodes.

A grammar works on a batch: ``state = g.start(batch)``, then repeatedly ``mask = g.allowed(state)``
((batch, vocab) booleans), pick tokens where the mask is true, and ``g.advance(state, tokens)``.

:class:`MelodyGrammar` has two strengths. The structural one (``tok.grammar()``, ``meter=False``)
allows every sequence that decodes. The meter-true one (``meter=True``, what the sampler uses for
melody models by default) also tracks the position inside the bar, in grid steps since the last
bar line, with the bar length from the METER token (``METER_unknown``: 4/4, the bar grid the
tokenizer encodes such tunes with):

* the notes before the first bar line are a pickup: any length up to one bar;
* a PITCH, REST or TIE only while the bar has room; a DUR only if it ends at or before the bar line
  (a note that goes on is written as its DUR to the bar line, the bar line, then TIE and a DUR);
* a bar-line token (``tok.barline_ids``: BAR and the repeat/ending tokens) only when the bar is
  full (before the first one: anywhere up to a full bar). Right after one, another bar-line token of
  a different kind may follow (``:|`` then ``|:``), but never a second plain BAR (an empty bar), and at
  most two bar-line tokens stand at one bar line (``:| |:``, ``:| |2``, ``|| |:``, ``:| ||``: every real
  bar line with several is a pair), a third only where it is the second ending that a ``:|`` asks for;
  a first ending holds music before its ``:|``;
* a part may end on a short bar: a repeat/ending/part-end token (not BAR) may close a bar early, and
  the next bar then holds exactly the rest (the next part's pickup), as
  :func:`musicgate.tokens.bars.bar_fill` counts the two as one bar;
* EOS at a bar line (right after a bar-line token, or at a full bar) and, once a bar line has come,
  right after any note's or rest's DUR: the last bar may be short, as a third of real folk tunes end
  (ABC writes the last bar as long as the music is, ``d4|]`` in 3/4). Before the first bar line a
  tune ends only at the start (an empty tune). With form tokens, never while a repeat is open (a
  ``|:`` with notes after it and no ``:|`` yet; O'Neill's ``|:|`` at a tune's end has none): a
  repeat/ending/part-end mark may close a bar early, so a tune may always write the ``:|`` and end;
* with form tokens, endings as ABC writes them: a first ending (``|1``) only outside another, closed
  by a ``:|`` (bar lines may come inside it, but no part end, repeat start or end of the tune), and
  that ``:|`` followed at once by the second ending (``|2``), which comes nowhere else; and no ``:|``
  right after a part end (``|| :|``) at one bar line;
* with form tokens, rules of style (``allowed(state, style=False)`` leaves them out: a tune cut at its
  maximum length ends as soon as it decodes), which real folk tunes keep: a part after the first does not
  close (``:|``, ``||``) or end the tune with fewer than :data:`LAST_PART` times the bars of the first (the
  parts of a folk tune are even: 32 of the corpus's 2,917 tunes of two or more parts break it); a ``:|``
  does not close a repeat of one or two bars (6 of its 3,617 repeats are so short); a first ending's
  ``:|`` is free of both, and it comes at the first ending's :data:`FIRST_ENDING_BARS`-th bar line at the
  latest (its 234 first endings are 1, 2 or 4 bars long); and no ``||`` stands while a repeat is open (35 of its 11,472 tunes have one:
  the open repeat holds the end back until its ``:|``, so a tune that closed its parts with ``||``
  instead could not end). (A ``|:`` with no note after it may end a tune: it opens nothing, and the
  decoder reads it as the final bar line, as the ABC reader reads O'Neill's ``|:|``.) Parts are counted
  as ``part_bars`` in ``benchmarks/final_bars.py`` counts them: a part ends at a bar line with a ``:|``
  (but not the one that closes a first ending) or a ``||``; its bars are its bar lines after its first
  note, plus its last bar.

Both strengths allow ``TIE`` (``tok.tie_id``, the form vocabulary) only where a PITCH may stand and
the last PITCH/REST/TIE was a note, so it always continues a note.

It masks by position and duration only: every PITCH token is allowed or forbidden together with
REST, so it pushes nothing toward any key. Everything is numpy over the batch.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class GrammarState:
    """Per-sequence state: the last token, and for the event grammar the sounding voices."""

    last: np.ndarray  # (B,) last token id
    # Event grammar: voices are (program, pitch), ``program * n_pitch + pitch - low``, one program
    # (0) without program tokens.
    sounding: np.ndarray | None = None  # (B, n_voice) voices with a NOTE_ON and no NOTE_OFF yet
    fresh: np.ndarray | None = None  # (B, n_voice) voices turned on since the last SHIFT
    program: np.ndarray | None = None  # (B,) current program (0 before any PROGRAM token)
    drums: np.ndarray | None = None  # (B, n_pitch) drums hit since the last SHIFT (with programs)
    pos: np.ndarray | None = None  # (B,) melody: grid steps since the last bar line (or the start)
    bar: np.ndarray | None = None  # (B,) melody: grid steps in a bar of the sequence's meter
    limit: np.ndarray | None = None  # (B,) melody: steps the current bar holds (a bar, or what completes
    # the short bar before a repeat/ending/part-end mark)
    seen: np.ndarray | None = None  # (B,) melody: a bar line has come (the pickup is over)
    pickup: np.ndarray | None = None  # (B,) melody: steps before the first bar line, 0 for a full bar
    tied: np.ndarray | None = None  # (B,) melody: the last PITCH/REST/TIE was a note (a TIE may follow)
    open: np.ndarray | None = None  # (B,) melody: 1 after a repeat start, 2 once a note follows it, 0 after
    # a repeat end (the end waits while it is 2)
    ending: np.ndarray | None = None  # (B,) melody: 1 inside a first ending, 2 right after the :| that closes
    # it (the second ending comes next), 0 otherwise
    part_bars: np.ndarray | None = None  # (B,) melody: bar lines of the current part after its first note
    in_part: np.ndarray | None = None  # (B,) melody: a note has come in the current part
    first_bars: np.ndarray | None = None  # (B,) melody: bars of the first part (once it is closed)
    last_bars: np.ndarray | None = None  # (B,) melody: bars of the last closed part
    parts: np.ndarray | None = None  # (B,) melody: parts closed so far
    run: np.ndarray | None = None  # (B,) melody: bar-line tokens in a row (at one bar line)
    ending_bars: np.ndarray | None = None  # (B,) melody: bar lines inside the current first ending


LAST_PART = 0.6
"""A tune of two or more parts may end once its last part has at least this share of its first's bars."""
FIRST_ENDING_BARS = 4
"""A first ending is closed (``:|``) at its fourth bar line at the latest: the folk corpus's 234 first
endings are 1, 2 or 4 bars long; a shipped LSTM once played one of 41."""


class _Grammar:
    def __init__(self, tok) -> None:
        self.tok = tok
        v = len(tok.vocab)
        self.table = np.zeros((v, v), dtype=bool)  # table[last, next]: allowed by token type alone
        keys = slice(tok.key_base, tok.key_unknown_id + 1)
        meters = slice(tok.meter_base, tok.meter_unknown_id + 1)
        self.table[tok.bos_id, keys] = True
        self.table[tok.key_base:tok.key_unknown_id + 1, meters] = True
        self.table[tok.eos_id, tok.pad_id] = True
        self.table[tok.pad_id, tok.pad_id] = True

    def start(self, batch: int, prefix: np.ndarray | None = None) -> GrammarState:
        """State after ``BOS`` (or after feeding ``prefix`` ids, shape (B, L), starting with BOS)."""
        state = self._empty(batch)
        if prefix is None:
            prefix = np.full((batch, 1), self.tok.bos_id)
        for column in np.asarray(prefix).T:
            self.advance(state, column)
        return state

    def _empty(self, batch: int) -> GrammarState:
        return GrammarState(last=np.full(batch, -1, np.int64))

    def allowed(self, state: GrammarState, style: bool = True) -> np.ndarray:
        """(B, V) booleans: the tokens each sequence may take next (``style``: see :class:`MelodyGrammar`)."""
        return self.table[state.last].copy()

    def advance(self, state: GrammarState, tokens) -> None:
        """Record ``tokens`` ((B,) ids) as the next token of each sequence."""
        state.last = np.asarray(tokens, np.int64).copy()

    def is_valid(self, ids, style: bool = True) -> bool:
        """True when the whole sequence (starting with BOS) follows the grammar (``style=False``: the meter
        grammar without its rules of style, as a tune cut at its maximum length is written)."""
        ids = np.asarray(ids, np.int64)
        if len(ids) == 0 or ids[0] != self.tok.bos_id:
            return False
        state = self.start(1)
        for t in ids[1:]:
            if not self.allowed(state, style)[0, t]:
                return False
            self.advance(state, [t])
        return True


def barline_ids(tok) -> np.ndarray:
    """Ids of every token that stands where a bar line stands (``tok.barline_ids``, else BAR alone)."""
    ids = getattr(tok, "barline_ids", None)
    return np.unique(np.asarray([tok.bar_id] if ids is None else ids, np.int64))


def bar_steps(tok, meter: tuple[int, int] | None) -> int:
    """Grid steps in one bar of ``meter`` ((num, den); None: 4/4), as the tokenizer places BARs."""
    steps = getattr(tok, "bar_steps", None) or tok._bar_steps
    return int(steps(meter))


class MelodyGrammar(_Grammar):
    """``BOS KEY METER (BAR* (PITCH|REST) DUR)* BAR* EOS``, and with ``meter=True`` bars filled exactly
    (see the module docstring).

    Parameters
    ----------
    tok : MelodyTokenizer
    meter : bool
        Track the position inside the bar (default False: the structural grammar, which allows
        every sequence that decodes, notes across bar lines included).
    """

    def __init__(self, tok, meter: bool = False) -> None:
        super().__init__(tok)
        self.meter = bool(meter)
        v = len(tok.vocab)
        self.dur_steps = np.zeros(v, np.int64)  # steps of each DUR token, 0 for the others
        for i, name in enumerate(tok.vocab):
            if name.startswith("DUR_"):
                self.dur_steps[i] = int(name[4:])
        self.dur_cols = np.flatnonzero(self.dur_steps)
        self.tie = getattr(tok, "tie_id", None)
        self.is_note = tok.pitch_of >= 0  # heads that sound: PITCH and TIE
        if self.tie is not None:
            self.is_note[self.tie] = True
        self.head_cols = np.append(np.flatnonzero(self.is_note), tok.rest_id)
        self.is_head = np.zeros(v, bool)
        self.is_head[self.head_cols] = True
        self.bar_cols = barline_ids(tok)
        self.is_bar = np.zeros(v, bool)
        self.is_bar[self.bar_cols] = True
        meters = np.arange(tok.meter_base, tok.meter_unknown_id + 1)
        starts_event = np.concatenate([meters, self.bar_cols, self.dur_cols])
        follows = np.concatenate([self.head_cols, self.bar_cols, [tok.eos_id]])
        self.table[np.ix_(starts_event, follows)] = True
        self.table[np.ix_(self.head_cols, self.dur_cols)] = True
        self.bar_of = np.zeros(v, np.int64)  # bar length of each METER token
        for m in meters:
            name = tok.vocab[m].split("_", 1)[1]
            self.bar_of[m] = bar_steps(tok, None if m == tok.meter_unknown_id else
                                       tuple(int(x) for x in name.split("/")))
        self.is_meter = self.bar_of > 0
        # follow[last, j]: after the bar-line token ``last``, bar-line token bar_cols[j] may stand at the
        # same bar line (a different kind, never a plain BAR: that would be an empty bar)
        self.follow = np.zeros((v, len(self.bar_cols)), bool)
        self.is_mark = self.bar_cols != tok.bar_id  # (k,) repeat/ending/part-end tokens
        self.follow[self.bar_cols] = (self.bar_cols[None, :] != self.bar_cols[:, None]) & self.is_mark[None, :]
        self._dur_len = self.dur_steps[self.dur_cols][None, :]
        self.repeat = (tok.ids.get("REPEAT_START", -1), tok.ids.get("REPEAT_END", -1))  # -1: no form tokens
        self.endings = (tok.ids.get("ENDING_1", -1), tok.ids.get("ENDING_2", -1), tok.ids.get("PART_END", -1))
        self._second_only = np.arange(v) == self.endings[1]   # right after a first ending's :|
        if self.endings[2] >= 0:   # no :| right after || at one bar line (|| :| reads as nothing)
            self.follow[self.endings[2], np.flatnonzero(self.bar_cols == self.repeat[1])] = False

    def _empty(self, batch: int) -> GrammarState:
        zeros = np.zeros(batch, np.int64)
        return GrammarState(last=np.full(batch, -1, np.int64), pos=zeros, bar=zeros.copy(), limit=zeros.copy(),
                            seen=np.zeros(batch, bool), pickup=zeros.copy(), tied=np.zeros(batch, bool),
                            open=zeros.copy(), ending=zeros.copy(), part_bars=zeros.copy(),
                            in_part=np.zeros(batch, bool), first_bars=zeros.copy(), last_bars=zeros.copy(),
                            parts=zeros.copy(), run=zeros.copy(), ending_bars=zeros.copy())

    def allowed(self, state: GrammarState, style: bool = True) -> np.ndarray:
        """(B, V) booleans: the tokens each sequence may take next; ``style=False`` leaves out the rules of
        style (see the module docstring), so a tune that must stop may end as soon as it decodes."""
        mask = self.table[state.last]  # fancy indexing: a copy
        if self.tie is not None:
            mask[:, self.tie] &= state.tied
        if not self.meter:
            return mask
        pos, bar, seen, last = state.pos, state.bar, state.seen, state.last
        room = state.limit - pos
        mask[:, self.dur_cols] &= self._dur_len <= room[:, None]
        mask[:, self.head_cols] &= (room > 0)[:, None]
        full = room <= 0
        whole = state.limit == bar
        short = seen & whole & (pos > 0) & ~full  # a repeat/ending/part-end mark may close the bar early
        mask[:, self.bar_cols] &= (~seen | full)[:, None] | self.follow[last] | (short[:, None] & self.is_mark)
        mask[:, self.bar_cols] &= (state.run < 2)[:, None]   # two at one bar line at most (|2 comes below)
        may_end = full | self.is_bar[last] | (~seen & (pos == 0)) | (seen & (self.dur_steps[last] > 0))
        mask[:, self.tok.eos_id] &= may_end & (state.open < 2) & (state.ending == 0)
        first, second, part_end = self.endings
        if first >= 0:
            inside, closed = state.ending == 1, state.ending == 2
            mask[inside | closed, first] = False
            mask[last == first, self.repeat[1]] = False   # a first ending holds music before its :|
            mask[inside, part_end] = False
            mask[inside, self.repeat[0]] = False
            mask[~closed, second] = False
            mask[closed] &= self._second_only   # the second ending, at once
            mask[closed, second] = True
        if style and self.repeat[0] >= 0:
            self._style(state, mask)
        dead = ~mask.any(axis=1)  # only after a primer that ended inside a note: take its DUR as written
        if dead.any():
            mask[dead] = self.table[last[dead]]
        return mask

    def _style(self, state: GrammarState, mask: np.ndarray) -> None:
        """Take out of ``mask`` what the rules of style forbid: a part after the first closed or the tune
        ended with fewer than LAST_PART of the first's bars, a ``:|`` closing a repeat of one or two bars, a
        ``||`` while a repeat is open, a bar line other than ``:|`` ending a first ending's
        :data:`FIRST_ENDING_BARS`-th bar."""
        in_part, first = state.in_part, state.first_bars
        now = state.part_bars + in_part   # the current part's bars, were the tune to end here
        last = np.where(in_part, now, state.last_bars)
        short_end = (state.parts + in_part >= 2) & (last < LAST_PART * np.where(state.parts > 0, first, now))
        mask[short_end, self.tok.eos_id] = False
        here = state.part_bars + (in_part & ~self.is_bar[state.last])   # its bars, were a bar line to come now
        short = in_part & (state.parts > 0) & (here < LAST_PART * first)   # a later part, short of the first
        mask[short | (state.open == 2), self.endings[2]] = False   # and no || inside an open repeat
        mask[(short | (in_part & (here <= 2))) & (state.ending != 1), self.repeat[1]] = False
        long_ending = (state.ending == 1) & (state.ending_bars + ~self.is_bar[state.last] >= FIRST_ENDING_BARS)
        if long_ending.any():
            mask[np.ix_(long_ending, self.bar_cols[self.bar_cols != self.repeat[1]])] = False

    def advance(self, state: GrammarState, tokens) -> None:
        tokens = np.asarray(tokens, np.int64)
        previous = state.last
        state.last = tokens.copy()
        if self.tie is not None:
            state.tied = np.where(self.is_head[tokens], self.is_note[tokens], state.tied)
        if not self.meter:
            return
        start, end = self.repeat
        if start >= 0:   # parts: a new bar line counts once the part has a note; :| (not a first ending's) or || ends it
            line, in_part = self.is_bar[tokens], state.in_part
            state.part_bars = state.part_bars + (line & ~self.is_bar[np.maximum(previous, 0)] & in_part)
            close = in_part & ((tokens == self.endings[2]) | ((tokens == end) & (state.ending != 1)))
            state.first_bars = np.where(close & (state.parts == 0), state.part_bars, state.first_bars)
            state.last_bars = np.where(close, state.part_bars, state.last_bars)
            state.parts = state.parts + close
            state.part_bars = np.where(close, 0, state.part_bars)
            state.in_part = (in_part & ~close) | (self.tok.pitch_of[tokens] >= 0)
        state.open = np.where(tokens == start, 1, np.where(tokens == end, 0, state.open))
        state.open = np.where((state.open == 1) & self.is_note[tokens], 2, state.open)
        first, second, _ = self.endings
        state.ending_bars = np.where(tokens == first, 0, state.ending_bars + (
            (state.ending == 1) & self.is_bar[tokens] & ~self.is_bar[np.maximum(previous, 0)]))
        state.ending = np.where(tokens == first, 1, np.where(tokens == second, 0, np.where(
            (tokens == end) & (state.ending == 1), 2, state.ending)))
        meter = self.is_meter[tokens]
        if meter.any():
            state.bar = np.where(meter, self.bar_of[tokens], state.bar)
            state.limit = np.where(meter, state.bar, state.limit)
        state.pos = state.pos + self.dur_steps[tokens]
        line = self.is_bar[tokens]
        state.run = np.where(line, state.run + 1, 0)
        if line.any():
            pos, limit, bar = state.pos, state.limit, np.maximum(state.bar, 1)
            first = line & ~state.seen
            short = line & state.seen & (pos > 0) & (pos < limit)  # a mark closing a bar early
            full = line & (pos >= limit)
            state.pickup = np.where(first, pos % bar, state.pickup)
            # a full bar line takes the bar off the position (a primer's note across it leaves the rest)
            state.pos = np.where(first | short, 0, np.where(full, pos - limit, pos))
            state.limit = np.where(short & ~first, bar - pos, np.where(full | first, bar, limit))
            state.seen = state.seen | line


class EventGrammar(_Grammar):
    """Events where NOTE_OFF needs a sounding note that lasted at least one SHIFT, NOTE_ON a silent
    pitch, and EOS silence.

    With programs, sounding notes are tracked per (program, pitch): NOTE_ON and NOTE_OFF act on the
    current program's pitches, a PROGRAM token must name another program and not follow a PROGRAM
    token, and a drum may be hit once per time step.
    """

    def __init__(self, tok) -> None:
        super().__init__(tok)
        v = len(tok.vocab)
        self.n_program = 128 if tok.programs else 1
        self._on = slice(tok.on_base, tok.on_base + tok.n_pitch)
        self._off = slice(tok.off_base, tok.off_base + tok.n_pitch)
        self._program = slice(tok.program_base, tok.drum_base)
        self._drum = slice(tok.drum_base, v)
        body = np.zeros(v, dtype=bool)
        body[self._on] = body[self._off] = True
        body[tok.shift_base:] = True  # SHIFT, VEL, PROGRAM, DRUM
        body[tok.eos_id] = True
        after_header = list(range(tok.meter_base, tok.meter_unknown_id + 1))
        for last in after_header + list(range(tok.on_base, v)):
            self.table[last] = body
        self.table[self._program, self._program] = False  # no two program changes in a row

    def _empty(self, batch: int) -> GrammarState:
        n = self.tok.n_pitch
        drums = np.zeros((batch, n), bool) if self.tok.programs else None
        return GrammarState(last=np.full(batch, -1, np.int64), sounding=np.zeros((batch, self.n_program * n), bool),
                            fresh=np.zeros((batch, self.n_program * n), bool), program=np.zeros(batch, np.int64),
                            drums=drums)

    def _voices(self, state: GrammarState, a: np.ndarray) -> np.ndarray:
        """(B, n_pitch) rows of ``a`` ((B, n_voice)) for each sequence's current program."""
        if self.n_program == 1:
            return a
        rows = np.arange(len(a))
        return a.reshape(len(a), self.n_program, self.tok.n_pitch)[rows, state.program]

    def allowed(self, state: GrammarState, style: bool = True) -> np.ndarray:
        tok = self.tok
        mask = self.table[state.last].copy()
        sounding = self._voices(state, state.sounding)
        mask[:, self._on] &= ~sounding
        mask[:, self._off] &= sounding & ~self._voices(state, state.fresh)
        mask[:, tok.eos_id] &= ~state.sounding.any(axis=1)
        if tok.programs:
            mask[:, self._drum] &= ~state.drums
            mask[np.arange(len(mask)), tok.program_base + state.program] = False
        return mask

    def closing(self, state: GrammarState) -> np.ndarray:
        """(B, V) booleans: the tokens that end a note now (NOTE_OFFs the grammar allows) and, with
        programs, the PROGRAM tokens that switch to another program with a note that may end now.
        A sampler that must stop a sequence picks among these while any is true."""
        tok = self.tok
        out = np.zeros((len(state.last), len(tok.vocab)), bool)
        can_end = state.sounding & ~state.fresh
        out[:, self._off] = self._voices(state, can_end)
        if tok.programs:
            per_program = can_end.reshape(len(out), self.n_program, tok.n_pitch).any(axis=2)
            per_program[np.arange(len(out)), state.program] = False
            out[:, self._program] = per_program
        return out & self.allowed(state)

    def advance(self, state: GrammarState, tokens) -> None:
        tok = self.tok
        tokens = np.asarray(tokens, np.int64)
        rows = np.arange(len(tokens))
        voice0 = state.program * tok.n_pitch  # first voice of each current program
        is_on = (tokens >= tok.on_base) & (tokens < tok.on_base + tok.n_pitch)
        is_off = (tokens >= tok.off_base) & (tokens < tok.off_base + tok.n_pitch)
        is_shift = (tokens >= tok.shift_base) & (tokens < tok.vel_base)
        on_voice = voice0[is_on] + tokens[is_on] - tok.on_base
        state.sounding[rows[is_on], on_voice] = True
        state.fresh[rows[is_on], on_voice] = True
        state.sounding[rows[is_off], voice0[is_off] + tokens[is_off] - tok.off_base] = False
        state.fresh[is_shift] = False
        if tok.programs:
            is_program = (tokens >= tok.program_base) & (tokens < tok.drum_base)
            state.program[is_program] = tokens[is_program] - tok.program_base
            is_drum = tokens >= tok.drum_base
            state.drums[rows[is_drum], tokens[is_drum] - tok.drum_base] = True
            state.drums[is_shift] = False
        state.last = tokens.copy()
