"""The prepared-dataset layout: one reader (that validates), one writer, one in-memory type.

A prepared dataset (``datasets/NAME/``, written by ``musicgate data prepare`` or
:func:`write_dataset`) is one flat array of token ids (``tokens.npy``) plus tune offsets
(``offsets.npy``), the tokenizer (``tokenizer.json``), the train/valid/test tune indices
(``splits.npz``) and a manifest (``manifest.json``); a ``COMPLETE`` marker is written last and a
folder without it is never read. Torch-free: the batch sampler is :mod:`musicgate.data.dataset`.
"""
from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from musicgate.errors import DataError, TokenizerError
from musicgate.files import atomic_write_json, atomic_write_text
from musicgate.tokens.tokenizer import Tokenizer, load_tokenizer

HEADER = 3
"""Tokens in every tune's header: BOS KEY METER."""
SPLITS = ("train", "valid", "test")


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

    def __len__(self) -> int:
        return len(self.offsets) - 1


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
                  manifest: dict | None = None, name: str | None = None, complete: str = "") -> Path:
    """Write token sequences in the prepared-dataset layout; the one writer of that layout.

    The folder is built beside ``path`` and renamed into place, so a reader sees the old dataset or
    the whole new one, never a mix; ``COMPLETE`` (holding ``complete``) is written last.

    Parameters
    ----------
    tunes : list of (L_i,) int arrays, each ``BOS KEY METER ... EOS``.
    splits : split name -> tune indices.
    manifest : what else to record (``data prepare`` lists sources, labels and rejects); the
        name, tune count and content fingerprint are added.
    """
    from musicgate.data.fingerprint import content_fingerprint

    path = Path(path)
    lengths = np.array([len(t) for t in tunes], np.int64)
    tokens = (np.concatenate([np.asarray(t) for t in tunes]) if len(tunes) else np.zeros(0)).astype(np.int32)
    offsets = np.r_[0, np.cumsum(lengths)].astype(np.int64)
    splits = {k: np.asarray(v, np.int64) for k, v in splits.items()}
    manifest = {"name": name or path.name, **(manifest or {}),
                "fingerprint": content_fingerprint(tokens, offsets, splits, tokenizer)}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f".{path.name}.building-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    np.save(tmp / "tokens.npy", tokens)
    np.save(tmp / "offsets.npy", offsets)
    np.savez(tmp / "splits.npz", **splits)
    tokenizer.save(tmp / "tokenizer.json")
    atomic_write_json(tmp / "manifest.json", manifest)
    atomic_write_text(tmp / "COMPLETE", complete)
    old = path.parent / f".{path.name}.old-{os.getpid()}"
    if path.exists():
        os.replace(path, old)
    os.replace(tmp, path)
    shutil.rmtree(old, ignore_errors=True)
    return path
