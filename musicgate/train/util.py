"""Helpers of the training loop: device choice, torch.distributed, metrics files, the loss plot."""
from __future__ import annotations

import csv
import os
import sys
from pathlib import Path

import numpy as np
import torch
import torch.distributed as tdist

from musicgate.errors import ConfigError
from musicgate.files import atomic_path

COLUMNS = ("step", "loss", "val_loss", "best_val_loss", "lr", "grad_norm", "tokens_per_s", "elapsed_s")


def pick_device(name: str = "auto", *, local_rank: int = 0) -> torch.device:
    """``auto``: cuda (this rank's GPU), then mps, then cpu; or the named device, checked."""
    name = (name or "auto").lower()
    has_mps = getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda", local_rank % torch.cuda.device_count())
        return torch.device("mps" if has_mps else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise ConfigError(f"unknown device {name!r}; use auto, cpu, cuda, cuda:N or mps") from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ConfigError(f"device {name!r} asked for, but this torch sees no CUDA GPU; use --device auto or cpu")
        if device.index is None:
            device = torch.device("cuda", local_rank % torch.cuda.device_count())
    elif device.type == "mps" and not has_mps:
        raise ConfigError("device 'mps' asked for, but MPS is not available; use --device auto or cpu")
    elif device.type not in ("cpu", "cuda", "mps"):
        raise ConfigError(f"unsupported device {name!r}; use auto, cpu, cuda, cuda:N or mps")
    return device


class Distributed:
    """This process's place in a ``torchrun`` job (rank 0 of 1 without one)."""

    def __init__(self, rank: int = 0, world: int = 1, local_rank: int = 0) -> None:
        self.rank, self.world, self.local_rank = rank, world, local_rank
        self._owned = False

    @classmethod
    def from_env(cls) -> "Distributed":
        """Read RANK, WORLD_SIZE and LOCAL_RANK as torchrun sets them."""
        try:
            world = int(os.environ.get("WORLD_SIZE", "1"))
            rank = int(os.environ.get("RANK", "0"))
            local = int(os.environ.get("LOCAL_RANK", str(rank)))
        except ValueError:
            raise ConfigError("WORLD_SIZE, RANK and LOCAL_RANK must be integers (as torchrun sets them)") from None
        return cls(rank, world, local)

    @property
    def active(self) -> bool:
        return self.world > 1

    def init(self, device: torch.device) -> None:
        """Join the process group (nccl on CUDA, gloo otherwise) unless already joined."""
        if not self.active:
            return
        if device.type == "cuda":
            torch.cuda.set_device(device)
        if not tdist.is_initialized():
            tdist.init_process_group("nccl" if device.type == "cuda" else "gloo")
            self._owned = True

    def barrier(self) -> None:
        """Wait for every process (nothing to wait for in one process)."""
        if self.active and tdist.is_initialized():
            tdist.barrier()

    def close(self) -> None:
        if self._owned and tdist.is_initialized():
            tdist.destroy_process_group()
            self._owned = False

    def wrap(self, model: torch.nn.Module, device: torch.device) -> torch.nn.Module:
        """DistributedDataParallel around ``model`` when distributed; else the model."""
        if not self.active:
            return model
        from torch.nn.parallel import DistributedDataParallel

        return DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)

    def all_sum(self, tensor: torch.Tensor) -> torch.Tensor:
        """Sum over ranks (a copy)."""
        if not self.active:
            return tensor
        tensor = tensor.clone()
        tdist.all_reduce(tensor)
        return tensor

    def any(self, flag: bool) -> bool:
        """True when ``flag`` is true on any rank."""
        if not self.active:
            return bool(flag)
        t = torch.tensor([1.0 if flag else 0.0], device=self._device())
        tdist.all_reduce(t)
        return bool(t.item() > 0)

    def gather(self, obj) -> list:
        """Every rank's ``obj``, in rank order (a one-element list without distribution)."""
        if not self.active:
            return [obj]
        out = [None] * self.world
        tdist.all_gather_object(out, obj)
        return out

    def broadcast(self, obj):
        """Rank 0's ``obj`` on every rank."""
        if not self.active:
            return obj
        box = [obj]
        tdist.broadcast_object_list(box, src=0)
        return box[0]

    def _device(self) -> torch.device:
        if tdist.get_backend() == "nccl":
            return torch.device("cuda", torch.cuda.current_device())
        return torch.device("cpu")


