"""The key-memory probe: can a cell carry a key across T key-neutral steps?

A synthetic task that isolates memory from local inference. Each sequence is::

    KEY  g_1 ... g_T  n_1 ... n_M

a key token (one of the 24 major and minor keys), T key-neutral tokens (``gap="rests"``: a REST
token; ``gap="chromatic"``: the twelve pitch classes in a fixed cycle, which favours no key),
then M notes drawn uniformly from the key's seven diatonic pitch classes. One small model per
(cell, T), parameter-matched across cells, learns to predict the notes (the loss counts only the
note targets). The score is the probability mass on in-key pitch classes at the first note after
the gap, among the twelve pitch-class tokens: only memory of the key token can put it above the
chance level of 7/12 (a uniform model scores exactly 7/12, a perfect one 1). The score at the last
note, after M - 1 in-key notes, shows what local inference alone achieves.
"""
from __future__ import annotations

import io
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from musicgate.config import check_fields, setting
from musicgate.errors import ConfigError
from musicgate.files import atomic_write_json, atomic_write_text
from musicgate.music.keys import MAJOR_MINOR_KEYS
from musicgate.nn.cells import cell_names, get_cell
from musicgate.nn.models import RecurrentLM, count_params, hidden_for_params
from musicgate.analysis.retention import bootstrap_mean_ci

N_KEY_LABELS = 24
REST = 24
PITCH_BASE = 25
VOCAB = PITCH_BASE + 12
CHANCE = 7 / 12
DEFAULT_T = (10, 30, 100, 300, 1000)
GAPS = ("rests", "chromatic")

_IN_KEY = torch.tensor([[pc in k.pitch_classes for pc in range(12)] for k in MAJOR_MINOR_KEYS])
"""(24, 12) bool: pitch class in the key's signature."""


@dataclass
class ProbeConfig:
    """Budget of one probe run (per cell and T); small by default (the sweep takes ~10 min on 2 cores).

    Attributes
    ----------
    lstm_hidden : the LSTM's size; the RNN and GRU get the same parameter count.
    embed : embedding width.
    notes : M, in-key notes after the gap.
    gap : ``rests`` or ``chromatic``.
    steps, batch_size, clip : Adam training.
    lr : learning rate; None takes the cell's from :attr:`CellSpec.default_lr
        <musicgate.nn.cells.CellSpec>` (chosen on T = 10 from {3e-3, 1e-2, 2e-2}: the largest that
        learned the task within the budget; the RNN diverges at 1e-2, the LSTM barely moves at 3e-3).
    eval_size : held-out sequences for the score.
    margin : the key counts as recalled when the score's 95% interval lies above 7/12 + margin.
    seed : seeds the weights, the training and the evaluation data.
    """

    lstm_hidden: int = setting(32, ge=1)
    embed: int = setting(16, ge=1)
    notes: int = setting(8, ge=1)
    gap: str = setting("rests", choices=GAPS)
    steps: int = setting(400, ge=1)
    batch_size: int = setting(32, ge=1)
    lr: float | None = setting(None, gt=0)
    clip: float = setting(1.0, ge=0)
    eval_size: int = setting(512, ge=1)
    margin: float = setting(0.05, ge=0)
    seed: int = setting(0, ge=0)

    def __post_init__(self) -> None:
        check_fields(self)


@dataclass
class ProbeResult:
    """One (cell, T) run: the memory score with its interval, and the local-inference score."""

    cell: str
    T: int
    hidden: int
    params: int
    steps: int
    score: float
    lo: float
    hi: float
    local: float
    loss: float
    recalled: bool
    seconds: float


