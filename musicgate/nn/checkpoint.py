"""Self-describing checkpoints: everything needed to rebuild the model, or to resume the run.

A checkpoint is one ``torch.save`` file holding a plain dict (loadable with ``weights_only=True``):

========================  ===================================================================
``format``, ``version``   ``"musicgate-checkpoint"`` and the layout version
``config``                the resolved run config (nested dict)
``model_args``            ``RecurrentLM(**model_args)`` rebuilds the model (cell included)
``model``                 the model's ``state_dict``
``tokenizer``             tokenizer config and vocabulary (``load_tokenizer`` rebuilds it)
``dataset``               dataset name and fingerprint; ``modes``: how many training tunes
                          have a key of each mode; ``register``: the median (and 5%/95%
                          quantiles) of the training tunes' median pitches; for a model with
                          form inputs also ``bar_lines``: how many training tunes have each
                          number of bar lines, and ``bar_lines_by_meter``: the same per time
                          signature
``step``                  optimizer steps taken
``best_val_loss``         best validation loss so far (None before the first evaluation)
``trainer``               optimizer, scheduler, early-stopping and RNG states (python, numpy,
                          torch, CUDA, per rank) and the data-loader state
========================  ===================================================================

Writes are atomic (a temporary file, then a rename), so a run killed at any moment leaves the
previous checkpoint intact. Tensors are loaded onto the CPU (or the device asked for), whatever
device wrote them.
"""
from __future__ import annotations

import os
import pickle
import random
import struct
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from musicgate.errors import CheckpointError, TokenizerError
from musicgate.files import atomic_path
from musicgate.nn.models import RecurrentLM
from musicgate.tokens.tokenizer import Tokenizer, load_tokenizer

FORMAT = "musicgate-checkpoint"
VERSION = 1


@dataclass
class Checkpoint:
    """A loaded checkpoint (see the module docstring for the fields)."""

    path: Path | None
    config: dict
    model_args: dict
    model_state: dict
    tokenizer: Tokenizer
    dataset: dict
    step: int
    best_val_loss: float | None
    trainer: dict = field(default_factory=dict)
    version: int = VERSION

    @property
    def cell(self) -> str:
        """Recurrent cell of the model: rnn, lstm or gru."""
        return str(self.model_args.get("cell"))

    @property
    def fingerprint(self) -> str:
        """Fingerprint of the dataset the model was trained on."""
        return str(self.dataset.get("fingerprint", ""))

    def build_model(self, device: "str | torch.device" = "cpu") -> RecurrentLM:
        """The model with its trained weights, in eval mode, on ``device``."""
        model = RecurrentLM(**self.model_args)
        try:
            model.load_state_dict(self.model_state)
        except RuntimeError as exc:
            first = str(exc).strip().splitlines()[0]
            raise CheckpointError(f"{self.path}: weights do not fit the model it describes ({first})") from None
        return model.to(device).eval()


def rng_state() -> dict:
    """Python, numpy and torch (CPU, CUDA, MPS) RNG states as weights_only-loadable values."""
    np_state = np.random.get_state(legacy=True)
    state = {"python": random.getstate(), "torch": torch.get_rng_state(),
             "numpy": {"keys": torch.from_numpy(np_state[1].astype(np.int64)), "pos": int(np_state[2]),
                       "has_gauss": int(np_state[3]), "cached_gaussian": float(np_state[4])}}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        state["mps"] = torch.mps.get_rng_state()
    return state


def set_rng_state(state: dict) -> None:
    """Restore what :func:`rng_state` captured."""
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    npst = state["numpy"]
    np.random.set_state(("MT19937", npst["keys"].numpy().astype(np.uint32), npst["pos"],
                         npst["has_gauss"], npst["cached_gaussian"]))
    torch.set_rng_state(state["torch"].cpu())
    if "cuda" in state and torch.cuda.is_available():
        cuda_states = [s.cpu() for s in state["cuda"]][:torch.cuda.device_count()]
        torch.cuda.set_rng_state_all(cuda_states)
    if "mps" in state and getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        torch.mps.set_rng_state(state["mps"].cpu())


def make_checkpoint(*, model: RecurrentLM, config: dict, tokenizer: Tokenizer, dataset: dict, step: int,
                    best_val_loss: float | None, trainer: dict | None = None) -> dict:
    """The checkpoint dict for ``model`` (tensors moved to the CPU)."""
    return {
        "format": FORMAT, "version": VERSION, "config": config, "model_args": dict(model.model_args),
        "model": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "tokenizer": {"config": tokenizer.config, "vocab": list(tokenizer.vocab)},
        "dataset": {"name": str(dataset.get("name", "")), "fingerprint": str(dataset.get("fingerprint", "")),
                    **({"bar_lines": {str(k): int(v) for k, v in dataset["bar_lines"].items()}}
                       if dataset.get("bar_lines") else {}),
                    **({"bar_lines_by_meter": {str(m): {str(k): int(v) for k, v in c.items()}
                                               for m, c in dataset["bar_lines_by_meter"].items()}}
                       if dataset.get("bar_lines_by_meter") else {}),
                    **({"modes": {str(k): int(v) for k, v in dataset["modes"].items()}}
                       if dataset.get("modes") else {}),
                    **({"register": {str(k): float(v) for k, v in dataset["register"].items()}}
                       if dataset.get("register") else {})},
        "step": int(step), "best_val_loss": None if best_val_loss is None else float(best_val_loss),
        "trainer": trainer or {}, "torch_version": str(torch.__version__),
    }


