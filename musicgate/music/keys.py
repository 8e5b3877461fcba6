"""Keys, modes and key signatures.

A :class:`Key` is a tonic pitch class (0 = C ... 11 = B) and a mode. The 24 major and minor keys
are the ones key estimation chooses from; the church modes are what folk-tune labels carry
(``K: Ador`` in ABC). Every mode has a key signature: A dorian's is G major's.

Also here: the key profiles (:data:`PROFILE_NAMES`, :func:`profile`), the MIREX weighted score
(:func:`mirex_score`, :data:`MIREX_TABLE`), circle-of-fifths distance and the in-signature rate.
Key estimation from notes lives in :mod:`musicgate.analysis.keyfind`.
"""
from __future__ import annotations

import re
import warnings
from dataclasses import dataclass
from functools import lru_cache
from typing import NamedTuple

import numpy as np

from musicgate.errors import KeyNameError, ParameterError

MODES: tuple[str, ...] = ("major", "minor", "dorian", "phrygian", "lydian", "mixolydian", "locrian")
"""Modes in token order. ``major`` is ionian and ``minor`` aeolian."""

# Position of each mode's tonic on the circle of fifths relative to its signature's major tonic.
_MODE_FIFTHS = {"lydian": -1, "major": 0, "mixolydian": 1, "dorian": 2, "minor": 3,
                "phrygian": 4, "locrian": 5}
_MODE_ALIASES = {
    "": "major", "maj": "major", "major": "major", "ion": "major", "ionian": "major",
    "m": "minor", "min": "minor", "minor": "minor", "aeo": "minor", "aeolian": "minor",
    "dor": "dorian", "dorian": "dorian", "phr": "phrygian", "phrygian": "phrygian",
    "lyd": "lydian", "lydian": "lydian", "mix": "mixolydian", "mixolydian": "mixolydian",
    "loc": "locrian", "locrian": "locrian",
}
_LETTER_PC = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}
_MAJOR_SCALE = (0, 2, 4, 5, 7, 9, 11)
_KEY_RE = re.compile(r"^\s*([A-Ga-g])\s*(#|b|-|♯|♭|sharp|flat)?\s*(.*?)\s*$")
KEY_FORMS = ("'D major'", "'D'", "'Dm'", "'F# minor'", "'Bb'", "'Eb minor'", "ABC forms such as "
             "'Ador', 'Dmix', 'Em', 'Gmaj'", "modes: " + ", ".join(MODES))


def _fifths_name(fifths: int) -> str:
    """Spelled pitch name of a position on the circle of fifths (0 = C, 1 = G, -1 = F)."""
    letter = "FCGDAEB"[(fifths + 1) % 7]
    acc = (fifths + 1) // 7
    return letter + ("#" * acc if acc > 0 else "b" * -acc)


@dataclass(frozen=True, order=True)
class Key:
    """A tonic pitch class (0-11, C = 0) and a mode from :data:`MODES`."""

    tonic: int
    mode: str = "major"

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise KeyNameError(f"unknown mode {self.mode!r}; valid modes: {', '.join(MODES)}")
        object.__setattr__(self, "tonic", int(self.tonic) % 12)

    @property
    def signature(self) -> int:
        """Sharps (positive) or flats (negative) of the key signature, in -6..5."""
        tonic_fifths = (self.tonic * 7) % 12  # C=0, G=1, D=2 ... as fifths above C, mod 12
        sig = tonic_fifths - _MODE_FIFTHS[self.mode]
        return (sig + 6) % 12 - 6

    @property
    def tonic_name(self) -> str:
        """The tonic spelled in the key's own signature (``Eb`` in E-flat minor, ``F#`` in D major)."""
        return _fifths_name(self.signature + _MODE_FIFTHS[self.mode])

    @property
    def name(self) -> str:
        """Canonical name such as ``"D major"`` or ``"A dorian"``."""
        return f"{self.tonic_name} {self.mode}"

    @property
    def pitch_classes(self) -> frozenset[int]:
        """The seven diatonic pitch classes of the key signature."""
        major_tonic = (self.signature * 7) % 12
        return frozenset((major_tonic + s) % 12 for s in _MAJOR_SCALE)

    @property
    def is_major_minor(self) -> bool:
        """True for the 24 major and minor keys."""
        return self.mode in ("major", "minor")

    def transpose(self, semitones: int) -> "Key":
        """The same mode on a tonic ``semitones`` higher."""
        return Key(self.tonic + semitones, self.mode)

    @classmethod
    def from_signature(cls, sharps: int, minor: bool = False) -> "Key":
        """Key of a MIDI key-signature event: ``sharps`` in -7..7 and the minor flag."""
        tonic_fifths = int(sharps) + (3 if minor else 0)
        return cls((tonic_fifths * 7) % 12, "minor" if minor else "major")

    def __str__(self) -> str:
        return self.name


