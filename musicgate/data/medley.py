"""Medleys: long streams of tunes in one key, for training a model to hold the key in its state.

Folk musicians play tunes in *sets*: several tunes back to back, in one key. A medley stream is
built the same way from a split of a prepared dataset::

    BOS KEY METER | body of tune 1 ... EOS | body of tune 2 ... EOS | ... (cut at ``length`` tokens)

One header opens the stream; the tunes that follow have their own ``BOS KEY METER`` removed, keep
their ``EOS`` (the tune boundary: no new token is needed), and are all transposed into the stream's
key. Only tunes of the stream's mode are used (major with major, minor with minor, dorian with
dorian, ...). The KEY token appears once, at the start, so a model that still has to know the key
thousands of tokens later must carry it in its state. The header's METER is the first tune's; the
tunes that follow keep their own bar structure (sets mix meters rarely, but this corpus's minor
tunes are too few to group by meter as well).

A stream is a pure function of ``(seed, generation, row)``, computed for one row at a time, so
each process of a distributed run builds only its own rows.

Each row:

1. draws its mode with probability proportional to the mode's tokens in the split
   (``mode_weights="tokens"``, the corpus's mix) or with equal probability (``"equal"``: a corpus
   where one mode is rare still gives it as many streams as the others);
2. draws its key's tonic uniformly from the 12 (``transpose=True``), or takes the first tune's;
3. plays the mode's tunes in a random order, without repeating one, each moved by the shift of
   -6..+5 semitones (or the other octave when that leaves the vocabulary's pitch range) that puts
   its tonic on the stream's; a tune that fits in neither octave is left out;
4. stops when ``length`` tokens are filled (the last tune is cut).

A mode whose tunes in the split hold fewer tokens than one stream cannot fill a stream without
repeating a tune; asking for it is a :class:`~musicgate.errors.DataError`.
"""
from __future__ import annotations

import numpy as np

from musicgate.errors import ConfigError, DataError
from musicgate.music.keys import MODES

_STREAM_MEDLEY = 2
MODE_WEIGHTS = ("tokens", "equal")
"""How a stream draws its mode: in proportion to the mode's tokens, or each mode equally often."""
_NO_PITCH = 1 << 20


def parse_modes(modes: "str | tuple | list") -> tuple[str, ...]:
    """``"major,minor"`` (or a sequence, or ``"all"``) as a tuple of mode names, checked."""
    if isinstance(modes, str):
        names = MODES if modes.strip() == "all" else tuple(m.strip() for m in modes.split(",") if m.strip())
    else:
        names = tuple(modes)
    bad = [m for m in names if m not in MODES]
    if bad or not names:
        raise ConfigError(f"data.medley_modes {','.join(map(str, bad)) or repr(modes)!s} is not a comma-separated "
                          f"list of modes; use 'all' or names from {', '.join(MODES)}")
    return tuple(dict.fromkeys(names))


