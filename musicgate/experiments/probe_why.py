"""Why a cell fails the key-memory probe: measurements taken while it trains.

:func:`diagnose` trains one probe model exactly as :func:`musicgate.experiments.probe.train_probe`
does and, every few steps, records on a fixed batch:

* ``loss``: the training loss on the note targets (the first note needs the key, the others
  can be inferred from the notes before them);
* ``grad_key``: the norm of the gradient of the first note's loss with respect to the key
  token's embedding (the input at step 0): the only learning signal that can teach the cell to
  store the key. ``grad_note`` is the same at the last gap step, for scale;
* ``keep``: the mean keep gate (LSTM forget gate ``f``, GRU update gate ``z``) over the gap, and
  ``survive``: the fraction of a stored value left after the whole gap, the product of the keep
  gate over the gap steps, median over units (``exp(sum log keep)``). A cell whose keep gates sit
  at ~0.5 keeps ``0.5**T`` of what it stored;
* ``key_spread``: how far apart the states at the end of the gap are for the 24 keys, relative
  to their size (0: the state no longer depends on the key; the read-out cannot recover it);
  for the LSTM also ``key_spread_c`` of the cell state ``c``, its mean size ``c_abs`` and the
  fraction ``saturated`` of units with ``|tanh c| > 0.99`` (where ``h = o tanh c`` passes no
  gradient back);
* ``score``: the probe score (in-key mass at the first note; chance 7/12).
"""
from __future__ import annotations

import time
from dataclasses import replace
from typing import Sequence

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from musicgate.experiments.probe import (_IN_KEY, PITCH_BASE, ProbeConfig, in_key_mass, probe_batch, probe_step,
                                         probe_t_max, probe_training)


def _fixed_batch(T: int, config: ProbeConfig) -> tuple[torch.Tensor, torch.Tensor]:
    """Two sequences per key (48), fixed notes: every measurement sees the same inputs."""
    gen = torch.Generator().manual_seed(config.seed + 20_000)
    ids, _ = probe_batch(48, T, notes=config.notes, gap=config.gap, generator=gen)
    keys = torch.arange(48) % 24
    ids[:, 0] = keys
    scale = torch.stack([torch.nonzero(row).reshape(-1) for row in _IN_KEY])
    pick = torch.randint(0, 7, (48, config.notes), generator=gen)
    ids[:, T + 1:] = PITCH_BASE + scale[keys][torch.arange(48)[:, None], pick]
    return ids, keys


def _measure(model: nn.Module, ids: torch.Tensor, keys: torch.Tensor, T: int) -> dict:
    from musicgate.nn.models import trace_gates

    was = model.training
    model.eval()
    store = {}

    def keep_output(_module, _inputs, output):
        output.retain_grad()
        store["emb"] = output

    handle = model.embed.register_forward_hook(keep_output)
    try:
        logits, _ = model(ids[:, :-1])
    finally:
        handle.remove()
    first = F.cross_entropy(logits[:, T], ids[:, T + 1])
    model.zero_grad(set_to_none=True)
    first.backward()
    grad = store["emb"].grad
    grad_key = float(grad[:, 0].norm(dim=-1).mean())
    grad_note = float(grad[:, T].norm(dim=-1).mean())
    model.zero_grad(set_to_none=True)
    with torch.no_grad():
        score = float(in_key_mass(logits[:, T].detach(), keys).mean())
        trace = trace_gates(model, ids[:, :T + 1])
        h_end = torch.as_tensor(trace.h[-1, :, T])                     # (B, H) state after the gap
        by_key = torch.stack([h_end[keys == k].mean(0) for k in range(24)])
        key_spread = float(by_key.std(0).mean() / (h_end.abs().mean() + 1e-12))
        out = {"score": score, "grad_key": grad_key, "grad_note": grad_note, "key_spread": key_spread}
        if trace.keep is not None and T > 0:
            keep = np.asarray(trace.gates[trace.keep][-1, :, 1:T + 1], np.float64)   # (B, T, H) over the gap
            out["keep"] = float(keep.mean())
            log_survive = np.log(np.clip(keep, 1e-300, 1.0)).sum(axis=1)           # (B, H)
            out["survive"] = float(np.exp(np.median(log_survive)))
            out["survive_max"] = float(np.exp(log_survive.max(axis=1)).mean())     # best unit per sequence
        if "cell_state" in trace.gates:
            c_end = torch.as_tensor(trace.gates["cell_state"][-1, :, T])
            by_key_c = torch.stack([c_end[keys == k].mean(0) for k in range(24)])
            out["c_abs"] = float(c_end.abs().mean())
            out["saturated"] = float((torch.tanh(c_end).abs() > 0.99).float().mean())
            out["key_spread_c"] = float(by_key_c.std(0).mean() / (c_end.abs().mean() + 1e-12))
    model.train(was)
    return out


