"""The dataset fingerprint: a hash of what a model is trained on, the same in every clone.

It hashes the content of a prepared dataset (the token ids, the tune offsets, the splits and the
tokenizer), never file names, sizes or modification times, so a checkpoint trained on one
machine resumes on another that prepared (or copied) the same data.
"""
from __future__ import annotations

import hashlib
import json

import numpy as np


def content_fingerprint(tokens: np.ndarray, offsets: np.ndarray, splits: dict, tokenizer) -> str:
    """16 hex digits of SHA-256 over the ids (as little-endian int32, whatever the stored dtype),
    the offsets, the sorted splits and the tokenizer's own fingerprint."""
    h = hashlib.sha256()
    h.update(json.dumps(["musicgate-dataset", 1, tokenizer.fingerprint]).encode())
    h.update(np.ascontiguousarray(tokens, dtype="<i4").tobytes())
    h.update(b"|offsets|" + np.ascontiguousarray(offsets, dtype="<i8").tobytes())
    for name in sorted(splits):
        h.update(f"|split {name}|".encode() + np.ascontiguousarray(splits[name], dtype="<i8").tobytes())
    return h.hexdigest()[:16]


def source_digest(files, extra) -> str:
    """SHA-256 (16 hex digits) of source files' bytes (by name within their folder, in the given
    order) and ``extra`` settings: decides whether a cache is stale, the same in every clone."""
    h = hashlib.sha256()
    h.update(json.dumps(extra, sort_keys=True, default=str).encode())
    for f in files:
        h.update(f"\n{f.name}\n".encode())
        with open(f, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
    return h.hexdigest()[:16]