class MedleyStreams:
    """Builds medley streams (see the module docstring) from one split of a dataset.

    Parameters
    ----------
    data : TokenData (``tokens``, ``offsets``, ``tokenizer``, ``splits``, ``name``).
    tunes : (n,) tune indices of the split.
    length : tokens per stream, header included.
    modes : the modes to build medleys of (names from :data:`~musicgate.music.keys.MODES`).
    transpose : draw each stream's tonic uniformly; otherwise keep the first tune's.
    seed : data-order seed.
    split : the split's name (for messages).
    header : tokens in every tune's header (BOS KEY METER).
    mode_weights : ``"tokens"`` (each mode as often as its tokens in the split) or ``"equal"``.

    Raises
    ------
    ConfigError
        An unknown ``mode_weights``.
    DataError
        A mode has too few tunes in the split to fill one stream without repeating a tune.
    """

    def __init__(self, data, tunes: np.ndarray, *, length: int, modes=("major", "minor"), transpose: bool = True,
                 seed: int = 0, split: str = "train", header: int = 3, mode_weights: str = "tokens") -> None:
        if mode_weights not in MODE_WEIGHTS:
            raise ConfigError(f"data.medley_mode_weights {mode_weights!r} is not one of {', '.join(MODE_WEIGHTS)}")
        tok = data.tokenizer
        self.length, self.header, self.transpose, self.seed = int(length), int(header), bool(transpose), int(seed)
        self.modes = parse_modes(modes)
        self.tokens = np.asarray(data.tokens)
        self.pitch_of = np.asarray(tok.pitch_of, np.int64)
        self.pitch_range = tok.pitch_range
        self.bos_id, self.key_base, self.pad_id = tok.bos_id, tok.key_base, tok.pad_id
        offsets = np.asarray(data.offsets, np.int64)
        tunes = np.asarray(tunes, np.int64)
        starts, ends = offsets[tunes], offsets[tunes + 1]
        key = self.tokens[starts + 1].astype(np.int64) - self.key_base
        keyed = (key >= 0) & (key < 12 * len(MODES))
        self.tune_ids = tunes
        self.body_start = starts + header
        self.body_len = ends - self.body_start
        self.tonic = np.where(keyed, key % 12, -1)
        self.meter = self.tokens[starts + 2].astype(np.int64)
        pitch = self.pitch_of[self.tokens]
        lo = np.minimum.reduceat(np.where(pitch >= 0, pitch, _NO_PITCH), offsets[:-1])
        hi = np.maximum.reduceat(pitch, offsets[:-1])
        self.pmin, self.pmax = lo[tunes], hi[tunes]
        mode_of = np.where(keyed, key // 12, -1)
        need = self.length - header
        name = getattr(data, "name", "")
        self.pools, weights = [], []
        for m in self.modes:
            pool = np.flatnonzero(mode_of == MODES.index(m))
            size = int(self.body_len[pool].sum())
            if size < need:
                raise DataError(f"split {split!r} of dataset {name!r} has {len(pool)} {m} tunes ({size:,} tokens); "
                                f"a {self.length:,}-token medley needs {need:,} without repeating a tune: drop {m} "
                                f"from data.medley_modes (now {','.join(self.modes)}) or lower data.medley_tokens")
            self.pools.append((MODES.index(m), pool))
            weights.append(size if mode_weights == "tokens" else 1)
        self.mode_p = np.asarray(weights, np.float64) / sum(weights)

    def build(self, generation: int, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Streams ``rows`` (global row numbers) of ``generation``.

        Returns
        -------
        seq : (len(rows), length) int64 token ids.
        first : (len(rows),) dataset index of each stream's first tune.
        shift : (len(rows),) semitones the first tune was moved by.
        """
        seq = np.empty((len(rows), self.length), np.int64)
        first = np.empty(len(rows), np.int64)
        shift = np.empty(len(rows), np.int64)
        for i, row in enumerate(rows):
            seq[i], first[i], shift[i] = self._row(np.random.default_rng([self.seed, _STREAM_MEDLEY,
                                                                          int(generation), int(row)]))
        return seq, first, shift

    def _shifts(self, order: np.ndarray, tonic: int) -> tuple[np.ndarray, np.ndarray]:
        """Shift that puts each tune's tonic on ``tonic`` (nearest octave that fits), and whether one fits."""
        up = (tonic - self.tonic[order]) % 12                       # 0..11
        down = up - 12
        lo, hi = self.pitch_range
        fits_up = (self.pmin[order] + up >= lo) & (self.pmax[order] + up <= hi)
        fits_down = (self.pmin[order] + down >= lo) & (self.pmax[order] + down <= hi)
        prefer_up = up <= 6
        first, second = np.where(prefer_up, up, down), np.where(prefer_up, down, up)
        ok_first = np.where(prefer_up, fits_up, fits_down)
        ok_second = np.where(prefer_up, fits_down, fits_up)
        return np.where(ok_first, first, second), ok_first | ok_second

    def _row(self, rng: np.random.Generator) -> tuple[np.ndarray, int, int]:
        mode, pool = self.pools[int(rng.choice(len(self.pools), p=self.mode_p))]
        order = rng.permutation(pool)
        tonic = int(rng.integers(12)) if self.transpose else int(self.tonic[order[0]])
        shifts, fits = self._shifts(order, tonic)
        if not fits.any():  # no tune reaches this tonic inside the pitch range: keep the first tune's
            tonic = int(self.tonic[order[0]])
            shifts, fits = self._shifts(order, tonic)
        order, shifts = order[fits], shifts[fits]
        need = self.length - self.header
        cum = np.cumsum(self.body_len[order])
        if cum[-1] < need:  # tunes left out for the range: play the rest again rather than pad
            reps = -(-need // int(cum[-1]))
            order, shifts = np.tile(order, reps), np.tile(shifts, reps)
            cum = np.cumsum(self.body_len[order])
        n = int(np.searchsorted(cum, need)) + 1
        order, shifts, lens = order[:n], shifts[:n], self.body_len[order[:n]]
        begin = np.r_[0, cum[:n - 1]]
        idx = (np.repeat(self.body_start[order] - begin, lens) + np.arange(int(cum[n - 1])))[:need]
        body = self.tokens[idx].astype(np.int64)
        body += (self.pitch_of[body] >= 0) * np.repeat(shifts, lens)[:need]
        key_id = self.key_base + 12 * mode + tonic
        out = np.r_[self.bos_id, key_id, self.meter[order[0]], body]
        return out, int(self.tune_ids[order[0]]), int(shifts[0])
