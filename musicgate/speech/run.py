"""Speech runs as library calls: train a run folder, evaluate it, predict a clip, draw its gates.

Each function here is one ``musicgate speech`` sub-command with the same parameters; the CLI only
parses arguments and prints. A run folder (``train_run(..., output=RUN)``) holds ``model.pt`` (a
self-describing checkpoint), ``config.json`` (the settings), ``metrics.json``, ``history.json``
(one row per epoch), ``report.txt`` (per-class precision and recall) and ``confusion.png``.
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from musicgate.errors import CheckpointError, DataError, OutputError
from musicgate.files import atomic_write_json, atomic_write_text

SPEECH_RUN_FILES = frozenset({"model.pt", "config.json", "metrics.json", "history.json", "report.txt",
                              "confusion.png", "confusion-eval.png"})
"""The files a speech run folder may hold; anything else means the folder is not a speech run."""


def checkpoint_path(run: "str | os.PathLike") -> Path:
    """``RUN/model.pt`` for a run folder, the path itself for a checkpoint file."""
    run = Path(run)
    return run / "model.pt" if run.is_dir() else run


def check_run_folder(out: "str | os.PathLike") -> None:
    """Refuse an output folder that holds anything but an earlier speech run (a music run, say)."""
    out = Path(out)
    if not out.is_dir():
        return
    foreign = sorted(p.name for p in out.iterdir() if p.name not in SPEECH_RUN_FILES and not p.name.startswith("."))
    if foreign:
        shown = ", ".join(foreign[:3]) + (" ..." if len(foreign) > 3 else "")
        raise OutputError(f"{out} holds files that are not from 'musicgate speech train' ({shown}); "
                          "give a new or empty folder with -o")


@dataclass
class SpeechRun:
    """What :func:`train_run` wrote and measured."""

    output: Path
    split: str
    train_clips: int
    test_clips: int
    dim: int
    accuracy: float
    report: str
    metrics: dict


def train_run(data: str, *, output: "str | os.PathLike", cell: str = "gru", hidden: int = 64, layers: int = 1,
              dropout: float = 0.0, epochs: int = 30, batch_size: int = 32, lr: float = 3e-3, seed: int = 0,
              holdout_speaker: str | None = None, features: str = "mfcc", normalize: str = "mean",
              deltas: bool = True, cache_dir: "str | os.PathLike | None" = None, device: str = "cpu",
              progress: bool = False, log: Callable[[str], None] | None = None) -> SpeechRun:
    """Train a spoken-word classifier, evaluate it on the test split and write the run folder.

    Parameters
    ----------
    data : ``PATH.npz``, ``fsdd:DIR``, ``commands:DIR`` or ``synth-digits`` (see
        :func:`musicgate.speech.sources.load_spec`).
    output : the run folder (new, empty, or an earlier speech run, which is overwritten).
    cell, hidden, layers, dropout, epochs, batch_size, lr, seed : the model and its training.
    holdout_speaker : ``fsdd:`` only: this speaker is the test set.
    features, normalize, deltas : the WAV front end (ignored for precomputed ``.npz``).
    progress : show a bar per epoch with its rate (plain lines when stderr is not a terminal).
    log : called with one line describing the data before training.

    Returns
    -------
    SpeechRun
    """
    from musicgate.nn.models import count_params
    from musicgate.speech import classify
    from musicgate.speech.features import FeatureConfig
    from musicgate.speech.sources import features_for_spec, load_spec

    out = Path(output)
    check_run_folder(out)
    config = FeatureConfig(kind=features, normalize=normalize, deltas=deltas)
    split = load_spec(data, config=config, seed=seed, holdout_speaker=holdout_speaker, cache_dir=cache_dir,
                      progress=progress)
    if log is not None:
        log(f"data: {split.description}: {len(split.train)} train, {len(split.test)} test clips, "
            f"{split.train.dim} values per frame")
    started = time.perf_counter()
    result = classify.train_classifier(
        split.train, cell=cell, hidden=hidden, layers=layers, dropout=dropout, epochs=epochs,
        batch_size=batch_size, lr=lr, seed=seed, device=device, progress=progress)
    seconds = time.perf_counter() - started
    ev = classify.evaluate(result.model, split.test)
    feats = features_for_spec(data, config)
    settings = {"data": data, "split": split.description, "seed": seed, "holdout_speaker": holdout_speaker,
                "cell": cell, "hidden": hidden, "layers": layers, "dropout": dropout, "epochs": epochs,
                "batch_size": batch_size, "lr": lr, "features": feats.to_dict() if feats else None,
                "engine": split.train.info.get("engine")}
    metrics = {"test_accuracy": ev.accuracy, "train_clips": len(split.train), "test_clips": len(split.test),
               "final_loss": result.history[-1]["loss"], "final_train_accuracy": result.history[-1]["train_acc"],
               "train_seconds": round(seconds, 1), "parameters": count_params(result.model)}
    out.mkdir(parents=True, exist_ok=True)
    classify.save_checkpoint(out / "model.pt", result.model, label_names=split.train.label_names,
                             features=settings["features"], extra={"settings": settings, "metrics": metrics})
    atomic_write_json(out / "config.json", settings)
    atomic_write_json(out / "metrics.json", metrics)
    atomic_write_json(out / "history.json", result.history)
    atomic_write_text(out / "report.txt", ev.report() + "\n")
    classify.plot_confusion(ev.confusion, ev.label_names, out / "confusion.png",
                            title=f"{cell} {hidden}: {100 * ev.accuracy:.1f}% on {data}")
    return SpeechRun(out, split.description, len(split.train), len(split.test), split.train.dim, ev.accuracy,
                     ev.report(), metrics)


@dataclass
class SpeechEval:
    """What :func:`evaluate_run` measured, and where it drew the confusion matrix."""

    split: str
    test_clips: int
    accuracy: float
    report: str
    png: Path


def evaluate_run(run: "str | os.PathLike", *, data: str | None = None, holdout_speaker: str | None = None,
                 cache_dir: "str | os.PathLike | None" = None, png: "str | os.PathLike | None" = None,
                 progress: bool = False) -> SpeechEval:
    """Accuracy, per-class report and confusion PNG of a trained run on a test split.

    Parameters
    ----------
    run : a run folder of :func:`train_run` (or its ``model.pt``).
    data : the data to test on (default: the run's own test split, with its seed and held-out speaker).
    png : the confusion PNG (default ``RUN/confusion-eval.png``).
    """
    from musicgate.speech import classify
    from musicgate.speech.features import FeatureConfig
    from musicgate.speech.sources import load_spec

    run = Path(run)
    model, ckpt = classify.load_checkpoint(checkpoint_path(run))
    settings = ckpt["extra"].get("settings", {})
    spec = data or settings.get("data")
    if not spec:
        raise CheckpointError(f"{run}: the checkpoint does not name its data; pass --data")
    feats = ckpt["features"]
    if feats is None and not (spec.endswith(".npz") or spec.startswith("npz:")):
        raise DataError(f"{run} was trained on precomputed .npz features; evaluate it on a .npz")
    config = FeatureConfig.from_dict(feats) if feats else FeatureConfig()
    holdout = holdout_speaker if data else settings.get("holdout_speaker")
    split = load_spec(spec, config=config, seed=int(settings.get("seed", 0)), holdout_speaker=holdout,
                      cache_dir=cache_dir, progress=progress)
    if tuple(split.test.label_names) != tuple(ckpt["label_names"]):
        raise DataError(f"{spec} has labels {list(split.test.label_names)} but the model knows "
                        f"{ckpt['label_names']}")
    if split.test.dim != model.model_args["input_size"]:
        raise DataError(f"{spec} has {split.test.dim} values per frame, the model takes "
                        f"{model.model_args['input_size']}")
    ev = classify.evaluate(model, split.test)
    run_dir = run if run.is_dir() else run.parent
    png = Path(png) if png is not None else run_dir / "confusion-eval.png"
    classify.plot_confusion(ev.confusion, ev.label_names, png,
                            title=f"{model.cell}: {100 * ev.accuracy:.1f}% on {spec}")
    return SpeechEval(split.description, len(split.test), ev.accuracy, ev.report(), png)


@dataclass
class Prediction:
    """The label of one clip, its probability, and (when streamed) the running guess per frame."""

    label: str
    probability: float
    frames: list[tuple[str, float]]


def predict_file(run: "str | os.PathLike", file: "str | os.PathLike", *, stream: bool = False) -> Prediction:
    """The label a trained run gives one WAV clip; with ``stream``, also its guess after each frame."""
    from musicgate.speech import classify
    from musicgate.speech.features import FeatureConfig, file_features

    model, ckpt = classify.load_checkpoint(checkpoint_path(run))
    if ckpt["features"] is None:
        raise CheckpointError(f"{run} was trained on precomputed digits.npz features whose front end "
                              "is not recorded; train on fsdd:DIR or synth-digits to predict WAV files")
    feats = file_features(file, FeatureConfig.from_dict(ckpt["features"]), require_speech=True)
    names = ckpt["label_names"]
    probs = classify.predict(model, [feats])[0]
    frames = []
    if stream:
        for p in classify.stream(model, feats):
            k = int(np.argmax(p))
            frames.append((names[k], float(p[k])))
    k = int(np.argmax(probs))
    return Prediction(names[k], float(probs[k]), frames)


def gates_file(run: "str | os.PathLike", wav: "str | os.PathLike", output: "str | os.PathLike", *,
               layer: int = -1) -> dict:
    """The gate view of a trained run on one WAV clip (see :func:`musicgate.speech.plots.speech_gate_pictures`).

    A ``layer`` the model does not have raises ConfigError before any work.
    """
    from musicgate.nn.hub import check_layer
    from musicgate.speech import classify
    from musicgate.speech.plots import speech_gate_pictures

    model, _ = classify.load_checkpoint(checkpoint_path(run))
    check_layer(layer, int(model.model_args["layers"]), where=str(run))
    return speech_gate_pictures(run, wav, output, layer=layer)


__all__ = ["train_run", "evaluate_run", "predict_file", "gates_file", "check_run_folder", "checkpoint_path",
           "SpeechRun", "SpeechEval", "Prediction", "SPEECH_RUN_FILES"]
