"""The gate view of a speech clip: log-mel over gate heatmaps over the running label guess."""
from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
import torch

from musicgate.errors import AudioError, CheckpointError
from musicgate.speech import classify
from musicgate.speech.features import FeatureConfig, features
from musicgate.speech.plots import speech_gate_pictures, trace_clip
from speechclips import burst


def tiny_run(folder, cell: str, *, recorded: bool = True):
    config = FeatureConfig()
    torch.manual_seed(0)
    model = classify.SpeechClassifier(input_size=config.dim, n_classes=3, cell=cell, hidden=12, layers=2)
    model.set_standardization(np.full(config.dim, 0.5), np.full(config.dim, 2.0))
    folder.mkdir(parents=True, exist_ok=True)
    classify.save_checkpoint(folder / "model.pt", model, label_names=["zero", "one", "two"],
                             features=config.to_dict() if recorded else None)
    return folder, model, config


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_gate_view_of_a_clip(tmp_path, cell):
    from PIL import Image

    run, model, config = tiny_run(tmp_path / "run", cell)
    wav = tmp_path / "two.wav"
    sf.write(wav, burst(2, seed=1, sr=8000), 8000)  # resampled to the run's 16 kHz
    res = speech_gate_pictures(run, wav, tmp_path / "out")
    assert res["path"].is_file() and res["cell"] == cell
    width, height = Image.open(res["path"]).size
    assert width == 1000 and height == int(round(100 * (2.2 + 1.2 * {"rnn": 1, "lstm": 4, "gru": 3}[cell] + 1.3)))
    from musicgate.speech.features import read_audio

    feats = features(read_audio(wav, sample_rate=16000), config)
    assert res["frames"] == len(feats)
    probs = classify.predict(model, [feats])[0]  # the packed whole-clip forward
    assert res["probability"] == pytest.approx(float(probs.max()), abs=1e-5)
    assert res["label"] == ["zero", "one", "two"][int(np.argmax(probs))]
    if cell == "rnn":
        assert res["median_half_life"] is None and res["saturation"] == {}
    else:
        assert res["median_half_life"] > 0 and set(res["saturation"]) == {
            "lstm": {"input_gate", "forget_gate", "output_gate"}, "gru": {"reset_gate", "update_gate"}}[cell]


def test_trace_reads_the_standardized_features(tmp_path):
    _, model, config = tiny_run(tmp_path / "run", "gru")
    feats = features(burst(1, seed=3, sr=16000), config)
    trace, probs = trace_clip(model, feats)
    streamed = np.stack(list(classify.stream(model, feats)))  # frame by frame, with a carried state
    np.testing.assert_allclose(probs, streamed, atol=1e-5)
    with torch.no_grad():
        last = torch.softmax(model.head(torch.as_tensor(trace.h[-1, 0, -1])), dim=-1).numpy()
    np.testing.assert_allclose(last, probs[-1], atol=1e-5)


def test_bad_input(tmp_path):
    run, _, _ = tiny_run(tmp_path / "run", "lstm", recorded=False)
    wav = tmp_path / "a.wav"
    sf.write(wav, burst(0, seed=0), 8000)
    with pytest.raises(CheckpointError, match="front end is not recorded"):
        speech_gate_pictures(run, wav, tmp_path / "out")
    run, _, _ = tiny_run(tmp_path / "run2", "lstm")
    with pytest.raises(AudioError):
        speech_gate_pictures(run, tmp_path / "missing.wav", tmp_path / "out")