def parse_key(text: "str | Key") -> Key:
    """Parse a key name: ``"D major"``, ``"Dm"``, ``"F# minor"``, ``"Bb"``, ``"Ador"``, ``"Dmix"``.

    Raises
    ------
    KeyNameError
        If the text is not a key name; the message lists the accepted forms.
    """
    if isinstance(text, Key):
        return text
    m = _KEY_RE.match(str(text))
    if m is None:
        raise KeyNameError(f"unknown key {text!r}; accepted forms: {', '.join(KEY_FORMS)}")
    letter, acc, mode_text = m.groups()
    acc_shift = {None: 0, "#": 1, "♯": 1, "sharp": 1, "b": -1, "-": -1, "♭": -1, "flat": -1}[acc]
    mode_key = mode_text.lower().replace(" ", "")
    mode = _MODE_ALIASES.get(mode_key)
    if mode is None and len(mode_key) > 3:  # ABC: "Mixo", "Dorisch" ... only 3 letters count,
        cand = _MODE_ALIASES.get(mode_key[:3])  # but accept only prefixes of real names here
        if cand is not None and any(a.startswith(mode_key) for a, m in _MODE_ALIASES.items()
                                    if m == cand):
            mode = cand
    if mode is None:
        raise KeyNameError(f"unknown key {text!r}; accepted forms: {', '.join(KEY_FORMS)}")
    if letter.islower() and mode_key == "":
        mode = "minor"  # music21 convention: lower-case tonic means minor
    return Key(_LETTER_PC[letter.upper()] + acc_shift, mode)


def parse_abc_key(field: str) -> Key:
    """Key of an ABC ``K:`` field: ``"K: G"``, ``"K:Ador"``, ``"K:D Mix"``, ``"K:Em clef=bass"``.

    The ``K:`` prefix is optional; clef and other ``name=value`` settings and explicit
    accidentals after the key (``"K:D exp _b ^f"``) are ignored.

    Raises
    ------
    KeyNameError
        If the field names no key (``K:none``, bagpipe ``K:HP``).
    """
    text = re.sub(r"^\s*K:\s*", "", str(field))
    words = [w for w in text.split() if "=" not in w]
    kept: list[str] = []
    for w in words:
        if w.lower() == "exp" or w[:1] in "^_=" or (kept and len(kept) >= 2):
            break
        kept.append(w)
    if not kept:
        raise KeyNameError(f"ABC field {field!r} names no key; write e.g. 'K:G' or 'K:Ador'")
    return parse_key(" ".join(kept))


MAJOR_MINOR_KEYS: tuple[Key, ...] = tuple(Key(t, m) for m in ("major", "minor") for t in range(12))
"""The 24 major and minor keys: C major ... B major, then C minor ... B minor."""


def key_index(key: "str | Key") -> int:
    """Index of a major or minor key in :data:`MAJOR_MINOR_KEYS` (0-11 major, 12-23 minor).

    Raises
    ------
    KeyNameError
        If the key is modal (dorian ...): use :func:`to_major_minor` first.
    """
    k = parse_key(key)
    if not k.is_major_minor:
        raise KeyNameError(f"{k.name} is not a major or minor key; map it with to_major_minor()")
    return k.tonic + (12 if k.mode == "minor" else 0)


def to_major_minor(key: "str | Key") -> Key:
    """The major or minor key on the same tonic with the same third.

    Lydian and mixolydian map to major, dorian, phrygian and locrian to minor
    (``A dorian -> A minor``); major and minor keys are returned unchanged.
    """
    k = parse_key(key)
    return k if k.is_major_minor else Key(k.tonic, "major" if k.mode in ("lydian", "mixolydian")
                                         else "minor")


