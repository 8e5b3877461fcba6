"""Speech front end: shapes, settings, and every kind of awkward input from the issue."""
from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
from hypothesis import given, settings
from hypothesis import strategies as st

from musicgate.errors import AudioError, ConfigError
from musicgate.speech.features import (FeatureConfig, add_deltas, features, file_features, log_mel,
                                       normalize, read_audio)

SR = 16000


def tone(seconds: float = 0.5, freq: float = 440.0, sr: int = SR, amp: float = 0.5) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def test_defaults_are_speech_settings():
    c = FeatureConfig()
    assert (c.sample_rate, c.win_length, c.hop_length, c.n_mels, c.n_mfcc) == (16000, 400, 160, 40, 13)
    assert c.dim == 39 and FeatureConfig(deltas=False).dim == 13 and FeatureConfig(kind="logmel").dim == 120


def test_frames_follow_the_hop():
    f = features(tone(1.0))
    assert f.shape == (1 + SR // 160, 39) and f.dtype == np.float32
    assert log_mel(tone(1.0)).shape == (101, 40)


def test_config_round_trips_and_rejects_bad_values():
    c = FeatureConfig(kind="logmel", normalize="meanvar", top_db=None)
    assert FeatureConfig.from_dict(c.to_dict()) == c
    with pytest.raises(ConfigError, match="kind"):
        FeatureConfig(kind="plp")
    with pytest.raises(ConfigError, match="normalize"):
        FeatureConfig(normalize="cmvn")
    with pytest.raises(ConfigError, match="n_fft"):
        FeatureConfig(win_ms=50)
    with pytest.raises(ConfigError, match="unknown"):
        FeatureConfig.from_dict({"hop": 3})


def test_mean_normalization_centres_each_dimension():
    f = features(tone(0.7) + 0.1 * np.random.default_rng(0).standard_normal(int(0.7 * SR)).astype(np.float32))
    assert np.allclose(f.mean(axis=0), 0, atol=1e-3)
    g = features(tone(0.7), FeatureConfig(normalize="meanvar"))
    assert np.allclose(g.std(axis=0)[g.std(axis=0) > 1e-3], 1, atol=1e-3)


def test_silent_clip_gives_finite_features():
    for how in ("none", "mean", "meanvar"):
        f = features(np.zeros(SR, np.float32), FeatureConfig(normalize=how))
        assert np.isfinite(f).all(), how
    assert np.abs(features(np.zeros(SR, np.float32))).max() < 1e-3


@pytest.mark.parametrize("n", [1, 100, 399, 511])
def test_clip_shorter_than_a_frame_is_padded(n):
    f = features(tone(1.0)[:n])
    assert f.shape == (1 + 512 // 160, 39) and np.isfinite(f).all()


@pytest.mark.parametrize("frames", [1, 2, 3, 4, 8, 9, 30])
def test_deltas_work_for_any_number_of_frames(frames):
    x = np.cumsum(np.ones((frames, 5), np.float32), axis=0)  # slope 1 per frame
    d = add_deltas(x)
    assert d.shape == (frames, 15) and np.isfinite(d).all()
    if frames >= 3:  # a linear ramp: delta 1, delta-delta 0 (interp mode fits the edges)
        assert np.allclose(d[:, 5:10], 1, atol=1e-4) and np.allclose(d[:, 10:], 0, atol=1e-4)


@settings(max_examples=15, deadline=None)
@given(n=st.integers(1, 8000), amp=st.floats(0, 1))
def test_any_length_and_level_gives_finite_features(n, amp):
    y = amp * np.random.default_rng(n).uniform(-1, 1, n).astype(np.float32)
    f = features(y)
    assert f.shape == (1 + max(n, 512) // 160, 39) and np.isfinite(f).all()


def test_normalize_rejects_unknown_mode():
    with pytest.raises(ConfigError):
        normalize(np.zeros((3, 2)), "zscore")


@pytest.mark.parametrize("subtype", ["PCM_U8", "PCM_16", "PCM_24", "PCM_32", "FLOAT"])
def test_every_sample_format_reads_the_same(tmp_path, subtype):
    y = tone(0.3)
    path = tmp_path / f"{subtype}.wav"
    sf.write(path, y, SR, subtype=subtype)
    got = read_audio(path)
    tol = 1 / 64 if subtype == "PCM_U8" else 1e-3
    assert got.shape == y.shape and np.abs(got - y).max() < tol


def test_multichannel_is_mixed_to_mono(tmp_path):
    left, right = tone(0.3, 440), tone(0.3, 660, amp=0.2)
    path = tmp_path / "stereo.wav"
    sf.write(path, np.stack([left, right], axis=1), SR, subtype="FLOAT")
    assert np.allclose(read_audio(path), (left + right) / 2, atol=1e-6)
    assert file_features(path).shape[1] == 39


def test_other_rates_are_resampled(tmp_path):
    path = tmp_path / "8k.wav"
    sf.write(path, tone(0.5, 440, sr=8000), 8000)
    y = read_audio(path)
    assert len(y) == 8000
    spectrum = np.abs(np.fft.rfft(y))
    assert abs(np.argmax(spectrum) * SR / len(y) - 440) < 5  # the tone keeps its pitch
    assert len(read_audio(path, sample_rate=None)) == 4000


def test_empty_wav_is_an_audio_error(tmp_path):
    path = tmp_path / "empty.wav"
    sf.write(path, np.zeros((0, 1), np.float32), SR)
    with pytest.raises(AudioError, match="empty.wav.*no samples"):
        file_features(path)
    with pytest.raises(AudioError, match="no samples"):
        features(np.zeros(0, np.float32))


@pytest.mark.parametrize("content", [b"", b"hello, not audio", b"RIFF\x00\x00\x00\x00WAVEjunk"])
def test_not_audio_is_an_audio_error(tmp_path, content):
    path = tmp_path / "fake.wav"
    path.write_bytes(content)
    with pytest.raises(AudioError, match="fake.wav.*not a readable audio file"):
        read_audio(path)


def test_missing_file_and_nan_samples(tmp_path):
    with pytest.raises(AudioError, match="no such audio file"):
        read_audio(tmp_path / "nope.wav")
    path = tmp_path / "nan.wav"
    y = tone(0.1)
    y[5] = np.nan
    sf.write(path, y, SR, subtype="FLOAT")
    with pytest.raises(AudioError, match="NaN"):
        read_audio(path)
    with pytest.raises(AudioError, match="mono"):
        features(np.zeros((2, 100), np.float32))
