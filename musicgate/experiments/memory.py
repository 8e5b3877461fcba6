"""Long-memory tasks: the adding problem and copy memory, per cell, against the trivial baselines.

As in Arjovsky et al. 2016 and Bai et al. 2018 (``TCN/adding_problem``, ``TCN/copy_memory``):

* adding: T steps of (value ~ U(0, 1), marker); two distinct steps are marked; the target is the
  sum of their values, read after the last step; loss MSE. Always predicting 1 scores
  Var(a + b) = 1/6 = 0.1667 (the figure quoted in the literature since Le et al. 2015 is 0.1767).
* copy: 10 symbols from {1..8}, T - 1 blanks (0), then 11 markers (9); the target is blank for
  T + 10 steps, then the 10 symbols; loss cross-entropy per step over all T + 20 steps. Blanks
  then a uniform guess over the 8 symbols scores 10 ln 8 / (T + 20).

Models are matched in size with :func:`musicgate.nn.models.hidden_for_params`. Every
(task, T, cell, init) is run once per seed; :func:`summarise` gives the mean over seeds with a 95%
Student-t interval (:func:`musicgate.analysis.seeds.seed_interval`). The settings of Bai et al.
2018 ship as the preset ``memory-bai`` (:func:`memory_preset`).
"""
from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F

from musicgate.analysis.seeds import format_interval, seed_interval
from musicgate.config import check_fields, setting
from musicgate.errors import ConfigError
from musicgate.nn.cells import cell_names, get_cell
from musicgate.nn.init import SCHEMES, _check as _check_scheme, init_gates
from musicgate.nn.models import RecurrentLM, count_params, hidden_for_params, recurrent

TASKS = ("adding", "copy")
DEFAULT_T = (50, 100, 200, 400, 1000)
ADDING_BASELINE_QUOTED = 0.1767   # Le et al. 2015; Bai et al. 2018
ADDING_BASELINE = 1.0 / 6.0       # exact MSE of always predicting 1 on this generator
COPY_SYMBOLS, COPY_BLANK, COPY_MARKER, COPY_VOCAB = 10, 0, 9, 10
OPTIMIZERS = ("adam", "rmsprop")
SOLVED = 0.1   # a run "solves" a task when its loss is under this fraction of the baseline
STOP_WINDOW = 50   # ``until_solved``: training steps whose mean loss is compared with the baseline
STOP_AT = SOLVED / 2   # ... and the fraction of the baseline it must be under to stop


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


def check_init(cell: str, init: str, t_max: float | None = None) -> None:
    """ConfigError unless gate initialisation ``init`` (with ``t_max``) applies to ``cell``.

    ``t_max`` None with ``chrono`` is allowed here: the experiments then use the sequence length.
    """
    _check_scheme(init, 2.0 if init == "chrono" and t_max is None else t_max)
    if init != "default" and not get_cell(cell).gated:
        raise ConfigError(f"--init {init} sets gate biases; the {cell} cell has no gates: "
                          f"use --init default for it (or leave it out of --cell)")


def cell_inits(cells: Sequence[str], inits: Sequence[str], t_max: float | None = None) -> list[tuple[str, str]]:
    """(cell, init) pairs to run: each cell with every init, except an entry ``cell:init`` (such as
    ``lstm:chrono``), which is that pair only. Every pair is checked (:func:`check_init`)."""
    pairs = []
    for entry in cells:
        cell, sep, init = str(entry).partition(":")
        for pair in ([(cell.strip(), init.strip())] if sep else [(cell.strip(), i) for i in inits]):
            get_cell(pair[0])
            check_init(*pair, t_max)
            if pair not in pairs:
                pairs.append(pair)
    if not pairs:
        raise ConfigError("no cell to run: give at least one cell (rnn, lstm, gru, or cell:init)")
    return pairs