# -- key profiles -----------------------------------------------------------------------------
# Weights for the twelve pitch classes above the tonic (tonic first), (major, minor).
# Krumhansl-Kessler, Aarden-Essen, Bellman-Budge, Temperley-Kostka-Payne and Sapp's simple
# weights are music21's (analysis/discrete.py, after humdrum's keycor); Albrecht-Shanahan is the
# amads project's (Albrecht & Shanahan, Music Perception 2013), which music21 does not ship.
_PROFILES: dict[str, tuple[tuple[float, ...], tuple[float, ...]]] = {
    "krumhansl-kessler": (
        (6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88),
        (6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17)),
    "temperley-kostka-payne": (
        (0.748, 0.060, 0.488, 0.082, 0.670, 0.460, 0.096, 0.715, 0.104, 0.366, 0.057, 0.400),
        (0.712, 0.084, 0.474, 0.618, 0.049, 0.460, 0.105, 0.747, 0.404, 0.067, 0.133, 0.330)),
    "aarden-essen": (
        (17.7661, 0.145624, 14.9265, 0.160186, 19.8049, 11.3587, 0.291248, 22.062, 0.145624,
         8.15494, 0.232998, 4.95122),
        (18.2648, 0.737619, 14.0499, 16.8599, 0.702494, 14.4362, 0.702494, 18.6161, 4.56621,
         1.93186, 7.37619, 1.75623)),
    "bellman-budge": (
        (16.80, 0.86, 12.95, 1.41, 13.49, 11.93, 1.25, 20.28, 1.80, 8.04, 0.62, 10.57),
        (18.16, 0.69, 12.99, 13.34, 1.07, 11.15, 1.38, 21.07, 7.49, 1.53, 0.92, 10.21)),
    "albrecht-shanahan": (
        (0.238, 0.006, 0.111, 0.006, 0.137, 0.094, 0.016, 0.214, 0.009, 0.080, 0.008, 0.081),
        (0.220, 0.006, 0.104, 0.123, 0.019, 0.103, 0.012, 0.214, 0.062, 0.022, 0.061, 0.052)),
    "sapp-simple": (
        (2, 0, 1, 0, 1, 1, 0, 2, 0, 1, 0, 1),
        (2, 0, 1, 1, 0, 1, 0, 2, 1, 0, 0.5, 0.5)),
}
PROFILE_NAMES: tuple[str, ...] = tuple(_PROFILES)
"""Names of the key profiles, as :func:`profile` and the key finders accept them."""

DEFAULT_PROFILE = "albrecht-shanahan"
"""The profile most accurate across Essen, O'Neill's and the Bach chorales: 91.8%, 91.5% and
80.3% exact, mean 87.9% (Temperley-Kostka-Payne: 93.7%, 87.7%, 78.4%; ``benchmarks/key_accuracy.py``).
On short windows of folk tunes Temperley-Kostka-Payne is better (Essen, 16 notes: 72% against 62%)."""

_PROFILE_ALIASES = {
    "krumhansl": "krumhansl-kessler", "kessler": "krumhansl-kessler",
    "krumhansl-schmuckler": "krumhansl-kessler", "kk": "krumhansl-kessler",
    "temperley": "temperley-kostka-payne", "tkp": "temperley-kostka-payne",
    "aarden": "aarden-essen", "essen": "aarden-essen",
    "bellman": "bellman-budge", "budge": "bellman-budge",
    "albrecht": "albrecht-shanahan", "shanahan": "albrecht-shanahan",
    "sapp": "sapp-simple", "simple": "sapp-simple",
}


@lru_cache(maxsize=64)
def profile_name(name: str) -> str:
    """The canonical profile name for ``name`` (case, ``_`` and spaces are ignored).

    Raises
    ------
    KeyNameError
        If ``name`` is not a profile; the message lists the valid names.
    """
    norm = re.sub(r"[\s_]+", "-", str(name).strip().lower())
    norm = _PROFILE_ALIASES.get(norm, norm)
    if norm not in _PROFILES:
        raise KeyNameError(f"unknown key profile {name!r}; valid profiles: {', '.join(PROFILE_NAMES)}")
    return norm


def profile(name: str = DEFAULT_PROFILE) -> "np.ndarray":
    """The (2, 12) weights of a profile: row 0 major, row 1 minor, tonic first."""
    return np.array(_PROFILES[profile_name(name)], dtype=np.float64)


def rotated_profiles(name: str = DEFAULT_PROFILE) -> "np.ndarray":
    """The (24, 12) profiles of the keys of :data:`MAJOR_MINOR_KEYS`, over pitch classes C..B.

    Row ``k`` holds the weight of each pitch class in key ``MAJOR_MINOR_KEYS[k]``:
    ``out[k, pc] = profile[mode, (pc - tonic) % 12]``.
    """
    weights = profile(name)
    pcs = np.arange(12)
    return np.stack([weights[m][(pcs - t) % 12] for m in (0, 1) for t in range(12)])


