"""The full training loop against the bare fused step: the loop must reach >= 90% of the bare rate.

Per cell, at one model size, in one process:

* **bare**: forward + backward + AdamW step of the fused model on one fixed batch (what the
  kernels can do; no data, no logging, no checkpoints);
* **loop**: :func:`musicgate.train.loop.train` on a synthetic dataset of folk-tune-sized sequences,
  with the loader, transposition, gradient clipping, LR schedule, metrics.csv, progress
  bookkeeping, one validation pass and one checkpoint write.

Both rates count every position the model processes (batch x window per step). The loop row
gives the measured rate (whole loop), the rate without the one final validation and checkpoint,
and the rate with validation and checkpoints amortised at the default intervals
(``eval_every``, ``checkpoint_every``), which is what a real run pays. GFLOP/s counts the
matrix multiplies (forward = 2 x MACs of the recurrent layers and the head; training = 3 x
forward) against the machine's measured fp32 (or bf16 on CUDA) matmul rate::

    nice -n 10 .venv/bin/python benchmarks/train_loop.py [--steps 30] [--threads 2] [--device cpu]

``--mode medley`` measures the long-memory loop instead: medley streams of ``--medley-tokens``
read window by window with the state carried across steps (``train.carry_state``).
"""
from __future__ import annotations

import argparse
import contextlib
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import machine, table  # noqa: E402
from loader import synthetic_dataset  # noqa: E402

from musicgate.train.config import TrainConfig, config_from_dict  # noqa: E402
from musicgate.nn.models import CELLS, RecurrentLM  # noqa: E402
from musicgate.train.loop import train  # noqa: E402
from musicgate.train.util import pick_device  # noqa: E402

GATES = {"rnn": 1, "lstm": 4, "gru": 3}


def train_flops_per_position(cell: str, vocab: int, hidden: int, layers: int) -> float:
    """Matmul FLOPs per position for forward + backward (3 x forward); the embedding is a lookup."""
    g = GATES[cell]
    macs = layers * g * hidden * 2 * hidden + hidden * vocab  # embedding width = hidden
    return 3 * 2 * macs


def matmul_rate(device: torch.device, dtype: torch.dtype, n: int = 1024) -> float:
    """Measured FLOP/s of an n x n matrix multiply."""
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    reps = 20 if device.type == "cuda" else 5
    best = float("inf")
    for _ in range(4):
        _sync(device)
        t = time.perf_counter()
        for _ in range(reps):
            a @ b
        _sync(device)
        best = min(best, (time.perf_counter() - t) / reps)
    return 2 * n ** 3 / best


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def bare_rate(cell: str, vocab: int, args, device: torch.device) -> float:
    """Positions/s of the bare fused forward + backward + AdamW step."""
    torch.manual_seed(0)
    model = RecurrentLM(vocab_size=vocab, cell=cell, hidden=args.hidden, layers=args.layers).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    x = torch.randint(0, vocab, (args.batch, args.window), device=device)
    y = torch.randint(0, vocab, (args.batch, args.window), device=device)
    amp = (torch.autocast("cuda", dtype=torch.bfloat16) if device.type == "cuda" else contextlib.nullcontext())

    def step():
        with amp:
            logits, _ = model(x)
        loss = torch.nn.functional.cross_entropy(logits.float().reshape(-1, vocab), y.reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    for _ in range(3):
        step()
    _sync(device)
    t = time.perf_counter()
    for _ in range(args.steps):
        step()
    _sync(device)
    return args.steps * args.batch * args.window / (time.perf_counter() - t)


def loop_rates(cell: str, data: Path, run_dir: Path, args) -> dict:
    """Positions/s of the full loop: measured, without the final eval/save, amortised."""
    defaults = TrainConfig()
    medley = args.mode == "medley"
    cfg = config_from_dict({
        "data": {"dataset": str(data), "window": args.window, "mode": args.mode, "medley_tokens": args.medley_tokens},
        "model": {"cell": cell, "hidden": args.hidden, "layers": args.layers},
        "train": {"steps": args.steps, "batch_size": args.batch, "eval_every": args.steps,
                  "eval_batches": defaults.eval_batches, "checkpoint_every": args.steps, "device": args.device,
                  "warmup": 10, "carry_state": medley},
    })
    res = train(cfg, run_dir=run_dir, quiet=True)
    per_step = args.batch * args.window
    core = res.loop_s - res.eval_s - res.save_s
    amortised = (core / res.step + res.eval_s / res.evals / defaults.eval_every
                 + res.save_s / (res.saves or 1) * (1 / defaults.checkpoint_every + 1 / defaults.eval_every))
    return {"measured": res.step * per_step / res.loop_s, "core": res.step * per_step / core,
            "amortised": per_step / amortised, "eval_s": res.eval_s, "save_s": res.save_s}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=30, help="timed steps per measurement")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--window", type=int, default=256)
    ap.add_argument("--hidden", type=int, default=256)
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--cells", default=",".join(CELLS))
    ap.add_argument("--threads", type=int, default=torch.get_num_threads())
    ap.add_argument("--device", default="cpu", help="cpu, cuda or auto")
    ap.add_argument("--mode", default="window", choices=["window", "medley"],
                    help="medley: long streams with the state carried across steps")
    ap.add_argument("--medley-tokens", type=int, default=4096, help="tokens per stream in medley mode")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    device = pick_device(args.device)
    args.device = str(device)
    dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
    peak = matmul_rate(device, dtype)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        data = synthetic_dataset(Path(tmp) / "synth")
        vocab = 330
        for cell in args.cells.split(","):
            before = bare_rate(cell, vocab, args, device)
            loop = loop_rates(cell, data, Path(tmp) / f"run-{cell}", args)
            bare = (before + bare_rate(cell, vocab, args, device)) / 2  # bare on both sides of the loop
            flops = train_flops_per_position(cell, vocab, args.hidden, args.layers)
            rows.append([cell, bare, loop["measured"], loop["core"], loop["amortised"],
                         f"{loop['amortised'] / bare:.1%}", bare * flops / 1e9, f"{bare * flops / peak:.0%}"])
    print(f"Training loop vs bare fused step: {args.layers}x{args.hidden} units, batch {args.batch} x "
          f"window {args.window}, vocab {vocab}, {args.steps} steps each, device {device}, data mode {args.mode}"
          f"{f' (streams of {args.medley_tokens} tokens, state carried)' if args.mode == 'medley' else ''} "
          f"({'bf16 autocast' if device.type == 'cuda' else 'fp32'}), {args.threads} threads; {machine()}")
    print(f"Measured {dtype} matmul rate: {peak / 1e9:,.0f} GFLOP/s\n")
    print(table(["cell", "bare tok/s", "loop tok/s (measured)", "loop w/o final eval+ckpt",
                 "loop amortised", "loop / bare", "bare GFLOP/s", "of matmul peak"], rows))
    print("\n`loop amortised`: validation and checkpoints at the default intervals "
          "(eval_every=500, checkpoint_every=500); target loop / bare >= 90%.")


if __name__ == "__main__":
    main()
