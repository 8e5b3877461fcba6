"""Key keepers: the units of a recurrent model whose state best tells which key the tune was asked in.

The read-out is linear and per unit: from one unit's state after a note, guess the asked key as the
key whose average state (over the training tunes, at that unit) is nearest. The averages are learnt
on half of the tunes of each key and the guesses scored on the other half, then the halves swap
(2-fold, split by tune, so a unit cannot score by remembering one tune). A unit that holds the key
in memory scores high at every note; one whose memory fades scores near chance (one over the
number of keys) once the start of the tune is behind it.

Numpy only: the states come from :func:`musicgate.nn.models.trace_gates` (see
:mod:`musicgate.viz.keykeeper` for the picture).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from musicgate.errors import ParameterError


@dataclass
class KeyKeepers:
    """What :func:`key_keepers` measured.

    Attributes
    ----------
    units : (k,) the best units, best first.
    accuracy : (H,) held-out share of notes whose asked key each unit's state tells right.
    by_note : (k, n) that share per note position for the best units (over the held-out tunes).
    chance : one over the number of keys.
    keys : the key labels, in the order of the per-key means.
    skip : notes at the start left out of ``accuracy`` (the key token is still fresh there).
    """

    units: np.ndarray
    accuracy: np.ndarray
    by_note: np.ndarray
    chance: float
    keys: list
    skip: int

    @property
    def best(self) -> float:
        """Held-out accuracy of the best unit."""
        return float(self.accuracy[self.units[0]]) if len(self.units) else float("nan")


def _fold_guesses(states: np.ndarray, labels: np.ndarray, train: np.ndarray, test: np.ndarray,
                  n_keys: int) -> np.ndarray:
    """(test tunes, n, H) key guessed per unit and note from the per-key means of the train tunes."""
    means = np.stack([states[train[labels[train] == k]].mean(axis=0) for k in range(n_keys)])  # (K, n, H)
    dist = np.abs(states[test][:, None] - means[None])  # (test, K, n, H)
    return dist.argmin(axis=1)


def key_keepers(states: np.ndarray, labels, *, top: int = 3, skip: int = 8) -> KeyKeepers:
    """The ``top`` units whose state best tells the asked key (held-out, per-unit nearest key mean).

    Parameters
    ----------
    states : (N, n, H) float array
        Each tune's state per note (N tunes of n notes, H units).
    labels : (N,) the key each tune was asked in (any hashable labels; at least two keys, each
        with at least two tunes).
    top : int
        How many units to return.
    skip : int
        Notes at the start left out of the overall score (the key token was just read: every
        cell knows the key there).

    Returns
    -------
    KeyKeepers
    """
    states = np.asarray(states, np.float64)
    if states.ndim != 3:
        raise ParameterError(f"states must be (tunes, notes, units), got shape {states.shape}")
    names = list(dict.fromkeys(labels))
    y = np.array([names.index(x) for x in labels], np.int64)
    if len(y) != len(states):
        raise ParameterError(f"{len(y)} labels for {len(states)} tunes")
    counts = np.bincount(y, minlength=len(names))
    if len(names) < 2 or counts.min() < 2:
        raise ParameterError(f"key keepers need at least two keys with two tunes each, got {dict(zip(names, counts))}")
    n_tunes, n, hidden = states.shape
    fold = np.zeros(n_tunes, np.int64)
    for k in range(len(names)):  # alternate the tunes of each key between the folds
        fold[np.flatnonzero(y == k)[1::2]] = 1
    right = np.zeros((n_tunes, n, hidden), bool)
    for f in (0, 1):
        test, train = np.flatnonzero(fold == f), np.flatnonzero(fold != f)
        right[test] = _fold_guesses(states, y, train, test, len(names)) == y[test, None, None]
    start = min(skip, max(n - 1, 0))
    accuracy = right[:, start:].mean(axis=(0, 1))
    units = np.argsort(-accuracy, kind="stable")[:top]
    return KeyKeepers(units=units, accuracy=accuracy, by_note=right[:, :, units].mean(axis=0).T,
                      chance=1.0 / len(names), keys=names, skip=start)


__all__ = ["KeyKeepers", "key_keepers"]