def save_checkpoint(payload: dict, path: "str | os.PathLike") -> Path:
    """Write a checkpoint dict atomically; returns the path."""
    path = Path(path)
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            torch.save(payload, fh)
            fh.flush()
            os.fsync(fh.fileno())
    return path


def _read(path: Path, map_location) -> dict:
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint file; give a run folder's last.pt or best.pt")
    with open(path, "rb") as fh:
        magic = fh.read(4)
    is_zip = magic[:2] == b"PK"
    try:
        data = torch.load(path, map_location=map_location, weights_only=True)
    except (RuntimeError, EOFError, pickle.UnpicklingError, zipfile.BadZipFile, ValueError,
            AttributeError, IndexError, OSError, KeyError, struct.error) as exc:
        if is_zip and zipfile.is_zipfile(path) and isinstance(exc, pickle.UnpicklingError):
            raise CheckpointError(f"{path}: not a musicgate checkpoint (it holds Python objects beyond "
                                  "tensors and plain values; load_checkpoint reads with weights_only=True)") from None
        if is_zip:
            raise CheckpointError(f"{path}: truncated or corrupt checkpoint ({type(exc).__name__}); "
                                  "use the run's other checkpoint (best.pt/last.pt) or retrain") from None
        raise CheckpointError(f"{path}: not a musicgate checkpoint (not a torch file)") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not a musicgate checkpoint (no '{FORMAT}' format tag); "
                              "was it written by another program?")
    if int(data.get("version", 0)) > VERSION:
        raise CheckpointError(f"{path}: checkpoint version {data.get('version')} is newer than this musicgate "
                              f"reads ({VERSION}); upgrade musicgate")
    return data


def load_checkpoint(path: "str | os.PathLike", *, map_location: "str | torch.device" = "cpu") -> Checkpoint:
    """Read a checkpoint (a file, or a run folder: its ``last.pt``) onto ``map_location``.

    Raises
    ------
    CheckpointError
        Missing, not a checkpoint, truncated or corrupt, or from a newer version.
    """
    path = Path(path)
    if path.is_dir():
        if not (path / "last.pt").is_file():
            raise CheckpointError(f"{path} is a folder without last.pt; give a checkpoint file or a run folder "
                                  "of 'musicgate train'")
        path = path / "last.pt"
    data = _read(path, map_location)
    try:
        tok = data["tokenizer"]
        tokenizer = load_tokenizer({**tok["config"], "vocab": tok["vocab"]})
        return Checkpoint(path=path, config=data["config"], model_args=dict(data["model_args"]),
                          model_state=data["model"], tokenizer=tokenizer, dataset=dict(data["dataset"]),
                          step=int(data["step"]), best_val_loss=data.get("best_val_loss"),
                          trainer=data.get("trainer") or {}, version=int(data["version"]))
    except (KeyError, TypeError, TokenizerError) as exc:
        raise CheckpointError(f"{path}: checkpoint is missing or has a bad field ({exc}); retrain") from None


def check_resumable(ckpt: Checkpoint, *, model_args: dict, tokenizer: Tokenizer, fingerprint: str) -> None:
    """Raise CheckpointError when ``ckpt`` cannot continue with this model, vocabulary and data."""
    where = ckpt.path
    if ckpt.cell != model_args.get("cell"):
        raise CheckpointError(f"{where} was trained with cell {ckpt.cell!r} but the config asks for "
                              f"{model_args.get('cell')!r}; set model.cell={ckpt.cell} or start a new run")
    if list(ckpt.tokenizer.vocab) != list(tokenizer.vocab) or ckpt.tokenizer.config != tokenizer.config:
        raise CheckpointError(f"{where} was made for another vocabulary ({ckpt.tokenizer.kind}, "
                              f"{len(ckpt.tokenizer)} tokens) than the dataset's ({tokenizer.kind}, "
                              f"{len(tokenizer)} tokens); use the dataset it was trained on or start a new run")
    if ckpt.fingerprint != fingerprint:
        raise CheckpointError(f"{where} was trained on dataset fingerprint {ckpt.fingerprint} but the "
                              f"dataset now has {fingerprint} (rebuilt or another corpus); resume on the "
                              "original data or start a new run")
    diff = {k: (ckpt.model_args.get(k), v) for k, v in model_args.items()
            if k != "dropout" and ckpt.model_args.get(k) != v}
    if diff:
        text = ", ".join(f"{k}: {a!r} in the checkpoint, {b!r} in the config" for k, (a, b) in diff.items())
        raise CheckpointError(f"{where} holds a different model ({text}); match the config or start a new run")
