"""``synth-digits``: the digits "zero".."nine" spoken by eSpeak NG, offline.

Every voice variant of the engine (``voices/!v``: m1..m8, f1..f5, klatt, whisper, croak... about
100) says every digit ``takes`` times, each take with a random English accent, speaking rate and
pitch. A seeded share of the variants is held out: the test set has voices never heard in
training. The engine's output is not bit-identical across processes or versions, so the features
are cached (atomic write) with the engine version, the settings and the feature config; a run
reads the cache whenever the key (settings + feature config + variant list) matches.
"""
from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from musicgate.errors import DataError
from musicgate.files import atomic_path
from musicgate.speech.data import DIGIT_NAMES, SpeechSet, Split
from musicgate.speech.features import FeatureConfig, features, resample, trim_silence

DIGIT_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
ACCENTS = ("en", "en-us", "en-gb-scotland", "en-gb-x-rp", "en-029", "en-us-nyc")
CACHE_VERSION = 1


@dataclass(frozen=True)
class SynthSettings:
    """How the synthetic digits are made.

    Parameters
    ----------
    takes : clips per (variant, digit).
    rates : (low, high) speaking rate in words per minute, drawn uniformly per take.
    pitches : (low, high) base pitch 0-100, drawn uniformly per take.
    accents : language voices drawn per take.
    test_fraction : share of the variants held out for test.
    variants : the variants to use; None means all that the engine has.
    trim_db : leading and trailing audio quieter than this below the peak is trimmed.
    seed : seeds the draws and the held-out variants.
    """

    takes: int = 4
    rates: tuple[int, int] = (120, 230)
    pitches: tuple[int, int] = (20, 80)
    accents: tuple[str, ...] = ACCENTS
    test_fraction: float = 0.2
    variants: tuple[str, ...] | None = None
    trim_db: float = 40.0
    seed: int = 0


def default_cache_dir() -> Path:
    """``$MUSICGATE_CACHE`` or ``~/.cache/musicgate``."""
    return Path(os.environ.get("MUSICGATE_CACHE") or Path.home() / ".cache" / "musicgate")


def heldout_variants(variants: list[str], *, fraction: float, seed: int) -> list[str]:
    """The seeded ``fraction`` of ``variants`` held out for test (at least one), sorted."""
    if not 0.0 < fraction < 1.0 or len(variants) < 2:
        raise DataError(f"need >= 2 variants and test_fraction in (0, 1); got {len(variants)}, {fraction}")
    k = max(1, int(round(len(variants) * fraction)))
    rng = np.random.default_rng(seed)
    return sorted(np.asarray(sorted(variants))[rng.permutation(len(variants))[:k]].tolist())


def synthesize_digits(settings: SynthSettings = SynthSettings(), *,
                      config: FeatureConfig = FeatureConfig(), progress: bool = False) -> SpeechSet:
    """Synthesize and featurize every (variant, digit, take).

    Returns
    -------
    SpeechSet whose ``speakers`` are variant names and ``names`` say
    ``word|accent+variant|rate|pitch``; ``info`` holds the engine version and settings.
    """
    from musicgate.progress import progress as progress_display
    from musicgate.speech.espeak import engine

    eng = engine()
    variants = list(settings.variants) if settings.variants is not None else eng.variants()
    if len(variants) < 2:
        raise DataError(f"eSpeak NG at {eng.data_path} has {len(variants)} voice variants; need >= 2")
    accents = [a for a in settings.accents if eng.has_voice(a)]
    if not accents:
        raise DataError(f"none of the accents {settings.accents} exists in eSpeak NG {eng.version}")
    rng = np.random.default_rng(settings.seed)
    jobs = [(v, d) for v in variants for d in range(10) for _ in range(settings.takes)]
    feats, labels, speakers, names = [], [], [], []
    for variant, digit in progress_display(jobs, desc="synth-digits", unit="clip",
                                           quiet=not progress, leave=False):
        accent = accents[rng.integers(len(accents))]
        rate = int(rng.integers(settings.rates[0], settings.rates[1] + 1))
        pitch = int(rng.integers(settings.pitches[0], settings.pitches[1] + 1))
        y = eng.synth(DIGIT_WORDS[digit], voice=accent, variant=variant, rate=rate, pitch=pitch)
        if y.size == 0 or not np.any(y):
            raise DataError(f"eSpeak NG gave silence for {DIGIT_WORDS[digit]!r} with {accent}+{variant}")
        y = trim_silence(y, settings.trim_db)  # the front end's own trim (features trims again: a no-op)
        feats.append(features(resample(y, eng.sample_rate, config.sample_rate), config))
        labels.append(digit)
        speakers.append(variant)
        names.append(f"{DIGIT_WORDS[digit]}|{accent}+{variant}|{rate}|{pitch}")
    info = {"source": "synth-digits", "engine": eng.version, "features": config.to_dict(),
            "settings": _settings_dict(settings), "variants": variants, "accents": accents}
    return SpeechSet(feats, np.array(labels), DIGIT_NAMES, speakers=np.array(speakers),
                     names=np.array(names), info=info)


