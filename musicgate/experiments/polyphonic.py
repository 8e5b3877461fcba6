"""Polyphonic music benchmark: next-frame NLL of a PianoRollRNN on the four piano-roll datasets.

The metric is the one of Boulanger-Lewandowski et al. 2012, Chung et al. 2014 and Bai et al. 2018
(``TCN/poly_music/music_test.py``): for each piece, frames 1..T-1 are predicted from the frames
before them; the loss of one frame is the sum over the 88 Bernoulli outputs of the negative
log-likelihood, in nats; the reported number is the total over a split divided by the number of
predicted frames (a frame-weighted mean over pieces).
"""
from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F

from musicgate.config import build_config, check_fields, setting
from musicgate.errors import ConfigError, RunFailure
from musicgate.nn.cells import cell_names
from musicgate.nn.models import PianoRollRNN, count_params
from musicgate.music.rolls import DATASETS, load_polyphonic

#: Published test NLL (nats per frame): (source, dataset) -> {cell: value}.
PUBLISHED = {
    ("Chung et al. 2014, Table 2", "jsb"): {"rnn": 9.10, "gru": 8.54, "lstm": 8.67},
    ("Chung et al. 2014, Table 2", "nottingham"): {"rnn": 3.13, "gru": 3.23, "lstm": 3.20},
    ("Chung et al. 2014, Table 2", "musedata"): {"rnn": 6.23, "gru": 5.99, "lstm": 6.23},
    ("Chung et al. 2014, Table 2", "pianomidi"): {"rnn": 9.03, "gru": 8.82, "lstm": 9.03},
    ("Bai et al. 2018, Table 1", "jsb"): {"rnn": 8.91, "gru": 8.43, "lstm": 8.45},
    ("Bai et al. 2018, Table 1", "nottingham"): {"rnn": 4.05, "gru": 3.46, "lstm": 3.29},
}


def best_published(dataset: str, cell: str) -> float | None:
    """The lowest published test NLL for a dataset and cell (None if there is none)."""
    values = [v[cell] for (_, d), v in PUBLISHED.items() if d == dataset]
    return min(values) if values else None


@dataclass
class PolyConfig:
    """One polyphonic run. Defaults are in one place: here."""

    dataset: str = setting("jsb", choices=DATASETS)
    cell: str = setting("lstm", choices=cell_names)
    hidden: int = setting(200, ge=1)
    layers: int = setting(1, ge=1)
    dropout: float = setting(0.3, ge=0, lt=1)        # between layers and before the head
    input_dropout: float = setting(0.0, ge=0, lt=1)  # on the input roll
    lr: float = setting(1e-3, gt=0)
    weight_decay: float = setting(0.0, ge=0)
    batch_size: int = setting(16, ge=1)
    max_epochs: int = setting(100, ge=1)
    patience: int = setting(8, ge=1)         # epochs without a better valid NLL before stopping
    lr_patience: int = setting(2, ge=0)      # epochs without improvement before the lr is multiplied by lr_factor
    lr_factor: float = setting(0.5, gt=0, le=1)
    clip: float = setting(1.0, ge=0)         # gradient-norm clip (0: none)
    bptt: int = setting(0, ge=0)             # 0: whole pieces; N: train on windows of N + 1 frames
    seed: int = setting(0, ge=0)
    max_minutes: float = setting(0.0, ge=0)  # 0: no time limit

    def __post_init__(self) -> None:
        check_fields(self)


def poly_config(source: str | Path | dict | None = None, **overrides) -> PolyConfig:
    """A PolyConfig from a YAML file or dict, then keyword overrides (None: not set); unknown keys are rejected."""
    data: dict = {}
    if isinstance(source, dict):
        data = dict(source)
    elif source is not None:
        from musicgate.files import read_yaml

        data = read_yaml(source)
    data.update({k: v for k, v in overrides.items() if v is not None})
    try:
        return build_config(PolyConfig, data, what="polyphonic config")
    except ConfigError as exc:
        raise ConfigError(f"{source}: {exc}" if isinstance(source, (str, Path)) else str(exc)) from None


