"""Training speed per cell: the bare fused forward+backward+optimizer rate, in tokens/s and GFLOP/s.

    nice -n 10 .venv/bin/python benchmarks/train.py [--cells rnn,lstm,gru] [--hidden 256]
        [--layers 2] [--vocab 200] [--batch 64] [--seq 128] [--steps 10] [--threads N]
        [--device cpu|cuda|auto] [--bf16]

For each cell a :class:`musicgate.nn.models.RecurrentLM` of the given size is trained on random token
ids with Adam: the timed step is forward (fused nn.RNN / nn.LSTM / nn.GRU kernel, oneDNN on CPU,
cuDNN on GPU), cross-entropy, backward and the optimizer step, nothing else. The achieved GFLOP/s
count the matrix multiplies only (input and recurrent weights of every layer and the head), times 3
for forward + backward, and are set against the machine's fp32 (or bf16) matmul rate measured here
with a large ``torch.matmul``. The full training loop's rate (data loading, logging, checkpoints)
comes from :func:`measure_loop`, which the training engineer fills in from ``musicgate.train.loop``.
Prints a markdown table.
"""
from __future__ import annotations

import argparse
import contextlib
import os
import time

import torch
from torch.nn import functional as F

from musicgate.nn.models import CELLS, RecurrentLM, count_params

GATES = {"rnn": 1, "lstm": 4, "gru": 3}


def pick_device(name: str) -> torch.device:
    """``auto`` = cuda, then mps, then cpu."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    return torch.device(name)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


def matmul_gflops(device: torch.device, *, dtype: torch.dtype = torch.float32, n: int | None = None,
                  repeat: int = 5) -> float:
    """Best measured rate of an n x n by n x n ``torch.matmul`` (2 n^3 FLOP), in GFLOP/s."""
    n = n or (8192 if device.type == "cuda" else 2048)
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    torch.matmul(a, b)
    _sync(device)
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        torch.matmul(a, b)
        _sync(device)
        best = min(best, time.perf_counter() - t0)
    return 2 * n ** 3 / best / 1e9


def flops_per_token(cell: str, *, hidden: int, layers: int, embed: int, vocab: int) -> float:
    """Matmul FLOP per token for forward + backward (3x forward): recurrent layers and head."""
    g = GATES[cell]
    forward = 2 * g * hidden * (embed + hidden)                       # layer 0: W_ih x + W_hh h
    forward += (layers - 1) * 2 * g * hidden * (2 * hidden)           # upper layers
    forward += 2 * hidden * vocab                                     # head
    return 3.0 * forward


def measure_bare(cell: str, *, hidden: int, layers: int, vocab: int, batch: int, seq: int,
                 steps: int, device: torch.device, bf16: bool = False, warmup: int = 3) -> dict:
    """Tokens/s of the bare fused training step (forward, loss, backward, Adam) on random ids."""
    torch.manual_seed(0)
    model = RecurrentLM(vocab_size=vocab, cell=cell, hidden=hidden, layers=layers).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    ids = torch.randint(0, vocab, (batch, seq + 1), device=device)
    x, y = ids[:, :-1], ids[:, 1:]
    autocast = (torch.autocast(device_type=device.type, dtype=torch.bfloat16) if bf16
                else contextlib.nullcontext())

    def step() -> None:
        with autocast:
            logits, _ = model(x)
            loss = F.cross_entropy(logits.reshape(-1, vocab).float(), y.reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    for _ in range(warmup):
        step()
    _sync(device)
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    _sync(device)
    seconds = time.perf_counter() - t0
    tokens_per_s = batch * seq * steps / seconds
    flops = flops_per_token(cell, hidden=hidden, layers=layers, embed=model.embed_size, vocab=vocab)
    return dict(cell=cell, params=count_params(model), tokens_per_s=tokens_per_s,
                gflops=tokens_per_s * flops / 1e9, seconds=seconds)


def measure_loop(cell: str, *, hidden: int, layers: int, vocab: int, batch: int, seq: int,
                 steps: int, device: torch.device, bf16: bool = False) -> float | None:
    """Tokens/s of the FULL training loop (loader, logging, checkpoints) at the same size.

    STUB: returns None. The full-loop rate comes from ``musicgate.train.loop`` (the training loop's
    own tokens/s meter), run on the same model size, batch and sequence length; the training
    engineer fills this in. The target is >= 90% of :func:`measure_bare`.
    """
    return None


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells", default=",".join(CELLS))
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--vocab", type=int, default=200)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--seq", type=int, default=128)
    parser.add_argument("--steps", type=int, default=10, help="timed steps per cell")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    parser.add_argument("--device", default="cpu", help="cpu, cuda, mps or auto")
    parser.add_argument("--bf16", action="store_true", help="bf16 autocast (CUDA)")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = pick_device(args.device)
    mm_dtype = torch.bfloat16 if args.bf16 else torch.float32
    peak = matmul_gflops(device, dtype=mm_dtype)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else \
        f"{os.cpu_count()} CPU cores, {torch.get_num_threads()} torch threads"
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"device: {device} ({name}); torch {torch.__version__}; load average {load:.1f}")
    print(f"size: {args.layers} layers x {args.hidden} units, vocab {args.vocab}, batch {args.batch} "
          f"x {args.seq} tokens, {args.steps} timed steps; "
          f"measured {'bf16' if args.bf16 else 'fp32'} matmul: {peak:.0f} GFLOP/s\n")
    header = ["cell", "params", "bare tokens/s", "GFLOP/s", "% of matmul", "loop tokens/s", "loop / bare"]
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for cell in [c.strip() for c in args.cells.split(",") if c.strip()]:
        kw = dict(hidden=args.hidden, layers=args.layers, vocab=args.vocab, batch=args.batch,
                  seq=args.seq, steps=args.steps, device=device, bf16=args.bf16)
        bare = measure_bare(cell, **kw)
        loop = measure_loop(cell, **kw)
        loop_text = "n/a" if loop is None else f"{loop:,.0f}"
        ratio = "n/a" if loop is None else f"{loop / bare['tokens_per_s']:.0%}"
        print(f"| {cell} | {bare['params']:,} | {bare['tokens_per_s']:,.0f} | {bare['gflops']:.3g} | "
              f"{bare['gflops'] / peak:.0%} | {loop_text} | {ratio} |", flush=True)


if __name__ == "__main__":
    main()
