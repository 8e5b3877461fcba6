"""Synthetic spoken digits from eSpeak NG: the engine, held-out voices, the cache."""
from __future__ import annotations

import numpy as np
import pytest

from musicgate.errors import AudioError, DataError
from musicgate.speech import synth
from musicgate.speech.espeak import ESpeak, available, engine
from musicgate.speech.features import FeatureConfig
from musicgate.speech.synth import (SynthSettings, cache_key, heldout_variants, load_cache, load_synth,
                                    load_synth_split, synth_split)

needs_espeak = pytest.mark.skipif(
    not available(), reason="eSpeak NG is not installed: pip install espeakng-loader (or apt-get install espeak-ng)")
TINY = SynthSettings(takes=1, variants=("m1", "m3", "f2", "klatt", "whisper"), test_fraction=0.4)
SMALL = FeatureConfig(deltas=False)


def test_missing_library_says_how_to_install():
    with pytest.raises(AudioError, match="pip install espeakng-loader"):
        ESpeak(library="/nonexistent/libespeak-ng.so")


def test_heldout_variants_are_seeded_and_sized():
    names = [f"v{i}" for i in range(20)]
    held = heldout_variants(names, fraction=0.2, seed=1)
    assert len(held) == 4 and set(held) <= set(names)
    assert held == heldout_variants(list(reversed(names)), fraction=0.2, seed=1)
    assert held != heldout_variants(names, fraction=0.2, seed=2)
    with pytest.raises(DataError):
        heldout_variants(["only"], fraction=0.2, seed=0)


def test_cache_key_follows_settings_and_features():
    assert cache_key(TINY, SMALL) == cache_key(SynthSettings(**vars(TINY)), FeatureConfig(deltas=False))
    assert cache_key(TINY, SMALL) != cache_key(TINY, FeatureConfig())
    assert cache_key(TINY, SMALL) != cache_key(SynthSettings(takes=2, variants=TINY.variants), SMALL)


@needs_espeak
def test_engine_speaks_and_rejects_unknown_voices():
    eng = engine()
    assert eng.version and eng.sample_rate == 22050
    assert len(eng.variants()) > 50 and "m3" in eng.variants()
    y = eng.synth("seven", voice="en-us", variant="m3", rate=150, pitch=40)
    assert y.dtype == np.float32 and 0.2 < len(y) / eng.sample_rate < 2.0 and 0.05 < np.abs(y).max() <= 1
    slow = eng.synth("seven", voice="en-us", variant="m3", rate=90, pitch=40)
    assert len(slow) > len(y) * 1.2  # the rate is applied
    with pytest.raises(AudioError, match="no voice"):
        eng.synth("seven", voice="xx-nowhere")


@needs_espeak
def test_synth_digits_cache_and_heldout_split(tmp_path, monkeypatch):
    data = load_synth(TINY, config=SMALL, cache_dir=tmp_path)
    assert len(data) == 5 * 10 and data.dim == 13
    assert np.bincount(data.labels).tolist() == [5] * 10
    assert data.info["engine"] == engine().version and data.info["settings"]["takes"] == 1
    files = list(tmp_path.iterdir())
    assert len(files) == 1 and files[0].name.endswith(".npz")  # one cache file, no temp left
    cached = load_cache(files[0])
    assert cached.info["engine"] == engine().version
    assert all(np.array_equal(a, b) for a, b in zip(cached.features, data.features))

    def refuse(*args, **kwargs):
        raise AssertionError("the cache should have been used")

    monkeypatch.setattr(synth, "synthesize_digits", refuse)
    split = load_synth_split(config=SMALL, cache_dir=tmp_path, settings=TINY)
    tr, te, held = synth_split(cached, TINY)
    assert len(held) == 2 and set(split.test.speakers) == set(held)
    assert not set(split.train.speakers) & set(held)
    assert len(split.train) + len(split.test) == 50


def test_a_broken_cache_is_a_data_error(tmp_path):
    (tmp_path / "x.npz").write_bytes(b"nope")
    with pytest.raises(DataError, match="delete it to rebuild"):
        load_cache(tmp_path / "x.npz")