def frame_nll(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """NLL of each frame in nats: sum over the keys of the Bernoulli NLL.

    logits, target : (..., 88) -> (...). All-zero logits (p = 0.5) give 88 ln 2 per frame.
    """
    return F.binary_cross_entropy_with_logits(logits, target, reduction="none").sum(-1)


def _to_tensors(pieces: Sequence[np.ndarray]) -> list[torch.Tensor]:
    return [torch.from_numpy(np.asarray(p, dtype=np.float32)) for p in pieces]


def _windows(pieces: list[torch.Tensor], bptt: int) -> list[torch.Tensor]:
    """Cut pieces into windows of bptt + 1 frames sharing one frame, so each transition is kept once."""
    if bptt <= 0:
        return pieces
    out = []
    for p in pieces:
        out.extend(p[s:s + bptt + 1] for s in range(0, len(p) - 1, bptt))
    return [w for w in out if len(w) >= 2]


def _batches(pieces: list[torch.Tensor], batch_size: int, rng: np.random.Generator | None):
    """Batches of similar length: (x (B, T, 88), lengths (B,)). Shuffled batch order if rng."""
    order = np.argsort([len(p) for p in pieces], kind="stable")
    groups = [order[i:i + batch_size] for i in range(0, len(order), batch_size)]
    if rng is not None:
        rng.shuffle(groups)
    for group in groups:
        batch = [pieces[i] for i in group]
        lengths = torch.tensor([len(p) for p in batch])
        yield torch.nn.utils.rnn.pad_sequence(batch, batch_first=True), lengths


def _batch_nll(model: PianoRollRNN, x: torch.Tensor, lengths: torch.Tensor,
               device: torch.device) -> tuple[torch.Tensor, int]:
    """Summed NLL of frames 1..L-1 of each row, and the number of those frames."""
    x = x.to(device)
    logits, _ = model(x[:, :-1], lengths=lengths - 1)
    nll = frame_nll(logits, x[:, 1:])
    mask = torch.arange(x.shape[1] - 1)[None, :] < (lengths - 1)[:, None]
    return (nll * mask.to(device)).sum(), int(mask.sum())


@torch.no_grad()
def evaluate_nll(model: PianoRollRNN, pieces: Sequence[np.ndarray] | list[torch.Tensor], *,
                 batch_size: int = 32) -> float:
    """Test NLL per frame (nats) over whole pieces: total NLL / number of predicted frames."""
    was_training = model.training
    model.eval()
    device = model.head.weight.device
    tensors = [p if isinstance(p, torch.Tensor) else torch.from_numpy(np.asarray(p, np.float32))
               for p in pieces]
    total, count = 0.0, 0
    for x, lengths in _batches(tensors, batch_size, None):
        nll, n = _batch_nll(model, x, lengths, device)
        total, count = total + float(nll), count + n
    model.train(was_training)
    return total / count


def _init_head_bias(model: PianoRollRNN, pieces: Sequence[np.ndarray]) -> None:
    """Start the head at each key's log-odds on the train split (skips the trivial first epochs)."""
    rate = np.concatenate(pieces).mean(0).clip(1e-4, 1 - 1e-4)
    with torch.no_grad():
        model.head.bias.copy_(torch.as_tensor(np.log(rate / (1 - rate)), dtype=model.head.bias.dtype))


@dataclass
class PolyResult:
    """What a run measured (NLL in nats per predicted frame)."""

    config: dict
    params: int
    epochs: int
    best_epoch: int
    train_nll: float
    valid_nll: float
    test_nll: float
    seconds: float
    history: list[dict] = field(default_factory=list)

    def to_dict(self) -> dict:
        """Plain dict (for JSON)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> PolyResult:
        """Inverse of :meth:`to_dict`."""
        return cls(**data)


def train_polyphonic(config: PolyConfig, *, data_dir: str | Path | None = None,
                     device: str | torch.device = "cpu", progress: bool = True,
                     log: Callable[[str], None] | None = None) -> PolyResult:
    """Train a PianoRollRNN on the train split with early stopping on valid; measure test NLL.

    Adam with gradient-norm clipping; the learning rate is multiplied by ``lr_factor`` after
    ``lr_patience`` epochs without a better valid NLL, and training stops after ``patience``.
    The weights of the best valid epoch are restored before the test split is measured.
    """
    from tqdm.auto import tqdm

    data = load_polyphonic(config.dataset, data_dir=data_dir)
    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    device = torch.device(device)
    model = PianoRollRNN(cell=config.cell, hidden=config.hidden, layers=config.layers,
                         dropout=config.dropout, input_dropout=config.input_dropout).to(device)
    _init_head_bias(model, data.train)
    opt = torch.optim.Adam(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    sched = torch.optim.lr_scheduler.ReduceLROnPlateau(
        opt, factor=config.lr_factor, patience=config.lr_patience)
    train = _windows(_to_tensors(data.train), config.bptt)
    valid, test = _to_tensors(data.valid), _to_tensors(data.test)
    best, best_state, best_epoch, history = math.inf, None, 0, []
    start = time.perf_counter()
    epoch = 0
    for epoch in range(1, config.max_epochs + 1):
        model.train()
        total, count = 0.0, 0
        bar = tqdm(list(_batches(train, config.batch_size, rng)), disable=not progress,
                   desc=f"{config.dataset}/{config.cell} epoch {epoch}", unit="batch", leave=False)
        for x, lengths in bar:
            nll, n = _batch_nll(model, x, lengths, device)
            loss = nll / n
            if not torch.isfinite(loss):
                raise RunFailure(f"{config.dataset}/{config.cell}: non-finite loss at epoch {epoch}; "
                                 "lower lr or set clip")
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if config.clip > 0:
                torch.nn.utils.clip_grad_norm_(model.parameters(), config.clip)
            opt.step()
            total, count = total + float(nll.detach()), count + n
            bar.set_postfix(nll=f"{total / count:.3f}")
        valid_nll = evaluate_nll(model, valid)
        sched.step(valid_nll)
        row = dict(epoch=epoch, train_nll=total / count, valid_nll=valid_nll,
                   lr=opt.param_groups[0]["lr"], seconds=time.perf_counter() - start)
        history.append(row)
        if log:
            log(f"{config.dataset}/{config.cell} epoch {epoch}: train {row['train_nll']:.3f} "
                f"valid {valid_nll:.3f} lr {row['lr']:.2e} ({row['seconds']:.0f} s)")
        if valid_nll < best:
            best, best_epoch = valid_nll, epoch
            best_state = copy.deepcopy(model.state_dict())
        if epoch - best_epoch >= config.patience:
            break
        if config.max_minutes and time.perf_counter() - start > 60 * config.max_minutes:
            break
    model.load_state_dict(best_state)
    return PolyResult(config=asdict(config), params=count_params(model), epochs=epoch,
                      best_epoch=best_epoch, train_nll=history[best_epoch - 1]["train_nll"],
                      valid_nll=best, test_nll=evaluate_nll(model, test),
                      seconds=time.perf_counter() - start, history=history)


def results_table(results: Sequence[PolyResult]) -> str:
    """Markdown table: our test NLL beside the published ones and the best published figure."""
    sources = sorted({s for s, _ in PUBLISHED})
    head = ["dataset", "cell", "hidden", "params", "epochs (best)", "valid NLL", "test NLL (ours)",
            *sources, "ours - best published"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in results:
        c = r.config
        pub = [PUBLISHED.get((s, c["dataset"]), {}).get(c["cell"]) for s in sources]
        best = best_published(c["dataset"], c["cell"])
        gap = f"{r.test_nll - best:+.2f}" if best is not None else "n/a"
        cells = [c["dataset"], c["cell"], str(c["hidden"]), str(r.params),
                 f"{r.epochs} ({r.best_epoch})", f"{r.valid_nll:.3f}", f"**{r.test_nll:.3f}**",
                 *("n/a" if p is None else f"{p:.2f}" for p in pub), gap]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
