"""Grammars: which tokens may come next, so sampling always yields a sequence that decodes.

A grammar works on a batch: ``state = g.start(batch)``, then repeatedly ``mask = g.allowed(state)``
((batch, vocab) booleans), pick tokens where the mask is true, and ``g.advance(state, tokens)``.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class GrammarState:
    """Per-sequence state: the last token, and for the event grammar the sounding pitches."""

    last: np.ndarray  # (B,) last token id
    sounding: np.ndarray | None = None  # (B, n_pitch) pitches with a NOTE_ON and no NOTE_OFF yet
    fresh: np.ndarray | None = None  # (B, n_pitch) pitches turned on since the last SHIFT


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
    pitch, and EOS silence."""

    def __init__(self, tok) -> None:
        super().__init__(tok)
        body = np.zeros(len(tok.vocab), dtype=bool)
        body[tok.on_base:tok.on_base + tok.n_pitch] = True
        body[tok.off_base:tok.off_base + tok.n_pitch] = True
        body[tok.shift_base:] = True  # SHIFT and VEL
        body[tok.eos_id] = True
        after_header = list(range(tok.meter_base, tok.meter_unknown_id + 1))
        for last in after_header + list(range(tok.on_base, len(tok.vocab))):
            self.table[last] = body

    def _empty(self, batch: int) -> GrammarState:
        n = self.tok.n_pitch
        return GrammarState(last=np.full(batch, -1, np.int64), sounding=np.zeros((batch, n), bool),
                            fresh=np.zeros((batch, n), bool))

    def allowed(self, state: GrammarState) -> np.ndarray:
        tok = self.tok
        mask = self.table[state.last].copy()
        on = slice(tok.on_base, tok.on_base + tok.n_pitch)
        off = slice(tok.off_base, tok.off_base + tok.n_pitch)
        mask[:, on] &= ~state.sounding
        mask[:, off] &= state.sounding & ~state.fresh
        mask[:, tok.eos_id] &= ~state.sounding.any(axis=1)
        return mask

    def advance(self, state: GrammarState, tokens) -> None:
        tok = self.tok
        tokens = np.asarray(tokens, np.int64)
        rows = np.arange(len(tokens))
        is_on = (tokens >= tok.on_base) & (tokens < tok.on_base + tok.n_pitch)
        is_off = (tokens >= tok.off_base) & (tokens < tok.off_base + tok.n_pitch)
        is_shift = (tokens >= tok.shift_base) & (tokens < tok.vel_base)
        state.sounding[rows[is_on], tokens[is_on] - tok.on_base] = True
        state.fresh[rows[is_on], tokens[is_on] - tok.on_base] = True
        state.sounding[rows[is_off], tokens[is_off] - tok.off_base] = False
        state.fresh[is_shift] = False
        state.last = tokens.copy()
