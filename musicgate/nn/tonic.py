"""Tonic-relative pitch: the model reads and writes every tune as if its tonic were C.

A tune's KEY token comes once, at the start; an absolute-pitch model must learn each cadence, each
mode and each scale twelve times, once per tonic, and carry the tonic in its state to the end of
the tune. folk-rnn transposes every training tune to C for this reason. The tonic frame does it
inside the model, so every caller (the sampler, the teacher-forced studies, the live page) gives
and gets absolute pitches:

* before the core, each token is moved into the frame of the last KEY token seen: a PITCH token
  down by the tonic's distance from C (``s`` in -6..5: D is 2, G is -5, so a tune moves by at most
  six semitones), a KEY token to the same mode on C;
* after the head, the logits are moved back: the logit of absolute pitch ``p`` is the frame's
  logit of ``p - s``.

Both moves are one permutation of the vocabulary per tonic (pitch tokens rotate within the
vocabulary's range, so the 6 semitones at its edges wrap around; folk tunes lie far inside it;
KEY tokens rotate their tonic), so the output is still a distribution over the whole vocabulary
and validation NLL compares with absolute models. Before any KEY token (a tune headed
``KEY_unknown``) nothing moves. The last KEY token seen travels in the state as a (1, B, 1)
tensor (-1: none yet), so streaming generation computes what one call does.

What it changes for a study: the model no longer has to remember which of the twelve tonics the
tune is in (the mode it still must), so the retention study's memory models stay absolute.
"""
from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from musicgate.errors import ConfigError


def frame_shift(tonic: int) -> int:
    """Semitones (-6..5) from C to ``tonic`` (a pitch class): what the frame takes off a pitch."""
    return (int(tonic) + 6) % 12 - 6


def check_tonic_spec(spec: Sequence[int], vocab_size: int) -> tuple[int, int, int, int]:
    """``(key_base, modes, pitch_base, pitches)``: KEY token ``key_base + 12 * mode + tonic``,
    and ``pitches`` PITCH tokens from ``pitch_base`` in rising pitch, a semitone apart."""
    try:
        base, modes, pitch_base, pitches = (int(v) for v in spec)
    except (TypeError, ValueError):
        raise ConfigError("tonic_relative must be [first KEY id, modes, first PITCH id, number of pitches], "
                          f"got {spec!r}") from None
    keys = range(base, base + 12 * modes)
    notes = range(pitch_base, pitch_base + pitches)
    if (base < 0 or modes < 1 or pitch_base < 0 or pitches < 12 or keys.stop > vocab_size or notes.stop > vocab_size
            or (keys.start < notes.stop and notes.start < keys.stop)):
        raise ConfigError(f"tonic_relative {[base, modes, pitch_base, pitches]} does not fit a vocabulary of "
                          f"{vocab_size} tokens (KEY and PITCH tokens apart, at least 12 pitches)")
    return base, modes, pitch_base, pitches


def frame_table(spec: Sequence[int], vocab_size: int) -> torch.Tensor:
    """(13, V) long: row ``t`` maps each token id to its id in the frame of tonic ``t``; row 12
    (no key) leaves every token as it is."""
    base, modes, pitch_base, pitches = check_tonic_spec(spec, vocab_size)
    table = torch.arange(vocab_size).repeat(13, 1)
    for t in range(12):
        s = frame_shift(t)
        j = torch.arange(pitches)
        table[t, pitch_base + j] = pitch_base + (j - s) % pitches
        k = torch.arange(12 * modes)
        table[t, base + k] = base + (k // 12) * 12 + (k % 12 - t) % 12
    return table


def last_key(ids: torch.Tensor, is_key: torch.Tensor, last: torch.Tensor | None) -> torch.Tensor:
    """(B, T) the last KEY token id seen at each position, this one included (the carried ``last``
    before any; -1: none). ``is_key``: (V,) bool of the KEY tokens that count."""
    b, steps = ids.shape
    pos = torch.arange(steps, device=ids.device).expand(b, steps)
    marked = torch.where(is_key[ids], pos, torch.full_like(pos, -1)).cummax(1).values
    seen = ids.gather(1, marked.clamp(min=0))
    before = torch.full((b,), -1, dtype=torch.long, device=ids.device) if last is None else last.reshape(b)
    return torch.where(marked >= 0, seen, before[:, None])


class TonicFrame(nn.Module):
    """The tonic frame of a :class:`~musicgate.nn.models.RecurrentLM` (see the module docstring).
    It has no weights: a model may start from one without it.

    Parameters
    ----------
    spec : ``(key_base, modes, pitch_base, pitches)`` (:func:`check_tonic_spec`).
    vocab_size : the model's vocabulary.
    """

    def __init__(self, spec: Sequence[int], vocab_size: int) -> None:
        super().__init__()
        self.spec = list(check_tonic_spec(spec, vocab_size))
        base, modes = self.spec[0], self.spec[1]
        ids = torch.arange(vocab_size)
        is_key = (ids >= base) & (ids < base + 12 * modes)
        tonic = torch.where(is_key, (ids - base) % 12, torch.full_like(ids, 12))
        self.register_buffer("is_key", is_key, persistent=False)
        self.register_buffer("tonic_of", torch.cat([tonic, torch.tensor([12])]), persistent=False)  # -1: no key
        self.register_buffer("table", frame_table(self.spec, vocab_size), persistent=False)

    @property
    def args(self) -> dict:
        return dict(tonic_relative=list(self.spec))

    def rows(self, ids: torch.Tensor, last: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, T) the frame (0-11, 12: none) at each position, and the last KEY id (1, B, 1) after them."""
        key = last_key(ids, self.is_key, last)
        return self.tonic_of[key], key[:, -1].reshape(1, -1, 1)

    def inward(self, ids: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
        """``ids`` moved into their frames."""
        return self.table[rows, ids]

    def outward(self, logits: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
        """Frame logits (B, T, V) moved back to absolute pitch: out[..., v] = logits[..., table[row, v]]."""
        return logits.gather(-1, self.table[rows])