def _settings_dict(settings: SynthSettings) -> dict:
    d = asdict(settings)
    return {k: list(v) if isinstance(v, tuple) else v for k, v in d.items()}


def cache_key(settings: SynthSettings, config: FeatureConfig) -> str:
    """A short hash of the settings and the feature config (the cache file's name)."""
    blob = json.dumps({"v": CACHE_VERSION, "s": _settings_dict(settings), "f": config.to_dict()},
                      sort_keys=True)
    return hashlib.sha1(blob.encode()).hexdigest()[:16]


def save_cache(data: SpeechSet, path: "str | os.PathLike") -> Path:
    """Write a synthesized set (features + provenance JSON) atomically."""
    path = Path(path)
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            np.savez(fh, X=np.concatenate(data.features), lengths=np.array([len(f) for f in data.features]),
                     y=data.labels, speakers=data.speakers.astype(str), names=data.names.astype(str),
                     info=np.array(json.dumps(data.info)))
    return path


def load_cache(path: "str | os.PathLike") -> SpeechSet:
    """Read a cache written by :func:`save_cache`; DataError when it is not one."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as z:
            X, lengths, y = z["X"], z["lengths"], z["y"]
            speakers, names, info = z["speakers"], z["names"], json.loads(str(z["info"]))
    except (OSError, KeyError, ValueError) as exc:
        raise DataError(f"{path}: not a synth-digits cache ({exc}); delete it to rebuild") from exc
    feats = np.split(X.astype(np.float32), np.cumsum(lengths)[:-1])
    return SpeechSet(feats, y, DIGIT_NAMES, speakers=speakers, names=names, info=info)


def load_synth(settings: SynthSettings = SynthSettings(), *, config: FeatureConfig = FeatureConfig(),
               cache_dir: "str | os.PathLike | None" = None, refresh: bool = False,
               progress: bool = False) -> SpeechSet:
    """The synthetic digits, from the cache when there (else synthesized and cached)."""
    folder = Path(cache_dir) if cache_dir is not None else default_cache_dir() / "synth-digits"
    path = folder / f"synth-digits-{cache_key(settings, config)}.npz"
    if path.exists() and not refresh:
        return load_cache(path)
    data = synthesize_digits(settings, config=config, progress=progress)
    save_cache(data, path)
    data.info["cache"] = str(path)
    return data


def synth_split(data: SpeechSet, settings: SynthSettings) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """(train_idx, test_idx, held-out variants): the test set is every clip of a held-out voice."""
    variants = sorted(set(data.speakers.tolist()))
    held = heldout_variants(variants, fraction=settings.test_fraction, seed=settings.seed)
    test = np.isin(data.speakers, held)
    return np.flatnonzero(~test), np.flatnonzero(test), held


def load_synth_split(*, config: FeatureConfig = FeatureConfig(), seed: int = 0,
                     cache_dir: "str | os.PathLike | None" = None, progress: bool = False,
                     settings: SynthSettings | None = None) -> Split:
    """Train/test :class:`Split` of the synthetic digits with held-out voices (seeded)."""
    settings = settings or SynthSettings(seed=seed)
    data = load_synth(settings, config=config, cache_dir=cache_dir, progress=progress)
    tr, te, held = synth_split(data, settings)
    return Split(data.subset(tr), data.subset(te),
                 f"synth-digits (eSpeak NG {data.info.get('engine')}): {len(held)} of "
                 f"{len(set(data.speakers.tolist()))} voices held out for test, seed {settings.seed}")