@dataclass
class MemoryConfig:
    """Training budget of one task run (small by default: the full sweep runs in minutes on CPU).

    Attributes
    ----------
    lstm_hidden : the LSTM's size; the other cells get the same parameter count.
    params : target parameter count instead (overrides ``lstm_hidden``), e.g. 70_000.
    steps, batch_size, lr, clip : training (``clip`` 0: no clipping).
    optimizer : ``adam`` or ``rmsprop``.
    init : gate initialisation (:func:`musicgate.nn.init.init_gates`): ``default``, ``forget1``
        or ``chrono``.
    init_t_max : chrono's longest time scale in steps (> 1); None: the task's sequence length.
    eval_size : held-out sequences of the final loss.
    seed : seeds the weights, the chrono draws, the training and the evaluation data.
    until_solved : stop before ``steps`` once the mean training loss over the last
        :data:`STOP_WINDOW` steps is under :data:`STOP_AT` of the baseline (half the "solved"
        line, so the held-out loss is solved too); ``steps`` is then the most a run may take.
    """

    lstm_hidden: int = setting(32, ge=1)
    params: int | None = setting(None, ge=100)
    steps: int = setting(300, ge=1)
    batch_size: int = setting(16, ge=1)
    lr: float = setting(1e-2, gt=0)
    clip: float = setting(1.0, ge=0)
    optimizer: str = setting("adam", choices=OPTIMIZERS)
    init: str = setting("default", choices=SCHEMES)
    init_t_max: float | None = setting(None, gt=1)
    eval_size: int = setting(500, ge=1)
    seed: int = setting(0, ge=0)
    until_solved: bool = False

    def __post_init__(self) -> None:
        check_fields(self)
        _check_scheme(self.init, 2.0 if self.init == "chrono" and self.init_t_max is None
                      else self.init_t_max)


@dataclass
class MemoryResult:
    """The final loss of one (task, T, cell, init, seed) run on a held-out batch.

    ``history`` holds (step, mean training loss over the preceding steps) about 20 times a run.
    ``steps`` is the steps trained; ``max_steps`` the budget (larger when ``until_solved`` stopped
    the run early; None in results saved before it existed: the same as ``steps``).
    """

    task: str
    T: int
    cell: str
    hidden: int
    params: int
    steps: int
    loss: float
    baseline: float
    seconds: float
    init: str = "default"
    t_max: float | None = None
    seed: int = 0
    history: list = field(default_factory=list)
    max_steps: int | None = None

    @property
    def ratio(self) -> float:
        """loss / baseline: 1 is no better than the trivial answer."""
        return self.loss / self.baseline


@dataclass
class MemorySummary:
    """One (task, T, cell, init) over its seeds: mean loss and a 95% Student-t interval."""

    task: str
    T: int
    cell: str
    init: str
    hidden: int
    params: int
    steps: int   # the budget of each run
    seeds: list
    loss: float
    lo: float
    hi: float
    baseline: float
    solved: int
    seconds: float
    steps_run: list = field(default_factory=list)   # per seed: steps trained (fewer where solved early)

    @property
    def ratio(self) -> float:
        """mean loss / baseline."""
        return self.loss / self.baseline


