"""Sequence classification of spoken words: the shared recurrent core + a linear head.

Variable-length clips run with their lengths (packed for the fused cores), so padding never reaches the final
state: the label is read from the state after each clip's last real frame. The same model runs
frame by frame with a carried state (:meth:`SpeechClassifier.step`, :func:`stream`) and gives the
whole-clip output at the last frame. Input features are standardized inside the model with the
training set's mean and std (buffers), so a checkpoint carries everything a WAV needs.
"""
from __future__ import annotations

import os
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np
import torch
from torch import nn
from torch.nn.utils.rnn import pad_sequence

from musicgate.nn import models
from musicgate.errors import CheckpointError, ConfigError, RunFailure
from musicgate.files import atomic_path
from musicgate.speech.data import SpeechSet

CHECKPOINT_KIND = "musicgate.speech.classifier"
CHECKPOINT_VERSION = 1


class SpeechClassifier(nn.Module):
    """(B, T, input_size) frames -> standardize -> ``models.recurrent`` core -> linear -> (B, n_classes).

    Parameters
    ----------
    input_size : values per frame.
    n_classes : labels.
    cell : "rnn", "lstm" or "gru".
    hidden, layers : core size.
    dropout : between stacked layers and before the head.
    """

    def __init__(self, *, input_size: int, n_classes: int, cell: str = "gru", hidden: int = 64,
                 layers: int = 1, dropout: float = 0.0) -> None:
        super().__init__()
        if n_classes < 2:
            raise ConfigError(f"a classifier needs >= 2 classes, got {n_classes}")
        self.model_args = dict(input_size=input_size, n_classes=n_classes, cell=cell, hidden=hidden,
                               layers=layers, dropout=float(dropout))
        self.cell = cell
        self.rnn = models.recurrent(cell, input_size, hidden, layers, dropout)
        self.drop = nn.Dropout(dropout)
        self.head = nn.Linear(hidden, n_classes)
        self.register_buffer("feature_mean", torch.zeros(input_size))
        self.register_buffer("feature_std", torch.ones(input_size))

    def set_standardization(self, mean: np.ndarray, std: np.ndarray) -> None:
        """Store the per-dimension mean and std (input_size,) that inputs are scaled with."""
        self.feature_mean.copy_(torch.as_tensor(mean, dtype=torch.float32))
        self.feature_std.copy_(torch.as_tensor(np.maximum(std, 1e-5), dtype=torch.float32))

    def _scale(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.feature_mean) / self.feature_std

    def _last_hidden(self, state) -> torch.Tensor:
        h = state[0] if isinstance(state, tuple) else state
        return h[-1]                                                # (B, hidden), top layer

    def forward(self, x: torch.Tensor, lengths: torch.Tensor | Sequence[int]) -> torch.Tensor:
        """Logits (B, n_classes) from padded frames x (B, T, input_size) and lengths (B,)."""
        lengths = torch.as_tensor(lengths, dtype=torch.int64).cpu()
        if lengths.shape != (x.shape[0],) or int(lengths.min()) < 1 or int(lengths.max()) > x.shape[1]:
            raise ConfigError(f"lengths must be {x.shape[0]} values in [1, {x.shape[1]}]")
        _, state = models.run_core(self.rnn, self._scale(x), None, lengths)
        return self.head(self.drop(self._last_hidden(state)))

    def init_state(self, batch: int = 1):
        """Zero state on the model's device: (layers, B, hidden), a pair for the LSTM."""
        return models.zero_state(self.rnn, batch)

    def step(self, frame: torch.Tensor, state=None) -> tuple[torch.Tensor, Any]:
        """One streaming step: frame (B, input_size) -> logits (B, n_classes) so far, new state."""
        _, state = self.rnn(self._scale(frame).unsqueeze(1), state)
        return self.head(self.drop(self._last_hidden(state))), state


def _batch(feats: Sequence[np.ndarray], device) -> tuple[torch.Tensor, torch.Tensor]:
    x = pad_sequence([torch.as_tensor(f, dtype=torch.float32) for f in feats], batch_first=True)
    return x.to(device), torch.tensor([len(f) for f in feats], dtype=torch.int64)


