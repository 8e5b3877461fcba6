"""Speech features: WAV -> log-mel or MFCC frames, with speech settings by default.

Defaults: 16 kHz, 25 ms Hann window (400 samples) zero-padded to a 512-point FFT, 10 ms hop
(160 samples), 40 mel bands, 13 MFCC plus deltas and delta-deltas (39 values per frame), and
per-utterance mean normalization. Every feature array is ``(frames, dims)`` float32, time first,
which is what the recurrent models take.

How awkward input is handled (each case is tested):

- empty WAV (no samples): :class:`~musicgate.errors.AudioError`.
- not audio (or a missing file): :class:`~musicgate.errors.AudioError` naming the file.
- non-finite samples in a float WAV: :class:`~musicgate.errors.AudioError`.
- multichannel: mixed down to mono by averaging the channels.
- 8-bit, 16-bit, 24-bit, 32-bit and float WAVs: read by soundfile as float in [-1, 1].
- a sample rate other than ``sample_rate``: resampled with ``librosa.resample`` (soxr).
- a clip shorter than one FFT frame (512 samples): zero-padded at the end to 512 samples, so
  every clip gives at least 4 frames (frames are centred, ``1 + n // hop``).
- deltas of a clip with fewer than 9 frames: the delta width shrinks to the largest odd number
  not above the frame count (``librosa.feature.delta`` needs ``width <= frames`` in its default
  ``interp`` mode); with fewer than 3 frames the ``nearest`` edge mode is used with width 3.
- a silent clip: the mel power is floored at ``amin`` before the log, so features are finite;
  mean normalization gives zeros and variance normalization divides by ``max(std, 1e-5)``, so
  no NaN or inf appears.
"""
from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from typing import Any, Literal, get_args, get_type_hints

import numpy as np

from musicgate.config import build_config, check_fields, setting
from musicgate.errors import AudioError, ConfigError

_STD_FLOOR = 1e-5


@dataclass(frozen=True)
class FeatureConfig:
    """Settings of the speech front end (all in one place; JSON round-trips via ``to_dict``).

    Parameters
    ----------
    kind : "mfcc" or "logmel".
    sample_rate : audio is resampled to this rate (Hz).
    win_ms, hop_ms : analysis window and hop in milliseconds.
    n_fft : FFT size in samples (>= the window length).
    n_mels : mel bands.
    n_mfcc : cepstral coefficients kept (kind "mfcc" only).
    deltas : append deltas and delta-deltas (triples the width).
    normalize : "none", "mean" (per-utterance mean subtraction) or "meanvar" (also unit variance).
    top_db : dynamic range kept below each clip's loudest mel bin (None keeps all).
    trim_db : leading and trailing audio quieter than this many dB below the clip's peak is
        trimmed before the features (None: no trim), the same for training, evaluation,
        prediction, streaming and the gate view (see :func:`speech_audio`).
    """

    kind: Literal["mfcc", "logmel"] = "mfcc"
    sample_rate: int = setting(16000, ge=1)
    win_ms: float = setting(25.0, gt=0)
    hop_ms: float = setting(10.0, gt=0)
    n_fft: int = setting(512, ge=1)
    n_mels: int = setting(40, ge=1)
    n_mfcc: int = setting(13, ge=1)
    deltas: bool = True
    normalize: Literal["none", "mean", "meanvar"] = "mean"
    top_db: float | None = setting(80.0, gt=0)
    trim_db: float | None = setting(40.0, gt=0)

    def __post_init__(self) -> None:
        check_fields(self)
        if self.win_length > self.n_fft:
            raise ConfigError(f"window of {self.win_length} samples is longer than n_fft={self.n_fft}: raise n_fft")
        if self.kind == "mfcc" and not self.n_mfcc <= self.n_mels:
            raise ConfigError(f"n_mfcc={self.n_mfcc} must be in 1..n_mels={self.n_mels}")

    @property
    def win_length(self) -> int:
        """Window length in samples."""
        return int(round(self.sample_rate * self.win_ms / 1000.0))

    @property
    def hop_length(self) -> int:
        """Hop in samples."""
        return int(round(self.sample_rate * self.hop_ms / 1000.0))

    @property
    def dim(self) -> int:
        """Values per frame."""
        base = self.n_mfcc if self.kind == "mfcc" else self.n_mels
        return base * (3 if self.deltas else 1)

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (JSON-safe)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "FeatureConfig":
        """Inverse of :meth:`to_dict`; unknown keys and bad values raise ConfigError."""
        return build_config(cls, data, what="feature setting")


KINDS: tuple[str, ...] = get_args(get_type_hints(FeatureConfig)["kind"])
"""The feature kinds (``FeatureConfig.kind``)."""
NORMALIZE: tuple[str, ...] = get_args(get_type_hints(FeatureConfig)["normalize"])
"""The per-clip normalisations (``FeatureConfig.normalize``)."""


