"""Long-memory tasks: the adding problem and copy memory, per cell, against the trivial baselines.

As in Arjovsky et al. 2016 and Bai et al. 2018 (``TCN/adding_problem``, ``TCN/copy_memory``):

* adding: T steps of (value ~ U(0, 1), marker); two distinct steps are marked; the target is the
  sum of their values, read after the last step; loss MSE. Always predicting 1 scores
  Var(a + b) = 1/6 = 0.1667 (the figure quoted in the literature since Le et al. 2015 is 0.1767).
* copy: 10 symbols from {1..8}, T - 1 blanks (0), then 11 markers (9); the target is blank for
  T + 10 steps, then the 10 symbols; loss cross-entropy per step over all T + 20 steps. Blanks
  then a uniform guess over the 8 symbols scores 10 ln 8 / (T + 20).

Models are matched in size with :func:`musicgate.nn.models.hidden_for_params`.
"""
from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F

from musicgate.config import check_fields, setting
from musicgate.errors import ConfigError
from musicgate.nn.cells import cell_names, get_cell
from musicgate.nn.models import RecurrentLM, count_params, hidden_for_params, recurrent

TASKS = ("adding", "copy")
DEFAULT_T = (50, 100, 200, 400, 1000)
ADDING_BASELINE_QUOTED = 0.1767   # Le et al. 2015; Bai et al. 2018
ADDING_BASELINE = 1.0 / 6.0       # exact MSE of always predicting 1 on this generator
COPY_SYMBOLS, COPY_BLANK, COPY_MARKER, COPY_VOCAB = 10, 0, 9, 10


def copy_baseline(T: int) -> float:
    """Cross-entropy per step of blanks, then a uniform guess: 10 ln 8 / (T + 20)."""
    return COPY_SYMBOLS * math.log(8) / (T + 20)


def adding_batch(batch: int, T: int, *, generator: torch.Generator | None = None
                 ) -> tuple[torch.Tensor, torch.Tensor]:
    """Adding problem: x (batch, T, 2) [value, marker], y (batch,) the sum of the two marked values."""
    if T < 2:
        raise ConfigError(f"adding problem needs T >= 2, got {T}")
    values = torch.rand(batch, T, generator=generator)
    pos = torch.rand(batch, T, generator=generator).argsort(dim=1)[:, :2]   # two distinct steps
    marker = torch.zeros(batch, T).scatter_(1, pos, 1.0)
    return torch.stack([values, marker], dim=-1), values.gather(1, pos).sum(1)


def copy_batch(batch: int, T: int, *, generator: torch.Generator | None = None
               ) -> tuple[torch.Tensor, torch.Tensor]:
    """Copy memory: x, y LongTensors (batch, T + 20) over symbols 0 (blank), 1-8, 9 (marker)."""
    if T < 1:
        raise ConfigError(f"copy memory needs T >= 1, got {T}")
    seq = torch.randint(1, 9, (batch, COPY_SYMBOLS), generator=generator)
    x = torch.cat([seq, torch.zeros(batch, T - 1, dtype=torch.long),
                   torch.full((batch, COPY_SYMBOLS + 1), COPY_MARKER)], dim=1)
    y = torch.cat([torch.zeros(batch, T + COPY_SYMBOLS, dtype=torch.long), seq], dim=1)
    return x, y