class MetricsLog:
    """``metrics.csv`` (one row per step, one per evaluation), TensorBoard where installed."""

    def __init__(self, run_dir: Path, *, enabled: bool = True, keep_until: int | None = None) -> None:
        self.enabled, self.path, self._fh, self._tb = enabled, Path(run_dir) / "metrics.csv", None, None
        self.tty = sys.stderr.isatty()
        if not enabled:
            return
        if keep_until is not None and self.path.exists():
            with open(self.path, newline="") as fh:
                rows = [r for r in csv.DictReader(fh) if int(r["step"]) <= keep_until]
            with atomic_path(self.path) as tmp:
                with open(tmp, "w", newline="") as fh:
                    writer = csv.DictWriter(fh, COLUMNS)
                    writer.writeheader()
                    writer.writerows(rows)
        elif not self.path.exists() or keep_until is None:
            with open(self.path, "w", newline="") as fh:
                csv.writer(fh).writerow(COLUMNS)
        self._fh = open(self.path, "a", newline="")
        self._writer = csv.writer(self._fh)
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            pass
        else:
            self._tb = SummaryWriter(str(Path(run_dir) / "tb"))

    def progress(self, *, total: int, initial: int, quiet: bool):
        """A tqdm bar (off when quiet, or when stderr is not a terminal)."""
        from tqdm.auto import tqdm

        return tqdm(total=total, initial=initial, disable=quiet or not self.tty, unit="step",
                    dynamic_ncols=True, desc="train")

    def train_row(self, step: int, loss: float, lr: float, grad_norm: float, tokens_per_s: float,
                  elapsed_s: float) -> None:
        if self._fh is None:
            return
        self._writer.writerow([step, f"{loss:.9g}", "", "", f"{lr:.6g}", f"{grad_norm:.6g}",
                               f"{tokens_per_s:.1f}", f"{elapsed_s:.3f}"])
        if self._tb is not None:
            self._tb.add_scalar("loss/train", loss, step)
            self._tb.add_scalar("lr", lr, step)

    def val_row(self, step: int, val_loss: float, best: float) -> None:
        if self._fh is None:
            return
        self._writer.writerow([step, "", f"{val_loss:.9g}", f"{best:.9g}", "", "", "", ""])
        self.flush()
        if self._tb is not None:
            self._tb.add_scalar("loss/valid", val_loss, step)

    def flush(self) -> None:
        if self._fh is not None:
            self._fh.flush()
            if self._tb is not None:
                self._tb.flush()

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None
        if self._tb is not None:
            self._tb.close()
            self._tb = None


def read_metrics(path: "str | os.PathLike") -> dict[str, np.ndarray]:
    """``metrics.csv`` as arrays: ``step``/``loss`` of training rows, ``val_step``/``val_loss``."""
    with open(path, newline="") as fh:
        rows = list(csv.DictReader(fh))
    tr = [(int(r["step"]), float(r["loss"])) for r in rows if r["loss"]]
    va = [(int(r["step"]), float(r["val_loss"])) for r in rows if r["val_loss"]]
    return {"step": np.array([s for s, _ in tr], np.int64), "loss": np.array([v for _, v in tr]),
            "val_step": np.array([s for s, _ in va], np.int64), "val_loss": np.array([v for _, v in va])}


class LossPlotter:
    """``loss.png``: training loss (raw and smoothed) and validation loss against steps."""

    @staticmethod
    def plot(csv_path: Path, png_path: Path) -> Path | None:
        if not Path(csv_path).exists():
            return None
        from musicgate.figures import new_figure, save_figure

        m = read_metrics(csv_path)
        fig = new_figure(7, 4, dpi=110)
        ax = fig.subplots()
        if len(m["step"]):
            k = max(1, len(m["loss"]) // 50)
            if k == 1:
                ax.plot(m["step"], m["loss"], color="tab:blue", lw=1.2, label="train")
            else:
                ax.plot(m["step"], m["loss"], color="tab:blue", alpha=0.25, lw=0.8, label="train (per step)")
                smooth = np.convolve(m["loss"], np.ones(k) / k, mode="valid")
                ax.plot(m["step"][k - 1:], smooth, color="tab:blue", lw=1.5, label=f"train ({k}-step mean)")
        if len(m["val_step"]):
            ax.plot(m["val_step"], m["val_loss"], "o-", color="tab:orange", ms=3, label="validation")
        ax.set_xlabel("step")
        ax.set_ylabel("cross-entropy (nats / token)")
        ax.grid(alpha=0.3)
        ax.legend()
        fig.tight_layout()
        return save_figure(fig, png_path)