def read_audio(path: "str | os.PathLike", *, sample_rate: int | None = 16000) -> np.ndarray:
    """Read an audio file as mono float32, resampled to ``sample_rate``.

    Parameters
    ----------
    path : a WAV (or any format libsndfile reads: FLAC, OGG, AIFF...).
    sample_rate : target rate in Hz; None keeps the file's rate.

    Returns
    -------
    np.ndarray, shape (samples,), float32 in [-1, 1] (multichannel is averaged to mono).

    Raises
    ------
    AudioError : missing file, not audio, no samples, or non-finite samples.
    """
    y, _ = read_audio_with_rate(path, sample_rate=sample_rate)
    return y


def read_audio_with_rate(path: "str | os.PathLike", *, sample_rate: int | None = 16000) -> tuple[np.ndarray, int]:
    """Like :func:`read_audio`, also returning the rate of the returned samples."""
    import soundfile as sf

    path = os.fspath(path)
    from musicgate.files import require_file

    require_file(path, AudioError, "audio file", "; give a WAV, FLAC or OGG file")
    try:
        data, rate = sf.read(path, dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, TypeError) as exc:
        raise AudioError(f"{path}: not a readable audio file ({exc}); give a WAV, FLAC or OGG file") from exc
    if data.shape[0] == 0:
        raise AudioError(f"{path}: the audio file has no samples; record or pick a non-empty clip")
    if not np.all(np.isfinite(data)):
        raise AudioError(f"{path}: the audio holds NaN or inf samples; re-export it as PCM")
    y = data.mean(axis=1) if data.shape[1] > 1 else data[:, 0]
    return resample(np.ascontiguousarray(y, dtype=np.float32), rate, sample_rate), int(sample_rate or rate)


def resample(y: np.ndarray, rate: int, target: int | None) -> np.ndarray:
    """Resample mono ``y`` (samples,) from ``rate`` to ``target`` Hz (no-op when equal or None)."""
    if target is None or int(rate) == int(target):
        return np.asarray(y, dtype=np.float32)
    import librosa

    return librosa.resample(np.asarray(y, dtype=np.float32), orig_sr=int(rate), target_sr=int(target)).astype(np.float32)


def _padded(y: np.ndarray, config: FeatureConfig) -> np.ndarray:
    y = np.asarray(y, dtype=np.float32)
    if y.ndim != 1:
        raise AudioError(f"audio must be mono with shape (samples,), got shape {y.shape}")
    if y.size == 0:
        raise AudioError("the audio has no samples; record or pick a non-empty clip")
    if not np.all(np.isfinite(y)):
        raise AudioError("the audio holds NaN or inf samples")
    if y.size < config.n_fft:
        y = np.pad(y, (0, config.n_fft - y.size))
    return y


def log_mel(y: np.ndarray, config: FeatureConfig = FeatureConfig()) -> np.ndarray:
    """Log-mel power spectrogram in dB, without deltas or normalization.

    Parameters
    ----------
    y : mono audio (samples,) at ``config.sample_rate``.

    Returns
    -------
    np.ndarray, shape (frames, n_mels), float32, all finite.
    """
    import librosa

    y = _padded(y, config)
    mel = librosa.feature.melspectrogram(
        y=y, sr=config.sample_rate, n_fft=config.n_fft, win_length=config.win_length,
        hop_length=config.hop_length, n_mels=config.n_mels, power=2.0)
    db = librosa.power_to_db(mel, ref=1.0, amin=1e-10, top_db=config.top_db)
    return np.ascontiguousarray(db.T, dtype=np.float32)


def add_deltas(feats: np.ndarray, *, width: int = 9) -> np.ndarray:
    """Append deltas and delta-deltas along the feature axis.

    Parameters
    ----------
    feats : (frames, dims).
    width : the delta window (odd, >= 3); shrunk for short clips as the module docstring says.

    Returns
    -------
    np.ndarray, shape (frames, 3 * dims), float32.
    """
    import librosa

    feats = np.asarray(feats, dtype=np.float32)
    n = feats.shape[0]
    if n == 0:
        raise AudioError("cannot take deltas of zero frames")
    if n >= 3:
        w = min(width, n if n % 2 else n - 1)
        mode = "interp"
    else:
        w, mode = 3, "nearest"
    d1 = librosa.feature.delta(feats, width=w, order=1, axis=0, mode=mode)
    d2 = librosa.feature.delta(feats, width=w, order=2, axis=0, mode=mode)
    return np.concatenate([feats, d1, d2], axis=1).astype(np.float32)


