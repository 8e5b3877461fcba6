"""Loader speed against a training step: the sampler must deliver >= 10x the tokens/s a step eats.

Times ``WindowSampler.batch`` (window mode with transposition, and whole-tune mode) against one
training step (forward + backward + AdamW) of the default model (2 x 256 units, melody vocab,
batch 32, window 256), per cell, on a synthetic dataset of folk-tune-sized sequences (or a
prepared dataset given with ``--dataset``)::

    nice -n 10 .venv/bin/python benchmarks/loader.py [--dataset folk] [--threads 2]

Prints a markdown table.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import machine, table  # noqa: E402

from musicgate.data.dataset import WindowSampler, load_data, open_dataset, write_dataset  # noqa: E402
from musicgate.nn.models import CELLS, RecurrentLM  # noqa: E402
from musicgate.tokens.tokenizer import make_tokenizer  # noqa: E402


def synthetic_dataset(path: Path, *, n_tunes: int = 2000, seed: int = 0) -> Path:
    """Random melody-vocabulary sequences (BOS KEY METER, BAR/PITCH/DUR, EOS), 60-1000 tokens."""
    tok = make_tokenizer("melody")
    rng = np.random.default_rng(seed)
    tunes = []
    for _ in range(n_tunes):
        n = int(rng.integers(30, 500))
        pitch = np.clip(67 + np.cumsum(rng.integers(-3, 4, n)), 40, 96)
        body = np.empty(2 * n, np.int64)
        body[0::2] = tok.pitch_base + pitch - tok.pitch_range[0]
        body[1::2] = tok.dur_base + rng.choice([5, 11, 23], n)
        body = np.insert(body, np.arange(0, len(body), 8), tok.bar_id)
        key = tok.key_base + int(rng.integers(0, 24))
        tunes.append(np.r_[tok.bos_id, key, tok.meter_id((4, 4)), body, tok.eos_id])
    order = rng.permutation(n_tunes)
    k = n_tunes // 10
    return write_dataset(path, tunes, tok, {"train": order[2 * k:], "valid": order[:k], "test": order[k:2 * k]})


def rate(fn, tokens: int, *, min_time: float = 1.0, warmup: int = 2) -> float:
    """Tokens per second of ``fn`` (best of repeated runs of at least ``min_time`` in all)."""
    for _ in range(warmup):
        fn()
    best, spent = float("inf"), 0.0
    while spent < min_time:
        t = time.perf_counter()
        fn()
        dt = time.perf_counter() - t
        best, spent = min(best, dt), spent + dt
    return tokens / best


def step_rate(cell: str, vocab: int, batch: int, window: int, hidden: int, layers: int) -> float:
    torch.manual_seed(0)
    model = RecurrentLM(vocab_size=vocab, cell=cell, hidden=hidden, layers=layers)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    x = torch.randint(0, vocab, (batch, window))
    y = torch.randint(0, vocab, (batch, window))

    def step():
        logits, _ = model(x)
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, vocab), y.reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    return rate(step, batch * window, min_time=3.0, warmup=2)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", help="a prepared dataset (name or folder); default: synthetic")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--window", type=int, default=256)
    ap.add_argument("--hidden", type=int, default=256)
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--threads", type=int, default=torch.get_num_threads())
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        data = load_data(args.dataset) if args.dataset else open_dataset(synthetic_dataset(Path(tmp) / "synth"))
        B, W = args.batch, args.window
        rows = []
        counter = iter(range(10**9))
        window = WindowSampler(data, window=W, batch_size=B, seed=0)
        plain = WindowSampler(data, window=W, batch_size=B, seed=0, transpose=False)
        tune = WindowSampler(data, mode="tune", window=W, batch_size=B, seed=0)
        loads = {
            "windows + transposition": rate(lambda: window.batch(next(counter)), B * W),
            "windows, no transposition": rate(lambda: plain.batch(next(counter)), B * W),
            "whole tunes + transposition": rate(lambda: tune.batch(next(counter)), B * W),
        }
        steps = {cell: step_rate(cell, len(data.tokenizer), B, W, args.hidden, args.layers) for cell in CELLS}
    slowest_step = max(steps.values())
    for name, r in loads.items():
        rows.append([f"loader: {name}", r, r / slowest_step])
    for cell, r in steps.items():
        rows.append([f"train step: {cell} {args.layers}x{args.hidden}", r, r / slowest_step])
    print(f"Loader vs training step, batch {B} x window {W}, vocab {len(data.tokenizer)}, "
          f"{args.threads} threads; {machine()}\n")
    print(table(["what", "tokens/s", "x fastest train step"], rows))
    worst = min(loads.values()) / slowest_step
    print(f"\nslowest loader mode / fastest train step = {worst:.1f}x (target >= 10x)")


if __name__ == "__main__":
    main()
