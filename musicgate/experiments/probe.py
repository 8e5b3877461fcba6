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

Each (cell, init, T) can be run with several seeds (:func:`run_probe`); :func:`summarise_probe`
gives the mean score over seeds with a 95% Student-t interval, and a row counts as recalled when
that interval lies above 7/12 + margin (with one seed: the run's bootstrap interval).
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
from musicgate.analysis.seeds import seed_interval
from musicgate.nn.init import SCHEMES, _check as _check_scheme, init_gates

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
    init : gate initialisation (:func:`musicgate.nn.init.init_gates`): ``default``, ``forget1``,
        ``chrono``.
    init_t_max : chrono's longest time scale in steps (> 1); None: the sequence length, T + notes + 1.
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
    init: str = setting("default", choices=SCHEMES)
    init_t_max: float | None = setting(None, gt=1)

    def __post_init__(self) -> None:
        check_fields(self)
        _check_scheme(self.init, 2.0 if self.init == "chrono" and self.init_t_max is None
                      else self.init_t_max)


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
    init: str = "default"
    seed: int = 0
    t_max: float | None = None


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


def probe_t_max(T: int, config: ProbeConfig) -> float | None:
    """Chrono's longest time scale for gap ``T`` (default: the whole sequence); None for other inits."""
    return float(config.init_t_max or T + config.notes + 1) if config.init == "chrono" else None


def probe_training(cell: str, T: int, config: ProbeConfig):
    """A new probe model at gap ``T`` with its gate initialisation, its optimiser and the seeded
    batch generator: ``(model, optimizer, generator)``, the start of every probe run."""
    from musicgate.experiments.memory import check_init

    check_init(cell, config.init, config.init_t_max)
    torch.manual_seed(config.seed)
    gen = torch.Generator().manual_seed(config.seed)
    model = probe_model(cell, config)
    init_gates(model, config.init, t_max=probe_t_max(T, config))
    opt = torch.optim.Adam(model.parameters(), lr=config.lr or get_cell(cell).default_lr)
    return model, opt, gen


def probe_step(model, opt, T: int, config: ProbeConfig, gen: torch.Generator) -> torch.Tensor:
    """One optimiser step on a fresh probe batch; returns the (detached) loss on the notes after the gap."""
    ids, _ = probe_batch(config.batch_size, T, notes=config.notes, gap=config.gap, generator=gen)
    logits, _ = model(ids[:, :-1])
    loss = F.cross_entropy(logits[:, T:].reshape(-1, VOCAB), ids[:, T + 1:].reshape(-1))
    opt.zero_grad(set_to_none=True)
    loss.backward()
    if config.clip > 0:
        nn.utils.clip_grad_norm_(model.parameters(), config.clip)
    opt.step()
    return loss.detach()


def train_probe(cell: str, T: int, config: ProbeConfig | None = None, *, progress: bool = False) -> ProbeResult:
    """Train one parameter-matched model on the probe at gap ``T`` and score it."""
    from tqdm.auto import tqdm

    config = config or ProbeConfig()
    model, opt, gen = probe_training(cell, T, config)
    start = time.perf_counter()
    loss = torch.tensor(float("nan"))
    bar = tqdm(range(config.steps), disable=not progress, desc=f"probe {cell} T={T}", unit="step", leave=False)
    for _ in bar:
        loss = probe_step(model, opt, T, config, gen)
    s = probe_score(model, T, n=config.eval_size, notes=config.notes, gap=config.gap, seed=config.seed + 10_000)
    return ProbeResult(cell=cell, T=int(T), hidden=model.hidden, params=count_params(model), steps=config.steps,
                       score=s["score"], lo=s["lo"], hi=s["hi"], local=s["local"], loss=float(loss.detach()),
                       recalled=bool(s["lo"] > CHANCE + config.margin), seconds=time.perf_counter() - start,
                       init=config.init, seed=config.seed, t_max=probe_t_max(T, config))


def run_probe(Ts: Sequence[int] = DEFAULT_T, cells: Sequence[str] | None = None, config: ProbeConfig | None = None, *,
              seeds: Sequence[int] | None = None, inits: Sequence[str] | None = None,
              progress: bool = False, log: Callable[[ProbeResult], None] | None = None) -> list[ProbeResult]:
    """Every (cell, init, T, seed) run, in that order (default: every registered cell, ``config.init``
    and ``config.seed``). Each cell runs with every init, except a cell given as ``cell:init``
    (``lstm:chrono``); every pair is checked before anything runs."""
    from dataclasses import replace

    from musicgate.experiments.memory import cell_inits

    config = config or ProbeConfig()
    cells = list(cell_names() if cells is None else cells)
    inits = list(inits if inits is not None else [config.init])
    seeds = list(seeds if seeds is not None else [config.seed])
    results = []
    for cell, init in cell_inits(cells, inits, config.init_t_max):
        for T in Ts:
            for seed in seeds:
                run = replace(config, init=init, seed=seed,
                              init_t_max=config.init_t_max if init == "chrono" else None)
                r = train_probe(cell, int(T), run, progress=progress)
                results.append(r)
                if log:
                    log(r)
    return results


def _label(r: dict) -> str:
    init = r.get("init", "default")
    return r["cell"] if init == "default" else f"{r['cell']} {init}"


def summarise_probe(results: Sequence[ProbeResult | dict], *, margin: float = 0.05) -> list[dict]:
    """One dict per (cell, init, T), first-seen order: ``label``, ``score`` (mean over seeds),
    ``lo``/``hi`` (95% t-interval over seeds; one seed: its bootstrap interval), ``local``,
    ``seeds``, ``recalled_seeds`` and ``recalled`` (interval above 7/12 + margin)."""
    groups: dict[tuple, list[dict]] = {}
    for r in results:
        r = r if isinstance(r, dict) else asdict(r)
        groups.setdefault((_label(r), r["T"]), []).append(r)
    out = []
    for (label, T), runs in groups.items():
        if len(runs) == 1:
            score, lo, hi = runs[0]["score"], runs[0]["lo"], runs[0]["hi"]
            recalled = bool(runs[0]["recalled"])
        else:
            score, lo, hi = seed_interval([r["score"] for r in runs], floor=0.0, ceiling=1.0)
            recalled = bool(lo > CHANCE + margin)
        out.append({"label": label, "cell": runs[0]["cell"], "init": runs[0].get("init", "default"), "T": T,
                    "params": runs[0]["params"], "hidden": runs[0]["hidden"], "steps": runs[0]["steps"],
                    "seeds": [r.get("seed", 0) for r in runs], "score": score, "lo": lo, "hi": hi,
                    "local": sum(r["local"] for r in runs) / len(runs),
                    "recalled_seeds": sum(bool(r["recalled"]) for r in runs), "recalled": recalled})
    return out


def longest_recalled(results: Sequence[ProbeResult | dict], *, margin: float = 0.05) -> dict[str, int | None]:
    """Per cell (``"lstm forget1"`` for a non-default init), the longest T at which the key is
    recalled over the seeds (None: at none)."""
    out: dict[str, int | None] = {}
    for r in summarise_probe(results, margin=margin):
        best = out.get(r["label"])
        if r["recalled"] and (best is None or r["T"] > best):
            out[r["label"]] = r["T"]
        else:
            out.setdefault(r["label"], best)
    return out


def probe_table(data: dict) -> str:
    """Markdown table ((cell, init) x T) of a probe ``results.json`` payload: mean score over seeds
    [95% interval], ``*`` where recalled, and how many seeds recalled it."""
    margin = (data.get("config") or {}).get("margin", 0.05)
    rows_all = summarise_probe(data["results"], margin=margin)
    Ts = sorted({r["T"] for r in rows_all})
    labels = list(dict.fromkeys(r["label"] for r in rows_all))
    longest = longest_recalled(data["results"], margin=margin)
    lines = ["| cell | init | params | seeds | " + " | ".join(f"T={t}" for t in Ts) + " | longest T recalled |",
             "|" + "---|" * (len(Ts) + 5)]
    for label in labels:
        rows = {r["T"]: r for r in rows_all if r["label"] == label}
        first = next(iter(rows.values()))
        n = len(first["seeds"])
        cellv = [f"{rows[t]['score']:.3f} [{rows[t]['lo']:.3f}, {rows[t]['hi']:.3f}]{' *' if rows[t]['recalled'] else ''}"
                 + (f" ({rows[t]['recalled_seeds']}/{len(rows[t]['seeds'])})" if n > 1 else "")
                 if t in rows else "-" for t in Ts]
        lines.append(f"| {first['cell']} | {first['init']} | {first['params']:,} | {n} | " + " | ".join(cellv)
                     + f" | {longest.get(label) or 'none'} |")
    return "\n".join(lines)


def probe_findings(results: Sequence[ProbeResult], config: ProbeConfig) -> list[str]:
    """Sentences written from the measured scores (means over seeds)."""
    summary = summarise_probe(results, margin=config.margin)
    longest = longest_recalled(results, margin=config.margin)
    lines = []
    for cell, t in longest.items():
        rows = sorted((r for r in summary if r["label"] == cell), key=lambda r: r["T"])
        lost = [f"{r['T']}" + (f" ({r['recalled_seeds']}/{len(r['seeds'])} seeds)" if len(r["seeds"]) > 1 else "")
                for r in rows if not r["recalled"]]
        text = f"**{cell}**: " + (f"recalls the key up to T = {t}" if t else "recalls the key at no T tried")
        if lost:
            text += (f"; not recalled (interval not above {CHANCE + config.margin:.3f}) at T = {', '.join(lost)}"
                     + ("; k/n: the seeds whose own run recalled it" if any("seeds)" in t for t in lost) else ""))
        text += ". Scores: " + ", ".join(f"{r['score']:.3f} (T={r['T']})" for r in rows)
        text += f"; after {config.notes - 1} in-key notes (local inference) " + \
            ", ".join(f"{r['local']:.3f}" for r in rows) + "."
        lines.append(text)
    gated = {c: longest.get(c) or 0 for c in longest if get_cell(c.split()[0]).gated}
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
    """Recall vs T per cell and init (log x), mean over seeds with 95% intervals, chance line, the
    longest T recalled marked."""
    from musicgate.viz.plots import cell_colour, new_figure, save_figure

    fig = new_figure(7, 4)
    ax = fig.add_subplot(1, 1, 1)
    summary = summarise_probe(results, margin=margin)
    longest = longest_recalled(results, margin=margin)
    labels = list(dict.fromkeys(r["label"] for r in summary))
    from musicgate.experiments.memory import init_style

    for i, label in enumerate(labels):
        rows = sorted((r for r in summary if r["label"] == label), key=lambda r: r["T"])
        shift = 1.0 + 0.05 * (i - (len(labels) - 1) / 2)   # side by side at the same T
        x = np.array([r["T"] for r in rows], float) * shift
        y = np.array([r["score"] for r in rows])
        err = np.clip(np.array([[r["score"] - r["lo"] for r in rows], [r["hi"] - r["score"] for r in rows]]), 0, None)
        style = init_style(rows[0]["cell"], rows[0]["init"])
        if rows[0]["init"] == "default":
            style["color"] = cell_colour(rows[0]["cell"], i)
        colour = style["color"]
        ax.errorbar(x, y, yerr=err, capsize=3, label=label, **style)
        if longest.get(label):
            t = longest[label]
            at = next(r["score"] for r in rows if r["T"] == t)
            ax.plot([t * shift], [at], marker="*", markersize=14, color=colour,
                    markeredgecolor="black", linestyle="none")
    ax.axhline(CHANCE, color="black", linestyle="--", linewidth=1, label="chance 7/12")
    ax.axhline(CHANCE + margin, color="black", linestyle=":", linewidth=0.8, label="recall threshold")
    ax.set_xscale("log")
    Ts = [r.T for r in results if r.T > 0]
    if Ts:
        import matplotlib.ticker

        ax.set_xlim(min(Ts) / 1.6, max(Ts) * 1.6)
        ax.set_xticks(sorted(set(Ts)), [str(t) for t in sorted(set(Ts))])
        ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    fig.subplots_adjust(bottom=0.14, left=0.12, right=0.97)
    ax.set_ylim(0.45, 1.07)
    ax.set_xlabel("gap T (key-neutral tokens)")
    ax.set_ylabel("in-key mass at first note")
    n = max(len(r["seeds"]) for r in summary) if summary else 1
    ax.set_title(f"Key-memory probe, {n} seed{'s' if n > 1 else ''} (star: longest T recalled)")
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
    seeds = list(dict.fromkeys(r.seed for r in results))
    inits = list(dict.fromkeys(r.init for r in results))
    data = {"config": asdict(config), "seeds": seeds, "inits": inits, "chance": CHANCE,
            "results": [asdict(r) for r in results], "summary": summarise_probe(results, margin=config.margin),
            "longest_recalled": longest_recalled(results, margin=config.margin),
            "seconds": sum(r.seconds for r in results)}
    atomic_write_json(outdir / "results.json", data)
    buf = io.StringIO()
    buf.write("cell,init,seed,T,hidden,params,steps,score,lo,hi,local,loss,recalled,seconds\n")
    for r in results:
        buf.write(f"{r.cell},{r.init},{r.seed},{r.T},{r.hidden},{r.params},{r.steps},{r.score:.6f},{r.lo:.6f},"
                  f"{r.hi:.6f},{r.local:.6f},{r.loss:.6f},{int(r.recalled)},{r.seconds:.1f}\n")
    atomic_write_text(outdir / "probe.csv", buf.getvalue())
    plot_probe(results, outdir / "probe.png", margin=config.margin)
    Ts = ",".join(str(t) for t in dict.fromkeys(r.T for r in results))
    cells = ",".join(dict.fromkeys(r.cell if r.init == "default" else f"{r.cell}:{r.init}" for r in results))
    text = ["# Key-memory probe", "",
            f"KEY, T {config.gap}, then {config.notes} in-key notes; one model per (cell, T), one layer, "
            f"parameter-matched to an LSTM of {config.lstm_hidden} units, {config.steps} Adam steps of "
            f"{config.batch_size} sequences (seeds {', '.join(map(str, seeds))}; learning rate "
            f"{config.lr if config.lr else ', '.join(f'{c} {get_cell(c).default_lr:g}' for c in dict.fromkeys(r.cell for r in results))}). Score: probability mass on in-key pitch classes "
            f"at the first note after the gap, mean over {config.eval_size} held-out sequences with a 95% bootstrap "
            f"interval per run; with several seeds each cell shows the mean over seeds with a 95% Student-t interval "
            f"and (k/n) the seeds whose own interval is above the threshold; chance 7/12 = {CHANCE:.3f}; "
            f"* = recalled (interval above {CHANCE + config.margin:.3f}). Gate initialisations: "
            f"{', '.join(inits)}{f' (chrono t_max: T + {config.notes + 1})' if 'chrono' in inits and config.init_t_max is None else ''}. "
            f"Total training time {sum(r.seconds for r in results) / 60:.0f} min on one CPU thread.", "",
            probe_table(data), "", "## What was measured", ""]
    text += [f"- {t}" for t in probe_findings(results, config)]
    text += ["", "![probe.png](probe.png)", "",
             f"Reproduce: `musicgate experiment probe --T {Ts} --cells {cells} --steps {config.steps} "
             f"--seeds {','.join(map(str, seeds))} --gap {config.gap}"
             f"{f' --lr {config.lr:g}' if config.lr else ''}`", ""]
    atomic_write_text(outdir / "report.md", "\n".join(text))
    return outdir


__all__ = ["ProbeConfig", "ProbeResult", "probe_batch", "in_key_mass", "probe_model", "probe_score",
           "train_probe", "run_probe", "summarise_probe", "longest_recalled", "probe_table", "plot_probe", "write_probe_report",
           "CHANCE", "VOCAB", "REST", "PITCH_BASE", "DEFAULT_T"]
