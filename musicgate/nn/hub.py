"""Finding and loading a trained model: the one resolver every command uses.

A model is named in one of three ways, with one meaning everywhere:

- a **shipped model's name** (``folk-rnn``, ``folk-lstm``, ``folk-gru``): the checkpoint inside the
  package, ``musicgate/pretrained/NAME.pt``;
- a **checkpoint file** (``runs/x/best.pt``);
- a **run folder** (``runs/x``): its ``best.pt`` (lowest validation loss), else its ``last.pt``.
  (Resuming training is the one exception: ``train --resume RUN`` continues from ``last.pt``.)
"""
from __future__ import annotations

import os
import zipfile
from pathlib import Path

from musicgate.errors import CheckpointError
from musicgate.files import safe_name

SHIPPED_MODELS = ("folk-rnn", "folk-lstm", "folk-gru")
"""Names of the models that come with the package."""


def pretrained_dir() -> Path:
    """The package folder holding the shipped checkpoints (``NAME.pt``) and ``models.json``."""
    return Path(__file__).resolve().parents[1] / "pretrained"


def shipped_models() -> list[str]:
    """Names of the shipped models installed with this package (may be fewer than SHIPPED_MODELS)."""
    folder = pretrained_dir()
    return sorted(p.stem for p in folder.glob("*.pt")) if folder.is_dir() else []


def _looks_like_path(text: str) -> bool:
    return os.sep in text or "/" in text or text.endswith((".pt", ".pth")) or text in (".", "..")


def resolve_checkpoint(spec: "str | os.PathLike") -> Path:
    """The checkpoint file that ``spec`` names: a shipped name, a file, or a run folder.

    Raises
    ------
    CheckpointError
        Nothing by that name (the message lists the shipped models), or a run folder without
        ``best.pt`` or ``last.pt``.
    """
    text = os.fspath(spec)
    if not _looks_like_path(text):
        candidate = pretrained_dir() / f"{text}.pt"
        if candidate.is_file():
            return candidate
    path = Path(text)
    if path.is_dir():
        for name in ("best.pt", "last.pt"):
            if (path / name).is_file():
                return path / name
        raise CheckpointError(f"{path}: a folder without best.pt or last.pt; give a run folder of "
                              "'musicgate train' or a checkpoint file")
    if path.is_file():
        return path
    found = shipped_models()
    have = ", ".join(found) if found else "none are installed in this copy of musicgate"
    if _looks_like_path(text):
        raise CheckpointError(f"{path}: no such checkpoint; give a shipped model name ({have}), "
                              "a checkpoint file or a run folder")
    raise CheckpointError(f"no shipped model named {text!r} (shipped models: {have}); give one of "
                          "those names or the path of a checkpoint (.pt file or run folder)")


def model_label(spec: "str | os.PathLike") -> str:
    """A short name for a model in file names: the shipped name, or the checkpoint's file (or run) name."""
    text = os.fspath(spec)
    if not _looks_like_path(text) and (pretrained_dir() / f"{text}.pt").is_file():
        return safe_name(text)
    path = Path(text)
    if path.is_dir():
        return safe_name(path.resolve().name)
    stem = path.stem
    if stem in ("last", "best") and path.resolve().parent.name:
        stem = f"{path.resolve().parent.name}-{stem}"
    return safe_name(stem)


def load_model(spec: "str | os.PathLike", device: str = "cpu"):
    """Load a trained language model by shipped name, checkpoint file or run folder.

    Returns
    -------
    model : RecurrentLM in eval mode on ``device``.
    tokenizer : Tokenizer it was trained with.
    meta : dict
        The checkpoint's ``step``, ``best_val_loss``, ``config``, ``dataset``, ``model_args``,
        ``path``, plus ``name`` (a short label for file names, :func:`model_label`).

    Raises
    ------
    CheckpointError
        Unknown name, missing file, or a file that is not a musicgate checkpoint.
    """
    from musicgate.nn.checkpoint import load_checkpoint

    path = resolve_checkpoint(spec)
    if not zipfile.is_zipfile(path):  # torch.save writes zip archives; this also keeps stray
        # pickles away from torch's unpickler, which fails on some with odd errors
        raise CheckpointError(f"{path}: not a musicgate checkpoint (not a torch zip archive); "
                              "give a .pt file written by musicgate train")
    ckpt = load_checkpoint(path, map_location="cpu")
    model = ckpt.build_model(device)
    meta = {"step": ckpt.step, "best_val_loss": ckpt.best_val_loss, "config": ckpt.config,
            "dataset": ckpt.dataset, "model_args": ckpt.model_args, "path": str(ckpt.path),
            "name": model_label(spec)}
    return model, ckpt.tokenizer, meta


def check_layer(layer: int, layers: int, *, where: str) -> int:
    """Return ``layer`` (Python indexing: -1 is the last) when ``where`` has it; raise ConfigError."""
    from musicgate.errors import ConfigError

    if not -layers <= layer < layers:
        raise ConfigError(f"--layer {layer}: {where} has {layers} layer(s); use 0 .. {layers - 1} "
                          f"(or -1 for the last)")
    return layer


__all__ = ["check_layer", "SHIPPED_MODELS", "pretrained_dir", "shipped_models", "resolve_checkpoint", "model_label", "load_model"]