def diagnose(cell: str, T: int, config: ProbeConfig | None = None, *, every: int = 50) -> dict:
    """Train one probe model (as :func:`~musicgate.experiments.probe.train_probe`) and measure it
    every ``every`` steps; returns ``{"cell", "init", "T", "seed", "steps", "trace": [...]}``."""
    from musicgate.nn.cells import get_cell

    config = config or ProbeConfig()
    model, opt, gen = probe_training(cell, T, config)
    ids_fixed, keys_fixed = _fixed_batch(T, config)
    trace, losses = [], []
    start = time.perf_counter()
    for step in range(config.steps + 1):
        if step % every == 0 or step == config.steps:
            row = {"step": step, "loss": float(np.mean(losses)) if losses else float("nan")}
            row.update(_measure(model, ids_fixed, keys_fixed, T))
            trace.append(row)
            losses = []
        if step == config.steps:
            break
        losses.append(float(probe_step(model, opt, T, config, gen)))
    return {"cell": cell, "init": config.init, "T": int(T), "seed": config.seed, "steps": config.steps,
            "lr": config.lr or get_cell(cell).default_lr,
            "t_max": probe_t_max(T, config), "seconds": time.perf_counter() - start, "trace": trace}


def diagnose_many(runs: Sequence[tuple], config: ProbeConfig | None = None, *,
                  seeds: Sequence[int] = (0,), every: int = 50, log=None) -> list[dict]:
    """:func:`diagnose` for every (cell, init, T) or (cell, init, T, lr) and seed."""
    config = config or ProbeConfig()
    out = []
    for cell, init, T, *lr in runs:
        for seed in seeds:
            run = replace(config, init=init, seed=seed, lr=lr[0] if lr else config.lr)
            d = diagnose(cell, T, run, every=every)
            out.append(d)
            if log:
                log(d)
    return out


def why_table(diagnoses: Sequence[dict], steps: Sequence[int] | None = None) -> str:
    """Markdown: one row per run and measured step."""
    lines = ["| cell | init | lr | T | seed | step | train loss | score | grad at key | grad at last gap step | "
             "mean keep gate over gap | stored value left after gap (median unit) | best unit | key spread of h | "
             "key spread of c | mean abs c | units with abs tanh c > 0.99 |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for d in diagnoses:
        for r in d["trace"]:
            if steps is not None and r["step"] not in steps and r["step"] != d["steps"]:
                continue
            keep = f"{r['keep']:.3f}" if "keep" in r else "-"
            survive = f"{r['survive']:.1e}" if "survive" in r else "-"
            best = f"{r['survive_max']:.1e}" if "survive_max" in r else "-"
            loss = "-" if np.isnan(r["loss"]) else f"{r['loss']:.3f}"
            lines.append(f"| {d['cell']} | {d['init']} | {d['lr']:g} | {d['T']} | {d['seed']} | {r['step']} | {loss} | "
                         f"{r['score']:.3f} | {r['grad_key']:.1e} | {r['grad_note']:.1e} | {keep} | {survive} | "
                         f"{best} | {r['key_spread']:.3f} | "
                         + (f"{r['key_spread_c']:.3f} | {r['c_abs']:.2f} | {r['saturated']:.2f} |" if "c_abs" in r
                            else "- | - | - |"))
    return "\n".join(lines)


__all__ = ["diagnose", "diagnose_many", "why_table"]
