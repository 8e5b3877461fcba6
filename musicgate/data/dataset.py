"""Training examples from a prepared token dataset: windows or whole tunes, transposed on the fly.

A prepared dataset (``datasets/NAME/``, written by ``musicgate data prepare``) is one flat array
of token ids plus tune offsets, the tokenizer, the train/valid/test tune indices and a manifest
with the dataset fingerprint; a ``COMPLETE`` marker is written last and a folder without it is
never read. :func:`open_dataset` reads that layout.

:class:`WindowSampler` turns one split into batches, a pure function of ``(seed, step)``:

* ``mode="window"``: each example keeps the tune's header ``BOS KEY METER`` and follows it with a
  contiguous chunk of the tune's body, so key conditioning always has the KEY token in context.
  Tunes are drawn with probability proportional to their length, the chunk start uniformly. The
  target after ``METER`` is masked when the chunk does not start at the tune's beginning (it is
  not the true next token). Tunes shorter than the window are padded; padded targets are masked.
* ``mode="tune"``: whole tunes in a fixed random order per epoch, padded, with lengths; tunes
  longer than ``window + 1`` tokens are cropped to their first ``window + 1``.

Each example is transposed by a shift drawn uniformly from the shifts that keep its pitches in the
vocabulary's range (:meth:`~musicgate.tokens.tokenizer.Tokenizer.shift_range`); the KEY token moves with
the pitches. Masked targets hold ``pad_id`` (use it as ``ignore_index``).

Batches depend only on ``(seed, step)``, never on what was drawn before, so a resumed run sees the
same data, and under DistributedDataParallel each rank takes its own contiguous share of the same
global batch. Everything is numpy-vectorised: one fancy-indexing gather per batch.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from musicgate.errors import ConfigError, DataError, TokenizerError
from musicgate.files import atomic_path, atomic_write_json, atomic_write_text
from musicgate.tokens.tokenizer import Tokenizer, load_tokenizer

HEADER = 3
"""Tokens in every tune's header: BOS KEY METER."""
SPLITS = ("train", "valid", "test")
_STREAM_TRAIN, _STREAM_EPOCH = 0, 1


@dataclass(frozen=True, eq=False)
class TokenData:
    """A prepared dataset in memory.

    Attributes
    ----------
    tokens : (N,) int array, every tune's ids concatenated.
    offsets : (n_tunes + 1,) int64; tune i is ``tokens[offsets[i]:offsets[i + 1]]``.
    tokenizer : the vocabulary the ids belong to.
    splits : split name -> (k,) int array of tune indices.
    fingerprint : hash of the content: tokens, offsets, splits and tokenizer (stored in checkpoints).
    name : dataset name.
    path : folder it was read from.
    """

    tokens: np.ndarray
    offsets: np.ndarray
    tokenizer: Tokenizer
    splits: dict
    fingerprint: str
    name: str
    path: Path | None = None
    manifest: dict = field(default_factory=dict)

    def tune(self, i: int) -> np.ndarray:
        """Token ids of tune ``i``."""
        return self.tokens[self.offsets[i]:self.offsets[i + 1]]


def open_dataset(path: "str | os.PathLike") -> TokenData:
    """Read a prepared dataset folder (see the module docstring for the layout).

    Raises
    ------
    DataError
        The folder is missing, incomplete (no ``COMPLETE`` marker) or inconsistent.
    """
    path = Path(path)
    if not path.is_dir():
        raise DataError(f"dataset {path} does not exist; prepare it with `musicgate data prepare NAME`")
    if not (path / "COMPLETE").exists():
        raise DataError(f"dataset {path} is incomplete (no COMPLETE marker: an interrupted prepare?); "
                        "prepare it again")
    try:
        tokens = np.load(path / "tokens.npy", mmap_mode=None)
        offsets = np.load(path / "offsets.npy").astype(np.int64)
        with np.load(path / "splits.npz") as z:
            splits = {k: np.asarray(z[k], np.int64) for k in z.files}
        manifest = json.loads((path / "manifest.json").read_text())
        tokenizer = load_tokenizer(path / "tokenizer.json")
    except (OSError, ValueError, KeyError, TokenizerError) as exc:
        raise DataError(f"dataset {path} cannot be read ({exc}); prepare it again") from None
    n = len(offsets) - 1
    if (tokens.ndim != 1 or n < 1 or offsets[0] != 0 or offsets[-1] != len(tokens)
            or np.any(np.diff(offsets) < HEADER + 1)):
        raise DataError(f"dataset {path}: tokens.npy and offsets.npy disagree; prepare it again")
    if len(tokens) and (tokens.min() < 0 or tokens.max() >= len(tokenizer)):
        raise DataError(f"dataset {path}: token ids outside its {len(tokenizer)}-token vocabulary; prepare it again")
    if np.any(tokens[offsets[:-1]] != tokenizer.bos_id):
        raise DataError(f"dataset {path}: a tune does not start with BOS; prepare it again")
    for name, idx in splits.items():
        if len(idx) and (idx.min() < 0 or idx.max() >= n):
            raise DataError(f"dataset {path}: split {name!r} names tunes outside 0..{n - 1}; prepare it again")
    from musicgate.data.fingerprint import content_fingerprint

    fingerprint = content_fingerprint(tokens, offsets, splits, tokenizer)  # content, not names or times
    return TokenData(tokens=tokens, offsets=offsets, tokenizer=tokenizer, splits=splits,
                     fingerprint=fingerprint, name=str(manifest.get("name", path.name)), path=path,
                     manifest=manifest)


