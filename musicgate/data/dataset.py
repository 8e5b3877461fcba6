"""Training examples from a prepared token dataset: windows or whole tunes, transposed on the fly.

A prepared dataset is read by :func:`musicgate.data.prepared.open_dataset` (re-exported here with
the rest of the layout: :class:`TokenData`, :func:`write_dataset`, :func:`load_data`).

:class:`WindowSampler` turns one split into batches, a pure function of ``(seed, step)``:

* ``mode="window"``: each example keeps the tune's header ``BOS KEY METER`` and follows it with a
  contiguous chunk of the tune's body, so key conditioning always has the KEY token in context.
  Tunes are drawn with probability proportional to their length, the chunk start uniformly. The
  target after ``METER`` is masked when the chunk does not start at the tune's beginning (it is
  not the true next token). Tunes shorter than the window are padded; padded targets are masked.
* ``mode="tune"``: whole tunes in a fixed random order per epoch, padded, with lengths; tunes
  longer than ``window + 1`` tokens are cropped to their first ``window + 1``.
* ``mode="medley"``: each row is a long *stream* of ``medley_tokens`` tokens: one ``BOS KEY METER``
  header, then several tunes of one mode transposed into the row's key, headers removed, each
  ending with its ``EOS`` (:mod:`musicgate.data.medley`). A stream is read window by window over
  ``ceil(medley_tokens / window)`` consecutive steps: row ``r`` of step ``s`` continues row ``r`` of
  step ``s - 1`` (``Batch.continues``), so a trainer that carries the recurrent state across steps
  (truncated backpropagation through time) lets the state see the whole stream; then new streams
  start. Every target is a real next token (no padding). With ``medley_tokens <= window`` each
  step starts new streams: plain long windows of several tunes with the KEY token only at the start.

In window and tune mode each example is transposed by a shift drawn uniformly from the shifts
that keep its pitches in the vocabulary's range (:meth:`~musicgate.tokens.tokenizer.Tokenizer.shift_range`); the KEY token moves with
the pitches. Masked targets hold ``pad_id`` (use it as ``ignore_index``).

``train.input_noise`` moves some input notes by a semitone or two (:func:`noisy_inputs`, training only).

Batches depend only on ``(seed, step)``, never on what was drawn before, so a resumed run sees the
same data, and under DistributedDataParallel each rank takes its own contiguous share of the same
global batch. Everything is numpy-vectorised: one fancy-indexing gather per batch.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from musicgate.data.corpora import load_prepared as load_data  # noqa: F401  (a name or a folder)
from musicgate.data.medley import MedleyStreams, parse_modes
from musicgate.data.prepared import HEADER, SPLITS, TokenData, open_dataset, write_dataset  # noqa: F401
from musicgate.errors import ConfigError, DataError

_STREAM_TRAIN, _STREAM_EPOCH = 0, 1


@dataclass
class Batch:
    """One rank's share of a global batch.

    Attributes
    ----------
    inputs : LongTensor (B, T) token ids.
    targets : LongTensor (B, T) next-token ids, ``pad_id`` where there is no target.
    lengths : LongTensor (B,) valid input length per row (tune mode), or None (window mode).
    n_targets : valid targets in the whole global batch (all ranks): the loss normaliser.
    shifts : (B,) semitones each row was transposed by (medley: its stream's first tune).
    tunes : (B,) tune index of each row (medley: its stream's first tune).
    continues : the rows continue the rows of the previous step's batch (medley mode, after a
        stream's first window): carry the recurrent state over; False: start from zeros.
    keys : (B,) KEY token id of each row's stream (medley mode: the one key of every window of the
        stream, read or not), or None.
    """

    inputs: torch.Tensor
    targets: torch.Tensor
    lengths: torch.Tensor | None
    n_targets: int
    shifts: np.ndarray
    tunes: np.ndarray
    continues: bool = False
    keys: np.ndarray | None = None


class WindowSampler:
    """Batches of training examples from one split; ``batch(step)`` is a pure function.

    Parameters
    ----------
    data : TokenData (or any object with ``tokens``, ``offsets``, ``tokenizer``, ``splits``).
    split : ``train``, ``valid`` or ``test``.
    window : tokens the model reads per example.
    batch_size : examples per global batch (all ranks together).
    mode : ``window``, ``tune`` or ``medley`` (see the module docstring).
    transpose : random transposition per example (medley: a random key per stream).
    seed : data-order seed.
    rank, world_size : this process's share of each global batch (contiguous rows).
    medley_tokens : medley mode: tokens the model reads per stream (rounded up to whole windows).
    medley_modes : medley mode: the modes to build streams of (``"major,minor"``, ``"all"``, or a
        sequence of names).
    medley_mode_weights : medley mode: ``"tokens"`` (each mode as often as its tokens in the split)
        or ``"equal"`` (each mode equally often).

    Raises
    ------
    ConfigError, DataError
        Bad settings; an empty split; a medley mode with too few tunes in the split.
    """

    def __init__(self, data, split: str = "train", *, window: int = 256, batch_size: int = 32,
                 mode: str = "window", transpose: bool = True, seed: int = 0, rank: int = 0,
                 world_size: int = 1, medley_tokens: int = 4096, medley_modes="major,minor",
                 medley_mode_weights: str = "tokens") -> None:
        if mode not in ("window", "tune", "medley"):
            raise ConfigError(f"data.mode {mode!r} is not one of window, tune, medley")
        if window < HEADER + 1:
            raise ConfigError(f"data.window must be at least {HEADER + 1} tokens, got {window}")
        if batch_size < 1 or batch_size % world_size:
            raise ConfigError(f"train.batch_size {batch_size} must be a positive multiple of the "
                              f"{world_size} processes")
        if split not in data.splits:
            raise DataError(f"dataset {getattr(data, 'name', '')!r} has no split {split!r}; "
                            f"it has {', '.join(data.splits)}")
        tunes = np.asarray(data.splits[split], np.int64)
        if len(tunes) == 0:
            raise DataError(f"split {split!r} of dataset {getattr(data, 'name', '')!r} is empty")
        self.split, self.window, self.batch_size, self.mode = split, int(window), int(batch_size), mode
        self.transpose, self.seed, self.rank, self.world_size = bool(transpose), int(seed), rank, world_size
        self.local_batch = self.batch_size // world_size
        tok = data.tokenizer
        self.tokens = np.asarray(data.tokens)
        self.pad_id = tok.pad_id
        self.pitch_of = np.asarray(tok.pitch_of, np.int64)
        self.pitch_range = tok.pitch_range
        self.key_base, self.key_end = tok.key_base, tok.key_unknown_id
        self.tunes = tunes
        self.starts = np.asarray(data.offsets, np.int64)[tunes]
        self.lengths = np.asarray(data.offsets, np.int64)[tunes + 1] - self.starts
        self.cum = np.cumsum(self.lengths)
        self._perm_cache: tuple[int, np.ndarray] | None = None
        self.medley_modes = parse_modes(medley_modes)
        self.medley_mode_weights = medley_mode_weights
        self.stream_windows = max(1, -(-int(medley_tokens) // self.window))
        self._medley: MedleyStreams | None = None
        self._stream_cache: tuple | None = None
        if mode == "medley":
            if medley_tokens < 1:
                raise ConfigError(f"data.medley_tokens must be a positive integer, got {medley_tokens}")
            self._medley = MedleyStreams(data, tunes, length=self.stream_windows * self.window + 1,
                                         modes=self.medley_modes, transpose=transpose, seed=seed, split=split,
                                         header=HEADER, mode_weights=medley_mode_weights)

    def __len__(self) -> int:
        """Batches in one pass over the split in tune mode (ceil); windows: tokens / window."""
        if self.mode == "tune":
            return -(-len(self.tunes) // self.batch_size)
        return max(1, int(self.cum[-1]) // (self.window * self.batch_size))

    def state_dict(self) -> dict:
        """What decides the data stream (the step is the trainer's)."""
        state = {"seed": self.seed, "split": self.split, "mode": self.mode, "window": self.window,
                 "batch_size": self.batch_size, "transpose": self.transpose}
        if self.mode == "medley":
            state.update(stream_windows=self.stream_windows, medley_modes=",".join(self.medley_modes))
            if self.medley_mode_weights != "tokens":  # absent in runs from before the option
                state["medley_mode_weights"] = self.medley_mode_weights
        return state

    def _rng(self, step: int, stream: int) -> np.random.Generator:
        return np.random.default_rng([self.seed, stream, int(step)])

    def batch(self, step: int) -> Batch:
        """This rank's rows of global batch number ``step``."""
        if self.mode == "tune":
            return self._tune_batch(step)
        if self.mode == "medley":
            return self._medley_batch(step)
        return self._window_batch(step)

    def __iter__(self):
        step = 0
        while True:
            yield self.batch(step)
            step += 1

    # -- window mode ---------------------------------------------------------------------------
    def _window_batch(self, step: int) -> Batch:
        B, W = self.batch_size, self.window
        rng = self._rng(step, _STREAM_TRAIN)
        pick = rng.integers(0, int(self.cum[-1]), size=B)
        u = rng.random((2, B))
        which = np.searchsorted(self.cum, pick, side="right")
        L = self.lengths[which]
        chunk = W + 1 - HEADER
        body_start = np.floor(u[0] * (np.maximum(L - HEADER - chunk, 0) + 1)).astype(np.int64)
        avail = np.minimum(W + 1, L - body_start)              # valid tokens in each example
        n_targets = int((avail - 1 - (body_start > 0)).sum())
        rows = slice(self.rank * self.local_batch, (self.rank + 1) * self.local_batch)
        which, L, body_start, avail, shift_u = which[rows], L[rows], body_start[rows], avail[rows], u[1][rows]
        pos = np.arange(W + 1)
        rel = np.where(pos < HEADER, pos, pos[None, :] + body_start[:, None])   # (b, W+1)
        valid = pos[None, :] < avail[:, None]
        idx = self.starts[which][:, None] + np.where(valid, rel, 0)
        seq = np.where(valid, self.tokens[idx], self.pad_id).astype(np.int64)
        shifts = self._transpose(seq, shift_u)
        inputs, targets = seq[:, :-1], seq[:, 1:].copy()
        targets[body_start > 0, HEADER - 1] = self.pad_id
        return Batch(torch.from_numpy(np.ascontiguousarray(inputs)), torch.from_numpy(targets), None,
                     n_targets, shifts, self.tunes[which])

    # -- medley mode ---------------------------------------------------------------------------
    def _medley_batch(self, step: int) -> Batch:
        generation, j = divmod(int(step), self.stream_windows)
        if self._stream_cache is None or self._stream_cache[0] != generation:
            rows = self.rank * self.local_batch + np.arange(self.local_batch)
            self._stream_cache = (generation, *self._medley.build(generation, rows))
        _, seq, first, shifts = self._stream_cache
        W = self.window
        inputs = np.ascontiguousarray(seq[:, j * W:(j + 1) * W])
        targets = np.ascontiguousarray(seq[:, j * W + 1:(j + 1) * W + 1])
        return Batch(torch.from_numpy(inputs), torch.from_numpy(targets), None, self.batch_size * W,
                     shifts.copy(), first.copy(), continues=j > 0, keys=seq[:, 1].copy())

    # -- tune mode -----------------------------------------------------------------------------
    def _epoch_perm(self, epoch: int) -> np.ndarray:
        if self._perm_cache is None or self._perm_cache[0] != epoch:
            self._perm_cache = (epoch, self._rng(epoch, _STREAM_EPOCH).permutation(len(self.tunes)))
        return self._perm_cache[1]

    def _tune_batch(self, step: int) -> Batch:
        B, n = self.batch_size, len(self.tunes)
        position = step * B + np.arange(B)
        epoch = position // n
        which = np.empty(B, np.int64)
        for e in np.unique(epoch):
            sel = epoch == e
            which[sel] = self._epoch_perm(int(e))[position[sel] % n]
        L = np.minimum(self.lengths[which], self.window + 1)
        n_targets = int((L - 1).sum())
        u = self._rng(step, _STREAM_TRAIN).random(B)
        rows = slice(self.rank * self.local_batch, (self.rank + 1) * self.local_batch)
        which, L, u = which[rows], L[rows], u[rows]
        width = int(L.max())
        pos = np.arange(width)
        valid = pos[None, :] < L[:, None]
        idx = self.starts[which][:, None] + np.where(valid, pos[None, :], 0)
        seq = np.where(valid, self.tokens[idx], self.pad_id).astype(np.int64)
        shifts = self._transpose(seq, u)
        inputs = np.where(pos[None, :-1] < (L - 1)[:, None], seq[:, :-1], self.pad_id)
        targets = seq[:, 1:]
        return Batch(torch.from_numpy(np.ascontiguousarray(inputs)), torch.from_numpy(np.ascontiguousarray(targets)),
                     torch.from_numpy(L - 1), n_targets, shifts, self.tunes[which])

    # -- transposition -------------------------------------------------------------------------
    def _transpose(self, seq: np.ndarray, u: np.ndarray) -> np.ndarray:
        """Shift each row of ``seq`` in place by a shift drawn from ``u`` (uniform in [0, 1))."""
        if not self.transpose:
            return np.zeros(len(seq), np.int64)
        pitch = self.pitch_of[seq]
        is_pitch = pitch >= 0
        lo_p, hi_p = self.pitch_range
        has = is_pitch.any(axis=1)
        pmin = np.where(is_pitch, pitch, 1 << 20).min(axis=1)
        pmax = pitch.max(axis=1)
        lo = np.where(has, np.maximum(lo_p - pmin, -11), -11)
        hi = np.where(has, np.minimum(hi_p - pmax, 11), 11)
        shifts = lo + np.floor(u * (hi - lo + 1)).astype(np.int64)
        seq += is_pitch * shifts[:, None]
        is_key = (seq >= self.key_base) & (seq < self.key_end)
        k = seq - self.key_base
        keyed = self.key_base + (k // 12) * 12 + (k % 12 + shifts[:, None]) % 12
        np.copyto(seq, keyed, where=is_key)
        return shifts


class BatchDataset(torch.utils.data.Dataset):
    """A map-style torch Dataset whose item ``i`` is global batch ``i`` (this rank's rows).

    Use with ``DataLoader(BatchDataset(sampler, steps), batch_size=None, num_workers=k)`` to
    build batches in worker processes; the training loop calls the sampler directly.
    """

    def __init__(self, sampler: WindowSampler, steps: int, *, start: int = 0) -> None:
        self.sampler, self.steps, self.start = sampler, int(steps), int(start)

    def __len__(self) -> int:
        return self.steps - self.start

    def __getitem__(self, i: int) -> Batch:
        if not 0 <= i < len(self):
            raise IndexError(i)
        return self.sampler.batch(self.start + i)


def noisy_inputs(inputs: torch.Tensor, tokenizer, p: float, seed: "int | list[int]") -> torch.Tensor:
    """``inputs`` with a share ``p`` of its note-start tokens (PITCH; NOTE_ON in the event vocabulary)
    moved up or down by 1 or 2 semitones: ``train.input_noise``, applied to training inputs only.

    The targets stay the real music, so the model learns to continue a tune through a wrong note
    (its own, when it samples) instead of following it into another key. Draws depend only on
    ``seed`` (a resumed run corrupts the same tokens); a note moved out of the vocabulary's range
    stays as it was.

    Parameters
    ----------
    inputs : LongTensor (B, T) of token ids.
    tokenizer : the vocabulary (:meth:`~musicgate.tokens.tokenizer.Tokenizer.note_starts` and
        :meth:`~musicgate.tokens.tokenizer.Tokenizer.token_of_pitch`).
    p : share of note-start tokens to move, in [0, 1).
    seed : seeds the draws (the loop passes ``[train.seed, step, rank]``).
    """
    if p <= 0:
        return inputs
    token_of = tokenizer.token_of_pitch()
    x = inputs.cpu().numpy()
    pitch = np.where(tokenizer.note_starts()[x], np.asarray(tokenizer.pitch_of, np.int64)[x], -1)
    rng = np.random.default_rng(seed)
    hit = (pitch >= 0) & (rng.random(x.shape) < p)
    moved = pitch + rng.choice(np.array([-2, -1, 1, 2]), size=x.shape)
    new = token_of[np.clip(moved, 0, 127)]
    ok = hit & (moved >= 0) & (moved <= 127) & (new >= 0)
    if not ok.any():
        return inputs
    return torch.from_numpy(np.where(ok, new, x)).to(inputs.device)


def self_fed_inputs(inputs: torch.Tensor, logits: torch.Tensor, tokenizer, p: float,
                    seed: "int | list[int]") -> torch.Tensor:
    """``inputs`` with a share ``p`` of its note-start tokens replaced by the model's own choice there:
    ``train.self_feed``, parallel scheduled sampling (Duckworth et al. 2019), on training inputs only.

    ``logits[:, t]`` is the model's prediction of ``inputs[:, t + 1]`` from the real tokens before it
    (a teacher-forced pass of the same batch); where a note starts at ``t + 1`` and is drawn, it is
    replaced by a note-start token sampled from those logits restricted to the note starts (the
    model's own next pitch, given that a note comes). The targets stay the real music, so the model
    learns to go on in the key from the notes it would have written itself, the mistakes it makes when
    it samples (drifting to the relative key, a stray accidental), which random moves (``noisy_inputs``)
    do not imitate. Draws depend only on ``seed`` and the logits.

    Parameters
    ----------
    inputs : LongTensor (B, T) of token ids.
    logits : (B, T, V) predictions of the next token at each position.
    tokenizer : the vocabulary (:meth:`~musicgate.tokens.tokenizer.Tokenizer.note_starts`).
    p : share of note-start tokens (after the first position) to replace, in [0, 1).
    seed : seeds the draws (the loop passes ``[train.seed, step, rank, 1]``).
    """
    if p <= 0:
        return inputs
    starts = np.asarray(tokenizer.note_starts(), bool)
    x = inputs.cpu().numpy()
    rng = np.random.default_rng(seed)
    hit = starts[x] & (rng.random(x.shape) < p)
    hit[:, 0] = False                                  # nothing predicts the first token
    rows, cols = np.nonzero(hit)
    if not len(rows):
        return inputs
    columns = torch.as_tensor(np.flatnonzero(starts), device=logits.device)
    chosen = logits.detach()[torch.as_tensor(rows, device=logits.device),
                             torch.as_tensor(cols - 1, device=logits.device)].float().index_select(1, columns)
    cdf = torch.softmax(chosen, dim=-1).cumsum(-1).cpu().numpy()
    u = rng.random(len(rows))[:, None] * cdf[:, -1:]
    pick = np.minimum((cdf < u).sum(axis=1), cdf.shape[1] - 1)
    out = x.copy()
    out[rows, cols] = np.flatnonzero(starts)[pick]
    return torch.from_numpy(out).to(inputs.device)


def drifted_inputs(inputs: torch.Tensor, tokenizer, p: float, seed: "int | list[int]", *,
                   span: tuple[int, int] = (16, 48)) -> torch.Tensor:
    """``inputs`` where, in a share ``p`` of the rows, one phrase of ``span`` consecutive notes (at least
    half the row's notes in a shorter row) is moved by 2 or 5 steps of the row's scale, up or down:
    ``train.drift_noise``, on training inputs only.

    A sampled set leaves its key mostly for the relative key, whose notes are the same: the melody's
    centre moves, not its scale (docs/long-memory.md, "Where the windows go"). A phrase moved by scale steps does
    that to real music; the targets stay real, so the model learns to come back home after such a
    phrase instead of following it. The scale is the row's 7 most frequent pitch classes (rows with
    fewer are left as they are); notes outside it in the phrase stay put, as do notes that would leave
    the vocabulary's range. Draws depend only on ``seed``.
    """
    if p <= 0:
        return inputs
    starts = np.asarray(tokenizer.note_starts(), bool)
    token_of = tokenizer.token_of_pitch()
    pitch_of = np.asarray(tokenizer.pitch_of, np.int64)
    x = inputs.cpu().numpy()
    out = x.copy()
    rng = np.random.default_rng(seed)
    for r in np.flatnonzero(rng.random(len(x)) < p):
        cols = np.flatnonzero(starts[x[r]])
        pitches = pitch_of[x[r, cols]]
        counts = np.bincount(pitches % 12, minlength=12)
        if (counts > 0).sum() < 7 or len(cols) < 3:
            continue
        scale = np.sort(np.argsort(-counts, kind="stable")[:7])
        low = min(span[0], len(cols) // 2)  # a short window moves half its notes at least
        n = int(rng.integers(low, min(span[1], len(cols) - 1) + 1))
        first = int(rng.integers(1, len(cols) - n + 1))
        steps = int(rng.choice([-5, -2, 2, 5]))
        for c, pitch in zip(cols[first:first + n], pitches[first:first + n]):
            where = np.flatnonzero(scale == pitch % 12)
            if not len(where):
                continue
            degree = int(where[0]) + steps
            moved = pitch - pitch % 12 + scale[degree % 7] + 12 * (degree // 7)
            if 0 <= moved <= 127 and token_of[moved] >= 0:
                out[r, c] = token_of[moved]
    return torch.from_numpy(out).to(inputs.device)