def _model(task: str, cell: str, lstm_hidden: int, params: int | None = None) -> nn.Module:
    if task == "adding":
        target = params or count_params(AddingNet(cell="lstm", hidden=lstm_hidden))
        hidden = hidden_for_params(cell, target, input_size=2, output_size=1)
        return AddingNet(cell=cell, hidden=hidden)
    target = params or count_params(RecurrentLM(vocab_size=COPY_VOCAB, cell="lstm", hidden=lstm_hidden,
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
    """Train one cell on one task at length T; the final loss is measured on a held-out batch.

    The gate initialisation is ``config.init`` (chrono's ``t_max`` defaults to the sequence
    length: T for adding, T + 20 for copy).
    """
    from tqdm.auto import tqdm

    if task not in TASKS:
        raise ConfigError(f"unknown memory task {task!r}: use one of {', '.join(TASKS)}")
    config = config or MemoryConfig()
    check_init(cell, config.init, config.init_t_max)
    make = adding_batch if task == "adding" else copy_batch
    torch.manual_seed(config.seed)
    train_gen = torch.Generator().manual_seed(config.seed)
    eval_gen = torch.Generator().manual_seed(config.seed + 10_000)
    model = _model(task, cell, config.lstm_hidden, config.params)
    t_max = None
    if config.init == "chrono":
        t_max = float(config.init_t_max or (T if task == "adding" else T + 2 * COPY_SYMBOLS))
    init_gates(model, config.init, t_max=t_max)
    opt_class = torch.optim.Adam if config.optimizer == "adam" else torch.optim.RMSprop
    opt = opt_class(model.parameters(), lr=config.lr)
    start = time.perf_counter()
    every = max(1, config.steps // 20)
    history, running, recent = [], 0.0, []
    baseline = ADDING_BASELINE if task == "adding" else copy_baseline(T)
    trained = config.steps
    bar = tqdm(range(config.steps), disable=not progress, desc=f"{task} T={T} {cell} {config.init}",
               unit="step", leave=False)
    for step in bar:
        x, y = make(config.batch_size, T, generator=train_gen)
        loss = _loss(task, model, x, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if config.clip > 0:
            nn.utils.clip_grad_norm_(model.parameters(), config.clip)
        opt.step()
        value = float(loss.detach())
        running += value
        recent = (recent + [value])[-STOP_WINDOW:]
        solved = (config.until_solved and len(recent) == STOP_WINDOW
                  and sum(recent) / STOP_WINDOW < STOP_AT * baseline)
        if (step + 1) % every == 0 or step + 1 == config.steps or solved:
            history.append((step + 1, running / (step + 1 - (history[-1][0] if history else 0))))
            running = 0.0
        bar.set_postfix(loss=f"{value:.4f}")
        if solved:
            trained = step + 1
            break
    bar.close()
    model.eval()
    with torch.no_grad():
        x, y = make(config.eval_size, T, generator=eval_gen)
        final = float(_loss(task, model, x, y))
    return MemoryResult(task=task, T=T, cell=cell, hidden=model.rnn.hidden_size,
                        params=count_params(model), steps=trained, loss=final,
                        baseline=baseline, seconds=time.perf_counter() - start,
                        init=config.init, t_max=t_max, seed=config.seed, history=history,
                        max_steps=config.steps)


def parse_seeds(text: str | int | Sequence[int]) -> list[int]:
    """``3`` -> [0, 1, 2]; ``"4,7"`` -> [4, 7]; a list is checked and kept."""
    if isinstance(text, int) and not isinstance(text, bool):
        items: list = list(range(text)) if text >= 1 else []
    elif isinstance(text, str):
        try:
            parts = [int(p) for p in text.split(",") if p.strip()]
        except ValueError:
            raise ConfigError(f"--seeds {text!r}: give a number of seeds (3) or a comma list (0,1,2)") from None
        items = list(range(parts[0])) if len(parts) == 1 and "," not in text else parts
    else:
        items = list(text)
    if not items or any(isinstance(s, bool) or not isinstance(s, int) or s < 0 for s in items) \
            or len(set(items)) != len(items):
        raise ConfigError(f"--seeds {text!r}: give a number of seeds >= 1 or distinct seeds >= 0, "
                          f"comma-separated")
    return items


def memory_sweep(tasks: Sequence[str] = TASKS, Ts: Sequence[int] = DEFAULT_T,
                 cells: Sequence[str] | None = None, config: MemoryConfig | None = None, *,
                 seeds: Sequence[int] | None = None, inits: Sequence[str] | None = None,
                 configs: dict[str, MemoryConfig] | None = None, progress: bool = False,
                 log: Callable[[MemoryResult], None] | None = None) -> list[MemoryResult]:
    """Every (task, T, cell, init, seed) run, in that order.

    Parameters
    ----------
    seeds : default ``[config.seed]``.
    inits : gate initialisations, default ``[config.init]``, each run with every cell (a cell
        given as ``cell:init`` runs with that init only, see :func:`cell_inits`); every pair is
        checked before anything runs.
    configs : a config per task (as in a preset), instead of ``config`` for that task.
    """
    cells = list(cell_names() if cells is None else cells)
    config = config or MemoryConfig()
    seeds = list(parse_seeds(list(seeds)) if seeds is not None else [config.seed])
    inits = list(inits if inits is not None else [config.init])
    for task in tasks:
        if task not in TASKS:
            raise ConfigError(f"unknown memory task {task!r}: use one of {', '.join(TASKS)}")
    pairs = cell_inits(cells, inits, config.init_t_max)
    results = []
    for task in tasks:
        base = (configs or {}).get(task, config)
        for T in Ts:
            for cell, init in pairs:
                for seed in seeds:
                    run = replace(base, init=init, seed=seed,
                                  init_t_max=base.init_t_max if init == "chrono" else None)
                    result = run_memory_task(task, int(T), cell, run, progress=progress)
                    results.append(result)
                    if log:
                        log(result)
    return results


def summarise(results: Sequence[MemoryResult]) -> list[MemorySummary]:
    """One row per (task, T, cell, init), in first-seen order: mean over seeds, 95% t-interval."""
    groups: dict[tuple, list[MemoryResult]] = {}
    for r in results:
        groups.setdefault((r.task, r.T, r.cell, r.init, r.max_steps or r.steps), []).append(r)
    rows = []
    for (task, T, cell, init, steps), runs in groups.items():
        mean, lo, hi = seed_interval([r.loss for r in runs], floor=0.0)
        rows.append(MemorySummary(task=task, T=T, cell=cell, init=init, hidden=runs[0].hidden,
                                  params=runs[0].params, steps=steps, seeds=[r.seed for r in runs],
                                  loss=mean, lo=lo, hi=hi, baseline=runs[0].baseline,
                                  solved=sum(r.loss < SOLVED * r.baseline for r in runs),
                                  seconds=sum(r.seconds for r in runs) / len(runs),
                                  steps_run=[r.steps for r in runs]))
    return rows


def memory_table(results: Sequence[MemoryResult], published: dict | None = None) -> str:
    """Markdown table per task, T, cell and init: mean final loss over seeds [95% interval].

    ``published``: task -> (T, {cell: loss}) (a preset's published results); adds a column with
    the published loss of the default-initialised cell at that T.
    """
    head = ("| task | T | cell | init | params | steps | seeds | final loss, mean [95% CI] | baseline | "
            "mean / baseline | solved (< 10% of baseline) | seconds per run |")
    rule = "|---|---|---|---|---|---|---|---|---|---|---|---|"
    if published:
        head, rule = head + " published |", rule + "---|"
    lines = [head, rule]
    for r in summarise(results):
        fmt = ".2e" if r.loss < 1e-3 else ".4f"
        steps = f"{r.steps:,}" if all(s == r.steps for s in r.steps_run) else \
            f"{' / '.join(f'{s:,}' for s in r.steps_run)} of {r.steps:,}"
        line = (f"| {r.task} | {r.T} | {r.cell} | {r.init} | {r.params:,} | {steps} | {len(r.seeds)} | "
                f"{format_interval(r.loss, r.lo, r.hi, fmt)} | {r.baseline:.4f} | {r.ratio:.3f} | "
                f"{r.solved}/{len(r.seeds)} | {r.seconds:.0f} |")
        if published:
            T, losses = published.get(r.task, (None, {}))
            value = losses.get(r.cell) if r.T == T and r.init == "default" else None
            line += f" {value:g} |" if value is not None else " - |"
        lines.append(line)
    return "\n".join(lines)


_INIT_STYLE = {"default": ("o", "-"), "forget1": ("s", "--"), "chrono": ("^", ":")}
_INIT_COLOUR = {"forget1": "#CC79A7", "chrono": "#009E73"}   # Okabe-Ito, apart from the cell colours


def init_style(cell: str, init: str) -> dict:
    """Matplotlib style of one (cell, init) series: the cell's colour for PyTorch's default init,
    a colour, marker and line style of its own for each other init."""
    marker, ls = _INIT_STYLE.get(init, ("D", "-."))
    return {"color": get_cell(cell).colour if init == "default" else _INIT_COLOUR.get(init, "#000000"),
            "marker": marker, "linestyle": ls}


def plot_memory(results: Sequence[MemoryResult], path: str | Path) -> Path:
    """PNG of mean final loss vs T per (cell, init), 95% interval bars, one panel per task,
    with the baselines drawn."""
    import matplotlib.ticker
    import numpy as np

    from musicgate.figures import new_figure, save_figure

    path = Path(path)
    rows_all = summarise(results)
    tasks = [t for t in TASKS if any(r.task == t for r in rows_all)]
    fig = new_figure(5.5 * len(tasks), 4.2, dpi=110)
    axes = fig.subplots(1, len(tasks), squeeze=False)
    for ax, task in zip(axes[0], tasks):
        rows = [r for r in rows_all if r.task == task]
        Ts = sorted({r.T for r in rows})
        series = list(dict.fromkeys((r.cell, r.init) for r in rows))
        for k, (cell, init) in enumerate(series):
            pts = sorted((r for r in rows if (r.cell, r.init) == (cell, init)), key=lambda r: r.T)
            shift = 1.0 + 0.04 * (k - (len(series) - 1) / 2)   # side by side at the same T
            x = np.array([r.T for r in pts], float) * shift
            y = np.array([r.loss for r in pts])
            lo = np.array([r.lo for r in pts])
            hi = np.array([r.hi for r in pts])
            err = np.nan_to_num(np.stack([y - np.maximum(lo, y * 1e-3), hi - y]), nan=0.0)
            label = get_cell(cell).label + ("" if init == "default" else f" ({init})")
            style = init_style(cell, init)
            if len(pts) == 1:
                style["linestyle"] = "none"
            ax.errorbar(x, y, yerr=np.clip(err, 0, None), capsize=3, label=label, **style)
        if task == "adding":
            ax.axhline(ADDING_BASELINE, color="k", ls="--", label="predict 1 (1/6)")
            ax.axhline(ADDING_BASELINE_QUOTED, color="gray", ls=":", label="0.1767 (quoted)")
            ax.set_ylabel("test MSE")
        else:
            grid = [Ts[0] / 1.35 + (Ts[-1] * 1.35 - Ts[0] / 1.35) * k / 200 for k in range(201)]
            ax.plot(grid, [copy_baseline(T) for T in grid], color="k", ls="--",
                    label="10 ln 8 / (T + 20)")
            ax.set_ylabel("test cross-entropy per step")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xticks(Ts, [str(T) for T in Ts])
        ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        ax.set_xlim(Ts[0] / 1.35, Ts[-1] * 1.35)
        ax.set_xlabel("sequence length T")
        steps = sorted({r.steps for r in rows})
        seeds = sorted({len(r.seeds) for r in rows})
        ax.set_title(f"{task}: {'/'.join(f'{s:,}' for s in steps)} steps, "
                     f"{'/'.join(map(str, seeds))} seeds, 95% CI", fontsize=10)
        ax.legend(fontsize=7)
    fig.tight_layout()
    return save_figure(fig, path)


def plot_memory_curves(results: Sequence[MemoryResult], path: str | Path) -> Path:
    """PNG of the training loss vs step of every run (one line per seed, in its (cell, init) style), one
    panel per (task, T), with the baseline and the "solved" line: how many steps each run needed."""
    from musicgate.figures import new_figure, save_figure

    path = Path(path)
    panels = list(dict.fromkeys((r.task, r.T) for r in results))
    fig = new_figure(5.5 * len(panels), 4.8, dpi=110)
    axes = fig.subplots(1, len(panels), squeeze=False)
    for ax, (task, T) in zip(axes[0], panels):
        runs = [r for r in results if (r.task, r.T) == (task, T)]
        labelled = set()
        for r in runs:
            steps, loss = zip(*r.history) if r.history else ((), ())
            style = init_style(r.cell, r.init)
            label = get_cell(r.cell).label + ("" if r.init == "default" else f" ({r.init})")
            ax.plot(steps, loss, color=style["color"], linestyle=style["linestyle"], marker=style["marker"],
                    markersize=3, label=None if label in labelled else label)
            labelled.add(label)
            if r.history and r.max_steps and r.steps < r.max_steps:   # stopped by until_solved
                ax.plot(steps[-1:], loss[-1:], "kx", markersize=8,
                        label=None if "stop" in labelled else f"stopped: its last {STOP_WINDOW} steps under "
                                                                f"{STOP_AT:.0%} of the baseline")
                labelled.add("stop")
        baseline = runs[0].baseline
        ax.axhline(baseline, color="k", ls="--", label="baseline")
        ax.axhline(SOLVED * baseline, color="gray", ls=":", label=f"solved ({SOLVED:.0%} of the baseline)")
        ax.set_yscale("log")
        ax.set_xlabel("training step")
        ax.set_ylabel("training loss (mean since the last point)")
        ax.set_title(f"{task}, T = {T:,}: {len({r.seed for r in runs})} seeds per row", fontsize=10)
        ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2)  # below: clear of the runs
    fig.tight_layout()
    return save_figure(fig, path)


def result_dicts(results: Sequence[MemoryResult]) -> list[dict]:
    """Plain dicts (for JSON)."""
    return [asdict(r) for r in results]


def results_from_dicts(rows: Sequence[dict]) -> list[MemoryResult]:
    """Inverse of :func:`result_dicts` (to redraw a plot or table from saved JSON)."""
    names = {f.name for f in fields(MemoryResult)}
    return [MemoryResult(**{k: v for k, v in row.items() if k in names}) for row in rows]


def memory_preset(name: str) -> dict:
    """A shipped memory-task preset (``musicgate/experiments/presets/memory-NAME.yaml``).

    Returns
    -------
    dict with ``tasks`` (task -> (T, MemoryConfig)), ``published`` (task -> cell -> loss) and
    ``source`` (the citation).
    """
    from musicgate.experiments.presets import preset_path, presets
    from musicgate.files import read_yaml

    path = preset_path(f"memory-{name}")
    if path is None:
        names = [p[len("memory-"):] for p in presets() if p.startswith("memory-")]
        raise ConfigError(f"no memory preset {name!r}: use one of {', '.join(names)}")
    data = read_yaml(path)
    tasks = {}
    for task, settings in data.get("tasks", {}).items():
        if task not in TASKS:
            raise ConfigError(f"{path}: unknown task {task!r}: use one of {', '.join(TASKS)}")
        settings = dict(settings)
        T = int(settings.pop("T"))
        valid = {f.name for f in fields(MemoryConfig)}
        bad = sorted(set(settings) - valid)
        if bad:
            raise ConfigError(f"{path}: unknown key {bad[0]!r} under {task}; valid: {', '.join(sorted(valid))}")
        tasks[task] = (T, MemoryConfig(**settings))
    return {"tasks": tasks, "published": data.get("published", {}), "source": data.get("source", "")}
