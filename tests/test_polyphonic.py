"""Piano-roll benchmarks: loading the real .mat files, the NLL metric, configs, a tiny training run."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from conftest import shared_path
from scipy.io import savemat

from musicgate.errors import ConfigError, DataError
from musicgate.nn.models import PianoRollRNN
from musicgate.music.rolls import DATASETS, N_PIANO_KEYS, load_polyphonic
from musicgate.experiments.polyphonic import (
    PolyConfig, best_published, evaluate_nll, frame_nll, poly_config, results_table, train_polyphonic)


SPLIT_SIZES = {"jsb": (229, 76, 77), "nottingham": (694, 173, 170),
               "musedata": (524, 135, 124), "pianomidi": (87, 12, 25)}


@pytest.mark.parametrize("name", ["jsb", "pianomidi"])
def test_load_real_benchmarks(name):
    data = load_polyphonic(name, data_dir=shared_path("polyphonic"))
    assert (len(data.train), len(data.valid), len(data.test)) == SPLIT_SIZES[name]
    for piece in data.train[:20] + data.test[:5]:
        assert piece.dtype == np.uint8 and piece.shape[1] == N_PIANO_KEYS and piece.shape[0] >= 2
        assert set(np.unique(piece)) <= {0, 1}
    # chorales are four-part: about four notes sound per frame
    if name == "jsb":
        assert 3.5 < np.concatenate(data.train).sum(1).mean() < 4.2
    assert data.frames("test") == sum(len(p) for p in data.test)


def test_bad_paths_and_files(tmp_path):
    with pytest.raises(DataError, match="not found"):
        load_polyphonic("jsb", data_dir=tmp_path)
    with pytest.raises(DataError, match="unknown polyphonic dataset"):
        load_polyphonic("bach")
    junk = tmp_path / "junk.mat"
    junk.write_bytes(b"this is not a mat file at all" * 10)
    with pytest.raises(DataError, match="junk.mat"):
        load_polyphonic(str(junk))
    nokeys = tmp_path / "nokeys.mat"
    savemat(nokeys, {"x": np.zeros((3, 3))})
    with pytest.raises(DataError, match="traindata"):
        load_polyphonic(str(nokeys))
    cells = np.empty((1, 1), dtype=object)
    cells[0, 0] = np.zeros((5, 12), dtype=np.uint8)
    narrow = tmp_path / "narrow.mat"
    savemat(narrow, {"traindata": cells, "validdata": cells, "testdata": cells})
    with pytest.raises(DataError, match="88"):
        load_polyphonic(str(narrow))


def test_frame_nll_exact_values():
    target = torch.zeros(2, 3, N_PIANO_KEYS)
    target[0, 0, [10, 20, 30]] = 1
    # p = 0.5 everywhere: 88 ln 2 per frame whatever the notes
    assert torch.allclose(frame_nll(torch.zeros(2, 3, N_PIANO_KEYS), target),
                          torch.full((2, 3), 88 * math.log(2)), atol=1e-5)
    # one frame by hand: p = 0.8 on every key, three of them sounding
    logits = torch.full((N_PIANO_KEYS,), math.log(0.8 / 0.2))
    expected = -(3 * math.log(0.8) + 85 * math.log(0.2))
    assert abs(float(frame_nll(logits, target[0, 0])) - expected) < 1e-4


class _Constant(PianoRollRNN):
    """Predicts p = sigmoid(bias) for every key, whatever the input."""

    def forward(self, x, state=None, lengths=None):
        return self.head.bias.expand(*x.shape[:2], N_PIANO_KEYS), state


def test_evaluate_nll_is_frame_weighted_over_predicted_frames():
    rng = np.random.default_rng(0)
    pieces = [(rng.random((n, N_PIANO_KEYS)) < 0.05).astype(np.uint8) for n in (2, 7, 30)]
    model = _Constant(cell="gru", hidden=4)
    with torch.no_grad():
        model.head.bias.fill_(math.log(0.1 / 0.9))
    frames = np.concatenate([p[1:] for p in pieces])         # frame 0 of a piece is not predicted
    on = frames.sum()
    expected = -(on * math.log(0.1) + (frames.size - on) * math.log(0.9)) / len(frames)
    assert abs(evaluate_nll(model, pieces, batch_size=2) - expected) < 1e-4


def test_padding_does_not_change_nll():
    rng = np.random.default_rng(1)
    pieces = [(rng.random((n, N_PIANO_KEYS)) < 0.05).astype(np.uint8) for n in (3, 9, 17, 4)]
    torch.manual_seed(0)
    model = PianoRollRNN(cell="lstm", hidden=8)
    one_by_one = evaluate_nll(model, pieces, batch_size=1)
    assert abs(evaluate_nll(model, pieces, batch_size=4) - one_by_one) < 1e-4


def test_poly_config_rejects_unknown_keys(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("dataset: jsb\ncell: gru\nhiden: 10\n")
    with pytest.raises(ConfigError, match="hiden.*valid keys: .*hidden"):
        poly_config(path)
    with pytest.raises(ConfigError, match="unknown cell"):
        poly_config({"cell": "tcn"})
    assert poly_config({"cell": "gru"}, max_epochs=3).max_epochs == 3


def test_shipped_configs_load():
    from musicgate.experiments.presets import PRESETS
    configs = sorted(PRESETS.glob("poly-*.yaml"))
    assert len(configs) >= 6
    for path in configs:
        cfg = poly_config(path)
        dataset, cell = path.stem.split("-")[1:]
        assert (cfg.dataset, cfg.cell) == (dataset, cell)


def test_tiny_training_run_improves_on_chance():
    cfg = PolyConfig(dataset="jsb", cell="gru", hidden=16, max_epochs=1, batch_size=32)
    result = train_polyphonic(cfg, data_dir=shared_path("polyphonic"), progress=False)
    assert result.test_nll < 88 * math.log(2) / 2     # far better than p = 0.5
    assert result.epochs == 1 and len(result.history) == 1
    table = results_table([result])
    assert "| jsb | gru | 16 |" in table and "8.43" in table and "8.54" in table
    assert best_published("jsb", "gru") == 8.43 and best_published("nottingham", "rnn") == 3.13
    assert set(DATASETS) == set(SPLIT_SIZES)