class AddingNet(nn.Module):
    """Recurrent core on (value, marker) pairs, a linear read-out after the last step."""

    def __init__(self, *, cell: str, hidden: int) -> None:
        super().__init__()
        self.rnn = recurrent(cell, 2, hidden)
        self.head = nn.Linear(hidden, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x (B, T, 2) -> prediction (B,)."""
        out, _ = self.rnn(x)
        return self.head(out[:, -1]).squeeze(-1)


@dataclass
class MemoryConfig:
    """Training budget of one task run (small by default: the full sweep runs in minutes on CPU)."""

    lstm_hidden: int = setting(32, ge=1)  # the LSTM's size; the RNN and GRU get the same parameter count
    steps: int = setting(300, ge=1)
    batch_size: int = setting(16, ge=1)
    lr: float = setting(1e-2, gt=0)
    clip: float = setting(1.0, ge=0)
    eval_size: int = setting(500, ge=1)
    seed: int = setting(0, ge=0)

    def __post_init__(self) -> None:
        check_fields(self)


@dataclass
class MemoryResult:
    """The final loss of one (task, T, cell) run on a held-out batch."""

    task: str
    T: int
    cell: str
    hidden: int
    params: int
    steps: int
    loss: float
    baseline: float
    seconds: float

    @property
    def ratio(self) -> float:
        """loss / baseline: 1 is no better than the trivial answer."""
        return self.loss / self.baseline


def _model(task: str, cell: str, lstm_hidden: int) -> nn.Module:
    if task == "adding":
        target = count_params(AddingNet(cell="lstm", hidden=lstm_hidden))
        hidden = hidden_for_params(cell, target, input_size=2, output_size=1)
        return AddingNet(cell=cell, hidden=hidden)
    target = count_params(RecurrentLM(vocab_size=COPY_VOCAB, cell="lstm", hidden=lstm_hidden,
                                      layers=1, embed=COPY_VOCAB))
    hidden = hidden_for_params(cell, target, vocab_size=COPY_VOCAB, embed=COPY_VOCAB)
    return RecurrentLM(vocab_size=COPY_VOCAB, cell=cell, hidden=hidden, layers=1, embed=COPY_VOCAB)


def _loss(task: str, model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    if task == "adding":
        return F.mse_loss(model(x), y)
    logits, _ = model(x)
    return F.cross_entropy(logits.reshape(-1, COPY_VOCAB), y.reshape(-1))


def run_memory_task(task: str, T: int, cell: str, config: MemoryConfig | None = None, *,
                    progress: bool = False) -> MemoryResult:
    """Train one cell on one task at length T; the final loss is measured on a held-out batch."""
    from tqdm.auto import tqdm

    if task not in TASKS:
        raise ConfigError(f"unknown memory task {task!r}: use one of {', '.join(TASKS)}")
    get_cell(cell)
    config = config or MemoryConfig()
    make = adding_batch if task == "adding" else copy_batch
    torch.manual_seed(config.seed)
    train_gen = torch.Generator().manual_seed(config.seed)
    eval_gen = torch.Generator().manual_seed(config.seed + 10_000)
    model = _model(task, cell, config.lstm_hidden)
    opt = torch.optim.Adam(model.parameters(), lr=config.lr)
    start = time.perf_counter()
    bar = tqdm(range(config.steps), disable=not progress, desc=f"{task} T={T} {cell}",
               unit="step", leave=False)
    for _ in bar:
        x, y = make(config.batch_size, T, generator=train_gen)
        loss = _loss(task, model, x, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if config.clip > 0:
            nn.utils.clip_grad_norm_(model.parameters(), config.clip)
        opt.step()
        bar.set_postfix(loss=f"{loss.item():.4f}")
    model.eval()
    with torch.no_grad():
        x, y = make(config.eval_size, T, generator=eval_gen)
        final = float(_loss(task, model, x, y))
    baseline = ADDING_BASELINE if task == "adding" else copy_baseline(T)
    return MemoryResult(task=task, T=T, cell=cell, hidden=model.rnn.hidden_size,
                        params=count_params(model), steps=config.steps, loss=final,
                        baseline=baseline, seconds=time.perf_counter() - start)


def memory_sweep(tasks: Sequence[str] = TASKS, Ts: Sequence[int] = DEFAULT_T,
                 cells: Sequence[str] | None = None, config: MemoryConfig | None = None, *,
                 progress: bool = False,
                 log: Callable[[MemoryResult], None] | None = None) -> list[MemoryResult]:
    """Every (task, T, cell) run, in that order."""
    cells = list(cell_names() if cells is None else cells)
    results = []
    for task in tasks:
        for T in Ts:
            for cell in cells:
                result = run_memory_task(task, int(T), cell, config, progress=progress)
                results.append(result)
                if log:
                    log(result)
    return results


def memory_table(results: Sequence[MemoryResult]) -> str:
    """Markdown table of final loss vs baseline per task, T and cell."""
    lines = ["| task | T | cell | hidden | params | steps | final loss | baseline | loss / baseline | seconds |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        lines.append(f"| {r.task} | {r.T} | {r.cell} | {r.hidden} | {r.params} | {r.steps} | "
                     f"{r.loss:.4f} | {r.baseline:.4f} | {r.ratio:.3f} | {r.seconds:.1f} |")
    return "\n".join(lines)


def plot_memory(results: Sequence[MemoryResult], path: str | Path) -> Path:
    """PNG of final loss vs T per cell, one panel per task, with the baselines drawn."""
    import matplotlib.ticker

    from musicgate.figures import new_figure, save_figure

    path = Path(path)
    tasks = [t for t in TASKS if any(r.task == t for r in results)]
    fig = new_figure(5.5 * len(tasks), 4.2, dpi=110)
    axes = fig.subplots(1, len(tasks), squeeze=False)
    for ax, task in zip(axes[0], tasks):
        rows = [r for r in results if r.task == task]
        Ts = sorted({r.T for r in rows})
        for cell in dict.fromkeys(r.cell for r in rows):
            pts = sorted((r.T, r.loss) for r in rows if r.cell == cell)
            if pts:
                ax.plot(*zip(*pts), marker="o", label=get_cell(cell).label)
        if task == "adding":
            ax.axhline(ADDING_BASELINE, color="k", ls="--", label="predict 1 (1/6)")
            ax.axhline(ADDING_BASELINE_QUOTED, color="gray", ls=":", label="0.1767 (quoted)")
            ax.set_ylabel("test MSE")
        else:
            grid = [Ts[0] + (Ts[-1] - Ts[0]) * k / 200 for k in range(201)]
            ax.plot(grid, [copy_baseline(T) for T in grid], color="k", ls="--",
                    label="10 ln 8 / (T + 20)")
            ax.set_ylabel("test cross-entropy per step")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xticks(Ts, [str(T) for T in Ts])
        ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        ax.set_xlabel("sequence length T")
        ax.set_title(f"{task}: final loss after {rows[0].steps} training steps")
        ax.legend(fontsize=8)
    fig.tight_layout()
    return save_figure(fig, path)


def result_dicts(results: Sequence[MemoryResult]) -> list[dict]:
    """Plain dicts (for JSON)."""
    return [asdict(r) for r in results]


def results_from_dicts(rows: Sequence[dict]) -> list[MemoryResult]:
    """Inverse of :func:`result_dicts` (to redraw a plot or table from saved JSON)."""
    return [MemoryResult(**row) for row in rows]