def normalize(feats: np.ndarray, how: str = "mean") -> np.ndarray:
    """Per-utterance normalization of (frames, dims): "none", "mean" or "meanvar" (never NaN)."""
    feats = np.asarray(feats, dtype=np.float32)
    if how == "none":
        return feats
    if how not in NORMALIZE:
        raise ConfigError(f"normalize={how!r} is not known: use one of {', '.join(NORMALIZE)}")
    out = feats - feats.mean(axis=0, keepdims=True)
    if how == "meanvar":
        out = out / np.maximum(out.std(axis=0, keepdims=True), _STD_FLOOR)
    return out.astype(np.float32)


SILENCE_PEAK = 10 ** (-50 / 20)
"""Clips whose peak stays below -50 dBFS hold no speech."""


def trim_silence(y: np.ndarray, top_db: float | None, *, frame_length: int = 2048,
                 hop_length: int = 512) -> np.ndarray:
    """``y`` without leading and trailing audio quieter than ``top_db`` dB below its peak
    (librosa's trim on frames of ``frame_length`` samples); unchanged when ``top_db`` is None."""
    import librosa

    if top_db is None or y.size == 0 or not np.any(y):
        return y
    trimmed, _ = librosa.effects.trim(np.asarray(y, dtype=np.float32), top_db=float(top_db),
                                      frame_length=frame_length, hop_length=hop_length)
    return trimmed if trimmed.size else y


def check_speech(y: np.ndarray, sample_rate: int, *, name: str = "the clip") -> None:
    """Raise AudioError("no speech detected") for silence, or a steady tone (one frequency holding
    most of the energy at a constant loudness): a classifier would otherwise name a digit anyway."""
    y = np.asarray(y, dtype=np.float32)
    if y.size == 0 or float(np.max(np.abs(y))) < SILENCE_PEAK:
        raise AudioError(f"{name}: no speech detected (silence); give a clip with a spoken word")
    n_fft = 1024
    if y.size < 4 * n_fft:
        return
    frames = np.lib.stride_tricks.sliding_window_view(y, n_fft)[::n_fft // 2]
    power = np.abs(np.fft.rfft(frames * np.hanning(n_fft), axis=1)) ** 2  # (frames, bins)
    spectrum = power.sum(axis=0)
    peak = int(np.argmax(spectrum))
    tonal = spectrum[max(peak - 2, 0):peak + 3].sum() / max(float(spectrum.sum()), 1e-20)
    rms = np.sqrt(power.sum(axis=1))
    loud = rms[rms > 0.1 * rms.max()]
    steady = float(loud.std() / max(loud.mean(), 1e-20)) < 0.15
    if tonal > 0.9 and steady:
        hz = peak * sample_rate / n_fft
        raise AudioError(f"{name}: no speech detected (a steady {hz:.0f} Hz tone); give a clip with a spoken word")


def speech_audio(y: np.ndarray, config: "FeatureConfig", *, name: str = "the clip",
                 require_speech: bool = False) -> np.ndarray:
    """The one preprocessing of audio before the features, for train, eval, predict, streaming and
    the gate view: trim leading and trailing silence (``config.trim_db``); with
    ``require_speech`` (a user's clip), refuse silence and steady tones (:func:`check_speech`)."""
    y = trim_silence(np.asarray(y, dtype=np.float32), config.trim_db, frame_length=config.n_fft,
                     hop_length=config.hop_length)
    if require_speech:
        check_speech(y, config.sample_rate, name=name)
    return y


def features(y: np.ndarray, config: FeatureConfig = FeatureConfig()) -> np.ndarray:
    """The full front end on audio: log-mel or MFCC, optional deltas, normalization.

    Parameters
    ----------
    y : mono audio (samples,) at ``config.sample_rate``.

    Returns
    -------
    np.ndarray, shape (frames, config.dim), float32, all finite.
    """
    import librosa

    db = log_mel(speech_audio(y, config), config)
    if config.kind == "mfcc":
        feats = librosa.feature.mfcc(S=db.T, n_mfcc=config.n_mfcc).T.astype(np.float32)
    else:
        feats = db
    if config.deltas:
        feats = add_deltas(feats)
    return np.ascontiguousarray(normalize(feats, config.normalize))


def file_features(path: "str | os.PathLike", config: FeatureConfig = FeatureConfig(), *,
                  require_speech: bool = False) -> np.ndarray:
    """Read ``path`` (see :func:`read_audio`) and return :func:`features`, shape (frames, config.dim).
    With ``require_speech`` (a clip to recognize) silence and steady tones raise AudioError."""
    y = read_audio(path, sample_rate=config.sample_rate)
    if require_speech:
        speech_audio(y, config, name=os.fspath(path), require_speech=True)
    try:
        return features(y, config)
    except AudioError as exc:
        raise AudioError(f"{os.fspath(path)}: {exc}") from exc
