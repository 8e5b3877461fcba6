"""The speech classifier: packing, streaming, training, metrics and checkpoints."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from musicgate.errors import CheckpointError, ConfigError
from musicgate.nn.models import CELLS
from musicgate.speech.classify import (SpeechClassifier, confusion_matrix, evaluate, load_checkpoint,
                                       per_class_report, plot_confusion, predict, save_checkpoint, stream,
                                       train_classifier)
from musicgate.speech.data import SpeechSet


def model_for(cell: str, *, layers: int = 1, seed: int = 0) -> SpeechClassifier:
    torch.manual_seed(seed)
    m = SpeechClassifier(input_size=5, n_classes=3, cell=cell, hidden=8, layers=layers).eval()
    m.set_standardization(np.full(5, 0.1), np.full(5, 2.0))
    return m


def clips(n: int = 4, dim: int = 5, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.standard_normal((int(rng.integers(2, 12)), dim)).astype(np.float32) for _ in range(n)]


def toy_task(n: int, seed: int) -> SpeechSet:
    """Class c: noise whose dimension c is raised during a random stretch of the clip."""
    rng = np.random.default_rng(seed)
    feats, labels = [], []
    for i in range(n):
        c = i % 3
        x = rng.standard_normal((int(rng.integers(5, 15)), 4)).astype(np.float32)
        start = int(rng.integers(0, len(x) - 3))
        x[start:start + 3, c] += 3.0
        feats.append(x)
        labels.append(c)
    return SpeechSet(feats, np.array(labels), ("a", "b", "c"))


@pytest.mark.parametrize("cell", CELLS)
def test_padding_never_reaches_the_output(cell):
    m = model_for(cell, layers=2)
    xs = clips()
    alone = torch.cat([m(torch.as_tensor(x)[None], [len(x)]) for x in xs])
    lengths = torch.tensor([len(x) for x in xs])
    for pad_value, extra in ((0.0, 0), (1e3, 7)):
        T = max(len(x) for x in xs) + extra
        batch = torch.full((len(xs), T, 5), pad_value)
        for i, x in enumerate(xs):
            batch[i, :len(x)] = torch.as_tensor(x)
        with torch.no_grad():
            assert torch.allclose(m(batch, lengths), alone, atol=1e-5), (cell, pad_value)


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("layers", [1, 2])
def test_streaming_matches_the_whole_clip(cell, layers):
    m = model_for(cell, layers=layers)
    x = clips(1, seed=5)[0]
    steps = list(stream(m, x))
    assert len(steps) == len(x)
    for t in (1, len(x) // 2, len(x)):  # after t frames: the prediction on the first t frames
        whole = predict(m, [x[:t]])[0]
        assert np.abs(steps[t - 1] - whole).max() < 1e-5


def test_lengths_are_checked():
    m = model_for("gru")
    with pytest.raises(ConfigError, match="lengths"):
        m(torch.zeros(2, 4, 5), [4, 5])
    with pytest.raises(ConfigError, match="lengths"):
        m(torch.zeros(2, 4, 5), [4])
    with pytest.raises(ConfigError, match="cell"):
        SpeechClassifier(input_size=5, n_classes=3, cell="transformer")


def test_training_learns_and_is_seeded():
    train, test = toy_task(90, seed=1), toy_task(45, seed=2)
    r1 = train_classifier(train, cell="gru", hidden=16, epochs=8, batch_size=16, lr=1e-2, seed=7)
    assert r1.history[-1]["loss"] < r1.history[0]["loss"]
    assert evaluate(r1.model, test).accuracy > 0.85
    r2 = train_classifier(train, cell="gru", hidden=16, epochs=1, batch_size=30, lr=1e-2, seed=7)
    r3 = train_classifier(train, cell="gru", hidden=16, epochs=1, batch_size=30, lr=1e-2, seed=7)
    for a, b in zip(r2.model.state_dict().values(), r3.model.state_dict().values()):
        assert torch.equal(a, b)
    frames = np.concatenate(train.features)
    assert np.allclose(r2.model.feature_mean.numpy(), frames.mean(0), atol=1e-5)


def test_confusion_and_report_are_exact():
    cm = confusion_matrix(np.array([0, 0, 1, 1, 2]), np.array([0, 1, 1, 1, 0]), 3)
    assert cm.tolist() == [[1, 1, 0], [0, 2, 0], [1, 0, 0]]
    lines = per_class_report(cm, ["x", "y", "z"]).splitlines()
    # class x: precision 1/2, recall 1/2; y: precision 2/3, recall 1; z: 0/0 -> 0, recall 0
    assert lines[1].split() == ["x", "0.500", "0.500", "0.500", "2"]
    assert lines[2].split() == ["y", "0.667", "1.000", "0.800", "2"]
    assert lines[3].split() == ["z", "0.000", "0.000", "0.000", "1"]
    assert lines[4].split()[:2] == ["acc", "0.6000"]


def test_evaluate_and_confusion_png(tmp_path):
    m = model_for("lstm")
    data = SpeechSet(clips(6), np.array([0, 1, 2, 0, 1, 2]), ("a", "b", "c"))
    ev = evaluate(m, data)
    assert ev.confusion.sum() == 6 and ev.accuracy == pytest.approx(np.trace(ev.confusion) / 6)
    assert np.array_equal(ev.predicted, predict(m, data.features).argmax(1))
    path = plot_confusion(ev.confusion, ev.label_names, tmp_path / "cm.png", title="t")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [p.name for p in tmp_path.iterdir()] == ["cm.png"]


@pytest.mark.parametrize("cell", CELLS)
def test_checkpoint_round_trip(tmp_path, cell):
    m = model_for(cell, layers=2, seed=3)
    path = save_checkpoint(tmp_path / "run" / "model.pt", m, label_names=["a", "b", "c"],
                           features={"kind": "mfcc"}, extra={"note": 1})
    back, ckpt = load_checkpoint(path, map_location="cpu")
    assert ckpt["label_names"] == ["a", "b", "c"] and ckpt["features"] == {"kind": "mfcc"}
    assert ckpt["model_args"]["cell"] == cell and ckpt["extra"] == {"note": 1}
    xs = clips(3)
    assert np.allclose(predict(back, xs), predict(m, xs), atol=1e-6)
    assert sorted(p.name for p in path.parent.iterdir()) == ["model.pt"]


def test_non_checkpoints_are_checkpoint_errors(tmp_path):
    (tmp_path / "text.pt").write_text("not a checkpoint")
    torch.save({"weights": torch.zeros(3)}, tmp_path / "other.pt")
    torch.save(torch.zeros(3), tmp_path / "tensor.pt")
    for name in ("text.pt", "other.pt", "tensor.pt", "absent.pt"):
        with pytest.raises(CheckpointError, match=name):
            load_checkpoint(tmp_path / name)
    m = model_for("gru")
    path = save_checkpoint(tmp_path / "m.pt", m, label_names=["a", "b", "c"], features=None)
    ckpt = torch.load(path, weights_only=True)
    ckpt["model_args"]["hidden"] = 9
    torch.save(ckpt, tmp_path / "wrong.pt")
    with pytest.raises(CheckpointError, match="does not fit"):
        load_checkpoint(tmp_path / "wrong.pt")