# -- comparing keys ---------------------------------------------------------------------------
def _mirex_table() -> "np.ndarray":
    table = np.zeros((24, 24))
    for e in range(24):
        for r in range(24):
            et, em, rt, rm = e % 12, e // 12, r % 12, r // 12
            if e == r:
                table[e, r] = 1.0
            elif em == rm and (et - rt) % 12 in (5, 7):
                table[e, r] = 0.5
            elif em != rm and (et - rt) % 12 == (9 if rm == 0 else 3):
                table[e, r] = 0.3
            elif em != rm and et == rt:
                table[e, r] = 0.2
    table.setflags(write=False)
    return table


MIREX_TABLE = _mirex_table()
"""(24, 24) read-only MIREX scores, ``MIREX_TABLE[estimated_index, reference_index]``."""


def mirex_score(estimated: "str | Key", reference: "str | Key") -> float:
    """MIREX weighted key score of an estimate against a reference key.

    1.0 for the same key, 0.5 for a fifth above or below in the same mode, 0.3 for the relative
    key, 0.2 for the parallel key, else 0. Modal keys are first mapped with
    :func:`to_major_minor`. For arrays of key indices use ``MIREX_TABLE[est, ref]``.
    """
    return float(MIREX_TABLE[key_index(to_major_minor(estimated)),
                             key_index(to_major_minor(reference))])


def fifths_distance(a: "str | Key", b: "str | Key", *, by: str = "signature") -> int:
    """Steps between two keys on the circle of fifths, 0-6.

    ``by="signature"`` compares key signatures (relative keys and modes that share a signature
    are 0 apart: A minor and C major, A dorian and G major); ``by="tonic"`` compares tonics
    (C major and C minor are 0 apart, C and G are 1).
    """
    ka, kb = parse_key(a), parse_key(b)
    if by == "signature":
        d = (ka.signature - kb.signature) % 12
    elif by == "tonic":
        d = ((ka.tonic - kb.tonic) * 7) % 12
    else:
        raise KeyNameError(f"unknown fifths_distance by={by!r}; valid: 'signature', 'tonic'")
    return int(min(d, 12 - d))


def in_signature_mask(pitch: "np.ndarray", key: "str | Key") -> "np.ndarray":
    """Boolean array, True where ``pitch`` (MIDI numbers, any shape) is in the key's signature."""
    table = np.zeros(12, dtype=bool)
    table[list(parse_key(key).pitch_classes)] = True
    return table[np.asarray(pitch, dtype=np.int64) % 12]


class InSignatureRate(NamedTuple):
    """Share of notes in the key signature: ``by_count`` and ``by_duration`` (NaN: no notes)."""

    by_count: float
    by_duration: float


def in_signature_rate(pitch: "np.ndarray", key: "str | Key",
                      duration: "np.ndarray | None" = None) -> InSignatureRate:
    """Share of notes whose pitch class is in ``key``'s diatonic set, by count and by duration.

    Parameters
    ----------
    pitch : (n,) int array
        MIDI pitches.
    key : Key or str
        The target key; its signature's seven pitch classes count as in key (modes included).
    duration : (n,) float array, optional
        Note lengths; without it the duration share equals the count share.

    Returns
    -------
    InSignatureRate
        ``(by_count, by_duration)``; NaN (with a warning) when there are no notes, and
        ``by_duration`` is NaN when the total duration is 0.
    """
    pitch = np.asarray(pitch).reshape(-1)
    if pitch.size == 0:
        warnings.warn("in_signature_rate: no notes; returning NaN", RuntimeWarning, stacklevel=2)
        return InSignatureRate(float("nan"), float("nan"))
    mask = in_signature_mask(pitch, key)
    by_count = float(mask.mean())
    if duration is None:
        return InSignatureRate(by_count, by_count)
    duration = np.asarray(duration, dtype=np.float64).reshape(-1)
    if duration.shape != pitch.shape:
        raise ParameterError(f"duration has {duration.size} values but pitch has {pitch.size}")
    total = duration.sum()
    by_duration = float(duration[mask].sum() / total) if total > 0 else float("nan")
    return InSignatureRate(by_count, by_duration)