def seed_everything(seed: int) -> None:
    """Seed random, numpy and torch once."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


@dataclass
class ClassifierTraining:
    """A trained model and its per-epoch history (loss, train accuracy, optional val accuracy)."""

    model: SpeechClassifier
    history: list[dict[str, float]]


def train_classifier(train: SpeechSet, *, cell: str = "gru", hidden: int = 64, layers: int = 1,
                     dropout: float = 0.0, epochs: int = 30, batch_size: int = 32, lr: float = 3e-3,
                     weight_decay: float = 0.0, seed: int = 0, val: SpeechSet | None = None,
                     device: str = "cpu", progress: bool = False) -> ClassifierTraining:
    """Train a :class:`SpeechClassifier` with Adam on shuffled mini-batches (seeded).

    The learning rate is halved over the last third of the epochs; the gradient norm is clipped
    at 5. A NaN loss raises RunFailure. With ``progress``, a bar per epoch with the rate, loss and
    accuracy (plain lines when stderr is not a terminal, see :func:`musicgate.progress.progress`).
    """
    from musicgate.progress import progress as progress_display

    if len(train) == 0:
        raise ConfigError("the training set is empty")
    seed_everything(seed)
    model = SpeechClassifier(input_size=train.dim, n_classes=len(train.label_names), cell=cell,
                             hidden=hidden, layers=layers, dropout=dropout)
    frames = np.concatenate(train.features)
    model.set_standardization(frames.mean(axis=0), frames.std(axis=0))
    model.to(device)
    opt = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
    sched = torch.optim.lr_scheduler.MultiStepLR(opt, [max(1, (2 * epochs) // 3)], gamma=0.5)
    rng = np.random.default_rng(seed)
    labels = torch.as_tensor(train.labels)
    history = []
    bar = progress_display(range(epochs), desc=f"train {cell}", unit="epoch", quiet=not progress)
    for epoch in bar:
        model.train()
        order = rng.permutation(len(train))
        total, correct, loss_sum = 0, 0, 0.0
        for start in range(0, len(order), batch_size):
            idx = order[start:start + batch_size]
            x, lengths = _batch([train.features[i] for i in idx], device)
            y = labels[idx].to(device)
            logits = model(x, lengths)
            loss = nn.functional.cross_entropy(logits, y)
            if not torch.isfinite(loss):
                raise RunFailure(f"loss became {loss.item()} at epoch {epoch + 1}: lower --lr")
            opt.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 5.0)
            opt.step()
            loss_sum += loss.item() * len(idx)
            correct += int((logits.argmax(1) == y).sum())
            total += len(idx)
        sched.step()
        row = {"epoch": epoch + 1, "loss": loss_sum / total, "train_acc": correct / total}
        if val is not None:
            row["val_acc"] = float((predict(model, val.features).argmax(1) == val.labels).mean())
        history.append(row)
        bar.set_postfix(loss=f"{row['loss']:.3f}", acc=f"{row['train_acc']:.3f}")
    model.eval()
    return ClassifierTraining(model, history)


@torch.no_grad()
def predict(model: SpeechClassifier, feats: Sequence[np.ndarray], *, batch_size: int = 256) -> np.ndarray:
    """Class probabilities (N, n_classes) for N clips of shape (frames_i, input_size)."""
    model.eval()
    device = model.head.weight.device
    out = []
    for start in range(0, len(feats), batch_size):
        x, lengths = _batch(feats[start:start + batch_size], device)
        out.append(torch.softmax(model(x, lengths), dim=1).cpu().numpy())
    return np.concatenate(out) if out else np.zeros((0, model.model_args["n_classes"]), np.float32)


@torch.no_grad()
def stream(model: SpeechClassifier, frames: np.ndarray) -> Iterator[np.ndarray]:
    """Feed frames (T, input_size) one at a time; yield the class probabilities after each one."""
    model.eval()
    state = None
    x = torch.as_tensor(np.asarray(frames, dtype=np.float32), device=model.head.weight.device)
    for t in range(x.shape[0]):
        logits, state = model.step(x[t:t + 1], state)
        yield torch.softmax(logits, dim=1)[0].cpu().numpy()


# ---------------------------------------------------------------- evaluation

@dataclass
class Evaluation:
    """Accuracy, confusion matrix (true rows x predicted columns) and predictions."""

    accuracy: float
    confusion: np.ndarray
    label_names: tuple[str, ...]
    predicted: np.ndarray

    def report(self) -> str:
        """Per-class precision, recall, F1 and support as a text table."""
        return per_class_report(self.confusion, self.label_names)


def confusion_matrix(true: np.ndarray, pred: np.ndarray, n_classes: int) -> np.ndarray:
    """(n_classes, n_classes) int64 counts; rows are true labels, columns predictions."""
    cm = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(cm, (np.asarray(true, dtype=np.int64), np.asarray(pred, dtype=np.int64)), 1)
    return cm


def per_class_report(cm: np.ndarray, names: Sequence[str]) -> str:
    """Text table of precision, recall, F1 and support per class, then the accuracy (0/0 -> 0)."""
    tp = np.diag(cm).astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = np.nan_to_num(tp / cm.sum(axis=0))
        recall = np.nan_to_num(tp / cm.sum(axis=1))
        f1 = np.nan_to_num(2 * precision * recall / (precision + recall))
    width = max(5, *(len(str(n)) for n in names))
    lines = [f"{'class':>{width}}  precision  recall     f1  support"]
    for i, name in enumerate(names):
        lines.append(f"{name:>{width}}  {precision[i]:9.3f}  {recall[i]:6.3f}  {f1[i]:5.3f}  {int(cm[i].sum()):7d}")
    total = int(cm.sum())
    lines.append(f"{'acc':>{width}}  {tp.sum() / max(total, 1):9.4f}  ({int(tp.sum())}/{total})")
    return "\n".join(lines)


def evaluate(model: SpeechClassifier, data: SpeechSet) -> Evaluation:
    """Accuracy and confusion of ``model`` on ``data`` (labels must use the model's classes)."""
    n = model.model_args["n_classes"]
    pred = predict(model, data.features).argmax(axis=1)
    cm = confusion_matrix(data.labels, pred, n)
    return Evaluation(float((pred == data.labels).mean()) if len(data) else float("nan"), cm,
                      tuple(data.label_names), pred)


def plot_confusion(cm: np.ndarray, names: Sequence[str], path: "str | os.PathLike", *,
                   title: str = "") -> Path:
    """Save the confusion matrix as a PNG heatmap with counts (matplotlib Agg, atomic)."""
    from musicgate.figures import new_figure, save_figure

    n = len(names)
    fig = new_figure(1.0 + 0.5 * n, 0.8 + 0.5 * n)
    ax = fig.subplots()
    ax.imshow(cm, cmap="Blues")
    ax.set_xticks(range(n), names, rotation=90 if n > 12 else 0)
    ax.set_yticks(range(n), names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    if title:
        ax.set_title(title, fontsize=9)
    peak = cm.max() if cm.size else 0
    for i in range(n):
        for j in range(n):
            if cm[i, j]:
                ax.text(j, i, str(cm[i, j]), ha="center", va="center", fontsize=7,
                        color="white" if cm[i, j] > peak / 2 else "black")
    fig.tight_layout()
    save_figure(fig, path)
    return Path(path)


# ---------------------------------------------------------------- checkpoints

def save_checkpoint(path: "str | os.PathLike", model: SpeechClassifier, *, label_names: Sequence[str],
                    features: dict | None, extra: dict | None = None) -> Path:
    """Write a self-describing checkpoint atomically.

    The dict holds ``kind``, ``version``, ``model_args``, ``state_dict`` (CPU tensors),
    ``features`` (a FeatureConfig dict, or None for precomputed features), ``label_names`` and
    ``extra`` (data spec, split, metrics...).
    """
    ckpt = {"kind": CHECKPOINT_KIND, "version": CHECKPOINT_VERSION, "model_args": dict(model.model_args),
            "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
            "features": features, "label_names": list(label_names), "extra": extra or {}}
    with atomic_path(path) as tmp:
        torch.save(ckpt, tmp)
    return Path(path)


def load_checkpoint(path: "str | os.PathLike", *, map_location: str = "cpu") -> tuple[SpeechClassifier, dict]:
    """Rebuild the model from a checkpoint alone; returns (model in eval mode, the checkpoint dict).

    Raises CheckpointError for a missing file, a file torch cannot read, or a dict that is not a
    speech-classifier checkpoint.
    """
    path = Path(path)
    if path.is_dir():
        path = path / "model.pt"
    if path.name == "model.pt" and path.parent.is_dir() and not path.exists():
        raise CheckpointError(f"{path.parent} is a folder without model.pt; give a run folder of "
                              "'musicgate speech train' or its model.pt")
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint; give RUN/model.pt or the RUN folder")
    try:
        ckpt = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:  # torch raises many types (UnpicklingError, RuntimeError, EOFError...)
        raise CheckpointError(f"{path}: not a torch checkpoint ({type(exc).__name__}); "
                              "give a model.pt written by `musicgate speech train`") from exc
    if not isinstance(ckpt, dict) or ckpt.get("kind") != CHECKPOINT_KIND:
        raise CheckpointError(f"{path}: not a speech-classifier checkpoint; give a model.pt from "
                              "`musicgate speech train`")
    if ckpt.get("version") != CHECKPOINT_VERSION:
        raise CheckpointError(f"{path}: checkpoint version {ckpt.get('version')} is not "
                              f"{CHECKPOINT_VERSION}; retrain with this musicgate")
    try:
        model = SpeechClassifier(**ckpt["model_args"])
        model.load_state_dict(ckpt["state_dict"])
    except (KeyError, TypeError, RuntimeError, ConfigError) as exc:
        raise CheckpointError(f"{path}: checkpoint does not fit its model ({exc})") from exc
    model.to(map_location).eval()
    return model, ckpt