def write_dataset(path: "str | os.PathLike", tunes: list, tokenizer: Tokenizer, splits: dict, *,
                  fingerprint: str | None = None, name: str | None = None) -> Path:
    """Write token sequences in the prepared-dataset layout (for tests and small custom data).

    Parameters
    ----------
    tunes : list of (L_i,) int arrays, each ``BOS KEY METER ... EOS``.
    splits : split name -> tune indices.
    fingerprint : defaults to a hash of the tokens and the tokenizer fingerprint.
    """
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    marker = path / "COMPLETE"
    if marker.exists():
        marker.unlink()
    lengths = np.array([len(t) for t in tunes], np.int64)
    tokens = np.concatenate([np.asarray(t) for t in tunes]).astype(np.int32)
    offsets = np.r_[0, np.cumsum(lengths)].astype(np.int64)
    if fingerprint is None:
        from musicgate.data.fingerprint import content_fingerprint

        fingerprint = content_fingerprint(tokens, offsets, splits, tokenizer)
    for fname, arr in (("tokens.npy", tokens), ("offsets.npy", offsets)):
        with atomic_path(path / fname) as tmp:
            with open(tmp, "wb") as fh:
                np.save(fh, arr)
    with atomic_path(path / "splits.npz") as tmp:
        with open(tmp, "wb") as fh:
            np.savez(fh, **{k: np.asarray(v, np.int64) for k, v in splits.items()})
    tokenizer.save(path / "tokenizer.json")
    atomic_write_json(path / "manifest.json", {"name": name or path.name, "tunes": len(tunes),
                                               "fingerprint": fingerprint, "labels": {}, "rejects": []})
    atomic_write_text(marker, "")
    return path


def load_data(spec: "str | os.PathLike", *, root: "str | os.PathLike" = "datasets") -> TokenData:
    """A prepared dataset by folder path, or by name under ``root``.

    Uses :func:`musicgate.data.corpora.load_prepared` when it is available (it knows the built-in
    corpora and rebuilds stale caches); otherwise reads the folder with :func:`open_dataset`.
    """
    path = Path(spec)
    if path.is_dir():
        return open_dataset(path)
    try:
        from musicgate.data.corpora import load_prepared  # type: ignore[attr-defined]
    except ImportError:
        load_prepared = None
    if load_prepared is not None:
        return load_prepared(str(spec))
    candidate = Path(root) / str(spec)
    if not candidate.is_dir():
        raise DataError(f"no prepared dataset {str(spec)!r} (looked in {candidate}); "
                        f"run `musicgate data prepare {spec}` or give the dataset folder's path")
    return open_dataset(candidate)


@dataclass
class Batch:
    """One rank's share of a global batch.

    Attributes
    ----------
    inputs : LongTensor (B, T) token ids.
    targets : LongTensor (B, T) next-token ids, ``pad_id`` where there is no target.
    lengths : LongTensor (B,) valid input length per row (tune mode), or None (window mode).
    n_targets : valid targets in the whole global batch (all ranks): the loss normaliser.
    shifts : (B,) semitones each row was transposed by.
    tunes : (B,) tune index of each row.
    """

    inputs: torch.Tensor
    targets: torch.Tensor
    lengths: torch.Tensor | None
    n_targets: int
    shifts: np.ndarray
    tunes: np.ndarray


class WindowSampler:
    """Batches of training examples from one split; ``batch(step)`` is a pure function.

    Parameters
    ----------
    data : TokenData (or any object with ``tokens``, ``offsets``, ``tokenizer``, ``splits``).
    split : ``train``, ``valid`` or ``test``.
    window : tokens the model reads per example.
    batch_size : examples per global batch (all ranks together).
    mode : ``window`` or ``tune`` (see the module docstring).
    transpose : random transposition per example.
    seed : data-order seed.
    rank, world_size : this process's share of each global batch (contiguous rows).
    """

    def __init__(self, data, split: str = "train", *, window: int = 256, batch_size: int = 32,
                 mode: str = "window", transpose: bool = True, seed: int = 0, rank: int = 0,
                 world_size: int = 1) -> None:
        if mode not in ("window", "tune"):
            raise ConfigError(f"data.mode {mode!r} is not one of window, tune")
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

    def __len__(self) -> int:
        """Batches in one pass over the split in tune mode (ceil); windows: tokens / window."""
        if self.mode == "tune":
            return -(-len(self.tunes) // self.batch_size)
        return max(1, int(self.cum[-1]) // (self.window * self.batch_size))

    def state_dict(self) -> dict:
        """What decides the data stream (the step is the trainer's)."""
        return {"seed": self.seed, "split": self.split, "mode": self.mode, "window": self.window,
                "batch_size": self.batch_size, "transpose": self.transpose}

    def _rng(self, step: int, stream: int) -> np.random.Generator:
        return np.random.default_rng([self.seed, stream, int(step)])

    def batch(self, step: int) -> Batch:
        """This rank's rows of global batch number ``step``."""
        if self.mode == "tune":
            return self._tune_batch(step)
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