def probe_batch(batch: int, T: int, *, notes: int = 8, gap: str = "rests",
                generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Sequences of the probe task.

    Parameters
    ----------
    batch, T : sequences and gap length (T >= 0)
    notes : in-key notes after the gap
    gap : ``rests`` or ``chromatic``

    Returns
    -------
    ids : LongTensor (batch, 1 + T + notes); token 0-23 the key, 24 REST, 25-36 pitch classes C-B
    keys : LongTensor (batch,), index into MAJOR_MINOR_KEYS
    """
    if gap not in GAPS:
        raise ConfigError(f"unknown probe gap {gap!r}; valid: {', '.join(GAPS)}")
    if T < 0 or notes < 1 or batch < 1:
        raise ConfigError(f"probe needs T >= 0, notes >= 1 and batch >= 1, got T={T}, notes={notes}, batch={batch}")
    keys = torch.randint(0, N_KEY_LABELS, (batch,), generator=generator)
    scale = torch.stack([torch.nonzero(row).reshape(-1) for row in _IN_KEY])   # (24, 7) pitch classes
    pick = torch.randint(0, 7, (batch, notes), generator=generator)
    tail = PITCH_BASE + scale[keys][torch.arange(batch)[:, None], pick]
    if gap == "rests":
        middle = torch.full((batch, T), REST, dtype=torch.long)
    else:
        middle = (PITCH_BASE + torch.arange(T) % 12).repeat(batch, 1)
    return torch.cat([keys[:, None], middle, tail], dim=1), keys


def in_key_mass(logits: torch.Tensor, keys: torch.Tensor) -> torch.Tensor:
    """(B,) probability mass on the key's pitch classes among the 12 pitch-class tokens.

    Parameters
    ----------
    logits : (B, V) next-token logits
    keys : (B,) key indices
    """
    probs = torch.softmax(logits[:, PITCH_BASE:PITCH_BASE + 12].float(), dim=-1)
    return (probs * _IN_KEY[keys].to(probs)).sum(-1)


def probe_model(cell: str, config: ProbeConfig) -> RecurrentLM:
    """A one-layer language model over the probe vocabulary, matched to the LSTM's parameter count."""
    target = count_params(RecurrentLM(vocab_size=VOCAB, cell="lstm", hidden=config.lstm_hidden, layers=1,
                                      embed=config.embed))
    hidden = hidden_for_params(cell, target, vocab_size=VOCAB, layers=1, embed=config.embed)
    return RecurrentLM(vocab_size=VOCAB, cell=cell, hidden=hidden, layers=1, embed=config.embed)


@torch.no_grad()
def probe_score(model: nn.Module, T: int, *, n: int = 512, notes: int = 8, gap: str = "rests",
                seed: int = 10_000, n_boot: int = 1000) -> dict:
    """Memory score of a model on fresh probe sequences.

    Returns
    -------
    dict with ``score``, ``lo``, ``hi`` (mean in-key mass at the first note after the gap, 95%
    bootstrap interval) and ``local`` (the mass at the last note).
    """
    gen = torch.Generator().manual_seed(seed)
    ids, keys = probe_batch(n, T, notes=notes, gap=gap, generator=gen)
    was = model.training
    model.eval()
    logits, _ = model(ids[:, :-1])
    model.train(was)
    first = in_key_mass(logits[:, T], keys).numpy()
    last = in_key_mass(logits[:, -1], keys).numpy()
    mean, lo, hi = bootstrap_mean_ci(first, n_boot=n_boot, seed=seed)
    return {"score": float(mean), "lo": float(lo), "hi": float(hi), "local": float(last.mean())}


def train_probe(cell: str, T: int, config: ProbeConfig | None = None, *, progress: bool = False) -> ProbeResult:
    """Train one parameter-matched model on the probe at gap ``T`` and score it."""
    from tqdm.auto import tqdm

    get_cell(cell)
    config = config or ProbeConfig()
    torch.manual_seed(config.seed)
    gen = torch.Generator().manual_seed(config.seed)
    model = probe_model(cell, config)
    opt = torch.optim.Adam(model.parameters(), lr=config.lr or get_cell(cell).default_lr)
    start = time.perf_counter()
    loss = torch.tensor(float("nan"))
    bar = tqdm(range(config.steps), disable=not progress, desc=f"probe {cell} T={T}", unit="step", leave=False)
    for _ in bar:
        ids, _ = probe_batch(config.batch_size, T, notes=config.notes, gap=config.gap, generator=gen)
        logits, _ = model(ids[:, :-1])
        loss = F.cross_entropy(logits[:, T:].reshape(-1, VOCAB), ids[:, T + 1:].reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if config.clip > 0:
            nn.utils.clip_grad_norm_(model.parameters(), config.clip)
        opt.step()
    s = probe_score(model, T, n=config.eval_size, notes=config.notes, gap=config.gap, seed=config.seed + 10_000)
    return ProbeResult(cell=cell, T=int(T), hidden=model.hidden, params=count_params(model), steps=config.steps,
                       score=s["score"], lo=s["lo"], hi=s["hi"], local=s["local"], loss=float(loss.detach()),
                       recalled=bool(s["lo"] > CHANCE + config.margin), seconds=time.perf_counter() - start)


def run_probe(Ts: Sequence[int] = DEFAULT_T, cells: Sequence[str] | None = None, config: ProbeConfig | None = None, *,
              progress: bool = False, log: Callable[[ProbeResult], None] | None = None) -> list[ProbeResult]:
    """Every (cell, T) run, cells outer (default: every registered cell)."""
    cells = list(cell_names() if cells is None else cells)
    for c in cells:
        get_cell(c)
    results = []
    for cell in cells:
        for T in Ts:
            r = train_probe(cell, int(T), config, progress=progress)
            results.append(r)
            if log:
                log(r)
    return results


def longest_recalled(results: Sequence[ProbeResult | dict]) -> dict[str, int | None]:
    """Per cell, the longest T at which the key is recalled (None: at none)."""
    out: dict[str, int | None] = {}
    for r in results:
        r = r if isinstance(r, dict) else asdict(r)
        best = out.get(r["cell"])
        if r["recalled"] and (best is None or r["T"] > best):
            out[r["cell"]] = r["T"]
        else:
            out.setdefault(r["cell"], best)
    return out


def probe_table(data: dict) -> str:
    """Markdown table (cells x T) of a probe ``results.json`` payload."""
    results = data["results"]
    Ts = sorted({r["T"] for r in results})
    cells = list(dict.fromkeys(r["cell"] for r in results))
    longest = longest_recalled(results)
    lines = ["| cell | params | " + " | ".join(f"T={t}" for t in Ts) + " | longest T recalled |",
             "|" + "---|" * (len(Ts) + 3)]
    for c in cells:
        rows = {r["T"]: r for r in results if r["cell"] == c}
        cellv = [f"{rows[t]['score']:.3f} [{rows[t]['lo']:.3f}, {rows[t]['hi']:.3f}]{' *' if rows[t]['recalled'] else ''}"
                 if t in rows else "-" for t in Ts]
        params = next(iter(rows.values()))["params"]
        lines.append(f"| {c} | {params:,} | " + " | ".join(cellv) + f" | {longest.get(c) or 'none'} |")
    return "\n".join(lines)


def probe_findings(results: Sequence[ProbeResult], config: ProbeConfig) -> list[str]:
    """Sentences written from the measured scores."""
    longest = longest_recalled(results)
    lines = []
    for cell, t in longest.items():
        rows = sorted((r for r in results if r.cell == cell), key=lambda r: r.T)
        lost = [r.T for r in rows if not r.recalled]
        text = f"**{cell}**: " + (f"recalls the key up to T = {t}" if t else "recalls the key at no T tried")
        if lost:
            text += f"; at chance level (interval not above {CHANCE + config.margin:.3f}) at T = {', '.join(map(str, lost))}"
        text += ". Scores: " + ", ".join(f"{r.score:.3f} (T={r.T})" for r in rows)
        text += f"; after {config.notes - 1} in-key notes (local inference) " + \
            ", ".join(f"{r.local:.3f}" for r in rows) + "."
        lines.append(text)
    gated = {c: longest.get(c) or 0 for c in longest if get_cell(c).gated}
    if "rnn" in longest and gated:
        r = longest["rnn"] or 0
        further = [c for c, g in gated.items() if g > r]
        same = [c for c, g in gated.items() if g == r]
        shorter = [c for c, g in gated.items() if g < r]
        parts = []
        if further:
            parts.append(" and ".join(f"the {c} (up to T = {gated[c]})" for c in further)
                         + f" {'carries' if len(further) == 1 else 'carry'} the key further than the vanilla RNN "
                         f"({'up to T = ' + str(r) if r else 'at no T tried'})")
        if same:
            parts.append(" and ".join(f"the {c}" for c in same) + f" {'reaches' if len(same) == 1 else 'reach'} "
                         "no further than the vanilla RNN")
        if shorter:
            parts.append(" and ".join(f"the {c}" for c in shorter) + " falls short of the vanilla RNN")
        text = "; ".join(parts) + " on this training budget."
        lines.append(text[0].upper() + text[1:])
    return lines


def plot_probe(results: Sequence[ProbeResult], path: "str | os.PathLike", *, margin: float = 0.05) -> Path:
    """Recall vs T per cell (log x), 95% intervals, chance line, the longest T recalled marked."""
    from musicgate.viz.plots import cell_colour, new_figure, save_figure

    fig = new_figure(7, 4)
    ax = fig.add_subplot(1, 1, 1)
    longest = longest_recalled(results)
    for i, cell in enumerate(dict.fromkeys(r.cell for r in results)):
        rows = sorted((r for r in results if r.cell == cell), key=lambda r: r.T)
        x = np.array([r.T for r in rows], float)
        y = np.array([r.score for r in rows])
        err = np.array([[r.score - r.lo for r in rows], [r.hi - r.score for r in rows]])
        colour = cell_colour(cell, i)
        ax.errorbar(x, y, yerr=err, color=colour, marker="o", capsize=3, label=cell)
        if longest.get(cell):
            t = longest[cell]
            ax.plot([t], [next(r.score for r in rows if r.T == t)], marker="*", markersize=16, color=colour,
                    markeredgecolor="black", linestyle="none")
            ax.annotate(f"{cell}: T={t}", (t, next(r.score for r in rows if r.T == t)), textcoords="offset points",
                        xytext=(-40, 10 + 10 * i), fontsize="small", color=colour)
    ax.axhline(CHANCE, color="black", linestyle="--", linewidth=1, label="chance 7/12")
    ax.axhline(CHANCE + margin, color="black", linestyle=":", linewidth=0.8, label="recall threshold")
    ax.set_xscale("log")
    Ts = [r.T for r in results if r.T > 0]
    if Ts:
        ax.set_xlim(min(Ts) / 1.6, max(Ts) * 1.6)
    fig.subplots_adjust(bottom=0.14, left=0.12, right=0.97)
    ax.set_ylim(0.5, 1.07)
    ax.set_xlabel("gap T (key-neutral tokens)")
    ax.set_ylabel("in-key mass at first note")
    ax.set_title("Key-memory probe (star: longest T recalled)")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize="small", loc="best")
    return save_figure(fig, path)


def write_probe_report(results: Sequence[ProbeResult], config: ProbeConfig, output: "str | os.PathLike" = "generated"
                       ) -> Path:
    """``<output>/probe-<timestamp>/``: results.json, probe.csv, probe.png and report.md."""
    root = Path(output)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    outdir = next(p for p in (root / f"probe-{stamp}{'' if n == 0 else f'-{n}'}" for n in range(1000))
                  if not p.exists())
    outdir.mkdir(parents=True)
    data = {"config": asdict(config), "chance": CHANCE, "results": [asdict(r) for r in results],
            "longest_recalled": longest_recalled(results)}
    atomic_write_json(outdir / "results.json", data)
    buf = io.StringIO()
    buf.write("cell,T,hidden,params,steps,score,lo,hi,local,loss,recalled,seconds\n")
    for r in results:
        buf.write(f"{r.cell},{r.T},{r.hidden},{r.params},{r.steps},{r.score:.6f},{r.lo:.6f},{r.hi:.6f},"
                  f"{r.local:.6f},{r.loss:.6f},{int(r.recalled)},{r.seconds:.1f}\n")
    atomic_write_text(outdir / "probe.csv", buf.getvalue())
    plot_probe(results, outdir / "probe.png", margin=config.margin)
    Ts = ",".join(str(t) for t in dict.fromkeys(r.T for r in results))
    cells = ",".join(dict.fromkeys(r.cell for r in results))
    text = ["# Key-memory probe", "",
            f"KEY, T {config.gap}, then {config.notes} in-key notes; one model per (cell, T), one layer, "
            f"parameter-matched to an LSTM of {config.lstm_hidden} units, {config.steps} Adam steps of "
            f"{config.batch_size} sequences (seed {config.seed}; learning rate "
            f"{config.lr if config.lr else ', '.join(f'{c} {get_cell(c).default_lr:g}' for c in dict.fromkeys(r.cell for r in results))}). Score: probability mass on in-key pitch classes "
            f"at the first note after the gap, mean over {config.eval_size} held-out sequences with a 95% bootstrap "
            f"interval; chance 7/12 = {CHANCE:.3f}; * = recalled (interval above {CHANCE + config.margin:.3f}).", "",
            probe_table(data), "", "## What was measured", ""]
    text += [f"- {t}" for t in probe_findings(results, config)]
    text += ["", "![probe.png](probe.png)", "",
             f"Reproduce: `musicgate experiment probe --T {Ts} --cells {cells} --steps {config.steps} "
             f"--seed {config.seed} --gap {config.gap}{f' --lr {config.lr:g}' if config.lr else ''}`", ""]
    atomic_write_text(outdir / "report.md", "\n".join(text))
    return outdir


__all__ = ["ProbeConfig", "ProbeResult", "probe_batch", "in_key_mass", "probe_model", "probe_score",
           "train_probe", "run_probe", "longest_recalled", "probe_table", "plot_probe", "write_probe_report",
           "CHANCE", "VOCAB", "REST", "PITCH_BASE", "DEFAULT_T"]
