"""Grammars: which tokens may come next, so sampling always yields a sequence that decodes.

A grammar works on a batch: ``state = g.start(batch)``, then repeatedly ``mask = g.allowed(state)``
((batch, vocab) booleans), pick tokens where the mask is true, and ``g.advance(state, tokens)``.
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

    def allowed(self, state: GrammarState) -> np.ndarray:
        """(B, V) booleans: the tokens each sequence may take next."""
        return self.table[state.last].copy()

    def advance(self, state: GrammarState, tokens) -> None:
        """Record ``tokens`` ((B,) ids) as the next token of each sequence."""
        state.last = np.asarray(tokens, np.int64).copy()

    def is_valid(self, ids) -> bool:
        """True when the whole sequence (starting with BOS) follows the grammar."""
        ids = np.asarray(ids, np.int64)
        if len(ids) == 0 or ids[0] != self.tok.bos_id:
            return False
        state = self.start(1)
        for t in ids[1:]:
            if not self.allowed(state)[0, t]:
                return False
            self.advance(state, [t])
        return True


class MelodyGrammar(_Grammar):
    """``BOS KEY METER (BAR* (PITCH|REST) DUR)* BAR* EOS``: allowed tokens depend on the last one."""

    def __init__(self, tok) -> None:
        super().__init__(tok)
        starts_event = [tok.meter_base + i for i in range(tok.meter_unknown_id - tok.meter_base + 1)]
        starts_event += [tok.bar_id] + list(range(tok.dur_base, len(tok.vocab)))
        heads = np.flatnonzero((tok.pitch_of >= 0)).tolist() + [tok.rest_id]
        for last in starts_event:
            self.table[last, heads] = True
            self.table[last, tok.bar_id] = True
            self.table[last, tok.eos_id] = True
        for head in heads:
            self.table[head, tok.dur_base:] = True


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

    def allowed(self, state: GrammarState) -> np.ndarray:
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
