"""Key inputs: the asked key, read again before every token.

A tune's KEY token comes once, at the start. A model that must end on the tonic 300 tokens later
has to carry the key that far in its state (which is what the retention study measures). The key
input hands it over instead: before each token the model reads two small embeddings, the tonic
and the mode of the last KEY token seen, added to the token embedding (conditioning at every step,
as Performance RNN conditions on its key). The tonic and the mode have separate tables, so a rare
mode (dorian, mixolydian) is learned from its tunes in every transposition together.

``dropout`` of the training rows read "no key" instead, so the model also runs without it; and
:attr:`KeyInput.enabled` off makes every row read "no key", so the same model can be measured on
what its state remembers by itself. The last KEY token seen travels in the model's state as a
(1, B, 1) tensor (-1: none yet), so streaming generation and carried streams compute the same
thing as whole sequences. Both tables start at zero: a model fine-tuned from one without key
inputs starts out computing exactly what it did.
"""
from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from musicgate.errors import ConfigError
from musicgate.nn.tonic import last_key


def check_key_input(spec: Sequence[int], vocab_size: int) -> tuple[int, int]:
    """``(key_base, modes)``: the first KEY token id and the number of modes (12 tonics each)."""
    try:
        base, modes = (int(v) for v in spec)
    except (TypeError, ValueError):
        raise ConfigError(f"key_input must be [first KEY token id, number of modes], got {spec!r}") from None
    if base < 0 or modes < 1 or base + 12 * modes > vocab_size:
        raise ConfigError(f"key_input {[base, modes]} does not fit a vocabulary of {vocab_size} tokens")
    return base, modes


class KeyInput(nn.Module):
    """Key inputs of a :class:`~musicgate.nn.models.RecurrentLM` (see the module docstring).

    Parameters
    ----------
    spec : ``(key_base, modes)``: KEY token ``key_base + 12 * mode + tonic``.
    vocab_size, embed : the model's vocabulary and embedding width.
    dropout : share of training rows that read "no key".
    """

    def __init__(self, spec: Sequence[int], vocab_size: int, embed: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.base, self.modes = check_key_input(spec, vocab_size)
        if not 0.0 <= float(dropout) < 1.0:
            raise ConfigError(f"key_dropout must be in [0, 1), got {dropout!r}")
        self.vocab_size, self.dropout_p, self.enabled = int(vocab_size), float(dropout), True
        ids = torch.arange(vocab_size + 1)
        is_key = (ids >= self.base) & (ids < self.base + 12 * self.modes)
        tonic = torch.where(is_key, (ids - self.base) % 12, torch.full_like(ids, 12))
        mode = torch.where(is_key, (ids - self.base) // 12, torch.full_like(ids, self.modes))
        self.register_buffer("is_key", is_key, persistent=False)
        self.register_buffer("tonic_of", tonic, persistent=False)   # index vocab_size: no key
        self.register_buffer("mode_of", mode, persistent=False)
        self.tonic = nn.Embedding(13, embed)
        self.mode = nn.Embedding(self.modes + 1, embed)
        nn.init.zeros_(self.tonic.weight)
        nn.init.zeros_(self.mode.weight)

    @property
    def args(self) -> dict:
        return dict(key_input=[self.base, self.modes], key_dropout=self.dropout_p)

    def current(self, ids: torch.Tensor, last: torch.Tensor | None) -> torch.Tensor:
        """(B, T) the last KEY token id seen at each position (the carried ``last`` before any; -1: none)."""
        return last_key(ids, self.is_key[:-1], last)

    def forward(self, ids: torch.Tensor, last: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, T, embed) key embeddings of ``ids`` after ``last``, and the last KEY id (1, B, 1) after them."""
        key = self.current(ids, last)
        read = key
        if not self.enabled:
            read = torch.full_like(key, -1)
        elif self.training and self.dropout_p > 0:
            off = torch.rand(key.shape[0], device=ids.device) < self.dropout_p
            read = torch.where(off[:, None], torch.full_like(key, -1), key)
        idx = torch.where(read >= 0, read, torch.full_like(read, self.vocab_size))
        return self.tonic(self.tonic_of[idx]) + self.mode(self.mode_of[idx]), key[:, -1].reshape(1, -1, 1)
