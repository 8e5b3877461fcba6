"""Tiny prepared datasets built in code: random melodies in the prepared-dataset layout.

Used by the loader, training and checkpoint tests (``datasets/NAME/`` layout of
:mod:`musicgate.data.dataset`), so they run without ``musicgate data prepare``.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from musicgate.music.keys import Key
from musicgate.data.dataset import write_dataset
from musicgate.music.notes import Notes
from musicgate.tokens.tokenizer import make_tokenizer

MAJOR = np.array([0, 2, 4, 5, 7, 9, 11])
MINOR = np.array([0, 2, 3, 5, 7, 8, 10])


def random_tune(rng: np.random.Generator, *, n_notes: int, low: int = 55, high: int = 79) -> Notes:
    """A random walk on a major or minor scale, with simple durations and a key label."""
    tonic = int(rng.integers(12))
    minor = bool(rng.integers(2))
    scale = MINOR if minor else MAJOR
    degrees = np.cumsum(rng.choice([-2, -1, 1, 2], size=n_notes)) + 14
    octave, step = np.divmod(degrees, 7)
    pitch = np.clip(36 + tonic + 12 * octave + scale[step], low, high)
    dur = rng.choice([0.5, 1.0, 1.0, 2.0], size=n_notes)
    onset = np.r_[0.0, np.cumsum(dur)[:-1]]
    return Notes.from_arrays(pitch, onset, dur, key=Key(tonic, "minor" if minor else "major"), meter=(4, 4))


def make_dataset(path: Path, *, n_tunes: int = 40, seed: int = 0, min_notes: int = 8,
                 max_notes: int = 60, pitch_range: tuple[int, int] = (48, 84),
                 vocab: str = "melody", dances: "list[str | None] | None" = None) -> Path:
    """Write ``n_tunes`` random melodies (80/10/10 split) as a prepared dataset at ``path``; ``dances``
    (cycled) are recorded as the tunes' dances in the manifest, as ``data prepare`` records them."""
    rng = np.random.default_rng(seed)
    tok = make_tokenizer(vocab, pitch_range=pitch_range, **({"max_beats": 4} if vocab == "melody" else {}))
    tunes = [tok.encode(random_tune(rng, n_notes=int(rng.integers(min_notes, max_notes + 1))))
             for _ in range(n_tunes)]
    order = rng.permutation(n_tunes)
    n_valid = max(1, n_tunes // 10)
    splits = {"train": order[2 * n_valid:], "valid": order[:n_valid], "test": order[n_valid:2 * n_valid]}
    manifest = None
    if dances is not None:
        manifest = {"tunes": [{"key": None, "notes": len(tok.decode(t)),
                               **({"dance": dances[i % len(dances)]} if dances[i % len(dances)] else {})}
                              for i, t in enumerate(tunes)]}
    return write_dataset(path, tunes, tok, splits, name=path.name, manifest=manifest)


REPO = Path(__file__).resolve().parents[1]


def tiny_config(dataset: Path, *overrides: str):
    """``configs/tiny.yaml`` pointed at ``dataset``, with extra ``section.key=value`` overrides."""
    from musicgate.train.config import load_config

    return load_config(REPO / "configs" / "tiny.yaml", [f"data.dataset={dataset}", *overrides])
